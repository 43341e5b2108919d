// What the real hypha server receives as X-Forwarded-For/-Proto/-Host under each forwardedFor mode, for a
// plain WebSocket client, HTTP passthrough and a session over a link, when the client forges the chain.
// A recording relay sits between the gateway and hypha; hypha answering proves the request reached it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { startHeaderRecorder, type HeaderRecorder, type RecordedRequest } from '../helpers/header-recorder.js';
import { handshakeMessage, rawConnect } from '../helpers/raw-ws.js';

// A client that says it is 6.6.6.6, behind a (claimed) ingress that saw it as 203.0.113.7.
const FORGED = { 'x-forwarded-for': '6.6.6.6, 203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'forged.example' };

let recorder: HeaderRecorder;
const pairs: AccelPair[] = [];
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
async function wsSession(url: string): Promise<Seen> {
  const probe = randomUUID();
  const recorded = recorder.next((r) => r.headers['x-probe'] === probe);
  const session = rawConnect(`${url}/ws`, { headers: { ...FORGED, 'x-probe': probe } });
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
