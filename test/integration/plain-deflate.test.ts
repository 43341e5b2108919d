// Plain clients that reach hypha through the gateway (no edge): permessage-deflate is off unless
// plainClientDeflate turns it on (for remote plain clients behind a slow network).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';

function negotiatedExtensions(gatewayUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gatewayUrl.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: true });
    ws.once('open', () => {
      resolve(ws.extensions);
      ws.close();
    });
    ws.once('error', reject);
  });
}

let hyphaUrl = '';
const pairs: AccelPair[] = [];
before(async () => {
  hyphaUrl = await serverUrlFromEnv();
});
after(async () => {
  for (const pair of pairs) await pair.close();
});

test('a plain client offering permessage-deflate gets none by default', async () => {
  const pair = await startAccelPair(hyphaUrl);
  pairs.push(pair);
  assert.equal(await negotiatedExtensions(pair.gateway.url), '');
});

test('plainClientDeflate: true negotiates it with plain clients', async () => {
  const pair = await startAccelPair(hyphaUrl, { gateway: { plainClientDeflate: true } });
  pairs.push(pair);
  assert.match(await negotiatedExtensions(pair.gateway.url), /permessage-deflate/);
});
