// Per edge-gateway pair state: the chunks this side holds (bytes-bounded LRU) and the hashes it
// believes the peer holds. Fed by chunks crossing the pair's links in either direction; never shared
// across pairs (a reference must only resolve inside the pair it came through).

import { LRUCache } from 'lru-cache';

export class ChunkStore {
  private readonly cache: LRUCache<bigint, Uint8Array>;
  private evictedCount = 0;

  constructor(readonly maxBytes: number) {
    this.cache = new LRUCache<bigint, Uint8Array>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (bytes) => Math.max(1, bytes.byteLength),
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.evictedCount++;
      },
    });
  }

  /** Stores a private copy (never a view that would pin a larger buffer, e.g. a whole ws message). */
  put(hash: bigint, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxBytes) return;
    if (this.cache.has(hash)) {
      this.cache.get(hash); // refresh recency
      return;
    }
    this.cache.set(hash, Uint8Array.prototype.slice.call(bytes));
  }

  /** Stores `bytes` itself: only for a fresh buffer nobody else holds (e.g. a decoded chunk). */
  putOwned(hash: bigint, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxBytes) return;
    if (this.cache.has(hash)) this.cache.get(hash);
    else this.cache.set(hash, bytes);
  }

  get(hash: bigint): Uint8Array | undefined {
    return this.cache.get(hash);
  }

  has(hash: bigint): boolean {
    return this.cache.has(hash);
  }

  delete(hash: bigint): void {
    this.cache.delete(hash);
  }

  get sizeBytes(): number {
    return this.cache.calculatedSize;
  }

  get entryCount(): number {
    return this.cache.size;
  }

  get evictions(): number {
    return this.evictedCount;
  }

  clear(): void {
    this.cache.clear();
  }
}

/**
 * Hashes the peer is believed to hold (it sent them to us, or we sent them to it), bounded by the
 * bytes they stand for: keep `maxBytes` at or below the peer's store size. A wrong belief costs one
 * NACK round trip, never wrong bytes.
 */
export class PeerBelief {
  private readonly cache: LRUCache<bigint, number>;

  constructor(readonly maxBytes: number) {
    this.cache = new LRUCache<bigint, number>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (lengthBytes) => Math.max(1, lengthBytes),
    });
  }

  add(hash: bigint, lengthBytes: number): void {
    if (lengthBytes > this.maxBytes) return;
    this.cache.set(hash, lengthBytes);
  }

  has(hash: bigint): boolean {
    return this.cache.get(hash) !== undefined; // get: a used belief stays fresh, as it does in the peer's LRU
  }

  forget(hash: bigint): void {
    this.cache.delete(hash);
  }

  get entryCount(): number {
    return this.cache.size;
  }

  clear(): void {
    this.cache.clear();
  }
}
