// The byte splice on real sockets, without hypha: frames within the limit pass unchanged; a message over
// maxMessageBytes is reported to the caller (onTooLarge: the gateway's coded log line), its sender gets a
// Close 1009, the other side gets a masked Close 1009 instead of the message, and both sockets end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { spliceWebSockets } from '../../src/net/ws-splice.js';
import { wsFrame } from '../helpers/ws-frames.js';

const MASK = Buffer.from([1, 2, 3, 4]);

/** A connected pair of TCP sockets on loopback: [ours, theirs]. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const ours = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [theirs] = (await accepted) as [net.Socket];
  await once(ours, 'connect');
  server.close();
  return [ours, theirs];
}

function collect(socket: net.Socket): { bytes: () => Buffer; ended: Promise<unknown> } {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return { bytes: () => Buffer.concat(chunks), ended: once(socket, 'close') };
}

test('splice: frames pass unchanged; an oversized message is reported, refused with 1009 both ways, and ends the splice', async () => {
  const [client, clientSide] = await socketPair(); // client: the plain client; clientSide: the gateway's end
  const [upstreamSide, hypha] = await socketPair(); // upstreamSide: the gateway's end; hypha: the server
  const tooLarge: string[] = [];
  let closed = false;
  spliceWebSockets(clientSide, Buffer.alloc(0), upstreamSide, { maxMessageBytes: 1024, onTooLarge: (d) => tooLarge.push(d), onClosed: () => (closed = true) });
  const atHypha = collect(hypha);
  const atClient = collect(client);

  const small = wsFrame(2, true, Buffer.alloc(100, 9), MASK);
  client.write(small);
  const reply = wsFrame(2, true, Buffer.from('pong'), undefined);
  hypha.write(reply);
  for (let i = 0; i < 50 && (atHypha.bytes().length < small.length || atClient.bytes().length < reply.length); i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(atHypha.bytes(), small, 'the small frame reached hypha byte for byte');
  assert.deepEqual(atClient.bytes(), reply, 'hypha\'s frame reached the client byte for byte');

  client.write(wsFrame(2, true, Buffer.alloc(2000, 7), MASK));
  const closeSize = 2 + 2 + 'message too large'.length;
  for (let i = 0; i < 200 && (atHypha.bytes().length < small.length + closeSize + 4 || atClient.bytes().length < reply.length + closeSize); i++) await new Promise((r) => setTimeout(r, 10));
  // Both endpoints answer a Close by ending their connection, as WebSocket peers do.
  client.end();
  hypha.end();
  await Promise.all([atHypha.ended, atClient.ended]);
  for (let i = 0; i < 200 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(tooLarge, ['up']);
  assert.equal(closed, true, 'the splice reported both sockets closed');
  const toClient = atClient.bytes().subarray(reply.length);
  assert.deepEqual([toClient[0], toClient.readUInt16BE(2)], [0x88, 1009], 'the sender gets an unmasked Close 1009');
  const toHypha = atHypha.bytes().subarray(small.length);
  assert.equal(toHypha[0], 0x88);
  assert.equal(toHypha[1]! & 0x80, 0x80, 'the Close toward hypha is masked');
  assert.equal(((toHypha[6]! ^ toHypha[2]!) << 8) | (toHypha[7]! ^ toHypha[3]!), 1009);
  assert.ok(!atHypha.bytes().includes(Buffer.alloc(32, 7 ^ 1)), 'no byte of the oversized message reached hypha');
});
