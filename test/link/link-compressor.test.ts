// Per-link compression of small messages (stream-deflate-v1): a pair of compressors stays in step over mixed
// traffic (their deflate streams must match exactly), only starts after hearing from the peer, shrinks
// repeated calls below their plain size, bounds what it decodes, fails garbage and corrupt messages as
// BAD_FRAME, and an established link pair carries streams through it end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deflateRawSync } from 'node:zlib';
import { AccelError } from '../../src/errors.js';
import { StreamDeflateCompressor, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES } from '../../src/link/stream-deflate-compressor.js';
import { StreamDeflater } from '../../src/link/stream-deflate.js';
import { compressedTransport } from '../../src/link/link-compressor.js';
import { establishAsEdge, establishAsGateway, type EstablishOptions } from '../../src/link/establish.js';
import { newLinkStats } from '../../src/link/link-session.js';
import { DataFlag, FrameClass, FrameType, encodeFrame, encodeJson, type FrameTypeValue } from '../../src/link/frame.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingHandler, StreamAcceptor, createLinkPair, testSettings, until } from '../helpers/link-pair.js';

const callLike = (i: number): Buffer =>
  Buffer.from(`\x13\x05\x01\x00\x00\x00\x00${String.fromCharCode(i & 0xff)}\x03\x81\x12ws-user-abc/client-${i % 3}\x22services.echo.echo\x91\x82\xa1n\xcd${i}\xa3pad\xb7xxxxxxxxxxxxxxxxxxxxxxx`, 'latin1');

function compressorPair(mode: 'on' | 'auto' = 'on', linkBytesPerUs = 0.1, seqDelta = false) {
  const make = () => new StreamDeflateCompressor({ mode, stats: newLinkStats(), linkBytesPerUs: () => linkBytesPerUs, maxLinkBytesPerUs: 400 / 8, seqDelta });
  const a = make();
  const b = make();
  for (const c of [a, b]) c.attach(() => ({ rttMs: 100, pacingWindowBytes: undefined }));
  return { a, b };
}

/** What a transport wrapper puts on the wire for `frames` sent in one turn. */
function wireFor(from: StreamDeflateCompressor, frames: Buffer[]): Buffer[] {
  if (!from.active()) return frames;
  return [from.compressBatch(frames, frames.reduce((n, f) => n + f.byteLength + 4, 0))];
}
function deliver(from: StreamDeflateCompressor, to: StreamDeflateCompressor, frames: Buffer[]): Uint8Array[] {
  return wireFor(from, frames).flatMap((wire) => to.decompress(wire));
}

test('nothing is compressed before the peer was heard from; then repeated calls shrink', () => {
  const { a, b } = compressorPair();
  const first = callLike(1);
  assert.equal(a.active(), false, 'the peer may still be in its handshake');
  deliver(a, b, [first]);
  deliver(b, a, [callLike(2)]); // a hears from b
  let plain = 0;
  let wire = 0;
  for (let i = 3; i < 200; i++) {
    const message = callLike(i);
    const [sent] = wireFor(a, [message]);
    plain += message.byteLength;
    wire += sent!.byteLength;
    assert.deepEqual(b.decompress(sent!).map((f) => Buffer.from(f)), [message], `message ${i}`);
  }
  assert.ok(wire < plain * 0.45, `${wire} of ${plain} bytes`);
});

