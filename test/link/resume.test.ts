// Sessions that outlive their link, over in-memory link pairs with the real codec on every link: a link that
// drops mid-traffic (frames lost on the wire), a link one side still thinks alive (take-over), the grace
// period and the retransmit bounds. Each endpoint must see every message exactly once and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { AccelError } from '../../src/errors.js';
import { createLinkCodec } from '../../src/codec/index.js';
import { DELIVERED_DELAY_MS, DELIVERED_RIDE_ALONG_MS, ResumableSession } from '../../src/link/resumable-session.js';
import { ResumeBudget, RetransmitLog } from '../../src/link/retransmit-log.js';
import { decodeOpenReply, decodeSessionOpen, encodeSessionOpen } from '../../src/link/session-open.js';
import { GatewaySessions } from '../../src/gateway/gateway-resume.js';
import { FrameType } from '../../src/link/frame.js';
import type { LinkSession } from '../../src/link/link-session.js';
import type { Stream } from '../../src/link/stream.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingHandler, createSessionPair, until } from '../helpers/link-pair.js';
import type { Logger } from '../../src/log.js';

const quietLog = { info() {}, warn() {}, debug() {}, error() {} } as unknown as Logger;
const EDGE_ID = 'edge-1';

/** A hypha-like RPC message: the codec interns its strings per link, so a replay must be re-encoded. */
const rpc = (from: string, n: number) => Buffer.from(encode({ type: 'method', from: `ws-user/${from}`, to: 'ws-user/svc', method: 'svc.echo', args: [n, 'x'.repeat(n % 50)] }));

interface World {
  clock: FakeClock;
  budget: ResumeBudget;
  registry: GatewaySessions;
  edgeSession: ResumableSession;
  gatewaySession: ResumableSession | undefined;
  client: RecordingHandler;
  upstream: RecordingHandler;
  detachedEdge: number;
  /** Brings up a new link pair whose gateway side serves resume OPENs through the registry. */
  newLink(): { edge: LinkSession; gateway: LinkSession; pair: ReturnType<typeof createSessionPair>['pair'] };
  /** Does what edge-resume.ts does over `edge`: resume OPEN, then attach on OPEN_OK. */
  resumeOver(edge: LinkSession): Promise<void>;
}

function world(options: { graceMs?: number; maxBufferBytes?: number; budgetBytes?: number } = {}): World {
  const clock = new FakeClock();
  const budget = new ResumeBudget(options.budgetBytes ?? 1 << 30);
  const registry = new GatewaySessions(quietLog);
  const client = new RecordingHandler();
  const upstream = new RecordingHandler();
  const sessionOptions = (sessionId: string) => ({ sessionId, graceMs: options.graceMs ?? 30000, maxBufferBytes: options.maxBufferBytes ?? 1 << 24, budget, clock });
  const replies = new Map<Stream, (ok: boolean, payload: Uint8Array) => void>();
  const w = {} as World;
  w.newLink = () => {
    const codec = () => createLinkCodec({ maxMessageBytes: 1 << 20 });
    const { pair, edge, gateway } = createSessionPair(
      { clock, codec: codec(), onStreamOpenReply: (stream, ok, payload) => replies.get(stream)?.(ok, payload) },
      {
        clock, codec: codec(),
        onStreamOpen: (stream, payload) => {
          const open = decodeSessionOpen(payload);
          if (open.resume) return registry.resume(stream, gateway, EDGE_ID, open.sessionId, open.resume.deliveredCount);
          const session: ResumableSession = new ResumableSession(stream, gateway, { ...sessionOptions(open.sessionId), onEnded: () => registry.remove(session) });
          registry.add(session, EDGE_ID);
          session.bind(upstream);
          w.gatewaySession = session;
        },
      },
    );
    return { pair, edge, gateway };
  };
  w.resumeOver = (edge) => new Promise((resolve, reject) => {
    const stream = edge.openStream(encodeSessionOpen({ sessionId: 's1', path: '/ws', headers: {}, protocols: [], clientAddress: '', resume: { deliveredCount: w.edgeSession.deliveredCount } }));
    replies.set(stream, (ok, payload) => {
      if (!ok) return reject(new Error('resume refused'));
      assert.ok(w.edgeSession.attach(stream, edge, decodeOpenReply(payload).deliveredCount!));
      resolve();
    });
  });
  const first = w.newLink();
  const stream = first.edge.openStream(encodeSessionOpen({ sessionId: 's1', path: '/ws', headers: {}, protocols: [], clientAddress: '' }));
  w.detachedEdge = 0;
  w.edgeSession = new ResumableSession(stream, first.edge, { ...sessionOptions('s1'), onDetached: () => w.detachedEdge++ });
  w.edgeSession.bind(client);
  Object.assign(w, { clock, budget, registry, client, upstream, first });
  return w;
}

