// The RPC call pairing and its metrics: calls matched with their replies per proxy session and direction,
// the pending bound, and the duration histogram kept as plain numbers rendered exactly as prom-client's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { KeyedHistogram } from '../../src/observe/rpc-series.js';
import { RpcCallTracker, type RpcCall, type RpcCallEnd } from '../../src/observe/rpc-calls.js';
import { publishMessage, publishSession, type Direction } from '../../src/events.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

test('KeyedHistogram renders the same exposition text as a prom-client Histogram fed the same values', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  for (const registry of [ours, theirs]) registry.setDefaultLabels({ role: 'edge' });
  const keyed = new KeyedHistogram('x_seconds', 'help text', ['method', 'outcome'], BUCKETS, ours);
  const reference = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['method', 'outcome'], buckets: BUCKETS, registers: [theirs] });
  const values: Array<[string, string, number]> = [['a.f', 'resolve', 0.0005], ['a.f', 'resolve', 0.001], ['a.f', 'reject', 0.05], ['b.g', 'resolve', 2], ['a.f', 'resolve', 0.3], ['b.g', 'unanswered', 0]];
  for (const [method, outcome, value] of values) {
    keyed.observe(method, outcome, value);
    reference.observe({ method, outcome }, value);
  }
  const lines = (text: string) => text.split('\n').sort();
  assert.deepEqual(lines(await ours.metrics()), lines(await theirs.metrics()));
  // The JSON form (what workers send to the primary) carries the same label sets and values...
  const flat = async (registry: Registry) => (await registry.getMetricsAsJSON()).flatMap((m) => m.values.map((v) => JSON.stringify([v.metricName, Object.entries(v.labels).sort(), v.value]))).sort();
  assert.deepEqual(await flat(ours), await flat(theirs));
  // ...so summing two workers' registries (--workers) gives the same text as for prom-client's own.
  const summed = async (registry: Registry) => lines(await AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), await registry.getMetricsAsJSON()]).metrics());
  assert.deepEqual(await summed(ours), await summed(theirs));
  keyed.reset();
  assert.equal((await ours.metrics()).includes('x_seconds_count'), false);
});

function call(method: string, session: string): Buffer {
  return Buffer.concat([encode({ type: 'method', from: 'ws-1/a', to: 'ws-1/b', method, session }), encode({ args: [1] })]);
}

function reply(session: string, outcome = 'resolve'): Buffer {
  return Buffer.from(encode({ type: 'method', from: 'ws-1/b', to: 'ws-1/a', method: `${session}.${outcome}`, args: [1] }));
}

function tracked(options: { maxPendingPerSession?: number } = {}) {
  let nowMs = 0;
  const tracker = new RpcCallTracker({ role: 'edge', now: () => nowMs, ...options });
  const started: RpcCall[] = [];
  const ended: Array<[RpcCall, RpcCallEnd]> = [];
  const stop = tracker.addListener({ onCallStart: (c) => started.push(c), onCallEnd: (c, e) => ended.push([c, e]) });
  const send = (sessionId: string, direction: Direction, hop: 'in' | 'out', data: Buffer) => publishMessage({ role: 'edge', sessionId, direction, hop, isBinary: true, data });
  return { tracker, started, ended, stop, send, tick: (ms: number) => (nowMs += ms) };
}

test('a call is paired with the reply that travels against it, in the same proxy session, at the other hop', () => {
  const t = tracked();
  try {
    t.send('s1', 'up', 'in', call('services.ws-1/b:echo.echo', 'p1'));
    t.send('s1', 'down', 'in', call('services.ws-1/b:echo.echo', 'p2')); // the other direction
    assert.equal(t.tracker.pendingIn('s1'), 2);
    t.send('s1', 'up', 'in', reply('p1')); // same direction as the call: not its reply
    t.send('s2', 'down', 'out', reply('p1')); // another proxy session
    t.send('s1', 'down', 'in', reply('p1')); // the call's own hop
    assert.equal(t.ended.length, 0);
    t.tick(5);
    t.send('s1', 'down', 'out', reply('p1', 'reject'));
    assert.equal(t.ended.length, 1);
    assert.equal(t.ended[0]![0].callSession, 'p1');
    assert.deepEqual(t.ended[0]![1], { outcome: 'reject', durationMs: 5, responseBytes: reply('p1', 'reject').length });
    assert.equal(t.started[0]!.method, 'echo.echo');
    assert.equal(t.started[0]!.target, 'ws-1/b');
    t.send('s1', 'up', 'out', reply('p2'));
    assert.equal(t.ended.length, 2);
    assert.equal(t.tracker.pendingCount, 0);
  } finally {
    t.stop();
  }
});

test('beyond the pending bound the oldest call of either direction ends unanswered; a closed session ends the rest', () => {
  const t = tracked({ maxPendingPerSession: 2 });
  try {
    t.send('s1', 'down', 'in', call('services.x.f', 'old'));
    t.tick(1);
    t.send('s1', 'up', 'in', call('services.x.f', 'mid'));
    t.tick(1);
    t.send('s1', 'up', 'in', call('services.x.f', 'new'));
    assert.deepEqual(t.ended.map(([c, e]) => [c.callSession, e.outcome]), [['old', 'unanswered']]);
    publishSession({ role: 'edge', sessionId: 's1', event: 'close', viaLink: true });
    assert.deepEqual(t.ended.map(([c]) => c.callSession).sort(), ['mid', 'new', 'old']);
    assert.equal(t.tracker.pendingCount, 0);
  } finally {
    t.stop();
  }
});

test('call names come from the path bytes the same on every call; `to` is decoded only while a listener needs it', () => {
  const tracker = new RpcCallTracker({ role: 'edge', maxMethods: 2 });
  const started: RpcCall[] = [];
  const stopMetricsLike = tracker.addListener({ needsTarget: false, onCallStart: (c) => started.push(c), onCallEnd: () => {} });
  const send = (data: Buffer) => publishMessage({ role: 'edge', sessionId: 's1', direction: 'up', hop: 'in', isBinary: true, data });
  try {
    const paths = ['services.ws-1/b:echo.echo', 'services.ws-1/c:echo@app.echo', 'f83kd9.cb_0', 'services.x.other', 'services.ws-1/b:echo.echo', 'services.x.other'];
    paths.forEach((path, i) => send(call(path, `p${i}`)));
    // Two distinct names at most (maxMethods 2), remembered by bytes as the first call named them.
    assert.deepEqual(started.map((c) => c.method), ['echo.echo', 'echo.echo', 'callback', 'other', 'echo.echo', 'other']);
    assert.deepEqual(started.map((c) => c.callSession), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    assert.equal(started[0]!.target, undefined);
    const stopTracing = tracker.addListener({ onCallStart: () => {}, onCallEnd: () => {} }); // needs the target
    send(call('services.ws-1/b:echo.echo', 'p6'));
    assert.equal(started.at(-1)!.target, 'ws-1/b');
    stopTracing();
    send(call('services.ws-1/b:echo.echo', 'p7'));
    assert.equal(started.at(-1)!.target, undefined);
    send(reply('p7'));
    assert.equal(tracker.pendingIn('s1'), 8); // a reply travelling the calls' own direction ends none
  } finally {
    stopMetricsLike();
  }
});
