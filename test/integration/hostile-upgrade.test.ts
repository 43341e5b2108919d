// Hostile upgrades against both roles in front of a real hypha server: malformed handshakes are answered
// 400 before anything is dialed (counted at a TCP relay in front of hypha), the upstream URL never leaves
// hypha's origin and /ws, and a malformed OPEN from an edge fails only its stream, not the link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { rawHttp, upgradeRequest } from '../helpers/raw-http.js';
import { rawConnect, handshakeMessage } from '../helpers/raw-ws.js';
import { encodeSessionOpen } from '../../src/link/session-open.js';

let relay: CountingProxy;
let pair: AccelPair;

before(async () => {
  const hyphaUrl = await serverUrlFromEnv();
  relay = await startCountingProxy(Number(new URL(hyphaUrl).port));
  pair = await startAccelPair(relay.url, { edge: { links: 1 } });
});
after(async () => {
  await pair?.close();
  await relay?.close();
});

async function connectionInfo(base: string): Promise<string> {
  const session = rawConnect(`${base}/ws`);
  assert.equal(await session.opened, true, `upgrade through ${base}`);
  session.ws.send(handshakeMessage(`hostile-${randomUUID()}`));
  const info = await session.nextMessage();
  session.ws.close(1000);
  await session.closed;
  return (JSON.parse(info.data.toString()) as { type: string }).type;
}

const BAD_UPGRADES: Array<[string, Parameters<typeof upgradeRequest>[0]]> = [
  ['duplicated subprotocols "a, a"', { headers: { 'Sec-WebSocket-Protocol': 'a, a' } }],
  ['an invalid subprotocol', { headers: { 'Sec-WebSocket-Protocol': 'a b, ,' } }],
  ['a bad key', { headers: { 'Sec-WebSocket-Key': 'short' } }],
  ['a key of 15 bytes', { headers: { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAA' } }],
  ['version 8', { headers: { 'Sec-WebSocket-Version': '8' } }],
  ['no version', { headers: { 'Sec-WebSocket-Version': null } }],
  ['POST', { method: 'POST' }],
  ['Upgrade: h2c', { headers: { Upgrade: 'h2c' } }],
  ['an absolute-form target', { target: 'http://127.0.0.1:1/ws' }],
  ['a protocol-relative target', { target: '//127.0.0.1:1/ws' }],
  ['a fragment in the target', { target: '/ws#x' }],
  ['a backslash in the target', { target: '/\\127.0.0.1/ws' }],
];

for (const role of ['gateway', 'edge'] as const) {
  for (const [name, request] of BAD_UPGRADES) {
    test(`${role}: an upgrade with ${name} is answered 400 and dials nothing`, async () => {
      const port = role === 'edge' ? pair.edge.port : pair.gateway.port;
      const dialedBefore = relay.opened();
      const answer = await rawHttp(port, upgradeRequest(request));
      assert.equal(answer.status, 400, answer.text);
      assert.equal(relay.opened(), dialedBefore, 'no connection reached hypha');
    });
  }
}

for (const target of ['/other', '/ws/../health/liveness', '/.hypha-accel/../x', '/ws/']) {
  test(`gateway: an upgrade for ${target} (not hypha's /ws) is refused 400 and dials nothing`, async () => {
    const dialedBefore = relay.opened();
    const answer = await rawHttp(pair.gateway.port, upgradeRequest({ target }));
    assert.equal(answer.status, 400, answer.text);
    assert.equal(relay.opened(), dialedBefore);
  });
}

test('after the hostile upgrades both roles still serve real sessions and no upstream is left open', async () => {
  assert.equal(await connectionInfo(pair.gateway.url), 'connection_info');
  assert.equal(await connectionInfo(pair.edgeUrl), 'connection_info');
  await relay.drainedUpgrades();
});

test('a malformed OPEN from an edge fails only its stream: the link and its other sessions go on', async () => {
  const link = pair.edge.pool.readyLinks[0]!;
  const dialedBefore = relay.opened();
  for (const payload of [
    Buffer.from('not json'),
    encodeSessionOpen({ sessionId: 'x', path: 'http://127.0.0.1:1/ws', headers: {}, protocols: [], clientAddress: '' }),
    encodeSessionOpen({ sessionId: 'y', path: '/ws', headers: {}, protocols: ['a', 'a'], clientAddress: '' }),
    encodeSessionOpen({ sessionId: 'z', path: '/ws', headers: { 'x-bad': 'line\r\nbreak' }, protocols: [], clientAddress: '' }),
    encodeSessionOpen({ sessionId: 'w', path: '/ws', headers: { 'bad name': 'v' }, protocols: [], clientAddress: '' }),
  ]) {
    link.session.openStream(payload);
  }
  // Frames on one link are handled in order: a session opened after them proves the link outlived them.
  assert.equal(await connectionInfo(pair.edgeUrl), 'connection_info');
  assert.equal(link.session.closed, false, 'the link survived the malformed OPENs');
  assert.equal(pair.edge.pool.readyLinks[0], link);
  assert.equal(relay.opened(), dialedBefore + 1, 'only the real session reached hypha');
});
