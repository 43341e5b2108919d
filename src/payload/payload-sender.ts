// Sending half of a payload endpoint: turns a blob into frames (SHM reference, or MANIFEST plus the
// CHUNK bodies the peer is not believed to hold, compressed as the policy decides), keeps what the
// peer may NACK until it ACKs (bounded), and answers NACKs; a chunk held by neither side yields FAIL.

import { chunkBoundariesCooperative } from './gear-chunker.js';
import { hashWholeBlob } from './chunk-hash.js';
import { chooseCodec, type LinkEstimate } from './codec-policy.js';
import { UnitPacker, type UnitPlan } from './unit-packer.js';
import { PayloadError, PayloadErrorCode } from './payload-error.js';
import type { PayloadPair } from './payload-pair.js';
import type { BlobOutcome } from '../events.js';
import {
  ChunkCodec, encodeChunk, encodeFail, encodeManifest, encodeShm, type ChunkCodecId, type ManifestEntry,
} from './payload-wire.js';
import type { ShmChannel } from './shm-segments.js';

export type EmitFrame = (frame: Uint8Array) => void;
export type YieldTurn = () => Promise<void>;

interface CompressionPlan {
  codec: ChunkCodecId;
  /** Set when new chunks travel packed in units. */
  unit?: UnitPlan;
}

interface PinnedBlob {
  chunks: Map<bigint, Uint8Array>; // views of the caller's blob
  pinnedBytes: number;
  codec: ChunkCodecId;
  shmSegment?: string;
}

export class PayloadSender {
  private nextBlobId = 1;
  private readonly pins = new Map<number, PinnedBlob>(); // insertion order = age
  private pinnedBytes = 0;
  private link: LinkEstimate;
  private readonly units: UnitPacker;

  constructor(
    private readonly pair: PayloadPair,
    private readonly emit: EmitFrame,
    private readonly yieldTurn: YieldTurn,
    private readonly shm: ShmChannel | undefined,
  ) {
    this.link = pair.options.initialLinkEstimate;
    this.units = new UnitPacker(pair, emit);
  }

  setLinkEstimate(link: LinkEstimate): void {
    this.link = link;
  }

  get pinnedBlobCount(): number {
    return this.pins.size;
  }

  /**
   * Emits the frames of `bytes` and resolves with its blob id once the last one was emitted.
   * The caller must not mutate `bytes` until the peer ACKs (the sender keeps views for NACKs).
   */
  async sendBlob(bytes: Uint8Array, outcome?: BlobOutcome): Promise<number> {
    const { options, metrics } = this.pair;
    if (bytes.byteLength > options.maxBlobBytes) {
      throw new PayloadError(PayloadErrorCode.blobTooLarge, `blob of ${bytes.byteLength} bytes above maxBlobBytes ${options.maxBlobBytes}`);
    }
    const blobId = this.nextBlobId;
    this.nextBlobId = (this.nextBlobId + 1) >>> 0 || 1;
    metrics.blobsSent++;
    metrics.blobBytesSent += bytes.byteLength;
    if (outcome) outcome.rawBytes = bytes.byteLength;
    if (this.shm && bytes.byteLength >= options.shmThresholdBytes && (await this.trySendShm(blobId, bytes))) {
      if (outcome) outcome.shm = true;
      return blobId;
    }
    await this.sendChunked(blobId, bytes, outcome);
    return blobId;
  }

  private async trySendShm(blobId: number, bytes: Uint8Array): Promise<boolean> {
    const { metrics, hasher } = this.pair;
    const segmentName = await this.shm!.write(bytes);
    if (segmentName === null) {
      metrics.shmFallbacks++;
      return false;
    }
    this.pin(blobId, { chunks: new Map(), pinnedBytes: 0, codec: ChunkCodec.none, shmSegment: segmentName });
    this.emit(encodeShm({ blobId, totalBytes: bytes.byteLength, wholeHash: hashWholeBlob(hasher, bytes), segmentName }));
    metrics.shmBlobsSent++;
    metrics.shmBytesSent += bytes.byteLength;
    return true;
  }

