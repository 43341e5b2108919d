// Blosc-style byte shuffle for typed arrays: byte j of every element goes to plane j, so the planes that
// carry exponents or high bytes become long runs a compressor packs tightly. Also the element-size guess:
// hypha's `_rdtype` when the message carries one, else the size whose planes have the least entropy.

/** Element sizes the filter tries (1 = no shuffle). */
export const shuffleElementSizes = [1, 2, 4, 8] as const;

/** Byte offset of each plane in the shuffled layout of `totalBytes` (the tail that is no whole element goes last, unshuffled). */
export function planeBytes(totalBytes: number, elementBytes: number): number[] {
  const lanes = Math.floor(totalBytes / elementBytes);
  const sizes = new Array<number>(elementBytes).fill(lanes);
  sizes[elementBytes - 1] = lanes + (totalBytes - lanes * elementBytes);
  return sizes;
}

/**
 * Byte shuffle and its inverse move whole 32-bit words (four elements per step) on little-endian machines:
 * a byte loop cost ~2 ns per byte, a third of a 256 KiB unit's coding besides zlib (bench/payload/unit-cost.ts).
 */
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `bytes` itself when it starts on a 4-byte boundary, else an aligned copy (words need aligned views). */
function aligned4(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
}
function words(bytes: Uint8Array, count: number): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset, count);
}

/**
 * The concatenation of `pieces` (one logical buffer of `totalBytes`) shuffled into `elementBytes` planes:
 * plane j holds byte j of every whole element, and the last plane ends with the tail that is no whole
 * element (sizes as planeBytes). Each plane is its own aligned buffer.
 */
export function shufflePlanes(pieces: readonly Uint8Array[], totalBytes: number, elementBytes: number): Uint8Array[] {
  let flat: Uint8Array;
  if (pieces.length === 1 && pieces[0]!.byteLength === totalBytes) flat = aligned4(pieces[0]!);
  else {
    flat = new Uint8Array(totalBytes);
    let offset = 0;
    for (const piece of pieces) {
      flat.set(piece, offset);
      offset += piece.byteLength;
    }
  }
  if (elementBytes === 1) return [flat];
  const lanes = Math.floor(totalBytes / elementBytes);
  const planes = planeBytes(totalBytes, elementBytes).map((size) => new Uint8Array(size));
  // Groups of four elements move as words; the rest byte by byte.
  const groups = littleEndian && (elementBytes === 2 || elementBytes === 4 || elementBytes === 8) ? lanes >> 2 : 0;
  if (groups > 0) {
    const input = words(flat, groups * elementBytes);
    const out = planes.map((plane) => words(plane, groups));
    if (elementBytes === 2) {
      const [p0, p1] = out as [Uint32Array, Uint32Array];
      for (let g = 0; g < groups; g++) {
        const a = input[2 * g]!;
        const b = input[2 * g + 1]!;
        p0[g] = (a & 0xff) | ((a >>> 8) & 0xff00) | ((b & 0xff) << 16) | ((b << 8) & 0xff000000);
        p1[g] = ((a >>> 8) & 0xff) | ((a >>> 16) & 0xff00) | ((b << 8) & 0xff0000) | (b & 0xff000000);
      }
    } else {
      // Element e of a group spans words e*stride .. e*stride+stride-1; plane j takes byte j%4 of word j>>2.
      const stride = elementBytes >> 2;
      for (let j = 0; j < elementBytes; j++) {
        const plane = out[j]!;
        const shift = (j & 3) * 8;
        for (let g = 0, o = j >> 2; g < groups; g++, o += elementBytes) {
          plane[g] = ((input[o]! >>> shift) & 0xff) | (((input[o + stride]! >>> shift) & 0xff) << 8)
            | (((input[o + 2 * stride]! >>> shift) & 0xff) << 16) | ((input[o + 3 * stride]! >>> shift) << 24);
        }
      }
    }
  }
  for (let j = 0; j < elementBytes; j++) {
    const plane = planes[j]!;
    for (let lane = groups * 4, k = lane * elementBytes + j; lane < lanes; lane++, k += elementBytes) plane[lane] = flat[k]!;
  }
  planes[elementBytes - 1]!.set(flat.subarray(lanes * elementBytes), lanes);
  return planes;
}

