// The relay pair's own overhead on loopback (issue 2): small-call latency and throughput with the real
// Python client, direct vs through edge+gateway, arms interleaved; and each proxy's RSS with 100 idle
// sessions. Usage: node --import tsx bench/relay-overhead/run.ts [--rounds 3] [--calls 300] [--link ws|tcp]
// [--baseline-root DIR] [--env K=V]... [--baseline-env K=V]... [--flag F]... [--baseline-flag F]...
// [--node-arg F]... [--baseline-node-arg F]...  (node/V8 flags NODE_OPTIONS refuses, e.g. --trace-deopt)
// [--warmup N]: before round 1, one unmeasured client run of N calls through each pair, so the rounds measure
// warm proxies (V8 still tiers functions up and collects feedback for ~20k messages: issue 11, warm17 notes).
// RELAY_OVERHEAD_STDOUT_DIR=DIR: each proxy's stdout after its listening line (V8's --trace-* output) goes to
// DIR/<pair role>.log, with a `### <round> <arm> <mark>` line written at each of the echo client's marks.
// CPU per call and per message of each proxy is sampled (all threads, /proc/PID/task/*/schedstat) at the
// echo client's phase marks; both clients sit behind the edge, so each call is 4 messages through each proxy.
// Also per message: read-like and write-like system calls (/proc/PID/io) and main-thread wake-ups.
// Each proxy has its own admin port (metrics on, as deployed; the default ports may be taken by others).
// Proxies run with the launchers' V8 flags (src/config/node-flags.ts LAUNCHER_NODE_FLAGS), as deployed, since
// 2026-12-01T14 (RELAY_OVERHEAD_SHIPPED_FLAGS=0: without, as every earlier row ran); the json says `proxyNodeFlags`.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { REPO_ROOT, VENV_PYTHON, startHyphaServer } from '../../test/helpers/hypha-server.js';
import { writeSecret } from '../../test/helpers/accel-pair.js';
import { threadCpuNs as cpuNs } from '../runner/proc-stats.js';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';

/** CPU nanoseconds of the main thread (the event loop) alone; the rest of cpuNs is V8's and libuv's helper threads. */
function mainThreadCpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
}
import { rawConnect, handshakeMessage } from '../../test/helpers/raw-ws.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const rounds = option('rounds', 3);
const calls = option('calls', 300);
const idleSessions = option('idle', 100);
const warmupCalls = option('warmup', 0);
const linkScheme = args.includes('--link') ? args[args.indexOf('--link') + 1]! : 'ws';
// Another checkout of the repository (its node_modules installed): a second pair runs from it as arm
// `baseline`, interleaved with the others, so a change is measured against its base under the same load.
// --env / --baseline-env K=V (repeatable): extra environment of the accelerated / baseline pair. With
// --baseline-env and no --baseline-root the baseline runs this checkout: an A/B of one setting, same code.
const envOf = (name: string): Record<string, string> => Object.fromEntries(args.flatMap((a, i) => {
  if (a !== `--${name}`) return [];
  const kv = args[i + 1]!;
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new Error(`--${name} wants K=V, got ${kv}`);
  return [[kv.slice(0, eq), kv.slice(eq + 1)]];
}));
const accelEnv = envOf('env');
const baselineEnv = envOf('baseline-env');
// --flag / --baseline-flag F (repeatable, one token such as `--admin-listen=`): appended to that pair's command
// line (the last of a repeated flag wins). With --baseline-flag and no --baseline-root the baseline runs this checkout.
const flagsOf = (name: string): string[] => args.flatMap((a, i) => (a === `--${name}` ? [args[i + 1]!] : []));
const accelFlags = flagsOf('flag');
const baselineFlags = flagsOf('baseline-flag');
const accelNodeArgs = flagsOf('node-arg');
const baselineNodeArgs = flagsOf('baseline-node-arg');
const baselineRoot = args.includes('--baseline-root') ? args[args.indexOf('--baseline-root') + 1]! : Object.keys(baselineEnv).length > 0 || baselineFlags.length > 0 || baselineNodeArgs.length > 0 ? REPO_ROOT : undefined;
const MESSAGES_PER_CALL = 4;

