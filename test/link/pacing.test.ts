// Link pacing: the estimator (SendPacer) on a fake clock, the receiver's ACK policy, and LinkSession
// holding frames in its scheduler once the window is full, so a later small message still goes first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType, decodeFrame, encodeFrame, FrameClass, type Frame } from '../../src/link/frame.js';
import { AckPolicy, DEFAULT_MIN_WINDOW_BYTES, PATH_RTT_WINDOW_MS, SendPacer } from '../../src/link/pacing.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { EAGER_ACKS } from '../../src/link/link-session.js';
import type { Stream } from '../../src/link/stream.js';
import { RecordingHandler, StreamAcceptor, createSessionPair, testSettings, until, type PipeEnd } from '../helpers/link-pair.js';

const frames = (end: PipeEnd): Frame[] => end.sent.map((b) => decodeFrame(b, 1 << 24));
const nonAckBytes = (end: PipeEnd): number => end.sent.filter((b) => b[0] !== FrameType.ACK).reduce((n, b) => n + b.length, 0);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Request/reply rounds 25 ms apart until both sides sent their EAGER_ACKS quick ACKs; resolves with the calls made. */
async function pastEagerAcks(clock: FakeClock, stream: Stream, handler: RecordingHandler, acceptor: StreamAcceptor): Promise<number> {
  let calls = 0;
  for (; calls < EAGER_ACKS + 2; calls++) {
    stream.sendMessage(Buffer.from(`warm-up ${calls}`), false);
    await until(() => acceptor.streams[0]?.handler.messages.length === calls + 1, `warm-up call ${calls}`);
    clock.advance(25);
    acceptor.streams[0]!.stream.sendMessage(Buffer.from(`warm-up reply ${calls}`), false);
    await until(() => handler.messages.length === calls + 1, `warm-up reply ${calls}`);
    clock.advance(25);
    await turn();
  }
  return calls;
}

test('SendPacer: the minimum window until samples exist, then gain x max delivery rate x min RTT', () => {
  const clock = new FakeClock();
  const pacer = new SendPacer({ clock, minWindowBytes: 1000, gain: 2 });
  assert.equal(pacer.windowBytes, 1000);
  // 100 frames of 10 kB sent at once, acknowledged over 50 ms: 1e6 bytes in 50 ms = 20,000 B/ms.
  for (let i = 0; i < 100; i++) pacer.onSent(10_000);
  assert.equal(pacer.inFlightBytes, 1_000_000);
  assert.equal(pacer.open(), false, 'in flight beyond the window closes it');
  clock.advance(40); // the first frame's round trip: 40 ms
  pacer.onAck(10_000);
  clock.advance(10);
  pacer.onAck(1_000_000);
  assert.equal(pacer.inFlightBytes, 0);
  // max rate = 1e6 / 50 ms (the second ack's sample); min RTT = 40 ms (the first frame's).
  assert.equal(pacer.windowBytes, Math.ceil(2 * (1_000_000 / 50) * 40));
  assert.equal(pacer.open(), true);
});

test('SendPacer: stale or impossible ACKs change nothing; old extremes expire after the filter window', () => {
  const clock = new FakeClock();
  const pacer = new SendPacer({ clock, minWindowBytes: 100, filterWindowMs: 1000, minRttWindowMs: 1000 });
  pacer.onSent(5000);
  clock.advance(10);
  pacer.onAck(5000);
  const fast = pacer.windowBytes;
  assert.ok(fast > 100, `a sample raises the window above the minimum (${fast})`);
  pacer.onAck(4000); // stale
  pacer.onAck(5000); // repeat
  assert.equal(pacer.windowBytes, fast);
  pacer.onSent(100);
  pacer.onAck(1e9); // more than was ever sent: clamped to what was sent
  assert.equal(pacer.inFlightBytes, 0);
  // Much later, a slow sample replaces the expired fast one.
  clock.advance(5000);
  pacer.onSent(1000);
  clock.advance(100);
  pacer.onAck(6100);
  assert.ok(pacer.windowBytes < fast, `the expired maximum gave way (${pacer.windowBytes} < ${fast})`);
});

test('SendPacer: the receiver\'s ACK delay is taken out of the round trip', () => {
  const clock = new FakeClock();
  const pacer = new SendPacer({ clock, minWindowBytes: 100 });
  assert.equal(pacer.minRttMs, undefined);
  pacer.onSent(50);
  clock.advance(30); // 10 ms on the wire each way, 10 ms held by the receiver's delayed-ACK timer
  pacer.onAck(50, 10);
  assert.equal(pacer.minRttMs, 20);
});

