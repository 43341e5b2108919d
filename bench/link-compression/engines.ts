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

function dictDeflate(): { wire: number; encUs: number; decUs: number } {
  let history = Buffer.alloc(0);
  let wire = 0;
  let encNs = 0n;
  let decNs = 0n;
  for (const f of frames) {
    const t0 = process.hrtime.bigint();
    const d = deflateRawSync(f, { level: 6, ...(history.length ? { dictionary: history } : {}) });
    const t1 = process.hrtime.bigint();
    inflateRawSync(d, { ...(history.length ? { dictionary: history } : {}), maxOutputLength: 4096 });
    const t2 = process.hrtime.bigint();
    encNs += t1 - t0;
    decNs += t2 - t1;
    wire += Math.min(d.length + 1, f.length);
    const j = Buffer.concat([history, f]);
    history = j.length > 8192 ? j.subarray(j.length - 8192) : j;
  }
  return { wire, encUs: Number(encNs) / 1000 / frames.length, decUs: Number(decNs) / 1000 / frames.length };
}

function streamDeflate(level: number): { wire: number; encUs: number; decUs: number } {
  const enc = new StreamDeflater({ level });
  const dec = new StreamInflater({ maxMessageBytes: 4096 });
  let wire = 0;
  let encNs = 0n;
  let decNs = 0n;
  for (const f of frames) {
    const t0 = process.hrtime.bigint();
    const d = enc.compress(f);
    const t1 = process.hrtime.bigint();
    const back = dec.decompress(d);
    const t2 = process.hrtime.bigint();
    if (!Buffer.from(back).equals(f)) throw new Error('round trip differs');
    encNs += t1 - t0;
    decNs += t2 - t1;
    wire += d.length + 1;
  }
  return { wire, encUs: Number(encNs) / 1000 / frames.length, decUs: Number(decNs) / 1000 / frames.length };
}

for (let round = 0; round < 3; round++) {
  const rows = { 'dict-deflate-v1 (8 KiB preset per message)': dictDeflate(), 'stream deflate level 6': streamDeflate(6), 'stream deflate level 1': streamDeflate(1) };
  if (round < 2) continue; // warm-up rounds
  console.log(`${frames.length} frames, ${(rawBytes / frames.length).toFixed(1)} B per frame before compression`);
  for (const [name, r] of Object.entries(rows)) {
    console.log(`${name.padEnd(44)} ${(r.wire / frames.length).toFixed(1).padStart(6)} B/frame  encode ${r.encUs.toFixed(1).padStart(5)} µs  decode ${r.decUs.toFixed(1).padStart(5)} µs`);
  }
}