const bodies = (handler: RecordingHandler) => handler.messages.map((m) => m.data);

test('a link dropped mid-traffic: the session moves to a new link, every message arrives exactly once and in order (codec re-encodes the replay)', async () => {
  const w = world();
  const first = (w as unknown as { first: ReturnType<World['newLink']> }).first;
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  for (let n = 0; n < 40; n++) {
    up.push(rpc('client', n));
    w.edgeSession.sendMessage(up[n]!, false);
  }
  await until(() => w.gatewaySession !== undefined && w.upstream.messages.length >= 10, 'first messages upstream');
  for (let n = 0; n < 40; n++) {
    down.push(rpc('svc', n));
    w.gatewaySession!.sendMessage(down[n]!, false);
  }
  await until(() => w.client.messages.length >= 5, 'first replies at the client');
  w.clock.advance(DELIVERED_DELAY_MS + 1); // DELIVERED reports go out: part of each log is confirmed
  first.pair.a.dropSocket(); // frames still on the wire are lost
  await until(() => w.edgeSession.detached && w.gatewaySession!.detached, 'both sides detached');
  assert.equal(w.detachedEdge, 1);
  assert.ok(w.client.messages.length < 40 || w.upstream.messages.length < 40, 'the drop lost something in flight');
  // While detached, both endpoints keep talking into the log.
  for (let n = 40; n < 50; n++) {
    up.push(rpc('client', n));
    w.edgeSession.sendMessage(up[n]!, false);
    down.push(rpc('svc', n));
    w.gatewaySession!.sendMessage(down[n]!, false);
  }
  const second = w.newLink();
  await w.resumeOver(second.edge);
  for (let n = 50; n < 60; n++) {
    up.push(rpc('client', n));
    w.edgeSession.sendMessage(up[n]!, false);
    down.push(rpc('svc', n));
    w.gatewaySession!.sendMessage(down[n]!, false);
  }
  await until(() => w.client.messages.length >= 60 && w.upstream.messages.length >= 60, 'all 60 messages each way');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(bodies(w.upstream), up);
  assert.deepEqual(bodies(w.client), down);
  assert.deepEqual([...w.client.aborts, ...w.upstream.aborts], []);
  // Endpoints were paused while detached and resumed after.
  assert.equal(w.client.pauses, w.client.resumes);
  w.clock.advance(DELIVERED_DELAY_MS + 1);
  await until(() => w.edgeSession.unconfirmed.messages === 0 && w.gatewaySession!.unconfirmed.messages === 0, 'logs emptied by DELIVERED');
  assert.equal(w.budget.usedBytes, 0);
});

test('take-over: a resume arrives while the gateway still thinks the old link alive; its late frames go nowhere', async () => {
  const w = world();
  const first = (w as unknown as { first: ReturnType<World['newLink']> }).first;
  const up: Buffer[] = [];
  for (let n = 0; n < 20; n++) {
    up.push(rpc('client', n));
    w.edgeSession.sendMessage(up[n]!, false);
  }
  await until(() => w.upstream.messages.length === 20, 'first messages upstream');
  // The path goes black both ways; only the edge notices (its keep-alive, say).
  first.pair.a.outbound = () => null;
  first.pair.b.outbound = () => null;
  const blackHoledFrom = first.pair.a.sent.length;
  for (let n = 20; n < 30; n++) {
    up.push(rpc('client', n));
    w.edgeSession.sendMessage(up[n]!, false);
    w.gatewaySession!.sendMessage(rpc('svc', n), false); // lost on the black hole, replayed later
  }
  first.edge.handleTransportClosed(new AccelError('HYPHA_ACCEL_ERR_KEEPALIVE_TIMEOUT', 'silence'));
  assert.ok(w.edgeSession.detached);
  assert.ok(!w.gatewaySession!.detached);
  const second = w.newLink();
  await w.resumeOver(second.edge);
  await until(() => w.upstream.messages.length >= 30 && w.client.messages.length >= 10, 'replays on the new link');
  // A frame that was stuck on the old link now arrives there after all: it must not reach hypha a second time.
  const stuck = first.pair.a.sent.slice(blackHoledFrom).find((frame) => frame[0] === FrameType.DATA)!;
  first.pair.b.inject(stuck);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(bodies(w.upstream), up);
  assert.equal(w.client.messages.length, 10);
  assert.deepEqual([...w.client.aborts, ...w.upstream.aborts], []);
});