  private async sendChunked(blobId: number, bytes: Uint8Array, outcome: BlobOutcome | undefined): Promise<void> {
    const { options, metrics, hasher, store, peerHolds } = this.pair;
    const cuts = await chunkBoundariesCooperative(bytes, options.chunking, options.cooperativeSliceBytes, this.yieldTurn);
    const entries: ManifestEntry[] = [];
    const inlineViews: Uint8Array[] = [];
    const inlineEntryIndex: number[] = [];
    const pinned: PinnedBlob = { chunks: new Map(), pinnedBytes: bytes.byteLength, codec: ChunkCodec.none };
    const wholeHash = hasher.wholeBlob();
    let start = 0;
    let hashedSinceYield = 0;
    for (const end of cuts) {
      const view = bytes.subarray(start, end);
      start = end;
      wholeHash.update(view);
      const hash = hasher.hash(view);
      const firstInBlob = !pinned.chunks.has(hash);
      const inline = firstInBlob && !(options.dedupeEnabled && peerHolds.has(hash));
      entries.push({ hash, rawBytes: view.byteLength, inline });
      metrics.chunksSent++;
      if (inline) {
        inlineViews.push(view);
        inlineEntryIndex.push(entries.length - 1);
        metrics.inlineRawBytes += view.byteLength;
      } else {
        metrics.chunksDeduped++;
        metrics.bytesDeduped += view.byteLength;
        if (outcome) outcome.dedupedBytes += view.byteLength;
      }
      if (firstInBlob) {
        pinned.chunks.set(hash, view);
        if (options.dedupeEnabled) {
          peerHolds.add(hash, view.byteLength); // it holds it once this blob's frames arrive
          store.put(hash, view); // crossed the link (in effect): both sides know it now
        }
      }
      hashedSinceYield += view.byteLength;
      if (hashedSinceYield >= options.cooperativeSliceBytes) {
        hashedSinceYield = 0;
        await this.yieldTurn();
      }
    }
    const plan = this.planCompression(bytes, inlineViews);
    pinned.codec = plan.codec;
    this.pin(blobId, pinned);
    this.emit(encodeManifest({ blobId, totalBytes: bytes.byteLength, wholeHash: wholeHash.digest(), entries }));
    const inlineHashes = entries.filter((e) => e.inline).map((e) => e.hash);
    if (plan.unit) {
      await this.units.send(blobId, plan.unit, inlineViews, inlineHashes, inlineEntryIndex, (views, hashes) => this.emitChunks(blobId, ChunkCodec.none, views, hashes, outcome), outcome);
    }
    else await this.emitChunks(blobId, pinned.codec, inlineViews, inlineHashes, outcome);
  }

  /** Asks the policy what pays for this blob's new chunks, and counts the answer. */
  private planCompression(blob: Uint8Array, inlineViews: readonly Uint8Array[]): CompressionPlan {
    const plan = this.pickCodec(blob, inlineViews);
    if (inlineViews.length > 0) {
      const { policyChoices } = this.pair.metrics;
      if (plan.unit) policyChoices.unit++;
      else policyChoices[plan.codec === ChunkCodec.none ? 'none' : plan.codec === ChunkCodec.lz4 ? 'lz4' : 'zstd']++;
    }
    return plan;
  }

  private pickCodec(blob: Uint8Array, inlineViews: readonly Uint8Array[]): CompressionPlan {
    const { options, codecs } = this.pair;
    const inlineBytes = inlineViews.reduce((sum, v) => sum + v.byteLength, 0);
    const none: CompressionPlan = { codec: ChunkCodec.none };
    if (inlineBytes < options.minCompressBytes || (!options.lz4Enabled && !options.zstdEnabled)) return none;
    const useUnits = options.unitEnabled && options.zstdEnabled;
    const step = Math.max(1, Math.floor(inlineViews.length / options.sampleChunks));
    let sampleBytes = 0;
    let lz4Bytes = 0;
    let zstdBytes = 0;
    for (let i = 0; i < inlineViews.length && i / step < options.sampleChunks; i += step) {
      const sample = inlineViews[i]!;
      sampleBytes += sample.byteLength;
      if (options.lz4Enabled) lz4Bytes += codecs.encodeSampleSync(ChunkCodec.lz4, sample);
      if (options.zstdEnabled && !useUnits) zstdBytes += codecs.encodeSampleSync(ChunkCodec.zstd, sample);
    }
    const unit = useUnits ? this.units.candidate(blob, inlineViews, this.link) : undefined;
    const choice = chooseCodec({
      blobBytes: inlineBytes,
      lz4Ratio: options.lz4Enabled ? lz4Bytes / sampleBytes : undefined,
      zstdRatio: options.zstdEnabled && !useUnits ? zstdBytes / sampleBytes : undefined,
      link: this.link,
      speeds: this.pair.codecSpeeds,
      encodeParallelism: 1,
      marginRatio: options.policyMarginRatio,
      ...(unit ? { unit: { ratio: unit.ratio, speed: this.pair.unitSpeeds[unit.zstdLevel]! } } : {}),
    });
    this.pair.metrics.policyLinkBytesPerUs = choice.linkBytesPerUs;
    this.pair.metrics.policySavedBytesPerCpuUs = choice.savedBytesPerCpuUs;
    if (choice.unit && unit) return { codec: choice.codec, unit: { elementBytes: unit.elementBytes, zstdLevel: unit.zstdLevel, ...(unit.blobByteOffset === undefined ? {} : { blobByteOffset: unit.blobByteOffset }) } };
    return { codec: choice.codec };
  }

