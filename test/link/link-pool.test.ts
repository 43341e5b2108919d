// The edge's link pool with a fake dial (fails N times, then hands out in-memory pairs whose other end
// runs a real gateway handshake) and a fake clock driving the backoff and waitReady deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccelError } from '../../src/errors.js';
import { decodeCodeReason, decodeFrame, FrameType } from '../../src/link/frame.js';
import { establishAsEdge, establishAsGateway, type DuplexTransport, type EstablishOptions, type Established } from '../../src/link/establish.js';
import { LinkPool, type LinkPoolOptions } from '../../src/link/link-pool.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { StreamAcceptor, createLinkPair, testSettings, until, type PipeEnd } from '../helpers/link-pair.js';

const SECRET = Buffer.from('pool-secret');

function establishOptions(clock: FakeClock, acceptor?: StreamAcceptor): EstablishOptions {
  return {
    secret: SECRET,
    local: testSettings(),
    handshakeTimeoutMs: 5000,
    instanceId: 'pool-test',
    clock,
    session: () => ({ maxMessageBytes: 1 << 20, pingIntervalMs: 60_000, keepaliveTimeoutMs: 180_000, sendHighWaterBytes: 1 << 20, onStreamOpen: acceptor?.accept }),
  };
}

/** A dial that fails `failures` times, then connects to an in-memory gateway. */
function fakeGateway(failures: number) {
  const linkClock = new FakeClock(); // handshake and keep-alive timers of the links themselves
  const acceptor = new StreamAcceptor();
  const gateways: Array<{ end: PipeEnd; edgeEnd: PipeEnd; established: Promise<Established> }> = [];
  const dialErrors: AccelError[] = [];
  let dials = 0;
  const dial = async (): Promise<DuplexTransport> => {
    dials++;
    if (dials <= failures) throw new Error(`connect ECONNREFUSED (attempt ${dials})`);
    const { a, b } = createLinkPair();
    const established = establishAsGateway(b, establishOptions(linkClock, acceptor));
    established.catch(() => {});
    gateways.push({ end: b, edgeEnd: a, established });
    return a;
  };
  return {
    linkClock, acceptor, gateways, dialErrors,
    get dials() {
      return dials;
    },
    poolOptions: (clock: FakeClock, overrides: Partial<LinkPoolOptions> = {}): LinkPoolOptions => ({
      size: 1,
      backoff: { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, random: () => 0.5 },
      clock,
      dial,
      establish: (transport) => establishAsEdge(transport as DuplexTransport, establishOptions(linkClock)),
      onDialError: (_slot, error) => dialErrors.push(error),
      ...overrides,
    }),
  };
}

test('dial fails N times: the backoff grows (with jitter) until the dial succeeds, and waitReady resolves', async () => {
  const clock = new FakeClock();
  const gateway = fakeGateway(4);
  const jitter = [0.9, 0.1, 0.5, 0.0];
  let r = 0;
  const pool = new LinkPool(gateway.poolOptions(clock, { backoff: { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, random: () => jitter[r++]! } }));
  let resolved: Established | undefined;
  const ready = pool.waitReady(60_000).then((link) => (resolved = link));
  assert.deepEqual(clock.timeoutDelaysMs, [60_000]);
  pool.start();
  const backoffs: number[] = [];
  for (let failure = 1; failure <= 4; failure++) {
    await until(() => gateway.dialErrors.length === failure && pool.states()[0] === 'backoff', `dial failure ${failure}`);
    const delay = clock.timeoutDelaysMs.at(-1)!;
    backoffs.push(delay);
    clock.advance(delay - 1);
    assert.equal(gateway.dials, failure, 'no redial before the backoff delay');
    clock.advance(1);
    assert.equal(gateway.dials, failure + 1, 'redial exactly when the backoff delay ends');
  }
  // base 100, 200, 400, 800; delay = base/2 + random * base/2
  assert.deepEqual(backoffs, [95, 110, 300, 400]);
  await ready;
  assert.ok(resolved, 'resolved');
  assert.equal(pool.states()[0], 'ready');
  assert.equal(pool.lastError, undefined);
  assert.ok(gateway.dialErrors.every((e) => e instanceof AccelError && e.code === 'HYPHA_ACCEL_ERR_NO_LINK'), 'gateway.dialErrors.every((e) => e instanceof AccelError && e.code === \'HYPHA_ACCEL_ERR_NO_LINK\')');
  assert.match(gateway.dialErrors[0]!.message, /ECONNREFUSED/);
  assert.equal(resolved, pool.pick());
  pool.stop('test over');
});