interface Proxy { child: ChildProcess; url: string; port: number; log?: WriteStream }

const SHIPPED_NODE_FLAGS = process.env.RELAY_OVERHEAD_SHIPPED_FLAGS === '0' ? [] : LAUNCHER_NODE_FLAGS;

// Each proxy's stdout (V8 traces) goes to RELAY_OVERHEAD_STDOUT_DIR/<name>.log (RELAY_OVERHEAD_TRACE_DIR: the same).
const stdoutDir = process.env.RELAY_OVERHEAD_STDOUT_DIR ?? process.env.RELAY_OVERHEAD_TRACE_DIR;

async function startRole(role: 'edge' | 'gateway', flags: string[], root = REPO_ROOT, profName: string = role, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Proxy> {
  const profDir = process.env.RELAY_OVERHEAD_CPU_PROF_DIR; // set: each proxy writes a --cpu-prof profile there
  // RELAY_OVERHEAD_CPU_PROF_INTERVAL_US: the sampling interval (V8's default 1000 µs sees few samples of a ~100 µs message).
  const intervalUs = process.env.RELAY_OVERHEAD_CPU_PROF_INTERVAL_US;
  const prof = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${profName}.cpuprofile`, ...(intervalUs ? [`--cpu-prof-interval=${intervalUs}`] : [])] : [];
  // The launchers' V8 flags, as deployed (RELAY_OVERHEAD_SHIPPED_FLAGS=0: none, as before 2026-12-01T14);
  // then RELAY_OVERHEAD_NODE_FLAGS (e.g. `--trace-deopt --trace-gc`, refused in NODE_OPTIONS) for every
  // proxy's node, then the arm's own --node-arg / --baseline-node-arg.
  const nodeFlags = [...SHIPPED_NODE_FLAGS, ...(process.env.RELAY_OVERHEAD_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...prof, ...nodeFlags, ...nodeArgs, '--import', 'tsx', join(root, 'src/cli.ts'), role, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn', ...flags], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root, env: { ...process.env, ...env } });
  const log = stdoutDir ? createWriteStream(join(stdoutDir, `${profName}.log`)) : undefined;
  // Every line is read (a trace flag writes a lot: an unread pipe would stall the proxy); lines that are not
  // the listening event go to the log, if any.
  return new Promise((resolve, reject) => {
    let listening = false;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!listening && line.startsWith('{')) {
        const event = JSON.parse(line) as { event: string; url: string; port: number };
        if (event.event === 'listening') {
          listening = true;
          resolve({ child, url: event.url, port: event.port, log });
          return;
        }
      }
      log?.write(line + '\n');
    });
    lines.on('close', () => {
      log?.end();
      if (!listening) reject(new Error(`${role} exited before listening`));
    });
  });
}

function procStats(pid: number): { rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: rssKiB / 1024, cpuSeconds: ticks / 100 };
}

function runEcho(url: string): Record<string, number> {
  const out = execFileSync(VENV_PYTHON, [join(REPO_ROOT, 'bench/relay-overhead/echo_bench.py'), url, String(calls), String(calls * 2)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const line = out.split('\n').find((l) => l.startsWith('{"p50_ms"'));
  if (!line) throw new Error(`echo bench printed no result:\n${out}`);
  return JSON.parse(line) as Record<string, number>;
}

/** An unmeasured client run (not blocking this process: it keeps reading the proxies' stdout meanwhile). */
async function warmUp(url: string): Promise<void> {
  const child = spawn(VENV_PYTHON, [join(REPO_ROOT, 'bench/relay-overhead/echo_bench.py'), url, String(warmupCalls), String(warmupCalls * 2)], { stdio: 'ignore' });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`warm-up client exited with ${code}`);
}

/**
 * System calls and wake-ups of a process so far: read-like and write-like calls (/proc/PID/io syscr, syscw,
 * epoll_wait counted as neither) and context switches of its main thread (each one a wake-up of the event loop).
 */
function sysCounts(pid: number): { reads: number; writes: number; wakeups: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (text: string, name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
  return { reads: field(io, 'syscr'), writes: field(io, 'syscw'), wakeups: field(status, 'voluntary_ctxt_switches') };
}

/** Runs the echo client with phase marks; returns its figures plus each proxy's CPU µs, syscalls and wake-ups per message per phase. */
async function runEchoMarked(url: string, pids: Record<string, number>, logs: WriteStream[] = [], label = ''): Promise<Record<string, number>> {
  const cpuOf = () => Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, cpuNs(pid)]));
  const cpuBefore = cpuOf(); // with the CPU after the client's exit: what the session costs outside the phases
  const child = spawn(VENV_PYTHON, [join(REPO_ROOT, 'bench/relay-overhead/echo_bench.py'), url, String(calls), String(calls * 2), '--marks'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const samples: Array<{ name: string; cpu: Record<string, number>; mainCpu: Record<string, number>; sys: Record<string, ReturnType<typeof sysCounts>> }> = [];
  let result: Record<string, number> | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('mark ')) {
      for (const log of logs) log.write(`### ${label} ${line.slice(5)}\n`);
      samples.push({
        name: line.slice(5),
        cpu: Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, cpuNs(pid)])),
        mainCpu: Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, mainThreadCpuNs(pid)])),
        sys: Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, sysCounts(pid)])),
      });
      child.stdin!.write('\n');
    } else if (line.startsWith('{"p50_ms"')) {
      result = JSON.parse(line) as Record<string, number>;
    }
  }
  if (!result || samples.length !== 3) throw new Error('echo bench printed no result');
  await exited;
  await new Promise((resolve) => setTimeout(resolve, 200)); // the proxies finish the session's close
  const cpuAfter = cpuOf();
  const perMessageUs = (from: number, callCount: number, role: string, key: 'cpu' | 'mainCpu' = 'cpu') =>
    (samples[from + 1]![key][role]! - samples[from]![key][role]!) / 1000 / (callCount * MESSAGES_PER_CALL);
  const perMessage = (from: number, callCount: number, role: string, key: 'reads' | 'writes' | 'wakeups') =>
    (samples[from + 1]!.sys[role]![key] - samples[from]!.sys[role]![key]) / (callCount * MESSAGES_PER_CALL);
  for (const role of Object.keys(pids)) {
    // Connecting both clients, registering and finding the service, 20 warm-up calls, disconnecting.
    result[`${role}_cpu_ms_per_session_outside_phases`] = (cpuAfter[role]! - cpuBefore[role]! - (samples[2]!.cpu[role]! - samples[0]!.cpu[role]!)) / 1e6;
    result[`${role}_cpu_us_per_msg_sequential`] = perMessageUs(0, calls, role);
    result[`${role}_cpu_us_per_msg_64_in_flight`] = perMessageUs(1, calls * 2, role);
    result[`${role}_main_thread_cpu_us_per_msg_sequential`] = perMessageUs(0, calls, role, 'mainCpu');
    result[`${role}_main_thread_cpu_us_per_msg_64_in_flight`] = perMessageUs(1, calls * 2, role, 'mainCpu');
    for (const key of ['reads', 'writes', 'wakeups'] as const) {
      result[`${role}_${key}_per_msg_sequential`] = perMessage(0, calls, role, key);
      result[`${role}_${key}_per_msg_64_in_flight`] = perMessage(1, calls * 2, role, key);
    }
  }
  return result;
}

