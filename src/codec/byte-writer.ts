// A growable output buffer owned by one encoder: bytes, varints and slices, then the result.
// Reused across messages, so steady-state encoding allocates only the returned result.

import { SlabAllocator } from './slab.js';

/** results at least this large are handed over instead of copied (saves one copy of big bins) */
const HAND_OVER_BYTES = 16 * 1024;

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;

  readonly initialBytes: number;
  readonly #slab = new SlabAllocator();

  constructor(initialBytes: number) {
    this.initialBytes = initialBytes;
    this.buf = new Uint8Array(initialBytes);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const raw = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n)); // not zero-filled
    const next = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  byte(v: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = v;
  }

  /** unsigned LEB128, values up to 2^53 */
  varint(v: number): void {
    this.ensure(8);
    const buf = this.buf;
    while (v >= 0x80) {
      buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[this.pos++] = v;
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const buf = this.buf;
    if (n <= 16) {
      let p = this.pos;
      for (let i = start; i < end; i++) buf[p++] = src[i]!;
    } else {
      buf.set(src.subarray(start, end), this.pos);
    }
    this.pos += n;
  }

  /** what was written: small results are copied into a slab; large ones hand the buffer over */
  take(): Uint8Array {
    if (this.pos >= HAND_OVER_BYTES) {
      const out = this.buf.subarray(0, this.pos);
      this.buf = new Uint8Array(this.initialBytes);
      this.pos = 0;
      return out;
    }
    const n = this.pos;
    const out = this.#slab.alloc(n);
    const buf = this.buf;
    if (n <= 64) for (let i = 0; i < n; i++) out[i] = buf[i]!;
    else out.set(buf.subarray(0, n));
    return out;
  }
}
