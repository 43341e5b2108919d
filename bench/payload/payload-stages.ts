// Microbenchmarks of each payload stage on this machine: chunking, hashing, lz4/zstd/deflate per
// 64 KiB chunk, tmpfs segments vs loopback TCP, and whole endpoint round trips with event-loop lag.
// Run: node --import tsx bench/payload/payload-stages.ts [--quick]; writes bench/results/payload-stages.{json,md}.

import { writeFileSync, mkdirSync, promises as fs } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { constants as zlibConstants, deflateRawSync, zstdCompressSync } from 'node:zlib';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer, connect } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { xxh3 } from '@node-rs/xxhash';
import { compressSync as lz4CompressSync, uncompressSync as lz4UncompressSync, compress as lz4Compress } from 'lz4-napi';
import { chunkBlob, chunkBoundaries, type ChunkingOptions } from '../../src/payload/gear-chunker.js';
import { PayloadPair } from '../../src/payload/payload-pair.js';
import { PayloadEndpoint } from '../../src/payload/payload-endpoint.js';
import { ShmSegments } from '../../src/payload/shm-segments.js';
import { ChunkCodecs } from '../../src/payload/chunk-codecs.js';
import type { PayloadOptions } from '../../src/payload/payload-options.js';
import { dataSets } from './stage-data.js';

const quick = process.argv.includes('--quick');
const MiB = 1024 * 1024;
const blobBytes = (quick ? 16 : 64) * MiB;
const results: Record<string, unknown> = {};
const rows: string[][] = [];

/** Median wall time of one run (ms), after a warm-up; at least 5 runs and minMs in total. */
function timeIt(fn: () => void, minMs = 300): number {
  fn();
  const runs: number[] = [];
  const start = performance.now();
  while (runs.length < 5 || performance.now() - start < minMs) {
    const t = performance.now();
    fn();
    runs.push(performance.now() - t);
  }
  return median(runs);
}

