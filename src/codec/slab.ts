// Small results carved out of per-instance slabs: one allocation per slab instead of one backing
// store per message. A view keeps its slab alive, so only results up to maxSmallBytes use it.

export class SlabAllocator {
  readonly #slabBytes: number;
  readonly #maxSmallBytes: number;
  #slab: ArrayBuffer;
  #offset = 0;

  constructor(slabBytes = 32 * 1024, maxSmallBytes = 2048) {
    this.#slabBytes = slabBytes;
    this.#maxSmallBytes = maxSmallBytes;
    this.#slab = new ArrayBuffer(slabBytes);
  }

  /** a fresh view of n bytes (contents unspecified: the caller writes all of them) */
  alloc(n: number): Uint8Array {
    if (n > this.#maxSmallBytes) {
      const big = Buffer.allocUnsafeSlow(n); // not zero-filled, not pooled
      return new Uint8Array(big.buffer, big.byteOffset, n);
    }
    if (this.#offset + n > this.#slabBytes) {
      this.#slab = new ArrayBuffer(this.#slabBytes);
      this.#offset = 0;
    }
    const view = new Uint8Array(this.#slab, this.#offset, n);
    this.#offset += (n + 7) & ~7;
    return view;
  }
}
