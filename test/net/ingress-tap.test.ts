// The ingress tap on a real ws server socket: large binary messages come out piece by piece before the
// sender has finished them, everything else still arrives through ws as whole messages, in order, and a
// taken message that grows too large is closed by ws with 1009.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { tapIngress } from '../../src/net/ingress-tap.js';
import { until } from '../helpers/link-pair.js';

type Event = { kind: 'message'; data: Buffer; isBinary: boolean } | { kind: 'piece'; data: Buffer; fin: boolean };

async function serverWithTap(maxMessageBytes: number, perMessageDeflate = false) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, maxPayload: maxMessageBytes });
  await once(wss, 'listening');
  const events: Event[] = [];
  const closes: number[] = [];
  let tapped: boolean | undefined;
  wss.on('connection', (ws) => {
    const tap = tapIngress(ws, maxMessageBytes);
    tapped = tap !== undefined;
    tap?.attach({ wants: (frameBytes) => frameBytes > 1000, piece: (data, fin) => events.push({ kind: 'piece', data: Buffer.from(data), fin }) });
    ws.on('message', (data: Buffer, isBinary) => events.push({ kind: 'message', data, isBinary }));
    ws.on('close', (code) => closes.push(code));
    ws.on('error', () => {});
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return { wss, url, events, closes, tapped: () => tapped };
}

test('ingress tap: a large binary message is handed on before it is complete; order with ws messages holds', async () => {
  const server = await serverWithTap(1 << 24);
  const client = new WebSocket(server.url, { perMessageDeflate: false });
  await once(client, 'open');
  const big = Buffer.alloc(300_000).map((_, i) => (i * 13) & 0xff);
  client.send('first');
  client.send(big.subarray(0, 100_000), { binary: true, fin: false });
  await until(() => server.events.some((e) => e.kind === 'piece'), 'a piece of the unfinished message');
  client.ping();
  client.send(big.subarray(100_000), { binary: true, fin: true });
  client.send(Buffer.from('small'), { binary: true });
  await until(() => server.events.filter((e) => e.kind === 'message').length === 2, 'the small message');
  assert.equal(server.tapped(), true);
  const [first, ...rest] = server.events;
  assert.deepEqual(first, { kind: 'message', data: Buffer.from('first'), isBinary: false });
  const pieces = rest.slice(0, -1);
  assert.ok(pieces.every((e) => e.kind === 'piece'));
  assert.deepEqual(Buffer.concat(pieces.map((p) => p.data)), big);
  assert.deepEqual(pieces.map((p) => (p as { fin: boolean }).fin).filter(Boolean), [true]);
  assert.equal((pieces.at(-1) as { fin: boolean }).fin, true);
  assert.deepEqual(rest.at(-1), { kind: 'message', data: Buffer.from('small'), isBinary: true });
  client.close();
  server.wss.close();
});

test('ingress tap: a taken message that grows past the limit is closed by ws with 1009', async () => {
  const server = await serverWithTap(10_000);
  const client = new WebSocket(server.url, { perMessageDeflate: false });
  await once(client, 'open');
  client.send(Buffer.alloc(6000, 1), { binary: true, fin: false });
  client.send(Buffer.alloc(6000, 2), { binary: true, fin: true });
  const [code] = await once(client, 'close');
  assert.equal(code, 1009);
  await until(() => server.closes.length === 1, 'the server side close');
  assert.equal(server.events.filter((e) => e.kind === 'piece' && e.fin).length, 0);
  server.wss.close();
});

test('ingress tap: with permessage-deflate negotiated ws keeps the whole path', async () => {
  const server = await serverWithTap(1 << 24, true);
  const client = new WebSocket(server.url, { perMessageDeflate: true });
  await once(client, 'open');
  client.send(Buffer.alloc(50_000, 7));
  await until(() => server.events.length === 1, 'the message');
  assert.equal(server.tapped(), false);
  assert.equal(server.events[0]!.kind, 'message');
  client.close();
  server.wss.close();
});

test('ingress sink: observers get the head (>= 4 KiB) and the length, the trace they set rides the first piece; whole-message observers keep ws', async () => {
  const { ingressSink } = await import('../../src/net/ingress-tap.js');
  const { channels } = await import('../../src/events.js');
  const sent: Array<{ piece: Buffer; fin: boolean; trace: unknown }> = [];
  const stream = { takesPieces: () => true, sendPiece: (piece: Buffer, fin: boolean, trace?: unknown) => sent.push({ piece: Buffer.from(piece), fin, trace }) };
  const observed: Array<{ head: Buffer; bytes: number }> = [];
  const trace = { traceId: new Uint8Array(16), spanId: new Uint8Array(8), traceFlags: 1 };
  const sink = ingressSink(stream as never, (head, bytes) => {
    observed.push({ head: Buffer.from(head), bytes });
    return trace;
  });
  const message = Buffer.alloc(10_000).map((_, i) => i & 0xff);
  // Nobody observes: pieces go straight on.
  assert.equal(sink.wants(message.length, true), true);
  sink.piece(message.subarray(0, 100), false);
  assert.equal(sent.length, 1);
  sink.piece(message.subarray(100), true);
  sent.length = 0;
  const listener = () => {};
  channels.message.subscribe(listener);
  try {
    assert.equal(sink.wants(message.length, true), true);
    sink.piece(message.subarray(0, 1000), false);
    sink.piece(message.subarray(1000, 3000), false);
    assert.equal(sent.length, 0, 'held until the head is in');
    sink.piece(message.subarray(3000, 6000), false);
    sink.piece(message.subarray(6000), true);
    assert.deepEqual(observed.map((o) => o.bytes), [10_000]);
    assert.deepEqual(observed[0]!.head, message.subarray(0, 6000));
    assert.deepEqual(Buffer.concat(sent.map((s) => s.piece)), message);
    assert.deepEqual(sent.map((s) => s.trace), [trace, undefined, undefined, undefined]);
    assert.deepEqual(sent.map((s) => s.fin), [false, false, false, true]);
    channels.wholeMessage.subscribe(listener);
    assert.equal(sink.wants(message.length, true), false);
  } finally {
    channels.message.unsubscribe(listener);
    channels.wholeMessage.unsubscribe(listener);
  }
});