/**
 * CPU per message of the accelerated arm over the baseline's, round by round (the two ran next to each
 * other, under about the same load): each round's ratio, their geometric mean, and in how many rounds it was below 1.
 */
function pairedRatios(accelerated: Array<Record<string, number>>, baseline: Array<Record<string, number>>): Record<string, { perRound: number[]; geomean: number; roundsBelowOne: number }> {
  const out: Record<string, { perRound: number[]; geomean: number; roundsBelowOne: number }> = {};
  for (const key of Object.keys(accelerated[0]!).filter((k) => k.includes('_cpu_us_per_msg_'))) {
    const perRound = accelerated.map((run, i) => run[key]! / baseline[i]![key]!);
    const geomean = Math.exp(perRound.reduce((sum, r) => sum + Math.log(r), 0) / perRound.length);
    out[key] = { perRound, geomean, roundsBelowOne: perRound.filter((r) => r < 1).length };
  }
  return out;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const hypha = await startHyphaServer({ env: { HYPHA_WS_MSG_RATE_LIMIT: '100000', HYPHA_WS_MSG_BURST_LIMIT: '100000', HYPHA_MAX_CONCURRENT_CONNECTIONS: '1000' } });
  const secret = writeSecret();
  const gateway = await startRole('gateway', ['--hypha-url', hypha.url, '--secret-file', secret, ...accelFlags], REPO_ROOT, 'gateway', accelEnv, accelNodeArgs);
  const edge = await startRole('edge', ['--gateway-url', `${linkScheme}://127.0.0.1:${gateway.port}`, '--secret-file', secret, ...accelFlags], REPO_ROOT, 'edge', accelEnv, accelNodeArgs);
  let baseline: { edge: Proxy; gateway: Proxy } | undefined;
  if (baselineRoot) {
    const baselineGateway = await startRole('gateway', ['--hypha-url', hypha.url, '--secret-file', secret, ...baselineFlags], baselineRoot, 'baseline-gateway', baselineEnv, baselineNodeArgs);
    const baselineEdge = await startRole('edge', ['--gateway-url', `${linkScheme}://127.0.0.1:${baselineGateway.port}`, '--secret-file', secret, ...baselineFlags], baselineRoot, 'baseline-edge', baselineEnv, baselineNodeArgs);
    baseline = { edge: baselineEdge, gateway: baselineGateway };
  }
  try {
    const results: Record<string, Array<Record<string, number>>> = { direct: [], accelerated: [], ...(baseline ? { baseline: [] } : {}) };
    const arms: Array<[string, string, { edge: Proxy; gateway: Proxy } | undefined]> = [['direct', hypha.url, undefined], ['accelerated', edge.url, { edge, gateway }]];
    if (baseline) arms.push(['baseline', baseline.edge.url, baseline]);
    // Direct first, then the two pairs in alternating order, so each pair takes each place, and follows each
    // other arm, equally often (the order before kept the accelerated pair in the middle of every round). A/A runs
    // of identical code at 64 in flight still spread widely: 1.22-1.32x in orders where one pair followed direct
    // more often than the other (T1051-obs15, T1222-main), 0.91 / 0.81x in this one (T1223-main).
    const [direct, ...pairs] = arms;
    for (const [arm, url, pair] of warmupCalls > 0 ? pairs : []) {
      process.stderr.write(`warm-up: ${arm}, ${warmupCalls} calls\n`);
      for (const log of [pair!.edge.log, pair!.gateway.log]) log?.write('### warm-up\n');
      await warmUp(url);
    }
    for (let round = 0; round < rounds; round++) {
      for (const [arm, url, pair] of [direct!, ...(round % 2 === 0 ? pairs : [...pairs].reverse())]) {
        process.stderr.write(`round ${round + 1}/${rounds}: ${arm}\n`);
        results[arm]!.push(pair ? await runEchoMarked(url, { edge: pair.edge.child.pid!, gateway: pair.gateway.child.pid! }, [pair.edge.log, pair.gateway.log].filter((l) => l !== undefined), `${round + 1} ${arm}`) : runEcho(url));
      }
    }
    const summary: Record<string, Record<string, number>> = {};
    for (const [arm, runs] of Object.entries(results)) {
      summary[arm] = Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k]!))]));
    }
    const before = { edge: procStats(edge.child.pid!), gateway: procStats(gateway.child.pid!) };
    const sessions = [];
    for (let i = 0; i < idleSessions; i++) {
      const session = rawConnect(`${edge.url}/ws`);
      if (!(await session.opened)) throw new Error(`idle session ${i} refused: ${session.outcome.status}`);
      session.ws.send(handshakeMessage(`idle-${randomUUID()}`));
      await session.nextMessage();
      sessions.push(session);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const after = { edge: procStats(edge.child.pid!), gateway: procStats(gateway.child.pid!) };
    for (const s of sessions) s.ws.close();
    const report = {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
      loadAverage: { start: loadAtStart, end: loadavg() },
      profile: 'lan (loopback, no emulation)',
      link: linkScheme,
      deflate: 'direct arm: permessage-deflate as the Python client negotiates by default; accelerated arm: off on local hops, none on the link',
      hyphaEnv: 'HYPHA_WS_MSG_RATE_LIMIT=100000 HYPHA_WS_MSG_BURST_LIMIT=100000 HYPHA_MAX_CONCURRENT_CONNECTIONS=1000',
      rounds, calls, warmupCalls,
      ...(baselineRoot ? { baselineRoot } : {}),
      ...(Object.keys(accelEnv).length > 0 ? { accelEnv } : {}),
      ...(Object.keys(baselineEnv).length > 0 ? { baselineEnv } : {}),
      ...(accelNodeArgs.length > 0 ? { accelNodeArgs } : {}),
      ...(baselineNodeArgs.length > 0 ? { baselineNodeArgs } : {}),
      proxyNodeFlags: [...SHIPPED_NODE_FLAGS, ...(process.env.RELAY_OVERHEAD_NODE_FLAGS ?? '').split(' ').filter(Boolean)].join(' '),
      smallCalls: summary,
      rounds_raw: results,
      ratios: {
        p50_latency_accel_over_direct: summary.accelerated!.p50_ms! / summary.direct!.p50_ms!,
        concurrent_throughput_accel_over_direct: summary.accelerated!.concurrent_calls_per_s! / summary.direct!.concurrent_calls_per_s!,
        ...(baseline ? { cpu_per_msg_accel_over_baseline: pairedRatios(results.accelerated!, results.baseline!) } : {}),
      },
      idleSessions: {
        count: idleSessions,
        edge: { rssBeforeMiB: before.edge.rssMiB, rssAfterMiB: after.edge.rssMiB, perSessionKiB: ((after.edge.rssMiB - before.edge.rssMiB) * 1024) / idleSessions },
        gateway: { rssBeforeMiB: before.gateway.rssMiB, rssAfterMiB: after.gateway.rssMiB, perSessionKiB: ((after.gateway.rssMiB - before.gateway.rssMiB) * 1024) / idleSessions },
      },
      proxyCpuSeconds: { edge: after.edge.cpuSeconds, gateway: after.gateway.cpuSeconds },
    };
    const dir = join(REPO_ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${report.date.slice(0, 16).replace(':', '')}-relay-overhead-${linkScheme}${baselineRoot ? '-vs-baseline' : ''}.json`);
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(`written ${file}\n`);
  } finally {
    for (const proxy of baseline ? [baseline.edge, baseline.gateway] : []) {
      proxy.child.kill('SIGTERM');
      await new Promise((resolve) => proxy.child.once('exit', resolve));
    }
    edge.child.kill('SIGTERM');
    await new Promise((resolve) => edge.child.once('exit', resolve));
    gateway.child.kill('SIGTERM');
    await hypha.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
