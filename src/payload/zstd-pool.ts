// A small worker_threads pool running zstd (zstd-napi is synchronous only) so compression of large
// data stays off the event loop. Each task is a batch of chunks; results come back per task, and
// callers that need submission order simply await their tasks in order.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { PayloadError, PayloadErrorCode } from './payload-error.js';

const bindingPath = createRequire(import.meta.url).resolve('zstd-napi/binding');

// The worker is plain CommonJS evaluated from a string, so it runs the same under tsx and from dist/.
const workerSource = `
const { parentPort } = require('node:worker_threads');
const binding = require(${JSON.stringify(bindingPath)});
const cctx = new binding.CCtx();
const dctx = new binding.DCtx();
parentPort.on('message', ({ id, op, level, items, rawBytes }) => {
  try {
    const out = items.map((src, i) => {
      if (op === 'encode') {
        const dst = new Uint8Array(binding.compressBound(src.byteLength));
        return dst.subarray(0, cctx.compress(dst, src, level));
      }
      const dst = new Uint8Array(rawBytes[i]);
      const written = dctx.decompress(dst, src);
      if (written !== rawBytes[i]) throw new Error('decoded ' + written + ' bytes, expected ' + rawBytes[i]);
      return dst;
    });
    parentPort.postMessage({ id, out }, out.map((b) => b.buffer));
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

interface PendingTask {
  resolve: (out: Uint8Array[]) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, PendingTask>;
}

export class ZstdPool {
  private readonly workers: PoolWorker[] = [];
  private nextTaskId = 1;
  private closed = false;

  constructor(readonly workerCount: number, readonly level: number) {
    for (let i = 0; i < Math.max(1, workerCount); i++) this.workers.push(this.spawn());
  }

  private spawn(): PoolWorker {
    const worker = new Worker(workerSource, { eval: true });
    const entry: PoolWorker = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (msg: { id: number; out?: Uint8Array[]; error?: string }) => {
      const task = entry.pending.get(msg.id);
      if (!task) return;
      entry.pending.delete(msg.id);
      if (msg.out) task.resolve(msg.out);
      else task.reject(new PayloadError(PayloadErrorCode.decodeFailed, `zstd worker: ${msg.error}`));
    });
    worker.on('error', (error) => this.failAll(entry, error));
    worker.on('exit', () => this.failAll(entry, new Error('zstd worker exited')));
    return entry;
  }

  private failAll(entry: PoolWorker, cause: Error): void {
    for (const task of entry.pending.values()) {
      task.reject(new PayloadError(PayloadErrorCode.closed, `zstd worker failed: ${cause.message}`, { cause }));
    }
    entry.pending.clear();
    const index = this.workers.indexOf(entry);
    if (index >= 0 && !this.closed) this.workers[index] = this.spawn();
  }

  encode(items: readonly Uint8Array[]): Promise<Uint8Array[]> {
    return this.run('encode', items, []);
  }

  decode(items: readonly Uint8Array[], rawBytes: readonly number[]): Promise<Uint8Array[]> {
    return this.run('decode', items, rawBytes);
  }

  private run(op: 'encode' | 'decode', items: readonly Uint8Array[], rawBytes: readonly number[]): Promise<Uint8Array[]> {
    if (this.closed) return Promise.reject(new PayloadError(PayloadErrorCode.closed, 'zstd pool closed'));
    let target = this.workers[0]!;
    for (const w of this.workers) if (w.pending.size < target.pending.size) target = w;
    const id = this.nextTaskId++;
    return new Promise<Uint8Array[]>((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.postMessage({ id, op, level: this.level, items, rawBytes });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
