// Compression of one UNIT: a run of new chunks packed as one buffer, optionally byte-shuffled into planes,
// each plane coded with whichever of zstd (at the policy's level) or Huffman-only deflate is smaller, or
// kept raw. Small units are coded on the calling thread, large ones on the libuv threadpool; decoding is
// bounded by the announced sizes.
//
// body = planeCount x (codec u8, bodyBytes u32) | plane bodies in order; planeCount = elementBytes.
// One plane may instead be `split` by another plane's zeros (plane-split.ts; payload-v3), and a mostly-zero
// plane `masked`: a bit mask and its non-zero bytes (plane-mask.ts; payload-v4).

import { constants as zlibConstants } from 'node:zlib';
import { planeBytes, shufflePlanes, unshufflePlanes } from './byte-shuffle.js';
import { PayloadError, PayloadErrorCode } from './payload-error.js';
import { decodeSplit, encodeSplit, splitAligned, splitBodyContext, splitContextPlane, splitTarget } from './plane-split.js';
import { decodeMasked, encodeMasked, worthMasking } from './plane-mask.js';
import { huffmanDecode, huffmanEncode, zstdDecode, zstdEncode } from './zlib-calls.js';

export const PlaneCodec = { raw: 0, zstd: 1, huffman: 2, split: 3, masked: 4 } as const;
export type PlaneCodecId = (typeof PlaneCodec)[keyof typeof PlaneCodec];
const planeEntryBytes = 5;

/** Planes at least this large get zstd's long-distance matching (smaller ones fit its default window). */
export const ldmMinPlaneBytes = 8 * 1024 * 1024;

export interface UnitEncodeOptions {
  elementBytes: number;
  zstdLevel: number;
  /**
   * Per plane, the codec that won it in the last unit that tried them all (UnitPacker keeps these per
   * element byte): only that codec is run (raw: none; a split or masked plane falls back to the plain
   * codings if it cannot be coded that way). Absent, or undefined for a plane: try every codec. On the
   * bench image the low plane's Huffman and zstd were computed and thrown away in every unit (the split
   * won), as were the top plane's (masked won).
   */
  planeHints?: readonly (PlaneCodecId | undefined)[];
  /** Per plane hinted zstd, the level that won it there (at most zstdLevel); default zstdLevel. */
  planeLevels?: readonly (number | undefined)[];
  /** false: never split the low plane by the top plane (plane-split.ts); default: try it where it may pay. */
  trySplit?: boolean;
  /**
   * The peer decodes payload-v4 bodies: a split pairs each low byte with its own element's top byte at any
   * unit phase (plane-split.ts), and mostly-zero planes may be `masked` (plane-mask.ts).
   */
  payloadV4?: boolean;
  /**
   * Units up to this size are coded on the calling thread, in one event-loop turn of their own (~3 ms for
   * a 256 KiB message_cache slice, within what the chunker takes per turn); larger ones plane by plane on
   * the threadpool. Default syncUnitMaxBytes.
   */
  syncUnitMaxBytes?: number;
}

/** A message_cache slice (256 KiB) with its hypha envelope: coded synchronously (zlib-calls.ts says why). */
export const syncUnitMaxBytes = 256 * 1024 + 4096;

export interface EncodedUnit {
  body: Uint8Array;
  /** Bytes per plane codec, for metrics. */
  planeCodecs: PlaneCodecId[];
  /** Each plane's coded size and its raw size (what its codec saved). */
  planeSizes: Array<{ coded: number; raw: number }>;
  /** Each zstd plane's level (0 for the others). */
  planeLevels: number[];
}

/** The largest body a unit of `rawBytes` in `elementBytes` planes may have (raw planes plus the table). */
export function maxUnitBodyBytes(rawBytes: number, elementBytes: number): number {
  return rawBytes + elementBytes * planeEntryBytes;
}

