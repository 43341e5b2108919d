// Both link transports on real loopback sockets, without hypha: the frames of one event-loop turn travel
// in one WebSocket message (batched subprotocol) or one TCP write, arrive whole and in order, and a
// WebSocket link without the subprotocol still carries one frame per message.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { FrameClass, FrameType, decodeFrame, encodeFrame } from '../../src/link/frame.js';
import type { DuplexTransport } from '../../src/link/establish.js';
import { LINK_WS_PROTOCOL, wsLinkTransport } from '../../src/net/ws-link-transport.js';
import { BATCH_FLUSH_BYTES, COMPACT_FRAMING, LINK_FRAMING_HEADER, acceptTcpLink, dialTcpLink, tcpLinkTransport, wantsTcpLink } from '../../src/net/tcp-link-transport.js';
import { Duplex } from 'node:stream';
import { until } from '../helpers/link-pair.js';

const MAX = 1 << 20;
const servers: http.Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function listen(onUpgrade: (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void): Promise<number> {
  const server = http.createServer();
  server.on('upgrade', onUpgrade);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const frames = [1, 2, 3].map((seq) => ({ type: FrameType.DATA, flags: 1, frameClass: FrameClass.RPC, streamId: 9, seq }));
const payload = (seq: number) => Buffer.alloc(seq * 3000, seq); // the third is past the slab's copy limit

function sendAll(transport: DuplexTransport & { sendParts?: Function }): void {
  for (const header of frames) {
    if (transport.sendParts) transport.sendParts(header, payload(header.seq), () => {});
    else transport.send(encodeFrame({ ...header, payload: payload(header.seq) }), () => {});
  }
}

function collect(transport: DuplexTransport): Array<{ seq: number; payload: Buffer }> {
  const got: Array<{ seq: number; payload: Buffer }> = [];
  transport.onMessage = (data) => {
    const frame = decodeFrame(data, MAX);
    got.push({ seq: frame.seq, payload: Buffer.from(frame.payload) });
  };
  return got;
}

for (const offered of [[LINK_WS_PROTOCOL], []]) {
  const batched = offered.length > 0;
  test(`WebSocket link ${batched ? 'with' : 'without'} the batched subprotocol: ${batched ? 'one message' : 'one message per frame'}`, async () => {
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(LINK_WS_PROTOCOL) ? LINK_WS_PROTOCOL : false) });
    let serverSide: DuplexTransport | undefined;
    let wsMessages = 0;
    const port = await listen((req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', () => wsMessages++);
      serverSide = wsLinkTransport(ws, MAX);
    }));
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, offered);
    await new Promise((resolve) => client.once('open', resolve));
    const clientSide = wsLinkTransport(client, MAX);
    await until(() => serverSide !== undefined, 'the server side');
    const got = collect(serverSide!);
    sendAll(clientSide);
    await until(() => got.length === 3, 'three frames');
    assert.deepEqual(got.map((f) => f.seq), [1, 2, 3]);
    for (const f of got) assert.deepEqual(f.payload, payload(f.seq));
    assert.equal(wsMessages, batched ? 1 : 3);
    client.close();
  });
}

test('byte-stream link over an HTTP Upgrade: frames both ways, whole and in order', async () => {
  let serverSide: DuplexTransport | undefined;
  const port = await listen((req, socket, head) => {
    assert.ok(wantsTcpLink(req));
    assert.equal(req.headers[LINK_FRAMING_HEADER], COMPACT_FRAMING, 'the edge offers compact framing');
    serverSide = acceptTcpLink(socket, head, MAX, req);
  });
  const clientSide = await dialTcpLink(new URL(`http://127.0.0.1:${port}/.hypha-accel/link`), { maxFrameBytes: MAX, timeoutMs: 2000 });
  await until(() => serverSide !== undefined, 'the server side');
  const atServer = collect(serverSide!);
  const atClient = collect(clientSide);
  sendAll(clientSide);
  sendAll(serverSide!);
  await until(() => atServer.length === 3 && atClient.length === 3, 'three frames each way');
  for (const got of [atServer, atClient]) {
    assert.deepEqual(got.map((f) => f.seq), [1, 2, 3]);
    for (const f of got) assert.deepEqual(f.payload, payload(f.seq));
  }
  let closed: { code: number } | undefined;
  serverSide!.onClose = (code) => (closed = { code });
  clientSide.close(1000, 'done');
  await until(() => closed !== undefined, 'the close');
  assert.equal(closed!.code, 1000, 'an orderly end is a clean close');
});

