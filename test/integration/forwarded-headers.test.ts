// What the real hypha server receives as X-Forwarded-For/-Proto/-Host under each forwardedFor mode, for a
// plain WebSocket client, HTTP passthrough and a session over a link, when the client forges the chain.
// A recording relay sits between the gateway and hypha; hypha answering proves the request reached it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, writeSecret, type AccelPair } from '../helpers/accel-pair.js';
import { startHeaderRecorder, type HeaderRecorder, type RecordedRequest } from '../helpers/header-recorder.js';
import { handshakeMessage, rawConnect } from '../helpers/raw-ws.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { loadConfig, readSecret } from '../../src/config/load.js';
import { startEdge } from '../../src/edge/edge.js';
import { startGateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';

// A client that says it is 6.6.6.6, behind a (claimed) ingress that saw it as 203.0.113.7.
const FORGED = { 'x-forwarded-for': '6.6.6.6, 203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'forged.example' };

const readCa = (path: string): Buffer => readFileSync(path);

let recorder: HeaderRecorder;
const pairs: Array<Pick<AccelPair, 'close'>> = [];
before(async () => {
  recorder = await startHeaderRecorder(await serverUrlFromEnv());
});
after(async () => {
  for (const pair of pairs) await pair.close();
  await recorder.close();
});

type Seen = Pick<RecordedRequest['headers'], 'x-forwarded-for' | 'x-forwarded-proto' | 'x-forwarded-host'>;
const forwarded = (r: RecordedRequest): Seen => ({
  'x-forwarded-for': r.headers['x-forwarded-for'], 'x-forwarded-proto': r.headers['x-forwarded-proto'], 'x-forwarded-host': r.headers['x-forwarded-host'],
});

/** A WebSocket session to hypha at url (gateway or edge) with forged headers: what hypha received. */
async function wsSession(url: string, ca?: Buffer): Promise<Seen> {
  const probe = randomUUID();
  const recorded = recorder.next((r) => r.headers['x-probe'] === probe);
  const session = rawConnect(`${url}/ws`, { headers: { ...FORGED, 'x-probe': probe }, ca });
  assert.equal(await session.opened, true, 'the upgrade reached hypha and was accepted');
  session.ws.send(handshakeMessage(`fwd-${probe.slice(0, 8)}`));
  const info = JSON.parse((await session.nextMessage()).data.toString());
  assert.equal(info.type, 'connection_info', 'hypha served the session');
  session.ws.close();
  await session.closed;
  return forwarded(await recorded);
}

async function httpRequest(url: string): Promise<Seen> {
  const probe = randomUUID();
  const recorded = recorder.next((r) => r.headers['x-probe'] === probe);
  const res = await fetch(`${url}/health/liveness`, { headers: { ...FORGED, 'x-probe': probe } });
  assert.equal(res.status, 200);
  await res.text();
  return forwarded(await recorded);
}

async function pairFor(gateway: Record<string, unknown>): Promise<AccelPair> {
  const pair = await startAccelPair(recorder.url, { gateway });
  pairs.push(pair);
  return pair;
}

test('append (default): the forged chain comes first, then the address the gateway saw', async () => {
  const pair = await pairFor({});
  const kept = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'forged.example' };
  assert.deepEqual(await wsSession(pair.gateway.url), { 'x-forwarded-for': '6.6.6.6, 203.0.113.7, 127.0.0.1', ...kept });
  assert.deepEqual(await httpRequest(pair.gateway.url), { 'x-forwarded-for': '6.6.6.6, 203.0.113.7, 127.0.0.1', ...kept });
  // Over a link: the client's own chain, then the link's peer address (as before this setting existed).
  assert.deepEqual(await wsSession(pair.edgeUrl), { 'x-forwarded-for': '6.6.6.6, 203.0.113.7, 127.0.0.1', ...kept });
});

test('replace: only the address the gateway saw; proto and host as the gateway saw them', async () => {
  const pair = await pairFor({ forwardedFor: 'replace' });
  const host = new URL(pair.gateway.url).host;
  assert.deepEqual(await wsSession(pair.gateway.url), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'ws', 'x-forwarded-host': host });
  assert.deepEqual(await httpRequest(pair.gateway.url), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': host });
  // Over a link: the link's peer address, the link's scheme and the Host the edge asked the gateway for.
  assert.deepEqual(await wsSession(pair.edgeUrl), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'ws', 'x-forwarded-host': host });
});

test('trusted-hops: past a trusted proxy, the chain is kept from the first untrusted address', async () => {
  // The gateway's peer (127.0.0.1) stands for a trusted ingress that appended 203.0.113.7.
  const pair = await pairFor({ forwardedFor: 'trusted-hops', trustedProxies: '127.0.0.0/8,::1' });
  const kept = { 'x-forwarded-for': '203.0.113.7, 127.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'forged.example' };
  assert.deepEqual(await wsSession(pair.gateway.url), kept);
  assert.deepEqual(await httpRequest(pair.gateway.url), kept);
  // Over a link: the link's upgrade carried no chain, so the link peer (trusted, and the leftmost) is all
  // there is; what the client sent the edge is never believed.
  const host = new URL(pair.gateway.url).host;
  assert.deepEqual(await wsSession(pair.edgeUrl), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'ws', 'x-forwarded-host': host });
});

test('trusted-hops with an untrusted peer: the same as replace', async () => {
  const pair = await pairFor({ forwardedFor: 'trusted-hops', trustedProxies: '10.0.0.0/8' });
  const host = new URL(pair.gateway.url).host;
  assert.deepEqual(await wsSession(pair.gateway.url), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'ws', 'x-forwarded-host': host });
  assert.deepEqual(await httpRequest(pair.gateway.url), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': host });
  assert.deepEqual(await wsSession(pair.edgeUrl), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'ws', 'x-forwarded-host': host });
});

test('replace on a TLS gateway: X-Forwarded-Proto says wss/https for plain clients and sessions on a tls:// link', async () => {
  const ca = makeTestCa();
  const log = createLogger('silent');
  const secretFile = writeSecret();
  const gateway = await startGateway(loadConfig('gateway', {
    flags: { listen: '127.0.0.1:0', hyphaUrl: recorder.url, secretFile, tlsCertFile: ca.certPath, tlsKeyFile: ca.keyPath, forwardedFor: 'replace' }, env: {},
  }), { secret: readSecret(secretFile), log });
  const edge = await startEdge(loadConfig('edge', {
    flags: { listen: '127.0.0.1:0', gatewayUrl: `tls://127.0.0.1:${gateway.port}`, secretFile, caFile: ca.caPath, links: 1 }, env: {},
  }), { secret: readSecret(secretFile), log });
  pairs.push({ close: async () => { await edge.close(2000); await gateway.close(2000); } });
  const host = `127.0.0.1:${gateway.port}`;
  assert.deepEqual(await wsSession(gateway.url, readCa(ca.caPath)), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'wss', 'x-forwarded-host': host });
  const probe = randomUUID();
  const recorded = recorder.next((r) => r.headers['x-probe'] === probe);
  const status = await new Promise<number | undefined>((resolve, reject) => {
    https.get(`${gateway.url}/health/liveness`, { ca: readCa(ca.caPath), headers: { ...FORGED, 'x-probe': probe } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
  assert.equal(status, 200);
  assert.deepEqual(forwarded(await recorded), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': host });
  assert.deepEqual(await wsSession(edge.url), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'wss', 'x-forwarded-host': host });
});
