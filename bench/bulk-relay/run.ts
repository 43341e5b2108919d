// Bulk through the relay pair on loopback, arms interleaved, without hypha or Python: a Node client sends
// 256 KiB binary messages (hypha-rpc's chunk size, up to 30 in flight as it sends them) through edge and
// gateway to an echo server standing in for hypha (echo-server.ts), so each proxy carries every byte in
// both directions, as in the bench's T2. Per proxy and MB sent: CPU (every thread, schedstat), read- and
// write-like system calls (/proc/PID/io), main-thread wake-ups and minor page faults; wall-clock only as
// ratios within a round. Arms: this checkout (`branch`), `--baseline-root DIR` (another checkout), and
// `null` (two plain TCP pipes, bench/runner/null-relay.ts, where edge and gateway stand). The edge runs as
// in the bench's accel arm (--links 2, --shm false), without the emulator between the two.
// Usage: node --import tsx bench/bulk-relay/run.ts [--rounds 4] [--mib 64] [--link tcp|unix|ws]
//   [--baseline-root DIR] [--no-null] [--out FILE] [--cpu-prof-dir DIR] [--idle-s N] [--branch-node-args "FLAGS"]
//   [--baseline-node-args "FLAGS"] [--branch-env K=V ...]
// HYPHA_ACCEL_BENCH_PROXY_NODE_ARGS="--flag ..." adds node/V8 flags to the proxies, as in the bench.
// BULK_RELAY_GC_LOG=FILE appends every trace line of the proxies (with --trace-gc among those flags) to FILE.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/helpers/hypha-server.js';
import { writeSecret } from '../../test/helpers/accel-pair.js';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';
import { threadCpuNs as cpuNs } from '../runner/proc-stats.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const rounds = Number(option('rounds', '4'));
const mib = Number(option('mib', '64'));
const link = option('link', 'tcp');
const baselineRoot = args.includes('--baseline-root') ? option('baseline-root', '') : undefined;
const withNull = !args.includes('--no-null');
const outFile = option('out', '');
/** Seconds each arm sits idle before each measured transfer (the bench runs other arms between two of a pair's transfers). */
const idleSeconds = Number(option('idle-s', '0'));
/** node/V8 flags for the `branch` arm's proxies only (e.g. against `--baseline-root .`: the same code with and without them). */
const branchNodeArgs = option('branch-node-args', '').split(' ').filter(Boolean);
/** node/V8 flags for the `baseline` arm's proxies only (e.g. `--max-semi-space-size=0`: V8's default back, as the base's launchers had it). */
const baselineNodeArgs = option('baseline-node-args', '').split(' ').filter(Boolean);
/** `--branch-env K=V` (repeatable): environment for the `branch` arm's proxies only (e.g. GLIBC_TUNABLES against `--baseline-root .`). */
const branchEnv = Object.fromEntries(args.flatMap((a, i) => (a === '--branch-env' ? [args[i + 1]!] : [])).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
/** Set: each proxy of the `branch` and `baseline` arms writes a --cpu-prof profile into DIR/<arm>-<role>/. */
const profDir = option('cpu-prof-dir', '');

interface Listener { child: ChildProcess; port: number }

/** Garbage collections a process reported so far (with --trace-gc in HYPHA_ACCEL_BENCH_PROXY_NODE_ARGS), by pid. */
const gcCounts = new Map<number, { scavenges: number; markCompacts: number }>();

async function startListener(command: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Listener> {
  const child = spawn(process.execPath, command, { stdio: ['ignore', 'pipe', 'inherit'], cwd, env });
  const gc = { scavenges: 0, markCompacts: 0 };
  gcCounts.set(child.pid!, gc);
  let listening: (port: number) => void;
  const port = new Promise<number>((resolve) => (listening = resolve));
  // stdout is read to its end: a full pipe would stall the process (--trace-gc writes a line per collection).
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (process.env.BULK_RELAY_GC_LOG && line.includes(' ms: ')) appendFileSync(process.env.BULK_RELAY_GC_LOG, `${child.pid} ${line}\n`);
    if (line.includes('Scavenge')) gc.scavenges++;
    else if (line.includes('Mark-Compact')) gc.markCompacts++;
    else if (line.startsWith('{')) {
      const event = JSON.parse(line) as { event: string; port: number };
      if (event.event === 'listening') listening(event.port);
    }
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', () => reject(new Error(`${command.join(' ')} exited before listening`))));
  return { child, port: await Promise.race([port, exited]) };
}

const proxy = (root: string, role: 'edge' | 'gateway', flags: string[], arm: string) =>
  startListener([...LAUNCHER_NODE_FLAGS, ...(process.env.HYPHA_ACCEL_BENCH_PROXY_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(arm === 'branch' ? branchNodeArgs : arm === 'baseline' ? baselineNodeArgs : []), ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', join(profDir, `${arm}-${role}`)] : []), '--import', 'tsx', join(root, 'src/cli.ts'), role, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn', ...flags], root, arm === 'branch' ? { ...process.env, ...branchEnv } : process.env);
const nullRelay = (target: number) => startListener(['--import', 'tsx', join(REPO_ROOT, 'bench/runner/null-relay.ts'), '--target', `127.0.0.1:${target}`], REPO_ROOT);

/**
 * Counters of a process so far: CPU ns (the main thread's part; the kernel's part, in 10 ms ticks), read-/write-like syscalls
 * and their bytes (rchar/wchar: sizes per call), main-thread wake-ups, minor faults.
 */
function counters(pid: number): Record<string, number> {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (text: string, name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const gc = gcCounts.get(pid) ?? { scavenges: 0, markCompacts: 0 };
  const mainNs = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
  return { cpuNs: cpuNs(pid), mainThreadMs: mainNs / 1e6, systemMs: Number(stat[12]) * 10, reads: field(io, 'syscr'), writes: field(io, 'syscw'), readBytes: field(io, 'rchar'), writeBytes: field(io, 'wchar'), wakeups: field(status, 'voluntary_ctxt_switches'), minorFaults: Number(stat[7]), ...gc };
}

interface Arm { name: string; edge: Listener; gateway: Listener; client: { child: ChildProcess; lines: AsyncIterator<string> } }

async function startClient(port: number): Promise<Arm['client']> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/bulk-relay/client.ts'), `ws://127.0.0.1:${port}/ws`], { stdio: ['pipe', 'pipe', 'inherit'], cwd: REPO_ROOT });
  const lines = (createInterface({ input: child.stdout! }) as Interface)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'ready') throw new Error(`client did not connect: ${String(first.value)}`);
  return { child, lines };
}

async function transfer(arm: Arm, size: number): Promise<Record<string, number>> {
  const pids = { edge: arm.edge.child.pid!, gateway: arm.gateway.child.pid! };
  const before = { edge: counters(pids.edge), gateway: counters(pids.gateway) };
  arm.client.child.stdin!.write(`go ${size}\n`);
  const line = await arm.client.lines.next();
  const after = { edge: counters(pids.edge), gateway: counters(pids.gateway) };
  const { seconds } = JSON.parse(line.value as string) as { seconds: number };
  const mb = (size * 1024 * 1024) / 1e6;
  const out: Record<string, number> = { seconds, mbPerSec: mb / seconds };
  for (const role of ['edge', 'gateway'] as const) {
    for (const key of Object.keys(before[role])) {
      const delta = after[role][key]! - before[role][key]!;
      out[`${role}_${key === 'cpuNs' ? 'cpuMsPerMB' : `${key}PerMB`}`] = key === 'cpuNs' ? delta / 1e6 / mb : delta / mb;
    }
  }
  return out;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const echo = await startListener(['--import', 'tsx', join(REPO_ROOT, 'bench/bulk-relay/echo-server.ts')], REPO_ROOT);
  const secret = writeSecret();
  const arms: Arm[] = [];
  const pairArm = async (name: string, root: string) => {
    const socketPath = link === 'unix' ? join(mkdtempSync(join(tmpdir(), 'bulk-relay-')), 'link.sock') : undefined;
    const gateway = await proxy(root, 'gateway', ['--hypha-url', `http://127.0.0.1:${echo.port}`, '--secret-file', secret, ...(socketPath ? ['--link-socket-path', socketPath] : [])], name);
    const edge = await proxy(root, 'edge', ['--gateway-url', socketPath ? `unix://${socketPath}` : `${link}://127.0.0.1:${gateway.port}`, '--secret-file', secret, '--links', '2', '--shm', 'false'], name);
    arms.push({ name, edge, gateway, client: await startClient(edge.port) });
  };
  await pairArm('branch', REPO_ROOT);
  if (baselineRoot) await pairArm('baseline', baselineRoot);
  if (withNull) {
    const gateway = await nullRelay(echo.port);
    const edge = await nullRelay(gateway.port);
    arms.push({ name: 'null', edge, gateway, client: await startClient(edge.port) });
  }
  const results: Record<string, Array<Record<string, number>>> = Object.fromEntries(arms.map((a) => [a.name, []]));
  /** Each arm's first transfer (its proxies' first traffic: JIT and fresh pages), reported apart. */
  const warmups: Record<string, Record<string, number>> = {};
  try {
    // Warm-up: each proxy's first transfers fault in fresh pages (bench/results/README.md); not measured.
    for (const arm of arms) {
      warmups[arm.name] = await transfer(arm, mib);
      process.stderr.write(`warm-up ${arm.name}: edge ${warmups[arm.name]!.edge_cpuMsPerMB!.toFixed(2)} gateway ${warmups[arm.name]!.gateway_cpuMsPerMB!.toFixed(2)} ms/MB, faults/MB ${warmups[arm.name]!.edge_minorFaultsPerMB!.toFixed(0)} ${warmups[arm.name]!.gateway_minorFaultsPerMB!.toFixed(0)}\n`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const arm of round % 2 === 0 ? arms : [...arms].reverse()) {
        if (idleSeconds > 0) await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
        const r = await transfer(arm, mib);
        process.stderr.write(`round ${round + 1}/${rounds} ${arm.name}: ${r.mbPerSec!.toFixed(1)} MB/s, edge ${r.edge_cpuMsPerMB!.toFixed(2)} gateway ${r.gateway_cpuMsPerMB!.toFixed(2)} ms/MB, faults/MB ${r.edge_minorFaultsPerMB!.toFixed(0)} ${r.gateway_minorFaultsPerMB!.toFixed(0)}\n`);
        results[arm.name]!.push(r);
      }
    }
  } finally {
    for (const arm of arms) for (const child of [arm.client.child, arm.edge.child, arm.gateway.child]) child.kill('SIGTERM');
    echo.child.kill('SIGTERM');
  }
  const summary = Object.fromEntries(Object.entries(results).map(([arm, runs]) => [arm, Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k]!))]))]));
  // Per round, branch over each other arm (they ran next to each other): geometric mean and rounds below 1.
  const ratios: Record<string, Record<string, { geomean: number; roundsBelowOne: number }>> = {};
  for (const other of Object.keys(results).filter((a) => a !== 'branch')) {
    ratios[`branch_over_${other}`] = Object.fromEntries(Object.keys(results.branch![0]!).map((key) => {
      const perRound = results.branch!.map((r, i) => r[key]! / results[other]![i]![key]!);
      return [key, { geomean: Math.exp(perRound.reduce((s, r) => s + Math.log(r), 0) / perRound.length), roundsBelowOne: perRound.filter((r) => r < 1).length }];
    }));
  }
  const report = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
    loadAverage: { start: loadAtStart, end: loadavg() },
    idleSeconds, branchNodeArgs, baselineNodeArgs, branchEnv, proxyNodeFlags: LAUNCHER_NODE_FLAGS,
    setup: `${mib} MiB per transfer in 256 KiB messages, 30 in flight, echoed (each proxy carries it both ways); link ${link}; one warm-up transfer per arm; MB = 1e6 bytes sent`,
    rounds, ...(baselineRoot ? { baselineRoot } : {}),
    summary, ratios, warmups, rounds_raw: results,
  };
  const text = JSON.stringify(report, null, 2) + '\n';
  if (outFile) writeFileSync(outFile, text);
  process.stdout.write(JSON.stringify({ summary, ratios }, null, 1) + '\n');
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
