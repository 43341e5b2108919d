// What the start-up warm-up (src/roles/warm-up.ts) costs: starts an edge of this checkout N times with
// warmUp on and N times off, alternating, and reads its CPU (all threads, /proc/PID/task/*/schedstat) and
// wall time up to its listening line, plus the warm-up's own report (its log line). No gateway is needed:
// the edge listens before its link is up. Usage: node --import tsx bench/warm-up-cost/run.ts [--reps 5]
// [--link-compression auto|off]. Prints a JSON summary; run it under the bench lock.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { PROXY_NODE_FLAGS } from '../runner/proxies.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1]! : def; };
const reps = Number(arg('--reps', '5'));
const linkCompression = arg('--link-compression', 'auto');
const secretFile = join(mkdtempSync(join(tmpdir(), 'warm-up-cost-')), 'secret');
writeFileSync(secretFile, 'warm-up-cost-secret-0123456789abcdef', { mode: 0o600 });

function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
  }
  return ns / 1e6;
}

async function startOnce(warmUp: boolean): Promise<{ cpuMs: number; wallMs: number; warm?: { cpuMs: number; wallMs: number } }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...PROXY_NODE_FLAGS, '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'edge', '--listen', '127.0.0.1:0',
    '--gateway-url', 'tcp://127.0.0.1:1', '--secret-file', secretFile, '--admin-listen', '', '--log-level', 'info',
    '--warm-up', String(warmUp), '--link-compression', linkCompression], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let warm: { cpuMs: number; wallMs: number } | undefined;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (line.includes('warm-up done')) warm = JSON.parse(line) as { cpuMs: number; wallMs: number };
  });
  for await (const line of createInterface({ input: child.stdout! })) {
    if (!line.includes('"listening"')) continue;
    const result = { cpuMs: cpuMs(child.pid!), wallMs: performance.now() - t0 };
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    return { ...result, ...(warm ? { warm: { cpuMs: warm.cpuMs, wallMs: warm.wallMs } } : {}) };
  }
  throw new Error('edge exited before listening');
}

const runs: Record<string, Array<Awaited<ReturnType<typeof startOnce>>>> = { on: [], off: [] };
for (let i = 0; i < reps; i++) {
  for (const arm of i % 2 === 0 ? ['on', 'off'] : ['off', 'on']) runs[arm]!.push(await startOnce(arm === 'on'));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(JSON.stringify({
  linkCompression, reps,
  cpuMsToListening: { on: median(runs.on!.map((r) => r.cpuMs)), off: median(runs.off!.map((r) => r.cpuMs)) },
  wallMsToListening: { on: median(runs.on!.map((r) => r.wallMs)), off: median(runs.off!.map((r) => r.wallMs)) },
  warmUpReported: { cpuMs: median(runs.on!.map((r) => r.warm?.cpuMs ?? NaN)), wallMs: median(runs.on!.map((r) => r.warm?.wallMs ?? NaN)) },
  runs,
}, null, 1));
