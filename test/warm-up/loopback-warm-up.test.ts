import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmUpThroughLoopback } from '../../src/warm-up/loopback-warm-up.js';
import { hyphaMessages } from '../../src/warm-up/hypha-shapes.js';
import { scanEnvelope, EnvelopeSpans } from '../../src/observe/hypha-envelope.js';
import { createLogger } from '../../src/log.js';

const log = createLogger('silent');

/** Open sockets and servers of this process (what a warm-up must not leave behind). */
function openNetHandles(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap' || kind === 'TCPServerWrap').length;
}

/** Sockets and servers closed by the warm-up finish closing within a few event-loop turns; waits up to 2 s for at most `count`. */
async function settlesTo(count: number): Promise<number> {
  for (let waited = 0; waited < 2000 && openNetHandles() > count; waited += 10) await new Promise((r) => setTimeout(r, 10));
  return openNetHandles();
}

test('the warm-up answers every call, compresses in its slow-link pass, and leaves no socket open', async () => {
  const before = openNetHandles();
  const result = await warmUpThroughLoopback(301, 20_000, log);
  assert.equal(result.calls, 301);
  assert.equal(result.compressedByPass.length, 2);
  // Each call is 2 messages, and each message leaves one of the two proxies onto the link: 300 link messages in the
  // second pass (151 calls). (What the first pass compresses is the link's own choice: on a loaded host a loopback
  // link can measure itself slow.)
  const slow = result.compressedByPass[1]!;
  assert.ok(slow >= 300, `the pass set up as a 20 Mbit/s link compresses every message (${slow})`);
  assert.ok(result.cpuMs > 0 && result.wallMs > 0);
  assert.ok(await settlesTo(before) <= before, 'no socket or server of the warm-up left open');
});

test('a warm-up past its deadline rejects and leaves no socket open', async () => {
  const before = openNetHandles();
  await assert.rejects(warmUpThroughLoopback(100_000, 50, log), /did not finish in time/);
  assert.ok(await settlesTo(before) <= before, 'no socket or server of the warm-up left open');
});

test('the warm-up corpus holds calls and their replies in the shapes the call tracker pairs', () => {
  const messages = hyphaMessages(6);
  assert.equal(messages.length, 12);
  const spans = new EnvelopeSpans();
  for (let i = 0; i < messages.length; i += 2) {
    const call = messages[i]!;
    const reply = messages[i + 1]!;
    scanEnvelope(call, spans, true);
    const method = call.subarray(spans.methodStart, spans.methodEnd).toString();
    const session = call.subarray(spans.sessionStart, spans.sessionEnd).toString();
    assert.match(method, /^services\.js-svc\.(echo|add)$/);
    scanEnvelope(reply, spans, true);
    assert.equal(reply.subarray(spans.methodStart, spans.methodEnd).toString(), `${session}.resolve`);
  }
});
