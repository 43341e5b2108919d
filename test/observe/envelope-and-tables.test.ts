// The envelope reader against real msgpack encodings, method normalisation (never an id in a name), and
// the payload metric table covering every stat the payload plane reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { classifyMethod, readEnvelope } from '../../src/observe/hypha-envelope.js';
import { PAYLOAD_IGNORED_STATS, PAYLOAD_SERIES } from '../../src/observe/payload-metric-table.js';
import { PayloadMetrics } from '../../src/payload/payload-metrics.js';

test('readEnvelope finds type, method and session among other keys, main followed by extra', () => {
  const main = { type: 'method', from: 'ws-user-x/abc', to: '*/manager', user: { id: 'u', roles: ['a'], long: 'x'.repeat(300) }, method: 'services.echo.echo', session: 'k3j4h5' };
  const data = Buffer.concat([encode(main), encode({ args: [new Uint8Array(70000)], promise: '*' })]);
  assert.deepEqual(readEnvelope(data), { type: 'method', method: 'services.echo.echo', session: 'k3j4h5', to: '*/manager' });
  assert.equal(readEnvelope(Buffer.from(encode([1, 2]))), undefined);
  assert.equal(readEnvelope(Buffer.alloc(0)), undefined);
  const truncated = Buffer.from(encode(main)).subarray(0, 20);
  assert.doesNotThrow(() => readEnvelope(truncated));
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
