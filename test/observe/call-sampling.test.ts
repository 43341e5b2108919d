// Call trace ids (derived from the call, so both proxies sample alike) and the sampler the OTEL_* variables
// select (parent-based at hypha-accel's default ratio when unset).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, SamplingDecision, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { callSampleKey, callTraceId, callTraceWords, CallTraceIdGenerator, traceIdAccumulation } from '../../src/observe/call-trace-ids.js';
import { buildSampler, callSampler, describeSampler, DEFAULT_SAMPLER_RATIO, rootSampleBound } from '../../src/observe/otel-sampler.js';
import { createLogger } from '../../src/log.js';

const log = createLogger('silent');
const sampled = (sampler: Pick<ReturnType<typeof buildSampler>, 'shouldSample'>, traceId: string) =>
  sampler.shouldSample(ROOT_CONTEXT, traceId, 'svc.fn', SpanKind.CLIENT, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED;

test('a call trace id is a valid W3C trace id, the same for the same call and different for another', () => {
  const id = callTraceId('up', 'ws-user-a/client-b:svc', 'JbVSF2aaWtCZ3Qmfi5mBeB');
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.notEqual(id, '0'.repeat(32));
  assert.equal(callTraceId('up', 'ws-user-a/client-b:svc', 'JbVSF2aaWtCZ3Qmfi5mBeB'), id);
  assert.notEqual(callTraceId('up', 'ws-user-a/client-b:svc', 'JbVSF2aaWtCZ3Qmfi5mBeC'), id);
  assert.notEqual(callTraceId('down', 'ws-user-a/client-b:svc', 'JbVSF2aaWtCZ3Qmfi5mBeB'), id);
});

test('a 10% ratio sampler takes about 10% of calls, and the same ones for the same ids', () => {
  const tenth = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' };
  const sampler = buildSampler(tenth, log);
  const again = buildSampler(tenth, log); // the other proxy
  let taken = 0;
  const calls = 20000;
  for (let i = 0; i < calls; i++) {
    const id = callTraceId('up', 'ws-user-a/svc', `session-${i}`);
    const decision = sampled(sampler, id);
    assert.equal(sampled(again, id), decision);
    if (decision) taken++;
  }
  assert.ok(taken > calls * 0.08 && taken < calls * 0.12, `sampled ${taken} of ${calls}`);
});

test('unset, the sampler is parent-based at the default ratio: ~1% of root calls, a sampled parent always followed', () => {
  assert.equal(DEFAULT_SAMPLER_RATIO, 0.01);
  const sampler = buildSampler({}, log);
  assert.match(sampler.toString(), /ParentBased\{root=TraceIdRatioBased\{0\.01\}/);
  assert.match(describeSampler({}), /^parentbased_traceidratio 0\.01$/);
  let taken = 0;
  const calls = 20000;
  for (let i = 0; i < calls; i++) if (sampled(sampler, callTraceId('up', 'ws-user-a/svc', `session-${i}`))) taken++;
  assert.ok(taken > calls * 0.005 && taken < calls * 0.015, `sampled ${taken} of ${calls}`);
  // A sampled parent from the other proxy is followed whatever the ratio (both spans of a call, always).
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'b'.repeat(32), spanId: 'c'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: true });
  assert.equal(sampler.shouldSample(parent, 'b'.repeat(32), 'svc.fn', SpanKind.SERVER, {}, []).decision, SamplingDecision.RECORD_AND_SAMPLED);
  // An empty OTEL_TRACES_SAMPLER is unset; OTEL_TRACES_SAMPLER_ARG alone sets the default's ratio; an unknown name falls back to the default.
  assert.match(buildSampler({ OTEL_TRACES_SAMPLER: ' ' }, log).toString(), /ParentBased\{root=TraceIdRatioBased\{0\.01\}/);
  assert.match(buildSampler({ OTEL_TRACES_SAMPLER_ARG: '0.2' }, log).toString(), /ParentBased\{root=TraceIdRatioBased\{0\.2\}/);
  assert.match(buildSampler({ OTEL_TRACES_SAMPLER: 'nonsense' }, log).toString(), /ParentBased\{root=TraceIdRatioBased\{0\.01\}/);
});

test('the keeping sampler says sampled once after keepNext, then asks the configured sampler again', () => {
  const keeping = callSampler({ OTEL_TRACES_SAMPLER: 'always_off' }, log);
  const id = callTraceId('up', 'ws-user-a/svc', 'session-x');
  assert.equal(sampled(keeping, id), false);
  keeping.keepNext();
  assert.equal(sampled(keeping, id), true);
  assert.equal(sampled(keeping, id), false);
});

test('the root decision from the id\'s words is the SDK sampler\'s decision on its hex id, for every sampler and ratio', () => {
  const envs: NodeJS.ProcessEnv[] = [{}, { OTEL_TRACES_SAMPLER: 'nonsense' }, { OTEL_TRACES_SAMPLER_ARG: 'x' }];
  for (const name of ['always_on', 'always_off', 'traceidratio', 'parentbased_always_off', 'parentbased_traceidratio', 'parentbased_always_on']) {
    for (const ratio of [undefined, '0', '0.0001', '0.01', '0.5', '0.999', '1']) envs.push({ OTEL_TRACES_SAMPLER: name, ...(ratio === undefined ? {} : { OTEL_TRACES_SAMPLER_ARG: ratio }) });
  }
  for (const env of envs) {
    const sampler = buildSampler(env, log);
    const bound = rootSampleBound(env);
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const words = callTraceWords(i % 2 ? 'up' : 'down', `ws-${i % 7}/client:svc`, `session-${i}`);
      const fromWords = traceIdAccumulation(words) < bound;
      assert.equal(callSampleKey(`session-${i}`) < bound, fromWords, 'the sample key is the id\'s accumulation');
      const id = callTraceId(i % 2 ? 'up' : 'down', `ws-${i % 7}/client:svc`, `session-${i}`);
      assert.equal(fromWords, sampled(sampler, id), `${JSON.stringify(env)} id ${id}`);
      if (fromWords) taken++;
    }
    if (env.OTEL_TRACES_SAMPLER?.endsWith('traceidratio') && env.OTEL_TRACES_SAMPLER_ARG === '0.5') assert.ok(taken > 1300 && taken < 1700, `${JSON.stringify(env)}: ${taken} of 3000`);
  }
  // The bound's edges, where the SDK's arithmetic is exact: id words whose XOR is 0 and 0xffffffff.
  const edge = (w: number) => Uint32Array.of(w, 0, 0, 0);
  assert.equal(traceIdAccumulation(edge(0)) < rootSampleBound({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }), false);
  assert.equal(traceIdAccumulation(edge(0xffffffff)) < rootSampleBound({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' }), true);
  assert.equal(sampled(buildSampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' }, log), 'ffffffff' + '0'.repeat(23) + '1'), true);
});

test('the sample key is what the SDK reads from the call\'s trace id, depends on the session alone, and spreads over 32 bits', () => {
  const sessions = ['JbVSF2aaWtCZ3Qmfi5mBeB', 'a', '', 'parent.child', '\u00e9\u4e2d'];
  for (let i = 0; i < 2000; i++) sessions.push(`Jb${i.toString(36).padStart(8, '0')}VSF2aaWtCZ`);
  const keys = new Set<number>();
  let high = 0;
  for (const session of sessions) {
    const key = callSampleKey(session);
    assert.ok(Number.isInteger(key) && key >= 0 && key <= 0xffffffff, `key ${key}`);
    // Both legs of a call (up to hypha, down to the callee) and any target: one decision.
    for (const [direction, target] of [['up', 'ws-a/b:svc'], ['down', 'ws-c/d:other'], ['up', '']] as const) {
      const words = callTraceWords(direction, target, session);
      assert.equal(traceIdAccumulation(words), key, `${direction} ${target} ${session}`);
      assert.notEqual(callTraceId(direction, target, session), '0'.repeat(32));
    }
    keys.add(key);
    if (key >= 0x80000000) high++;
  }
  assert.equal(keys.size, sessions.length, 'distinct sessions, distinct keys (no collision expected among these)');
  assert.ok(high > sessions.length * 0.45 && high < sessions.length * 0.55, `top bit set in ${high} of ${sessions.length}`);
  // Sequential session ids (as tracing-cost makes them) fill a 1% bound about 1% of the time.
  const bound = rootSampleBound({});
  const taken = sessions.filter((session) => callSampleKey(session) < bound).length;
  assert.ok(taken < sessions.length * 0.03, `${taken} of ${sessions.length} under the 1% bound`);
});

test('OTEL_TRACES_SAMPLER and _ARG as the specification says', () => {
  assert.match(buildSampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }, log).toString(), /TraceIdRatioBased\{0\.25\}/);
  assert.match(buildSampler({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }, log).toString(), /TraceIdRatioBased\{1\}/);
  assert.match(buildSampler({ OTEL_TRACES_SAMPLER: 'always_on' }, log).toString(), /AlwaysOnSampler/);
  assert.match(buildSampler({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }, log).toString(), /ParentBased\{root=AlwaysOnSampler/);
});

test('the id generator hands out the preset trace id once, then random ones; span ids are 16 hex digits', () => {
  const ids = new CallTraceIdGenerator();
  ids.next = 'a'.repeat(32);
  assert.equal(ids.generateTraceId(), 'a'.repeat(32));
  assert.notEqual(ids.generateTraceId(), 'a'.repeat(32));
  const spanIds = new Set(Array.from({ length: 100 }, () => ids.generateSpanId()));
  assert.equal(spanIds.size, 100);
  for (const id of spanIds) assert.match(id, /^[0-9a-f]{16}$/);
});
