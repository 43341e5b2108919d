// Bounded intern tables with small numeric slots (strings, objects, shapes), one per kind and side.
// Own LRU instead of lru-cache: the hot path does ~15 lookups per message and lru-cache's per-call
// option handling cost ~20% of encode time (measured, docs/codec.md). Both sides run the same
// get/insert sequence on equal bounds, so evictions and the slot given to each new entry (last freed
// slot first, else the next unused) evolve in lockstep.

/** Node's native compare works on any Uint8Array `this`; faster than a JS loop beyond a few dozen bytes */
const nativeCompare = Buffer.prototype.compare as unknown as (
  this: Uint8Array, target: Uint8Array, targetStart: number, targetEnd: number, sourceStart: number, sourceEnd: number,
) => number;

interface Bounds {
  entries: number;
  bytes: number;
}

/** Recency order, sizes and slot allocation shared by both sides (no keys, no values). */
export class SlotLru {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #prev: Int32Array;
  #next: Int32Array;
  #sizes: Int32Array;
  #head = -1; // most recently used
  #tail = -1; // least recently used
  #count = 0;
  #bytes = 0;
  #nextSlot = 0;
  readonly #free: number[] = [];

  constructor(b: Bounds) {
    this.#maxEntries = b.entries;
    this.#maxBytes = b.bytes;
    const initial = Math.min(b.entries, 256);
    this.#prev = new Int32Array(initial);
    this.#next = new Int32Array(initial);
    this.#sizes = new Int32Array(initial);
  }

  get count(): number {
    return this.#count;
  }

  touch(slot: number): void {
    if (slot === this.#head) return;
    this.#unlink(slot);
    this.#pushHead(slot);
  }

  /** allocates a slot for an entry of `size`, evicting least recently used entries first */
  allocate(size: number, onEvict: (slot: number) => void): number {
    while (this.#count > 0 && (this.#count >= this.#maxEntries || this.#bytes + size > this.#maxBytes)) {
      const victim = this.#tail;
      this.#unlink(victim);
      this.#count--;
      this.#bytes -= this.#sizes[victim]!;
      this.#free.push(victim);
      onEvict(victim);
    }
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#nextSlot++;
    if (slot >= this.#prev.length) this.#grow();
    this.#sizes[slot] = size;
    this.#bytes += size;
    this.#count++;
    this.#pushHead(slot);
    return slot;
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p >= 0) this.#next[p] = n; else this.#head = n;
    if (n >= 0) this.#prev[n] = p; else this.#tail = p;
  }

  #pushHead(slot: number): void {
    this.#prev[slot] = -1;
    this.#next[slot] = this.#head;
    if (this.#head >= 0) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail < 0) this.#tail = slot;
  }

  #grow(): void {
    const len = Math.min(this.#maxEntries + 1, this.#prev.length * 2);
    const grow = (a: Int32Array) => { const b = new Int32Array(len); b.set(a); return b; };
    this.#prev = grow(this.#prev);
    this.#next = grow(this.#next);
    this.#sizes = grow(this.#sizes);
  }
}

/**
 * Encoder side: exact bytes -> slot, found by a caller-supplied 32-bit hash in an open-addressing index
 * (linear probing, backward-shift deletion) and confirmed by comparing bytes. No strings are built.
 * size(entry) = its byte length, as on the decoder side.
 */
export class BytesTable {
  readonly #lru: SlotLru;
  readonly #index: Int32Array; // slot + 1, 0 = empty
  readonly #mask: number;
  #slotHash = new Int32Array(64);
  readonly #slotBytes: (Uint8Array | undefined)[] = [];
  readonly #evict = (slot: number): void => { this.#remove(slot); };

  constructor(bounds: Bounds) {
    this.#lru = new SlotLru(bounds);
    let cap = 16;
    while (cap < bounds.entries * 2 + 2) cap *= 2;
    this.#index = new Int32Array(cap);
    this.#mask = cap - 1;
  }

  /** slot holding exactly b[start, end), marked most recently used; -1 when absent (no state change) */
  find(b: Uint8Array, start: number, end: number, hash: number): number {
    const index = this.#index;
    const mask = this.#mask;
    const len = end - start;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[i]!;
      if (e === 0) return -1;
      const slot = e - 1;
      if (this.#slotHash[slot] !== hash) continue;
      const k = this.#slotBytes[slot]!;
      if (k.length !== len) continue;
      let same: boolean;
      if (len > 128) same = nativeCompare.call(b, k, 0, len, start, end) === 0;
      else {
        let j = 0;
        while (j < len && k[j] === b[start + j]) j++;
        same = j === len;
      }
      if (same) {
        this.#lru.touch(slot);
        return slot;
      }
    }
  }

  /** stores a copy of b[start, end) (known to be absent) */
  insert(b: Uint8Array, start: number, end: number, hash: number): void {
    const slot = this.#lru.allocate(Math.max(1, end - start), this.#evict);
    if (slot >= this.#slotHash.length) {
      const g = new Int32Array(Math.max(slot + 1, this.#slotHash.length * 2));
      g.set(this.#slotHash);
      this.#slotHash = g;
    }
    this.#slotHash[slot] = hash;
    this.#slotBytes[slot] = b.slice(start, end);
    const index = this.#index;
    const mask = this.#mask;
    let i = hash & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  get size(): number {
    return this.#lru.count;
  }

  #remove(slot: number): void {
    const index = this.#index;
    const mask = this.#mask;
    let i = this.#slotHash[slot]! & mask;
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    // backward-shift deletion keeps every probe chain unbroken
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = index[j]!;
      if (e === 0) break;
      const home = this.#slotHash[e - 1]! & mask;
      const between = i <= j ? i < home && home <= j : i < home || home <= j;
      if (between) continue;
      index[i] = e;
      i = j;
    }
    index[i] = 0;
    this.#slotBytes[slot] = undefined;
  }
}

/** Decoder side: slot -> value; the caller passes the same size the encoder's key length gives. */
export class DecoderTable<V> {
  readonly #lru: SlotLru;
  readonly #values: (V | undefined)[] = [];
  readonly #evict = (slot: number): void => { this.#values[slot] = undefined; };

  constructor(bounds: Bounds) {
    this.#lru = new SlotLru(bounds);
  }

  get(slot: number): V | undefined {
    const v = this.#values[slot];
    if (v !== undefined) this.#lru.touch(slot);
    return v;
  }

  insert(value: V, size: number): void {
    const slot = this.#lru.allocate(Math.max(1, size), this.#evict);
    this.#values[slot] = value;
  }

  get size(): number {
    return this.#lru.count;
  }
}
