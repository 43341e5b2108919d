// One pass over a msgpack value that validates it and records, per value in pre-order, where it starts
// and ends, how many values its subtree holds, a hash of its bytes (strings only sampled: see below)
// and whether it holds a large bin. The encoder then never walks a subtree twice.
import { readLen, scalarSize } from './msgpack-scan.js';

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/**
 * 32-bit hash of b[start, end), four bytes per step with a final avalanche (table lookups use the low
 * bits). Only a filter: table hits are confirmed by comparing bytes.
 */
export function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET ^ (end - start);
  let i = start;
  for (const last = end - 3; i < last; i += 4) {
    h = Math.imul(h ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)), 0x9e3779b1);
    h = (h << 13) | (h >>> 19);
  }
  for (; i < end; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/**
 * O(1) stand-in for a string's hash inside a container's hash: length and a few sampled bytes. Enough
 * for a filter (object hits are confirmed by comparing bytes); the string table hashes strings fully,
 * and only for strings it actually looks up (not those inside an object found whole).
 */
function sampleHash(b: Uint8Array, start: number, end: number): number {
  const len = end - start;
  const mid = start + (len >> 1);
  return Math.imul(len ^ (b[start]! << 8) ^ (b[mid]! << 16) ^ (b[end - 1]! << 24), 0x9e3779b1) ^ b[end - 2 < start ? start : end - 2]!;
}

export const FLAG_BIG_BIN = 1;

export class ValueIndex {
  /** number of values indexed so far (ordinals 0..count-1) */
  count = 0;
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  /** values in the subtree, the value itself included */
  sizes = new Int32Array(256);
  hashes = new Int32Array(256);
  flags = new Uint8Array(256);
  // open containers
  #stOrd = new Int32Array(64);
  #stLeft = new Int32Array(64);
  #stHash = new Int32Array(64);
  #stFlags = new Uint8Array(64);
  readonly #maxValues: number;
  readonly #bigBinBytes: number;

  constructor(maxValues: number, bigBinBytes: number) {
    this.#maxValues = maxValues;
    this.#bigBinBytes = bigBinBytes;
  }

  /** Indexes the value at pos (appending ordinals); returns its end, or -1 (count is then restored). */
  add(b: Uint8Array, pos: number, end: number): number {
    const first = this.count;
    let k = first;
    let sp = 0;
    let starts = this.starts;
    let ends = this.ends;
    let sizes = this.sizes;
    let hashes = this.hashes;
    let flags = this.flags;
    let stOrd = this.#stOrd;
    let stLeft = this.#stLeft;
    let stHash = this.#stHash;
    let stFlags = this.#stFlags;
    for (;; k++) {
      if (pos >= end) return this.#abort(first);
      if (k >= starts.length) {
        if (k >= this.#maxValues) return this.#abort(first);
        this.#grow();
        starts = this.starts; ends = this.ends; sizes = this.sizes; hashes = this.hashes; flags = this.flags;
      }
      starts[k] = pos;
      const t = b[pos]!;
      let h: number;
      let f = 0;
      if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) { h = t; pos += 1; }
      else if (t >= 0xa0 && t < 0xc0) {
        const size = 1 + (t & 0x1f);
        if (pos + size > end) return this.#abort(first);
        h = size === 1 ? t : sampleHash(b, pos + 1, pos + size);
        pos += size;
      } else {
        let children = -1;
        let hdr = 1;
        if (t < 0xa0) children = t < 0x90 ? 2 * (t & 0x0f) : t & 0x0f;
        else if (t >= 0xdc && t <= 0xdf) {
          const n = readLen(b, pos, end, t & 1 ? 2 : 1);
          if (n < 0) return this.#abort(first);
          hdr = t & 1 ? 5 : 3;
          children = t >= 0xde ? 2 * n : n;
          if (children > end - pos - hdr) return this.#abort(first); // each child needs a byte
        }
        if (children > 0) {
          if (sp >= stOrd.length) {
            this.#growStack();
            stOrd = this.#stOrd; stLeft = this.#stLeft; stHash = this.#stHash; stFlags = this.#stFlags;
          }
          stOrd[sp] = k;
          stLeft[sp] = children;
          stHash[sp] = Math.imul(FNV_OFFSET ^ t, FNV_PRIME) ^ children;
          stFlags[sp] = 0;
          sp++;
          pos += hdr;
          continue;
        }
        if (children === 0) { h = Math.imul(FNV_OFFSET ^ t, FNV_PRIME); pos += hdr; flags[k] = 0; }
        else {
          const size = t === 0xc1 ? -1 : scalarSize(b, pos, end);
          if (size < 0 || pos + size > end) return this.#abort(first);
          if (t >= 0xd9 && t <= 0xdb) {
            const c = 1 + (1 << (t - 0xd9));
            h = size === c ? t : sampleHash(b, pos + c, pos + size);
          } else if (t >= 0xc4 && t <= 0xc6) {
            const n = size - 1 - (1 << (t - 0xc4));
            h = Math.imul(FNV_OFFSET ^ t, FNV_PRIME) ^ n; // contents are compared, not hashed
            if (n >= this.#bigBinBytes) f = FLAG_BIG_BIN;
          } else if (size > 64) {
            h = Math.imul(FNV_OFFSET ^ t, FNV_PRIME) ^ size;
          } else h = hashBytes(b, pos, pos + size);
          pos += size;
        }
      }
      // a scalar (or empty container): flags are read for containers only, a bin's travels up in f
      ends[k] = pos;
      sizes[k] = 1;
      hashes[k] = h;
      // close every container this value completes
      while (sp > 0) {
        const top = sp - 1;
        stHash[top] = Math.imul(stHash[top]! ^ h, FNV_PRIME);
        stFlags[top]! |= f;
        if (--stLeft[top]! > 0) break;
        const c = stOrd[top]!;
        ends[c] = pos;
        sizes[c] = k + 1 - c;
        h = stHash[top]!;
        f = stFlags[top]!;
        hashes[c] = h;
        flags[c] = f;
        sp--;
      }
      if (sp === 0) {
        this.count = k + 1;
        return pos;
      }
    }
  }

  reset(): void {
    this.count = 0;
  }

  /** gives memory back after an unusually large message (arrays regrow on demand) */
  shrink(keepValues: number): void {
    if (this.starts.length <= keepValues) return;
    this.starts = new Int32Array(256);
    this.ends = new Int32Array(256);
    this.sizes = new Int32Array(256);
    this.hashes = new Int32Array(256);
    this.flags = new Uint8Array(256);
    this.count = 0;
  }

  #abort(first: number): number {
    this.count = first;
    return -1;
  }

  #grow(): void {
    const len = Math.min(this.#maxValues, this.starts.length * 2);
    const g32 = (a: Int32Array) => { const n = new Int32Array(len); n.set(a); return n; };
    this.starts = g32(this.starts);
    this.ends = g32(this.ends);
    this.sizes = g32(this.sizes);
    this.hashes = g32(this.hashes);
    const fl = new Uint8Array(len);
    fl.set(this.flags);
    this.flags = fl;
  }

  #growStack(): void {
    const len = this.#stOrd.length * 2;
    const a = new Int32Array(len); a.set(this.#stOrd); this.#stOrd = a;
    const l = new Int32Array(len); l.set(this.#stLeft); this.#stLeft = l;
    const h = new Int32Array(len); h.set(this.#stHash); this.#stHash = h;
    const f = new Uint8Array(len); f.set(this.#stFlags); this.#stFlags = f;
  }
}
