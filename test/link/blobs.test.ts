// Large messages through a payload plane (a toy in-memory plane here; the real one is tested in
// test/payload and end to end in test/integration): order kept around blobs, payload frames carried on the
// link, a blob that fails resets only its session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSessionPair, RecordingHandler, StreamAcceptor, testSettings, until } from '../helpers/link-pair.js';
import type { LinkBlobPlane } from '../../src/link/link-session.js';
import { AccelError } from '../../src/errors.js';
import type { BlobOutcome } from '../../src/events.js';

/** A toy plane: a blob is payload frames `id u32 || last u8 || part` of at most 8 KiB; takeBlob resolves once all arrived. */
class ToyPlane implements LinkBlobPlane {
  minBlobBytes = 1;
  maxBlobBytes = 1 << 30;
  emit: (frame: Uint8Array) => void = () => {};
  nextId = 1;
  sent = 0;
  delayMs = 0;
  failSends = false;
  failTakes = false;
  /** What wanted() answers (a fast link without shared memory answers false). */
  wantBlobs = true;
  wanted(): boolean {
    return this.wantBlobs;
  }
  private readonly arrived = new Map<number, Uint8Array>();
  private readonly parts = new Map<number, Buffer[]>();
  private readonly waiting = new Map<number, (bytes: Uint8Array) => void>();
  attach(emit: (frame: Uint8Array) => void): void {
    this.emit = emit;
  }
  /** The outcome object each send was given (undefined for an untraced message). */
  outcomes: Array<BlobOutcome | undefined> = [];
  async sendBlob(bytes: Uint8Array, outcome?: BlobOutcome): Promise<number> {
    this.outcomes.push(outcome);
    if (outcome) Object.assign(outcome, { rawBytes: bytes.length, dedupedBytes: 1000, wireBytes: bytes.length - 1000 });
    if (this.failSends) throw new Error('toy plane refuses');
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const id = this.nextId++;
    for (let offset = 0; offset < bytes.length; offset += 8192) {
      const part = bytes.subarray(offset, offset + 8192);
      const frame = Buffer.alloc(5 + part.length);
      frame.writeUInt32BE(id, 0);
      frame[4] = offset + 8192 >= bytes.length ? 1 : 0;
      frame.set(part, 5);
      this.emit(frame);
    }
    this.sent++;
    return id;
  }
  takeBlob(blobId: number): Promise<Uint8Array> {
    if (this.failTakes) return Promise.reject(new Error('toy plane lost it'));
    const bytes = this.arrived.get(blobId);
    this.arrived.delete(blobId); // handed out once, like the real receiver
    if (bytes) return Promise.resolve(bytes);
    return new Promise((resolve) => this.waiting.set(blobId, resolve));
  }
  receiveFrame(frame: Uint8Array): Promise<void> {
    if (frame.length < 5) throw new Error('short toy frame'); // synchronously, like the real plane
    const id = Buffer.from(frame.buffer, frame.byteOffset, 4).readUInt32BE(0);
    const parts = this.parts.get(id) ?? [];
    parts.push(Buffer.from(frame.subarray(5)));
    this.parts.set(id, parts);
    if (frame[4] !== 1) return Promise.resolve();
    const bytes = Buffer.concat(parts);
    const waiter = this.waiting.get(id);
    if (waiter) waiter(bytes);
    else this.arrived.set(id, bytes);
    return Promise.resolve();
  }
  /** Blobs that arrived and were never taken (what the plane still holds). */
  get heldBlobs(): number {
    return this.arrived.size;
  }
  close(): void {}
}

const settings = testSettings({ maxFrameBytes: 16 * 1024 });

