// Pure choice of the per-blob chunk codec: minimise the estimated transfer time
// (encode + bytes on the wire / effective link throughput + decode) and keep raw unless a codec is
// estimated faster by a safety margin, so compression never makes a transfer slower than raw.

import { ChunkCodec, type ChunkCodecId } from './payload-wire.js';

export interface CodecSpeed {
  encodeBytesPerSec: number;
  decodeBytesPerSec: number;
}

/**
 * Measured on the build machine (2 shared cores), one core, 64 KiB chunks of compressible (image-like)
 * data, rounded down: see bench/results/payload-stages.md (lz4 341/1058 MB/s, zstd-1 215/365 MB/s).
 */
export const defaultCodecSpeeds: Record<'lz4' | 'zstd', CodecSpeed> = {
  lz4: { encodeBytesPerSec: 300e6, decodeBytesPerSec: 1000e6 },
  zstd: { encodeBytesPerSec: 200e6, decodeBytesPerSec: 350e6 },
};

export interface LinkEstimate {
  /** Measured goodput of the link (bytes/s). */
  throughputBytesPerSec: number;
  /** Measured round-trip time. */
  rttMs: number;
  /** Send window of the stream, if any: caps throughput at windowBytes / rtt. */
  windowBytes?: number;
}

export interface CodecPolicyInput {
  blobBytes: number;
  /** compressed / raw measured on a sample; undefined when the codec is disabled. */
  lz4Ratio?: number;
  zstdRatio?: number;
  link: LinkEstimate;
  speeds: Record<'lz4' | 'zstd', CodecSpeed>;
  /** How many chunks encode at once (threads); decode runs on one. */
  encodeParallelism: number;
  /** A codec must beat raw by this fraction of raw's time (default 0.1). */
  marginRatio: number;
}

export interface CodecChoice {
  codec: ChunkCodecId;
  estimatedMs: { none: number; lz4?: number; zstd?: number };
}

export function effectiveThroughputBytesPerSec(link: LinkEstimate): number {
  let bytesPerSec = Math.max(1, link.throughputBytesPerSec);
  if (link.windowBytes !== undefined && link.rttMs > 0) bytesPerSec = Math.min(bytesPerSec, link.windowBytes / (link.rttMs / 1000));
  return bytesPerSec;
}

export function chooseCodec(input: CodecPolicyInput): CodecChoice {
  const wireBytesPerSec = effectiveThroughputBytesPerSec(input.link);
  const rawMs = (input.blobBytes / wireBytesPerSec) * 1000;
  const estimate = (ratio: number, speed: CodecSpeed): number =>
    ((input.blobBytes / (speed.encodeBytesPerSec * Math.max(1, input.encodeParallelism)) +
      (input.blobBytes * ratio) / wireBytesPerSec +
      input.blobBytes / speed.decodeBytesPerSec) * 1000);
  const choice: CodecChoice = { codec: ChunkCodec.none, estimatedMs: { none: rawMs } };
  let bestMs = rawMs * (1 - input.marginRatio);
  if (input.lz4Ratio !== undefined && input.lz4Ratio < 1) {
    const ms = estimate(input.lz4Ratio, input.speeds.lz4);
    choice.estimatedMs.lz4 = ms;
    if (ms < bestMs) [bestMs, choice.codec] = [ms, ChunkCodec.lz4];
  }
  if (input.zstdRatio !== undefined && input.zstdRatio < 1) {
    const ms = estimate(input.zstdRatio, input.speeds.zstd);
    choice.estimatedMs.zstd = ms;
    if (ms < bestMs) [bestMs, choice.codec] = [ms, ChunkCodec.zstd];
  }
  return choice;
}
