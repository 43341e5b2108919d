// Protocol edges through the real pair and a real hypha server, compared with a direct connection:
// HTTP passthrough, close codes and reasons, opcodes, refused upgrades, wrong secret, unreachable hops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { serverUrlFromEnv, freePort } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { rawConnect, handshakeMessage } from '../helpers/raw-ws.js';

let hyphaUrl: string;
let pair: AccelPair;

before(async () => {
  hyphaUrl = await serverUrlFromEnv();
  pair = await startAccelPair(hyphaUrl);
});
after(async () => {
  await pair?.close();
});

test('HTTP requests pass through edge and gateway verbatim', async () => {
  const direct = await fetch(`${hyphaUrl}/health/liveness`);
  const viaPair = await fetch(`${pair.edgeUrl}/health/liveness`);
  assert.equal(viaPair.status, direct.status);
  assert.equal(viaPair.headers.get('content-type'), direct.headers.get('content-type'));
  const body = (await viaPair.json()) as { status: string };
  assert.equal(body.status, 'OK');
  const missingDirect = await fetch(`${hyphaUrl}/no-such-path-${randomUUID()}`);
  const missingViaPair = await fetch(`${pair.edgeUrl}/no-such-path-${randomUUID()}`);
  assert.equal(missingViaPair.status, missingDirect.status);
});

test('a hypha handshake through the pair yields connection_info as text, ping/pong as text', async () => {
  const session = rawConnect(`${pair.edgeUrl}/ws`);
  assert.equal(await session.opened, true);
  session.ws.send(handshakeMessage(`raw-${randomUUID()}`));
  const info = await session.nextMessage();
  assert.equal(info.isBinary, false);
  const parsed = JSON.parse(info.data.toString()) as { type: string; workspace: string };
  assert.equal(parsed.type, 'connection_info');
  assert.ok(parsed.workspace, 'parsed.workspace');
  session.ws.send(JSON.stringify({ type: 'ping' }));
  let pong;
  do pong = await session.nextMessage(); while (pong.isBinary);
  assert.deepEqual(JSON.parse(pong.data.toString()), { type: 'pong' });
  session.ws.close(1000, 'bye');
  const outcome = await session.closed;
  assert.equal(outcome.close?.code, 1000);
});

for (const [name, path, first] of [
  ['a forbidden query parameter', '/ws?client_id=abc', undefined],
  ['an invalid first message', '/ws', 'this is not json'],
] as const) {
  test(`hypha's close code and reason for ${name} pass through unchanged`, async () => {
    const runOnce = async (base: string) => {
      const session = rawConnect(`${base}${path}`);
      const opened = await session.opened;
      if (opened && first) session.ws.send(first);
      const outcome = await session.closed;
      return { opened, status: outcome.status, close: outcome.close, texts: outcome.messages.map((m) => [m.isBinary, m.data.toString()]) };
    };
    const direct = await runOnce(hyphaUrl);
    const viaPair = await runOnce(pair.edgeUrl);
    assert.ok(direct.close || direct.status, 'the direct connection must end somehow');
    assert.deepEqual(viaPair, direct);
  });
}

test('the gateway passes plain clients (no edge) straight through to hypha', async () => {
  const session = rawConnect(`${pair.gateway.url}/ws`);
  assert.equal(await session.opened, true);
  session.ws.send(handshakeMessage(`plain-${randomUUID()}`));
  const info = await session.nextMessage();
  assert.equal(JSON.parse(info.data.toString()).type, 'connection_info');
  session.ws.close(4321, 'custom close');
  assert.equal((await session.closed).close?.code, 4321);
});

test('an edge with the wrong link secret refuses clients with 503 and reports HYPHA_ACCEL_ERR_AUTH', async () => {
  const wrong = await startAccelPair(hyphaUrl, { edgeSecret: 'a-completely-different-secret-value', edge: { linkWaitMs: 1500 } });
  try {
    const session = rawConnect(`${wrong.edgeUrl}/ws`);
    assert.equal(await session.opened, false);
    assert.equal(session.outcome.status, 503);
    assert.equal(wrong.edge.pool.lastError?.code, 'HYPHA_ACCEL_ERR_AUTH');
    // The gateway keeps serving correctly configured edges.
    const good = rawConnect(`${pair.edgeUrl}/ws`);
    assert.equal(await good.opened, true);
    good.ws.close();
  } finally {
    await wrong.close();
  }
});

test('hypha unreachable behind the gateway: the upgrade is answered 502, never 403 or a close', async () => {
  const deadPort = await freePort();
  const broken = await startAccelPair(`http://127.0.0.1:${deadPort}`);
  try {
    const session = rawConnect(`${broken.edgeUrl}/ws`);
    assert.equal(await session.opened, false);
    assert.equal(session.outcome.status, 502);
    const http = await fetch(`${broken.edgeUrl}/health/liveness`);
    assert.equal(http.status, 502);
  } finally {
    await broken.close();
  }
});