test('grace period: no link takes the session back in time: the endpoint is closed with RESUME_EXPIRED (1001)', async () => {
  const w = world({ graceMs: 1000 });
  const first = (w as unknown as { first: ReturnType<World['newLink']> }).first;
  w.edgeSession.sendMessage(rpc('client', 1), false);
  await until(() => w.upstream.messages.length === 1, 'message upstream');
  first.pair.a.dropSocket();
  await until(() => w.edgeSession.detached && w.gatewaySession!.detached, 'both detached');
  w.clock.advance(999);
  assert.deepEqual(w.client.aborts, []);
  w.clock.advance(1);
  assert.deepEqual(w.client.aborts.map((e) => [e.code, e.spec.wsClose]), [['HYPHA_ACCEL_ERR_RESUME_EXPIRED', 1001]]);
  assert.deepEqual(w.upstream.aborts.map((e) => e.code), ['HYPHA_ACCEL_ERR_RESUME_EXPIRED']);
  assert.equal(w.registry.size, 0);
  // A late resume is refused: the edge would close its client with 1011.
  const second = w.newLink();
  await assert.rejects(w.resumeOver(second.edge), /resume refused/);
});

test('retransmit bound: unconfirmed bytes beyond resumeBufferBytes close the session with 1011 on both sides, the budget is given back', async () => {
  const w = world({ maxBufferBytes: 64 * 1024 });
  const first = (w as unknown as { first: ReturnType<World['newLink']> }).first;
  first.pair.b.outbound = () => null; // DELIVERED never comes back
  const big = Buffer.alloc(20 * 1024, 7);
  for (let n = 0; n < 3; n++) w.edgeSession.sendMessage(big, false);
  assert.deepEqual(w.client.aborts, []);
  assert.equal(w.budget.usedBytes, 60 * 1024);
  w.edgeSession.sendMessage(big, false);
  assert.deepEqual(w.client.aborts.map((e) => [e.code, e.spec.wsClose]), [['HYPHA_ACCEL_ERR_RESUME_BUFFER_FULL', 1011]]);
  assert.equal(w.budget.usedBytes, 0);
  await until(() => w.upstream.remoteCloses.length === 1, 'the upstream side is closed too');
  assert.equal(w.upstream.remoteCloses[0]!.code, 1011);
});

test('process bound: logs of all sessions share one ResumeBudget; confirmed messages give their bytes back', () => {
  const budget = new ResumeBudget(100);
  const a = new RetransmitLog(1000, budget);
  const b = new RetransmitLog(1000, budget);
  assert.ok(a.push({ data: Buffer.alloc(60), isText: false }));
  assert.ok(!b.push({ data: Buffer.alloc(50), isText: false }), 'over the process bound');
  assert.ok(b.push({ data: Buffer.alloc(40), isText: false }));
  assert.ok(a.confirm(1));
  assert.equal(budget.usedBytes, 40);
  assert.ok(!a.confirm(2), 'a count beyond what was sent is refused');
  assert.ok(b.push({ data: Buffer.alloc(50), isText: false }));
  b.release();
  assert.equal(budget.usedBytes, 0);
});

