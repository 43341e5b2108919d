// Counts what one small message costs each proxy in system calls, event-loop wake-ups, link frames and
// scheduled callbacks (issue 11, item 4), against the null relay (plain TCP pipes where the proxies stand).
// Usage: node --import tsx bench/wake-count/run.ts [--calls 300] [--warmup 300] [--phase sequential|concurrent] [--root DIR] [--out FILE]
// Real hypha, the real Python client (bench/relay-overhead/echo_bench.py), TCP link. During the chosen phase
// every thread of each relay process is traced with `strace -f` (slow: only counts are reported, never
// times); the proxies run with bench/wake-count/count-callbacks.ts preloaded, so timers, setImmediate,
// nextTick and microtasks queued are counted too; link frames by kind come from each proxy's /metrics.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { REPO_ROOT, VENV_PYTHON, startHyphaServer } from '../../test/helpers/hypha-server.js';
import { writeSecret } from '../../test/helpers/accel-pair.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const calls = Number(arg('calls', '300'));
const phase = arg('phase', 'sequential');
const warmup = Number(arg('warmup', '300'));
// --strace false: no tracing, so the CPU per thread (cpuNs:*, in the callback counts) is not inflated by it.
const traceSyscalls = arg('strace', 'true') !== 'false';
const root = arg('root', REPO_ROOT);
const MESSAGES_PER_CALL = 4; // both clients behind the edge: call and reply each pass both proxies twice
const COUNTER = join(REPO_ROOT, 'bench/wake-count/count-callbacks.ts');

interface Relay { name: string; child: ChildProcess; url: string; port: number; admin?: string }

async function start(name: string, argv: string[], cwd: string, env: Record<string, string> = {}): Promise<Relay> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], cwd, env: { ...process.env, ...env } });
  for await (const line of createInterface({ input: child.stdout! })) {
    const event = JSON.parse(line) as { event: string; url: string; port: number; admin?: string };
    if (event.event === 'listening') return { name, child, url: event.url, port: event.port, admin: event.admin };
  }
  throw new Error(`${name} exited before listening`);
}

