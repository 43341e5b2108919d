// Bounded intern tables with small numeric slots, one per kind (strings, objects, shapes) and side.
// Both sides run the same sequence of get/set on an lru-cache of equal bounds, so evictions and the
// slot handed to each new entry (lowest freed slot first, else the next unused) evolve in lockstep.
import { LRUCache } from 'lru-cache';

interface Bounds {
  entries: number;
  bytes: number;
}

/** Encoder side: key (latin1 view of the exact bytes) -> slot. */
export class EncoderTable {
  readonly #cache: LRUCache<string, number>;
  readonly #free: number[] = [];
  #nextSlot = 0;

  constructor(bounds: Bounds) {
    this.#cache = new LRUCache<string, number>({
      max: bounds.entries,
      maxSize: bounds.bytes,
      sizeCalculation: (_slot, key) => Math.max(1, key.length),
      dispose: (slot) => { this.#free.push(slot); },
    });
  }

  /** slot of key, marking it most recently used; undefined when absent (no state change) */
  get(key: string): number | undefined {
    return this.#cache.get(key);
  }

  insert(key: string): void {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#nextSlot++;
    this.#cache.set(key, slot);
  }

  get size(): number {
    return this.#cache.size;
  }
}

/** Decoder side: slot -> value, where size(value) equals the encoder's key length. */
export class DecoderTable<V> {
  readonly #cache: LRUCache<number, { v: V; size: number }>;
  readonly #free: number[] = [];
  #nextSlot = 0;

  constructor(bounds: Bounds) {
    this.#cache = new LRUCache<number, { v: V; size: number }>({
      max: bounds.entries,
      maxSize: bounds.bytes,
      sizeCalculation: (e) => Math.max(1, e.size),
      dispose: (_e, slot) => { this.#free.push(slot); },
    });
  }

  get(slot: number): V | undefined {
    return this.#cache.get(slot)?.v;
  }

  insert(value: V, size: number): void {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#nextSlot++;
    this.#cache.set(slot, { v: value, size });
  }

  get size(): number {
    return this.#cache.size;
  }
}