async function timeAsync(fn: () => Promise<void>, minMs = 300): Promise<number> {
  await fn();
  const runs: number[] = [];
  const start = performance.now();
  while (runs.length < 5 || performance.now() - start < minMs) {
    const t = performance.now();
    await fn();
    runs.push(performance.now() - t);
  }
  return median(runs);
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const mbps = (bytes: number, ms: number): number => Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;

function record(stage: string, data: string, bytes: number, ms: number, extra: Record<string, number | string> = {}): void {
  const entry = { stage, data, bytes, ms: Math.round(ms * 100) / 100, MBps: mbps(bytes, ms), ...extra };
  (results.stages as unknown[]).push(entry);
  rows.push([stage, data, String(entry.MBps), Object.entries(extra).map(([k, v]) => `${k}=${v}`).join(' ')]);
  console.log(JSON.stringify(entry));
}
results.stages = [];

const data = Object.fromEntries(Object.entries(dataSets).map(([name, make]) => [name, make(blobBytes, 7)])) as Record<keyof typeof dataSets, Uint8Array>;

// 1. chunking
const chunkings: Record<string, ChunkingOptions> = {
  '4/16/64KiB': { minChunkBytes: 4096, avgChunkBytes: 16384, maxChunkBytes: 65536 },
  '16/64/256KiB': { minChunkBytes: 16384, avgChunkBytes: 65536, maxChunkBytes: 262144 },
};
for (const [label, options] of Object.entries(chunkings)) {
  for (const name of ['image', 'random'] as const) {
    let count = 0;
    const ms = timeIt(() => {
      count = chunkBoundaries(data[name], options).length;
    });
    record(`chunk gear ${label}`, name, blobBytes, ms, { avgChunkBytes: Math.round(blobBytes / count) });
  }
}

// Dedupe after a shift, as message_cache slices (256 KiB) of a resent 16 MiB array.
for (const [label, options] of Object.entries(chunkings)) {
  const array = data.random.subarray(0, 16 * MiB);
  const sliceSet = (prefix: number): Uint8Array[] => {
    const message = new Uint8Array(prefix + array.length);
    message.set(array, prefix);
    const out: Uint8Array[] = [];
    for (let o = 0; o < message.length; o += 256 * 1024) out.push(...chunkBlob(message.subarray(o, o + 256 * 1024), options));
    return out;
  };
  const known = new Set(sliceSet(311).map((c) => xxh3.xxh128(c)));
  const again = sliceSet(517);
  const found = again.filter((c) => known.has(xxh3.xxh128(c))).reduce((s, c) => s + c.byteLength, 0);
  const wholeKnown = new Set(chunkBlob(array, options).map((c) => xxh3.xxh128(c)));
  const shifted = Buffer.concat([Buffer.alloc(37, 1), array]);
  const wholeFound = chunkBlob(shifted, options).filter((c) => wholeKnown.has(xxh3.xxh128(c))).reduce((s, c) => s + c.byteLength, 0);
  const entry = { chunking: label, sliceDedupeRatio: +(found / array.length).toFixed(3), wholeShiftDedupeRatio: +(wholeFound / array.length).toFixed(3) };
  ((results.dedupe ??= []) as unknown[]).push(entry);
  console.log(JSON.stringify(entry));
}

// 2. hashing
for (const chunkBytes of [16384, 65536]) {
  const fixed = chunkBlob(data.random, { minChunkBytes: chunkBytes, avgChunkBytes: chunkBytes, maxChunkBytes: chunkBytes });
  const label = `${chunkBytes / 1024} KiB`;
  record(`hash xxh3-128 (binding) per ${label} chunk`, 'random', blobBytes, timeIt(() => { for (const c of fixed) xxh3.xxh128(c, 5n); }));
  record(`hash sha256 per ${label} chunk`, 'random', blobBytes, timeIt(() => { for (const c of fixed) createHash('sha256').update(c).digest(); }));
}
record('hash xxh3-128 one-shot whole blob', 'random', blobBytes, timeIt(() => { xxh3.xxh128(data.random, 5n); }));
record('hash streaming XXH3-64 whole blob, 1 MiB slices', 'random', blobBytes, timeIt(() => {
  const state = xxh3.Xxh3.withSeed(5n);
  for (let o = 0; o < blobBytes; o += MiB) state.update(data.random.subarray(o, o + MiB));
  state.digest();
}));

// 3. codecs per 64 KiB chunk, one core, sync (what the policy's speeds mean)
const codecs = new ChunkCodecs({ zstdEnabled: true, zstdLevel: 1 });
const zstdAt = (level: number) => ({ params: { [zlibConstants.ZSTD_c_compressionLevel]: level } });
for (const name of ['image', 'weights', 'random'] as const) {
  const chunks = chunkBlob(data[name], { minChunkBytes: 65536, avgChunkBytes: 65536, maxChunkBytes: 65536 }).slice(0, quick ? 128 : 256);
  const bytes = chunks.reduce((s, c) => s + c.byteLength, 0);
  const lz4 = chunks.map((c) => lz4CompressSync(Buffer.from(c)));
  const lz4Ratio = lz4.reduce((s, c) => s + c.length, 0) / bytes;
  record('lz4 encode', name, bytes, timeIt(() => { for (const c of chunks) lz4CompressSync(Buffer.from(c.buffer, c.byteOffset, c.byteLength)); }), { ratio: +lz4Ratio.toFixed(3) });
  record('lz4 decode', name, bytes, timeIt(() => { for (const c of lz4) lz4UncompressSync(c); }));
  for (const level of [1, 3]) {
    const z = chunks.map((c) => zstdCompressSync(c, zstdAt(level)));
    const zRatio = z.reduce((s, c) => s + c.length, 0) / bytes;
    record(`zstd-${level} encode`, name, bytes, timeIt(() => { for (const c of chunks) zstdCompressSync(c, zstdAt(level)); }), { ratio: +zRatio.toFixed(3) });
    if (level === 1) record('zstd-1 decode', name, bytes, timeIt(() => { chunks.forEach((c, i) => codecs.decodeSync(2, z[i]!, c.byteLength)); }));
  }
  const deflated = chunks.map((c) => deflateRawSync(c, { level: 6 }));
  record('deflate-6 encode (permessage-deflate)', name, bytes, timeIt(() => { for (const c of chunks.slice(0, 32)) deflateRawSync(c, { level: 6 }); }) * (chunks.length / 32), {
    ratio: +(deflated.reduce((s, c) => s + c.length, 0) / bytes).toFixed(3),
  });
  // Off the event loop: lz4-napi async and node:zlib zstd async (both on the libuv threadpool), all chunks in flight.
  record('lz4 encode async (threadpool)', name, bytes, await timeAsync(async () => { await Promise.all(chunks.map((c) => lz4Compress(c))); }));
  record('zstd-1 encode async (threadpool, batches of 16)', name, bytes, await timeAsync(async () => {
    const batches: Uint8Array[][] = [];
    for (let i = 0; i < chunks.length; i += 16) batches.push(chunks.slice(i, i + 16));
    await Promise.all(batches.map((b) => codecs.encodeBatch(2, b)));
  }));
}
await codecs.close();

// 4. shared memory (tmpfs files) vs loopback TCP, 16 and 64 MiB
const baseDir = join('/dev/shm', `hypha-accel-bench-${process.pid}`);
const writer = await ShmSegments.open({ baseDir, pairId: 'bench', writerId: 'w', maxTotalBytes: 1 << 30, maxSegmentAgeMs: 60_000, nowMs: Date.now });
const reader = await ShmSegments.open({ baseDir, pairId: 'bench', writerId: 'r', maxTotalBytes: 1 << 30, maxSegmentAgeMs: 60_000, nowMs: Date.now });
for (const size of [16 * MiB, 64 * MiB]) {
  const blob = data.random.subarray(0, Math.min(size, blobBytes));
  record('shm tmpfs write+read+unlink', `random ${blob.length / MiB} MiB`, blob.length, await timeAsync(async () => {
    const name = await writer.write(blob);
    await reader.read(name!, blob.length);
    await writer.release(name!);
  }));
  record('loopback TCP send+receive+concat', `random ${blob.length / MiB} MiB`, blob.length, await timeAsync(() => tcpTransfer(blob)));
}
await fs.rm(baseDir, { recursive: true, force: true });

async function tcpTransfer(blob: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer((socket) => {
      let received = 0;
      const parts: Buffer[] = [];
      socket.on('data', (d: Buffer) => {
        received += d.length;
        parts.push(d);
        if (received >= blob.length) {
          Buffer.concat(parts, received); // the receiver needs the blob in one piece, as from shm
          socket.end();
          server.close();
          resolve();
        }
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || !address) return reject(new Error('no address'));
      const client = connect(address.port, '127.0.0.1', () => client.end(blob));
      client.on('error', reject);
    });
  });
}

