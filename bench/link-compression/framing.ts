// Replays recorded link traffic (capture-s1.ts) through alternative framings of compressed small frames and
// prints link bytes per call for each phase, so a framing change is sized before it is built.
// Run: node --import tsx bench/link-compression/framing.ts [DIR]
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { StreamDeflater } from '../../src/link/stream-deflate.js';
import { StreamDeflateCompressor } from '../../src/link/stream-deflate-compressor.js';
import { FrameReader } from '../../src/link/frame-reader.js';
import { compactPrefixBytes } from '../../src/link/compact-prefix.js';
import { COMPRESSED_MESSAGE_TAG } from '../../src/link/frame.js';
import { newLinkStats } from '../../src/link/link-session.js';

const dir = process.argv[2] ?? '/tmp/hypha-accel-link-capture';

interface Message { frames: Buffer[]; compressed: boolean; wireBytes: number; end: number }

/**
 * The link messages of one direction, after the HTTP upgrade: u32 or compact (varint-v1) prefixes, as the
 * 101 says; compressed ones decoded by the real compressor (stream-deflate-v1 or -v2, as the handshake says).
 */
function parse(bytes: Buffer, compact: boolean, seqDelta: boolean): Message[] {
  let offset = bytes.indexOf('\r\n\r\n') + 4;
  const decoder = new StreamDeflateCompressor({ mode: 'on', stats: newLinkStats(), linkBytesPerUs: () => 0, maxLinkBytesPerUs: 1, seqDelta });
  const reader = new FrameReader(1 << 24, compact ? 'varint' : 'u32');
  const out: Message[] = [];
  reader.push(bytes.subarray(offset), (message) => {
    offset += message.length; // the prefix is added below
    const compressed = message[0] === COMPRESSED_MESSAGE_TAG;
    offset += compact ? compactPrefixBytes(compressed ? (message.length - 1) * 2 + 1 : message.length * 2) - (compressed ? 1 : 0) : 4;
    const frames = decoder.decompress(Buffer.from(message)).map((f) => Buffer.from(f));
    out.push({ frames, compressed, wireBytes: 0, end: offset });
  });
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

const base: Variant = { name: 'u32 + tag + deflate(u32 + 12 B header) (v1)', level: 6, outerPrefix: 'u32', tagBytes: 1, innerLength: 'u32', header: 'full' };
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
  { ...base, name: 'varint outer, no tag, seq delta (shipped)', outerPrefix: 'varint', tagBytes: 0, header: 'seq-delta' },
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
  const raw = dirs.map((d) => readFileSync(join(dir, `${topology}-0-${d}.bin`)));
  const compact = raw[1]!.subarray(0, raw[1]!.indexOf('\r\n\r\n')).toString('latin1').toLowerCase().includes('hypha-accel-link-framing: varint-v1');
  const seqDelta = raw.every((r) => r.includes('stream-deflate-v2'));
  const streams = raw.map((r) => parse(r, compact, seqDelta));
  console.log(`\n${topology}: recorded with ${compact ? 'compact' : 'u32'} framing, stream-deflate-${seqDelta ? 'v2' : 'v1'}`);
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
