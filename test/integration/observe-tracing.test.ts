// Traces of a real Python client's calls through the pair, received by an OTLP/HTTP receiver inside the
// test (JSON protocol, decoded from the exporter's real requests): one span per call on each proxy, named
// by the normalised method, the gateway's span a child of the edge's in the same trace, the expected
// attributes, and no ids or tokens in names or attributes; with sampling at 0, a failing call is still kept.
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { failedChecks, runPyCaller, startPyService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { RpcCallTracker } from '../../src/observe/rpc-calls.js';
import { startTracing, tracingWanted, type Tracing } from '../../src/observe/tracing.js';
import { createLogger } from '../../src/log.js';
import { channels } from '../../src/events.js';
import { decodeTraceExport, type DecodedSpan } from '../helpers/otlp-protobuf.js';

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean }
interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes: Array<{ key: string; value: OtlpValue }>; status?: { code?: number } }
interface ReceivedSpan extends OtlpSpan { service: string; role: string; attrs: Record<string, string | number | boolean> }

/** A minimal OTLP/HTTP JSON receiver: POST /v1/traces, answers 200 {}. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; requests: string[]; close(): void }> {
  const spans: ReceivedSpan[] = [];
  const requests: string[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push(`${req.method} ${req.url} ${req.headers['content-type']}\n${body}`);
    const message = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
    for (const rs of message.resourceSpans) {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
      const role = rs.resource.attributes.find((a) => a.key === 'hypha_accel.role')?.value.stringValue ?? '';
      for (const ss of rs.scopeSpans) for (const span of ss.spans) {
        const attrs: ReceivedSpan['attrs'] = {};
        for (const a of span.attributes) attrs[a.key] = a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : a.value.boolValue ?? '');
        spans.push({ ...span, service, role, attrs });
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, requests, close: () => server.close() };
}

/** An OTLP/HTTP protobuf receiver: POST /v1/traces, each request's content type and its decoded spans. */
async function startProtobufReceiver(): Promise<{ url: string; spans: DecodedSpan[]; contentTypes: string[]; close(): void }> {
  const spans: DecodedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    contentTypes.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
    spans.push(...decodeTraceExport(Buffer.concat(chunks)));
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, contentTypes, close: () => server.close() };
}

