// LinkSession over the in-memory pair: ordering and opcodes, fragmentation, class priorities, credit,
// keep-alive (fake clock), blast radius of bad frames and oversize messages, sequence numbers, CLOSE
// mirroring, and the link codec rule (whole single-frame messages only, encoded in link order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccelError, ERROR_CODES } from '../../src/errors.js';
import {
  EndKind, endKindOf, DataFlag, FrameClass, FrameType, decodeCodeReason, decodeFrame, decodeU32, encodeCodeReason, encodeFrame, type Frame,
} from '../../src/link/frame.js';
import type { LinkCodec } from '../../src/link/link-session.js';
import type { Stream } from '../../src/link/stream.js';
import { FakeClock } from '../helpers/fake-clock.js';
import {
  RecordingHandler, StreamAcceptor, createSessionPair, testSettings, until, type PipeEnd, type SessionSideOptions,
} from '../helpers/link-pair.js';

const frames = (end: PipeEnd): Frame[] => end.sent.map((b) => decodeFrame(b, 1 << 24));
const dataFrames = (end: PipeEnd, streamId?: number): Frame[] =>
  frames(end).filter((f) => f.type === FrameType.DATA && (streamId === undefined || f.streamId === streamId));
const goawayCodes = (end: PipeEnd): number[] => frames(end).filter((f) => f.type === FrameType.GOAWAY).map((f) => decodeCodeReason(f.payload).code);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A session pair where the edge opens streams and the gateway accepts them. */
function setup(edgeOptions: Partial<SessionSideOptions> = {}, gatewayOptions: Partial<SessionSideOptions> = {}, autoWrite = true) {
  const acceptor = new StreamAcceptor(autoWrite);
  const edgeClosed: Array<AccelError | undefined> = [];
  const gatewayClosed: Array<AccelError | undefined> = [];
  const sessions = createSessionPair(
    { onClosed: (e) => edgeClosed.push(e), ...edgeOptions },
    { onClosed: (e) => gatewayClosed.push(e), onStreamOpen: acceptor.accept, ...gatewayOptions },
  );
  let opened = 0;
  async function open() {
    const index = opened++;
    const stream = sessions.edge.openStream(Buffer.from(JSON.stringify({ sessionId: `s${index}`, path: '/ws' })));
    const handler = new RecordingHandler(autoWrite);
    stream.bind(handler);
    await until(() => acceptor.streams.length > index, `the gateway to accept stream ${index}`);
    const remote = acceptor.streams[index]!;
    return { stream, handler, remote: remote.stream, remoteHandler: remote.handler };
  }
  return { ...sessions, acceptor, edgeClosed, gatewayClosed, open };
}

test('messages both ways keep their order, bytes and opcode (text/binary), whatever their size', async () => {
  const s = setup({ settings: testSettings({ maxFrameBytes: 2048 }) }, { settings: testSettings({ maxFrameBytes: 2048 }) });
  const { stream, handler, remote, remoteHandler } = await s.open();
  const sizes = [0, 1, 100, 1983, 1984, 1985, 5000, 3, 20000, 7];
  const sent = sizes.map((size, i) => ({ data: pattern(size, i), isText: i % 3 === 0 }));
  for (const m of sent) stream.sendMessage(m.data, m.isText);
  for (const m of sent) remote.sendMessage(m.data, !m.isText);
  await until(() => remoteHandler.messages.length === sent.length && handler.messages.length === sent.length, 'all messages');
  sent.forEach((m, i) => {
    assert.ok(remoteHandler.messages[i]!.data.equals(m.data), `edge->gateway message ${i} differs`);
    assert.equal(remoteHandler.messages[i]!.isText, m.isText);
    assert.ok(handler.messages[i]!.data.equals(m.data), `gateway->edge message ${i} differs`);
    assert.equal(handler.messages[i]!.isText, !m.isText);
  });
  assert.equal(s.edge.closed, false);
  assert.equal(s.gateway.closed, false);
});

