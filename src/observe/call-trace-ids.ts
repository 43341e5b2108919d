// Trace ids of hypha calls derived from what both proxies see of a call (its direction, target and hypha
// promise session), so each proxy reaches the same root sampling decision on its own: an unsampled call
// hashes its session, builds nothing and sends no trace context over the link. The SDK's id generator
// hands the id to the span.
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
 * The call's root sampling key: a 32-bit hash (FNV-1a, then murmur3's finaliser so every bit is spread) of
 * hypha's promise session alone, which is unique per call and the same at both proxies. Sampled when below
 * the configured sampler's bound (otel-sampler.ts rootSampleBound); the call's trace id is made so that the
 * SDK's ratio sampler reads the same value from it (callTraceWords). One multiply per character and int32
 * arithmetic only: the 99 in 100 unsampled calls pay this and a comparison (cyrb128 over the whole identity,
 * before, was four multiplies per character of three strings).
 */
export function callSampleKey(session: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < session.length; i++) h = Math.imul(h ^ session.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The call's trace id as four words (read them before the next call): a 128-bit hash (cyrb128, public
 * domain) of the call's identity `direction|target|session` for the first three, and a fourth chosen so
 * that the XOR of all four (what the SDK's TraceIdRatioBasedSampler compares with its bound) is the call's
 * sample key. Distinct calls get distinct, uniformly spread ids; only sampled or kept calls build one.
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
  if ((h1 | h2 | h3) === 0) h3 = 1; // all zeros is the invalid trace id
  WORDS[0] = h1;
  WORDS[1] = h2;
  WORDS[2] = h3;
  WORDS[3] = h1 ^ h2 ^ h3 ^ callSampleKey(session);
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
