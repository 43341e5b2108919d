// The gateway's plain passthrough as a byte splice, against a real hypha: a recording TCP pipe between the
// gateway and hypha sees the WebSocket bytes on hypha's side, a raw client sees them on its side, and
// after the two handshakes they must be the same bytes in both directions, Close included. With
// plainSplice off (ws relays each message, re-masking toward hypha) the client's bytes differ: the
// comparison can fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { handshakeMessage, rawConnect } from '../helpers/raw-ws.js';

interface Recorded { up: Buffer[]; down: Buffer[] }

let hyphaUrl: string;
let recorder: net.Server;
const recorded: Recorded[] = [];

before(async () => {
  hyphaUrl = await serverUrlFromEnv();
  const target = new URL(hyphaUrl);
  recorder = net.createServer((socket) => {
    const record: Recorded = { up: [], down: [] };
    recorded.push(record);
    const upstream = net.connect(Number(target.port), target.hostname);
    socket.on('data', (d: Buffer) => record.up.push(Buffer.from(d)));
    upstream.on('data', (d: Buffer) => record.down.push(Buffer.from(d)));
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  await new Promise((resolve) => recorder.close(resolve));
});

/** After the HTTP head (request or 101): the WebSocket bytes. */
function afterHead(chunks: Buffer[]): Buffer {
  const all = Buffer.concat(chunks);
  const end = all.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'an HTTP head');
  return all.subarray(end + 4);
}

function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x9a, 0x40, 0xe3]);
  const length = payload.length;
  const lengthBytes = length < 126 ? Buffer.from([0x80 | length]) : Buffer.from([0x80 | 126, length >> 8, length & 0xff]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3]!;
  return Buffer.concat([Buffer.from([0x80 | opcode]), lengthBytes, mask, body]);
}

/** A raw client: upgrade, hypha-rpc's first message, wait for connection_info, Close 4321, wait for the end. */
async function rawSession(pair: AccelPair): Promise<{ sent: Buffer; received: Buffer; record: Recorded }> {
  const before = recorded.length;
  const socket = net.connect(pair.gateway.port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const request = 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  socket.write(request);
  const frames = [maskedFrame(1, Buffer.from(handshakeMessage(`splice-${randomUUID()}`))), maskedFrame(9, Buffer.from('ping'))];
  const close = maskedFrame(8, Buffer.concat([Buffer.from([0x10, 0xe1]), Buffer.from('bye')])); // 4321
  await until(() => Buffer.concat(received).includes('\r\n\r\n'));
  for (const f of frames) socket.write(f);
  await until(() => Buffer.concat(received).includes('connection_info'));
  socket.write(close);
  await ended;
  const record = recorded.slice(before).find((r) => Buffer.concat(r.up).subarray(0, 8).toString() === 'GET /ws?' || Buffer.concat(r.up).subarray(0, 7).toString() === 'GET /ws');
  assert.ok(record, 'the gateway dialled hypha through the recorder');
  return { sent: Buffer.concat([...frames, close]), received: afterHead(received), record };
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('spliced: hypha receives exactly the client\'s frame bytes and the client exactly hypha\'s, Close included', async () => {
  const pair = await startAccelPair(`http://127.0.0.1:${(recorder.address() as net.AddressInfo).port}`);
  try {
    const { sent, received, record } = await rawSession(pair);
    assert.ok(afterHead(record.up).equals(sent), 'client -> hypha bytes unchanged');
    assert.ok(received.equals(afterHead(record.down)), 'hypha -> client bytes unchanged');
    assert.ok(received.length > 0 && received.includes('connection_info'));
    await until(() => pair.gateway.sessionCounts().passthrough === 0 && pair.gateway.upstreamCount() === 0); // the session ends with both sockets
  } finally {
    await pair.close();
  }
});

test('plainSplice off: ws re-masks toward hypha, so the bytes differ (the comparison above can fail)', async () => {
  const pair = await startAccelPair(`http://127.0.0.1:${(recorder.address() as net.AddressInfo).port}`, { gateway: { plainSplice: false } });
  try {
    const { sent, record } = await rawSession(pair);
    assert.ok(!afterHead(record.up).equals(sent));
  } finally {
    await pair.close();
  }
});

test('spliced: a message above maxMessageBytes closes the client with 1009, as ws would; hypha is told 1009 too', async () => {
  const pair = await startAccelPair(`http://127.0.0.1:${(recorder.address() as net.AddressInfo).port}`, { gateway: { maxMessageBytes: 2048 } });
  const before = recorded.length;
  try {
    const session = rawConnect(`${pair.gateway.url}/ws`);
    assert.equal(await session.opened, true);
    session.ws.send(handshakeMessage(`splice-${randomUUID()}`));
    await session.nextMessage();
    session.ws.send(Buffer.alloc(4096, 7));
    assert.equal((await session.closed).close?.code, 1009);
    await until(() => pair.gateway.sessionCounts().passthrough === 0);
    const record = recorded.slice(before).find((r) => Buffer.concat(r.up).subarray(0, 7).toString() === 'GET /ws');
    const up = afterHead(record!.up);
    assert.ok(!up.includes(Buffer.alloc(64, 7)), 'no byte of the oversized message reached hypha');
    // The gateway's own Close toward hypha ends what hypha received: masked, code 1009.
    const reason = 'message too large';
    const close = up.subarray(up.length - (6 + 2 + reason.length));
    assert.deepEqual([close[0], close[1]], [0x88, 0x80 | (2 + reason.length)]);
    const payload = Buffer.from(close.subarray(6));
    for (let i = 0; i < payload.length; i++) payload[i] ^= close[2 + (i & 3)]!;
    assert.equal(payload.readUInt16BE(0), 1009);
  } finally {
    await pair.close();
  }
});
