// A context model for a unit's low byte plane, by splitting: the low bytes of elements whose top byte is
// zero go in one stream, the others in a second, each coded on its own (Huffman-only deflate, zstd level 1,
// or raw, whichever is smallest). Image-like data with a background separates into a few-valued background
// stream and a noisy object stream; coded together, the rare object bytes cost the background symbols code
// space (bench image: low plane 0.213 -> 0.198 B per B). A unit may start mid-element (its chunks are cut
// by content), so the top byte is not always the last plane: the context is the plane with the most zeros
// and the split plane the one after it (cyclically), the low byte of the same elements.
//
// split body = context plane u8 (bit 7: aligned, bit 6: range follows; payload-v4) | [from u32, to u32] |
//   2 x (codec u8, bodyBytes u32) | zero-context body | other-context body.
// range (payload-v4): only paired positions from..to-1 are split by context; the others go to the
// other-context stream. Bytes around the array in a unit (a hypha message's envelope before it, its
// trailing fields after it) otherwise put a few rare symbols in the zero-context stream, and one is
// enough to cost its eight equally likely background symbols their 3-bit code (one of them gets 4 bits:
// ~2 KB per 256 KiB slice; bench image through the pair 0.2148 -> 0.2075 B per B).
// Only the first n = min(both planes' sizes) bytes pair up (aligned: min(split plane, context plane - 1)); the split plane's bytes past n (a unit's tail)
// end the other-context stream. The streams' raw sizes come from the decoded context plane (its count of
// zeros among the first n), never from the body.

import { huffmanDecode, huffmanEncode, zstdDecode, zstdEncode } from './zlib-calls.js';

export const StreamCodec = { raw: 0, zstd: 1, huffman: 2 } as const;
type StreamCodecId = (typeof StreamCodec)[keyof typeof StreamCodec];

const entryBytes = 5;
const tableBytes = 2 * entryBytes;
/** The split is tried only when each context holds at least this share of the elements. */
const minContextShare = 0.005;

/** The context plane for a split of `planes` (the one with the most zeros, if mixed enough), or undefined. */
export function splitContextPlane(planes: readonly Uint8Array[]): number | undefined {
  if (planes.length < 2) return undefined;
  let best: number | undefined;
  let bestZeros = -1;
  planes.forEach((plane, j) => {
    const { zeros, seen } = sampledZeros(plane);
    if (seen > 0 && zeros > bestZeros && zeros >= seen * minContextShare && seen - zeros >= seen * minContextShare) {
      best = j;
      bestZeros = zeros;
    }
  });
  return best;
}

function sampledZeros(plane: Uint8Array): { zeros: number; seen: number } {
  // A strided count is enough for the decision (the exact split is computed when encoding).
  const stride = plane.byteLength > 65536 ? 7 : 1;
  let zeros = 0;
  let seen = 0;
  for (let i = 0; i < plane.byteLength; i += stride, seen++) if (plane[i] === 0) zeros++;
  return { zeros, seen };
}

/** The plane split with context plane `context` (of `planeCount`): the one after it, cyclically. */
export function splitTarget(context: number, planeCount: number): number {
  return (context + 1) % planeCount;
}

/**
 * Whether the split plane's byte i belongs to the element of the context plane's byte i + 1: so when the
 * split plane comes after the context plane in the unit (the unit starts mid-element, at the top byte).
 * Pairing by equal index there set each low byte beside its neighbour's top byte: at an object's edge
 * in an image, a background byte went to the object stream and back (bench image, odd phase: 0.220 vs
 * 0.2125 payload B per array B at even phase).
 */
export function splitAligned(context: number, target: number): boolean {
  return target > context;
}

/** Context byte flags of a split body (payload-v4): aligned pairing, and a u32 lead after the byte. */
const ALIGNED_FLAG = 0x80;
const RANGE_FLAG = 0x40;
const CONTEXT_MASK = 0x3f;

export interface SplitOptions {
  /** Pair low byte i with top byte i + 1 (see splitAligned). */
  aligned?: boolean;
  /** Only paired positions in [from, to) are split by context; the others go to the other-context stream. */
  range?: { from: number; to: number };
  /** Code the streams on the calling thread (zlib-calls.ts). */
  sync?: boolean;
}

/**
 * `low` split by the zeros of `top` (plane number `context`), coded: the split body (off the event loop).
 * `aligned`: low byte i pairs with top byte i + 1, the same element's top byte when the unit starts
 * mid-element and the split plane comes after the context plane in the unit (see splitShift).
 */
export async function encodeSplit(low: Uint8Array, top: Uint8Array, context: number, options: SplitOptions = {}): Promise<Uint8Array> {
  const shift = options.aligned ? 1 : 0;
  const paired = Math.max(0, Math.min(low.byteLength, top.byteLength - shift));
  const from = Math.min(options.range?.from ?? 0, paired);
  const to = Math.max(from, Math.min(options.range?.to ?? paired, paired));
  const ranged = from > 0 || to < paired;
  // One pass into streams sized for the worst case; positions outside from..to are copied whole.
  const zeroRoom = new Uint8Array(to - from);
  const otherRoom = new Uint8Array(low.byteLength);
  otherRoom.set(low.subarray(0, from));
  let z = 0;
  let o = from;
  for (let i = from; i < to; i++) {
    const value = low[i]!;
    if (top[i + shift] === 0) zeroRoom[z++] = value;
    else otherRoom[o++] = value;
  }
  otherRoom.set(low.subarray(to), o);
  const zeroContext = zeroRoom.subarray(0, z);
  const otherContext = otherRoom.subarray(0, low.byteLength - z);
  const coded = await Promise.all([codeStream(zeroContext, options.sync), codeStream(otherContext, options.sync)]);
  const head = ranged ? 9 : 1;
  const body = new Uint8Array(head + tableBytes + coded[0][1].byteLength + coded[1][1].byteLength);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  body[0] = context | (shift ? ALIGNED_FLAG : 0) | (ranged ? RANGE_FLAG : 0);
  if (ranged) {
    view.setUint32(1, from);
    view.setUint32(5, to);
  }
  let offset = head + tableBytes;
  coded.forEach(([codec, bytes], k) => {
    view.setUint8(head + k * entryBytes, codec);
    view.setUint32(head + k * entryBytes + 1, bytes.byteLength);
    body.set(bytes, offset);
    offset += bytes.byteLength;
  });
  return body;
}