test('a big message is cut into bounded BULK frames (FIN on the last only) and reassembled byte-identical', async () => {
  const s = setup({}, { settings: testSettings({ maxFrameBytes: 4096 }) });
  const { stream, remoteHandler } = await s.open();
  const big = pattern(100_000, 42);
  stream.sendMessage(big, false);
  await until(() => remoteHandler.messages.length === 1, 'the big message');
  assert.ok(remoteHandler.messages[0]!.data.equals(big), 'remoteHandler.messages[0]!.data.equals(big)');
  const data = dataFrames(s.pair.a, stream.id);
  assert.ok(data.length > 1, 'more frames than messages');
  assert.equal(data.length, Math.ceil(big.length / (4096 - 64)));
  for (const [i, f] of data.entries()) {
    assert.equal(f.frameClass, FrameClass.BULK);
    assert.equal((f.flags & DataFlag.FIN) !== 0, i === data.length - 1, `FIN only on the last fragment (frame ${i})`);
  }
  for (const raw of s.pair.a.sent) assert.ok(raw.length <= 4096, `frame of ${raw.length} bytes exceeds the peer's maxFrameBytes`);
  assert.deepEqual(data.map((f) => f.seq), data.map((_, i) => data[0]!.seq + i), 'consecutive sequence numbers');
});

test('priorities: a small message on another stream overtakes the remaining frames of a queued bulk transfer', async () => {
  const s = setup({ sendHighWaterBytes: 8 * 1024 }, { settings: testSettings({ maxFrameBytes: 4096 }) });
  const bulk = await s.open();
  const rpc = await s.open();
  const text = await s.open();
  const big = pattern(200_000, 1);
  bulk.stream.sendMessage(big, false);
  rpc.stream.sendMessage(Buffer.from('small binary call'), false);
  text.stream.sendMessage(Buffer.from('{"small":"text"}'), true);
  await until(() => bulk.remoteHandler.messages.length === 1 && rpc.remoteHandler.messages.length === 1 && text.remoteHandler.messages.length === 1, 'all three messages');
  const order = dataFrames(s.pair.a);
  const smallIndex = order.findIndex((f) => f.streamId === rpc.stream.id);
  const textIndex = order.findIndex((f) => f.streamId === text.stream.id);
  const bulkTotal = order.filter((f) => f.streamId === bulk.stream.id).length;
  const bulkBefore = order.slice(0, Math.max(smallIndex, textIndex)).filter((f) => f.streamId === bulk.stream.id).length;
  assert.ok(bulkTotal > 40, 'bulkTotal > 40');
  assert.ok(bulkBefore <= 3, `only the bulk frames already handed to the transport go first (${bulkBefore} did)`);
  assert.ok(textIndex < smallIndex, 'text (control class) goes before binary (rpc class)');
  assert.equal(order[smallIndex]!.frameClass, FrameClass.RPC);
  assert.equal(order[textIndex]!.frameClass, FrameClass.CONTROL);
  assert.ok(bulk.remoteHandler.messages[0]!.data.equals(big), 'bulk.remoteHandler.messages[0]!.data.equals(big)');
});

test('per-stream order: a small message after a big one on the SAME stream never overtakes it', async () => {
  const s = setup({ sendHighWaterBytes: 8 * 1024 }, { settings: testSettings({ maxFrameBytes: 4096 }) });
  const { stream, remoteHandler } = await s.open();
  const other = await s.open();
  const big = pattern(100_000, 3);
  stream.sendMessage(big, false);
  stream.sendMessage(Buffer.from('after big (binary)'), false);
  stream.sendMessage(Buffer.from('after big (text)'), true);
  other.stream.sendMessage(Buffer.from('other stream'), true);
  await until(() => remoteHandler.messages.length === 3 && other.remoteHandler.messages.length === 1, 'the messages');
  assert.ok(remoteHandler.messages[0]!.data.equals(big), 'remoteHandler.messages[0]!.data.equals(big)');
  assert.equal(remoteHandler.messages[1]!.data.toString(), 'after big (binary)');
  assert.equal(remoteHandler.messages[2]!.data.toString(), 'after big (text)');
  const own = dataFrames(s.pair.a, stream.id);
  assert.equal(own.at(-2)!.payload.length, 'after big (binary)'.length);
  assert.deepEqual(own.map((f) => f.seq), own.map((_, i) => own[0]!.seq + i));
  // ...while the other stream still overtook the bulk transfer.
  const order = dataFrames(s.pair.a);
  const lastOwn = order.map((f) => f.streamId).lastIndexOf(stream.id);
  assert.ok(order.findIndex((f) => f.streamId === other.stream.id) < lastOwn, 'order.findIndex((f) => f.streamId === other.stream.id) < lastOwn');
});

