// Node's zstd and Huffman-only deflate as the unit codec calls them. Each call gets one output buffer
// sized for its whole result (Node's default 16 KiB output chunks cost, per chunk, a threadpool round trip
// when encoding and a copy into the concatenated result). Inputs under `syncBelowBytes`, and any input when
// the caller asks for `sync` (a small unit, coded in one event-loop turn) at a level up to syncMaxZstdLevel,
// are coded on the calling thread: on the 2 shared cores the threadpool hops made the edge's unit coding
// cost ~40% more CPU (bench/payload/s3-pair-loopback.ts: edge 42-46 vs 29-31 ms per MB of image).
// Decoders are capped at the size the caller expects (`maxOutputLength`), so a crafted body cannot make
// us allocate more than that plus one small margin.

import {
  constants as zlibConstants, deflateRaw, deflateRawSync, inflateRawSync, zstdCompress, zstdCompressSync, zstdDecompressSync,
  type ZlibOptions, type ZstdOptions,
} from 'node:zlib';

/** Inputs shorter than this are coded synchronously. */
export const syncBelowBytes = 32 * 1024;
/** Higher zstd levels always go to the threadpool (level 9 took 6 ms for a 128 KiB plane). */
export const syncMaxZstdLevel = 3;

/** Output room for coding `bytes` input bytes: zstd's and deflate's worst case, so one chunk always suffices. */
function encodeChunkBytes(bytes: number): number {
  return Math.max(64, bytes + (bytes >> 7) + 128);
}
/** Output room for a decoder capped at `rawBytes`: a little more, so that a full buffer never asks for another. */
function decodeChunkBytes(rawBytes: number): number {
  return Math.max(64, rawBytes + 64);
}

/** zstd at `level` (plus `params`), pledging the input's size so the context's tables fit it. */
export function zstdEncode(bytes: Uint8Array, level: number, params: Record<number, number> = {}, sync = false): Promise<Uint8Array> {
  const options: ZstdOptions = {
    params: { [zlibConstants.ZSTD_c_compressionLevel]: level, ...params },
    pledgedSrcSize: bytes.byteLength,
    chunkSize: encodeChunkBytes(bytes.byteLength),
  };
  if (bytes.byteLength < syncBelowBytes || (sync && level <= syncMaxZstdLevel)) return Promise.resolve(zstdCompressSync(bytes, options));
  return new Promise((resolve, reject) => zstdCompress(bytes, options, (error, out) => (error ? reject(error) : resolve(out))));
}

/** Huffman-only raw deflate: order-0 entropy coding without matches. */
export function huffmanEncode(bytes: Uint8Array, sync = false): Promise<Uint8Array> {
  const options: ZlibOptions = { strategy: zlibConstants.Z_HUFFMAN_ONLY, chunkSize: encodeChunkBytes(bytes.byteLength) };
  if (bytes.byteLength < syncBelowBytes || sync) return Promise.resolve(deflateRawSync(bytes, options));
  return new Promise((resolve, reject) => deflateRaw(bytes, options, (error, out) => (error ? reject(error) : resolve(out))));
}

/** zstd back to at most `rawBytes` bytes (throws past it); the caller checks the exact length. */
export function zstdDecode(coded: Uint8Array, rawBytes: number): Uint8Array {
  return zstdDecompressSync(coded, { maxOutputLength: rawBytes, chunkSize: decodeChunkBytes(rawBytes) });
}

/** Raw deflate back to at most `rawBytes` bytes (throws past it); the caller checks the exact length. */
export function huffmanDecode(coded: Uint8Array, rawBytes: number): Uint8Array {
  return inflateRawSync(coded, { maxOutputLength: rawBytes, chunkSize: decodeChunkBytes(rawBytes) });
}
