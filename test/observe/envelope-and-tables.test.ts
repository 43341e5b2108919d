// The envelope scanner against real msgpack encodings, method normalisation (never an id in a name), and
// the payload metric table covering every stat the payload plane reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { EnvelopeSpans, classifyMethod, replySuffix, scanEnvelope } from '../../src/observe/hypha-envelope.js';
import { PAYLOAD_IGNORED_STATS, PAYLOAD_SERIES } from '../../src/observe/payload-metric-table.js';
import { PayloadMetrics } from '../../src/payload/payload-metrics.js';

/** The strings scanEnvelope found, decoded (undefined: absent). */
function readSpans(data: Buffer, wantTo = true): Record<string, string | undefined> | undefined {
  const spans = new EnvelopeSpans();
  if (!scanEnvelope(data, spans, wantTo)) return undefined;
  const text = (start: number, end: number) => (start < 0 ? undefined : data.toString('utf8', start, end));
  return { type: text(spans.typeStart, spans.typeEnd), method: text(spans.methodStart, spans.methodEnd), session: text(spans.sessionStart, spans.sessionEnd), to: text(spans.toStart, spans.toEnd) };
}

test('scanEnvelope finds type, method and session among other keys, main followed by extra', () => {
  const main = { type: 'method', from: 'ws-user-x/abc', to: '*/manager', user: { id: 'u', roles: ['a'], long: 'x'.repeat(300) }, method: 'services.echo.echo', session: 'k3j4h5' };
  const data = Buffer.concat([encode(main), encode({ args: [new Uint8Array(70000)], promise: '*' })]);
  assert.deepEqual(readSpans(data), { type: 'method', method: 'services.echo.echo', session: 'k3j4h5', to: '*/manager' });
  assert.deepEqual(readSpans(data, false), { type: 'method', method: 'services.echo.echo', session: 'k3j4h5', to: undefined });
  assert.equal(readSpans(Buffer.from(encode([1, 2]))), undefined);
  assert.equal(readSpans(Buffer.alloc(0)), undefined);
  const truncated = Buffer.from(encode(main)).subarray(0, 20);
  assert.doesNotThrow(() => readSpans(truncated));
  // A value that is no string, or longer than 512 bytes, is absent; a map of 16+ keys (map16) is read too.
  assert.deepEqual(readSpans(Buffer.from(encode({ type: 'method', method: 7, session: 's'.repeat(600) }))), { type: 'method', method: undefined, session: undefined, to: undefined });
  const wide: Record<string, unknown> = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
  assert.deepEqual(readSpans(Buffer.from(encode({ ...wide, type: 'method', method: 'a.resolve' }))), { type: 'method', method: 'a.resolve', session: undefined, to: undefined });
});

test('scanEnvelope stops once a call or reply is whole: keys after it are not walked', () => {
  // A repeated key after the whole call or reply: a scan that walked on would take the later value.
  const call = Buffer.concat([Buffer.from([0x85]), Buffer.from(encode('type')), Buffer.from(encode('method')), Buffer.from(encode('method')), Buffer.from(encode('services.a.b')),
    Buffer.from(encode('session')), Buffer.from(encode('s1')), Buffer.from(encode('to')), Buffer.from(encode('ws/c')), Buffer.from(encode('session')), Buffer.from(encode('s2'))]);
  assert.deepEqual(readSpans(call), { type: 'method', method: 'services.a.b', session: 's1', to: 'ws/c' });
  const reply = Buffer.concat([Buffer.from([0x83]), Buffer.from(encode('type')), Buffer.from(encode('method')), Buffer.from(encode('method')), Buffer.from(encode('s1.resolve')), Buffer.from(encode('method')), Buffer.from(encode('services.x.y'))]);
  assert.deepEqual(readSpans(reply, false), { type: 'method', method: 's1.resolve', session: undefined, to: undefined });
});

test('scanEnvelope on hostile bytes: never throws, every span it reports lies inside the message (property, seeded)', () => {
  let seed = 0x9e3779b9;
  const random = () => ((seed = Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5 | 0) >>> 0) / 4294967296;
  const base = Buffer.concat([encode({ type: 'method', from: 'ws-u/abc', to: 'ws-u/svc', method: 'services.echo.echo', session: 'k3j4h5', user: { id: 'u' } }), encode({ args: ['x'] })]);
  const spans = new EnvelopeSpans();
  for (let i = 0; i < 5000; i++) {
    // Half random bytes behind a map header, half a real envelope with bytes flipped and cut short.
    let data: Buffer;
    if (i % 2 === 0) {
      data = Buffer.alloc(Math.floor(random() * 64));
      for (let j = 0; j < data.length; j++) data[j] = Math.floor(random() * 256);
      if (data.length > 0) data[0] = random() < 0.5 ? 0x80 | Math.floor(random() * 16) : 0xde;
    } else {
      data = Buffer.from(base);
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) data[Math.floor(random() * data.length)] = Math.floor(random() * 256);
      data = data.subarray(0, Math.floor(random() * (data.length + 1)));
    }
    const wantTo = random() < 0.5;
    scanEnvelope(data, spans, wantTo);
    for (const [start, end] of [[spans.typeStart, spans.typeEnd], [spans.methodStart, spans.methodEnd], [spans.sessionStart, spans.sessionEnd], [spans.toStart, spans.toEnd]] as const) {
      if (start >= 0) assert.ok(start <= end && end <= data.length, `span [${start}, ${end}) outside ${data.length} bytes: ${data.toString('hex')}`);
    }
    assert.ok(spans.methodReply >= -1 && spans.methodReply <= 2);
    if (!wantTo) assert.equal(spans.toStart, -1);
  }
});

test('replySuffix agrees with classifyMethod on bytes', () => {
  for (const method of ['abc.resolve', 'p.q.reject', 'x.heartbeat', 'services.a.resolve', 'f83kd9.cb_0', '.resolve', 'resolve', 'services.', '']) {
    const bytes = Buffer.from(method);
    const role = classifyMethod(method);
    const expected = role.kind === 'reply' ? (role.outcome === 'resolve' ? 0 : 1) : role.kind === 'heartbeat' ? 2 : -1;
    assert.equal(replySuffix(bytes, 0, bytes.length), expected, method);
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