test('credit: onPause when the window is used up, onResume once the receiver calls written', async () => {
  const s = setup({}, { settings: testSettings({ windowBytes: 4096 }) }, false);
  const { stream, handler, remoteHandler } = await s.open();
  stream.sendMessage(pattern(1500, 1), false);
  stream.sendMessage(pattern(1500, 2), false);
  assert.equal(handler.pauses, 0, '3000 of 4096 bytes used: not paused yet');
  stream.sendMessage(pattern(1500, 3), false);
  assert.equal(handler.pauses, 1, 'window used up: paused');
  await until(() => remoteHandler.messages.length === 3, 'the three messages');
  await turn();
  assert.equal(handler.resumes, 0);
  assert.equal(frames(s.pair.b).filter((f) => f.type === FrameType.WINDOW).length, 0, 'no credit returned before written');
  remoteHandler.messages[0]!.written();
  remoteHandler.messages[0]!.written(); // a second call returns nothing more
  await until(() => handler.resumes === 1, 'onResume');
  const windows = frames(s.pair.b).filter((f) => f.type === FrameType.WINDOW);
  assert.deepEqual(windows.map((f) => [f.streamId, decodeU32(f.payload), f.frameClass]), [[stream.id, 1500, FrameClass.CONTROL]]);
});

test('credit: WINDOW grants are batched to one per quarter window of written bytes', async () => {
  const s = setup({}, { settings: testSettings({ windowBytes: 8192 }) }, false);
  const { stream, remoteHandler } = await s.open();
  for (let i = 0; i < 5; i++) stream.sendMessage(pattern(1000, i), false);
  await until(() => remoteHandler.messages.length === 5, 'five messages');
  const grants = () => frames(s.pair.b).filter((f) => f.type === FrameType.WINDOW).map((f) => decodeU32(f.payload));
  remoteHandler.messages[0]!.written();
  remoteHandler.messages[1]!.written();
  await turn();
  assert.deepEqual(grants(), [], '2000 < 8192/4: nothing granted yet');
  remoteHandler.messages[2]!.written();
  await until(() => grants().length === 1, 'a grant');
  assert.deepEqual(grants(), [3000]);
  remoteHandler.messages[3]!.written();
  remoteHandler.messages[4]!.written();
  await turn();
  await turn();
  assert.deepEqual(grants(), [3000], '2000 more written bytes are below the quarter window: kept for the next grant');
  stream.sendMessage(pattern(100, 9), false);
  await until(() => remoteHandler.messages.length === 6, 'a sixth message');
  remoteHandler.messages[5]!.written();
  await until(() => grants().length === 2, 'a second grant');
  assert.deepEqual(grants(), [3000, 2100]);
});

test('credit: a paused sender that drains the whole window is always resumed (no stall below the batch size)', async () => {
  const s = setup({}, { settings: testSettings({ windowBytes: 4096 }) });
  const { stream, handler, remoteHandler } = await s.open();
  let sentBytes = 0;
  for (let i = 0; i < 20; i++) {
    const size = 100 + ((i * 977) % 3000);
    sentBytes += size;
    stream.sendMessage(pattern(size, i), false);
    if (handler.pauses > handler.resumes) await until(() => handler.resumes === handler.pauses, `resume after message ${i}`);
  }
  await until(() => remoteHandler.messages.length === 20, 'all messages');
  assert.ok(handler.pauses > 0, 'the window was used up at least once');
  assert.equal(remoteHandler.messages.reduce((n, m) => n + m.data.length, 0), sentBytes);
});

test('keep-alive: PING/PONG measures the round trip on the injected clock', async () => {
  const clock = new FakeClock();
  const rtts: number[] = [];
  const s = setup({ clock, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000, onRtt: (ms) => rtts.push(ms) }, { clock, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000 });
  const heldPongs: Buffer[] = [];
  s.pair.b.outbound = (data) => {
    if (data[0] !== FrameType.PONG) return data;
    heldPongs.push(data);
    return null;
  };
  clock.advance(1000);
  await until(() => heldPongs.length === 1, 'the gateway to answer the PING');
  const ping = frames(s.pair.a).find((f) => f.type === FrameType.PING)!;
  assert.equal(ping.payload.length, 8);
  assert.deepEqual(Buffer.from(decodeFrame(heldPongs[0]!, 1 << 20).payload), Buffer.from(ping.payload), 'PONG echoes the PING payload');
  clock.advance(37);
  s.pair.a.inject(heldPongs[0]!);
  await until(() => rtts.length === 1, 'the RTT');
  assert.equal(rtts[0], 37);
  assert.equal(s.edge.rttMs, 37);
});

