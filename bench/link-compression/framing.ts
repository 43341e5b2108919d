// Replays recorded link traffic (capture-s1.ts) through alternative framings of compressed small frames and
// prints link bytes per call for each phase, so a framing change is sized before it is built.
// Run: node --import tsx bench/link-compression/framing.ts [DIR]
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { StreamDeflater, StreamInflater } from '../../src/link/stream-deflate.js';

const dir = process.argv[2] ?? '/tmp/hypha-accel-link-capture';

interface Message { frames: Buffer[]; compressed: boolean; wireBytes: number; end: number }

/** The link messages of one direction: u32-prefixed, after the HTTP upgrade; compressed ones inflated. */
function parse(bytes: Buffer): Message[] {
  let offset = bytes.indexOf('\r\n\r\n') + 4;
  const inflater = new StreamInflater({ maxMessageBytes: 1 << 20 });
  const out: Message[] = [];
  while (offset + 4 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    if (offset + 4 + length > bytes.length) break;
    const body = bytes.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    if (body[0] === 0xc5) {
      const batch = inflater.decompress(body.subarray(1));
      const frames: Buffer[] = [];
      for (let at = 0; at < batch.length;) {
        const n = batch.readUInt32BE(at);
        frames.push(batch.subarray(at + 4, at + 4 + n));
        at += 4 + n;
      }
      out.push({ frames, compressed: true, wireBytes: 4 + length, end: offset });
    } else out.push({ frames: [body], compressed: false, wireBytes: 4 + length, end: offset });
  }
  return out;
}