  /** Encodes in batches (off the event loop), emitting in order; a chunk that does not shrink goes raw. */
  private async emitChunks(blobId: number, codec: ChunkCodecId, views: readonly Uint8Array[], hashes: readonly bigint[], outcome?: BlobOutcome): Promise<void> {
    const { options, codecs, metrics } = this.pair;
    const batches: Array<[number, number]> = [];
    for (let first = 0, batchBytes = 0, i = 0; i < views.length; i++) {
      batchBytes += views[i]!.byteLength;
      if (batchBytes >= options.encodeBatchBytes || i === views.length - 1) {
        batches.push([first, i + 1]);
        first = i + 1;
        batchBytes = 0;
      }
    }
    const inFlight: Array<Promise<Uint8Array[]>> = [];
    let next = 0;
    const launch = (): void => {
      const [from, to] = batches[next++]!;
      const batch = views.slice(from, to);
      // An encoder failure (e.g. a crashed worker) must not strand the peer: send that batch raw.
      inFlight.push(codecs.encodeBatch(codec, batch).catch(() => batch));
    };
    const startedMs = options.nowMs();
    while (next < batches.length && inFlight.length < options.encodeTasksInFlight) launch();
    for (const [from] of batches) {
      const bodies = await inFlight.shift()!;
      if (next < batches.length) launch();
      bodies.forEach((body, k) => {
        const raw = views[from + k]!;
        const useRaw = codec === ChunkCodec.none || body.byteLength >= raw.byteLength;
        const sentCodec = useRaw ? ChunkCodec.none : codec;
        const sentBody = useRaw ? raw : body;
        metrics.chunksByCodec[sentCodec === ChunkCodec.none ? 'none' : sentCodec === ChunkCodec.lz4 ? 'lz4' : 'zstd']++;
        metrics.inlineWireBytes += sentBody.byteLength;
        if (outcome) outcome.wireBytes += sentBody.byteLength;
        this.emit(encodeChunk({ blobId, hash: hashes[from + k]!, codec: sentCodec, rawBytes: raw.byteLength, body: sentBody }));
      });
    }
    if (codec !== ChunkCodec.none) {
      const rawBytes = views.reduce((sum, v) => sum + v.byteLength, 0);
      this.pair.observeCodecSpeed(codec === ChunkCodec.lz4 ? 'lz4' : 'zstd', 'encode', rawBytes, options.nowMs() - startedMs);
    }
  }

  private pin(blobId: number, pinned: PinnedBlob): void {
    this.pins.set(blobId, pinned);
    this.pinnedBytes += pinned.pinnedBytes;
    for (const [oldId, old] of this.pins) {
      if (this.pinnedBytes <= this.pair.options.maxPinnedBytes || oldId === blobId) break;
      // Drop the bytes but keep the entry: NACKs can still be served from the store.
      this.pinnedBytes -= old.pinnedBytes;
      old.pinnedBytes = 0;
      old.chunks = new Map([...old.chunks.keys()].map((hash) => [hash, new Uint8Array(0)]));
    }
  }

  /** The peer finished (delivered or failed) the blob: release what was kept for it. */
  handleAck(blobId: number): void {
    const pinned = this.pins.get(blobId);
    if (!pinned) return;
    this.pins.delete(blobId);
    this.pinnedBytes -= pinned.pinnedBytes;
    if (pinned.shmSegment) void this.shm?.release(pinned.shmSegment);
  }

  /** Resends what the peer lacks; FAIL when the blob is unknown or a chunk is held nowhere. */
  async handleNack(blobId: number, hashes: readonly bigint[]): Promise<void> {
    const { metrics, store, peerHolds } = this.pair;
    metrics.nacksReceived++;
    const pinned = this.pins.get(blobId);
    const views: Uint8Array[] = [];
    for (const hash of hashes) {
      const held = pinned?.chunks.get(hash);
      const bytes = held && held.byteLength > 0 ? held : pinned?.chunks.has(hash) ? store.get(hash) : undefined;
      peerHolds.forget(hash);
      if (!bytes) {
        metrics.chunksUnavailable++;
        this.emit(encodeFail(blobId, PayloadErrorCode.chunkUnavailable));
        return;
      }
      views.push(bytes);
    }
    metrics.chunksResent += views.length;
    await this.emitChunks(blobId, pinned?.codec ?? ChunkCodec.none, views, hashes);
    for (let i = 0; i < hashes.length; i++) peerHolds.add(hashes[i]!, views[i]!.byteLength);
  }

  /** Drops every pin (the pair was reset); SHM segments are released. */
  close(): void {
    for (const blobId of [...this.pins.keys()]) this.handleAck(blobId);
  }
}
