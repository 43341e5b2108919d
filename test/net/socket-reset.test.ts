// resetOrDestroy (src/net/socket-reset.ts): a reset of a socket whose FIN is under way must close it, so a
// process that did one still exits by itself (Node 24's resetAndDestroy() leaves such a socket unclosed and
// the process spins in its exit cleanup forever: the integration test processes did); an open socket is
// still reset (the peer sees ECONNRESET); a TLS socket, which cannot be reset, is destroyed instead of throwing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { test } from 'node:test';
import { resetOrDestroy } from '../../src/net/socket-reset.js';
import { makeTestCa } from '../helpers/test-ca.js';

/** A bound on the child's whole life (it needs well under a second): past it, it is killed and the test fails. */
const CHILD_BOUND_MS = 30_000;

/** Runs socket-reset-child.ts with `scenario`; resolves with its exit code (null: killed at the bound) and events. */
async function runChild(scenario: string): Promise<{ code: number | null; events: string[]; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/net/socket-reset-child.ts', scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const bound = setTimeout(() => child.kill('SIGKILL'), CHILD_BOUND_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(bound);
  const events = stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { event: string }).event);
  return { code, events, stderr };
}

/** A TCP connection on loopback: the listening server, the client end and the server's end of it. */
async function connectedPair(): Promise<{ server: net.Server; client: net.Socket; peer: net.Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [peer] = (await once(server, 'connection')) as [net.Socket];
  return { server, client, peer };
}

for (const scenario of ['helper', 'mirror-close'] as const) {
  test(`${scenario}: a socket reset while its FIN is under way is closed, and its process exits by itself`, async () => {
    const { code, events, stderr } = await runChild(scenario);
    assert.equal(code, 0, `the child did not exit by itself within ${CHILD_BOUND_MS} ms (events ${JSON.stringify(events)})\n${stderr}`);
    assert.ok(events.includes('closed'), `the reset socket emitted 'close' (events ${JSON.stringify(events)})`);
    assert.ok(events.includes('server closed'), 'the server closed: no connection was left open');
  });
}

test('an open socket is reset: the peer sees ECONNRESET', async () => {
  const { server, client, peer } = await connectedPair();
  await once(client, 'connect');
  const peerError = once(peer, 'error');
  resetOrDestroy(client);
  const [error] = (await peerError) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNRESET');
  assert.equal(client.destroyed, true);
  server.close();
});

test('a socket whose FIN has gone out (shutdown finished) is still reset, and closes', async () => {
  const { server, client, peer } = await connectedPair();
  peer.on('error', () => {});
  peer.resume();
  await once(client, 'connect');
  client.end();
  await once(client, 'finish');
  const closed = once(client, 'close');
  const errors: unknown[] = [];
  client.on('error', (error) => errors.push(error));
  resetOrDestroy(client);
  await closed;
  assert.deepEqual(errors, [], 'the reset was accepted (no EINVAL from reset)');
  peer.destroy();
  server.close();
});

test('a TLS socket cannot be reset: it is destroyed, nothing throws', async () => {
  const ca = makeTestCa();
  const server = tls.createServer({ key: ca.key, cert: ca.cert }, (peer) => peer.on('error', () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
  await once(client, 'secureConnect');
  const closed = once(client, 'close');
  resetOrDestroy(client);
  await closed;
  assert.equal(client.destroyed, true);
  server.close();
});
