// The one place that decides what compression pays, per link and per blob (pure): minimise the estimated
// transfer time (encode + bytes on the wire / effective link throughput + decode) over raw, per-chunk
// lz4/zstd and packed units, keep raw unless one is faster by a safety margin, and pick the unit's zstd
// level so the compressor keeps ahead of the link.

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

/**
 * Packed units (unit-codec.ts: byte shuffle, then zstd and Huffman per plane), per zstd level, one core:
 * rough starting points from scratch runs on 256 KiB units of the benchmark's uint16 images and float32
 * weights on the shared 2-core build machine (zstd alone ran ~60-300 MB/s at level 1-3 and ~10-40 at 9).
 * The pair replaces them with what it measures (PayloadPair.observeUnitSpeed).
 */
export const defaultUnitSpeeds: Record<number, CodecSpeed> = {
  1: { encodeBytesPerSec: 90e6, decodeBytesPerSec: 250e6 },
  3: { encodeBytesPerSec: 60e6, decodeBytesPerSec: 250e6 },
  6: { encodeBytesPerSec: 25e6, decodeBytesPerSec: 250e6 },
  9: { encodeBytesPerSec: 12e6, decodeBytesPerSec: 250e6 },
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
  /**
   * Packed units: estimated ratio and the speed at the level chooseUnitLevel picked. Units (and the
   * successive blobs of a stream, e.g. 256 KiB message_cache slices) encode, travel and decode as a
   * pipeline, so their time is that of the slowest stage.
   */
  unit?: { ratio: number; speed: CodecSpeed };
}

export interface CodecChoice {
  /** Per-chunk codec (with `unit`: the codec NACKed chunks are resent with). */
  codec: ChunkCodecId;
  /** New chunks travel packed in units. */
  unit: boolean;
  estimatedMs: { none: number; lz4?: number; zstd?: number; unit?: number };
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
  const choice: CodecChoice = { codec: ChunkCodec.none, unit: false, estimatedMs: { none: rawMs } };
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
  if (input.unit !== undefined && input.unit.ratio < 1) {
    const { ratio, speed } = input.unit;
    const encodeBytesPerSec = speed.encodeBytesPerSec * Math.max(1, input.encodeParallelism);
    const ms = Math.max(input.blobBytes / encodeBytesPerSec, (input.blobBytes * ratio) / wireBytesPerSec, input.blobBytes / speed.decodeBytesPerSec) * 1000;
    choice.estimatedMs.unit = ms;
    if (ms < bestMs) [bestMs, choice.codec, choice.unit] = [ms, ChunkCodec.zstd, true];
  }
  return choice;
}

/**
 * The highest zstd level whose measured unit encode speed (times the threads encoding) still exceeds
 * `headroom` times the raw-byte rate the link can drain at this ratio (wire rate / ratio): the compressor
 * never becomes the bottleneck. Falls back to the fastest level.
 */
export function chooseUnitLevel(
  speeds: Record<number, CodecSpeed>, link: LinkEstimate, ratio: number, encodeParallelism: number, headroom = 2,
): number {
  const levels = Object.keys(speeds).map(Number).sort((a, b) => a - b);
  const drainBytesPerSec = effectiveThroughputBytesPerSec(link) / Math.max(ratio, 0.01);
  let chosen = levels[0]!;
  for (const level of levels) {
    if (speeds[level]!.encodeBytesPerSec * Math.max(1, encodeParallelism) >= headroom * drainBytesPerSec) chosen = level;
  }
  return chosen;
}