test('a batch of frames is one compressed message that gives back the same frames in order', () => {
  const { a, b } = compressorPair();
  deliver(a, b, [callLike(0)]);
  deliver(b, a, [callLike(1)]);
  const frames = [callLike(2), Buffer.from([0x17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), callLike(3)];
  const wire = wireFor(a, frames);
  assert.equal(wire.length, 1);
  assert.deepEqual(b.decompress(wire[0]!).map((f) => Buffer.from(f)), frames);
});

test('property: both histories stay in step over mixed sizes, directions and plain messages', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: 12, max: 400 }), fc.integer({ min: 4000, max: 9000 })), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 120 }),
      (steps) => {
        const { a, b } = compressorPair();
        let n = 0;
        for (const [fromA, size, variant] of steps) {
          const message = Buffer.alloc(size, 0);
          const seed = callLike(variant + n++);
          for (let i = 0; i < size; i++) message[i] = seed[i % seed.byteLength]! ^ (i % 251 === 0 ? n & 0xff : 0);
          const [from, to] = fromA ? [a, b] : [b, a];
          // Frames above the compressor's bound go plain (and outside the stream), as the wrapper sends them.
          const out = message.byteLength > MAX_MESSAGE_BYTES ? to.decompress(message) : deliver(from, to, [message]);
          assert.deepEqual(out.map((f) => Buffer.from(f)), [message]);
        }
      },
    ),
    { seed: 44, numRuns: 150 },
  );
});

/** A stream frame as a link session sends it (12-byte header), with an echo-call-like payload. */
const streamFrame = (type: number, streamId: number, seq: number, i: number): Buffer =>
  encodeFrame({ type: type as FrameTypeValue, flags: DataFlag.FIN, frameClass: FrameClass.RPC, streamId, seq, payload: callLike(i).subarray(12) });
const SEQUENCED_TYPES = [FrameType.OPEN, FrameType.OPEN_OK, FrameType.OPEN_FAIL, FrameType.DATA, FrameType.CLOSE, FrameType.DELIVERED];

test('property (stream-deflate-v2): seq delta gives back every frame exactly, in order or not, any type', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.boolean(), fc.array(fc.tuple(fc.constantFrom(...SEQUENCED_TYPES, FrameType.WINDOW, FrameType.ACK, FrameType.PING), fc.integer({ min: 0, max: 4 }), fc.oneof(fc.constant(-1), fc.nat(), fc.constant(0xffffffff))), { minLength: 1, maxLength: 6 })),
        { minLength: 1, maxLength: 60 },
      ),
      (steps) => {
        const { a, b } = compressorPair('on', 0.1, true);
        deliver(a, b, [callLike(0)]);
        deliver(b, a, [callLike(1)]);
        const nextSeq = new Map<string, number>();
        let n = 0;
        for (const [fromA, batch] of steps) {
          const frames = batch.map(([type, streamId, jump]) => {
            // -1: the next seq of that stream and direction (the common case); else an arbitrary seq.
            const key = `${fromA}/${streamId}`;
            const seq = jump === -1 ? (nextSeq.get(key) ?? 0) : jump;
            nextSeq.set(key, (seq + 1) >>> 0);
            return streamFrame(type, streamId, seq, n++);
          });
          const out = fromA ? deliver(a, b, frames) : deliver(b, a, frames);
          assert.deepEqual(out.map((f) => Buffer.from(f)), frames);
        }
      },
    ),
    { seed: 45, numRuns: 200 },
  );
});

test('stream-deflate-v2: in-order seqs cost fewer bytes than v1, and streams past the remembered count still round-trip', () => {
  const wireBytes = (seqDelta: boolean) => {
    const { a, b } = compressorPair('on', 0.1, seqDelta);
    deliver(b, a, [callLike(0)]);
    let bytes = 0;
    for (let seq = 0; seq < 300; seq++) {
      const frame = streamFrame(FrameType.DATA, 7, seq, seq);
      const [sent] = wireFor(a, [frame]);
      bytes += sent!.byteLength;
      assert.deepEqual(b.decompress(sent!).map((f) => Buffer.from(f)), [frame]);
    }
    return bytes;
  };
  const v1 = wireBytes(false);
  const v2 = wireBytes(true);
  assert.ok(v2 < v1, `v2 ${v2} B, v1 ${v1} B`);
  // 5000 streams (more than either side remembers): both forget at the same frame and stay in step.
  const { a, b } = compressorPair('on', 0.1, true);
  deliver(b, a, [callLike(0)]);
  for (let round = 0; round < 2; round++) {
    for (let streamId = 1; streamId <= 5000; streamId += 10) {
      const frames = Array.from({ length: 10 }, (_, i) => streamFrame(FrameType.DATA, streamId + i, round, i));
      assert.deepEqual(deliver(a, b, frames).map((f) => Buffer.from(f)), frames);
    }
  }
});

