// Bytes and CPU µs per small link message for the link compressors: one raw-deflate stream per direction
// flushed per message (Z_SYNC_FLUSH, its 32 KiB window spans messages) on either zlib engine (Node's own,
// pako's JS port) and level, against re-priming an 8 KiB preset dictionary per message (dict-deflate-v1).
// Messages: the captured corpus through the codec, as link frames; `--batch N` deflates N frames per flush,
// as the link does with the frames of one event-loop turn (N at 64 in flight is ~2-10).
// Run: node --import tsx bench/link-compression/engines.ts [--batch N] [--rounds N]
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { loadCorpus } from '../../test/fixtures/corpus.js';
import { createLinkCodec } from '../../src/codec/index.js';
import { encodeFrame, FrameType, FrameClass, DataFlag } from '../../src/link/frame.js';
import { parseArgs } from 'node:util';
import { StreamDeflater, StreamInflater, type ZEngine } from '../../src/link/stream-deflate.js';

const { values: args } = parseArgs({ options: { batch: { type: 'string', default: '1' }, rounds: { type: 'string', default: '5' } } });
const batchFrames = Number(args.batch);
const rounds = Number(args.rounds);

const corpus = loadCorpus().filter((r) => r.bytes.length <= 4000);
const codec = createLinkCodec({ maxMessageBytes: 1 << 20 });
const frames: Buffer[] = [];
let seq = 0;
// The corpus 20 times over: steady traffic repeats its shapes with small changes (ids, counters, seq).
for (let pass = 0; pass < 20; pass++) for (const r of corpus) {
  if (r.dir !== 0) continue;
  const compact = codec.encode(r.bytes, r.opcode === 1) ?? r.bytes;
  frames.push(encodeFrame({ type: FrameType.DATA, flags: DataFlag.FIN | DataFlag.CODEC, frameClass: FrameClass.RPC, streamId: 1 + (r.conn % 4), seq: seq++, payload: compact }));
}
const rawBytes = frames.reduce((n, f) => n + f.length, 0);
const batches: Buffer[] = [];
for (let i = 0; i < frames.length; i += batchFrames) batches.push(Buffer.concat(frames.slice(i, i + batchFrames)));

/** CPU µs (user + system of this process: steady under load, unlike wall time) of `body`. */
function cpuUs(body: () => void): number {
  const start = process.cpuUsage();
  body();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function dictDeflate(): { wire: number; encUs: number; decUs: number } {
  const histories: Buffer[] = [];
  const wires: Buffer[] = [];
  let history = Buffer.alloc(0);
  const encUs = cpuUs(() => {
    for (const f of frames) {
      histories.push(history);
      wires.push(deflateRawSync(f, { level: 6, ...(history.length ? { dictionary: history } : {}) }));
      const joined = Buffer.concat([history, f]);
      history = joined.length > 8192 ? joined.subarray(joined.length - 8192) : joined;
    }
  });
  const decUs = cpuUs(() => {
    wires.forEach((d, i) => inflateRawSync(d, { ...(histories[i]!.length ? { dictionary: histories[i]! } : {}), maxOutputLength: 4096 }));
  });
  const wire = wires.reduce((n, d, i) => n + Math.min(d.length + 1, frames[i]!.length), 0);
  return { wire, encUs: encUs / frames.length, decUs: decUs / frames.length };
}

/** One stream per direction over the batches; µs per frame. */
function streamDeflate(level: number, engine: ZEngine): { wire: number; encUs: number; decUs: number } {
  const enc = new StreamDeflater({ level, engine });
  const dec = new StreamInflater({ maxMessageBytes: 1 << 20, engine });
  const wires: Buffer[] = [];
  const encUs = cpuUs(() => {
    for (const b of batches) wires.push(enc.compress(b));
  });
  const decUs = cpuUs(() => {
    wires.forEach((d, i) => {
      if (!dec.decompress(d).equals(batches[i]!)) throw new Error('round trip differs');
    });
  });
  return { wire: wires.reduce((n, d) => n + d.length + 1, 0), encUs: encUs / frames.length, decUs: decUs / frames.length };
}

const arms: Record<string, () => { wire: number; encUs: number; decUs: number }> = {
  ...(batchFrames === 1 ? { 'dict-deflate-v1 (8 KiB preset per message)': dictDeflate } : {}),
  'stream deflate level 6, pako': () => streamDeflate(6, 'pako'),
  'stream deflate level 6, native': () => streamDeflate(6, 'native'),
  'stream deflate level 1, pako': () => streamDeflate(1, 'pako'),
  'stream deflate level 1, native': () => streamDeflate(1, 'native'),
  'stream deflate level 3, native': () => streamDeflate(3, 'native'),
};
// Every arm once per round, in turn; the first two rounds warm up; the median of the rest is reported.
const results = new Map<string, Array<{ wire: number; encUs: number; decUs: number }>>();
for (let round = 0; round < rounds + 2; round++) {
  for (const [name, arm] of Object.entries(arms)) {
    const r = arm();
    if (round >= 2) results.set(name, [...(results.get(name) ?? []), r]);
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${frames.length} frames, ${(rawBytes / frames.length).toFixed(1)} B per frame before compression, ${batchFrames} per flush; CPU µs per frame (process user+system), median of ${rounds} rounds`);
for (const [name, rs] of results) {
  const r = rs[0]!;
  console.log(`${name.padEnd(44)} ${(r.wire / frames.length).toFixed(1).padStart(6)} B/frame  encode ${median(rs.map((x) => x.encUs)).toFixed(2).padStart(6)} µs  decode ${median(rs.map((x) => x.decUs)).toFixed(2).padStart(6)} µs`);
}
