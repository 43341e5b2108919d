// Starts the hypha-accel gateway and edge as child processes through the CLI (src/cli.ts), exactly as
// an operator would, on ephemeral 127.0.0.1 ports; waits for their "listening" line and for the port
// to accept TCP (bounded deadlines). The pair is what the accelerated arm measures.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import net from 'node:net';
import { BenchError } from './bench-error.js';
import { REPO_ROOT } from './paths.js';
import { sampleProcess, type ProcSample } from './proc-stats.js';

export interface ProxyProcess {
  role: 'edge' | 'gateway';
  pid: number;
  url: string;
  port: number;
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

export async function startProxy(role: 'edge' | 'gateway', flags: string[], codeRoot = REPO_ROOT, readyTimeoutMs = 30_000): Promise<ProxyProcess> {
  const args = ['--import', 'tsx', join(codeRoot, 'src/cli.ts'), role, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...flags];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: codeRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const listening = new Promise<{ url: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_PROXY', `${role} not listening: ${stderr}`)), readyTimeoutMs);
    timer.unref();
    createInterface({ input: child.stdout! }).on('line', (line) => {
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
    pid,
    url,
    port,
    sample: () => sampleProcess(pid),
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
