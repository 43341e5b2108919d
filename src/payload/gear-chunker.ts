// Content-defined chunking (FastCDC-style gear hash with normalised chunking) over zero-copy views.
// Boundaries depend only on the last 32 bytes, so data shifted by a few bytes re-finds the same chunks.
// Both proxies of a pair must use the same options (and this fixed table) for chunks to match.

export interface ChunkingOptions {
  minChunkBytes: number;
  avgChunkBytes: number; // a power of two
  maxChunkBytes: number;
}

export const defaultChunkingOptions: ChunkingOptions = {
  minChunkBytes: 4 * 1024,
  avgChunkBytes: 16 * 1024,
  maxChunkBytes: 64 * 1024,
};

/** Hard ceiling for maxChunkBytes (also bounds every chunk length read from the wire). */
export const chunkBytesLimit = 4 * 1024 * 1024;

/** Fixed gear table: 256 pseudo-random 32-bit words from a splitmix32 stream (seed constant). */
const gearTable: Uint32Array = (() => {
  const table = new Uint32Array(256);
  let state = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    table[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return table;
})();

function topBitsMask(bits: number): number {
  const clamped = Math.max(1, Math.min(31, bits));
  return (0xffffffff << (32 - clamped)) | 0;
}

export function validateChunkingOptions(options: ChunkingOptions): void {
  const { minChunkBytes, avgChunkBytes, maxChunkBytes } = options;
  const powerOfTwo = Number.isInteger(Math.log2(avgChunkBytes));
  if (!(minChunkBytes >= 64 && powerOfTwo && minChunkBytes <= avgChunkBytes && avgChunkBytes <= maxChunkBytes)) {
    throw new RangeError(`invalid chunking options ${JSON.stringify(options)}: need 64 <= min <= avg (power of 2) <= max`);
  }
  if (maxChunkBytes > chunkBytesLimit) throw new RangeError(`maxChunkBytes above ${chunkBytesLimit}`);
}

/** Returns the end offsets of the chunks of `bytes` (the last one is bytes.length). */
export function chunkBoundaries(bytes: Uint8Array, options: ChunkingOptions = defaultChunkingOptions): number[] {
  const cuts: number[] = [];
  let start = 0;
  while (start < bytes.length) {
    start = nextCut(bytes, start, bytes.length, options);
    cuts.push(start);
  }
  return cuts;
}

/** Zero-copy chunk views of `bytes`. */
export function chunkBlob(bytes: Uint8Array, options: ChunkingOptions = defaultChunkingOptions): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const end of chunkBoundaries(bytes, options)) {
    out.push(bytes.subarray(start, end));
    start = end;
  }
  return out;
}

/**
 * Like chunkBoundaries, but yields to the event loop (via `yieldTurn`) after about `sliceBytes` of
 * scanning, so chunking a large blob never blocks small traffic for more than one slice.
 */
export async function chunkBoundariesCooperative(
  bytes: Uint8Array,
  options: ChunkingOptions,
  sliceBytes: number,
  yieldTurn: () => Promise<void>,
): Promise<number[]> {
  const cuts: number[] = [];
  let start = 0;
  let scannedSinceYield = 0;
  while (start < bytes.length) {
    const end = nextCut(bytes, start, bytes.length, options);
    scannedSinceYield += end - start;
    cuts.push(end);
    start = end;
    if (scannedSinceYield >= sliceBytes && start < bytes.length) {
      scannedSinceYield = 0;
      await yieldTurn();
    }
  }
  return cuts;
}

function nextCut(src: Uint8Array, start: number, end: number, options: ChunkingOptions): number {
  const remaining = end - start;
  if (remaining <= options.minChunkBytes) return end;
  const avgBits = Math.round(Math.log2(options.avgChunkBytes));
  const maskHard = topBitsMask(avgBits + 2); // before the average size: harder to cut
  const maskEasy = topBitsMask(avgBits - 2); // after it: easier (normalised chunking, level 2)
  const normalEnd = start + Math.min(options.avgChunkBytes, remaining);
  const hardEnd = start + Math.min(options.maxChunkBytes, remaining);
  const table = gearTable;
  let hash = 0;
  // Warm the 32-byte window so the first candidate cut depends on content only, not on `start`.
  let i = start + options.minChunkBytes - 32;
  for (; i < start + options.minChunkBytes; i++) hash = ((hash << 1) + table[src[i]!]!) | 0;
  for (; i < normalEnd; i++) {
    hash = ((hash << 1) + table[src[i]!]!) | 0;
    if ((hash & maskHard) === 0) return i + 1;
  }
  for (; i < hardEnd; i++) {
    hash = ((hash << 1) + table[src[i]!]!) | 0;
    if ((hash & maskEasy) === 0) return i + 1;
  }
  return hardEnd;
}
