// Trace ids of hypha calls derived from what both proxies see of a call (its direction, target and hypha
// promise session), so each proxy reaches the same root sampling decision on its own: an unsampled call
// builds nothing and sends no trace context over the link. The SDK's id generator hands the id to the span.
import { RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace';

// Ids are made as flat strings by Buffer's native hex encoder, not as ropes of 2-char pieces: the OTLP
// serialiser reads every id back char by char (hexToBinary), ~2x slower on a rope in a microbenchmark (no
// change measurable in bench/tracing-cost, bench/results/README.md).
const ID_BYTES = Buffer.alloc(16);

/** Lowercase hex of a trace or span id's bytes, as one flat string. */
export function bytesToHex(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('hex');
}

function wordsToHex(words: number, w0: number, w1: number, w2 = 0, w3 = 0): string {
  ID_BYTES.writeUInt32BE(w0 >>> 0, 0);
  ID_BYTES.writeUInt32BE(w1 >>> 0, 4);
  if (words === 4) {
    ID_BYTES.writeUInt32BE(w2 >>> 0, 8);
    ID_BYTES.writeUInt32BE(w3 >>> 0, 12);
  }
  return ID_BYTES.toString('hex', 0, words * 4);
}

/** The four 32-bit words of the last call trace id hashed (reused: the unsampled path builds nothing). */
const WORDS = new Uint32Array(4);

/**
 * A 128-bit hash (cyrb128, public domain) of the call's identity `direction|target|session`, as four words
 * (read them before the next call). hypha's promise session is unique per call, so distinct calls get
 * distinct, uniformly spread ids. The three strings are hashed in turn, never joined.
 */
export function callTraceWords(direction: string, target: string, session: string): Uint32Array {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let part = 0; part < 5; part++) {
    const text = part === 0 ? direction : part === 2 ? target : part === 4 ? session : '|';
    for (let i = 0; i < text.length; i++) {
      const k = text.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  if ((h1 | h2 | h3 | h4) === 0) h4 = 1; // all zeros is the invalid trace id
  WORDS[0] = h1;
  WORDS[1] = h2;
  WORDS[2] = h3;
  WORDS[3] = h4;
  return WORDS;
}

/** 32 hex digits of a trace id's four words. */
export function traceIdOfWords(words: Uint32Array): string {
  return wordsToHex(4, words[0]!, words[1]!, words[2]!, words[3]!);
}

/**
 * What the SDK's TraceIdRatioBasedSampler compares with its bound: the XOR of the trace id's four 32-bit
 * words (it parses them back from the hex, 8 digits at a time).
 */
export function traceIdAccumulation(words: Uint32Array): number {
  return (words[0]! ^ words[1]! ^ words[2]! ^ words[3]!) >>> 0;
}

/** The call's trace id: 32 hex digits of callTraceWords. */
export function callTraceId(direction: string, target: string, session: string): string {
  return traceIdOfWords(callTraceWords(direction, target, session));
}

/** Random ids, except that the next root span takes the trace id set in `next` (a call's derived id). */
export class CallTraceIdGenerator implements IdGenerator {
  next: string | undefined;
  private readonly random = new RandomIdGenerator();

  generateTraceId(): string {
    const id = this.next;
    this.next = undefined;
    return id ?? this.random.generateTraceId();
  }

  /** 64 random bits as hex (Math.random, as the SDK's own generator). */
  generateSpanId(): string {
    const high = (Math.random() * 0x100000000) >>> 0;
    const low = (Math.random() * 0x100000000) >>> 0;
    return wordsToHex(2, high, low === 0 && high === 0 ? 1 : low);
  }
}
