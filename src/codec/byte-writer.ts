// A growable output buffer owned by one encoder: bytes, varints and slices, then one copy out.
// Reused across messages, so steady-state encoding allocates only the returned result.

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;

  constructor(initialBytes: number) {
    this.buf = new Uint8Array(initialBytes);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
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

  /** copy of what was written */
  take(): Uint8Array {
    const out = Buffer.allocUnsafe(this.pos); // pooled for small results
    out.set(this.buf.subarray(0, this.pos));
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
}