test('byte-stream dial: a gateway that answers without upgrading is NO_LINK', async () => {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await assert.rejects(dialTcpLink(new URL(`http://127.0.0.1:${port}/.hypha-accel/link`), { maxFrameBytes: MAX, timeoutMs: 2000 }), /NO_LINK|HTTP 404/);
});

for (const link of ['ws-batched', 'ws-single', 'tcp'] as const) {
  test(`${link}: a frame sent just before close() still arrives before the close (GOAWAY then close)`, async () => {
    let serverSide: DuplexTransport | undefined;
    let clientSide: DuplexTransport;
    if (link === 'tcp') {
      const port = await listen((_req, socket, head) => (serverSide = acceptTcpLink(socket, head, MAX)));
      clientSide = await dialTcpLink(new URL(`http://127.0.0.1:${port}/.hypha-accel/link`), { maxFrameBytes: MAX, timeoutMs: 2000 });
    } else {
      const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(LINK_WS_PROTOCOL) ? LINK_WS_PROTOCOL : false) });
      const port = await listen((req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => (serverSide = wsLinkTransport(ws, MAX))));
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, link === 'ws-batched' ? [LINK_WS_PROTOCOL] : []);
      await new Promise((resolve) => client.once('open', resolve));
      clientSide = wsLinkTransport(client, MAX);
    }
    await until(() => serverSide !== undefined, 'the server side');
    const events: string[] = [];
    serverSide!.onMessage = (data) => events.push(`frame 0x${decodeFrame(data, MAX).type.toString(16)}`);
    serverSide!.onClose = () => events.push('close');
    clientSide.send(encodeFrame({ type: FrameType.GOAWAY, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload: Buffer.from([0, 10]) }), () => {});
    clientSide.close(1001, 'HYPHA_ACCEL_ERR_SHUTDOWN');
    await until(() => events.includes('close'), 'the close');
    assert.deepEqual(events, ['frame 0x5', 'close']);
  });
}

test('byte stream: a socket error that leaves the socket open (a TLS record failing its check, Node 24) still ends the link', async () => {
  const socket = new Duplex({ read() {}, write(_chunk, _encoding, callback) { callback(); } });
  const transport = tcpLinkTransport(socket, 1 << 20);
  let closed: [number, string] | undefined;
  transport.onClose = (code, reason) => (closed = [code, reason]);
  socket.emit('error', new Error('decryption failed or bad record mac'));
  await until(() => closed !== undefined, 'the transport to report the close', 2000);
  assert.equal(closed![0], 1006);
  assert.match(closed![1], /bad record mac/);
  assert.ok(socket.destroyed);
});