test('large binary messages travel as blobs, small ones and text in between keep their order', async () => {
  const edgePlane = new ToyPlane();
  const gatewayPlane = new ToyPlane();
  edgePlane.delayMs = 20; // the blob becomes ready after the small messages behind it were queued
  const acceptor = new StreamAcceptor();
  const { edge } = createSessionPair({ settings, blobs: edgePlane }, { settings, blobs: gatewayPlane, onStreamOpen: acceptor.accept });
  const stream = edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  const big = Buffer.alloc(100_000, 7);
  big[5] = 1;
  stream.sendMessage(Buffer.from('small-1'), false);
  stream.sendMessage(big, false);
  stream.sendMessage(Buffer.from('{"type":"ping"}'), true);
  stream.sendMessage(Buffer.from('small-2'), false);
  await until(() => acceptor.streams[0]?.handler.messages.length === 4, `four messages, got ${acceptor.streams[0]?.handler.messages.map((m) => m.data.length)}`).catch((e) => {
    throw new Error(`${e.message}: got ${JSON.stringify(acceptor.streams[0]?.handler.messages.map((m) => m.data.length))}, sent ${edgePlane.sent}`);
  });
  const got = acceptor.streams[0]!.handler.messages;
  assert.deepEqual(got.map((m) => [m.isText, m.data.length]), [[false, 7], [false, 100_000], [true, 15], [false, 7]]);
  assert.ok(got[1]!.data.equals(big), 'blob bytes must be exact');
  assert.equal(edgePlane.sent, 1, 'only the large message goes through the plane');
});

test('text messages and messages below minBlobBytes are never blobs', async () => {
  const edgePlane = new ToyPlane();
  edgePlane.minBlobBytes = 200_000;
  const acceptor = new StreamAcceptor();
  const { edge } = createSessionPair({ settings, blobs: edgePlane }, { settings, blobs: new ToyPlane(), onStreamOpen: acceptor.accept });
  const stream = edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  stream.sendMessage(Buffer.alloc(100_000, 3), false); // fragmented raw instead
  stream.sendMessage(Buffer.alloc(300_000, 0x41), true); // text: raw fragments
  await until(() => acceptor.streams[0]?.handler.messages.length === 2, 'two messages');
  assert.equal(edgePlane.sent, 0);
  assert.deepEqual(acceptor.streams[0]!.handler.messages.map((m) => m.data.length), [100_000, 300_000]);
});

test('while the plane is not wanted (a fast link), large messages travel as raw fragments, byte-identical', async () => {
  const edgePlane = new ToyPlane();
  const acceptor = new StreamAcceptor();
  const { edge } = createSessionPair({ settings, blobs: edgePlane }, { settings, blobs: new ToyPlane(), onStreamOpen: acceptor.accept });
  const stream = edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  const big = Buffer.alloc(300_000, 7);
  edgePlane.wantBlobs = false;
  stream.sendMessage(big, false);
  await until(() => acceptor.streams[0]?.handler.messages.length === 1, 'the first message');
  assert.equal(edgePlane.sent, 0, 'no blob while the plane is not wanted');
  edgePlane.wantBlobs = true;
  stream.sendMessage(big, false);
  await until(() => acceptor.streams[0]?.handler.messages.length === 2, 'the second message');
  assert.equal(edgePlane.sent, 1, 'a blob once it is wanted again');
  for (const m of acceptor.streams[0]!.handler.messages) assert.ok(m.data.equals(big), 'byte-identical either way');
});

test('a blob the receiver cannot get resets only its session; other sessions and the link go on', async () => {
  const gatewayPlane = new ToyPlane();
  gatewayPlane.failTakes = true;
  const acceptor = new StreamAcceptor();
  const { edge, gateway } = createSessionPair({ settings, blobs: new ToyPlane() }, { settings, blobs: gatewayPlane, onStreamOpen: acceptor.accept });
  const victim = edge.openStream(Buffer.from('{}'));
  const victimHandler = new RecordingHandler();
  victim.bind(victimHandler);
  const bystander = edge.openStream(Buffer.from('{}'));
  bystander.bind(new RecordingHandler());
  victim.sendMessage(Buffer.alloc(50_000, 1), false);
  await until(() => victimHandler.remoteCloses.length === 1, 'the victim session to be closed by the peer');
  assert.equal(victimHandler.remoteCloses[0]!.code, 1011);
  bystander.sendMessage(Buffer.from('still here'), false);
  await until(() => acceptor.streams[1]?.handler.messages.length === 1, 'the bystander message');
  assert.equal(acceptor.streams[1]!.handler.messages[0]!.data.toString(), 'still here');
  assert.equal(edge.closed || gateway.closed, false);
  assert.equal(acceptor.streams[0]!.handler.aborts[0]?.code, 'HYPHA_ACCEL_ERR_PAYLOAD');
});