test('auto compresses only on a link slower than linkCompressionBelowMbps', () => {
  const fast = compressorPair('auto', 100); // 800 Mbit/s
  const slow = compressorPair('auto', 2.5); // 20 Mbit/s, the bench's slow profile
  for (const { a, b } of [fast, slow]) {
    deliver(b, a, [callLike(0)]);
    deliver(a, b, [callLike(1)]);
  }
  assert.equal(fast.a.active(), false);
  assert.equal(slow.a.active(), true);
});

test('a corrupt or oversized compressed message is BAD_FRAME, never more than the bound decoded', () => {
  const badFrame = (e: unknown) => e instanceof AccelError && e.code === 'HYPHA_ACCEL_ERR_BAD_FRAME';
  // A tagged deflate stream that inflates past MAX_MESSAGE_BYTES: refused, the output is never larger.
  const over = new StreamDeflater({ level: 6 }).compress(Buffer.alloc(MAX_BATCH_BYTES + 1, 1));
  const fresh = compressorPair().b;
  assert.throws(() => fresh.decompress(Buffer.concat([Buffer.from([0xc5]), over])), badFrame);
  // A final block (the stream may never end) and a zlib header where raw deflate is expected.
  assert.throws(() => compressorPair().b.decompress(Buffer.concat([Buffer.from([0xc5]), deflateRawSync(Buffer.from('end'))])), badFrame);
  // A flipped byte in a real compressed message.
  const { a, b } = compressorPair();
  deliver(b, a, [callLike(0)]);
  const sent = Buffer.from(wireFor(a, [callLike(1)])[0]!);
  sent[2]! ^= 0xff;
  sent[sent.byteLength - 1]! ^= 0xff;
  assert.throws(() => b.decompress(sent), badFrame);
});

for (const [name, edgeCaps, gatewayCaps] of [
  ['both v2', ['stream-deflate-v1', 'stream-deflate-v2'], ['stream-deflate-v1', 'stream-deflate-v2']],
  ['a v2 edge with a v1 gateway (mixed versions)', ['stream-deflate-v1', 'stream-deflate-v2'], ['stream-deflate-v1']],
] as const) test(`an established link pair with the compressor carries streams both ways, compressed: ${name}`, async () => {
  const { a, b } = createLinkPair();
  const acceptor = new StreamAcceptor();
  const stats = { edge: newLinkStats(), gateway: newLinkStats() };
  const options = (side: 'edge' | 'gateway', extra: Partial<EstablishOptions> = {}): EstablishOptions => ({
    secret: Buffer.alloc(32, 1),
    local: testSettings({ capabilities: [...(side === 'edge' ? edgeCaps : gatewayCaps)] }),
    handshakeTimeoutMs: 5000,
    instanceId: side,
    session: ({ capabilities }) => ({
      maxMessageBytes: 1 << 20, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000, sendHighWaterBytes: 1 << 20,
      clock: new FakeClock(), stats: stats[side], onStreamOpen: acceptor.accept,
      compressor: new StreamDeflateCompressor({ mode: 'on', stats: stats[side], linkBytesPerUs: () => 1, maxLinkBytesPerUs: 50, seqDelta: capabilities.includes('stream-deflate-v2') }),
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

test('fuzz: garbage after the tag is BAD_FRAME or a message within the bound, and never throws anything else', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 600 }), { minLength: 1, maxLength: 8 }), fc.boolean(), (messages, seqDelta) => {
      const { b } = compressorPair('on', 0.1, seqDelta);
      for (const body of messages) {
        try {
          const out = b.decompress(Buffer.concat([Buffer.from([0xc5]), body]));
          assert.ok(out.length > 0 && out.every((f) => f.byteLength > 0 && f.byteLength <= MAX_MESSAGE_BYTES));
        } catch (error) {
          assert.ok(error instanceof AccelError && error.code === 'HYPHA_ACCEL_ERR_BAD_FRAME', String(error));
          return; // the link fails here: the stream is not used again
        }
      }
    }),
    { seed: 12, numRuns: 400 },
  );
});