// 5. whole endpoints, each side measured on its own as a proxy would run it: the sender emits into a
// sink; the receiver is then fed those frames one per event-loop turn (as a socket delivers them).
async function measureLag<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; lagP99Ms: number; lagMaxMs: number }> {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const start = process.hrtime.bigint();
  const value = await fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  lag.disable();
  return { value, ms, lagP99Ms: +(lag.percentile(99) / 1e6).toFixed(1), lagMaxMs: +(lag.max / 1e6).toFixed(1) };
}

async function endpointRun(label: string, name: keyof typeof data, options: Partial<PayloadOptions>, passes: number, withShm = false): Promise<void> {
  const pairA = new PayloadPair(options);
  const pairB = new PayloadPair(options);
  const toB: Uint8Array[] = [];
  const toA: Uint8Array[] = [];
  const shmBase = join('/dev/shm', `hypha-accel-bench-${process.pid}`);
  const shmOptions = { baseDir: shmBase, pairId: 'bench', maxTotalBytes: 1 << 30, maxSegmentAgeMs: 60_000, nowMs: Date.now };
  const shmA = withShm ? await ShmSegments.open({ ...shmOptions, writerId: 'a' }) : undefined;
  const shmB = withShm ? await ShmSegments.open({ ...shmOptions, writerId: 'b' }) : undefined;
  const a = new PayloadEndpoint({ pair: pairA, emitFrame: (f) => void toB.push(f), shm: shmA });
  const b = new PayloadEndpoint({ pair: pairB, emitFrame: (f) => void toA.push(f), shm: shmB });
  const blob = data[name];
  for (let pass = 1; pass <= passes; pass++) {
    toB.length = 0;
    const sent = await measureLag(() => a.sendBlob(blob));
    const wireBytes = toB.reduce((sum, f) => sum + f.byteLength, 0);
    record(`send: ${label}, pass ${pass}`, name, blob.length, sent.ms, {
      wireRatio: +(wireBytes / blob.length).toFixed(3), lagP99Ms: sent.lagP99Ms, lagMaxMs: sent.lagMaxMs,
    });
    const received = await measureLag(async () => {
      const result = b.takeBlob(sent.value);
      for (const frame of toB) {
        await b.receiveFrame(frame);
        await new Promise((resolve) => setImmediate(resolve));
      }
      return result;
    });
    if (Buffer.compare(Buffer.from(received.value), Buffer.from(blob)) !== 0) throw new Error('wrong bytes');
    record(`receive: ${label}, pass ${pass}`, name, blob.length, received.ms, { lagP99Ms: received.lagP99Ms, lagMaxMs: received.lagMaxMs });
    for (const frame of toA.splice(0)) await a.receiveFrame(frame); // ACKs
  }
  await pairA.close();
  await pairB.close();
  if (withShm) await fs.rm(shmBase, { recursive: true, force: true });
}
const wan = { throughputBytesPerSec: 12.5e6, rttMs: 40 };
const lan = { throughputBytesPerSec: 1e9, rttMs: 0.1 };
for (const name of ['image', 'weights', 'random'] as const) {
  await endpointRun('raw (no codec)', name, { lz4Enabled: false, zstdEnabled: false }, 2);
  await endpointRun('policy wan', name, { initialLinkEstimate: wan }, 1);
  await endpointRun('lz4 only, wan', name, { initialLinkEstimate: wan, zstdEnabled: false }, 1);
  await endpointRun('policy lan', name, { initialLinkEstimate: lan }, 1);
  await endpointRun('shared memory (colocated)', name, { initialLinkEstimate: lan }, 1, true);
}

