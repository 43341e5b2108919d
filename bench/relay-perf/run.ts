// On-CPU samples of the warm relay pair at 64 calls in flight (issue 11): starts hypha and one edge+gateway
// pair (tcp link, the launchers' V8 flags plus --perf-basic-prof-only-functions so perf can name JIT code),
// warms them with an unmeasured client run, then runs only the 64-in-flight phase of the relay-overhead echo
// client while `perf record -F <hz> -g` samples both proxies (software cpu-clock: on-CPU time only, unlike
// --cpu-prof's wall-clock samples). Writes DIR/perf.data, DIR/perf.txt (perf script) and DIR/run.json (main-thread
// and all-thread CPU µs per message of each proxy over the sampled phase).
// Usage: node --import tsx bench/relay-perf/run.ts --out DIR [--warmup 3000] [--calls 12000] [--hz 999]
//   [--root CHECKOUT] [--node-arg F]... [--cpu-prof] (the second view: --cpu-prof profiles of the whole life,
//   no perf; cut them with bench/cpu-prof-summary.ts --skip-s, the phase's start is in run.json)
// Run it under the bench lock. perf writes /tmp/perf-PID.map files for the proxies: remove them afterwards.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { REPO_ROOT, VENV_PYTHON, startHyphaServer } from '../../test/helpers/hypha-server.js';
import { writeSecret } from '../../test/helpers/accel-pair.js';
import { threadCpuNs } from '../runner/proc-stats.js';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';

const args = process.argv.slice(2);
const value = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const outDir = resolve(value('out', ''));
const warmupCalls = Number(value('warmup', '3000'));
const calls = Number(value('calls', '12000'));
const hz = value('hz', '999');
const root = resolve(value('root', REPO_ROOT));
const cpuProf = args.includes('--cpu-prof');
const nodeArgs = args.flatMap((a, i) => (a === '--node-arg' ? [args[i + 1]!] : []));
const MESSAGES_PER_CALL = 4; // both clients sit behind the edge: each call is 4 messages through each proxy
const echo = join(REPO_ROOT, 'bench/relay-overhead/echo_bench.py');

const mainCpuNs = (pid: number) => Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);

async function startRole(role: string, flags: string[]): Promise<{ child: ChildProcess; url: string; port: number }> {
  const profile = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', outDir, '--cpu-prof-name', `${role}.cpuprofile`] : ['--perf-basic-prof-only-functions'];
  const child = spawn(process.execPath, [...LAUNCHER_NODE_FLAGS, ...profile, ...nodeArgs, '--import', 'tsx', join(root, 'src/cli.ts'), role, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn', ...flags], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
  return new Promise((resolveStart, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const event = JSON.parse(line) as { event: string; url: string; port: number };
      if (event.event === 'listening') resolveStart({ child, url: event.url, port: event.port });
    });
    child.once('exit', () => reject(new Error(`${role} exited before listening`)));
  });
}

async function main(): Promise<void> {
  if (!value('out', '')) throw new Error('--out DIR is required');
  mkdirSync(outDir, { recursive: true });
  const load = { start: loadavg() };
  const hypha = await startHyphaServer({ env: { HYPHA_WS_MSG_RATE_LIMIT: '100000', HYPHA_WS_MSG_BURST_LIMIT: '100000', HYPHA_MAX_CONCURRENT_CONNECTIONS: '1000' } });
  const secret = writeSecret();
  const gateway = await startRole('gateway', ['--hypha-url', hypha.url, '--secret-file', secret]);
  const edge = await startRole('edge', ['--gateway-url', `tcp://127.0.0.1:${gateway.port}`, '--secret-file', secret]);
  const pids = { edge: edge.child.pid!, gateway: gateway.child.pid! };
  const bornMs = Date.now();
  try {
    if (warmupCalls > 0) execFileSync(VENV_PYTHON, [echo, edge.url, String(warmupCalls), String(warmupCalls * 2)], { stdio: 'ignore' });
    // 50 sequential calls (the client needs some), then the measured 64-in-flight phase between its marks.
    const client = spawn(VENV_PYTHON, [echo, edge.url, '50', String(calls), '--marks'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let perf: ChildProcess | undefined;
    let at: { main: Record<string, number>; all: Record<string, number>; ms: number } | undefined;
    const sample = () => ({
      main: { edge: mainCpuNs(pids.edge), gateway: mainCpuNs(pids.gateway) },
      all: { edge: threadCpuNs(pids.edge), gateway: threadCpuNs(pids.gateway) },
      ms: Date.now(),
    });
    const figures: Record<string, number> = {};
    for await (const line of createInterface({ input: client.stdout! })) {
      if (line === 'mark concurrent') {
        if (!cpuProf) {
          perf = spawn('perf', ['record', '-F', hz, '-g', '-o', join(outDir, 'perf.data'), '-p', `${pids.edge},${pids.gateway}`], { stdio: 'ignore' });
          await new Promise((r) => setTimeout(r, 300)); // perf attaches
        }
        at = sample();
        figures.phase_start_s_after_proxy_start = (at.ms - bornMs) / 1000;
      } else if (line === 'mark end' && at) {
        const end = sample();
        const messages = calls * MESSAGES_PER_CALL;
        for (const role of ['edge', 'gateway'] as const) {
          figures[`${role}_main_thread_cpu_us_per_msg_64_in_flight`] = (end.main[role] - at.main[role]) / 1000 / messages;
          figures[`${role}_cpu_us_per_msg_64_in_flight`] = (end.all[role] - at.all[role]) / 1000 / messages;
        }
        figures.phase_s = (end.ms - at.ms) / 1000;
        figures.calls_per_s = calls / figures.phase_s;
        if (perf) {
          perf.kill('SIGINT');
          await new Promise((r) => perf!.once('exit', r));
        }
      }
      if (line.startsWith('mark ')) client.stdin!.write('\n');
    }
    await new Promise((r) => (client.exitCode !== null ? r(null) : client.once('exit', r)));
    if (!cpuProf) writeFileSync(join(outDir, 'perf.txt'), execFileSync('perf', ['script', '-i', join(outDir, 'perf.data'), '-F', 'comm,pid,tid,period,ip,sym,dso'], { maxBuffer: 1 << 30 }));
    const report = { date: new Date().toISOString(), root, pids, warmupCalls, calls, hz, nodeArgs, cpuProf, load: { ...load, end: loadavg() }, figures };
    writeFileSync(join(outDir, 'run.json'), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } finally {
    for (const proxy of [edge, gateway]) {
      proxy.child.kill('SIGTERM');
      await new Promise((r) => (proxy.child.exitCode !== null ? r(null) : proxy.child.once('exit', r)));
    }
    await hypha.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
