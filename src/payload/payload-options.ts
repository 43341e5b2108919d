// Every knob of the payload plane with its default, validated once. Both proxies of a pair must
// agree on `chunking`, `hashAlgorithm` and `hashSeed` (exchange them in the link handshake).

import { defaultChunkingOptions, validateChunkingOptions, type ChunkingOptions } from './gear-chunker.js';
import type { HashAlgorithm } from './chunk-hash.js';
import { defaultCodecSpeeds, defaultUnitSpeeds, type CodecSpeed, type LinkEstimate } from './codec-policy.js';

export interface PayloadOptions {
  chunking: ChunkingOptions;
  hashAlgorithm: HashAlgorithm;
  /** Per-pair secret seed for the chunk hash (agreed in the handshake). */
  hashSeed: bigint;
  /** Bytes of chunks this side keeps for the pair (dedupe cache). */
  storeBytes: number;
  /** Bytes of chunks we assume the peer keeps; keep <= the peer's storeBytes. */
  peerStoreBytes: number;
  /** Largest blob accepted or announced. */
  maxBlobBytes: number;
  /** Bytes of sent blobs kept to answer NACKs until the peer ACKs (oldest dropped beyond this). */
  maxPinnedBytes: number;
  /** NACK rounds a receiver tries per blob before failing it. */
  maxNackRounds: number;
  dedupeEnabled: boolean;
  lz4Enabled: boolean;
  zstdEnabled: boolean;
  zstdLevel: number;
  /** New chunks may travel packed in units (payload-v2): byte shuffle, then zstd or Huffman per plane. */
  unitEnabled: boolean;
  /** A run of new chunks is cut into units of about this many raw bytes (at least 256 KiB pays). */
  compressUnitBytes: number;
  /** Largest piece of a unit body per frame (keep <= the link's frame payload). */
  unitPieceBytes: number;
  /** Bytes sampled per blob for the element-size guess and the unit ratio estimate. */
  unitSampleBytes: number;
  /** The peer announced payload-v4: unit bodies may use aligned splits and masked planes (unit-codec.ts). */
  payloadV4: boolean;
  /** Starting unit speeds per zstd level; refined by measurement like codecSpeeds. */
  unitSpeeds: Record<number, CodecSpeed>;
  /** Blobs below this are never compressed (sampling would cost more than it saves). */
  minCompressBytes: number;
  /** Chunks sampled per blob to estimate compressibility. */
  sampleChunks: number;
  /** A codec must beat raw by this fraction of raw's estimated time. */
  policyMarginRatio: number;
  /** Starting codec speeds for the policy; refined by measurement (see codecSpeedSmoothing). */
  codecSpeeds: Record<'lz4' | 'zstd', CodecSpeed>;
  /** Weight of each new measurement in the codec speed average (0 = never learn). */
  codecSpeedSmoothing: number;
  /** Only blobs with at least this many compressed bytes update the measured speeds. */
  minSpeedSampleBytes: number;
  /** Monotonic clock in ms (injected so tests control what the policy learns). */
  nowMs: () => number;
  /** Chunks per encode task (bytes), so the pool sees few large tasks, not many tiny ones. */
  encodeBatchBytes: number;
  /** Encode tasks in flight per blob (bounds memory). */
  encodeTasksInFlight: number;
  /** Chunking/hashing yields to the event loop after this many bytes. */
  cooperativeSliceBytes: number;
  /** Re-hash chunks taken from the store before using them. */
  verifyStoreHits: boolean;
  /** Blobs at or above this go through shared memory when the pair has it. */
  shmThresholdBytes: number;
  /** Used until the link reports a measurement. */
  initialLinkEstimate: LinkEstimate;
}

export const defaultPayloadOptions: PayloadOptions = {
  chunking: defaultChunkingOptions,
  hashAlgorithm: 'sha256-128',
  hashSeed: 0n,
  storeBytes: 512 * 1024 * 1024,
  peerStoreBytes: 512 * 1024 * 1024,
  maxBlobBytes: 1024 * 1024 * 1024,
  maxPinnedBytes: 256 * 1024 * 1024,
  maxNackRounds: 3,
  dedupeEnabled: true,
  lz4Enabled: true,
  zstdEnabled: true,
  zstdLevel: 1,
  unitEnabled: true,
  compressUnitBytes: 1024 * 1024,
  unitPieceBytes: 64 * 1024,
  unitSampleBytes: 32 * 1024,
  payloadV4: false,
  unitSpeeds: defaultUnitSpeeds,
  minCompressBytes: 16 * 1024,
  sampleChunks: 4,
  policyMarginRatio: 0.05,
  codecSpeeds: defaultCodecSpeeds,
  codecSpeedSmoothing: 0.3,
  minSpeedSampleBytes: 1024 * 1024,
  nowMs: () => performance.now(),
  encodeBatchBytes: 1024 * 1024,
  encodeTasksInFlight: 4,
  cooperativeSliceBytes: 1024 * 1024,
  verifyStoreHits: true,
  shmThresholdBytes: 256 * 1024,
  initialLinkEstimate: { throughputBytesPerSec: 125e6, rttMs: 1 },
};

export function resolvePayloadOptions(partial: Partial<PayloadOptions> = {}): PayloadOptions {
  const options: PayloadOptions = { ...defaultPayloadOptions, ...partial };
  validateChunkingOptions(options.chunking);
  for (const key of ['storeBytes', 'peerStoreBytes', 'maxBlobBytes', 'maxPinnedBytes', 'encodeBatchBytes', 'cooperativeSliceBytes', 'compressUnitBytes', 'unitPieceBytes', 'unitSampleBytes'] as const) {
    if (!(Number.isSafeInteger(options[key]) && options[key] > 0)) throw new RangeError(`payload option ${key} must be a positive integer`);
  }
  if (!(options.codecSpeedSmoothing >= 0 && options.codecSpeedSmoothing <= 1)) throw new RangeError('codecSpeedSmoothing must be in [0, 1]');
  if (options.compressUnitBytes > 64 * 1024 * 1024) throw new RangeError('compressUnitBytes above 64 MiB');
  if (options.maxBlobBytes > 2 ** 40) throw new RangeError('maxBlobBytes above 1 TiB');
  if (!(options.maxNackRounds >= 1 && options.encodeTasksInFlight >= 1)) {
    throw new RangeError('maxNackRounds and encodeTasksInFlight must be >= 1');
  }
  return options;
}
