import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import net from 'node:net';
import { once } from 'node:events';
import { skipReadMoreTicks } from '../../src/net/read-ticks.js';

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

/** Sends `count` small writes one at a time, each after the previous one was read; returns the nextTicks of the reading process meanwhile. */
async function pingReads(reader: net.Socket, writer: net.Socket, count: number): Promise<number> {
  let ticks = 0;
  const hook = createHook({ init(_id, type) { if (type === 'TickObject') ticks++; } });
  hook.enable();
  try {
    for (let i = 0; i < count; i++) {
      const read = once(reader, 'data');
      writer.write(Buffer.from([i]));
      await read;
    }
  } finally {
    hook.disable();
  }
  return ticks;
}

test('a socket without read-more ticks reads each chunk without a nextTick, where a plain one queues one per read', async () => {
  const [plainReader, plainWriter, closePlain] = await socketPair();
  const [reader, writer, close] = await socketPair();
  skipReadMoreTicks(reader);
  plainReader.on('data', () => {});
  reader.on('data', () => {});
  const plainTicks = await pingReads(plainReader, plainWriter, 50);
  const ticks = await pingReads(reader, writer, 50);
  assert.ok(plainTicks >= 50, `a plain socket queued ${plainTicks} ticks for 50 reads`);
  assert.ok(ticks < plainTicks - 40, `${ticks} ticks with the skip vs ${plainTicks} without`);
  for (const s of [plainReader, plainWriter, reader, writer]) s.destroy();
  closePlain();
  close();
});

test('a socket without read-more ticks still pauses past its high-water mark, resumes, and ends', async () => {
  const [reader, writer, close] = await socketPair();
  skipReadMoreTicks(reader);
  const received: Buffer[] = [];
  reader.on('data', (chunk: Buffer) => received.push(chunk));
  reader.pause();
  const total = 16 * 1024 * 1024; // far beyond the reader's high-water mark and the kernel buffers
  const sent = Buffer.alloc(total);
  for (let i = 0; i < total; i++) sent[i] = (i * 31) & 0xff;
  writer.end(sent);
  // Paused: the reader buffers up to its high-water mark, then stops taking bytes until resumed.
  while (reader.readableLength < reader.readableHighWaterMark) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(received.length, 0);
  assert.ok(writer.writableLength > 0, 'the writer is held back while the reader is paused');
  reader.resume();
  await once(reader, 'end');
  assert.ok(Buffer.concat(received).equals(sent));
  reader.destroy();
  close();
});

test('skipReadMoreTicks leaves a stream without Readable state alone', () => {
  assert.doesNotThrow(() => skipReadMoreTicks(undefined));
  assert.doesNotThrow(() => skipReadMoreTicks({}));
});