results.machine = { loadAverage1m: os.loadavg()[0], cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, blobBytes, quick, date: new Date().toISOString() };
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/payload-stages.json', JSON.stringify(results, null, 2) + '\n');
const md = [
  '# Payload plane: stage microbenchmarks',
  '',
  `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, Node ${process.version}, ${new Date().toISOString()}, load average (1 min) at the end ${os.loadavg()[0]!.toFixed(2)} (other work shares these cores: treat figures as lower bounds).`,
  `Blob size ${blobBytes / MiB} MiB. Command: \`node --import tsx bench/payload/payload-stages.ts${quick ? ' --quick' : ''}\`.`,
  'MB/s = 10^6 bytes of input per second; times are medians of >= 5 runs. Codec rows are one core, 64 KiB chunks. send/receive rows: one',
  'endpoint measured alone (the receiver is fed one frame per event-loop turn); lag = event-loop delay.',
  '',
  '| stage | data | MB/s | notes |',
  '|---|---|---:|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
  '',
  '## Dedupe of a resent 16 MiB array (random bytes)',
  '',
  '| chunking | re-found in shifted 256 KiB slices | re-found in the whole array shifted by 37 B |',
  '|---|---:|---:|',
  ...((results.dedupe as Array<{ chunking: string; sliceDedupeRatio: number; wholeShiftDedupeRatio: number }>).map((d) => `| ${d.chunking} | ${d.sliceDedupeRatio} | ${d.wholeShiftDedupeRatio} |`)),
  '',
].join('\n');
writeFileSync('bench/results/payload-stages.md', md);
void randomBytes;
