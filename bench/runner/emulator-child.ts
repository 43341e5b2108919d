// Starts the link emulator in a child process (bench/emulator/emulator-process.ts) and talks to it over
// IPC: the same operations as an in-process LinkEmulator, asynchronous, plus its pid so its CPU is
// reported as its own role instead of hiding in the runner's.

import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { LinkEmulatorOptions, LinkEmulatorStats } from '../emulator/link-emulator.js';
import type { LinkShape } from '../emulator/profiles.js';
import { BenchError } from './bench-error.js';
import { REPO_ROOT } from './paths.js';

const ENTRY = join(REPO_ROOT, 'bench/emulator/emulator-process.ts');
const READY_TIMEOUT_MS = 30_000;

export interface EmulatorProcess {
  pid: number;
  port: number;
  shape: LinkShape;
  stats(): Promise<LinkEmulatorStats>;
  blackhole(durationMs: number): Promise<void>;
  resetAll(): Promise<void>;
  close(): Promise<void>;
}

export async function startEmulatorProcess(options: LinkEmulatorOptions): Promise<EmulatorProcess> {
  const child: ChildProcess = fork(ENTRY, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  child.on('message', (message: { id: number; result?: unknown }) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    waiter?.resolve(message.result);
  });
  child.once('exit', (code) => {
    const error = new BenchError('HYPHA_ACCEL_ERR_BENCH_EMULATOR', `emulator exited (${code}): ${stderr}`);
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  });
  const request = <T>(op: string, extra: Record<string, unknown> = {}): Promise<T> => {
    if (!child.connected) return Promise.reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_EMULATOR', `emulator is gone: ${stderr}`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      child.send({ id, op, ...extra });
    });
  };
  const ready = await new Promise<{ port: number; shape: LinkShape }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_EMULATOR', `emulator not ready: ${stderr}`)), READY_TIMEOUT_MS);
    timer.unref();
    pending.set(0, { resolve: (result) => (clearTimeout(timer), resolve(result as { port: number; shape: LinkShape })), reject });
  });
  return {
    pid: child.pid ?? -1,
    port: ready.port,
    shape: ready.shape,
    stats: () => request<LinkEmulatorStats>('stats'),
    blackhole: (durationMs) => request('blackhole', { durationMs }),
    resetAll: () => request('resetAll'),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await request('close').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      timer.unref();
      await gone;
      clearTimeout(timer);
    },
  };
}
