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
 * Packed units (unit-codec.ts: byte shuffle, then Huffman and, on planes with structure, zstd), per zstd
 * level, encode of one 256 KiB unit at a time: measured on the benchmark's uint16 images and float32
 * weights on the 2-core build machine at load average ~3 (image L1 70-94, L3 36-55, L9 28-31 MB/s;
 * weights L1 81-84, L3 72-75, L9 48-49). Level 6 is interpolated, decode speeds are a guess. The pair
 * replaces them with what it measures (PayloadPair.observeUnitSpeed).
 */
export const defaultUnitSpeeds: Record<number, CodecSpeed> = {
  1: { encodeBytesPerSec: 70e6, decodeBytesPerSec: 250e6 },
  3: { encodeBytesPerSec: 45e6, decodeBytesPerSec: 250e6 },
  6: { encodeBytesPerSec: 35e6, decodeBytesPerSec: 250e6 },
  9: { encodeBytesPerSec: 28e6, decodeBytesPerSec: 250e6 },
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
  /** The link's rate as the policy saw it (bytes per µs), and what the chosen candidate saves per CPU µs. */
  linkBytesPerUs: number;
  savedBytesPerCpuUs: number;
}

/** Bytes a codec of this ratio and speed keeps off the wire per µs of CPU it spends (encode + decode). */
export function savedBytesPerCpuUs(ratio: number, speed: CodecSpeed): number {
  return Math.max(0, 1 - ratio) / (1 / speed.encodeBytesPerSec + 1 / speed.decodeBytesPerSec) / 1e6;
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
  const choice: CodecChoice = { codec: ChunkCodec.none, unit: false, estimatedMs: { none: rawMs }, linkBytesPerUs: wireBytesPerSec / 1e6, savedBytesPerCpuUs: 0 };
  let bestMs = rawMs * (1 - input.marginRatio);
  if (input.lz4Ratio !== undefined && input.lz4Ratio < 1) {
    const ms = estimate(input.lz4Ratio, input.speeds.lz4);
    choice.estimatedMs.lz4 = ms;
    if (ms < bestMs) [bestMs, choice.codec, choice.savedBytesPerCpuUs] = [ms, ChunkCodec.lz4, savedBytesPerCpuUs(input.lz4Ratio, input.speeds.lz4)];
  }
  if (input.zstdRatio !== undefined && input.zstdRatio < 1) {
    const ms = estimate(input.zstdRatio, input.speeds.zstd);
    choice.estimatedMs.zstd = ms;
    if (ms < bestMs) [bestMs, choice.codec, choice.savedBytesPerCpuUs] = [ms, ChunkCodec.zstd, savedBytesPerCpuUs(input.zstdRatio, input.speeds.zstd)];
  }
  if (input.unit !== undefined && input.unit.ratio < 1) {
    const { ratio, speed } = input.unit;
    const encodeBytesPerSec = speed.encodeBytesPerSec * Math.max(1, input.encodeParallelism);
    const ms = Math.max(input.blobBytes / encodeBytesPerSec, (input.blobBytes * ratio) / wireBytesPerSec, input.blobBytes / speed.decodeBytesPerSec) * 1000;
    choice.estimatedMs.unit = ms;
    if (ms < bestMs) [bestMs, choice.codec, choice.unit, choice.savedBytesPerCpuUs] = [ms, ChunkCodec.zstd, true, savedBytesPerCpuUs(ratio, speed)];
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
