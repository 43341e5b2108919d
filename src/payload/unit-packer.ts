// Packs a blob's new chunks into UNIT frames (payload-v2): proposes the unit candidate to the policy
// (element size from `_rdtype` or a sample, estimated ratio, zstd level for the link), encodes units with
// several in flight (unit-codec.ts: small ones in event-loop turns of their own, large ones on the
// threadpool), remembers which codec wins each plane, and learns level speeds.

import { chooseUnitLevel, type LinkEstimate } from './codec-policy.js';
import { detectElementBytes, elementBytesFromRdtype } from './byte-shuffle.js';
import { encodeUnit, PlaneCodec, type EncodedUnit, type PlaneCodecId } from './unit-codec.js';
import { encodeUnitPiece } from './payload-wire.js';
import type { PayloadPair } from './payload-pair.js';
import type { EmitFrame } from './payload-sender.js';

/** Metric key of each plane codec. */
const PLANE_CODEC_NAMES: Record<number, 'raw' | 'zstd' | 'huffman' | 'split' | 'masked'> = {
  [PlaneCodec.raw]: 'raw', [PlaneCodec.zstd]: 'zstd', [PlaneCodec.huffman]: 'huffman', [PlaneCodec.split]: 'split', [PlaneCodec.masked]: 'masked',
};

/** Between probes, a plane whose codec saved less than this share of it is sent raw. */
const minPlaneSaving = 0.01;

export interface UnitPlan {
  elementBytes: number;
  zstdLevel: number;
  /** Where the blob starts in its buffer: a unit's element phase is its first view's offset from it. */
  blobByteOffset?: number;
}
export interface UnitCandidate extends UnitPlan {
  /** Estimated unit bytes / raw bytes. */
  ratio: number;
}

export class UnitPacker {
  /** Per element size: the codec that won each element byte in the last unit that tried them all, and units since. */
  private readonly planeHistory = new Map<number, { winners: PlaneCodecId[]; levels: number[]; unitsSinceProbe: number }>();
  /**
   * Encode throughput of the packer as a whole: raw bytes finished and the time during which at least one
   * unit was encoding (several run at once, of one blob or of concurrent blobs: timing each unit from launch
   * to result would count the same second once per unit in flight).
   */
  private readonly busy = { rawBytes: 0, elapsedMs: 0, encoding: 0, sinceMs: 0 };

  constructor(private readonly pair: PayloadPair, private readonly emit: EmitFrame) {}

  /**
   * Element size (hypha's `_rdtype` when the blob carries it, else guessed from a sample), the unit's
   * estimated ratio (order-0 entropy of the sample's planes, plus a margin for headers) and its zstd level.
   */
  candidate(blob: Uint8Array, inlineViews: readonly Uint8Array[], link: LinkEstimate): UnitCandidate {
    const { options, unitSpeeds } = this.pair;
    const sample = sampleOf(inlineViews, options.unitSampleBytes);
    const detected = detectElementBytes(sample);
    const hinted = elementBytesFromRdtype(blob);
    let { elementBytes, entropyRatio } = detected;
    if (hinted !== undefined && hinted !== elementBytes) {
      elementBytes = hinted;
      entropyRatio = detected.ratios[hinted] ?? entropyRatio;
    }
    const ratio = Math.min(1, entropyRatio + 0.01);
    return { elementBytes, ratio, zstdLevel: chooseUnitLevel(unitSpeeds, link, ratio, 1), blobByteOffset: blob.byteOffset };
  }

  /** Packs runs of new chunks into units (encoded off the event loop, several in flight), emitted in order. */
  async send(
    blobId: number, plan: UnitPlan, views: readonly Uint8Array[], hashes: readonly bigint[], entryIndex: readonly number[],
    sendRaw: (views: readonly Uint8Array[], hashes: readonly bigint[]) => Promise<void>,
    outcome?: { wireBytes: number },
  ): Promise<void> {
    const { options, metrics } = this.pair;
    const units: Array<[number, number, number]> = []; // [from, to) over views, rawBytes
    for (let first = 0, unitBytes = 0, i = 0; i < views.length; i++) {
      unitBytes += views[i]!.byteLength;
      const last = i === views.length - 1;
      if (last || unitBytes + views[i + 1]!.byteLength > options.compressUnitBytes) {
        units.push([first, i + 1, unitBytes]);
        first = i + 1;
        unitBytes = 0;
      }
    }
    const inFlight: Array<Promise<Uint8Array | undefined>> = [];
    let next = 0;
    const launch = (): void => {
      const [from, to, rawBytes] = units[next++]!;
      const pieces = views.slice(from, to);
      this.encodingChanged(+1);
      // Units start where chunks were cut, often mid-element: plane j holds element byte (j + phase) % size.
      const phase = plan.blobByteOffset === undefined ? 0 : (((pieces[0]!.byteOffset - plan.blobByteOffset) % plan.elementBytes) + plan.elementBytes) % plan.elementBytes;
      // An encoder failure must not strand the peer: that unit goes as raw chunks.
      const hints = this.planeHints(plan.elementBytes, phase);
      inFlight.push(encodeUnit(pieces, rawBytes, { ...plan, payloadV4: options.payloadV4, ...hints }).then((encoded) => {
        this.encodingChanged(-1, plan.zstdLevel, rawBytes);
        this.rememberPlanes(plan.elementBytes, phase, hints !== undefined, encoded);
        for (const codec of encoded.planeCodecs) metrics.unitPlanesByCodec[PLANE_CODEC_NAMES[codec] ?? 'huffman']++;
        return encoded.body;
      }, () => {
        this.encodingChanged(-1);
        return undefined;
      }));
    };
    while (next < units.length && inFlight.length < options.encodeTasksInFlight) launch();
    for (const [from, to, rawBytes] of units) {
      const body = await inFlight.shift()!;
      if (next < units.length) launch();
      if (body === undefined || body.byteLength >= rawBytes) {
        metrics.unitsFallenBackRaw++;
        await sendRaw(views.slice(from, to), hashes.slice(from, to));
        continue;
      }
      const firstEntry = entryIndex[from]!;
      const entryCount = entryIndex[to - 1]! - firstEntry + 1;
      for (let offset = 0; offset < body.byteLength; offset += options.unitPieceBytes) {
        const piece = body.subarray(offset, Math.min(body.byteLength, offset + options.unitPieceBytes));
        this.emit(encodeUnitPiece({ blobId, firstEntry, entryCount, rawBytes, elementBytes: plan.elementBytes, bodyBytes: body.byteLength, pieceOffset: offset, piece }));
      }
      metrics.unitsSent++;
      metrics.unitRawBytes += rawBytes;
      metrics.unitWireBytes += body.byteLength;
      metrics.inlineWireBytes += body.byteLength;
      if (outcome) outcome.wireBytes += body.byteLength;
      metrics.unitsByElementBytes[`e${plan.elementBytes}` as 'e1' | 'e2' | 'e4' | 'e8']++;
      metrics.unitLevel = plan.zstdLevel;
    }
  }