test('keep-alive: a live link survives many intervals; silence beyond keepaliveTimeoutMs fails it with KEEPALIVE_TIMEOUT', async () => {
  const clock = new FakeClock();
  const s = setup({ clock, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000 }, { clock, pingIntervalMs: 1000, keepaliveTimeoutMs: 3000 });
  const { handler } = await s.open();
  for (let i = 0; i < 10; i++) {
    const pongsBefore = frames(s.pair.b).filter((f) => f.type === FrameType.PONG).length;
    clock.advance(1000);
    await until(() => frames(s.pair.b).filter((f) => f.type === FrameType.PONG).length > pongsBefore, 'a PONG');
    await turn();
  }
  assert.equal(s.edge.closed, false, 'ten intervals with answers: still up');
  assert.equal(s.edge.rttMs, 0);

  s.pair.b.outbound = () => null; // the gateway goes silent (its messages are lost on the way)
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    await turn();
  }
  assert.equal(s.edge.closed, false, 'silent for exactly keepaliveTimeoutMs: not yet');
  clock.advance(1000);
  assert.equal(s.edge.closed, true);
  assert.equal(s.edgeClosed[0]?.code, 'HYPHA_ACCEL_ERR_KEEPALIVE_TIMEOUT');
  assert.deepEqual(goawayCodes(s.pair.a), [ERROR_CODES.HYPHA_ACCEL_ERR_KEEPALIVE_TIMEOUT.goaway]);
  assert.equal(s.pair.a.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_KEEPALIVE_TIMEOUT.wsClose);
  await until(() => handler.aborts.length === 1, 'the stream to be aborted');
  assert.equal(handler.aborts[0]!.code, 'HYPHA_ACCEL_ERR_LINK_LOST');
  assert.equal(clock.pendingTimers, 1, 'the edge cleared its ping interval (only the gateway\'s may remain until it sees the close)');
  await until(() => s.gateway.closed, 'the gateway to see the link end');
  assert.equal(clock.pendingTimers, 0);
});