test('waitReady rejects with HYPHA_ACCEL_ERR_NO_LINK after its timeout, naming the last dial error', async () => {
  const clock = new FakeClock();
  const gateway = fakeGateway(Infinity);
  const pool = new LinkPool(gateway.poolOptions(clock));
  pool.start();
  let outcome: unknown = undefined as unknown;
  const waiting = pool.waitReady(500).then(() => (outcome = 'resolved'), (error: unknown) => (outcome = error));
  await until(() => gateway.dialErrors.length === 1, 'the first dial failure');
  clock.advance(499);
  await until(() => gateway.dialErrors.length >= 2, 'the second dial failure');
  assert.equal(outcome, undefined, 'still waiting before the timeout');
  clock.advance(1);
  await waiting;
  const error = outcome as unknown;
  assert.ok(error instanceof AccelError, String(error));
  assert.equal(error.code, 'HYPHA_ACCEL_ERR_NO_LINK');
  assert.match(error.message, /within 500 ms/);
  assert.match(error.message, /ECONNREFUSED/);
  pool.stop('test over');
  assert.equal(clock.pendingTimers, 0, 'stop cleared the retry timer');
});

test('pick() prefers the ready link carrying fewer streams', async () => {
  const clock = new FakeClock();
  const gateway = fakeGateway(0);
  const pool = new LinkPool(gateway.poolOptions(clock, { size: 2 }));
  pool.start();
  await until(() => pool.readyLinks.length === 2, 'two ready links');
  const [x, y] = pool.readyLinks as [Established, Established];
  assert.notEqual(x.linkId, y.linkId);
  const first = pool.pick()!;
  const second = first === x ? y : x;
  first.session.openStream(Buffer.from('{}'));
  assert.equal(pool.pick(), second);
  second.session.openStream(Buffer.from('{}'));
  second.session.openStream(Buffer.from('{}'));
  assert.equal(pool.pick(), first);
  first.session.openStream(Buffer.from('{}'));
  first.session.openStream(Buffer.from('{}'));
  assert.equal(pool.pick(), second);
  pool.stop('test over');
  assert.equal(pool.pick(), undefined);
});

test('a link that dies is replaced after a backoff that starts again from the initial delay', async () => {
  const clock = new FakeClock();
  const gateway = fakeGateway(2);
  const downs: Array<AccelError | undefined> = [];
  const ups: number[] = [];
  const pool = new LinkPool(gateway.poolOptions(clock, { onLinkDown: (_slot, error) => downs.push(error), onLinkUp: (_link, slot) => ups.push(slot) }));
  pool.start();
  for (let failure = 1; failure <= 2; failure++) {
    await until(() => pool.states()[0] === 'backoff' && gateway.dialErrors.length === failure, `failure ${failure}`);
    clock.advance(clock.timeoutDelaysMs.at(-1)!);
  }
  await until(() => pool.states()[0] === 'ready', 'the first link');
  const firstLink = pool.pick()!;
  gateway.gateways.at(-1)!.end.dropSocket();
  await until(() => downs.length === 1, 'the link to go down');
  assert.equal(pool.states()[0], 'backoff');
  assert.equal(pool.pick(), undefined);
  assert.equal(clock.timeoutDelaysMs.at(-1), 75, 'backoff was reset by the successful link: 100/2 + 0.5 * 100/2');
  clock.advance(75);
  await until(() => pool.states()[0] === 'ready', 'the replacement link');
  assert.notEqual(pool.pick(), firstLink);
  assert.deepEqual(ups, [0, 0]);
  pool.stop('test over');
});

test('stop() ends every link with GOAWAY(SHUTDOWN) and never redials', async () => {
  const clock = new FakeClock();
  const gateway = fakeGateway(0);
  const pool = new LinkPool(gateway.poolOptions(clock, { size: 3 }));
  pool.start();
  await until(() => pool.readyLinks.length === 3, 'three ready links');
  const links = pool.readyLinks;
  const gatewaySessions = await Promise.all(gateway.gateways.map((g) => g.established));
  pool.stop('edge stopping');
  assert.deepEqual(pool.states(), ['stopped', 'stopped', 'stopped']);
  for (const link of links) assert.equal(link.session.closed, true);
  await until(() => gatewaySessions.every((g) => g.session.closed), 'the gateway side of every link to close');
  for (const g of gateway.gateways) {
    const goaways = g.edgeEnd.sent.map((b) => decodeFrame(b, 1 << 20)).filter((f) => f.type === FrameType.GOAWAY);
    assert.deepEqual(goaways.map((f) => decodeCodeReason(f.payload).code), [8]);
  }
  clock.advance(60_000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(gateway.dials, 3, 'no redial after stop');
  assert.equal(clock.pendingTimers, 0);
  assert.equal(pool.pick(), undefined);
});

test('stop() while a dial is in flight closes the transport it yields instead of using it', async () => {
  const clock = new FakeClock();
  const gateway = fakeGateway(0);
  let release!: (t: DuplexTransport) => void;
  const pair = createLinkPair();
  const pool = new LinkPool(gateway.poolOptions(clock, { dial: () => new Promise<DuplexTransport>((resolve) => (release = resolve)) }));
  pool.start();
  pool.stop('edge stopping');
  release(pair.a);
  await until(() => pair.a.closedWith !== undefined, 'the late transport to be closed');
  assert.equal(pair.a.closedWith?.code, 1001);
  assert.deepEqual(pool.states(), ['stopped']);
});
