// A context model for a unit's low byte plane, by splitting: the low bytes of elements whose top byte is
// zero go in one stream, the others in a second, each coded on its own (Huffman-only deflate, zstd level 1,
// or raw, whichever is smallest). Image-like data with a background separates into a few-valued background
// stream and a noisy object stream; coded together, the rare object bytes cost the background symbols code
// space (bench image: low plane 0.213 -> 0.198 B per B). A unit may start mid-element (its chunks are cut
// by content), so the top byte is not always the last plane: the context is the plane with the most zeros
// and the split plane the one after it (cyclically), the low byte of the same elements.
//
// split body = context plane u8 (bit 7: aligned, payload-v4) | 2 x (codec u8, bodyBytes u32) | zero-context body | other-context body.
// Only the first n = min(both planes' sizes) bytes pair up (aligned: min(split plane, context plane - 1)); the split plane's bytes past n (a unit's tail)
// end the other-context stream. The streams' raw sizes come from the decoded context plane (its count of
// zeros among the first n), never from the body.

import {
  constants as zlibConstants, deflateRaw, inflateRawSync, zstdCompress, zstdDecompressSync, type ZlibOptions,
} from 'node:zlib';

export const StreamCodec = { raw: 0, zstd: 1, huffman: 2 } as const;
type StreamCodecId = (typeof StreamCodec)[keyof typeof StreamCodec];

const entryBytes = 5;
const tableBytes = 2 * entryBytes;
/** The split is tried only when each context holds at least this share of the elements. */
const minContextShare = 0.005;
const huffmanOptions: ZlibOptions = { strategy: zlibConstants.Z_HUFFMAN_ONLY };

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

/** Context byte flag of an aligned split body (payload-v4). */
const ALIGNED_FLAG = 0x80;

/**
 * `low` split by the zeros of `top` (plane number `context`), coded: the split body (off the event loop).
 * `aligned`: low byte i pairs with top byte i + 1, the same element's top byte when the unit starts
 * mid-element and the split plane comes after the context plane in the unit (see splitShift).
 */
export async function encodeSplit(low: Uint8Array, top: Uint8Array, context: number, aligned = false): Promise<Uint8Array> {
  const shift = aligned ? 1 : 0;
  const paired = Math.max(0, Math.min(low.byteLength, top.byteLength - shift));
  let zeros = 0;
  for (let i = 0; i < paired; i++) if (top[i + shift] === 0) zeros++;
  const zeroContext = new Uint8Array(zeros);
  const otherContext = new Uint8Array(low.byteLength - zeros);
  let o = 0;
  for (let i = 0, z = 0; i < paired; i++) {
    if (top[i + shift] === 0) zeroContext[z++] = low[i]!;
    else otherContext[o++] = low[i]!;
  }
  otherContext.set(low.subarray(paired), o);
  const coded = await Promise.all([codeStream(zeroContext), codeStream(otherContext)]);
  const body = new Uint8Array(1 + tableBytes + coded[0][1].byteLength + coded[1][1].byteLength);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  body[0] = context | (aligned ? ALIGNED_FLAG : 0);
  let offset = 1 + tableBytes;
  coded.forEach(([codec, bytes], k) => {
    view.setUint8(1 + k * entryBytes, codec);
    view.setUint32(1 + k * entryBytes + 1, bytes.byteLength);
    body.set(bytes, offset);
    offset += bytes.byteLength;
  });
  return body;
}

/** The context plane a split body names (checked by the caller before decoding). */
export function splitBodyContext(body: Uint8Array): number {
  if (body.byteLength < 1 + tableBytes) throw new Error('split body shorter than its table');
  return body[0]! & ~ALIGNED_FLAG;
}

/**
 * The split plane (`lowBytes` long) from a split body and the decoded context plane; throws Error on
 * anything malformed. Each stream's decoder is capped at the size the context plane gives it.
 */
