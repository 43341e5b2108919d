// The start-up warm-up: its synthetic messages are hypha calls and replies as the observers and the codec
// see them (main map with type/from/to/method and session or parent, then the extra map), and a warm-up
// runs them through the codec, framing and deflate stream end to end without a desync.
import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeMulti } from '@msgpack/msgpack';
import { hyphaMessages, warmUp } from '../../src/roles/warm-up.js';
import { EnvelopeSpans, scanEnvelope } from '../../src/observe/hypha-envelope.js';
import { loadConfig } from '../../src/config/load.js';

test('warm-up messages are hypha calls and replies: a main and an extra object, envelope found', () => {
  const messages = hyphaMessages(40);
  assert.equal(messages.length, 80);
  const spans = new EnvelopeSpans();
  const text = (m: Uint8Array, start: number, end: number) => Buffer.from(m.subarray(start, end)).toString('latin1');
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const [main, extra, ...rest] = [...decodeMulti(m)] as Record<string, unknown>[];
    assert.equal(rest.length, 0);
    assert.ok(Array.isArray(extra!.args));
    assert.equal(main!.type, 'method');
    assert.ok(scanEnvelope(m, spans, true));
    assert.equal(text(m, spans.methodStart, spans.methodEnd), main!.method);
    assert.equal(text(m, spans.toStart, spans.toEnd), main!.to);
    if (i % 2 === 0) {
      assert.match(String(main!.method), /^services\./);
      assert.equal(text(m, spans.sessionStart, spans.sessionEnd), main!.session);
    } else {
      assert.equal(main!.method, `${String(main!.parent)}.resolve`);
      assert.equal(main!.parent, (decodeMulti(messages[i - 1]!).next().value as Record<string, unknown>).session);
    }
  }
  assert.equal(new Set(messages.filter((_, i) => i % 2 === 0).map((m) => (decodeMulti(m).next().value as { session: string }).session)).size, 40, 'sessions differ');
});

test('a warm-up runs with and without the deflate stream and reports what it cost', () => {
  for (const compression of [true, false]) {
    const result = warmUp({ calls: 50, compression, maxFrameBytes: 1 << 20 });
    assert.equal(result.messages, 100);
    assert.ok(result.cpuMs >= 0 && result.wallMs >= 0);
  }
});

test('warmUp is on by default and can be turned off', () => {
  const base = { listen: '127.0.0.1:0', gatewayUrl: 'tcp://127.0.0.1:1', secretFile: 'unused' };
  assert.equal(loadConfig('edge', { flags: base, env: {} }).warmUp, true);
  assert.equal(loadConfig('edge', { flags: base, env: { HYPHA_ACCEL_WARM_UP: 'false' } }).warmUp, false);
});