test('fuzz: a real compressed stream with one byte changed is BAD_FRAME or a bounded message', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, offset, xor, seqDelta) => {
      const { a, b } = compressorPair('on', 0.1, seqDelta);
      deliver(b, a, [callLike(0)]);
      for (let i = 1; i <= 30; i++) {
        const sent = Buffer.from(wireFor(a, [callLike(i), callLike(i + 100)])[0]!);
        if (i === at + 1) sent[1 + (offset % (sent.byteLength - 1))]! ^= xor;
        try {
          assert.ok(b.decompress(sent).every((f) => f.byteLength <= MAX_MESSAGE_BYTES));
        } catch (error) {
          assert.ok(error instanceof AccelError && error.code === 'HYPHA_ACCEL_ERR_BAD_FRAME', String(error));
          return;
        }
      }
    }),
    { seed: 7, numRuns: 300 },
  );
});

test('the wrapper sends the small frames of one turn as one message, and a large frame after them in order', async () => {
  const { a, b } = compressorPair();
  deliver(b, a, [callLike(0)]); // a may compress
  const sent: Uint8Array[] = [];
  const inner = { onMessage: undefined, onClose: undefined, send: (frame: Buffer, done: () => void) => { sent.push(frame); done(); }, close: () => {} };
  const stats = newLinkStats();
  const outer = compressedTransport(inner, a, stats);
  const large = Buffer.alloc(MAX_MESSAGE_BYTES + 100, 0x13);
  const written: number[] = [];
  outer.send(callLike(1), () => written.push(1));
  outer.send(callLike(2), () => written.push(2));
  outer.send(large, () => written.push(3));
  outer.send(callLike(3), () => written.push(4));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(sent.length, 3, 'batch, large frame, batch');
  assert.deepEqual(written, [1, 2, 3, 4]);
  const received = sent.flatMap((wire) => b.decompress(wire)).map((f) => Buffer.from(f));
  assert.deepEqual(received, [callLike(1), callLike(2), large, callLike(3)]);
  assert.equal(stats.wireDataFramesSent, 4);
  const wireBytes = sent.reduce((n, w) => n + w.byteLength + 4, 0);
  assert.ok(Math.abs(stats.wireDataBytesSent - wireBytes) < 1e-6, `${stats.wireDataBytesSent} counted, ${wireBytes} sent`);
});

test('when the link closes, frames still batched fail their callbacks, nothing more is sent, and the streams are freed', async () => {
  const { a, b } = compressorPair();
  deliver(b, a, [callLike(0)]); // a may compress
  const sent: Uint8Array[] = [];
  const inner: Parameters<typeof compressedTransport>[0] = { onMessage: undefined, onClose: undefined, send: (frame: Buffer, done: () => void) => { sent.push(frame); done(); }, close: () => {} };
  const outer = compressedTransport(inner, a, undefined);
  let closedWith: number | undefined;
  outer.onClose = (code) => { closedWith = code; };
  const errors: Array<Error | undefined> = [];
  outer.send(callLike(1), (error) => errors.push(error));
  outer.send(callLike(2), (error) => errors.push(error));
  inner.onClose!(1006, '');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closedWith, 1006);
  assert.equal(errors.length, 2);
  assert.ok(errors.every((e) => e instanceof Error), 'both callbacks heard of the failure');
  assert.equal(sent.length, 0);
  assert.throws(() => a.compressBatch([callLike(3)], callLike(3).byteLength + 4), /released|failed/);
});
