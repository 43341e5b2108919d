// The envelope scanner against real msgpack encodings (and random envelopes), method normalisation (never an id in a name), and
// the payload metric table covering every stat the payload plane reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { EnvelopeSpans, MethodKind, classifyMethod, replySessionEnd, scanEnvelope } from '../../src/observe/hypha-envelope.js';
import { PAYLOAD_IGNORED_STATS, PAYLOAD_SERIES } from '../../src/observe/payload-metric-table.js';
import { PayloadMetrics } from '../../src/payload/payload-metrics.js';

/** The envelope strings scanEnvelope found, decoded, and the method's kind. */
function scanned(data: Buffer) {
  const spans = new EnvelopeSpans();
  if (!scanEnvelope(data, spans)) return undefined;
  const text = (start: number, end: number) => (start < 0 ? undefined : data.toString('utf8', start, end));
  return { method: text(spans.methodStart, spans.methodEnd), session: text(spans.sessionStart, spans.sessionEnd), to: text(spans.toStart, spans.toEnd), kind: spans.methodKind };
}

test('scanEnvelope finds method, session and target among other keys, main followed by extra', () => {
  const main = { type: 'method', from: 'ws-user-x/abc', to: '*/manager', user: { id: 'u', roles: ['a'], long: 'x'.repeat(300) }, method: 'services.echo.echo', session: 'k3j4h5' };
  const data = Buffer.concat([encode(main), encode({ args: [new Uint8Array(70000)], promise: '*' })]);
  assert.deepEqual(scanned(data), { method: 'services.echo.echo', session: 'k3j4h5', to: '*/manager', kind: MethodKind.CALL });
  assert.equal(scanned(Buffer.from(encode({ ...main, type: 'other' }))), undefined);
  assert.equal(scanned(Buffer.from(encode([1, 2]))), undefined);
  assert.equal(scanned(Buffer.alloc(0)), undefined);
  const truncated = Buffer.from(encode(main)).subarray(0, 20);
  assert.doesNotThrow(() => scanned(truncated));
});

test('scanEnvelope stops at a reply\'s method and reads its kind from the bytes, as classifyMethod does', () => {
  const reply = Buffer.from(encode({ type: 'method', from: 'a/b', to: 'c/d', method: 'k3j4h5.resolve', parent: 'p', user: { id: 'u' } }));
  const spans = new EnvelopeSpans();
  assert.equal(scanEnvelope(reply, spans), true);
  assert.equal(spans.methodKind, MethodKind.RESOLVE);
  assert.equal(reply.toString('utf8', spans.methodStart, replySessionEnd(spans)), 'k3j4h5');
  assert.deepEqual(scanned(Buffer.from(encode({ type: 'method', method: 'p.q.reject' }))), { method: 'p.q.reject', session: undefined, to: undefined, kind: MethodKind.REJECT });
  assert.equal(scanned(Buffer.from(encode({ type: 'method', method: 'x.heartbeat' })))!.kind, MethodKind.HEARTBEAT);
  assert.equal(scanned(Buffer.from(encode({ type: 'method', method: 'services.a.resolve' })))!.kind, MethodKind.CALL);
});

/** A small deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('property: on random envelopes scanEnvelope agrees with a full msgpack decode and classifyMethod; garbage never throws', () => {
  const KIND_OF = { call: MethodKind.CALL, reply: -1, heartbeat: MethodKind.HEARTBEAT } as const;
  for (let seed = 1; seed <= 400; seed++) {
    const random = prng(seed);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const word = () => pick(['a', 'ws-user-1/client-9', 'k3j4h5', 'ünï', 'x'.repeat(40), '', 'p.q', 'svc@app']);
    const method = pick(['services.', '', 'ws-1/c:']) + word() + pick(['', '.fn', '.resolve', '.reject', '.heartbeat', '.cb_0']);
    const entries: Array<[string, unknown]> = [['type', pick(['method', 'method', 'other', 7])], ['method', pick([method, method, method, 5])]];
    if (random() < 0.8) entries.push(['session', pick([word(), 9])]);
    if (random() < 0.8) entries.push(['to', word()]);
    for (const key of ['from', 'parent', 'ws', 'user']) if (random() < 0.5) entries.push([key, pick([word(), { id: word(), n: 1 }, [1, 2], null, new Uint8Array(3)])]);
    entries.sort(() => random() - 0.5);
    const main = Object.fromEntries(entries);
    const data = Buffer.concat([encode(main), encode({ args: [1] })]);
    const result = scanned(data);
    const isMethod = main.type === 'method' && typeof main.method === 'string';
    assert.equal(result !== undefined, isMethod, `seed ${seed}`);
    if (!result) continue;
    assert.equal(result.method, main.method, `seed ${seed}`);
    const role = classifyMethod(main.method as string);
    const expectedKind = role.kind === 'reply' ? (role.outcome === 'resolve' ? MethodKind.RESOLVE : MethodKind.REJECT) : KIND_OF[role.kind];
    assert.equal(result.kind, expectedKind, `seed ${seed}`);
    if (role.kind === 'reply') {
      const spans = new EnvelopeSpans();
      scanEnvelope(data, spans);
      assert.equal(data.toString('utf8', spans.methodStart, replySessionEnd(spans)), role.session, `seed ${seed}`);
    } else if (role.kind === 'call') {
      // A call's session and target are found whichever order the keys come in.
      assert.equal(result.session, typeof main.session === 'string' ? main.session : undefined, `seed ${seed}`);
      assert.equal(result.to, main.to, `seed ${seed}`);
    }
    // Cut anywhere or with bytes flipped, scanning ends without throwing.
    const cut = data.subarray(0, Math.floor(random() * data.length));
    assert.doesNotThrow(() => scanned(cut));
    const flipped = Buffer.from(data);
    for (let i = 0; i < 4; i++) flipped[Math.floor(random() * flipped.length)] = Math.floor(random() * 256);
    assert.doesNotThrow(() => scanned(flipped));
  }
});

test('classifyMethod names calls by service function and never by ids', () => {
  assert.deepEqual(classifyMethod('services.echo.echo'), { kind: 'call', name: 'echo.echo' });
  assert.deepEqual(classifyMethod('services.built-in.get_service'), { kind: 'call', name: 'built-in.get_service' });
  assert.deepEqual(classifyMethod('services.ws-user-1/client-9:svc@app.ns.fn'), { kind: 'call', name: 'svc.ns.fn' });
  assert.deepEqual(classifyMethod('abc123.resolve'), { kind: 'reply', session: 'abc123', outcome: 'resolve' });
  assert.deepEqual(classifyMethod('p.q.reject'), { kind: 'reply', session: 'p.q', outcome: 'reject' });
  assert.deepEqual(classifyMethod('abc123.heartbeat'), { kind: 'heartbeat' });
  assert.deepEqual(classifyMethod('f83kd9.cb_0'), { kind: 'call', name: 'callback' });
});

test('every payload-plane stat has a Prometheus series', () => {
  const stats = Object.keys(new PayloadMetrics().snapshot());
  for (const key of [...stats, 'pairs', 'shmLinks', 'shmOutstandingBytes', 'shmOutstandingSegments']) {
    assert.ok(PAYLOAD_SERIES[key] || PAYLOAD_IGNORED_STATS.has(key), `payload stat ${key} has no series`);
  }
  for (const series of Object.values(PAYLOAD_SERIES)) assert.equal(series.type === 'counter', series.name.endsWith('_total'), series.name);
});
