// DRAIN (docs/protocol.md §9b) on in-memory links: the frame's wire form, a drained link that goes on
// carrying its streams, DRAIN to a peer that did not negotiate drain-v1 (a protocol error: gateways only send
// it behind the capability), and the edge's pool letting go of a draining link and dialling its replacement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDrain, decodeFrame, encodeDrain, FrameType } from '../../src/link/frame.js';
import { establishAsEdge, establishAsGateway, type DuplexTransport, type EstablishOptions, type Established } from '../../src/link/establish.js';
import { LinkPool } from '../../src/link/link-pool.js';
import type { AccelError } from '../../src/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingHandler, StreamAcceptor, createLinkPair, createSessionPair, testSettings, until } from '../helpers/link-pair.js';

test('DRAIN payload: u32 ms left, then the reason; a short payload is BAD_FRAME', () => {
  const payload = encodeDrain(15_000, 'gateway stopping');
  assert.deepEqual([...payload.subarray(0, 4)], [0, 0, 0x3a, 0x98]);
  assert.deepEqual(decodeDrain(payload), { drainMs: 15_000, reason: 'gateway stopping' });
  assert.throws(() => decodeDrain(payload.subarray(0, 3)), /BAD_FRAME|at least 4/);
  assert.equal(decodeDrain(encodeDrain(1, 'x'.repeat(300))).reason.length, 123, 'long reasons are cut');
});

test('a drained link carries its streams on; DRAIN is told once', async () => {
  const acceptor = new StreamAcceptor();
  const drains: Array<[number, string]> = [];
  const s = createSessionPair({ onDrain: (ms, reason) => drains.push([ms, reason]) }, { onStreamOpen: acceptor.accept });
  const stream = s.edge.openStream(Buffer.from('{}'));
  const handler = new RecordingHandler();
  stream.bind(handler);
  await until(() => acceptor.streams.length === 1, 'the stream to open');
  s.gateway.drain(20_000, 'gateway stopping');
  s.gateway.drain(20_000, 'again');
  await until(() => drains.length === 1, 'the edge to see DRAIN');
  assert.deepEqual(drains, [[20_000, 'gateway stopping']]);
  assert.equal(s.edge.draining, true);
  assert.equal(s.pair.b.sent.filter((f) => decodeFrame(f, 1 << 20).type === FrameType.DRAIN).length, 1, 'one DRAIN frame');
  acceptor.streams[0]!.stream.sendMessage(Buffer.from('still here'), false);
  stream.sendMessage(Buffer.from('me too'), false);
  await until(() => handler.messages.length === 1 && acceptor.streams[0]!.handler.messages.length === 1, 'messages both ways after DRAIN');
  assert.equal(s.edge.closed || s.gateway.closed, false, 'the link is still up');
});

test('DRAIN to a side that did not negotiate drain-v1 ends the link with PROTOCOL', async () => {
  const closed: Array<AccelError | undefined> = [];
  const s = createSessionPair({ onClosed: (error) => closed.push(error) });
  s.gateway.drain(1000, 'stopping');
  await until(() => closed.length === 1, 'the edge to fail the link');
  assert.equal(closed[0]?.code, 'HYPHA_ACCEL_ERR_PROTOCOL');
});

test('the pool lets go of a draining link (still open for its sessions) and dials its replacement at once', async () => {
  const clock = new FakeClock();
  const linkClock = new FakeClock();
  const gateways: Established[] = [];
  const options = (onDrain?: () => void): EstablishOptions => ({
    secret: Buffer.from('drain-secret'), local: testSettings(), handshakeTimeoutMs: 5000, instanceId: 'drain-test', clock: linkClock,
    session: () => ({ maxMessageBytes: 1 << 20, pingIntervalMs: 60_000, keepaliveTimeoutMs: 180_000, sendHighWaterBytes: 1 << 20, onStreamOpen: new StreamAcceptor().accept, onDrain }),
  });
  let dials = 0;
  const dial = async (): Promise<DuplexTransport> => {
    dials++;
    const { a, b } = createLinkPair();
    void establishAsGateway(b, options()).then((g) => gateways.push(g), () => {});
    return a;
  };
  let pool: LinkPool | undefined = undefined;
  const established: Established[] = [];
  pool = new LinkPool({
    size: 1, clock, dial, backoff: { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, random: () => 0.5 },
    establish: async (transport) => {
      const link: Established = await establishAsEdge(transport as DuplexTransport, options(() => pool!.retire(link)));
      established.push(link);
      return link;
    },
  });
  pool.start();
  await until(() => pool.readyLinks.length === 1 && gateways.length === 1, 'the first link');
  const first = pool.readyLinks[0]!;
  first.session.openStream(Buffer.from('{}'));
  gateways[0]!.session.drain(10_000, 'gateway stopping');
  await until(() => dials === 2, 'the replacement dial');
  assert.equal(clock.timeoutDelaysMs.length, 0, 'no backoff before the replacement');
  await until(() => pool.readyLinks.length === 1 && pool.readyLinks[0] !== first, 'the replacement link');
  assert.equal(first.session.closed, false, 'the draining link stays open for its session');
  assert.equal(pool.pick(), pool.readyLinks[0], 'new sessions go to the replacement');
  gateways[0]!.session.goAway('drain over');
  await until(() => first.session.closed, 'the drained link to end');
  assert.equal(pool.readyLinks.length, 1, 'its end does not disturb the slot');
  assert.equal(pool.states()[0], 'ready');
  pool.stop('test over');
});