test('SendPacer: a quicker round trip measured otherwise (a PONG) lowers the minimum; a slower one does not raise it', () => {
  const clock = new FakeClock();
  const pacer = new SendPacer({ clock, minWindowBytes: 100 });
  pacer.onSent(50);
  clock.advance(12); // a cold, busy start: the first ACK sample is slow
  pacer.onAck(50);
  assert.equal(pacer.minRttMs, 12);
  pacer.onRttSample(0.5);
  assert.equal(pacer.minRttMs, 0.5);
  pacer.onRttSample(8);
  assert.equal(pacer.minRttMs, 0.5);
});

test('SendPacer: the path round trip for fast-link decisions outlives the 10 s pacing minimum, then gives way', () => {
  const clock = new FakeClock();
  const pacer = new SendPacer({ clock, minWindowBytes: 100 });
  pacer.onRttSample(0.4); // a quiet moment: the path's own round trip
  clock.advance(11_000);
  pacer.onSent(1000);
  clock.advance(10); // a transfer's first sample carries its own queue
  pacer.onAck(1000);
  assert.equal(pacer.minRttMs, 10, 'pacing takes the new sample once its minimum expired');
  assert.equal(pacer.pathRttMs, 0.4, 'the decisions keep the quick one');
  clock.advance(PATH_RTT_WINDOW_MS);
  pacer.onRttSample(12);
  assert.equal(pacer.pathRttMs, 12, 'after the long window a slower path is believed');
});

test('AckPolicy: acknowledges at once after everyBytes, otherwise leaves it to the timer', () => {
  const policy = new AckPolicy(100);
  assert.equal(policy.pending, false);
  assert.equal(policy.onReceived(60), false);
  assert.equal(policy.pending, true);
  assert.equal(policy.onReceived(60), true);
  assert.equal(policy.take(), 120);
  assert.equal(policy.pending, false);
  assert.equal(policy.onReceived(10), false);
  assert.equal(policy.take(), 130, 'counts are cumulative');
  policy.onReceived(5, 1000);
  assert.equal(policy.delayMs(1012), 12, 'the ACK delay runs from the last counted frame');
});

function pacedSetup() {
  const acceptor = new StreamAcceptor(true);
  // A stream credit window far above the link window, so the link window is what binds.
  const settings = testSettings({ maxFrameBytes: 16 * 1024, windowBytes: 16 * 1024 * 1024 });
  const sessions = createSessionPair({ pacing: true, settings }, { pacing: true, settings, onStreamOpen: acceptor.accept });
  async function open() {
    const index = acceptor.streams.length;
    const stream = sessions.edge.openStream(Buffer.from(JSON.stringify({ sessionId: `s${index}` })));
    stream.bind(new RecordingHandler(true));
    await until(() => acceptor.streams.length > index, `stream ${index} accepted`);
    return { stream, remote: acceptor.streams[index]! };
  }
  return { ...sessions, acceptor, open };
}

test('paced link: without ACKs the sender stops at the window; queued small messages go first once ACKs flow', async () => {
  const s = pacedSetup();
  const bulk = await s.open();
  const rpc = await s.open();
  // ACKs from the gateway are held back (a slow return path) and released later, in order.
  let heldAcks: Buffer[] | undefined = [];
  s.pair.b.outbound = (data) => {
    if (!heldAcks || data[0] !== FrameType.ACK) return data;
    heldAcks.push(Buffer.from(data));
    return null;
  };
  const big = Buffer.alloc(4 * 1024 * 1024, 7);
  bulk.stream.sendMessage(big, false);
  const sentBefore = nonAckBytes(s.pair.a);
  await until(() => s.edge.pacingState !== undefined && s.edge.pacingState.inFlightBytes > 0, 'bulk frames in flight');
  for (let i = 0; i < 50; i++) await turn();
  const state = s.edge.pacingState!;
  assert.ok(state.inFlightBytes <= state.windowBytes + 17 * 1024, `in flight ${state.inFlightBytes} stays within the window ${state.windowBytes} (+ one frame)`);
  assert.ok(nonAckBytes(s.pair.a) - sentBefore <= DEFAULT_MIN_WINDOW_BYTES + 17 * 1024, 'nothing beyond the window reached the transport');
  rpc.stream.sendMessage(Buffer.from('small call'), false);
  for (let i = 0; i < 10; i++) await turn();
  const smallSentEarly = frames(s.pair.a).some((f) => f.type === FrameType.DATA && f.streamId === rpc.stream.id);
  assert.equal(smallSentEarly, false, 'with the window full, the small call waits in the scheduler, not in the socket');
  const bulkFramesBefore = frames(s.pair.a).filter((f) => f.type === FrameType.DATA && f.streamId === bulk.stream.id).length;
  const release = heldAcks!;
  heldAcks = undefined;
  for (const ack of release) s.pair.a.inject(ack);
  await until(() => bulk.remote.handler.messages.length === 1 && rpc.remote.handler.messages.length === 1, 'both messages delivered');
  const order = frames(s.pair.a).filter((f) => f.type === FrameType.DATA);
  const smallIndex = order.findIndex((f) => f.streamId === rpc.stream.id);
  const bulkBeforeSmall = order.slice(0, smallIndex).filter((f) => f.streamId === bulk.stream.id).length;
  assert.ok(bulkBeforeSmall <= bulkFramesBefore + 1, `the small call went out as soon as the window opened (${bulkBeforeSmall - bulkFramesBefore} bulk frames slipped ahead)`);
  assert.ok(bulk.remote.handler.messages[0]!.data.equals(big), 'the bulk message arrives intact');
});