/** The context plane a split body names (checked by the caller before decoding). */
export function splitBodyContext(body: Uint8Array): number {
  if (body.byteLength < 1 + tableBytes) throw new Error('split body shorter than its table');
  return body[0]! & CONTEXT_MASK;
}

/**
 * The split plane (`lowBytes` long) from a split body and the decoded context plane; throws Error on
 * anything malformed. Each stream's decoder is capped at the size the context plane gives it.
 */
export function decodeSplit(body: Uint8Array, top: Uint8Array, lowBytes: number): Uint8Array {
  const head = body[0]! & RANGE_FLAG ? 9 : 1;
  if (body.byteLength < head + tableBytes) throw new Error('split body shorter than its table');
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const shift = body[0]! & ALIGNED_FLAG ? 1 : 0;
  const paired = Math.max(0, Math.min(lowBytes, top.byteLength - shift));
  const from = head === 9 ? view.getUint32(1) : 0;
  const to = head === 9 ? view.getUint32(5) : paired;
  if (from > to || to > paired) throw new Error(`split range ${from}..${to} outside the ${paired} paired bytes`);
  let zeros = 0;
  for (let i = from; i < to; i++) if (top[i + shift] === 0) zeros++;
  const streams: Uint8Array[] = [];
  let offset = head + tableBytes;
  for (const [k, rawBytes] of [[0, zeros], [1, lowBytes - zeros]] as const) {
    const codec = view.getUint8(head + k * entryBytes);
    const codedBytes = view.getUint32(head + k * entryBytes + 1);
    if (codedBytes > body.byteLength - offset) throw new Error(`split stream ${k} of ${codedBytes} bytes past the end`);
    const coded = body.subarray(offset, offset + codedBytes);
    offset += codedBytes;
    streams.push(decodeStream(codec, coded, rawBytes, `split stream ${k}`));
  }
  if (offset !== body.byteLength) throw new Error(`${body.byteLength - offset} trailing bytes in the split body`);
  const [zeroContext, otherContext] = streams as [Uint8Array, Uint8Array];
  const low = new Uint8Array(lowBytes);
  low.set(otherContext.subarray(0, from));
  let o = from;
  for (let i = from, z = 0; i < to; i++) low[i] = top[i + shift] === 0 ? zeroContext[z++]! : otherContext[o++]!;
  low.set(otherContext.subarray(o), to);
  return low;
}

/**
 * zstd level 1, or Huffman-only deflate where zstd saved less than 10% (it found no structure), or raw:
 * the smallest. Level 1, not the policy's level: on few-valued noise higher levels find short matches that
 * cost more than the literals they replace (bench image background: 0.183 at level 1, 0.205 at 9, Huffman
 * 0.190), and it is the fastest; Huffman is run only where zstd failed, to keep the split cheap.
 */
function codeStream(stream: Uint8Array, sync = false): Promise<[StreamCodecId, Uint8Array]> {
  return codeSmallest(stream, 1, false, sync);
}

/** The smallest of zstd at `zstdLevel`, Huffman-only deflate (only where zstd saved < 10%, unless `alwaysHuffman`) and raw. */
export async function codeSmallest(stream: Uint8Array, zstdLevel: number, alwaysHuffman = false, sync = false): Promise<[StreamCodecId, Uint8Array]> {
  if (stream.byteLength === 0) return [StreamCodec.raw, stream];
  let best: [StreamCodecId, Uint8Array] = [StreamCodec.raw, stream];
  const zstd = await zstdEncode(stream, zstdLevel, {}, sync);
  if (zstd.byteLength < best[1].byteLength) best = [StreamCodec.zstd, zstd];
  if (zstd.byteLength < stream.byteLength * 0.9 && !alwaysHuffman) return best;
  const huffman = await huffmanEncode(stream, sync);
  if (huffman.byteLength < best[1].byteLength) best = [StreamCodec.huffman, huffman];
  return best;
}

/** One stream coded by codeSmallest, back to exactly `rawBytes` bytes (each decoder capped at it); throws Error. */
export function decodeStream(codec: number, coded: Uint8Array, rawBytes: number, name: string): Uint8Array {
  let stream: Uint8Array;
  if (codec === StreamCodec.raw) stream = coded;
  else if (rawBytes === 0) throw new Error(`${name} stream is empty but coded`);
  else if (codec === StreamCodec.zstd) stream = zstdDecode(coded, rawBytes);
  else if (codec === StreamCodec.huffman) stream = huffmanDecode(coded, rawBytes);
  else throw new Error(`unknown ${name} stream codec ${codec}`);
  if (stream.byteLength !== rawBytes) throw new Error(`${name} stream gave ${stream.byteLength} bytes, expected ${rawBytes}`);
  return stream;
}
