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

/** Shuffles the concatenation of `pieces` (one logical buffer) into planes of `elementBytes`. */
export function shuffle(pieces: readonly Uint8Array[], totalBytes: number, elementBytes: number): Uint8Array {
  let flat: Uint8Array;
  if (pieces.length === 1 && pieces[0]!.byteLength === totalBytes) flat = pieces[0]!;
  else {
    flat = new Uint8Array(totalBytes);
    let offset = 0;
    for (const piece of pieces) {
      flat.set(piece, offset);
      offset += piece.byteLength;
    }
  }
  if (elementBytes === 1) return flat;
  const lanes = Math.floor(totalBytes / elementBytes);
  const out = new Uint8Array(totalBytes);
  for (let j = 0; j < elementBytes; j++) {
    const base = j * lanes;
    for (let lane = 0, k = j; lane < lanes; lane++, k += elementBytes) out[base + lane] = flat[k]!;
  }
  out.set(flat.subarray(lanes * elementBytes), lanes * elementBytes);
  return out;
}

/** Inverse of shuffle: planes back to elements, into a fresh buffer. */
export function unshuffle(planes: Uint8Array, elementBytes: number): Uint8Array {
  if (elementBytes === 1) return planes;
  const totalBytes = planes.byteLength;
  const lanes = Math.floor(totalBytes / elementBytes);
  const out = new Uint8Array(totalBytes);
  for (let j = 0; j < elementBytes; j++) {
    const base = j * lanes;
    for (let lane = 0, k = j; lane < lanes; lane++, k += elementBytes) out[k] = planes[base + lane]!;
  }
  out.set(planes.subarray(lanes * elementBytes), lanes * elementBytes);
  return out;
}

/** Order-0 entropy of `bytes` taken every `stride` from `start`, in bits per byte. */
function entropyBits(bytes: Uint8Array, start: number, stride: number): number {
  const counts = new Uint32Array(256);
  let n = 0;
  for (let i = start; i < bytes.byteLength; i += stride, n++) counts[bytes[i]!]!++;
  if (n === 0) return 0;
  let bits = 0;
  for (const count of counts) if (count > 0) bits -= (count / n) * Math.log2(count / n);
  return bits;
}

/** Mean order-0 entropy of the sample's planes at `elementBytes`, as a fraction of 8 bits. */
export function planesEntropyRatio(sample: Uint8Array, elementBytes: number): number {
  let bits = 0;
  for (let j = 0; j < elementBytes; j++) bits += entropyBits(sample, j, elementBytes);
  return bits / elementBytes / 8;
}

/**
 * Guesses the element size from a sample: sizes are tried in ascending order and a larger one is taken
 * only when its planes' summed order-0 entropy beats the current choice by `minGainRatio` (finer planes
 * never have more entropy, so a small gain is noise or a multiple of the true size; and structured data
 * such as text compresses by matches, which order-0 entropy does not see). Returns the size and the
 * estimated entropy ratio (bits / 8 per byte) for the policy.
 */
export function detectElementBytes(sample: Uint8Array, minGainRatio = 0.05): { elementBytes: number; entropyRatio: number } {
  let best = { elementBytes: 1, entropyRatio: planesEntropyRatio(sample, 1) };
  for (const size of shuffleElementSizes) {
    if (size === 1 || sample.byteLength < size * 64) continue;
    const ratio = planesEntropyRatio(sample, size);
    if (ratio < best.entropyRatio * (1 - minGainRatio)) best = { elementBytes: size, entropyRatio: ratio };
  }
  return best;
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
