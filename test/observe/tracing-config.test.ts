// startTracing's configuration comes from the env it is given, never from process.env where the two differ:
// the traces URL (the signal's own endpoint as is, else the base one + v1/traces), and every setting the SDK
// reads itself (exporter headers, compression, timeout, certificate; service name and resource attributes),
// checked on the exporter's real requests to a receiver inside the test while process.env says otherwise.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { once } from 'node:events';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { afterEach, test } from 'node:test';
import { publishLink } from '../../src/events.js';
import { createLogger } from '../../src/log.js';
import { RpcCallTracker } from '../../src/observe/rpc-calls.js';
import { startTracing, tracesUrl, type Tracing } from '../../src/observe/tracing.js';
import { makeTestCa } from '../helpers/test-ca.js';

const log = createLogger('silent');

test('the traces URL follows OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT as the specification says', () => {
  assert.equal(tracesUrl({}), undefined);
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), 'http://collector:4318/v1/traces');
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9999/custom' }), 'http://t:9999/custom');
});

interface Received { headers: http.IncomingHttpHeaders; body: Buffer }

/** An OTLP/HTTP receiver keeping each request's headers and body; `hold` leaves requests unanswered (seen via `aborted`). */
async function startReceiver(options: { tls?: { key: Buffer; cert: Buffer }; hold?: boolean } = {}) {
  const received: Received[] = [];
  let aborted = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      if (options.hold) res.on('close', () => { if (!res.writableEnded) aborted++; });
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    received,
    aborted: () => aborted,
    close: () => { server.closeAllConnections(); server.close(); },
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Sets process.env variables for one test (put back afterwards). */
function processEnv(values: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  Object.assign(process.env, values);
  cleanups.push(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
}

/** Tracing of an edge with `env`, and one span (a link event) flushed to its exporter. */
async function exportOneSpan(env: NodeJS.ProcessEnv): Promise<Tracing> {
  const tracing = startTracing({ role: 'edge', version: '0.0.0-test', rpc: new RpcCallTracker({ role: 'edge' }), log, env });
  assert.ok(tracing, 'tracing on');
  cleanups.push(() => tracing.shutdown());
  publishLink({ role: 'edge', linkId: 'link-1', event: 'up' });
  await tracing.forceFlush();
  return tracing;
}

const resourceAttribute = (body: Buffer, key: string) => {
  const message = JSON.parse(body.toString('utf8')) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> } }> };
  return message.resourceSpans[0]!.resource.attributes.find((a) => a.key === key)?.value.stringValue;
};

test('headers, compression, service name and resource attributes come from the given env, not process.env', async () => {
  const receiver = await startReceiver();
  const elsewhere = await startReceiver();
  cleanups.push(() => receiver.close(), () => elsewhere.close());
  processEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: elsewhere.url,
    OTEL_EXPORTER_OTLP_HEADERS: 'x-from-process=1',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-traces-from-process=1',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
    OTEL_SERVICE_NAME: 'from-process',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=process',
  });
  await exportOneSpan({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-given=base',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-given-traces=traces',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_SERVICE_NAME: 'from-given',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=given',
    OTEL_TRACES_SAMPLER: 'always_on',
  });
  assert.equal(elsewhere.received.length, 0, 'nothing went to the process.env endpoint');
  assert.equal(receiver.received.length, 1);
  const { headers, body } = receiver.received[0]!;
  assert.equal(headers['x-given'], 'base');
  assert.equal(headers['x-given-traces'], 'traces');
  assert.equal(headers['x-from-process'], undefined);
  assert.equal(headers['x-traces-from-process'], undefined);
  assert.equal(headers['content-encoding'], 'gzip');
  const json = gunzipSync(body);
  assert.equal(resourceAttribute(json, 'service.name'), 'from-given');
  assert.equal(resourceAttribute(json, 'deployment.environment'), 'given');
  // process.env is as it was.
  assert.equal(process.env.OTEL_SERVICE_NAME, 'from-process');
  assert.equal(process.env.OTEL_EXPORTER_OTLP_COMPRESSION, 'none');
  assert.equal(process.env.OTEL_EXPORTER_OTLP_PROTOCOL, undefined);
});

test('the exporter trusts the certificate file the given env names (https receiver, CA not in process.env)', async () => {
  const ca = makeTestCa('otlp test CA');
  const receiver = await startReceiver({ tls: { key: ca.key, cert: ca.cert } });
  cleanups.push(() => receiver.close());
  assert.equal(process.env.OTEL_EXPORTER_OTLP_CERTIFICATE, undefined);
  await exportOneSpan({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caPath,
    OTEL_TRACES_SAMPLER: 'always_on',
  });
  assert.equal(receiver.received.length, 1, 'the export reached the https receiver');
  assert.ok(readFileSync(ca.caPath).length > 0);
});

test('the exporter gives up after the given env\'s timeout, not process.env\'s', { timeout: 60_000 }, async () => {
  const receiver = await startReceiver({ hold: true });
  cleanups.push(() => receiver.close());
  processEnv({ OTEL_EXPORTER_OTLP_TIMEOUT: '3600000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3600000' });
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '300',
    OTEL_BSP_EXPORT_TIMEOUT: '3600000',
    OTEL_TRACES_SAMPLER: 'always_on',
  };
  // The flush ends with the exporter's timeout error (the BSP's own timeout is an hour, process.env's too).
  await assert.rejects(exportOneSpan(env), /timed out/i);
  assert.equal(receiver.received.length, 1);
});

test('link lifecycle spans are recorded whatever the sampler (a ratio of 0 here)', async () => {
  const receiver = await startReceiver();
  cleanups.push(() => receiver.close());
  await exportOneSpan({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER_ARG: '0' });
  assert.equal(receiver.received.length, 1);
  const body = JSON.parse(receiver.received[0]!.body.toString('utf8')) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> };
  assert.deepEqual(body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => span.name))), ['link up']);
});