/** Extra zstd parameters for a plane of `planeRawBytes`: long-distance matching for large planes. */
function zstdParamsFor(planeRawBytes: number): Record<number, number> {
  if (planeRawBytes < ldmMinPlaneBytes) return {};
  return {
    [zlibConstants.ZSTD_c_enableLongDistanceMatching]: 1,
    [zlibConstants.ZSTD_c_windowLog]: Math.min(27, Math.ceil(Math.log2(planeRawBytes))),
  };
}

/** Planes Huffman leaves at or above this fraction of their size are not tried with zstd. */
const zstdSkipHuffmanRatio = 0.9;
/** zstd at the policy's level is tried only where level 1 came within this factor of Huffman's size. */
const zstdLevelTryRatio = 1.1;

/** A plane's codec and body, and the zstd level of a zstd body. */
type CodedPlane = [PlaneCodecId, Uint8Array, number?];

/** Packs `pieces` (their concatenation is the unit) into one unit body, off the event loop. */
export async function encodeUnit(pieces: readonly Uint8Array[], rawBytes: number, options: UnitEncodeOptions): Promise<EncodedUnit> {
  const { elementBytes, planeHints } = options;
  const sync = rawBytes <= (options.syncUnitMaxBytes ?? syncUnitMaxBytes);
  if (sync) await new Promise<void>((resolve) => setImmediate(resolve)); // a turn of its own
  const planes = shufflePlanes(pieces, rawBytes, elementBytes);
  // The low plane split by the top plane's zeros, tried beside the plain codings (unless the hints say it lost).
  let context = options.trySplit !== false ? splitContextPlane(planes) : undefined;
  if (context !== undefined && planeHints && planeHints[splitTarget(context, elementBytes)] !== PlaneCodec.split) context = undefined;
  const target = context === undefined ? -1 : splitTarget(context, elementBytes);
  const split = context === undefined ? undefined : encodeSplit(planes[target]!, planes[context]!, context, options.payloadV4 === true
    ? { aligned: splitAligned(context, target), range: arrayRange(arraySpan(pieces[0]!, rawBytes), context, target, elementBytes), sync }
    : { sync }).catch(() => undefined);
  const coded = await Promise.all(planes.map(async (plane, j): Promise<CodedPlane> => {
    if (plane.byteLength === 0) return [PlaneCodec.raw, plane];
    const hint = planeHints?.[j];
    if (hint === PlaneCodec.raw) return [PlaneCodec.raw, plane];
    if (hint === PlaneCodec.split && j === target) {
      const splitBody = await split;
      if (splitBody && splitBody.byteLength < plane.byteLength) return [PlaneCodec.split, splitBody];
      return codePlain(plane, undefined, j);
    }
    const mayMask = options.payloadV4 === true && (hint === undefined || hint === PlaneCodec.masked) && worthMasking(plane);
    const masked = mayMask ? encodeMasked(plane, sync).catch(() => undefined) : undefined;
    // Hinted masked: the plain codings run only if the masked one fails.
    let best: CodedPlane = hint === PlaneCodec.masked && masked ? [PlaneCodec.raw, plane] : await codePlain(plane, hint, j);
    const maskedBody = await masked;
    if (maskedBody && maskedBody.byteLength < best[1].byteLength) best = [PlaneCodec.masked, maskedBody];
    else if (hint === PlaneCodec.masked && masked && !maskedBody) best = await codePlain(plane, undefined, j);
    return best;
  }));
  async function codePlain(plane: Uint8Array, hint: PlaneCodecId | undefined, j: number): Promise<CodedPlane> {
    const raw: CodedPlane = [PlaneCodec.raw, plane];
    if (hint === PlaneCodec.zstd) {
      const level = Math.min(options.zstdLevel, options.planeLevels?.[j] ?? options.zstdLevel);
      const zstd = await zstdEncode(plane, level, zstdParamsFor(plane.byteLength), sync);
      return zstd.byteLength < plane.byteLength ? [PlaneCodec.zstd, zstd, level] : raw;
    }
    // Huffman first (cheap): a plane it cannot shrink below 90% is near-random (float mantissas, noise),
    // where zstd finds no matches either, so zstd is spent only on planes with structure.
    const huffman = await huffmanEncode(plane, sync);
    let best = huffman.byteLength < plane.byteLength ? [PlaneCodec.huffman, huffman] as CodedPlane : raw;
    if (huffman.byteLength >= plane.byteLength * zstdSkipHuffmanRatio || hint === PlaneCodec.huffman) return best;
    // zstd level 1 first: a higher level is run only where level 1 came close to the best, since it finds
    // the same kind of matches (bench image's low plane: level 1 60164 B, level 9 58985, Huffman 52504; level
    // 9 took 6.2 ms of a probe unit's ~9).
    const params = zstdParamsFor(plane.byteLength);
    const quick = await zstdEncode(plane, 1, params, sync);
    const huffmanBest = best[1].byteLength;
    if (quick.byteLength < best[1].byteLength) best = [PlaneCodec.zstd, quick, 1];
    if (options.zstdLevel <= 1 || quick.byteLength > huffmanBest * zstdLevelTryRatio) return best;
    const zstd = await zstdEncode(plane, options.zstdLevel, params, sync);
    if (zstd.byteLength < best[1].byteLength) best = [PlaneCodec.zstd, zstd, options.zstdLevel];
    return best;
  }
  if (target >= 0 && coded[target]![0] !== PlaneCodec.split) {
    const splitBody = await split;
    if (splitBody && splitBody.byteLength < coded[target]![1].byteLength) coded[target] = [PlaneCodec.split, splitBody];
  }
  const tableBytes = elementBytes * planeEntryBytes;
  const body = new Uint8Array(tableBytes + coded.reduce((sum, [, b]) => sum + b.byteLength, 0));
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = tableBytes;
  coded.forEach(([codec, bytes], j) => {
    view.setUint8(j * planeEntryBytes, codec);
    view.setUint32(j * planeEntryBytes + 1, bytes.byteLength);
    body.set(bytes, offset);
    offset += bytes.byteLength;
  });
  return { body, planeCodecs: coded.map(([codec]) => codec), planeSizes: coded.map(([, bytes], j) => ({ coded: bytes.byteLength, raw: planes[j]!.byteLength })),
    planeLevels: coded.map(([codec, , level]) => (codec === PlaneCodec.zstd ? level ?? options.zstdLevel : 0)),
  };
}

