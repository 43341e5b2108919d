// Calls the sampler leaves out but an operator looks for: the proxy that sees a call first traces an
// unsampled call that is rejected, unanswered or (with slowCallMs) slow, as a root span from the start the
// call tracker kept, flagged `hypha_accel.kept`; an unsampled call that resolves quickly builds nothing.
// Real hypha-shaped messages go through the event seam and the call tracker, as in the proxies.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { publishMessage, publishSession, type MessageEvent, type RoleName } from '../../src/events.js';
import { CallSpans } from '../../src/observe/call-spans.js';
import { CallTraceIdGenerator, callTraceId } from '../../src/observe/call-trace-ids.js';
import { callSampler } from '../../src/observe/otel-sampler.js';
import { RpcCallTracker } from '../../src/observe/rpc-calls.js';
import { createLogger } from '../../src/log.js';

const log = createLogger('silent');
const TARGET = 'ws-user-a/svc-client';

interface Rig {
  spans(): ReadableSpan[];
  /** Spans the tracer was asked to start (sampled or not). */
  started(): number;
  /** The tracker's clock (ms on performance.now()'s scale): calls start and end when the test says. */
  clock: { now: number };
  call(session: string, hop?: 'in' | 'out'): void;
  reply(session: string, outcome: 'resolve' | 'reject', hop?: 'in' | 'out'): void;
  closeSession(): void;
}

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function rig(env: NodeJS.ProcessEnv, options: { role?: RoleName; slowCallMs?: number } = {}): Rig {
  const role = options.role ?? 'edge';
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = { onStart() {}, onEnd: (span) => { ended.push(span); }, forceFlush: async () => {}, shutdown: async () => {} };
  const sampler = callSampler(env, log);
  const ids = new CallTraceIdGenerator();
  const provider = new TracerProvider({ sampler, idGenerator: ids, spanProcessors: [collect] });
  const sdkTracer = provider.getTracer('test');
  let started = 0;
  const tracer: Tracer = {
    startSpan: (...args: Parameters<Tracer['startSpan']>) => { started++; return sdkTracer.startSpan(...args); },
    startActiveSpan: sdkTracer.startActiveSpan.bind(sdkTracer) as Tracer['startActiveSpan'],
  };
  const clock = { now: performance.now() - 60_000 };
  const tracker = new RpcCallTracker({ role, now: () => clock.now });
  stops.push(tracker.addListener(new CallSpans(tracer, sampler, ids, options.slowCallMs ?? 0)));
  const send = (direction: 'up' | 'down', hop: 'in' | 'out', main: Record<string, unknown>) => {
    const event: MessageEvent = { role, sessionId: 's1', direction, hop, isBinary: true, data: Buffer.concat([encode(main), encode({ args: ['x'] })]) };
    publishMessage(event);
  };
  return {
    spans: () => ended,
    started: () => started,
    clock,
    // The edge's client calls up; the call enters from the client (hop in) and its reply leaves toward it (hop out).
    call: (session, hop = 'in') => send('up', hop, { type: 'method', from: 'ws-user-a/caller', to: TARGET, method: 'services.echo-svc.echo', session }),
    reply: (session, outcome, hop = 'out') => send('down', hop, { type: 'method', from: TARGET, to: 'ws-user-a/caller', method: `${session}.${outcome}` }),
    closeSession: () => publishSession({ role, sessionId: 's1', event: 'close', viaLink: true }),
  };
}

const attrs = (span: ReadableSpan) => span.attributes;

test('with the sampler at 0, a call that resolves builds no span; one that is rejected is kept from its start', () => {
  const r = rig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
  r.call('ok-1');
  r.reply('ok-1', 'resolve');
  assert.equal(r.started(), 0, 'an unsampled call that resolves starts no span');
  const startedAt = r.clock.now;
  r.call('bad-1');
  r.clock.now += 250;
  r.reply('bad-1', 'reject');
  const [span, ...rest] = r.spans();
  assert.equal(rest.length, 0);
  assert.equal(span!.name, 'echo-svc.echo');
  assert.equal(attrs(span!)['hypha_accel.kept'], 'reject');
  assert.equal(attrs(span!)['hypha.outcome'], 'reject');
  assert.equal(attrs(span!)['rpc.method'], 'echo');
  assert.equal(attrs(span!)['hypha.target'], TARGET);
  assert.equal(span!.status.code, SpanStatusCode.ERROR);
  assert.equal(span!.kind, SpanKind.CLIENT, 'the calling side\'s kind');
  assert.equal(span!.parentSpanContext, undefined, 'a root span');
  assert.equal(span!.spanContext().traceId, callTraceId('up', TARGET, 'bad-1'), 'the call\'s derived trace id');
  // Built at the end, it starts when the tracker saw the call (a minute "ago" on the tracker's clock).
  const startMs = hrTimeToMilliseconds(span!.startTime) - performance.timeOrigin;
  assert.ok(Math.abs(startMs - startedAt) < 50, `span starts at the call's start: ${startMs} vs ${startedAt}`);
  assert.ok(hrTimeToMilliseconds(span!.endTime) > hrTimeToMilliseconds(span!.startTime));
});

test('a call whose session closes before the reply is kept as unanswered', () => {
  const r = rig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
  r.call('lost-1');
  r.closeSession();
  const [span, ...rest] = r.spans();
  assert.equal(rest.length, 0);
  assert.equal(attrs(span!)['hypha_accel.kept'], 'unanswered');
  assert.equal(attrs(span!)['hypha.outcome'], 'unanswered');
  assert.equal(span!.status.code, SpanStatusCode.ERROR);
});

test('slow calls are kept only with slowCallMs, and only from that duration on', () => {
  const off = rig({ OTEL_TRACES_SAMPLER: 'always_off' });
  off.call('slow-0');
  off.clock.now += 10_000;
  off.reply('slow-0', 'resolve');
  assert.equal(off.started(), 0, 'slowCallMs 0: a slow call that resolves is not kept');

  const r = rig({ OTEL_TRACES_SAMPLER: 'always_off' }, { slowCallMs: 1000 });
  r.call('quick');
  r.clock.now += 999;
  r.reply('quick', 'resolve');
  assert.equal(r.started(), 0, 'a call below the threshold builds nothing');
  r.call('slow-1');
  r.clock.now += 1000;
  r.reply('slow-1', 'resolve');
  const [span, ...rest] = r.spans();
  assert.equal(rest.length, 0);
  assert.equal(attrs(span!)['hypha_accel.kept'], 'slow');
  assert.equal(attrs(span!)['hypha.outcome'], 'resolve');
  assert.equal(span!.status.code, SpanStatusCode.UNSET);
});

test('only the proxy that sees the call first keeps it: the other side (call off the link) builds nothing', () => {
  const r = rig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }, { role: 'gateway' });
  r.call('bad-2', 'out'); // the gateway hands the edge's call to hypha
  r.reply('bad-2', 'reject', 'in'); // and takes hypha's reject back to the link
  r.call('lost-2', 'out');
  r.closeSession();
  assert.equal(r.started(), 0);
});

test('a sampled call that fails has its one span, not a second kept one', () => {
  const r = rig({ OTEL_TRACES_SAMPLER: 'always_on' });
  r.call('bad-3');
  r.reply('bad-3', 'reject');
  const [span, ...rest] = r.spans();
  assert.equal(rest.length, 0);
  assert.equal(attrs(span!)['hypha_accel.kept'], undefined, 'sampled, not kept');
  assert.equal(attrs(span!)['hypha.outcome'], 'reject');
  assert.equal(span!.spanContext().traceId, callTraceId('up', TARGET, 'bad-3'));
});
