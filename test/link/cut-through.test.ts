// Cut-through: a message that crosses the link in several frames reaches an endpoint that takes fragments
// piece by piece as the frames arrive (no whole-message buffer), in order, with credit returned per piece;
// a handler without onFragment still gets whole messages, and a blob ahead keeps later messages behind it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecordingHandler, StreamAcceptor, createSessionPair, testSettings, until } from '../helpers/link-pair.js';
import type { StreamHandler } from '../../src/link/stream.js';
import { SETTINGS } from '../../src/config/settings.js';
import { DataFlag, FrameClass, FrameType, encodeFrame } from '../../src/link/frame.js';

class FragmentHandler extends RecordingHandler implements StreamHandler {
  readonly pieces: Array<{ data: Buffer; isText: boolean; fin: boolean }> = [];
  readonly tails: number[] = [];
  onFragment(data: Buffer, isText: boolean, fin: boolean, written: () => void, _trace?: unknown, tail?: Buffer[]): void {
    this.pieces.push({ data: Buffer.concat([data, ...(tail ?? [])]), isText, fin });
    this.tails.push(tail?.length ?? 0);
    written();
  }
}

/** A DATA frame for `streamId` cut into parts at `cuts` (offsets into the encoded frame), as a byte-stream transport hands on a frame split across reads. */
function framedInParts(streamId: number, seq: number, flags: number, payload: Buffer, cuts: number[]): [Buffer, Buffer[]] {
  const frame = encodeFrame({ type: FrameType.DATA, flags, frameClass: FrameClass.BULK, streamId, seq, payload });
  const bounds = [0, ...cuts, frame.length];
  const parts = bounds.slice(1).map((end, i) => Buffer.from(frame.subarray(bounds[i]!, end)));
  return [parts[0]!, parts.slice(1)];
}

const settings = testSettings({ maxFrameBytes: 16 * 1024, windowBytes: 64 * 1024 });

test('fragments are handed on as they arrive, fin on the last, and make up the message', async () => {
  const handler = new FragmentHandler();
  const s = createSessionPair({ settings }, { settings, onStreamOpen: (stream) => stream.bind(handler) });
  const stream = s.edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  const message = Buffer.alloc(100 * 1024).map((_, i) => (i * 7) & 0xff);
  s.pair.a.holdWrites(); // nothing but what the link already sent may arrive
  stream.sendMessage(message, false);
  await until(() => handler.pieces.length >= 1, 'the first fragment');
  assert.equal(handler.pieces[0]!.fin, false, 'the first piece arrived before the message was complete');
  s.pair.a.releaseWrites();
  await until(() => handler.pieces.at(-1)?.fin === true, 'the last fragment');
  assert.ok(handler.pieces.length > 2);
  assert.deepEqual(Buffer.concat(handler.pieces.map((p) => p.data)), message);
  assert.equal(handler.messages.length, 0, 'no whole-message delivery');
  // A small message afterwards is a whole message again.
  stream.sendMessage(Buffer.from('small'), true);
  await until(() => handler.messages.length === 1, 'the small message');
  assert.deepEqual(handler.messages[0]!.data, Buffer.from('small'));
  s.edge.goAway('done');
});

test('a DATA frame received in parts: cut through as its parts (not joined), or joined into the whole message', async () => {
  const cutThrough = new FragmentHandler();
  const acceptor = new StreamAcceptor();
  for (const [handlerKind, onStreamOpen] of [['fragments', (stream: Parameters<StreamAcceptor['accept']>[0]) => stream.bind(cutThrough)], ['whole', acceptor.accept]] as const) {
    const s = createSessionPair({ settings }, { settings, onStreamOpen });
    const stream = s.edge.openStream(Buffer.from('{}'));
    stream.bind(new RecordingHandler());
    await until(() => s.gateway.streams.has(stream.id), 'the stream open');
    const first = Buffer.alloc(12_000).map((_, i) => (i * 13) & 0xff);
    const second = Buffer.alloc(9_000).map((_, i) => (i * 5 + 1) & 0xff);
    // Injected as the byte-stream transport would hand them on: seq 1 and 2 follow the OPEN.
    s.gateway.handleMessage(...framedInParts(stream.id, 1, 0, first, [100, 5_000]));
    s.gateway.handleMessage(...framedInParts(stream.id, 2, DataFlag.FIN, second, [64]));
    const whole = Buffer.concat([first, second]);
    if (handlerKind === 'fragments') {
      await until(() => cutThrough.pieces.at(-1)?.fin === true, 'the last fragment');
      assert.deepEqual(cutThrough.tails, [2, 1], 'each fragment came with its tail');
      assert.deepEqual(Buffer.concat(cutThrough.pieces.map((p) => p.data)), whole);
    } else {
      await until(() => acceptor.streams[0]!.handler.messages.length === 1, 'the message');
      assert.deepEqual(acceptor.streams[0]!.handler.messages[0]!.data, whole);
    }
    s.edge.goAway('done');
  }
});

test('a handler without onFragment gets the reassembled message', async () => {
  const acceptor = new StreamAcceptor();
  const s = createSessionPair({ settings }, { settings, onStreamOpen: acceptor.accept });
  const stream = s.edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  const message = Buffer.alloc(50 * 1024, 3);
  stream.sendMessage(message, false);
  await until(() => acceptor.streams[0]?.handler.messages.length === 1, 'the message');
  assert.deepEqual(acceptor.streams[0]!.handler.messages[0]!.data, message);
  s.edge.goAway('done');
});

test('credit comes back per fragment: a message larger than the window still gets through', async () => {
  const handler = new FragmentHandler();
  const s = createSessionPair({ settings }, { settings, onStreamOpen: (stream) => stream.bind(handler) });
  const stream = s.edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  for (let i = 0; i < 4; i++) stream.sendMessage(Buffer.alloc(40 * 1024, i), false);
  await until(() => handler.pieces.filter((p) => p.fin).length === 4, 'four messages');
  const bytes = Buffer.concat(handler.pieces.map((p) => p.data));
  assert.equal(bytes.length, 160 * 1024);
  s.edge.goAway('done');
});

test('with the default maxFrameBytes, each 64 KiB read of a message sent in pieces crosses as one fragment', async () => {
  const defaultFrameBytes = SETTINGS.find((s) => s.key === 'maxFrameBytes')!.defaultValue as number;
  const bulk = testSettings({ maxFrameBytes: defaultFrameBytes, windowBytes: 4 * 1024 * 1024 });
  const handler = new FragmentHandler();
  const s = createSessionPair({ settings: bulk }, { settings: bulk, onStreamOpen: (stream) => stream.bind(handler) });
  const stream = s.edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  const reads = [0, 1, 2, 3].map((i) => Buffer.alloc(64 * 1024, i)); // what a socket hands over per read
  reads.forEach((read, i) => stream.sendPiece(read, i === reads.length - 1));
  await until(() => handler.pieces.at(-1)?.fin === true, 'the last fragment');
  assert.equal(handler.pieces.length, reads.length, 'one fragment per read, no 64-byte remainders');
  assert.deepEqual(Buffer.concat(handler.pieces.map((p) => p.data)), Buffer.concat(reads));
  s.edge.goAway('done');
});
