import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { writeBatch } from '../../src/net/batch-write.js';

/**
 * A socket stand-in: `sync` completes each write inside the call (as a kernel that takes the bytes at once);
 * otherwise completions wait for `complete()`. `fail` makes the next write fail synchronously.
 */
function sink(options: { sync: boolean }) {
  const written: string[] = [];
  const pending: Array<() => void> = [];
  let fail: Error | undefined;
  const finish = (callback: (error?: Error | null) => void) => {
    const error = fail;
    fail = undefined;
    if (options.sync || error) callback(error);
    else pending.push(() => callback());
  };
  const socket = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      finish(callback);
    },
    writev(chunks, callback) {
      written.push(chunks.map((c) => (c.chunk as Buffer).toString()).join('+'));
      finish(callback);
    },
  });
  socket.on('error', () => {});
  return {
    socket, written,
    complete: () => { for (const done of pending.splice(0)) done(); },
    failNext: (error: Error) => { fail = error; },
  };
}

test('taken at once: done runs before writeBatch returns, with no write callback left behind', () => {
  const { socket, written } = sink({ sync: true });
  const callbacks: unknown[] = [];
  const write = socket.write.bind(socket) as (chunk: Buffer, callback?: () => void) => boolean;
  socket.write = ((chunk: Buffer, callback?: () => void) => {
    callbacks.push(callback);
    return write(chunk, callback);
  }) as typeof socket.write;
  let done = 0;
  writeBatch(socket, [Buffer.from('a')], () => done++);
  assert.equal(done, 1);
  writeBatch(socket, [Buffer.from('b'), Buffer.from('c')], () => done++);
  assert.equal(done, 2);
  assert.deepEqual(written, ['a', 'b+c'], 'several chunks leave in one writev');
  assert.deepEqual(callbacks, [undefined, undefined, undefined], 'Node queues a tick for each write with a callback');
});

test('not taken at once: done waits until the bytes have left, once', async () => {
  const { socket, written, complete } = sink({ sync: false });
  let done = 0;
  writeBatch(socket, [Buffer.from('a'), Buffer.from('b')], () => done++);
  assert.equal(done, 0);
  complete(); // the batch's write completes; the empty write behind it follows
  await new Promise((resolve) => setImmediate(resolve));
  complete();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(done, 1);
  assert.equal(written[0], 'a+b');
});

test('behind bytes still queued: done follows them, in order with the batch before', async () => {
  const { socket, complete } = sink({ sync: false });
  const order: string[] = [];
  writeBatch(socket, [Buffer.from('first')], () => order.push('first'));
  writeBatch(socket, [Buffer.from('second')], () => order.push('second'));
  assert.deepEqual(order, []);
  for (let i = 0; i < 4 && order.length < 2; i++) {
    complete();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(order, ['first', 'second']);
});

test('a write that fails at once reports the error to done', () => {
  const { socket, failNext } = sink({ sync: true });
  failNext(new Error('EPIPE'));
  let error: Error | null | undefined;
  writeBatch(socket, [Buffer.from('a')], (e) => (error = e));
  assert.equal(error?.message, 'EPIPE');
});