test('a blob the sender cannot send resets its session with HYPHA_ACCEL_ERR_PAYLOAD', async () => {
  const edgePlane = new ToyPlane();
  edgePlane.failSends = true;
  const acceptor = new StreamAcceptor();
  const { edge } = createSessionPair({ settings, blobs: edgePlane }, { settings, blobs: new ToyPlane(), onStreamOpen: acceptor.accept });
  const stream = edge.openStream(Buffer.from('{}'));
  const handler = new RecordingHandler();
  stream.bind(handler);
  stream.sendMessage(Buffer.alloc(50_000, 1), false);
  await until(() => handler.aborts.length === 1, 'the sending session to abort');
  assert.equal(handler.aborts[0]!.code, 'HYPHA_ACCEL_ERR_PAYLOAD');
  await until(() => acceptor.streams[0]?.handler.remoteCloses.length === 1, 'the peer to be told');
  assert.equal(acceptor.streams[0]!.handler.remoteCloses[0]!.code, 1011);
});

test('a PAYLOAD frame on a link without a plane, or a malformed one, fails the link with a coded error', async () => {
  const broken = new ToyPlane();
  const { pair, gateway } = createSessionPair({ settings }, { settings, blobs: broken });
  const closed = new Promise<string | undefined>((resolve) => gateway.addCloseListener((e) => resolve(e?.code)));
  // type PAYLOAD 0x16, class bulk, stream 0, seq 0, payload of 2 bytes: too short for the toy plane.
  pair.a.send(Buffer.from('16000200000000000000000000ab', 'hex').subarray(0, 14), () => {});
  assert.equal(await closed, 'HYPHA_ACCEL_ERR_BAD_FRAME');
});

test('a blob whose stream was reset is taken and discarded, not held for the life of the link', async () => {
  const gatewayPlane = new ToyPlane();
  const acceptor = new StreamAcceptor();
  const { edge, gateway } = createSessionPair({ settings, blobs: new ToyPlane() }, { settings, blobs: gatewayPlane, onStreamOpen: acceptor.accept });
  const stream = edge.openStream(Buffer.from('{}'));
  const handler = new RecordingHandler();
  stream.bind(handler);
  stream.sendMessage(Buffer.from('hello'), false);
  await until(() => acceptor.streams[0]?.handler.messages.length === 1, 'the first message');
  // The gateway resets the session while the edge is already sending a large message on it.
  gateway.resetStream(acceptor.streams[0]!.stream, new AccelError('HYPHA_ACCEL_ERR_PAYLOAD', 'reset by the test'));
  stream.sendMessage(Buffer.alloc(100_000, 9), false);
  const marker = edge.openStream(Buffer.from('{}'));
  marker.bind(new RecordingHandler());
  await until(() => handler.remoteCloses.length === 1, 'the reset to reach the edge');
  // Frames of one link arrive in order: once a later stream's message arrived, the blob reference has too.
  marker.sendMessage(Buffer.from('after'), false);
  await until(() => acceptor.streams[1]?.handler.messages.length === 1, 'the marker message');
  assert.equal(gatewayPlane.heldBlobs, 0, 'the reset stream\'s blob is not held');
});

test('a traced blob\'s reference frame reports the plane\'s outcome; an untraced blob asks for none', async () => {
  const edgePlane = new ToyPlane();
  const acceptor = new StreamAcceptor();
  const traced: Array<{ flags: number; blob: BlobOutcome | undefined }> = [];
  const { edge } = createSessionPair(
    { settings, blobs: edgePlane, onTracedFrame: (_trace, _bytes, flags, blob) => traced.push({ flags, blob }) },
    { settings, blobs: new ToyPlane(), onStreamOpen: acceptor.accept },
  );
  const stream = edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  const trace = { traceId: new Uint8Array(16).fill(1), spanId: new Uint8Array(8).fill(2), traceFlags: 1 };
  stream.sendMessage(Buffer.alloc(100_000, 5), false); // untraced
  stream.sendMessage(Buffer.alloc(50_000, 6), false, trace);
  await until(() => acceptor.streams[0]?.handler.messages.length === 2, 'two messages');
  assert.equal(edgePlane.outcomes[0], undefined, 'an untraced blob costs the plane nothing new');
  assert.deepEqual(traced, [{ flags: 0x01 | 0x08, blob: { rawBytes: 50_000, dedupedBytes: 1000, wireBytes: 49_000, shm: false } }]);
});
