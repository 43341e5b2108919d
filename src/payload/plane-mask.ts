// A mostly-zero plane coded as where its non-zero bytes are and what they are (plane codec `masked`,
// payload-v4): a bit mask (1 = non-zero, least significant bit first) and the non-zero bytes in order, each
// stream coded with the smallest of zstd, Huffman-only deflate or raw. The top plane of the bench image
// (97% zeros, objects 32 pixels wide valued 6-10) cost zstd 1.1-1.3 bytes per non-zero byte, mostly to
// say where each run starts and ends; mask and values cost 0.31 (bench image: 0.0087 -> 0.0048 B per B).
//
// masked body = 2 x (codec u8, bodyBytes u32) | mask body | values body. The mask's size follows from the
// plane's and the values' count from the mask's set bits, never from the body.

import { decodeStream, codeSmallest } from './plane-split.js';

const tableBytes = 2 * 5;
/** Tried only on planes where at least this share of bytes is zero (else the mask is all cost). */
export const maskedMinZeroShare = 0.75;

/** True when `plane` is zero enough for the masked coding to be worth trying (a strided count). */
export function worthMasking(plane: Uint8Array): boolean {
  const stride = plane.byteLength > 65536 ? 7 : 1;
  let zeros = 0;
  let seen = 0;
  for (let i = 0; i < plane.byteLength; i += stride, seen++) if (plane[i] === 0) zeros++;
  return seen > 0 && zeros >= seen * maskedMinZeroShare;
}

/** Set bits of every byte value (the mask's population counts). */
const bitsSet = Uint8Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let x = v; x > 0; x >>= 1) n += x & 1;
  return n;
});

/** The masked body of `plane` (`sync`: its streams coded on the calling thread, zlib-calls.ts). */
export async function encodeMasked(plane: Uint8Array, sync = false): Promise<Uint8Array> {
  const mask = new Uint8Array(Math.ceil(plane.byteLength / 8));
  const room = new Uint8Array(plane.byteLength);
  let count = 0;
  // Eight plane bytes per mask byte; a run of eight zeros (most of such a plane) is skipped as two words.
  const aligned = plane.byteOffset % 4 === 0;
  const words = aligned ? new Uint32Array(plane.buffer, plane.byteOffset, plane.byteLength >> 2) : undefined;
  for (let m = 0; m < mask.byteLength; m++) {
    if (words && 2 * m + 1 < words.length && (words[2 * m]! | words[2 * m + 1]!) === 0) continue;
    let bits = 0;
    for (let i = m * 8, end = Math.min(plane.byteLength, i + 8), bit = 1; i < end; i++, bit <<= 1) {
      const value = plane[i]!;
      if (value !== 0) {
        bits |= bit;
        room[count++] = value;
      }
    }
    mask[m] = bits;
  }
  const values = room.subarray(0, count);
  // The values are few-valued noise (an object's top bytes): Huffman beat zstd-1 there by 16%.
  const coded = await Promise.all([codeSmallest(mask, 3, false, sync), codeSmallest(values, 1, true, sync)]);
  const body = new Uint8Array(tableBytes + coded[0][1].byteLength + coded[1][1].byteLength);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = tableBytes;
  coded.forEach(([codec, bytes], k) => {
    view.setUint8(k * 5, codec);
    view.setUint32(k * 5 + 1, bytes.byteLength);
    body.set(bytes, offset);
    offset += bytes.byteLength;
  });
  return body;
}

/** The plane (`planeBytes` long) from a masked body; throws Error on anything malformed. */
export function decodeMasked(body: Uint8Array, planeBytes: number): Uint8Array {
  if (body.byteLength < tableBytes) throw new Error('masked body shorter than its table');
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const maskBytes = Math.ceil(planeBytes / 8);
  const maskCoded = view.getUint32(1);
  const valuesCoded = view.getUint32(6);
  if (tableBytes + maskCoded + valuesCoded !== body.byteLength) throw new Error('masked body sizes do not add up');
  const mask = decodeStream(view.getUint8(0), body.subarray(tableBytes, tableBytes + maskCoded), maskBytes, 'mask');
  // Bits past the plane's end in the last mask byte are ignored (they name no position).
  const spare = maskBytes * 8 - planeBytes;
  const bitsAt = (m: number): number => (m === maskBytes - 1 ? mask[m]! & (0xff >> spare) : mask[m]!);
  let count = 0;
  for (let m = 0; m < maskBytes; m++) count += bitsSet[bitsAt(m)]!;
  const values = decodeStream(view.getUint8(5), body.subarray(tableBytes + maskCoded), count, 'values');
  const plane = new Uint8Array(planeBytes);
  for (let m = 0, k = 0; m < maskBytes; m++) {
    const bits = bitsAt(m);
    if (bits === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if (bits & (1 << bit)) {
        const value = values[k++]!;
        if (value === 0) throw new Error('masked value is zero');
        plane[m * 8 + bit] = value;
      }
    }
  }
  return plane;
}