test('byte stream: small frames wait for the end of the turn; a batch of a full frame\'s worth is written at once, in order', async () => {
  const writes: Buffer[] = [];
  const record = (chunk: Buffer) => writes.push(Buffer.from(chunk));
  const socket = new Duplex({
    read() {},
    write(chunk, _encoding, callback) { record(chunk); callback(); },
    writev(chunks, callback) { record(Buffer.concat(chunks.map((c) => c.chunk as Buffer))); callback(); },
  });
  const sender = tcpLinkTransport(socket, MAX) as DuplexTransport & { sendParts: Function };
  const header = (seq: number) => ({ type: FrameType.DATA, flags: 1, frameClass: FrameClass.BULK, streamId: 3, seq });
  const sizes = [100, 200, BATCH_FLUSH_BYTES, 300];
  sender.sendParts(header(0), Buffer.alloc(sizes[0]!, 0), () => {});
  sender.sendParts(header(1), Buffer.alloc(sizes[1]!, 1), () => {});
  assert.equal(writes.length, 0, 'small frames are batched until the turn ends');
  sender.sendParts(header(2), Buffer.alloc(sizes[2]!, 2), () => {});
  assert.equal(writes.length, 1, 'a full frame\'s worth leaves in the same call, with the frames before it');
  sender.sendParts(header(3), Buffer.alloc(sizes[3]!, 3), () => {});
  assert.equal(writes.length, 1, 'what follows waits for the end of the turn again');
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writes.length, 2);
  // The bytes, read back through the same framing, are the four frames whole and in order.
  const wire = new Duplex({ read() {}, write(_chunk, _encoding, callback) { callback(); } });
  const got = collect(tcpLinkTransport(wire, MAX));
  for (const bytes of writes) wire.push(bytes);
  await until(() => got.length === 4, 'the four frames');
  assert.deepEqual(got.map((f) => f.seq), [0, 1, 2, 3]);
  got.forEach((f, i) => assert.deepEqual(f.payload, Buffer.alloc(sizes[i]!, i)));
});

// Compact framing (varint-v1) is offered by the edge in the upgrade and used only when the 101 accepts it.
async function rawUpgrade(port: number, offer: boolean): Promise<{ socket: import('node:net').Socket; head: string }> {
  const net = await import('node:net');
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET /.hypha-accel/link HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: hypha-accel-link/1\r\n${offer ? `${LINK_FRAMING_HEADER}: ${COMPACT_FRAMING}\r\n` : ''}\r\n`);
  let head = '';
  while (!head.includes('\r\n\r\n')) head += String(await new Promise<Buffer>((resolve) => socket.once('data', resolve)));
  return { socket, head };
}

for (const offer of [true, false]) {
  test(`byte-stream accept: an edge that ${offer ? 'offers' : 'does not offer (older)'} compact framing gets ${offer ? 'varint' : 'u32'} prefixes`, async () => {
    let serverSide: DuplexTransport | undefined;
    const port = await listen((req, socket, head) => (serverSide = acceptTcpLink(socket, head, MAX, req)));
    const { socket, head } = await rawUpgrade(port, offer);
    assert.equal(head.toLowerCase().includes(`${LINK_FRAMING_HEADER}: ${COMPACT_FRAMING}`), offer);
    await until(() => serverSide !== undefined, 'the server side');
    const atServer = collect(serverSide!);
    const frame = encodeFrame({ ...frames[0]!, payload: payload(1).subarray(0, 10) });
    const prefix = offer ? Buffer.from([frame.length * 2]) : Buffer.from([0, 0, 0, frame.length]);
    socket.write(Buffer.concat([prefix, frame]));
    await until(() => atServer.length === 1, 'the frame');
    assert.deepEqual(atServer[0]!.payload, payload(1).subarray(0, 10));
    socket.destroy();
  });
}

test('byte-stream dial against an older gateway (101 without the framing header): u32 framing both ways', async () => {
  let serverSide: DuplexTransport | undefined;
  const port = await listen((_req, socket, head) => (serverSide = acceptTcpLink(socket, head, MAX))); // never answers the offer
  const clientSide = await dialTcpLink(new URL(`http://127.0.0.1:${port}/.hypha-accel/link`), { maxFrameBytes: MAX, timeoutMs: 2000 });
  await until(() => serverSide !== undefined, 'the server side');
  const atServer = collect(serverSide!);
  const atClient = collect(clientSide);
  sendAll(clientSide);
  sendAll(serverSide!);
  await until(() => atServer.length === 3 && atClient.length === 3, 'three frames each way');
  for (const got of [atServer, atClient]) assert.deepEqual(got.map((f) => f.seq), [1, 2, 3]);
  clientSide.close(1000, 'done');
});
