// HTTP passthrough and sessions over TLS hops, with a CA made in the test: an edge whose gatewayUrl is
// wss:// sends its HTTP passthrough (/login, /rpc, services) over https too, and a gateway whose hyphaUrl is
// https:// reaches hypha over TLS for both HTTP and WebSocket. TLS is terminated by relays in the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { rawConnect, handshakeMessage } from '../helpers/raw-ws.js';
import { loadConfig, readSecret } from '../../src/config/load.js';
import { startEdge, type EdgeHandle } from '../../src/edge/edge.js';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';

let hyphaTls: CountingProxy;
let gatewayTls: CountingProxy;
let gateway: GatewayHandle;
let edge: EdgeHandle;

before(async () => {
  const hyphaUrl = await serverUrlFromEnv();
  const ca = makeTestCa();
  const log = createLogger(process.env.HYPHA_ACCEL_TEST_LOG_LEVEL ?? 'silent');
  const secretFile = writeSecret();
  hyphaTls = await startCountingProxy(Number(new URL(hyphaUrl).port), { tls: ca });
  gateway = await startGateway(loadConfig('gateway', { flags: { listen: '127.0.0.1:0', hyphaUrl: hyphaTls.url, secretFile, caFile: ca.caPath }, env: {} }), { secret: readSecret(secretFile), log });
  gatewayTls = await startCountingProxy(gateway.port, { tls: ca });
  edge = await startEdge(loadConfig('edge', { flags: { listen: '127.0.0.1:0', gatewayUrl: `wss://127.0.0.1:${gatewayTls.port}`, secretFile, caFile: ca.caPath, links: 1 }, env: {} }), { secret: readSecret(secretFile), log });
});
after(async () => {
  await edge?.close(2000);
  await gateway?.close(2000);
  await gatewayTls?.close();
  await hyphaTls?.close();
});

async function connectionInfo(base: string): Promise<string> {
  const session = rawConnect(`${base}/ws`);
  assert.equal(await session.opened, true);
  session.ws.send(handshakeMessage(`tls-${randomUUID()}`));
  const info = await session.nextMessage();
  session.ws.close(1000);
  await session.closed;
  return (JSON.parse(info.data.toString()) as { type: string }).type;
}

test('gateway with an https:// hypha: HTTP passthrough goes over TLS', async () => {
  const res = await fetch(`${gateway.url}/health/liveness`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { status: string }).status, 'OK');
});

test('gateway with an https:// hypha: a plain client session goes over TLS', async () => {
  assert.equal(await connectionInfo(gateway.url), 'connection_info');
});

test('edge with a wss:// gateway: HTTP passthrough goes over https, to the TLS-only gateway port', async () => {
  const res = await fetch(`${edge.url}/health/liveness`, { headers: { connection: 'close' } });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { status: string }).status, 'OK');
});

test('edge with a wss:// gateway: a session crosses a link over TLS', async () => {
  assert.equal(await connectionInfo(edge.url), 'connection_info');
});