  /**
   * Each plane runs only the codec that won its element byte in the last unit that tried them all, except
   * every 8th unit, which tries every codec again (the data may have changed). undefined: try all. On data
   * whose winners do not change (the bench's arrays) the bytes are those of trying all (docs/payload.md).
   */
  private planeHints(elementBytes: number, phase: number): { planeHints: PlaneCodecId[]; planeLevels: number[] } | undefined {
    const history = this.planeHistory.get(elementBytes);
    if (!history || ++history.unitsSinceProbe >= 8) return undefined;
    return {
      planeHints: history.winners.map((_, j) => history.winners[(j + phase) % elementBytes]!),
      planeLevels: history.levels.map((_, j) => history.levels[(j + phase) % elementBytes]!),
    };
  }

  /**
   * Remembered per element byte (not per plane index, which shifts with the unit's phase). A codec that
   * saved less than `minPlaneSaving` of its plane is remembered as raw: float32 weights' lowest mantissa
   * byte, where Huffman saved 0.65% (0.16% of the unit) for a fifth of the unit's coding CPU.
   */
  private rememberPlanes(elementBytes: number, phase: number, hinted: boolean, encoded: EncodedUnit): void {
    if (hinted) return;
    const { planeCodecs, planeSizes, planeLevels } = encoded;
    const kept = planeCodecs.map((codec, j) => (planeSizes[j]!.coded > planeSizes[j]!.raw * (1 - minPlaneSaving) ? PlaneCodec.raw : codec));
    const byElementByte = <T>(perPlane: readonly T[]): T[] => perPlane.map((_, b) => perPlane[(b - phase + elementBytes) % elementBytes]!);
    this.planeHistory.set(elementBytes, { winners: byElementByte(kept), levels: byElementByte(planeLevels), unitsSinceProbe: 0 });
  }

  /**
   * One unit started (+1) or finished (-1) encoding: accumulates busy time, and once minSpeedSampleBytes
   * are timed updates the level's speed (a stream's blobs are often one 256 KiB unit each).
   */
  private encodingChanged(delta: 1 | -1, level?: number, rawBytes = 0): void {
    const nowMs = this.pair.options.nowMs();
    const { busy } = this;
    if (busy.encoding > 0) busy.elapsedMs += nowMs - busy.sinceMs;
    busy.sinceMs = nowMs;
    busy.encoding += delta;
    busy.rawBytes += rawBytes;
    if (level === undefined || busy.rawBytes < this.pair.options.minSpeedSampleBytes) return;
    this.pair.observeUnitSpeed(level, 'encode', busy.rawBytes, busy.elapsedMs);
    busy.rawBytes = 0;
    busy.elapsedMs = 0;
  }

}

/**
 * About `maxBytes` of consecutive views from the middle of `views` (consecutive new chunks are usually
 * adjacent in the blob, so the sample keeps the data's element phase), for estimates.
 */
function sampleOf(views: readonly Uint8Array[], maxBytes: number): Uint8Array {
  const picked: Uint8Array[] = [];
  let bytes = 0;
  for (let i = Math.floor(views.length / 2); i < views.length && bytes < maxBytes; i++) {
    picked.push(views[i]!);
    bytes += views[i]!.byteLength;
  }
  for (let i = Math.floor(views.length / 2) - 1; i >= 0 && bytes < maxBytes; i--) {
    picked.unshift(views[i]!);
    bytes += views[i]!.byteLength;
  }
  return Buffer.concat(picked, Math.min(bytes, maxBytes));
}