export function decodeSplit(body: Uint8Array, top: Uint8Array, lowBytes: number): Uint8Array {
  if (body.byteLength < 1 + tableBytes) throw new Error('split body shorter than its table');
  const shift = body[0]! & ALIGNED_FLAG ? 1 : 0;
  const paired = Math.max(0, Math.min(lowBytes, top.byteLength - shift));
  let zeros = 0;
  for (let i = 0; i < paired; i++) if (top[i + shift] === 0) zeros++;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const streams: Uint8Array[] = [];
  let offset = 1 + tableBytes;
  for (const [k, rawBytes] of [[0, zeros], [1, lowBytes - zeros]] as const) {
    const codec = view.getUint8(1 + k * entryBytes);
    const codedBytes = view.getUint32(1 + k * entryBytes + 1);
    if (codedBytes > body.byteLength - offset) throw new Error(`split stream ${k} of ${codedBytes} bytes past the end`);
    const coded = body.subarray(offset, offset + codedBytes);
    offset += codedBytes;
    streams.push(decodeStream(codec, coded, rawBytes, `split stream ${k}`));
  }
  if (offset !== body.byteLength) throw new Error(`${body.byteLength - offset} trailing bytes in the split body`);
  const [zeroContext, otherContext] = streams as [Uint8Array, Uint8Array];
  const low = new Uint8Array(lowBytes);
  let o = 0;
  for (let i = 0, z = 0; i < paired; i++) low[i] = top[i + shift] === 0 ? zeroContext[z++]! : otherContext[o++]!;
  low.set(otherContext.subarray(o), paired);
  return low;
}

/**
 * zstd level 1, or Huffman-only deflate where zstd saved less than 10% (it found no structure), or raw:
 * the smallest. Level 1, not the policy's level: on few-valued noise higher levels find short matches that
 * cost more than the literals they replace (bench image background: 0.183 at level 1, 0.205 at 9, Huffman
 * 0.190), and it is the fastest; Huffman is run only where zstd failed, to keep the split cheap.
 */
function codeStream(stream: Uint8Array): Promise<[StreamCodecId, Uint8Array]> {
  return codeSmallest(stream, 1);
}

/** The smallest of zstd at `zstdLevel`, Huffman-only deflate (only where zstd saved < 10%, unless `alwaysHuffman`) and raw. */
export async function codeSmallest(stream: Uint8Array, zstdLevel: number, alwaysHuffman = false): Promise<[StreamCodecId, Uint8Array]> {
  if (stream.byteLength === 0) return [StreamCodec.raw, stream];
  let best: [StreamCodecId, Uint8Array] = [StreamCodec.raw, stream];
  const zstd = await new Promise<Uint8Array>((resolve, reject) =>
    zstdCompress(stream, { params: { [zlibConstants.ZSTD_c_compressionLevel]: zstdLevel }, pledgedSrcSize: stream.byteLength }, (error, out) => (error ? reject(error) : resolve(out))));
  if (zstd.byteLength < best[1].byteLength) best = [StreamCodec.zstd, zstd];
  if (zstd.byteLength < stream.byteLength * 0.9 && !alwaysHuffman) return best;
  const huffman = await new Promise<Uint8Array>((resolve, reject) => deflateRaw(stream, huffmanOptions, (error, out) => (error ? reject(error) : resolve(out))));
  if (huffman.byteLength < best[1].byteLength) best = [StreamCodec.huffman, huffman];
  return best;
}

/** One stream coded by codeSmallest, back to exactly `rawBytes` bytes (each decoder capped at it); throws Error. */
export function decodeStream(codec: number, coded: Uint8Array, rawBytes: number, name: string): Uint8Array {
  let stream: Uint8Array;
  if (codec === StreamCodec.raw) stream = coded;
  else if (rawBytes === 0) throw new Error(`${name} stream is empty but coded`);
  else if (codec === StreamCodec.zstd) stream = zstdDecompressSync(coded, { maxOutputLength: rawBytes });
  else if (codec === StreamCodec.huffman) stream = inflateRawSync(coded, { maxOutputLength: rawBytes });
  else throw new Error(`unknown ${name} stream codec ${codec}`);
  if (stream.byteLength !== rawBytes) throw new Error(`${name} stream gave ${stream.byteLength} bytes, expected ${rawBytes}`);
  return stream;
}
