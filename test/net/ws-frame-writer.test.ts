// The fragment writer against real ws peers: fragments written straight to a client socket (masked in
// place) or a server socket (unmasked) arrive as one message with the original bytes and opcode, in order
// with messages ws.send writes before and after; while ws's sender is busy it declines (caller uses ws.send).
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { fragmentWriter } from '../../src/net/ws-frame-writer.js';

async function connectedPair(): Promise<{ client: WebSocket; server: WebSocket; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: false });
  await new Promise((resolve) => client.once('open', resolve));
  const server = await accepted;
  return { client, server, close: async () => { client.terminate(); await new Promise((resolve) => wss.close(resolve)); } };
}

function messages(ws: WebSocket, count: number): Promise<Array<{ data: Buffer; isBinary: boolean }>> {
  const got: Array<{ data: Buffer; isBinary: boolean }> = [];
  return new Promise((resolve) => ws.on('message', (data: Buffer, isBinary: boolean) => {
    got.push({ data, isBinary });
    if (got.length === count) resolve(got);
  }));
}

for (const side of ['client (masked in place)', 'server (unmasked)'] as const) {
  test(`fragments written to a ${side} socket arrive as one message, in order with ws.send`, async () => {
    const { client, server, close } = await connectedPair();
    const [from, to] = side.startsWith('client') ? [client, server] : [server, client];
    const original = randomBytes(200_000);
    const piecesSent = [original.subarray(0, 100), original.subarray(100, 70_000), original.subarray(70_000)].map((piece) => Buffer.from(piece));
    const received = messages(to, 4);
    from.send('before');
    const writer = fragmentWriter(from);
    let writtenCount = 0;
    piecesSent.forEach((piece, i) => assert.equal(writer.write(piece, false, i === 0, i === piecesSent.length - 1, () => writtenCount++), true));
    assert.equal(writer.write(Buffer.from('hé'), true, true, true, () => writtenCount++), true);
    from.send('after');
    const got = await received;
    assert.deepEqual(got.map((m) => m.isBinary), [false, true, false, false]);
    assert.equal(got[0]!.data.toString(), 'before');
    assert.ok(got[1]!.data.equals(original), 'the binary message has the original bytes');
    assert.equal(got[2]!.data.toString(), 'hé');
    assert.equal(got[3]!.data.toString(), 'after');
    assert.equal(writtenCount, 4);
    await close();
  });
}

test('while ws is sending through its queue (a Blob being read), the writer declines', async () => {
  const { client, close } = await connectedPair();
  const writer = fragmentWriter(client);
  client.send(new Blob([randomBytes(1000)]));
  assert.equal(writer.write(Buffer.alloc(10), false, true, true, () => {}), false);
  await close();
});
