// The endpoint writer on real ws sockets, both ways: the peer's ws receives the same messages and
// fragments (text, binary, every length encoding, masked from a client), all frames of one turn leave in
// one socket write (a client masks handed-over fragments in place), each send is confirmed once, and a Close from ws still follows what was queued before.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { endpointWriter, WriteArena } from '../../src/net/endpoint-writer.js';
import { until } from '../helpers/link-pair.js';

interface Received { data: Buffer; isBinary: boolean }

async function pair(perMessageDeflate = false) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate });
  await once(client, 'open');
  const [server] = await accepted;
  const record = (ws: WebSocket) => {
    const received: Received[] = [];
    const closes: Array<{ code: number; reason: string }> = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
    ws.on('close', (code: number, reason: Buffer) => closes.push({ code, reason: reason.toString() }));
    return { received, closes };
  };
  return { wss, client, server, atClient: record(client), atServer: record(server) };
}

const pattern = (bytes: number) => Buffer.alloc(bytes).map((_, i) => (i * 31 + 7) & 0xff);
const SIZES = [0, 1, 125, 126, 4095, 4096, 65535, 65536, 200_000];

for (const side of ['server', 'client'] as const) {
  test(`endpoint writer (${side} side): messages and fragments arrive as ws sent them, every length encoding`, async () => {
    const p = await pair();
    const from = side === 'server' ? p.server : p.client;
    const at = side === 'server' ? p.atClient : p.atServer;
    const writer = endpointWriter(from, new WriteArena());
    assert.ok(writer);
    const confirmed: number[] = [];
    SIZES.forEach((bytes, i) => writer.send(pattern(bytes), false, true, () => confirmed.push(i)));
    writer.send(Buffer.from('héllo text'), true, true, () => confirmed.push(100));
    // Fragments handed over (owned): a client socket masks them in place rather than copying them.
    const handedOver = [pattern(70_000).subarray(0, 30_000), pattern(70_000).subarray(30_000)];
    writer.send(handedOver[0]!, false, false, () => confirmed.push(101), true);
    writer.send(handedOver[1]!, false, true, () => confirmed.push(102), true);
    assert.equal(Buffer.concat(handedOver).equals(pattern(70_000)), side === 'server', side === 'client' ? 'masked in place' : 'left alone');
    writer.send(Buffer.from('two '), true, false, () => confirmed.push(103));
    writer.send(Buffer.from('parts'), true, true, () => confirmed.push(104));
    await until(() => at.received.length === SIZES.length + 3, 'every message');
    SIZES.forEach((bytes, i) => assert.deepEqual(at.received[i], { data: pattern(bytes), isBinary: true }, `message of ${bytes} bytes`));
    assert.deepEqual(at.received[SIZES.length], { data: Buffer.from('héllo text'), isBinary: false });
    assert.deepEqual(at.received[SIZES.length + 1], { data: pattern(70_000), isBinary: true });
    assert.deepEqual(at.received[SIZES.length + 2], { data: Buffer.from('two parts'), isBinary: false });
    await until(() => confirmed.length === SIZES.length + 5, 'every send confirmed');
    assert.deepEqual(confirmed, [...SIZES.keys(), 100, 101, 102, 103, 104]);
    p.client.close();
    p.wss.close();
  });
}

for (const side of ['server', 'client'] as const) {
  test(`endpoint writer (${side} side): a frame given as parts (tail) arrives as the joined bytes, each part masked from its offset`, async () => {
    const p = await pair();
    const from = side === 'server' ? p.server : p.client;
    const at = side === 'server' ? p.atClient : p.atServer;
    const writer = endpointWriter(from, new WriteArena());
    assert.ok(writer);
    const whole = pattern(100_003);
    // Parts at offsets 0, 30_001, 30_003, 65_538 (every mask rotation), short ones too; one message of two frames.
    const cuts = [0, 30_001, 30_003, 65_538, 65_540, 90_000, 100_003];
    const parts = cuts.slice(1).map((end, i) => Buffer.from(whole.subarray(cuts[i]!, end)));
    const confirmed: number[] = [];
    writer.send(parts[0]!, false, false, () => confirmed.push(0), true, parts.slice(1, 3));
    writer.send(parts[3]!, false, true, () => confirmed.push(1), true, parts.slice(4));
    await until(() => at.received.length === 1 && confirmed.length === 2, 'the message');
    assert.deepEqual(at.received[0], { data: whole, isBinary: true });
    p.client.close();
    p.wss.close();
  });
}

