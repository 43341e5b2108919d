// Drives one Python client process over JSON lines (bench/clients/bench_client.py by default: one real
// hypha-rpc client; fan_in.py for S6): request({op, ...}) resolves with the client's answer or rejects
// with its error or on a deadline.
// Also runs the one-shot bootstrap mode used by S2.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchError } from './bench-error.js';
import { REPO_ROOT, VENV_PYTHON } from './paths.js';

const CLIENT_PATH = join(REPO_ROOT, 'bench/clients/bench_client.py');

export type ClientAnswer = Record<string, unknown> & { ok: boolean; error?: string };

export class PyClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (a: ClientAnswer) => void; reject: (e: Error) => void }>();
  private stderrTail: string[] = [];
  private exited = false;

  private constructor(private readonly child: ChildProcess, readonly label: string) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 30) this.stderrTail.shift();
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      const error = new BenchError('HYPHA_ACCEL_ERR_BENCH_CLIENT', `${label} exited (${code ?? signal}): ${this.stderr()}`);
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    });
  }

  static async start(label: string, options: { script?: string; readyTimeoutMs?: number } = {}): Promise<PyClient> {
    const child = spawn(VENV_PYTHON, [options.script ?? CLIENT_PATH], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const client = new PyClient(child, label);
    await client.waitReady(options.readyTimeoutMs ?? 60_000);
    return client;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  stderr(): string {
    return this.stderrTail.slice(-8).join('\n');
  }

  request(op: string, args: Record<string, unknown> = {}, timeoutMs = 300_000): Promise<ClientAnswer> {
    if (this.exited) return Promise.reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_CLIENT', `${this.label} is gone`));
    const id = this.nextId++;
    return new Promise<ClientAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_TIMEOUT', `${this.label}: ${op} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, {
        resolve: (answer) => {
          clearTimeout(timer);
          if (answer.ok) resolve(answer);
          else reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_WRONG_RESULT', `${this.label}: ${op}: ${answer.error}`));
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  /** Closes stdin (the process disconnects and exits); SIGKILL after the deadline. */
  async stop(deadlineMs = 8000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), deadlineMs);
    timer.unref();
    await gone;
    clearTimeout(timer);
  }

  private readyWaiter: (() => void) | undefined;

  private waitReady(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_TIMEOUT', `${this.label} not ready`)), timeoutMs);
      timer.unref();
      this.readyWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.child.once('exit', () => reject(new BenchError('HYPHA_ACCEL_ERR_BENCH_CLIENT', `${this.label} died: ${this.stderr()}`)));
    });
  }

  private onLine(line: string): void {
    let message: ClientAnswer & { id?: number; event?: string };
    try {
      message = JSON.parse(line);
    } catch {
      return; // hypha-rpc may print; only our JSON lines count
    }
    if (message.event === 'ready') this.readyWaiter?.();
    if (typeof message.id !== 'number') return;
    const waiter = this.pending.get(message.id);
    this.pending.delete(message.id);
    waiter?.resolve(message);
  }
}

export interface BootstrapResult {
  wallMs: number;
  inProcessMs: number;
  connectMs: number;
  getServiceMs: number;
  firstCallMs: number;
}

const JS_BOOTSTRAP_PATH = join(REPO_ROOT, 'bench/clients/js-bootstrap.ts');

/** Spawns a fresh client process (Python or JS) that connects, gets a service and makes its first call. */
export async function runBootstrap(lang: 'py' | 'js', serverUrl: string, serviceId: string, timeoutMs = 120_000): Promise<BootstrapResult> {
  const started = performance.now();
  const [command, args] =
    lang === 'py'
      ? [VENV_PYTHON, [CLIENT_PATH, '--bootstrap', serverUrl, serviceId]]
      : [process.execPath, ['--no-warnings', '--import', 'tsx', JS_BOOTSTRAP_PATH, serverUrl, serviceId]];
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  timer.unref();
  let stdout = '';
  let stderr = '';
  let wallMs = 0;
  let answer: Record<string, number> | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout = (stdout + line + '\n').slice(-4000);
    try {
      const parsed = JSON.parse(line) as Record<string, number> & { ok?: boolean };
      if (parsed.ok === true && !answer) {
        wallMs = performance.now() - started;
        answer = parsed;
      }
    } catch {
      // client log output, not ours
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  if (code !== 0 || !answer) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_CLIENT', `${lang} bootstrap failed (${code}): ${stderr.slice(-500)}`);
  return {
    wallMs,
    inProcessMs: answer.in_process_ms ?? NaN,
    connectMs: answer.connect_ms ?? NaN,
    getServiceMs: answer.get_service_ms ?? NaN,
    firstCallMs: answer.first_call_ms ?? NaN,
  };
}