/** Inverse of shufflePlanes: planes (sizes as planeBytes of their sum) back to elements, into a fresh buffer. */
export function unshufflePlanes(planes: readonly Uint8Array[], elementBytes: number): Uint8Array {
  if (elementBytes === 1) return planes[0]!;
  const totalBytes = planes.reduce((sum, plane) => sum + plane.byteLength, 0);
  const lanes = Math.floor(totalBytes / elementBytes);
  const out = new Uint8Array(totalBytes);
  const groups = littleEndian && (elementBytes === 2 || elementBytes === 4 || elementBytes === 8) ? lanes >> 2 : 0;
  if (groups > 0) {
    const output = words(out, groups * elementBytes);
    const input = planes.map((plane) => words(aligned4(plane), groups));
    if (elementBytes === 2) {
      const [p0, p1] = input as [Uint32Array, Uint32Array];
      for (let g = 0; g < groups; g++) {
        const x = p0[g]!;
        const y = p1[g]!;
        output[2 * g] = (x & 0xff) | ((y & 0xff) << 8) | ((x & 0xff00) << 8) | ((y & 0xff00) << 16);
        output[2 * g + 1] = ((x >>> 16) & 0xff) | ((y >>> 8) & 0xff00) | ((x >>> 8) & 0xff0000) | (y & 0xff000000);
      }
    } else {
      // Word k of element e gathers byte e of planes 4k .. 4k+3.
      const stride = elementBytes >> 2;
      for (let k = 0; k < stride; k++) {
        const [q0, q1, q2, q3] = input.slice(4 * k, 4 * k + 4) as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
        for (let e = 0; e < 4; e++) {
          const shift = e * 8;
          for (let g = 0, o = e * stride + k; g < groups; g++, o += elementBytes) {
            output[o] = ((q0[g]! >>> shift) & 0xff) | (((q1[g]! >>> shift) & 0xff) << 8)
              | (((q2[g]! >>> shift) & 0xff) << 16) | ((q3[g]! >>> shift) << 24);
          }
        }
      }
    }
  }
  for (let j = 0; j < elementBytes; j++) {
    const plane = planes[j]!;
    for (let lane = groups * 4, k = lane * elementBytes + j; lane < lanes; lane++, k += elementBytes) out[k] = plane[lane]!;
  }
  out.set(planes[elementBytes - 1]!.subarray(lanes), lanes * elementBytes);
  return out;
}

/** Order-0 entropy of a byte histogram, in bits per byte. */
function entropyBits(counts: Uint32Array): number {
  let n = 0;
  for (let v = 0; v < 256; v++) n += counts[v]!;
  if (n === 0) return 0;
  let bits = 0;
  for (let v = 0; v < 256; v++) {
    const count = counts[v]!;
    if (count > 0) bits -= (count / n) * Math.log2(count / n);
  }
  return bits;
}

/**
 * Mean order-0 entropy of the sample's planes for each element size of shuffleElementSizes, as fractions
 * of 8 bits, from one pass over the sample (a histogram per position mod 8, summed per plane); four
 * passes were ~4% of an edge's CPU while it packed an image (bench --cpu-prof).
 */
export function planesEntropyRatios(sample: Uint8Array): Record<number, number> {
  const byPosition = new Uint32Array(8 * 256);
  for (let i = 0; i < sample.byteLength; i++) byPosition[((i & 7) << 8) | sample[i]!]!++;
  const ratios: Record<number, number> = {};
  const plane = new Uint32Array(256);
  for (const size of shuffleElementSizes) {
    let bits = 0;
    for (let j = 0; j < size; j++) {
      plane.fill(0);
      for (let k = j; k < 8; k += size) {
        const base = k << 8;
        for (let v = 0; v < 256; v++) plane[v]! += byPosition[base + v]!;
      }
      bits += entropyBits(plane);
    }
    ratios[size] = bits / size / 8;
  }
  return ratios;
}

/**
 * Guesses the element size from a sample: sizes are tried in ascending order and a larger one is taken
 * only when its planes' summed order-0 entropy beats the current choice by `minGainRatio` (finer planes
 * never have more entropy, so a small gain is noise or a multiple of the true size; and structured data
 * such as text compresses by matches, which order-0 entropy does not see). Returns the size and the
 * estimated entropy ratio (bits / 8 per byte) for the policy, and that ratio for every size.
 */
export function detectElementBytes(sample: Uint8Array, minGainRatio = 0.05): { elementBytes: number; entropyRatio: number; ratios: Record<number, number> } {
  const ratios = planesEntropyRatios(sample);
  let best = { elementBytes: 1, entropyRatio: ratios[1]! };
  for (const size of shuffleElementSizes) {
    if (size === 1 || sample.byteLength < size * 64) continue;
    const ratio = ratios[size]!;
    if (ratio < best.entropyRatio * (1 - minGainRatio)) best = { elementBytes: size, entropyRatio: ratio };
  }
  return { ...best, ratios };
}

const dtypeElementBytes: Record<string, number> = {
  int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2, float16: 2, int32: 4, uint32: 4, float32: 4,
  int64: 8, uint64: 8, float64: 8, complex64: 4, complex128: 8,
};
const rdtypeKey = Buffer.from([0xa7, ...Buffer.from('_rdtype', 'ascii')]); // msgpack fixstr "_rdtype"

/**
 * The element size hypha's `_rdtype` announces in a message (numpy arrays travel as
 * {_rtype: "ndarray", _rvalue: bin, _rshape, _rdtype}), or undefined. A scan of the bytes, not a decode:
 * a hint only, so a false match costs ratio, never correctness.
 */
export function elementBytesFromRdtype(message: Uint8Array): number | undefined {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const at = bytes.indexOf(rdtypeKey);
  if (at < 0) return undefined;
  const header = bytes[at + rdtypeKey.byteLength];
  if (header === undefined || (header & 0xe0) !== 0xa0) return undefined; // a fixstr value
  const start = at + rdtypeKey.byteLength + 1;
  const dtype = bytes.toString('latin1', start, Math.min(bytes.byteLength, start + (header & 0x1f)));
  return dtypeElementBytes[dtype.replace(/^[<>|=]/, '')];
}