test('a malformed frame closes only its link: GOAWAY(BAD_FRAME), streams aborted with LINK_LOST; another link keeps working', async () => {
  const s = setup();
  const other = setup();
  const a = await s.open();
  const b = await other.open();
  s.pair.b.inject(Buffer.from([0x13, 0x01])); // a truncated DATA header arrives at the gateway
  await until(() => s.gateway.closed && s.edge.closed, 'both ends of the broken link to close');
  assert.deepEqual(goawayCodes(s.pair.b), [ERROR_CODES.HYPHA_ACCEL_ERR_BAD_FRAME.goaway]);
  assert.equal(s.pair.b.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_BAD_FRAME.wsClose);
  assert.equal(s.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_BAD_FRAME');
  assert.equal(s.edgeClosed[0]?.code, 'HYPHA_ACCEL_ERR_BAD_FRAME', 'the edge learns why from the GOAWAY');
  await until(() => a.remoteHandler.aborts.length === 1 && a.handler.aborts.length === 1, 'streams aborted on both sides');
  assert.equal(a.remoteHandler.aborts[0]!.code, 'HYPHA_ACCEL_ERR_LINK_LOST');
  assert.equal(a.handler.aborts[0]!.code, 'HYPHA_ACCEL_ERR_LINK_LOST');
  assert.equal(s.edge.streamCount, 0);
  a.stream.sendMessage(Buffer.from('into the void'), true); // a send on a dead link is a no-op, not a throw

  b.stream.sendMessage(Buffer.from('still here'), true);
  b.remote.sendMessage(Buffer.from('me too'), false);
  await until(() => b.remoteHandler.messages.length === 1 && b.handler.messages.length === 1, 'the other link to carry messages');
  assert.equal(other.edge.closed || other.gateway.closed, false);
});

test('a message above maxMessageBytes resets only its stream (close 1009); the link keeps serving other streams', async () => {
  const s = setup({}, { maxMessageBytes: 10_000, settings: testSettings({ maxFrameBytes: 4096 }) });
  const victim = await s.open();
  const bystander = await s.open();
  victim.stream.sendMessage(pattern(30_000, 5), false);
  await until(() => victim.handler.remoteCloses.length === 1, 'the edge to see the stream closed');
  assert.equal(victim.handler.remoteCloses[0]!.code, 1009);
  assert.equal(victim.remoteHandler.aborts[0]?.code, 'HYPHA_ACCEL_ERR_MESSAGE_TOO_LARGE');
  assert.equal(victim.remoteHandler.messages.length, 0);
  assert.equal(s.gateway.closed, false);
  assert.equal(s.edge.closed, false);
  bystander.stream.sendMessage(pattern(9_000, 6), false);
  bystander.remote.sendMessage(Buffer.from('reply'), true);
  await until(() => bystander.remoteHandler.messages.length === 1 && bystander.handler.messages.length === 1, 'the bystander stream');
  assert.equal(bystander.remoteHandler.messages[0]!.data.length, 9_000);
  assert.equal(s.gatewayClosed.length, 0);

  // A single-frame message over the limit is refused the same way.
  const small = setup({}, { maxMessageBytes: 1000 });
  const single = await small.open();
  single.stream.sendMessage(Buffer.alloc(1001, 0x61), true);
  await until(() => single.handler.remoteCloses.length === 1, 'the single-frame victim to be closed');
  assert.equal(single.handler.remoteCloses[0]!.code, 1009);
  assert.equal(small.gateway.closed, false);
});

test('a stream reset (1009) still reaches the sender when the resetting side has a full send queue', async () => {
  // BUG (src/link/link-session.ts resetStream): the CLOSE is queued with stream.sendControl and then
  // stream.abort() clears stream.out. If the pump could not send the CLOSE at once (inflight bytes at
  // sendHighWaterBytes, i.e. under load), the CLOSE is dropped: the sender never learns its stream was
  // reset, its frames are silently discarded and its window never comes back.
  const s = setup({}, { maxMessageBytes: 10_000, sendHighWaterBytes: 1000 });
  const victim = await s.open();
  const busy = await s.open();
  s.pair.b.holdWrites(); // the gateway's socket does not drain for a moment
  busy.remote.sendMessage(pattern(3000, 1), false); // gateway inflight 3000+ bytes >= its high water mark
  victim.stream.sendMessage(pattern(20_000, 2), false);
  await until(() => victim.remoteHandler.aborts.length === 1, 'the gateway to reset the victim stream');
  s.pair.b.releaseWrites();
  await until(() => busy.handler.messages.length === 1, 'the busy stream\'s message');
  await until(() => victim.handler.remoteCloses.length === 1, 'the edge to learn that its stream was closed with 1009', 1000);
  assert.equal(victim.handler.remoteCloses[0]!.code, 1009);
});

test('a frame with the wrong sequence number fails the link with HYPHA_ACCEL_ERR_PROTOCOL', async () => {
  const s = setup();
  const { stream, remoteHandler } = await s.open();
  stream.sendMessage(Buffer.from('seq 1'), true);
  await until(() => remoteHandler.messages.length === 1, 'a first message');
  // OPEN was seq 0 and the message seq 1 on this stream: inject seq 5 instead of 2.
  s.pair.b.inject(encodeFrame({ type: FrameType.DATA, flags: DataFlag.FIN, frameClass: FrameClass.RPC, streamId: stream.id, seq: 5, payload: Buffer.from('x') }));
  await until(() => s.gateway.closed, 'the gateway to fail the link');
  assert.equal(s.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_PROTOCOL');
  assert.deepEqual(goawayCodes(s.pair.b), [ERROR_CODES.HYPHA_ACCEL_ERR_PROTOCOL.goaway]);
  assert.equal(remoteHandler.messages.length, 1, 'the out-of-sequence message was not delivered');
});

test('a replayed (duplicate) sequence number and an OPEN for an existing stream are HYPHA_ACCEL_ERR_PROTOCOL', async () => {
  const s = setup();
  const { stream } = await s.open();
  s.pair.b.inject(encodeFrame({ type: FrameType.OPEN, flags: 0, frameClass: FrameClass.CONTROL, streamId: stream.id, seq: 0, payload: Buffer.from('{}') }));
  await until(() => s.gateway.closed, 'the gateway to fail the link');
  assert.equal(s.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_PROTOCOL');

  const s2 = setup();
  const second = await s2.open();
  s2.pair.b.inject(encodeFrame({ type: FrameType.DATA, flags: DataFlag.FIN, frameClass: FrameClass.RPC, streamId: second.stream.id, seq: 0, payload: Buffer.from('x') }));
  await until(() => s2.gateway.closed, 'the gateway to fail the link');
  assert.equal(s2.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_PROTOCOL');
});

test('CLOSE mirrors code and reason both ways, after the data queued before it; both sides then forget the stream', async () => {
  const s = setup();
  const { stream, handler, remote, remoteHandler } = await s.open();
  stream.sendMessage(pattern(50_000, 9), false);
  s.edge.closeStream(stream, 4321, 'bye now ✓');
  await until(() => remoteHandler.remoteCloses.length === 1, 'the gateway to see the close');
  assert.equal(remoteHandler.messages.length, 1, 'the data sent before the close arrived first');
  assert.deepEqual(remoteHandler.remoteCloses[0], { code: 4321, reason: 'bye now ✓' });
  stream.sendMessage(Buffer.from('after close'), true); // ignored: the stream is closed locally
  s.gateway.closeStream(remote, 1005, '');
  await until(() => handler.remoteCloses.length === 1, 'the edge to see the close');
  assert.deepEqual(handler.remoteCloses[0], { code: 1005, reason: '' });
  await until(() => s.edge.streamCount === 0 && s.gateway.streamCount === 0, 'both sides to forget the stream');
  assert.equal(remoteHandler.messages.length, 1);
  assert.equal(s.edge.closed || s.gateway.closed, false);
});

test('CLOSE carries how the endpoint ended in its flags; a sender that does not say (0) reads as UNSAID', async () => {
  const s = setup();
  const { stream, remote, handler, remoteHandler } = await s.open();
  s.edge.closeStream(stream, 1012, 'service restart', EndKind.CLOSE_THEN_DROP);
  await until(() => remoteHandler.remoteCloses.length === 1, 'the gateway to see the close');
  assert.deepEqual(remoteHandler.endKinds, [EndKind.CLOSE_THEN_DROP]);
  s.gateway.closeStream(remote, 1005, '');
  await until(() => handler.remoteCloses.length === 1, 'the edge to see the close');
  assert.deepEqual(handler.endKinds, [EndKind.UNSAID]);
  assert.equal(endKindOf(0x7f), EndKind.UNSAID, 'unknown kinds read as unsaid');
});

test('goAway ends the link gracefully: GOAWAY(SHUTDOWN), streams aborted with SHUTDOWN, not LINK_LOST', async () => {
  const s = setup();
  const { handler, remoteHandler } = await s.open();
  s.edge.goAway('edge draining');
  await until(() => s.gateway.closed, 'the gateway to see the GOAWAY');
  assert.deepEqual(goawayCodes(s.pair.a), [ERROR_CODES.HYPHA_ACCEL_ERR_SHUTDOWN.goaway]);
  assert.equal(s.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_SHUTDOWN');
  await until(() => handler.aborts.length === 1 && remoteHandler.aborts.length === 1, 'aborts');
  assert.equal(handler.aborts[0]!.code, 'HYPHA_ACCEL_ERR_SHUTDOWN');
  assert.equal(remoteHandler.aborts[0]!.code, 'HYPHA_ACCEL_ERR_SHUTDOWN');
  assert.deepEqual(goawayCodes(s.pair.b), [], 'the side told GOAWAY does not answer with one');
});

test('a dropped socket aborts every stream with LINK_LOST on both sides', async () => {
  const s = setup();
  const x = await s.open();
  const y = await s.open();
  s.pair.a.dropSocket();
  await until(() => s.edge.closed && s.gateway.closed, 'both sessions to close');
  await until(() => [x, y].every((t) => t.handler.aborts.length === 1 && t.remoteHandler.aborts.length === 1), 'all aborts');
  for (const t of [x, y]) assert.equal(t.handler.aborts[0]!.code, 'HYPHA_ACCEL_ERR_LINK_LOST');
});

test('a PONG with a payload other than 8 bytes is BAD_FRAME', async () => {
  const s = setup();
  s.pair.a.inject(encodeFrame({ type: FrameType.PONG, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload: Buffer.alloc(4) }));
  await until(() => s.edge.closed, 'the edge to fail the link');
  assert.equal(s.edgeClosed[0]?.code, 'HYPHA_ACCEL_ERR_BAD_FRAME');
});

/** A toy codec: prefix a running counter (checks encode and decode see messages in the same order) and XOR. */
class CountingXorCodec implements LinkCodec {
  encoded = 0;
  decoded = 0;
  readonly decodeLog: string[] = [];
  constructor(private readonly declineText = false) {}
  encode(message: Uint8Array, isText: boolean): Uint8Array | null {
    if (this.declineText && isText) return null;
    const out = Buffer.allocUnsafe(message.length + 4);
    out.writeUInt32BE(this.encoded++, 0);
    for (let i = 0; i < message.length; i++) out[i + 4] = message[i]! ^ 0x5a;
    return out;
  }
  decode(compact: Uint8Array, isText: boolean): Uint8Array {
    const buf = Buffer.from(compact.buffer, compact.byteOffset, compact.byteLength);
    if (buf.length < 4) throw new Error('compact form too short');
    const counter = buf.readUInt32BE(0);
    if (counter !== this.decoded) throw new Error(`codec out of step: got #${counter}, expected #${this.decoded}`);
    this.decoded++;
    const out = Buffer.allocUnsafe(buf.length - 4);
    for (let i = 4; i < buf.length; i++) out[i - 4] = buf[i]! ^ 0x5a;
    this.decodeLog.push(`${isText ? 't' : 'b'}${out.length}`);
    return out;
  }
}

test('codec: only whole single-frame messages are transcoded, encoded in link order, decoded in order on both sides', async () => {
  const edgeCodec = new CountingXorCodec();
  const gatewayCodec = new CountingXorCodec(true);
  const s = setup({ codec: edgeCodec, sendHighWaterBytes: 8 * 1024 }, { codec: gatewayCodec, settings: testSettings({ maxFrameBytes: 4096 }) });
  const one = await s.open();
  const two = await s.open();
  const sent: Array<[Stream, Buffer, boolean]> = [
    [one.stream, pattern(50_000, 1), false], // fragmented: raw
    [two.stream, Buffer.from('{"rpc":1}'), true],
    [one.stream, pattern(100, 2), false], // queued behind the bulk on its own stream
    [two.stream, pattern(3000, 3), false],
    [two.stream, pattern(0, 4), false],
  ];
  for (const [stream, data, isText] of sent) stream.sendMessage(data, isText);
  one.remote.sendMessage(Buffer.from('text declined by the gateway codec'), true);
  one.remote.sendMessage(Buffer.from([1, 2, 3]), false);
  await until(() => one.remoteHandler.messages.length === 2 && two.remoteHandler.messages.length === 3 && one.handler.messages.length === 2, 'all messages');
  assert.ok(one.remoteHandler.messages[0]!.data.equals(sent[0]![1]), 'one.remoteHandler.messages[0]!.data.equals(sent[0]![1])');
  assert.ok(one.remoteHandler.messages[1]!.data.equals(sent[2]![1]), 'one.remoteHandler.messages[1]!.data.equals(sent[2]![1])');
  assert.equal(two.remoteHandler.messages[0]!.data.toString(), '{"rpc":1}');
  assert.equal(two.remoteHandler.messages[0]!.isText, true);
  assert.ok(two.remoteHandler.messages[1]!.data.equals(sent[3]![1]), 'two.remoteHandler.messages[1]!.data.equals(sent[3]![1])');
  assert.equal(two.remoteHandler.messages[2]!.data.length, 0);
  assert.equal(one.handler.messages[0]!.data.toString(), 'text declined by the gateway codec');
  assert.deepEqual([...one.handler.messages[1]!.data], [1, 2, 3]);

  const wire = dataFrames(s.pair.a);
  const transcoded = wire.filter((f) => f.flags & DataFlag.CODEC);
  assert.equal(transcoded.length, 4, 'the 4 single-frame messages were transcoded');
  for (const f of transcoded) assert.ok(f.flags & DataFlag.FIN, 'a transcoded frame is a whole message');
  for (const f of wire.filter((f) => f.frameClass === FrameClass.BULK)) assert.equal(f.flags & DataFlag.CODEC, 0, 'fragments are never transcoded');
  assert.deepEqual(transcoded.map((f) => Buffer.from(f.payload).readUInt32BE(0)), [0, 1, 2, 3], 'encoded in the order frames go on the link');
  assert.equal(edgeCodec.encoded, 4);
  assert.equal(gatewayCodec.decoded, 4);
  const back = dataFrames(s.pair.b);
  assert.deepEqual(back.map((f) => (f.flags & DataFlag.CODEC) !== 0), [false, true], 'the gateway codec declined the text message');
  assert.equal(edgeCodec.decoded, 1);
});

test('codec: a transcoded message that fails to decode closes the link with HYPHA_ACCEL_ERR_CODEC', async () => {
  const s = setup({ codec: new CountingXorCodec() }, { codec: new CountingXorCodec() });
  const { stream, remoteHandler } = await s.open();
  stream.sendMessage(Buffer.from('fine'), false);
  await until(() => remoteHandler.messages.length === 1, 'a decoded message');
  // The edge codec's counter is now 1; a frame claiming counter 7 is out of step.
  const bogus = Buffer.from([0, 0, 0, 7, 1, 2]);
  s.pair.b.inject(encodeFrame({ type: FrameType.DATA, flags: DataFlag.FIN | DataFlag.CODEC, frameClass: FrameClass.RPC, streamId: stream.id, seq: 2, payload: bogus }));
  await until(() => s.gateway.closed && s.edge.closed, 'the link to close');
  assert.equal(s.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_CODEC');
  assert.deepEqual(goawayCodes(s.pair.b), [ERROR_CODES.HYPHA_ACCEL_ERR_CODEC.goaway]);
  assert.equal(s.pair.b.closedWith?.code, ERROR_CODES.HYPHA_ACCEL_ERR_CODEC.wsClose);
  assert.equal(s.edgeClosed[0]?.code, 'HYPHA_ACCEL_ERR_CODEC');
  assert.equal(remoteHandler.messages.length, 1, 'no wrong bytes were delivered');
});

test('codec: a transcoded fragment, or a transcoded frame on a link without codec, is HYPHA_ACCEL_ERR_PROTOCOL', async () => {
  for (const [flags, codec] of [[DataFlag.CODEC, new CountingXorCodec()], [DataFlag.CODEC | DataFlag.FIN, undefined]] as const) {
    const s = setup({}, { codec });
    const { stream } = await s.open();
    s.pair.b.inject(encodeFrame({ type: FrameType.DATA, flags, frameClass: FrameClass.BULK, streamId: stream.id, seq: 1, payload: Buffer.from([0, 0, 0, 0, 1]) }));
    await until(() => s.gateway.closed, 'the link to close');
    assert.equal(s.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_PROTOCOL');
  }
});

test('codec: frames for a stream that is already gone are still decoded, so codec state stays in step', async () => {
  const edgeCodec = new CountingXorCodec();
  const gatewayCodec = new CountingXorCodec();
  const s = setup({ codec: edgeCodec }, { codec: gatewayCodec, maxMessageBytes: 100 });
  const victim = await s.open();
  const other = await s.open();
  victim.stream.sendMessage(pattern(200, 1), false); // too large: the gateway resets the victim stream
  victim.stream.sendMessage(pattern(50, 2), false); // arrives for a stream the gateway already forgot
  other.stream.sendMessage(pattern(60, 3), false);
  await until(() => other.remoteHandler.messages.length === 1, 'the other stream\'s message');
  assert.ok(other.remoteHandler.messages[0]!.data.equals(pattern(60, 3)), 'other.remoteHandler.messages[0]!.data.equals(pattern(60, 3))');
  assert.equal(gatewayCodec.decoded, 3);
  assert.equal(s.gateway.closed, false);
});

test('handleMessage never throws: garbage of any kind closes the link with a coded error', async () => {
  const samples = [Buffer.alloc(0), Buffer.from('not a frame at all'), Buffer.alloc(100, 0xff), encodeFrame({ type: FrameType.GOAWAY, flags: 0, frameClass: 0, streamId: 0, seq: 0, payload: Buffer.from([1]) })];
  for (const garbage of samples) {
    const s = setup();
    assert.doesNotThrow(() => s.gateway.handleMessage(garbage));
    assert.equal(s.gateway.closed, true);
    assert.ok(s.gatewayClosed[0] instanceof AccelError, 's.gatewayClosed[0] instanceof AccelError');
    assert.equal(s.gatewayClosed[0]!.code, 'HYPHA_ACCEL_ERR_BAD_FRAME');
  }
  // A GOAWAY with a known code is honoured as that code.
  const s = setup();
  s.gateway.handleMessage(encodeFrame({ type: FrameType.GOAWAY, flags: 0, frameClass: 0, streamId: 0, seq: 0, payload: encodeCodeReason(ERROR_CODES.HYPHA_ACCEL_ERR_AUTH.goaway, 'x') }));
  assert.equal(s.gatewayClosed[0]?.code, 'HYPHA_ACCEL_ERR_AUTH');
});
