// The relay pair's own overhead on loopback (issue 2): small-call latency and throughput with the real
// Python client, direct vs through edge+gateway, arms interleaved; and each proxy's RSS with 100 idle
// sessions. Usage: node --import tsx bench/relay-overhead/run.ts [--rounds 3] [--calls 300]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { REPO_ROOT, VENV_PYTHON, startHyphaServer } from '../../test/helpers/hypha-server.js';
import { writeSecret } from '../../test/helpers/accel-pair.js';
import { rawConnect, handshakeMessage } from '../../test/helpers/raw-ws.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const rounds = option('rounds', 3);
const calls = option('calls', 300);
const idleSessions = option('idle', 100);

interface Proxy { child: ChildProcess; url: string; port: number }

async function startRole(role: 'edge' | 'gateway', flags: string[]): Promise<Proxy> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli.ts'), role, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const event = JSON.parse(line) as { event: string; url: string; port: number };
    if (event.event === 'listening') return { child, url: event.url, port: event.port };
  }
  throw new Error(`${role} exited before listening`);
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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const hypha = await startHyphaServer({ env: { HYPHA_WS_MSG_RATE_LIMIT: '100000', HYPHA_WS_MSG_BURST_LIMIT: '100000', HYPHA_MAX_CONCURRENT_CONNECTIONS: '1000' } });
  const secret = writeSecret();
  const gateway = await startRole('gateway', ['--hypha-url', hypha.url, '--secret-file', secret]);
  const edge = await startRole('edge', ['--gateway-url', `ws://127.0.0.1:${gateway.port}`, '--secret-file', secret]);
  try {
    const results: Record<string, Array<Record<string, number>>> = { direct: [], accelerated: [] };
    for (let round = 0; round < rounds; round++) {
      for (const [arm, url] of [['direct', hypha.url], ['accelerated', edge.url]] as const) {
        process.stderr.write(`round ${round + 1}/${rounds}: ${arm}\n`);
        results[arm]!.push(runEcho(url));
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
      profile: 'lan (loopback, no emulation)',
      deflate: 'direct arm: permessage-deflate as the Python client negotiates by default; accelerated arm: off on local hops, none on the link',
      hyphaEnv: 'HYPHA_WS_MSG_RATE_LIMIT=100000 HYPHA_WS_MSG_BURST_LIMIT=100000 HYPHA_MAX_CONCURRENT_CONNECTIONS=1000',
      rounds, calls,
      smallCalls: summary,
      ratios: {
        p50_latency_accel_over_direct: summary.accelerated!.p50_ms! / summary.direct!.p50_ms!,
        concurrent_throughput_accel_over_direct: summary.accelerated!.concurrent_calls_per_s! / summary.direct!.concurrent_calls_per_s!,
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
    const file = join(dir, `${report.date.slice(0, 10)}-relay-overhead.json`);
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(`written ${file}\n`);
  } finally {
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
