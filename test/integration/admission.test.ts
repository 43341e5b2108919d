// Admission limits of both roles against a real hypha server: sessions, streams per link, links, pending
// handshakes, the memory budget (503, HYPHA_ACCEL_ERR_OVERLOADED), the per-address connection rate (429)
// and the HTTP passthrough's socket cap (counted at a relay in front of hypha).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { startCountingProxy } from '../helpers/counting-proxy.js';
import { rawHttp, upgradeRequest } from '../helpers/raw-http.js';
import { rawConnect, handshakeMessage, type RawSession } from '../helpers/raw-ws.js';

let hyphaUrl: string;
before(async () => {
  hyphaUrl = await serverUrlFromEnv();
});

async function openSession(base: string): Promise<RawSession> {
  const session = rawConnect(`${base}/ws`);
  assert.equal(await session.opened, true, `upgrade through ${base}`);
  session.ws.send(handshakeMessage(`admission-${randomUUID()}`));
  const info = await session.nextMessage();
  assert.equal(JSON.parse(info.data.toString()).type, 'connection_info');
  return session;
}

async function withPair(options: Parameters<typeof startAccelPair>[1], body: (pair: AccelPair) => Promise<void>, url = hyphaUrl): Promise<void> {
  const pair = await startAccelPair(url, options);
  // (Closing a pair whose links are still coming up can leave a payload pair's workers running.)
  await pair.edge.pool.waitReady(10000);
  try {
    await body(pair);
  } finally {
    await pair.close();
  }
}

test('edge maxSessions: the session beyond the limit is answered 503, and admitted again once one closed', async () => {
  await withPair({ edge: { maxSessions: 1 } }, async (pair) => {
    const first = await openSession(pair.edgeUrl);
    assert.equal((await rawHttp(pair.edge.port, upgradeRequest())).status, 503);
    first.ws.close(1000);
    await first.closed;
    // The edge counts the session closed once its close handshake completed on the edge side too.
    const second = await openSession(pair.edgeUrl);
    second.ws.close(1000);
    await second.closed;
    assert.ok((pair.edge.admission.refused.maxSessions ?? 0) >= 1);
  });
});

test('gateway maxStreamsPerLink: a session beyond it fails alone with 503, the link stays', async () => {
  await withPair({ edge: { links: 1 }, gateway: { maxStreamsPerLink: 1 } }, async (pair) => {
    const link = await pair.edge.pool.waitReady(10000);
    const first = await openSession(pair.edgeUrl);
    assert.equal((await rawHttp(pair.edge.port, upgradeRequest())).status, 503);
    assert.equal(link.session.closed, false);
    first.ws.close(1000);
    await first.closed;
  });
});

test('gateway maxLinks: a link upgrade beyond it is answered 503', async () => {
  await withPair({ edge: { links: 1 }, gateway: { maxLinks: 1 } }, async (pair) => {
    const answer = await rawHttp(pair.gateway.port, upgradeRequest({ target: '/.hypha-accel/link' }));
    assert.equal(answer.status, 503, answer.text);
  });
});

test('gateway maxPendingHandshakes: upgrades beyond the ones hanging on a silent hypha get 503', async () => {
  const hung: net.Socket[] = [];
  let accepted: () => void;
  const twoAccepted = new Promise<void>((r) => (accepted = r));
  const silent = net.createServer((socket) => {
    hung.push(socket);
    if (hung.length === 2) accepted();
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentUrl = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const clients: net.Socket[] = [];
  await withPair({ edge: { links: 1 }, gateway: { maxPendingHandshakes: 2 } }, async (pair) => {
    // The link's own handshake is over (withPair waited for it).
    // Two plain clients now hang on the silent hypha, each holding one pending handshake.
    for (let i = 0; i < 2; i++) clients.push(net.connect(pair.gateway.port, '127.0.0.1').on('error', () => {}));
    for (const c of clients) c.write(upgradeRequest());
    await Promise.race([twoAccepted, new Promise((_, reject) => setTimeout(() => reject(new Error(`silent hypha accepted ${hung.length}, pending ${pair.gateway.admission.pendingHandshakes}`)), 10000))]);
    assert.equal(pair.gateway.admission.pendingHandshakes, 2);
    const answer = await rawHttp(pair.gateway.port, upgradeRequest());
    assert.equal(answer.status, 503, answer.text);
    for (const c of clients) c.destroy();
  }, silentUrl).finally(() => {
    for (const c of clients) c.destroy();
    for (const h of hung) h.destroy();
  });
  await new Promise<void>((r) => silent.close(() => r()));
});

test('memoryBudgetBytes: over budget, both roles shed new sessions and HTTP requests with 503', async () => {
  await withPair({ edge: { memoryBudgetBytes: 1024 * 1024 }, gateway: { memoryBudgetBytes: 1024 * 1024 } }, async (pair) => {
    for (const port of [pair.edge.port, pair.gateway.port]) {
      assert.equal((await rawHttp(port, upgradeRequest())).status, 503);
      const res = await fetch(`http://127.0.0.1:${port}/health/liveness`);
      assert.equal(res.status, 503);
      assert.match(await res.text(), /HYPHA_ACCEL_ERR_OVERLOADED/);
    }
  });
});

test('connRatePerSec: an address opening connections faster than its burst gets 429', async () => {
  await withPair({ edge: { connRatePerSec: 0.001, connBurst: 3 } }, async (pair) => {
    const get = 'GET /health/liveness HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    for (let i = 0; i < 3; i++) assert.equal((await rawHttp(pair.edge.port, get)).status, 200);
    const answer = await rawHttp(pair.edge.port, get);
    assert.equal(answer.status, 429, answer.text);
    assert.match(answer.text, /HYPHA_ACCEL_ERR_RATE_LIMITED/);
  });
});

test('maxHttpSockets: concurrent passthrough requests share at most that many sockets to hypha', async () => {
  const relay = await startCountingProxy(Number(new URL(hyphaUrl).port));
  try {
    await withPair({ gateway: { maxHttpSockets: 2 } }, async (pair) => {
      const before = relay.opened();
      const answers = await Promise.all(Array.from({ length: 12 }, () => fetch(`${pair.gateway.url}/health/liveness`).then((r) => r.status)));
      assert.deepEqual(new Set(answers), new Set([200]));
      assert.ok(relay.opened() - before <= 2, `${relay.opened() - before} sockets opened to hypha`);
    }, relay.url);
  } finally {
    await relay.close();
  }
});
