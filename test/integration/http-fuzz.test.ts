// Property-based fuzzing of the public HTTP/upgrade surface of both roles with raw bytes over net.Socket:
// generated request lines, headers, paths, bodies, truncations and garbage. Afterwards both roles still
// serve, hypha holds no connection the proxies opened for the fuzz (counted at a relay in front of it),
// memory is back near its start, and real Python and JS clients' calls through the pair work.
// Fixed seed; HYPHA_ACCEL_FUZZ_RUNS (per surface, default 150) and HYPHA_ACCEL_FUZZ_SEED for longer runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { rawHttp } from '../helpers/raw-http.js';
import { failedChecks, runJsCaller, runPyCaller, startPyService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { until } from '../helpers/link-pair.js';

const RUNS = Number(process.env.HYPHA_ACCEL_FUZZ_RUNS ?? 150);
const SEED = Number(process.env.HYPHA_ACCEL_FUZZ_SEED ?? 20261130);

let relay: CountingProxy;
let pair: AccelPair;

before(async () => {
  const hyphaUrl = await serverUrlFromEnv();
  relay = await startCountingProxy(Number(new URL(hyphaUrl).port));
  // The per-address rate limit is tested elsewhere; here every input should reach the parsers.
  pair = await startAccelPair(relay.url, { edge: { links: 1, connRatePerSec: 0 }, gateway: { connRatePerSec: 0 } });
  await pair.edge.pool.waitReady(10000);
});
after(async () => {
  await pair?.close();
  await relay?.close();
});

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const anyText = fc.string({ unit: 'binary', maxLength: 40 });
// Mostly well-formed, so most inputs pass Node's HTTP parser and reach the proxies' own checks, dials and
// upgrades; the rest is malformed at every level.
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const method = fc.oneof(w(8, fc.constant('GET')), w(2, fc.constantFrom('POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE', 'CONNECT', 'PRI', 'get', '')), w(1, token));
const target = fc.oneof(
  w(3, fc.constantFrom('/ws', '/ws?client_id=x', '/health/liveness', '/.hypha-accel/link')),
  w(3, fc.constantFrom('/ws', '/ws?client_id=x', '/ws?token=abc', '/.hypha-accel/link', '/health/liveness', '/login', '/rpc?client_id=x',
    '*', 'http://127.0.0.1:1/ws', '//evil/ws', '/ws#frag', '/\\evil', '/ws/../ws', '/%2e%2e/ws', '/ws%00', 'ws', '')),
  w(2, printable.map((p) => `/${p}`)),
  w(1, anyText),
);
const version = fc.oneof(w(10, fc.constant('HTTP/1.1')), w(2, fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9', 'http/1.1', '')));
const headerName = fc.oneof(
  w(8, fc.constantFrom('Host', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Sec-WebSocket-Protocol',
    'Sec-WebSocket-Extensions', 'Content-Length', 'Transfer-Encoding', 'X-Forwarded-For', 'Authorization', 'Expect')),
  w(3, token),
  w(1, anyText),
);
const headerValue = fc.oneof(
  w(6, fc.constantFrom('websocket', 'Upgrade', 'upgrade, keep-alive', '13', '8', KEY, 'short', 'a, a', 'a b', 'hypha, x', 'permessage-deflate; client_max_window_bits',
    'permessage-deflate; x=', '0', '10', '-1', '99999999999', 'chunked', 'gzip, chunked', '100-continue', '127.0.0.1', '')),
  w(3, printable),
  w(1, anyText),
);
/** A WebSocket upgrade that is valid unless the generated headers override parts of it. */
const baseUpgrade: Array<[string, string]> = [['Host', '127.0.0.1'], ['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', KEY]];
const request = fc.record({
  method, target, version,
  upgrade: fc.boolean(),
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }),
  body: fc.oneof(w(3, fc.constant(new Uint8Array(0))), w(1, fc.uint8Array({ maxLength: 300 }))),
  cutAt: fc.oneof(w(4, fc.constant(undefined)), w(1, fc.nat())),
}).map(({ method: m, target: t, version: v, upgrade, headers, body, cutAt }) => {
  const lines = [...(upgrade ? baseUpgrade : [['Host', '127.0.0.1'] as [string, string]]), ...headers].map(([n, val]) => `${n}: ${val}`);
  const head = Buffer.from(`${m} ${t} ${v}\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const whole = Buffer.concat([head, body]);
  return cutAt === undefined ? whole : whole.subarray(0, cutAt % (whole.length + 1));
});
/** A valid hypha upgrade with one or two headers replaced or added: reaches the dial and the relay. */
const nearValidUpgrade = fc.record({
  query: fc.constantFrom('', '?client_id=x', '?token=abc', '?workspace=w&x=1'),
  changes: fc.array(fc.tuple(fc.constantFrom('Connection', 'Upgrade', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Sec-WebSocket-Protocol',
    'Sec-WebSocket-Extensions', 'X-Forwarded-For', 'Origin', 'Cookie'), headerValue), { maxLength: 2 }),
}).map(({ query, changes }) => {
  const headers = new Map(baseUpgrade);
  for (const [name, value] of changes) headers.set(name, value);
  return Buffer.from(`GET /ws${query} HTTP/1.1\r\n${[...headers].map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n`, 'latin1');
});
/** What to send, and how: complete upgrades wait for the answer's head (a 101 keeps the socket open). */
interface FuzzInput {
  bytes: Buffer;
  untilHead: boolean;
}
const input: fc.Arbitrary<FuzzInput> = fc.oneof(
  w(5, request.map((bytes) => ({ bytes, untilHead: false }))),
  w(3, nearValidUpgrade.map((bytes) => ({ bytes, untilHead: true }))),
  w(1, fc.uint8Array({ maxLength: 600 }).map((b) => ({ bytes: Buffer.from(b), untilHead: false }))),
);

function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const executed: Record<string, number> = { edge: 0, gateway: 0 };
/** Answers seen per surface by HTTP status ('closed' when the server closed without one), for the log. */
const statuses: Record<string, Record<string, number>> = { edge: {}, gateway: {} };
let heapBeforeBytes = 0;

for (const surface of ['gateway', 'edge'] as const) {
  test(`fuzz: ${RUNS} generated requests against the ${surface} end with an answer or a close, never a crash`, async () => {
    if (surface === 'gateway') {
      gc();
      heapBeforeBytes = process.memoryUsage().heapUsed;
    }
    const port = surface === 'edge' ? pair.edge.port : pair.gateway.port;
    await fc.assert(fc.asyncProperty(input, async ({ bytes, untilHead }) => {
      executed[surface]!++;
      // The client half-closes after its bytes (or, for a whole upgrade, closes once answered), so every
      // conversation ends; 10 s bounds a hung one.
      const answer = await rawHttp(port, bytes, 10000, untilHead ? { untilHead: true } : { halfClose: true });
      const seen = String(answer.status ?? 'closed');
      if (process.env.HYPHA_ACCEL_FUZZ_DEBUG) console.log(seen, JSON.stringify(bytes.toString('latin1').slice(0, 160)), JSON.stringify(answer.text.slice(0, 120)));
      statuses[surface]![seen] = (statuses[surface]![seen] ?? 0) + 1;
      assert.equal(answer.timedOut, false, `no answer or close for ${JSON.stringify(bytes.toString('latin1'))}`);
      // The proxies never answer 403 themselves (hypha-rpc treats it as an auth failure); hypha may, to a
      // plain HTTP GET of /ws, and that passes through as it is.
      if (answer.status === 403) assert.doesNotMatch(answer.text, /hypha-accel/, 'the proxies never answer 403');
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
  });
}

test('after the fuzz: no leaked upstream, memory back near its start, real clients work through the pair', async () => {
  console.log(`# fuzz inputs run: gateway ${executed.gateway}, edge ${executed.edge} (seed ${SEED}); answers ${JSON.stringify(statuses)}`);
  await relay.drainedUpgrades(15000);
  await until(() => pair.gateway.upstreamCount() === 0 && pair.edge.sessionCount() === 0, 'sessions closed on both roles', 10000);
  assert.equal(pair.gateway.admission.pendingHandshakes, 0);
  assert.equal(pair.edge.admission.pendingHandshakes, 0);
  assert.equal(pair.gateway.admission.sessions, 0);
  assert.equal(pair.edge.admission.sessions, 0);
  assert.equal(pair.edge.pool.readyLinks.length, 1, 'the link survived');
  gc();
  const grownBytes = process.memoryUsage().heapUsed - heapBeforeBytes;
  assert.ok(grownBytes < 32 * 1024 * 1024, `heap grew by ${grownBytes} bytes`);
  let service: ServiceProcess | undefined;
  try {
    service = await startPyService(pair.edgeUrl, uniqueServiceId('fuzz'));
    assert.deepEqual(failedChecks(await runJsCaller(pair.edgeUrl, service.serviceId)), []);
    assert.deepEqual(failedChecks(await runPyCaller(pair.gateway.url, service.serviceId)), []);
  } finally {
    await service?.stop();
  }
});
