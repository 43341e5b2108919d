// Per-message budget of each proxy's main thread from bench/relay-perf/run.ts's perf samples: every on-CPU
// sample goes to one bucket (first rule that matches its stack, leaf to root), and the bucket's share of the
// main thread's samples times the thread's measured CPU µs per message (schedstat, run.json) gives µs per message.
// Usage: node --import tsx bench/relay-perf/summary.ts DIR [--top N]  (DIR holds perf.txt and run.json)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Frame { sym: string; dso: string }
interface Sample { pid: number; main: boolean; frames: Frame[] } // frames[0] is the leaf

function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.length > 0);
    if (lines.length === 0) continue;
    const head = /^(.*?)\s+(\d+)\/(\d+)\s/.exec(lines[0]!);
    if (!head) continue;
    const frames = lines.slice(1).map((l) => {
      const m = /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(l);
      return m ? { sym: m[1]!, dso: m[2]! } : { sym: l.trim(), dso: '' };
    });
    samples.push({ pid: Number(head[2]), main: head[2] === head[3], frames });
  }
  return samples;
}

const srcFile = (f: Frame) => /file:\/\/\/.*?\/src\/([^:]+):/.exec(f.sym)?.[1];

// The budget's buckets: src files by the stage they belong to.
const GROUPS: Array<[string, RegExp]> = [
  ['ingress parse (ws hook, parser, unmask, follower)', /^net\/(ingress-|ws-mask|frame-follower|ws-frame-header|ws-splice)/],
  ['endpoint writer (writer, turn flush, batch write)', /^net\/(endpoint-writer|turn-flush|batch-write|write-coalescing)/],
  ['link framing (frame batch/reader, prefix, compressor, tcp transport)', /^(link\/(frame|compact-prefix|link-compressor|stream-deflate)|net\/(tcp-link|ws-link))/],
  ['link session / scheduler (session pump, send queues, acks, clock)', /^link\/(link-session|send-queues|ack-scheduler|pacing|clock|establish|link-pool)/],
  ['stream / session binding (stream, resume log, bind-endpoint)', /^(link\/(stream|resumable|retransmit|deque|session-)|net\/bind-endpoint|net\/read-ticks)/],
  ['codec', /^codec\//],
  ['roles (edge, gateway, roles)', /^(edge|gateway|roles)\//],
];

function bucket(s: Sample): string {
  const leaf = s.frames[0]!;
  if (leaf.dso.includes('kernel')) return 'kernel (syscalls, TCP, scheduler)';
  const syms = s.frames.map((f) => f.sym);
  if (syms.some((x) => /v8::internal::(Heap|Scavenger|MarkCompact|MinorMarkSweep|ConcurrentMarking|IncrementalMarking|GCTracer)|Builtins_RecordWrite/.test(x)) && !leaf.sym.startsWith('JS:')) return 'GC and write barriers';
  if (syms.some((x) => /v8::internal::(compiler|maglev|baseline)::|v8::internal::Compiler::|OptimizingCompile/.test(x))) return 'JIT compile on the main thread';
  if (s.frames.some((f) => /\/src\/(observe\/|events\.ts)/.test(f.sym) || f.sym.includes('node:diagnostics_channel'))) return 'observers (events, call tracker, metrics)';
  for (const f of s.frames) {
    const file = srcFile(f);
    if (!file) continue;
    for (const [name, re] of GROUPS) if (re.test(file)) return name;
    return `other src (${file})`;
  }
  if (s.frames.some((f) => f.sym.startsWith('JS:'))) return "Node's JS (net, streams, events, timers) with no src frame";
  return 'native outside JS (libuv, Node C++, libc, idle epoll)';
}

function leafKind(f: Frame): string {
  if (f.dso.includes('kernel')) return 'kernel';
  if (f.sym.startsWith('JS:')) return 'JIT code';
  if (f.sym.startsWith('Builtins_')) return 'V8 builtin';
  if (f.sym.startsWith('v8::')) return 'V8 C++';
  if (f.dso.includes('libc')) return 'libc';
  if (f.sym.startsWith('node::') || f.sym.startsWith('uv')) return 'Node C++ / libuv';
  return 'other native';
}

function main(): void {
  const args = process.argv.slice(2);
  const dir = args[0]!;
  const top = args.includes('--top') ? Number(args[args.indexOf('--top') + 1]) : 12;
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { pids: Record<string, number>; figures: Record<string, number> };
  const samples = parse(readFileSync(join(dir, 'perf.txt'), 'utf8'));
  for (const [role, pid] of Object.entries(run.pids)) {
    const mine = samples.filter((s) => s.pid === pid);
    const main = mine.filter((s) => s.main);
    const usMain = run.figures[`${role}_main_thread_cpu_us_per_msg_64_in_flight`]!;
    const usAll = run.figures[`${role}_cpu_us_per_msg_64_in_flight`]!;
    const perSample = usMain / main.length;
    console.log(`\n## ${role}: main thread ${usMain.toFixed(1)} µs per message (all threads ${usAll.toFixed(1)}); ${main.length} main-thread samples, ${mine.length - main.length} on other threads`);
    const byBucket = new Map<string, Sample[]>();
    for (const s of main) byBucket.set(bucket(s), [...(byBucket.get(bucket(s)) ?? []), s]);
    console.log('\n| bucket | share | µs/msg | leaf: JIT / builtin / V8 C++ / kernel / other |\n|---|---|---|---|');
    for (const [name, list] of [...byBucket].sort((a, b) => b[1].length - a[1].length)) {
      const kinds = new Map<string, number>();
      for (const s of list) kinds.set(leafKind(s.frames[0]!), (kinds.get(leafKind(s.frames[0]!)) ?? 0) + 1);
      const k = (n: string) => kinds.get(n) ?? 0;
      const otherKinds = list.length - k('JIT code') - k('V8 builtin') - k('V8 C++') - k('kernel');
      console.log(`| ${name} | ${((100 * list.length) / main.length).toFixed(1)}% | ${(list.length * perSample).toFixed(2)} | ${k('JIT code')} / ${k('V8 builtin')} / ${k('V8 C++')} / ${k('kernel')} / ${otherKinds} |`);
    }
    // Leaf symbols overall (self time), and V8 builtins by name (megamorphic ICs, allocation, calls).
    const count = (list: Sample[], key: (s: Sample) => string | undefined) => {
      const m = new Map<string, number>();
      for (const s of list) { const k = key(s); if (k) m.set(k, (m.get(k) ?? 0) + 1); }
      return [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
    };
    console.log(`\nSelf (leaf), top ${top}:`);
    for (const [sym, n] of count(main, (s) => s.frames[0]!.sym)) console.log(`  ${(n * perSample).toFixed(2)} µs  ${((100 * n) / main.length).toFixed(1)}%  ${sym}`);
    console.log('\nV8 builtins as leaf, with the nearest JS caller:');
    for (const [sym, n] of count(main, (s) => (s.frames[0]!.sym.startsWith('Builtins_') ? `${s.frames[0]!.sym} <- ${s.frames.find((f) => f.sym.startsWith('JS:'))?.sym ?? '?'}` : undefined))) console.log(`  ${(n * perSample).toFixed(2)} µs  ${sym}`);
    console.log('\nInclusive by src file (any frame in the stack):');
    const files = new Map<string, number>();
    for (const s of main) for (const f of new Set(s.frames.map(srcFile).filter((x): x is string => x !== undefined))) files.set(f, (files.get(f) ?? 0) + 1);
    for (const [file, n] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top * 2)) console.log(`  ${(n * perSample).toFixed(2)} µs  ${((100 * n) / main.length).toFixed(1)}%  ${file}`);
  }
}

main();