describe('OpenTelemetry traces through the pair', () => {
  let pair: AccelPair;
  let service: ServiceProcess | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const tracings: Tracing[] = [];
  const saved = { ...process.env };

  before(async () => {
    const hyphaUrl = await serverUrlFromEnv();
    receiver = await startReceiver();
    // The exporters read the standard variables from the environment, as in production.
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'always_on' });
    const log = createLogger('silent');
    for (const role of ['edge', 'gateway'] as const) tracings.push(startTracing({ role, version: 'test', rpc: new RpcCallTracker({ role }), log })!);
    // Shared memory on (off by default): on loopback it is what puts large messages on the payload plane.
    const shm = { shm: true };
    pair = await startAccelPair(hyphaUrl, { edge: shm, gateway: shm });
    service = await startPyService(hyphaUrl, uniqueServiceId('traced'));
  });
  after(async () => {
    await service?.stop();
    await pair?.close();
    for (const t of tracings) await t.shutdown();
    receiver?.close();
    process.env = saved;
  });

  test('tracing is off without an endpoint and with OTEL_SDK_DISABLED', () => {
    assert.equal(tracingWanted({}), false);
    assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' }), false);
    assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x' }), true);
  });

  test('one span per call on each proxy, the gateway span a child of the edge span', async () => {
    const result = await runPyCaller(pair.edgeUrl, service!.serviceId, { checks: ['echo', 'exception'] });
    assert.deepEqual(failedChecks(result), []);
    for (const t of tracings) await t.forceFlush();
    const spans = receiver.spans;
    assert.ok(receiver.requests.every((r) => r.startsWith('POST /v1/traces application/json')), 'OTLP/HTTP JSON requests');
    const edgeEcho = spans.filter((s) => s.service === 'hypha-accel-edge' && s.name.endsWith('.echo'));
    assert.ok(edgeEcho.length >= 1, `edge echo spans: ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`);
    for (const edgeSpan of edgeEcho) {
      assert.equal(edgeSpan.kind, 3, 'the edge span is a CLIENT span');
      assert.equal(edgeSpan.attrs['rpc.system'], 'hypha');
      assert.equal(edgeSpan.attrs['rpc.method'], 'echo');
      assert.equal(edgeSpan.attrs['hypha.outcome'], 'resolve');
      assert.ok(Number(edgeSpan.attrs['hypha_accel.request.bytes']) > 0 && Number(edgeSpan.attrs['hypha_accel.response.bytes']) > 0);
      // Bytes after acceleration: the edge put the call on the link, the gateway its reply (one frame each here).
      assert.ok(Number(edgeSpan.attrs['hypha_accel.request.link_bytes']) > 0, 'the request frame\'s link bytes');
      assert.match(String(edgeSpan.attrs['hypha_accel.request.link_path']), /^(frame|codec)$/);
      assert.ok(String(edgeSpan.attrs['hypha.workspace']).length > 0, 'the target workspace');
      const child = spans.find((s) => s.service === 'hypha-accel-gateway' && s.parentSpanId === edgeSpan.spanId);
      assert.ok(child, 'the gateway span of the same call is a child of the edge span');
      assert.equal(child.traceId, edgeSpan.traceId, 'one trace for both proxies');
      assert.equal(child.name, edgeSpan.name);
      assert.equal(child.role, 'gateway', 'the role is a resource attribute');
      assert.equal(child.attrs['hypha_accel.role'], undefined, 'not repeated on every span');
      assert.ok(Number(child.attrs['hypha_accel.response.link_bytes']) > 0, 'the reply frame\'s link bytes, on the proxy that sent it');
    }
    const getService = spans.filter((s) => s.service === 'hypha-accel-edge' && s.name === 'built-in.get_service');
    assert.ok(getService.length >= 1, 'get_service traced');
    const rejected = spans.find((s) => s.service === 'hypha-accel-edge' && s.attrs['hypha.outcome'] === 'reject');
    assert.ok(rejected, 'the raising call ends in reject');
    assert.equal(rejected.status?.code, 2, 'a rejected call is an error span');
    // Names are normalised methods: no uuids, no slashes, no session ids.
    for (const span of spans) assert.doesNotMatch(span.name, /[0-9a-f]{8}-[0-9a-f]{4}|\/|resolve|reject/, `span name ${span.name}`);
    // No token or secret reaches the exporter (the client's reconnection token travels in its handshake).
    const exported = receiver.requests.join('\n');
    assert.doesNotMatch(exported, /reconnection_token|"token"|secret/i);
    assert.ok(spans.some((s) => s.name === 'link up' && s.service === 'hypha-accel-edge'), 'link lifecycle recorded');
  });

  test('a large message through the payload plane: the sending proxy\'s span carries the plane outcome', async () => {
    receiver.spans.length = 0;
    const result = await runPyCaller(pair.edgeUrl, service!.serviceId, { checks: ['bytes_large'] });
    assert.deepEqual(failedChecks(result), []);
    for (const t of tracings) await t.forceFlush();
    const plane = receiver.spans.filter((s) => s.service === 'hypha-accel-edge' && s.attrs['hypha_accel.request.link_path'] === 'payload_plane');
    assert.ok(plane.length >= 1, `edge spans of large requests: ${receiver.spans.map((s) => `${s.service}:${s.name}:${s.attrs['hypha_accel.request.link_path']}`).join(', ')}`);
    for (const span of plane) {
      const deduped = Number(span.attrs['hypha_accel.request.payload.deduped_bytes']);
      const wire = Number(span.attrs['hypha_accel.request.payload.wire_bytes']);
      assert.ok(Number.isInteger(deduped) && Number.isInteger(wire), `plane outcome on ${span.name}: ${JSON.stringify(span.attrs)}`);
      // Through shared memory nothing crosses the link; otherwise new chunks went as wire bytes or were deduped.
      if (span.attrs['hypha_accel.request.payload.shm'] === true) assert.equal(wire, 0);
      else assert.ok(deduped + wire > 0, `some of the request's bytes on the plane: ${JSON.stringify(span.attrs)}`);
      assert.ok(deduped <= Number(span.attrs['hypha_accel.request.bytes']), 'deduped bytes are part of the message');
    }
  });

  test('with sampling at 0, a failing call is still traced: one root span on the edge, flagged kept, nothing else', async () => {
    for (const t of tracings.splice(0)) await t.shutdown();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' };
    const log = createLogger('silent');
    for (const role of ['edge', 'gateway'] as const) tracings.push(startTracing({ role, version: 'test', rpc: new RpcCallTracker({ role }), log, env })!);
    receiver.spans.length = 0;
    const result = await runPyCaller(pair.edgeUrl, service!.serviceId, { checks: ['echo', 'exception'] });
    assert.deepEqual(failedChecks(result), []);
    for (const t of tracings) await t.forceFlush();
    const callSpans = receiver.spans.filter((s) => s.attrs['rpc.system'] === 'hypha');
    const rejected = callSpans.filter((s) => s.attrs['hypha.outcome'] === 'reject');
    assert.ok(rejected.length >= 1, `the raising call is traced: ${callSpans.map((s) => `${s.service}:${s.name}:${s.attrs['hypha.outcome']}`).join(', ')}`);
    for (const span of rejected) {
      assert.equal(span.service, 'hypha-accel-edge', 'kept by the proxy that saw the call first');
      assert.equal(span.kind, 3, 'a CLIENT span');
      assert.equal(span.attrs['hypha_accel.kept'], 'reject');
      assert.equal(span.status?.code, 2, 'an error span');
      assert.ok(!span.parentSpanId, 'a root span');
      assert.ok(Number(span.attrs['hypha_accel.request.bytes']) > 0 && Number(span.attrs['hypha_accel.response.bytes']) > 0);
    }
    // The echo calls resolved: unsampled, they left no span on either proxy.
    assert.deepEqual(callSpans.filter((s) => s.attrs['hypha.outcome'] === 'resolve').map((s) => s.name), []);
    assert.deepEqual(callSpans.filter((s) => s.service === 'hypha-accel-gateway').map((s) => s.name), [], 'the gateway saw the call second');
  });

  test('with a ratio sampler both proxies sample the same calls, and only those carry trace context', async () => {
    for (const t of tracings.splice(0)) await t.shutdown();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' };
    const log = createLogger('silent');
    const trackers = (['edge', 'gateway'] as const).map((role) => new RpcCallTracker({ role }));
    let calls = 0;
    const stopCounting = trackers[0]!.addListener({ onCallStart: (call) => { if (call.hop === 'in') calls++; }, onCallEnd: () => {} });
    for (const [i, role] of (['edge', 'gateway'] as const).entries()) tracings.push(startTracing({ role, version: 'test', rpc: trackers[i]!, log, env })!);
    let tracedFrames = 0;
    const countFrame = () => { tracedFrames++; };
    channels.tracedFrame.subscribe(countFrame);
    receiver.spans.length = 0;
    try {
      const result = await runPyCaller(pair.edgeUrl, service!.serviceId);
      assert.deepEqual(failedChecks(result), []);
      for (const t of tracings) await t.forceFlush();
    } finally {
      channels.tracedFrame.unsubscribe(countFrame);
      stopCounting();
    }
    // Sampled spans only: an unsampled call that failed (the `exception` check) is kept by the edge alone.
    const callSpans = receiver.spans.filter((s) => s.attrs['rpc.system'] === 'hypha' && s.attrs['hypha_accel.kept'] === undefined);
    const edgeClient = callSpans.filter((s) => s.service === 'hypha-accel-edge' && s.kind === 3);
    const gatewayServer = callSpans.filter((s) => s.service === 'hypha-accel-gateway' && s.kind === 2);
    assert.ok(edgeClient.length > 0 && edgeClient.length < calls, `some of the ${calls} calls sampled, not all: ${edgeClient.length}`);
    // Unsampled calls send nothing, yet the gateway decides alike: every sampled call has both spans, joined.
    assert.deepEqual(gatewayServer.map((s) => s.parentSpanId).sort(), edgeClient.map((s) => s.spanId).sort());
    // Only sampled calls and their replies carry a context on the link.
    assert.ok(tracedFrames >= edgeClient.length && tracedFrames <= 2 * (edgeClient.length + callSpans.filter((s) => s.kind === 3 && s.service === 'hypha-accel-gateway').length), `traced frames ${tracedFrames}`);
  });

  test('http/protobuf (the default protocol): the real protobuf requests decode to the same joined trace', async () => {
    for (const t of tracings.splice(0)) await t.shutdown();
    const protobuf = await startProtobufReceiver();
    try {
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: protobuf.url, OTEL_TRACES_SAMPLER: 'always_on' }; // protocol unset: http/protobuf
      const log = createLogger('silent');
      for (const role of ['edge', 'gateway'] as const) tracings.push(startTracing({ role, version: 'test', rpc: new RpcCallTracker({ role }), log, env })!);
      const result = await runPyCaller(pair.edgeUrl, service!.serviceId, { checks: ['echo', 'exception'] });
      assert.deepEqual(failedChecks(result), []);
      for (const t of tracings) await t.forceFlush();
      assert.ok(protobuf.contentTypes.length > 0 && protobuf.contentTypes.every((c) => c === 'POST /v1/traces application/x-protobuf'), protobuf.contentTypes.join(', '));
      const spans = protobuf.spans;
      const edgeEcho = spans.filter((s) => s.service === 'hypha-accel-edge' && s.name.endsWith('.echo'));
      assert.ok(edgeEcho.length >= 1, `edge echo spans: ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`);
      for (const edgeSpan of edgeEcho) {
        assert.equal(edgeSpan.kind, 3, 'CLIENT');
        assert.match(edgeSpan.traceId, /^[0-9a-f]{32}$/);
        assert.equal(edgeSpan.attrs['rpc.system'], 'hypha');
        assert.equal(edgeSpan.attrs['rpc.method'], 'echo');
        assert.equal(edgeSpan.attrs['hypha.outcome'], 'resolve');
        assert.ok(Number(edgeSpan.attrs['hypha_accel.request.bytes']) > 0 && Number(edgeSpan.attrs['hypha_accel.request.link_bytes']) > 0);
        const child = spans.find((s) => s.service === 'hypha-accel-gateway' && s.parentSpanId === edgeSpan.spanId);
        assert.ok(child, 'the gateway span is a child of the edge span');
        assert.equal(child.traceId, edgeSpan.traceId, 'one trace');
        assert.equal(child.kind, 2, 'SERVER');
        assert.equal(child.role, 'gateway');
        assert.ok(Number(child.attrs['hypha_accel.response.link_bytes']) > 0);
      }
      const rejected = spans.find((s) => s.service === 'hypha-accel-edge' && s.attrs['hypha.outcome'] === 'reject');
      assert.equal(rejected?.status?.code, 2, 'a rejected call is an error span');
    } finally {
      protobuf.close();
    }
  });
});