function varint(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/** A frame with a compact header: type, flags|class<<4|ext<<6, varint stream id, then seq (varint, or implied). */
function compactFrame(frame: Buffer, lastSeq: Map<number, number>, impliedSeq: boolean): Buffer {
  const type = frame[0]!;
  const streamId = frame.readUInt32BE(4);
  const seq = frame.readUInt32BE(8);
  const head = [type, frame[1]! | (frame[2]! << 4) | (frame[3]! << 6), ...varint(streamId)];
  if (impliedSeq) {
    const last = lastSeq.get(streamId);
    lastSeq.set(streamId, seq);
    if (last !== undefined && seq === last + 1) head[1]! |= 0x80;
    else head.push(...varint(seq));
  } else head.push(...varint(seq));
  return Buffer.concat([Buffer.from(head), frame.subarray(12)]);
}

/** The 12-byte header kept, its seq written as the difference from the stream's last seq + 1 (0 when in order). */
function seqDelta(frame: Buffer, lastSeq: Map<number, number>): Buffer {
  const streamId = frame.readUInt32BE(4);
  if (streamId === 0) return frame;
  const seq = frame.readUInt32BE(8);
  const last = lastSeq.get(streamId);
  lastSeq.set(streamId, seq);
  const copy = Buffer.from(frame);
  copy.writeUInt32BE((seq - (last === undefined ? 0 : last + 1)) >>> 0, 8);
  return copy;
}

interface Variant {
  name: string;
  level: number;
  memLevel?: number;
  outerPrefix: 'u32' | 'varint';
  tagBytes: number;
  innerLength: 'u32' | 'varint' | 'implied-last';
  header: 'full' | 'compact' | 'compact-implied-seq' | 'seq-delta';
  dictionary?: Buffer;
}

function cost(messages: Message[], v: Variant): number[] {
  const deflater = new StreamDeflater({ level: v.level });
  if (v.dictionary) deflater.compress(v.dictionary); // priming: both sides would do it, nothing sent
  const lastSeq = new Map<number, number>();
  return messages.map((m) => {
    if (!m.compressed) {
      const n = m.frames[0]!.length;
      return n + (v.outerPrefix === 'u32' ? 4 : varint(n).length);
    }
    const parts: Buffer[] = [];
    m.frames.forEach((f, i) => {
      const body = v.header === 'full' ? f : v.header === 'seq-delta' ? seqDelta(f, lastSeq) : compactFrame(f, lastSeq, v.header === 'compact-implied-seq');
      if (v.innerLength === 'u32') { const p = Buffer.alloc(4); p.writeUInt32BE(body.length); parts.push(p); }
      else if (v.innerLength === 'varint' || i < m.frames.length - 1) parts.push(Buffer.from(varint(body.length)));
      parts.push(body);
    });
    const wire = deflater.compress(Buffer.concat(parts)).length + v.tagBytes;
    return wire + (v.outerPrefix === 'u32' ? 4 : varint(wire).length);
  });
}

const base: Variant = { name: 'now: u32 + tag + deflate(u32 + 12 B header)', level: 6, outerPrefix: 'u32', tagBytes: 1, innerLength: 'u32', header: 'full' };
const variants: Variant[] = [
  base,
  { ...base, name: 'varint outer prefix', outerPrefix: 'varint' },
  { ...base, name: 'varint outer, tag in prefix', outerPrefix: 'varint', tagBytes: 0 },
  { ...base, name: '+ varint inner lengths', outerPrefix: 'varint', tagBytes: 0, innerLength: 'varint' },
  { ...base, name: '+ last inner length implied', outerPrefix: 'varint', tagBytes: 0, innerLength: 'implied-last' },
  { ...base, name: '+ compact header', outerPrefix: 'varint', tagBytes: 0, innerLength: 'implied-last', header: 'compact' },
  { ...base, name: '+ implied seq', outerPrefix: 'varint', tagBytes: 0, innerLength: 'implied-last', header: 'compact-implied-seq' },
  { ...base, name: 'u32 outer, tag, seq delta', header: 'seq-delta' },
  { ...base, name: 'varint outer, tag, seq delta', outerPrefix: 'varint', header: 'seq-delta' },
  { ...base, name: 'varint outer, no tag, seq delta', outerPrefix: 'varint', tagBytes: 0, header: 'seq-delta' },
  { ...base, name: 'varint outer, tag, seq delta, level 9', level: 9, outerPrefix: 'varint', header: 'seq-delta' },
  { ...base, name: 'varint outer, tag, seq delta, level 1', level: 1, outerPrefix: 'varint', header: 'seq-delta' },
  { ...base, name: '+ implied seq, level 9', level: 9, outerPrefix: 'varint', tagBytes: 0, innerLength: 'implied-last', header: 'compact-implied-seq' },
  { ...base, name: 'compact, tag kept, level 9', level: 9, outerPrefix: 'varint', tagBytes: 1, innerLength: 'implied-last', header: 'compact-implied-seq' },
];

for (const topology of ['T1', 'T2']) {
  const marksPath = join(dir, `${topology}-marks.json`);
  if (!existsSync(marksPath)) continue;
  const { calls, marks } = JSON.parse(readFileSync(marksPath, 'utf8')) as { calls: number; marks: Record<string, Array<{ up: number; down: number }>> };
  const dirs = ['up', 'down'] as const;
  const streams = dirs.map((d) => parse(readFileSync(join(dir, `${topology}-0-${d}.bin`))));
  console.log(`\n${topology} (${calls} sequential calls, ${calls * 2} at 64 in flight): link bytes per call, both directions`);
  for (const v of variants) {
    const perPhase = (from: string, to: string, n: number) => {
      let sum = 0;
      streams.forEach((messages, i) => {
        const costs = cost(messages, v);
        const lo = marks[from]![0]![dirs[i]!];
        const hi = marks[to]![0]![dirs[i]!];
        messages.forEach((m, j) => { if (m.end > lo && m.end <= hi) sum += costs[j]!; });
      });
      return sum / n;
    };
    console.log(`${v.name.padEnd(48)} seq ${perPhase('seq', 'c64', calls).toFixed(1).padStart(6)}  c64 ${perPhase('c64', 'end', calls * 2).toFixed(1).padStart(6)}`);
  }
  // What the frames are, per phase (first direction's kinds).
  const kinds = new Map<string, { n: number; bytes: number }>();
  streams.forEach((messages, i) => messages.forEach((m) => {
    if (m.end <= marks.seq![0]![dirs[i]!] || m.end > marks.c64![0]![dirs[i]!]) return;
    for (const f of m.frames) { const k = `${dirs[i]} 0x${f[0]!.toString(16)}`; const e = kinds.get(k) ?? { n: 0, bytes: 0 }; e.n++; e.bytes += f.length; kinds.set(k, e); }
  }));
  console.log('sequential phase, plain frames per call:', [...kinds].map(([k, e]) => `${k}: ${(e.n / calls).toFixed(2)} × ${(e.bytes / e.n).toFixed(0)} B`).join(', '));
}
