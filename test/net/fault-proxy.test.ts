// The fault-injection proxy of the integration tests (test/helpers/fault-proxy.ts) does what they rely on:
// its frame cursor finds link frames however the stream is cut and flips exactly the byte aimed at; raw
// corruption flips the chosen stream offsets; slow reads deliver every byte intact and in order.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { FrameClass, FrameType, encodeFrame } from '../../src/link/frame.js';
import { compactPrefixBytes, writeCompactPrefix } from '../../src/link/compact-prefix.js';
import { LinkFrameCursor } from '../helpers/link-frame-cursor.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const REQUEST_HEAD = 'GET /.hypha-accel/link HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: hypha-accel-link/1\r\n\r\n';

function lengthPrefixed(frame: Buffer): Buffer {
  const out = Buffer.alloc(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  frame.copy(out, 4);
  return out;
}

function linkStream(head: string): { bytes: Buffer; dataSeqOffset: number } {
  const ping = lengthPrefixed(encodeFrame({ type: FrameType.PING, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload: Buffer.alloc(8) }));
  const data = lengthPrefixed(encodeFrame({ type: FrameType.DATA, flags: 1, frameClass: FrameClass.RPC, streamId: 7, seq: 3, payload: Buffer.from('hello') }));
  const data2 = lengthPrefixed(encodeFrame({ type: FrameType.DATA, flags: 1, frameClass: FrameClass.RPC, streamId: 7, seq: 4, payload: Buffer.from('again') }));
  const headBytes = Buffer.from(head, 'latin1');
  return { bytes: Buffer.concat([headBytes, ping, data, data2]), dataSeqOffset: headBytes.length + ping.length + 4 + 11 };
}

/** Cut anywhere, the cursor aimed at the first DATA frame's seq field flips that one byte and counts every frame. */
function assertFlipsFirstDataSeqOnly(bytes: Buffer, dataSeqOffset: number, frames: number): void {
  for (let cut = 0; cut <= bytes.length; cut++) {
    const copy = Buffer.from(bytes);
    const cursor = new LinkFrameCursor('request');
    let left = 1;
    const aim = (type: number) => (type === FrameType.DATA && left-- > 0 ? { offset: 11, xor: 0x01 } : undefined);
    cursor.walk(copy.subarray(0, cut), aim);
    cursor.walk(copy.subarray(cut), aim);
    const changed = [...copy.keys()].filter((i) => copy[i] !== bytes[i]);
    assert.deepEqual(changed, [dataSeqOffset], `cut at ${cut}`);
    assert.equal(cursor.frames, frames);
  }
}

test('the frame cursor flips the aimed byte of the first DATA frame only, wherever the stream is cut', () => {
  const { bytes, dataSeqOffset } = linkStream(REQUEST_HEAD);
  assertFlipsFirstDataSeqOnly(bytes, dataSeqOffset, 3);
});

function compactPrefixed(body: Buffer, tagged = false): Buffer {
  const value = body.length * 2 + (tagged ? 1 : 0);
  const out = Buffer.alloc(compactPrefixBytes(value) + body.length);
  body.copy(out, writeCompactPrefix(out, 0, value));
  return out;
}

test('with compact framing (varint-v1) the cursor flips the aimed byte of the first DATA frame only, never inside a compressed message', () => {
  const head = REQUEST_HEAD.replace('\r\n\r\n', '\r\nHypha-Accel-Link-Framing: varint-v1\r\n\r\n');
  const headBytes = Buffer.from(head, 'latin1');
  const ping = compactPrefixed(encodeFrame({ type: FrameType.PING, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload: Buffer.alloc(8) }));
  // a compressed message's body (tag left off): its first byte looks like a DATA frame's type, yet is not one
  const compressed = compactPrefixed(Buffer.concat([Buffer.of(FrameType.DATA), Buffer.alloc(200, 7)]), true);
  const data = compactPrefixed(encodeFrame({ type: FrameType.DATA, flags: 1, frameClass: FrameClass.RPC, streamId: 7, seq: 3, payload: Buffer.alloc(150, 1) }));
  const data2 = compactPrefixed(encodeFrame({ type: FrameType.DATA, flags: 1, frameClass: FrameClass.RPC, streamId: 7, seq: 4, payload: Buffer.from('again') }));
  const bytes = Buffer.concat([headBytes, ping, compressed, data, data2]);
  const dataSeqOffset = headBytes.length + ping.length + compressed.length + 2 + 11; // 162 × 2 needs a 2-byte varint
  assertFlipsFirstDataSeqOnly(bytes, dataSeqOffset, 4);
});

test('a connection that is not a link upgrade is left alone', () => {
  const { bytes } = linkStream('GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n');
  const copy = Buffer.from(bytes);
  new LinkFrameCursor('request').walk(copy, () => ({ offset: 0, xor: 0xff }));
  assert.deepEqual(copy, bytes);
});

async function echoServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // the proxy resets its side when the client goes
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function roundTrip(proxy: FaultProxy, payload: Buffer): Promise<Buffer> {
  const socket = net.connect(proxy.port, '127.0.0.1');
  const received: Buffer[] = [];
  let length = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      length += chunk.length;
      if (length >= payload.length) resolve();
    });
    socket.on('error', reject);
    socket.write(payload);
  });
  socket.destroy();
  return Buffer.concat(received);
}

test('slow reads pass every byte intact and hold at most about one read; raw corruption flips the chosen offsets', async () => {
  const server = await echoServer();
  const proxy = new FaultProxy((server.address() as net.AddressInfo).port);
  await proxy.start();
  try {
    const payload = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 0xff));
    proxy.slowReads(32 << 20);
    assert.deepEqual(await roundTrip(proxy, payload), payload);
    assert.ok(proxy.peakUnwrittenBytes <= 256 * 1024, `held ${proxy.peakUnwrittenBytes} bytes`);
    proxy.heal();
    proxy.corruptBytes({ direction: 'up', fromByte: 10, everyBytes: 100_000, xor: 0x80 });
    const echoed = await roundTrip(proxy, payload);
    const changed = [...echoed.keys()].filter((i) => echoed[i] !== payload[i]);
    assert.deepEqual(changed, Array.from({ length: 11 }, (_, k) => 10 + k * 100_000));
  } finally {
    await proxy.close();
    server.close();
  }
});
