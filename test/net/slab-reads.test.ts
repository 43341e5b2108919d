import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readIntoSlabs } from '../../src/net/slab-reads.js';

/** A connected pair of TCP sockets on loopback (server side first). */
async function socketPair(): Promise<[net.Socket, net.Socket, () => void]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection');
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [serverSide] = (await accepted) as [net.Socket];
  return [serverSide, client, () => server.close()];
}

test('an accepted socket read into slabs: every byte in order, each chunk still intact after later reads, end after the last', async () => {
  const [reader, writer, close] = await socketPair();
  const chunks: Buffer[] = [];
  let dataEvents = 0;
  reader.on('data', () => dataEvents++);
  assert.equal(readIntoSlabs(reader, (chunk) => chunks.push(chunk)), true);
  const sent = randomBytes(24 * 1024 * 1024 + 13);
  writer.end(sent);
  await once(reader, 'end');
  // The chunks are views kept until now: a later read overwriting an earlier region would show here.
  assert.deepEqual(Buffer.concat(chunks), sent);
  assert.equal(dataEvents, 0, 'chunks go to the callback, not to data events');
  assert.ok(chunks.every((c) => c.length <= 256 * 1024));
  reader.destroy();
  close();
});

test('pause() stops slab reads and resume() starts them again', async () => {
  const [reader, writer, close] = await socketPair();
  let received = 0;
  let pausedOnce = false;
  const total = 8 * 1024 * 1024;
  readIntoSlabs(reader, (chunk) => {
    received += chunk.length;
    if (received >= 1024 * 1024 && !pausedOnce) {
      pausedOnce = true;
      reader.pause();
    }
  });
  writer.write(Buffer.alloc(total, 1));
  while (received < 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 5));
  const atPause = received;
  // While paused nothing more is delivered, though the writer has more queued (its buffer is not drained).
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(received, atPause);
  assert.ok(writer.writableLength > 0 || received < total);
  reader.resume();
  writer.end();
  await once(reader, 'end');
  assert.equal(received, total);
  reader.destroy();
  close();
});

test('a socket with bytes already buffered in its stream is left as it is', async () => {
  const [reader, writer, close] = await socketPair();
  reader.pause();
  writer.write(Buffer.from('early'));
  await new Promise<void>((resolve) => reader.once('readable', () => resolve()));
  assert.ok(reader.readableLength > 0);
  assert.equal(readIntoSlabs(reader, () => assert.fail('no chunk expected')), false);
  assert.deepEqual(reader.read(), Buffer.from('early'));
  writer.destroy();
  reader.destroy();
  close();
});

test('a socket switched once is not switched again, and a non-socket stream is left alone', async () => {
  const [reader, writer, close] = await socketPair();
  assert.equal(readIntoSlabs(reader, () => {}), true);
  assert.equal(readIntoSlabs(reader, () => {}), false);
  const { PassThrough } = await import('node:stream');
  assert.equal(readIntoSlabs(new PassThrough(), () => {}), false);
  writer.destroy();
  reader.destroy();
  close();
});