/** The scan for a unit's array start looks this far into its first piece. */
const arrayStartScanBytes = 4096;

/**
 * The array's bytes in a unit that is a whole hypha message (a message_cache slice with its envelope): the
 * bin of the first msgpack bin32 header (0xc6, u32 length) in its first bytes whose bin ends in the unit's
 * last KiB. undefined when there is none (a unit from the middle of a blob). A guess: it only steers which
 * bytes the split sorts by context (arrayRange), never what is decoded.
 */
export function arraySpan(firstPiece: Uint8Array, rawBytes: number): { start: number; end: number } | undefined {
  const scanEnd = Math.min(firstPiece.byteLength - 5, arrayStartScanBytes);
  for (let at = 0; at < scanEnd; at++) {
    if (firstPiece[at] !== 0xc6) continue;
    const length = ((firstPiece[at + 1]! << 24) | (firstPiece[at + 2]! << 16) | (firstPiece[at + 3]! << 8) | firstPiece[at + 4]!) >>> 0;
    const end = at + 5 + length;
    if (end <= rawBytes && end >= rawBytes - 1024) return { start: at + 5, end };
  }
  return undefined;
}

/**
 * The paired positions of a split whose low byte (plane `target`) and top byte (plane `context`, one element
 * later when aligned) both lie in the array's span; undefined: all of them.
 */
