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
parentPort.on('message', ({ id, op, level, packed, lengths, rawBytes }) => {
  try {
    const out = [];
    let offset = 0;
    for (let i = 0; i < lengths.length; i++) {
      const src = packed.subarray(offset, offset + lengths[i]);
      offset += lengths[i];
      if (op === 'encode') {
        const dst = new Uint8Array(binding.compressBound(src.byteLength));
        out.push(dst.subarray(0, cctx.compress(dst, src, level)));
      } else {
        const dst = new Uint8Array(rawBytes[i]);
        const written = dctx.decompress(dst, src);
        if (written !== rawBytes[i]) throw new Error('decoded ' + written + ' bytes, expected ' + rawBytes[i]);
        out.push(dst);
      }
    }
    // Pack the results into one compact buffer and transfer it (no copy back, no oversized clones).
    const total = out.reduce((sum, b) => sum + b.byteLength, 0);
    const result = new Uint8Array(total);
    let at = 0;
    for (const b of out) { result.set(b, at); at += b.byteLength; }
    parentPort.postMessage({ id, packed: result, lengths: out.map((b) => b.byteLength) }, [result.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

function pack(items: readonly Uint8Array[]): { packed: Uint8Array<ArrayBuffer>; lengths: number[] } {
  const lengths = items.map((item) => item.byteLength);
  const packed = new Uint8Array(lengths.reduce((sum, n) => sum + n, 0));
  let offset = 0;
  for (const item of items) {
    packed.set(item, offset);
    offset += item.byteLength;
  }
  return { packed, lengths };
}

function unpack(packed: Uint8Array, lengths: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  for (const length of lengths) {
    out.push(packed.subarray(offset, offset + length));
    offset += length;
  }
  return out;
}

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
    worker.on('message', (msg: { id: number; packed?: Uint8Array; lengths?: number[]; error?: string }) => {
      const task = entry.pending.get(msg.id);
      if (!task) return;
      entry.pending.delete(msg.id);
      if (msg.packed && msg.lengths) task.resolve(unpack(msg.packed, msg.lengths));
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
      // Views would clone their whole backing buffer (e.g. a 64 MiB blob per chunk): pack and transfer.
      const { packed, lengths } = pack(items);
      target.worker.postMessage({ id, op, level: this.level, packed, lengths, rawBytes }, [packed.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
