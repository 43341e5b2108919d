// What an unauthenticated client learns when hypha is unreachable: a fixed 502 text with a stable code,
// never the internal error (addresses, errno); and what the logs keep of a request target: the query's
// parameter names, never their values (tokens).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { freePort } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { rawHttp, upgradeRequest } from '../helpers/raw-http.js';
import { loadConfig, readSecret } from '../../src/config/load.js';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.js';
import { redactTarget } from '../../src/net/redact.js';

const logLines: string[] = [];
let gateway: GatewayHandle;
let deadPort: number;

before(async () => {
  deadPort = await freePort(); // nothing listens here: hypha is unreachable
  const secretFile = writeSecret();
  const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  const log = pino({ level: 'debug' }, sink);
  gateway = await startGateway(loadConfig('gateway', { flags: { listen: '127.0.0.1:0', hyphaUrl: `http://127.0.0.1:${deadPort}`, secretFile, shm: false }, env: {} }), { secret: readSecret(secretFile), log });
});
after(async () => {
  await gateway?.close(1000);
});

const LEAKS = /ECONNREFUSED|connect |127\.0\.0\.1|::1/;

test('HTTP passthrough: the 502 body names the code, not the internal error; the log redacts the token', async () => {
  const res = await fetch(`${gateway.url}/login?token=SECRET-HTTP-TOKEN&x=1`);
  assert.equal(res.status, 502);
  const body = await res.text();
  assert.match(body, /HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE/);
  assert.doesNotMatch(body, LEAKS);
  const logged = logLines.join('');
  assert.match(logged, /ECONNREFUSED/, 'the operator still sees the cause in the log');
  assert.match(logged, /\/login\?token=\.\.\.&x=\.\.\./);
  assert.doesNotMatch(logged, /SECRET-HTTP-TOKEN/);
});

test('WebSocket upgrade: the 502 body names the code, not the internal error; the log redacts the token', async () => {
  const answer = await rawHttp(gateway.port, upgradeRequest({ target: '/ws?token=SECRET-WS-TOKEN' }));
  assert.equal(answer.status, 502);
  const body = answer.text.slice(answer.text.indexOf('\r\n\r\n'));
  assert.match(body, /HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE/);
  assert.doesNotMatch(body, LEAKS);
  assert.doesNotMatch(logLines.join(''), /SECRET-WS-TOKEN/);
});

test('redactTarget keeps the path and parameter names only', () => {
  assert.equal(redactTarget('/ws?token=abc&reconnection_token=def'), '/ws?token=...&reconnection_token=...');
  assert.equal(redactTarget('/health/liveness'), '/health/liveness');
  assert.equal(redactTarget(undefined), undefined);
});