test('paced link: ACKs are not acknowledged, so an idle link goes quiet', async () => {
  const s = pacedSetup();
  const a = await s.open();
  for (let i = 0; i < 20; i++) a.stream.sendMessage(Buffer.alloc(3000, i), false);
  await until(() => a.remote.handler.messages.length === 20, 'messages delivered');
  await until(
    () => s.edge.pacingState!.inFlightBytes === 0 && s.gateway.pacingState!.inFlightBytes === 0,
    'every byte either side sent acknowledged (delayed-ACK timer)',
    10_000,
  );
  const acks = () => frames(s.pair.a).filter((f) => f.type === FrameType.ACK).length + frames(s.pair.b).filter((f) => f.type === FrameType.ACK).length;
  const settled = acks();
  assert.ok(settled > 0, 'the receiver acknowledged');
  await new Promise((resolve) => setTimeout(resolve, 100)); // nothing more goes out
  assert.equal(acks(), settled, 'no ACK ping-pong on an idle link');
});

test('an ACK on a link without pacing is a protocol error; a malformed ACK is BAD_FRAME', async () => {
  for (const [pacing, payload, code] of [
    [false, Buffer.alloc(12), 'HYPHA_ACCEL_ERR_PROTOCOL'],
    [true, Buffer.alloc(8), 'HYPHA_ACCEL_ERR_BAD_FRAME'],
    [true, Buffer.from([0xff, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'HYPHA_ACCEL_ERR_BAD_FRAME'],
  ] as const) {
    const closed: string[] = [];
    const { pair } = createSessionPair({ pacing, onClosed: (e) => closed.push(e?.code ?? 'none') }, { pacing });
    pair.a.inject(encodeFrame({ type: FrameType.ACK, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload }));
    await until(() => closed.length > 0, 'the link to close');
    assert.deepEqual(closed, [code], `pacing=${pacing}, ${payload.length}-byte ACK`);
  }
});

test('paced link: a lazy ACK rides with a reply once it waited 2 s, and its timer never sends it alone', async () => {
  const clock = new FakeClock();
  const acceptor = new StreamAcceptor();
  const s = createSessionPair({ pacing: true, clock }, { pacing: true, clock, onStreamOpen: acceptor.accept });
  const stream = s.edge.openStream(Buffer.from('{}'));
  const handler = new RecordingHandler();
  stream.bind(handler);
  const warm = await pastEagerAcks(clock, stream, handler, acceptor);
  clock.advance(5000); // every warm-up byte acknowledged
  await turn();
  const acksBefore = frames(s.pair.b).filter((f) => f.type === FrameType.ACK).length;
  stream.sendMessage(Buffer.from('request'), false);
  await until(() => acceptor.streams[0]?.handler.messages.length === warm + 1, 'the request');
  const gatewayAcks = () => frames(s.pair.b).filter((f) => f.type === FrameType.ACK).length - acksBefore;
  assert.equal(gatewayAcks(), 0, 'a small amount is not acknowledged at once');
  clock.advance(1999);
  acceptor.streams[0]!.stream.sendMessage(Buffer.from('early reply'), false);
  await turn();
  assert.equal(gatewayAcks(), 0, 'before 2 s the ACK keeps waiting');
  clock.advance(1);
  acceptor.streams[0]!.stream.sendMessage(Buffer.from('reply'), false);
  await turn();
  const sent = frames(s.pair.b).map((f) => f.type);
  assert.equal(gatewayAcks(), 1, 'the ACK went out with the reply');
  assert.deepEqual(sent.slice(-2), [FrameType.ACK, FrameType.DATA], 'in the same pump, just before it');
  clock.advance(5000);
  assert.equal(gatewayAcks(), 1, 'the delayed-ACK timer was cancelled');
  s.edge.goAway('done');
});

test('paced link: sequential small calls 120 ms apart carry an ACK every few calls, never one alone', async () => {
  const clock = new FakeClock();
  const acceptor = new StreamAcceptor();
  const s = createSessionPair({ pacing: true, clock }, { pacing: true, clock, onStreamOpen: acceptor.accept });
  const stream = s.edge.openStream(Buffer.from('{}'));
  const handler = new RecordingHandler();
  stream.bind(handler);
  const warm = await pastEagerAcks(clock, stream, handler, acceptor);
  const sentBefore = [s.pair.a.sent.length, s.pair.b.sent.length];
  const calls = 40;
  for (let i = 0; i < calls; i++) {
    stream.sendMessage(Buffer.alloc(120, i), false);
    await until(() => acceptor.streams[0]?.handler.messages.length === warm + i + 1, `call ${i}`);
    clock.advance(60); // one way
    acceptor.streams[0]!.stream.sendMessage(Buffer.alloc(120, 255 - i), false);
    await until(() => handler.messages.length === warm + i + 1, `reply ${i}`);
    clock.advance(60);
  }
  for (const [k, end] of [s.pair.a, s.pair.b].entries()) {
    const types = frames(end).slice(sentBefore[k]).map((f) => f.type);
    const acks = types.filter((t) => t === FrameType.ACK).length;
    assert.ok(acks > 0 && acks <= calls / 3, `${acks} ACKs for ${calls} calls`);
    types.forEach((t, i) => {
      if (t === FrameType.ACK) assert.notEqual(types[i + 1] ?? FrameType.ACK, FrameType.ACK, `ACK ${i} went out alone`);
    });
  }
  s.edge.goAway('done');
});

test('paced link: the first ACKs go quickly: the round trip is known within the first calls', async () => {
  const clock = new FakeClock();
  const acceptor = new StreamAcceptor();
  const s = createSessionPair({ pacing: true, clock }, { pacing: true, clock, onStreamOpen: acceptor.accept });
  const stream = s.edge.openStream(Buffer.from('{}'));
  stream.bind(new RecordingHandler());
  stream.sendMessage(Buffer.from('request'), false);
  await until(() => acceptor.streams[0]?.handler.messages.length === 1, 'the request');
  clock.advance(20);
  await until(() => s.edge.linkState().rttMs !== undefined, 'an RTT sample from the gateway\'s first ACK');
  s.edge.goAway('done');
});

test('paced link: traffic both ways replaces most PINGs; a quiet link still pings every interval', async () => {
  const clock = new FakeClock();
  const acceptor = new StreamAcceptor();
  const s = createSessionPair({ pacing: true, clock }, { pacing: true, clock, onStreamOpen: acceptor.accept });
  const stream = s.edge.openStream(Buffer.from('{}'));
  const handler = new RecordingHandler();
  stream.bind(handler);
  const edgePings = () => frames(s.pair.a).filter((f) => f.type === FrameType.PING).length;
  for (let i = 0; i < 60; i++) { // one call a second for a minute: 12 keep-alive intervals of 5 s
    stream.sendMessage(Buffer.alloc(100, i), false);
    await until(() => acceptor.streams[0]?.handler.messages.length === i + 1, `call ${i}`);
    acceptor.streams[0]!.stream.sendMessage(Buffer.alloc(100, i), false);
    await until(() => handler.messages.length === i + 1, `reply ${i}`);
    clock.advance(1000);
    await turn();
  }
  const busy = edgePings();
  assert.ok(busy >= 1 && busy <= 3, `${busy} PINGs in 12 busy intervals`);
  for (let i = 0; i < 4; i++) { // quiet: 4 intervals, each pings and is answered
    clock.advance(5000);
    await turn();
    await turn();
  }
  assert.ok(edgePings() - busy >= 3, `${edgePings() - busy} PINGs in 4 quiet intervals`);
  assert.equal(s.edge.closed, false, 'no keep-alive timeout');
  s.edge.goAway('done');
});