test('ingress pieces: a message sent piece by piece survives a link drop in its middle, exactly once and in order', async () => {
  const w = world();
  const first = (w as unknown as { first: ReturnType<World['newLink']> }).first;
  const big = (seed: number) => Buffer.alloc(100_000).map((_, i) => (i * seed + (i >> 9)) & 0xff);
  const sendPieces = (message: Buffer, from: number, to: number, fin: boolean) => {
    for (let at = from; at < to; at += 10_000) {
      const end = Math.min(at + 10_000, to);
      w.edgeSession.sendPiece(message.subarray(at, end), fin && end === to);
    }
  };
  const expected: Buffer[] = [rpc('client', 1), big(3), big(5), rpc('client', 2)];
  w.edgeSession.sendMessage(expected[0]!, false);
  assert.equal(w.edgeSession.takesPieces(100_000, true), true);
  sendPieces(expected[1]!, 0, 100_000, true);
  sendPieces(expected[2]!, 0, 40_000, false);
  await until(() => w.gatewaySession !== undefined && w.upstream.messages.length >= 2, 'the first two messages upstream');
  w.clock.advance(DELIVERED_DELAY_MS + 1);
  first.pair.a.dropSocket();
  await until(() => w.edgeSession.detached && w.gatewaySession!.detached, 'both sides detached');
  assert.equal(w.edgeSession.takesPieces(100_000, true), false, 'no link: whole messages');
  sendPieces(expected[2]!, 40_000, 70_000, false); // logged while detached
  const second = w.newLink();
  await w.resumeOver(second.edge);
  sendPieces(expected[2]!, 70_000, 100_000, true);
  w.edgeSession.sendMessage(expected[3]!, false);
  await until(() => w.upstream.messages.length >= 4, 'all four messages upstream');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(bodies(w.upstream), expected);
  w.clock.advance(DELIVERED_DELAY_MS + 1);
  await until(() => w.edgeSession.unconfirmed.messages === 0, 'the log emptied by DELIVERED');
  assert.equal(w.budget.usedBytes, 0);
});

test('DELIVERED: small messages are reported after the delay, not each one; a MiB of unreported bytes is reported at once', async () => {
  const w = world();
  for (let n = 0; n < 5; n++) w.edgeSession.sendMessage(rpc('client', n), false);
  await until(() => w.upstream.messages.length >= 5, 'five small messages upstream');
  await new Promise((r) => setImmediate(r));
  assert.equal(w.edgeSession.unconfirmed.messages, 5, 'no report before the delay');
  w.clock.advance(DELIVERED_DELAY_MS - 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(w.edgeSession.unconfirmed.messages, 5, 'still none just before the delay');
  w.clock.advance(2);
  await until(() => w.edgeSession.unconfirmed.messages === 0, 'one report after the delay');
  // Bulk must not wait for the timer: the sender's log would hold a second of traffic.
  w.edgeSession.sendMessage(Buffer.alloc(600 * 1024, 1), false);
  w.edgeSession.sendMessage(Buffer.alloc(600 * 1024, 2), false);
  await until(() => w.upstream.messages.length >= 7, 'two large messages upstream');
  await until(() => w.edgeSession.unconfirmed.messages === 0, 'reported without the clock moving');
});

test('DELIVERED rides along: a report that waited DELIVERED_RIDE_ALONG_MS goes out with the next message the other way, before its timer', async () => {
  const w = world();
  for (let n = 0; n < 3; n++) w.edgeSession.sendMessage(rpc('client', n), false);
  await until(() => w.gatewaySession !== undefined && w.upstream.messages.length >= 3, 'three messages upstream');
  w.clock.advance(DELIVERED_RIDE_ALONG_MS - 1);
  w.gatewaySession!.sendMessage(rpc('server', 0), false); // too early: the report keeps waiting
  await until(() => w.client.messages.length >= 1, "the first reply at the edge");
  await new Promise((r) => setImmediate(r));
  assert.equal(w.edgeSession.unconfirmed.messages, 3, 'not reported with an early reply');
  w.clock.advance(1);
  w.gatewaySession!.sendMessage(rpc('server', 1), false);
  await until(() => w.edgeSession.unconfirmed.messages === 0, 'reported with the reply, the clock short of DELIVERED_DELAY_MS');
  assert.ok(DELIVERED_RIDE_ALONG_MS < DELIVERED_DELAY_MS);
});
