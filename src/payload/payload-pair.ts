// State shared by everything that moves blobs between one edge and one gateway: options, the chunk
// store, the belief about the peer's store, the hasher, the codecs and the metrics. Create one per
// pair on each side; endpoints (one per link, or one for the pair) borrow it. close() ends its workers.

import { ChunkStore, PeerBelief } from './chunk-store.js';
import { createChunkHasher, type ChunkHasher } from './chunk-hash.js';
import { ChunkCodecs } from './chunk-codecs.js';
import { PayloadMetrics } from './payload-metrics.js';
import { resolvePayloadOptions, type PayloadOptions } from './payload-options.js';
import { wireLimitsFor, type PayloadWireLimits } from './payload-wire.js';
import type { CodecSpeed } from './codec-policy.js';

export class PayloadPair {
  readonly options: PayloadOptions;
  readonly store: ChunkStore;
  readonly peerHolds: PeerBelief;
  readonly hasher: ChunkHasher;
  readonly codecs: ChunkCodecs;
  readonly metrics = new PayloadMetrics();
  readonly wireLimits: PayloadWireLimits;
  /** Codec speeds the policy uses: the configured ones, refined by what this pair measures. */
  readonly codecSpeeds: Record<'lz4' | 'zstd', CodecSpeed>;
  /** Packed-unit speeds per zstd level, refined by what this pair measures. */
  readonly unitSpeeds: Record<number, CodecSpeed>;

  constructor(options: Partial<PayloadOptions> = {}) {
    this.options = resolvePayloadOptions(options);
    this.store = new ChunkStore(this.options.storeBytes);
    this.peerHolds = new PeerBelief(this.options.peerStoreBytes);
    this.hasher = createChunkHasher(this.options.hashAlgorithm, this.options.hashSeed);
    this.codecs = new ChunkCodecs({
      zstdEnabled: this.options.zstdEnabled,
      zstdLevel: this.options.zstdLevel,
    });
    const { minChunkBytes, maxChunkBytes } = this.options.chunking;
    this.wireLimits = wireLimitsFor(this.options.maxBlobBytes, minChunkBytes, maxChunkBytes);
    this.codecSpeeds = { lz4: { ...this.options.codecSpeeds.lz4 }, zstd: { ...this.options.codecSpeeds.zstd } };
    this.unitSpeeds = Object.fromEntries(Object.entries(this.options.unitSpeeds).map(([level, speed]) => [level, { ...speed }]));
  }

  /** Folds one measurement (bytes of raw data handled in elapsedMs) into the policy's speeds. */
  observeCodecSpeed(codec: 'lz4' | 'zstd', direction: 'encode' | 'decode', rawBytes: number, elapsedMs: number): void {
    this.observeSpeed(this.codecSpeeds[codec], direction, rawBytes, elapsedMs);
  }

  /** The same for packed units at one zstd level. */
  observeUnitSpeed(level: number, direction: 'encode' | 'decode', rawBytes: number, elapsedMs: number): void {
    const speed = this.unitSpeeds[level];
    if (speed) this.observeSpeed(speed, direction, rawBytes, elapsedMs);
  }

  private observeSpeed(speed: CodecSpeed, direction: 'encode' | 'decode', rawBytes: number, elapsedMs: number): void {
    const { codecSpeedSmoothing, minSpeedSampleBytes } = this.options;
    if (rawBytes < minSpeedSampleBytes || codecSpeedSmoothing === 0) return;
    const measuredBytesPerSec = rawBytes / (Math.max(elapsedMs, 0.001) / 1000);
    const key = direction === 'encode' ? 'encodeBytesPerSec' : 'decodeBytesPerSec';
    speed[key] = speed[key] * (1 - codecSpeedSmoothing) + measuredBytesPerSec * codecSpeedSmoothing;
  }

  /** Forget everything about the peer (its process restarted: the pair is new). */
  resetPeer(): void {
    this.peerHolds.clear();
  }

  async close(): Promise<void> {
    await this.codecs.close();
  }
}
