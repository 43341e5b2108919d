// A sampled call whose message went through the payload plane: the sending proxy's span carries the plane's
// outcome for that blob (bytes the peer already held, bytes of new chunks as sent after compression).
// The real plane (an in-memory endpoint pair) fills the outcome; the real call tracker and CallSpans take it
// from the traced-frame event as the link session publishes it for the blob's reference frame.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { publishMessage, type BlobOutcome, type MessageEvent, type RoleName } from '../../src/events.js';
import { CallSpans } from '../../src/observe/call-spans.js';
import { CallTraceIdGenerator } from '../../src/observe/call-trace-ids.js';
import { callSampler } from '../../src/observe/otel-sampler.js';
import { RpcCallTracker } from '../../src/observe/rpc-calls.js';
import { createLogger } from '../../src/log.js';
import { createHarness, imageLikeBytes, sameBytes } from '../payload/payload-harness.js';

const log = createLogger('silent');
const TARGET = 'ws-user-a/svc-client';
const FIN_BLOB = 0x01 | 0x08; // docs/protocol.md §2
const newOutcome = (): BlobOutcome => ({ rawBytes: 0, dedupedBytes: 0, wireBytes: 0, shm: false });

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** Sends one blob twice through a real plane pair (zstd per chunk on a slow link): the outcome of each send. */
async function sendTwice(blob: Uint8Array): Promise<[BlobOutcome, BlobOutcome, number]> {
  const h = createHarness({ initialLinkEstimate: { throughputBytesPerSec: 2e6, rttMs: 120 }, unitEnabled: false });
  try {
    const first = newOutcome();
    const id = await h.a.endpoint.sendBlob(blob, first);
    assert.ok(sameBytes(await h.b.endpoint.takeBlob(id), blob));
    await h.quiet();
    const wireAfterFirst = h.a.pair.metrics.inlineWireBytes;
    const second = newOutcome();
    const again = await h.a.endpoint.sendBlob(blob, second);
    assert.ok(sameBytes(await h.b.endpoint.takeBlob(again), blob));
    return [first, second, wireAfterFirst];
  } finally {
    await h.close();
  }
}

function rig(role: RoleName) {
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = { onStart() {}, onEnd: (span) => { ended.push(span); }, forceFlush: async () => {}, shutdown: async () => {} };
  const sampler = callSampler({ OTEL_TRACES_SAMPLER: 'always_on' }, log);
  const ids = new CallTraceIdGenerator();
  const provider = new TracerProvider({ sampler, idGenerator: ids, spanProcessors: [collect] });
  const spans = new CallSpans(provider.getTracer('test'), sampler, ids);
  const tracker = new RpcCallTracker({ role });
  stops.push(tracker.addListener(spans));
  const send = (direction: 'up' | 'down', hop: 'in' | 'out', main: Record<string, unknown>): MessageEvent => {
    const event: MessageEvent = { role, sessionId: 's1', direction, hop, isBinary: true, data: Buffer.concat([encode(main), encode({ args: ['x'] })]) };
    publishMessage(event);
    return event;
  };
  return {
    ended,
    spans,
    call: (session: string, hop: 'in' | 'out') => send('up', hop, { type: 'method', from: 'ws-user-a/caller', to: TARGET, method: 'services.echo-svc.echo', session }),
    reply: (session: string, hop: 'in' | 'out') => send('down', hop, { type: 'method', from: TARGET, to: 'ws-user-a/caller', method: `${session}.resolve` }),
  };
}

test('the plane reports a blob\'s outcome: new chunks compressed on the wire, then all of it deduped', async () => {
  const blob = imageLikeBytes(1024, 512, 3);
  const [first, second, wireAfterFirst] = await sendTwice(blob);
  assert.equal(first.rawBytes, blob.length);
  assert.equal(first.dedupedBytes, 0, 'the peer held nothing yet');
  assert.equal(first.wireBytes, wireAfterFirst, 'the bodies the plane counted for this one blob');
  assert.ok(first.wireBytes > 0 && first.wireBytes < blob.length * 0.8, `compressed: ${first.wireBytes} of ${blob.length}`);
  assert.deepEqual(second, { rawBytes: blob.length, dedupedBytes: blob.length, wireBytes: 0, shm: false }, 'the same blob again: every chunk by reference');
});

test('a sampled call\'s span carries the plane outcome of its request (edge) and of its reply (gateway)', async () => {
  const blob = imageLikeBytes(1024, 512, 3);
  const [first, second] = await sendTwice(blob);

  const edge = rig('edge');
  const call = edge.call('c1', 'in'); // the client's call enters the edge and crosses the link as a blob
  assert.ok(call.trace, 'a sampled call carries its context to the link');
  edge.spans.onFrame({ trace: call.trace, frameBytes: 23, flags: FIN_BLOB, blob: second });
  edge.reply('c1', 'out');
  const [edgeSpan] = edge.ended;
  assert.equal(edgeSpan!.attributes['hypha_accel.request.link_path'], 'payload_plane');
  assert.equal(edgeSpan!.attributes['hypha_accel.request.payload.deduped_bytes'], blob.length);
  assert.equal(edgeSpan!.attributes['hypha_accel.request.payload.wire_bytes'], 0);
  assert.equal(edgeSpan!.attributes['hypha_accel.request.payload.shm'], undefined);

  const gateway = rig('gateway');
  gateway.call('c2', 'out'); // the edge's call off the link, to hypha
  const reply = gateway.reply('c2', 'in'); // hypha's reply crosses the link from the gateway as a blob
  assert.ok(reply.trace);
  gateway.spans.onFrame({ trace: reply.trace, frameBytes: 23, flags: FIN_BLOB, blob: first });
  await new Promise((resolve) => setImmediate(resolve)); // the span ends once the reply was handed to the link
  const [gatewaySpan] = gateway.ended;
  assert.equal(gatewaySpan!.attributes['hypha_accel.response.link_path'], 'payload_plane');
  assert.equal(gatewaySpan!.attributes['hypha_accel.response.payload.deduped_bytes'], 0);
  assert.equal(gatewaySpan!.attributes['hypha_accel.response.payload.wire_bytes'], first.wireBytes);
  assert.equal(gatewaySpan!.attributes['hypha_accel.request.payload.deduped_bytes'], undefined, 'the gateway did not send the request');
});
