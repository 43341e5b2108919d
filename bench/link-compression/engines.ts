// Bytes and CPU µs per small link message for the link compressors: one raw-deflate stream per direction
// flushed per message (Z_SYNC_FLUSH, its 32 KiB window spans messages) against re-priming an 8 KiB preset
// dictionary per message (dict-deflate-v1). Messages: the captured corpus through the codec, as link frames.
// Run: node --import tsx bench/link-compression/engines.ts
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { loadCorpus } from '../../test/fixtures/corpus.js';
import { createLinkCodec } from '../../src/codec/index.js';
import { encodeFrame, FrameType, FrameClass, DataFlag } from '../../src/link/frame.js';
import { StreamDeflater, StreamInflater } from '../../src/link/stream-deflate.js';

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

function streamDeflate(level: number): { wire: number; encUs: number; decUs: number } {
  const enc = new StreamDeflater({ level });
  const dec = new StreamInflater({ maxMessageBytes: 4096 });
  const wires: Buffer[] = [];
  const encUs = cpuUs(() => {
    for (const f of frames) wires.push(enc.compress(f));
  });
  const decUs = cpuUs(() => {
    wires.forEach((d, i) => {
      if (!dec.decompress(d).equals(frames[i]!)) throw new Error('round trip differs');
    });
  });
  return { wire: wires.reduce((n, d) => n + d.length + 1, 0), encUs: encUs / frames.length, decUs: decUs / frames.length };
}

for (let round = 0; round < 3; round++) {
  const rows = { 'dict-deflate-v1 (8 KiB preset per message)': dictDeflate(), 'stream deflate level 6': streamDeflate(6), 'stream deflate level 1': streamDeflate(1) };
  if (round < 2) continue; // warm-up rounds
  console.log(`${frames.length} frames, ${(rawBytes / frames.length).toFixed(1)} B per frame before compression; CPU µs per frame (process user+system)`);
  for (const [name, r] of Object.entries(rows)) {
    console.log(`${name.padEnd(44)} ${(r.wire / frames.length).toFixed(1).padStart(6)} B/frame  encode ${r.encUs.toFixed(1).padStart(5)} µs  decode ${r.decUs.toFixed(1).padStart(5)} µs`);
  }
}