function startProxy(role: 'edge' | 'gateway', flags: string[], countDir: string): Promise<Relay> {
  return start(role, ['--import', 'tsx', '--import', COUNTER, join(root, 'src/cli.ts'), role, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn', ...flags], root, { WAKE_COUNT_FILE: join(countDir, role) });
}

/** `hypha_accel_link_wire_frames_total` by kind and direction. */
async function frameCounts(relay: Relay): Promise<Record<string, number>> {
  if (!relay.admin) return {};
  const text = await (await fetch(`${relay.admin}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^hypha_accel_link_wire_frames_total\{kind="(\w+)",direction="(\w+)"[^}]*\} (\d+)/gm)) out[`${m[1]}_${m[2]}`] = Number(m[3]);
  return out;
}

/** Callback counts the preload wrote on SIGUSR2 (one JSON object). */
async function callbackCounts(relay: Relay, countDir: string): Promise<Record<string, number>> {
  const file = join(countDir, relay.name);
  rmSync(file, { force: true });
  relay.child.kill('SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    try {
      return { ...(JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>), minorFaults: minorFaults(relay.child.pid!), ...threadCpu(relay.child.pid!) };
    } catch { /* not written yet */ }
  }
  return {};
}

/** CPU ns so far per thread name (/proc/PID/task/TID/comm and schedstat): main thread, V8 workers, libuv pool. */
function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/[0-9]+$/, '');
      out[`cpuNs:${name}`] = (out[`cpuNs:${name}`] ?? 0) + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* the thread ended */ }
  }
  return out;
}

/** Minor page faults of the process so far (/proc/PID/stat field 10): fresh memory touched, e.g. a new GC space. */
function minorFaults(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[7]);
}

function startStrace(pid: number, file: string): ChildProcess {
  return spawn('strace', ['-f', '-qq', '-o', file, '-p', String(pid)], { stdio: 'ignore' });
}

/** Per syscall name: calls on the main thread (tid = pid) and on other threads. */
function parseStrace(file: string, pid: number): Record<string, { main: number; other: number }> {
  const out: Record<string, { main: number; other: number }> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\d+)\s+(?:<\.\.\. )?(\w+)[( ]/.exec(line);
    if (!m || line.includes('resumed>') || m[2] === 'exit' || line.includes('+++')) continue;
    const entry = (out[m[2]!] ??= { main: 0, other: 0 });
    if (Number(m[1]) === pid) entry.main++;
    else entry.other++;
  }
  return out;
}

const diff = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => Object.fromEntries(Object.keys(b).map((k) => [k, (b[k]! - (a[k] ?? 0))]).filter(([, v]) => v !== 0));

async function main(): Promise<void> {
  const loadStart = loadavg();
  const work = mkdtempSync(join(tmpdir(), 'wake-count-'));
  const hypha = await startHyphaServer({ env: { HYPHA_WS_MSG_RATE_LIMIT: '100000', HYPHA_WS_MSG_BURST_LIMIT: '100000' } });
  const secret = writeSecret();
  const relays: Relay[] = [];
  try {
    const gateway = await startProxy('gateway', ['--hypha-url', hypha.url, '--secret-file', secret], work);
    relays.push(gateway);
    const edge = await startProxy('edge', ['--gateway-url', `tcp://127.0.0.1:${gateway.port}`, '--secret-file', secret], work);
    relays.push(edge);
    const nullRelay = join(REPO_ROOT, 'bench/runner/null-relay.ts');
    const hyphaPort = new URL(hypha.url).port;
    const nullGateway = await start('null-gateway', ['--import', 'tsx', '--import', COUNTER, nullRelay, '--target', `127.0.0.1:${hyphaPort}`], REPO_ROOT, { WAKE_COUNT_FILE: join(work, 'null-gateway') });
    relays.push(nullGateway);
    const nullEdge = await start('null-edge', ['--import', 'tsx', '--import', COUNTER, nullRelay, '--target', `127.0.0.1:${nullGateway.port}`], REPO_ROOT, { WAKE_COUNT_FILE: join(work, 'null-edge') });
    relays.push(nullEdge);
    const report: Record<string, unknown> = { date: new Date().toISOString(), calls, phase, root, messagesPerCall: MESSAGES_PER_CALL };
    for (const [arm, url, pair] of [['accelerated', edge.url, [edge, gateway]], ['null relay', nullEdge.url, [nullEdge, nullGateway]]] as const) {
      // A warm-up run first: a fresh process spends its first calls compiling (futex wake-ups of V8's threads).
      execFileSync(VENV_PYTHON, [join(REPO_ROOT, 'bench/relay-overhead/echo_bench.py'), url, String(warmup), String(warmup)], { stdio: 'ignore' });
      const child = spawn(VENV_PYTHON, [join(REPO_ROOT, 'bench/relay-overhead/echo_bench.py'), url, String(calls), String(calls), '--marks'], { stdio: ['pipe', 'pipe', 'ignore'] });
      const traces: Array<{ relay: Relay; strace: ChildProcess; file: string }> = [];
      let before: Array<{ frames: Record<string, number>; callbacks: Record<string, number> }> = [];
      const perMessage: Record<string, unknown> = {};
      for await (const line of createInterface({ input: child.stdout! })) {
        if (!line.startsWith('mark ')) continue;
        const mark = line.slice(5);
        if (mark === phase) {
          before = await Promise.all(pair.map(async (r) => ({ frames: await frameCounts(r), callbacks: await callbackCounts(r, work) })));
          for (const relay of pair) {
            const file = join(work, `${relay.name}.strace`);
            if (traceSyscalls) traces.push({ relay, strace: startStrace(relay.child.pid!, file), file });
          }
          if (traceSyscalls) await new Promise((r) => setTimeout(r, 1000)); // strace attached to every thread
        } else if (before.length > 0 && Object.keys(perMessage).length === 0) {
          for (const t of traces) {
            t.strace.kill('SIGINT');
            await new Promise((r) => t.strace.once('exit', r));
          }
          const messages = calls * MESSAGES_PER_CALL;
          for (const [i, relay] of pair.entries()) {
            const frames = diff(before[i]!.frames, await frameCounts(relay));
            const callbacks = diff(before[i]!.callbacks, await callbackCounts(relay, work));
            const sys = traceSyscalls ? parseStrace(traces[i]!.file, relay.child.pid!) : {};
            const per = (n: number) => Math.round((n / messages) * 100) / 100;
            perMessage[relay.name] = {
              syscallsMainThread: Object.fromEntries(Object.entries(sys).filter(([, v]) => v.main > 0).sort((a, b) => b[1].main - a[1].main).map(([k, v]) => [k, per(v.main)])),
              syscallsOtherThreads: Object.fromEntries(Object.entries(sys).filter(([, v]) => v.other > 0).sort((a, b) => b[1].other - a[1].other).map(([k, v]) => [k, per(v.other)])),
              framesPerMessage: Object.fromEntries(Object.entries(frames).map(([k, v]) => [k, per(v)])),
              callbacksPerMessage: Object.fromEntries(Object.entries(callbacks).map(([k, v]) => [k, per(v)])),
            };
          }
        }
        child.stdin!.write('\n');
      }
      report[arm] = perMessage;
    }
    report.loadAverage = { start: loadStart, end: loadavg() };
    const text = JSON.stringify(report, null, 2) + '\n';
    process.stdout.write(text);
    const out = arg('out', '');
    if (out) writeFileSync(out, text);
  } finally {
    for (const relay of relays.reverse()) {
      relay.child.kill('SIGTERM');
      await new Promise((r) => (relay.child.exitCode !== null ? r(undefined) : relay.child.once('exit', r)));
    }
    await hypha.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
