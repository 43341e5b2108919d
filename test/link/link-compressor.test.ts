// Per-link compression of small messages (dict-deflate-v1): a pair of compressors stays in step over mixed
// traffic (their histories must match exactly), only starts after hearing from the peer, shrinks repeated
// calls below their plain size, bounds what it decodes, fails a corrupt message as BAD_FRAME, and an
// established link pair carries streams through it end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deflateRawSync } from 'node:zlib';
import { AccelError } from '../../src/errors.js';
import { HistoryDeflateCompressor, MAX_MESSAGE_BYTES } from '../../src/link/history-deflate-compressor.js';
import { establishAsEdge, establishAsGateway, type EstablishOptions } from '../../src/link/establish.js';
import { newLinkStats } from '../../src/link/link-session.js';
import { encodeJson } from '../../src/link/frame.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingHandler, StreamAcceptor, createLinkPair, testSettings, until } from '../helpers/link-pair.js';

const callLike = (i: number): Buffer =>
  Buffer.from(`\x13\x05\x01\x00\x00\x00\x00${String.fromCharCode(i & 0xff)}\x03\x81\x12ws-user-abc/client-${i % 3}\x22services.echo.echo\x91\x82\xa1n\xcd${i}\xa3pad\xb7xxxxxxxxxxxxxxxxxxxxxxx`, 'latin1');

function compressorPair(mode: 'on' | 'auto' = 'on', linkBytesPerUs = 0.1) {
  const make = () => new HistoryDeflateCompressor({ mode, stats: newLinkStats(), linkBytesPerUs: () => linkBytesPerUs });
  const a = make();
  const b = make();
  for (const c of [a, b]) c.attach(() => ({ rttMs: 100, pacingWindowBytes: undefined }));
  return { a, b };
}

test('nothing is compressed before the peer was heard from; then repeated calls shrink', () => {
  const { a, b } = compressorPair();
  const first = callLike(1);
  assert.equal(a.compress(first), first, 'the peer may still be in its handshake');
  b.decompress(first);
  a.decompress(b.compress(callLike(2))); // a hears from b
  let plain = 0;
  let wire = 0;
  for (let i = 3; i < 200; i++) {
    const message = callLike(i);
    const sent = a.compress(message);
    plain += message.byteLength;
    wire += sent.byteLength;
    assert.ok(Buffer.from(b.decompress(sent)).equals(message), `message ${i}`);
  }
  assert.ok(wire < plain * 0.45, `${wire} of ${plain} bytes`);
});

test('property: both histories stay in step over mixed sizes, directions and plain messages', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 4000, max: 9000 })), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 120 }),
      (steps) => {
        const { a, b } = compressorPair();
        let n = 0;
        for (const [fromA, size, variant] of steps) {
          const message = Buffer.alloc(size, 0);
          const seed = callLike(variant + n++);
          for (let i = 0; i < size; i++) message[i] = seed[i % seed.byteLength]! ^ (i % 251 === 0 ? n & 0xff : 0);
          const [from, to] = fromA ? [a, b] : [b, a];
          assert.ok(Buffer.from(to.decompress(from.compress(message))).equals(message));
        }
      },
    ),
    { seed: 44, numRuns: 150 },
  );
});

test('auto compresses only on a link slower than the CPU it costs', () => {
  const fast = compressorPair('auto', 100); // 800 Mbit/s
  const slow = compressorPair('auto', 0.1); // 0.8 Mbit/s
  for (const { a, b } of [fast, slow]) {
    a.decompress(b.compress(callLike(0)));
    b.decompress(a.compress(callLike(1)));
  }
  const message = callLike(5);
  assert.equal(fast.a.compress(message), message);
  assert.ok(slow.a.compress(message).byteLength < message.byteLength);
});

test('a corrupt or oversized compressed message is BAD_FRAME, never more than the bound decoded', () => {
  const badFrame = (e: unknown) => e instanceof AccelError && e.code === 'HYPHA_ACCEL_ERR_BAD_FRAME';
  // A tagged deflate stream that inflates past MAX_MESSAGE_BYTES: refused by maxOutputLength.
  const over = deflateRawSync(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 1));
  const fresh = compressorPair().b;
  assert.throws(() => fresh.decompress(Buffer.concat([Buffer.from([0xc5]), over])), badFrame);
  // A flipped byte in a real compressed message.
  const { a, b } = compressorPair();
  a.decompress(b.compress(callLike(0)));
  const sent = Buffer.from(a.compress(callLike(1)));
  sent[2]! ^= 0xff;
  sent[sent.byteLength - 1]! ^= 0xff;
  assert.throws(() => b.decompress(sent), badFrame);
});

test('an established link pair with the compressor carries streams both ways, compressed', async () => {
  const { a, b } = createLinkPair();
  const acceptor = new StreamAcceptor();
  const stats = { edge: newLinkStats(), gateway: newLinkStats() };
  const options = (side: 'edge' | 'gateway', extra: Partial<EstablishOptions> = {}): EstablishOptions => ({
    secret: Buffer.alloc(32, 1),
    local: testSettings({ capabilities: ['dict-deflate-v1'] }),
    handshakeTimeoutMs: 5000,
    instanceId: side,
    session: () => ({
      maxMessageBytes: 1 << 20, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000, sendHighWaterBytes: 1 << 20,
      clock: new FakeClock(), stats: stats[side], onStreamOpen: acceptor.accept,
      compressor: new HistoryDeflateCompressor({ mode: 'on', stats: stats[side], linkBytesPerUs: () => 1 }),
    }),
    ...extra,
  });
  const [edge] = await Promise.all([establishAsEdge(a, options('edge')), establishAsGateway(b, options('gateway'))]);
  const stream = edge.session.openStream(encodeJson({ sessionId: 's1', path: '/ws' }));
  const handler = new RecordingHandler();
  stream.bind(handler);
  await until(() => acceptor.streams.length === 1, 'the gateway to accept the stream');
  const far = acceptor.streams[0]!;
  for (let i = 0; i < 50; i++) {
    stream.sendMessage(callLike(i), false);
    await until(() => far.handler.messages.length === i + 1, `call ${i}`);
    far.stream.sendMessage(callLike(1000 + i), false);
    await until(() => handler.messages.length === i + 1, `reply ${i}`);
  }
  far.handler.messages.forEach((m, i) => assert.ok(m.data.equals(callLike(i))));
  handler.messages.forEach((m, i) => assert.ok(m.data.equals(callLike(1000 + i))));
  for (const side of [stats.edge, stats.gateway]) {
    assert.ok(side.linkMessagesCompressed > 40, `compressed ${side.linkMessagesCompressed}`);
    assert.ok(side.linkCompressWireBytes < side.linkCompressRawBytes * 0.6);
  }
});