function arrayRange(span: { start: number; end: number } | undefined, context: number, target: number, elementBytes: number): { from: number; to: number } | undefined {
  if (!span) return undefined;
  const shift = splitAligned(context, target) ? elementBytes : 0;
  const from = span.start > target ? Math.ceil((span.start - target) / elementBytes) : 0;
  const to = Math.max(from, Math.ceil((span.end - context - shift) / elementBytes));
  return { from, to };
}

function decodeFailed(message: string, cause?: unknown): PayloadError {
  return new PayloadError(PayloadErrorCode.decodeFailed, `unit decode: ${message}`, cause === undefined ? undefined : { cause });
}

/**
 * Decodes a unit body to exactly `rawBytes` bytes (a fresh buffer) or throws DECODE_FAILED. Every plane's
 * size comes from `rawBytes` (checked by the caller against the manifest), never from the body, and each
 * decoder is capped at it with maxOutputLength.
 */
export function decodeUnit(body: Uint8Array, rawBytes: number, elementBytes: number): Uint8Array {
  const tableBytes = elementBytes * planeEntryBytes;
  if (body.byteLength < tableBytes) throw decodeFailed('body shorter than its plane table');
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const sizes = planeBytes(rawBytes, elementBytes);
  const planes: Uint8Array[] = [];
  const entries: Array<{ codec: number; coded: Uint8Array }> = [];
  let bodyOffset = tableBytes;
  for (let j = 0; j < elementBytes; j++) {
    const codec = view.getUint8(j * planeEntryBytes);
    const codedBytes = view.getUint32(j * planeEntryBytes + 1);
    if (codedBytes > body.byteLength - bodyOffset) throw decodeFailed(`plane ${j} body of ${codedBytes} bytes past the end`);
    entries.push({ codec, coded: body.subarray(bodyOffset, bodyOffset + codedBytes) });
    bodyOffset += codedBytes;
  }
  // A split plane needs its context plane first: decode the others, then it (at most one plane is split).
  const split = entries.findIndex((entry) => entry.codec === PlaneCodec.split);
  const order = [...entries.keys()].filter((j) => j !== split);
  if (split >= 0) order.push(split);
  for (const j of order) {
    const { codec, coded } = entries[j]!;
    const planeRaw = sizes[j]!;
    let plane: Uint8Array;
    try {
      if (codec === PlaneCodec.raw) plane = coded;
      else if (planeRaw === 0) throw new Error('coded empty plane');
      else if (codec === PlaneCodec.zstd) plane = zstdDecode(coded, planeRaw);
      else if (codec === PlaneCodec.huffman) plane = huffmanDecode(coded, planeRaw);
      else if (codec === PlaneCodec.masked) plane = decodeMasked(coded, planeRaw);
      else if (codec === PlaneCodec.split && entries.filter((entry) => entry.codec === PlaneCodec.split).length === 1) {
        const context = splitBodyContext(coded);
        if (context >= elementBytes || context === j) throw new Error(`split plane ${j} names context plane ${context}`);
        plane = decodeSplit(coded, planes[context]!, planeRaw);
      } else throw new Error(`unknown plane codec ${codec}`);
    } catch (error) {
      throw decodeFailed(`plane ${j}: ${(error as Error).message}`, error);
    }
    if (plane.byteLength !== planeRaw) throw decodeFailed(`plane ${j} gave ${plane.byteLength} bytes, expected ${planeRaw}`);
    planes[j] = plane;
  }
  if (bodyOffset !== body.byteLength) throw decodeFailed(`${body.byteLength - bodyOffset} trailing bytes`);
  // A raw single plane is a view of the body: the caller gets a buffer of its own, as from every other path.
  if (elementBytes === 1 && entries[0]!.codec === PlaneCodec.raw) return planes[0]!.slice();
  return unshufflePlanes(planes, elementBytes);
}
