// Trace ids of hypha calls derived from what both proxies see of a call (its direction, target and hypha
// promise session), so each proxy reaches the same root sampling decision on its own: an unsampled call
// builds nothing and sends no trace context over the link. The SDK's id generator hands the id to the span.
import { RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex32(value: number): string {
  return HEX[value >>> 24]! + HEX[(value >>> 16) & 255]! + HEX[(value >>> 8) & 255]! + HEX[value & 255]!;
}

/** Lowercase hex of a trace or span id's bytes (no Buffer copy). */
export function bytesToHex(bytes: Uint8Array): string {
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]!]!;
  return hex;
}

/**
 * 32 hex digits of a 128-bit hash (cyrb128, public domain) of the call's identity. hypha's promise
 * session is unique per call, so distinct calls get distinct, uniformly spread ids.
 */
export function callTraceId(direction: string, target: string, session: string): string {
  const text = `${direction}|${target}|${session}`;
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
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
  return hex32(h1 >>> 0) + hex32(h2 >>> 0) + hex32(h3 >>> 0) + hex32(h4 >>> 0);
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

  /** 64 random bits as hex (Math.random, as the SDK's own generator; without its Buffer round trip). */
  generateSpanId(): string {
    const high = (Math.random() * 0x100000000) >>> 0;
    const low = (Math.random() * 0x100000000) >>> 0;
    return hex32(high) + hex32(low === 0 && high === 0 ? 1 : low);
  }
}
