// A context model for a unit's lowest byte plane, by splitting: the low bytes of elements whose top byte
// (the last plane, little-endian) is zero go in one stream, the others in a second, each coded on its own
// (Huffman-only deflate, zstd level 1, or raw, whichever is smallest). Image-like data with a background
// separates into a few-valued background stream and a noisy object stream; coded together, the rare
// object bytes cost the background symbols code space (bench image: low plane 0.213 -> 0.198 B per B).
//
// split body = 2 x (codec u8, bodyBytes u32) | zero-context body | other-context body. The two streams'
// raw sizes come from the decoded top plane (its count of zeros), never from the body.

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

/** True when the top plane's zeros and non-zeros are both common enough for a split to be worth trying. */
export function worthSplitting(top: Uint8Array): boolean {
  let zeros = 0;
  // A strided count is enough for the decision (the exact split is computed when encoding).
  const stride = top.byteLength > 65536 ? 7 : 1;
  let seen = 0;
  for (let i = 0; i < top.byteLength; i += stride, seen++) if (top[i] === 0) zeros++;
  return seen > 0 && zeros >= seen * minContextShare && seen - zeros >= seen * minContextShare;
}

/** The low plane split by the top plane's zeros, coded: the split body (off the event loop). */
export async function encodeSplit(low: Uint8Array, top: Uint8Array): Promise<Uint8Array> {
  let zeros = 0;
  for (let i = 0; i < top.byteLength; i++) if (top[i] === 0) zeros++;
  const zeroContext = new Uint8Array(zeros);
  const otherContext = new Uint8Array(low.byteLength - zeros);
  for (let i = 0, z = 0, o = 0; i < low.byteLength; i++) {
    if (top[i] === 0) zeroContext[z++] = low[i]!;
    else otherContext[o++] = low[i]!;
  }
  const coded = await Promise.all([codeStream(zeroContext), codeStream(otherContext)]);
  const body = new Uint8Array(tableBytes + coded[0][1].byteLength + coded[1][1].byteLength);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = tableBytes;
  coded.forEach(([codec, bytes], k) => {
    view.setUint8(k * entryBytes, codec);
    view.setUint32(k * entryBytes + 1, bytes.byteLength);
    body.set(bytes, offset);
    offset += bytes.byteLength;
  });
  return body;
}

/**
 * The low plane (`lowBytes` long) from a split body and the decoded top plane; throws Error on anything
 * malformed. Each stream's decoder is capped at the size the top plane gives it.
 */
export function decodeSplit(body: Uint8Array, top: Uint8Array, lowBytes: number): Uint8Array {
  if (top.byteLength !== lowBytes) throw new Error(`top plane of ${top.byteLength} bytes for a low plane of ${lowBytes}`);
  if (body.byteLength < tableBytes) throw new Error('split body shorter than its table');
  let zeros = 0;
  for (let i = 0; i < top.byteLength; i++) if (top[i] === 0) zeros++;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const streams: Uint8Array[] = [];
  let offset = tableBytes;
  for (const [k, rawBytes] of [[0, zeros], [1, lowBytes - zeros]] as const) {
    const codec = view.getUint8(k * entryBytes);
    const codedBytes = view.getUint32(k * entryBytes + 1);
    if (codedBytes > body.byteLength - offset) throw new Error(`split stream ${k} of ${codedBytes} bytes past the end`);
    const coded = body.subarray(offset, offset + codedBytes);
    offset += codedBytes;
    let stream: Uint8Array;
    if (codec === StreamCodec.raw) stream = coded;
    else if (rawBytes === 0) throw new Error(`split stream ${k} is empty but coded`);
    else if (codec === StreamCodec.zstd) stream = zstdDecompressSync(coded, { maxOutputLength: rawBytes });
    else if (codec === StreamCodec.huffman) stream = inflateRawSync(coded, { maxOutputLength: rawBytes });
    else throw new Error(`unknown split stream codec ${codec}`);
    if (stream.byteLength !== rawBytes) throw new Error(`split stream ${k} gave ${stream.byteLength} bytes, expected ${rawBytes}`);
    streams.push(stream);
  }
  if (offset !== body.byteLength) throw new Error(`${body.byteLength - offset} trailing bytes in the split body`);
  const [zeroContext, otherContext] = streams as [Uint8Array, Uint8Array];
  const low = new Uint8Array(lowBytes);
  for (let i = 0, z = 0, o = 0; i < lowBytes; i++) low[i] = top[i] === 0 ? zeroContext[z++]! : otherContext[o++]!;
  return low;
}

/**
 * Smallest of Huffman-only deflate, zstd level 1 and raw. Level 1, not the policy's level: on few-valued
 * noise higher levels find short matches that cost more than the literals they replace (bench image
 * background: 0.183 at level 1, 0.205 at 9), and level 1 is the fastest.
 */
async function codeStream(stream: Uint8Array): Promise<[StreamCodecId, Uint8Array]> {
  if (stream.byteLength === 0) return [StreamCodec.raw, stream];
  const [huffman, zstd] = await Promise.all([
    new Promise<Uint8Array>((resolve, reject) => deflateRaw(stream, huffmanOptions, (error, out) => (error ? reject(error) : resolve(out)))),
    new Promise<Uint8Array>((resolve, reject) => zstdCompress(stream, { params: { [zlibConstants.ZSTD_c_compressionLevel]: 1 }, pledgedSrcSize: stream.byteLength }, (error, out) => (error ? reject(error) : resolve(out)))),
  ]);
  let best: [StreamCodecId, Uint8Array] = [StreamCodec.raw, stream];
  if (huffman.byteLength < best[1].byteLength) best = [StreamCodec.huffman, huffman];
  if (zstd.byteLength < best[1].byteLength) best = [StreamCodec.zstd, zstd];
  return best;
}
