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
  assert.deepEqual(result.passes.map((pass) => pass.calls), [150, 151]);
  // Each call is 2 messages, and each message leaves one of the two proxies onto the link: 302 link messages in the
  // second pass. (What the first pass compresses is the link's own choice: on a loaded host a loopback link can
  // measure itself slow.)
  const slow = result.passes[1]!;
  assert.ok(slow.compressedLinkMessages >= 302, `the pass set up as a 20 Mbit/s link compresses every message (${slow.compressedLinkMessages})`);
  assert.equal(slow.transcodedMessages, 0, 'with the deflate stream on, messages are not transcoded');
  assert.ok(result.cpuMs > 0 && result.wallMs > 0);
  assert.ok(await settlesTo(before) <= before, 'no socket or server of the warm-up left open');
});

test('a role with link compression off warms the link codec instead, as its slow links will run it', async () => {
  const result = await warmUpThroughLoopback(200, 20_000, log, { codec: true, linkCompression: 'off' });
  assert.equal(result.calls, 200);
  const slow = result.passes[1]!;
  assert.deepEqual(result.passes.map((pass) => pass.compressedLinkMessages), [0, 0]);
  assert.ok(slow.transcodedMessages >= 200, `the slow pass transcodes its messages (${slow.transcodedMessages})`);
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