test('endpoint writer: the small messages of one turn leave in one socket write', async () => {
  const p = await pair();
  const writer = endpointWriter(p.server, new WriteArena())!;
  const socket = (p.server as unknown as { _socket: Socket })._socket;
  let writes = 0;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => {
    writes++;
    return write(...args);
  }) as typeof socket.write;
  for (let i = 0; i < 64; i++) writer.send(pattern(200), false, true, () => {});
  await until(() => p.atClient.received.length === 64, '64 messages');
  assert.equal(writes, 1);
  p.client.close();
  p.wss.close();
});

test('endpoint writer: a Close from ws follows the messages queued before it in the same turn', async () => {
  const p = await pair();
  const writer = endpointWriter(p.server, new WriteArena())!;
  for (let i = 0; i < 10; i++) writer.send(pattern(100 + i), false, true, () => {});
  p.server.close(4001, 'done');
  await until(() => p.atClient.closes.length === 1, 'the close');
  assert.deepEqual(p.atClient.received.map((m) => m.data.length), [...Array(10).keys()].map((i) => 100 + i));
  assert.deepEqual(p.atClient.closes, [{ code: 4001, reason: 'done' }]);
  p.wss.close();
});

test('endpoint writer: sends after the socket is gone are confirmed at once; none with permessage-deflate', async () => {
  const p = await pair();
  const writer = endpointWriter(p.server, new WriteArena())!;
  p.server.terminate();
  let confirmed = 0;
  writer.send(pattern(10), false, true, () => confirmed++);
  assert.equal(confirmed, 1);
  p.wss.close();
  const deflated = await pair(true);
  assert.equal(endpointWriter(deflated.server, new WriteArena()), undefined);
  deflated.client.close();
  deflated.wss.close();
});

test('endpoint writers sharing one arena: interleaved sends over many slabs reach each peer intact and in order', async () => {
  const pairs = [await pair(), await pair()];
  const arena = new WriteArena();
  // Server- and client-side writers (unmasked and masked) on the same arena.
  const ends = pairs.flatMap((p) => [{ writer: endpointWriter(p.server, arena)!, at: p.atClient }, { writer: endpointWriter(p.client, arena)!, at: p.atServer }]);
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const sent: Buffer[][] = ends.map(() => []);
  const send = (k: number, bytes: number) => {
    const message = Buffer.from(pattern(bytes).map((b) => b ^ sent[k]!.length));
    sent[k]!.push(message);
    ends[k]!.writer.send(message, false, true, () => {});
  };
  // Writer 0 queues first; the others then fill several 64 KiB slabs in the same turn, before writer 0's
  // batch is written: its queued bytes must not be overwritten.
  send(0, 3000);
  for (let i = 0; i < 400; i++) send(1 + (i % 3), Math.floor(random() * 4096));
  // Then random interleaving over a few turns, sizes across the inline limit (views and copies).
  for (let turn = 0; turn < 5; turn++) {
    for (let i = 0; i < 100; i++) send(Math.floor(random() * 4), Math.floor(random() * 6000));
    await new Promise((resolve) => setImmediate(resolve));
  }
  try {
    await until(() => ends.every((end, k) => end.at.received.length === sent[k]!.length), 'every message');
    ends.forEach((end, k) => end.at.received.forEach((m, i) => assert.ok(m.data.equals(sent[k]![i]!), `writer ${k} message ${i}`)));
  } finally {
    for (const p of pairs) {
      p.client.terminate();
      p.wss.close();
    }
  }
});
