// Starts the hypha-accel gateway and edge as child processes through the CLI (src/cli.ts), exactly as
// an operator would, on ephemeral 127.0.0.1 ports; waits for their "listening" line and for the port
// to accept TCP (bounded deadlines). The pair is what the accelerated arm measures; the null relay (plain
// TCP pipes, bench/runner/null-relay.ts) starts the same way where the null-relay arm needs it.

import { appendFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import net from 'node:net';
import { BenchError } from './bench-error.js';
import { REPO_ROOT } from './paths.js';
import { sampleProcess, type ProcSample } from './proc-stats.js';
import { descendantsOf } from './descendants.js';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';
import { pinned, proxyCpus } from './cpu-affinity.js';

export interface ProxyProcess {
  role: 'edge' | 'gateway';
  /** What runs there: the pair's CLI, or a plain TCP pipe. */
  kind: 'proxy' | 'null-relay' | 'tls-terminator';
  pid: number;
  url: string;
  port: number;
  /** CPU and RSS of the process and its workers (descendants). */
  sample(): ProcSample | undefined;
  stop(): Promise<void>;
}

export async function waitForPort(port: number, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_PROXY', `port ${port} never accepted connections`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface StartOptions {
  /** Node options before the script, e.g. --cpu-prof --cpu-prof-dir DIR (workers inherit them). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  /** Environment over the runner's own (undefined removes a variable), e.g. a tracing arm's OTEL_* settings. */
  env?: Record<string, string | undefined>;
}

/** Sums CPU and RSS over a process and its descendants (a role with --workers N is N + 1 processes). */
function sampleTree(pid: number): ProcSample | undefined {
  const root = sampleProcess(pid);
  if (!root) return undefined;
  for (const child of descendantsOf(pid)) {
    const s = sampleProcess(child);
    if (!s) continue;
    root.cpuSeconds += s.cpuSeconds;
    root.rssBytes += s.rssBytes;
    root.peakRssBytes += s.peakRssBytes;
  }
  return root;
}

export function startProxy(role: 'edge' | 'gateway', flags: string[], codeRoot = REPO_ROOT, options: StartOptions = {}): Promise<ProxyProcess> {
  // The shipped launchers' V8 flags first; nodeArgs come after, so they can override.
  const args = [...LAUNCHER_NODE_FLAGS, ...(options.nodeArgs ?? []), '--import', 'tsx', join(codeRoot, 'src/cli.ts'), role, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...flags];
  return startListener(role, 'proxy', args, codeRoot, options.readyTimeoutMs, options.env);
}

/** A plain TCP pipe to `target` (HOST:PORT) standing where `role` stands. */
export function startNullRelay(role: 'edge' | 'gateway', target: string, options: StartOptions = {}): Promise<ProxyProcess> {
  const args = [...(options.nodeArgs ?? []), '--import', 'tsx', join(REPO_ROOT, 'bench/runner/null-relay.ts'), '--target', target];
  return startListener(role, 'null-relay', args, REPO_ROOT, options.readyTimeoutMs);
}

/** A TLS terminator in front of `target` (the direct-over-TLS arms of --link-tls), standing where the gateway stands. */
export function startTlsTerminator(target: string, tlsFiles: { certPath: string; keyPath: string }, stripExtensions: boolean, options: StartOptions = {}): Promise<ProxyProcess> {
  const args = [...(options.nodeArgs ?? []), '--import', 'tsx', join(REPO_ROOT, 'bench/runner/tls-terminator.ts'), '--target', target, '--cert', tlsFiles.certPath, '--key', tlsFiles.keyPath, ...(stripExtensions ? ['--strip-extensions'] : [])];
  return startListener('gateway', 'tls-terminator', args, REPO_ROOT, options.readyTimeoutMs);
}

async function startListener(role: 'edge' | 'gateway', kind: ProxyProcess['kind'], args: string[], codeRoot: string, readyTimeoutMs = 30_000, env?: Record<string, string | undefined>): Promise<ProxyProcess> {
  const childEnv = env ? withEnv(process.env, env) : process.env;
  const command = pinned(process.execPath, args, proxyCpus());
  const child: ChildProcess = spawn(command.command, command.args, { cwd: codeRoot, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const listening = new Promise<{ url: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_PROXY', `${role} not listening: ${stderr}`)), readyTimeoutMs);
    timer.unref();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (process.env.HYPHA_ACCEL_BENCH_TRACE_GC && /Mark-Compact|Scavenge|Mark-sweep|IncrementalMarking\] Start|external/.test(line)) appendFileSync(`${process.env.HYPHA_ACCEL_BENCH_TRACE_GC}-${role}-${child.pid}.log`, line + '\n');
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === 'listening' && event.url) {
          clearTimeout(timer);
          resolve({ url: event.url });
        }
      } catch {
        // not an event line
      }
    });
    child.once('exit', (code) => reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_PROXY', `${role} exited (${code}): ${stderr}`)));
  });
  const { url } = await listening;
  const port = Number(new URL(url).port);
  await waitForPort(port);
  const pid = child.pid ?? -1;
  return {
    role,
    kind,
    pid,
    url,
    port,
    sample: () => sampleTree(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      timer.unref();
      await gone;
      clearTimeout(timer);
    },
  };
}

/** `base` with `over` applied: a string sets a variable, undefined removes it. */
function withEnv(base: NodeJS.ProcessEnv, over: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}
