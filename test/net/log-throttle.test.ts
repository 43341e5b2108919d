// Refusal log lines are rate-limited per message, and the next line that passes counts what was dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { throttledLog } from '../../src/net/log-throttle.js';

test('at most linesPerSec lines per message and second; the next window reports the suppressed count', () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _e, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
  let now = 0;
  const refusal = throttledLog(log, 3, () => now);
  for (let i = 0; i < 100; i++) refusal('warn', { i }, 'client refused');
  refusal('warn', {}, 'another message');
  assert.equal(lines.length, 4);
  now = 1000;
  refusal('warn', { i: 100 }, 'client refused');
  assert.equal(lines.length, 5);
  assert.equal(lines[4]!.suppressed, 97);
});
