// Readiness through the real CLI: on SIGTERM /ready answers 503 while the listener still accepts new
// clients (stopDelayMs), then the drain closes it; the gateway is not ready while hypha does not answer.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { writeSecret } from '../helpers/accel-pair.js';
import { rawConnect } from '../helpers/raw-ws.js';
import { cliRoleHooks, startCliRole, type CliRole } from '../helpers/cli-role.js';

const { hypha, started } = cliRoleHooks();

async function ready(role: CliRole): Promise<{ status: number; body: string }> {
  const res = await fetch(`${role.adminUrl}/ready`);
  return { status: res.status, body: await res.text() };
}

/** Polls until the condition holds (each poll is a real request; no fixed sleeps). */
async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, deadlineMs = 10_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: last ${JSON.stringify(value)}`);
    await new Promise((r) => setImmediate(r));
  }
}

test('SIGTERM: /ready turns 503 first while new clients are still accepted, then the role drains and exits 0', async () => {
  const secret = writeSecret();
  const flags = ['--log-level', 'warn', '--stop-delay-ms', '1500', '--drain-timeout-ms', '2000', '--secret-file', secret];
  const gateway = await startCliRole('gateway', ['--hypha-url', hypha.url, ...flags]);
  started.push(gateway);
  const edge = await startCliRole('edge', ['--gateway-url', gateway.url.replace('http', 'ws'), ...flags]);
  started.push(edge);
  await until('edge ready', () => ready(edge), (r) => r.status === 200);
  assert.equal((await ready(gateway)).status, 200, 'the gateway is ready while hypha answers');

  for (const role of [edge, gateway]) {
    role.child.kill('SIGTERM');
    const notReady = await until('503 after SIGTERM', () => ready(role), (r) => r.status === 503);
    assert.match(notReady.body, /draining/);
    // The listener still accepts: a new WebSocket client completes its upgrade after readiness flipped.
    const late = rawConnect(`${role.url}/ws`);
    assert.equal(await late.opened, true, 'a client connecting after the flip is still accepted');
    assert.equal((await ready(role)).status, 503, 'still not ready');
    // Then the drain closes the listener (and the late client, with 1001) and the process exits cleanly.
    const outcome = await late.closed;
    assert.equal(outcome.close?.code, 1001);
    assert.equal(await role.exited, 0);
    const port = Number(new URL(role.url).port);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(false); });
      socket.once('error', () => resolve(true));
    });
    assert.equal(refused, true, 'the listener is closed after the drain');
  }
});

test('with --workers 2, the primary holds /ready at 503 for the stop delay while the workers still accept, then they drain and it exits 0', async () => {
  // A stop delay longer than the primary's old hard-stop margin (drain + 4 s): the primary must wait it out.
  const stopDelayMs = 5000;
  const gateway = await startCliRole('gateway', ['--hypha-url', hypha.url, '--workers', '2', '--log-level', 'warn', '--stop-delay-ms', String(stopDelayMs), '--drain-timeout-ms', '500', '--secret-file', writeSecret()]);
  started.push(gateway);
  await until('gateway ready', () => ready(gateway), (r) => r.status === 200);
  const stopAt = Date.now();
  gateway.child.kill('SIGTERM');
  const notReady = await until('503 after SIGTERM', () => ready(gateway), (r) => r.status === 503);
  assert.match(notReady.body, /draining/);
  // Clients arriving during the delay are taken by the workers (round robin: two of them reach both).
  const late = [rawConnect(`${gateway.url}/ws`), rawConnect(`${gateway.url}/ws`)];
  for (const client of late) assert.equal(await client.opened, true, 'a client connecting after the flip is still accepted');
  assert.equal((await ready(gateway)).status, 503, 'still not ready');
  for (const client of late) {
    const outcome = await client.closed;
    assert.equal(outcome.close?.code, 1001, 'closed by the drain, not killed');
  }
  assert.ok(Date.now() - stopAt >= stopDelayMs, 'the workers kept their sessions for the whole stop delay');
  assert.equal(await gateway.exited, 0);
});

test('the gateway is not ready while hypha does not answer', async () => {
  // A port nothing listens on: take one, then free it.
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const deadPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const gateway = await startCliRole('gateway', ['--hypha-url', `http://127.0.0.1:${deadPort}`, '--secret-file', writeSecret(), '--log-level', 'warn', '--handshake-timeout-ms', '1000']);
  started.push(gateway);
  const answer = await ready(gateway);
  assert.equal(answer.status, 503);
  assert.match(answer.body, /hypha does not answer/);
  assert.equal((await fetch(`${gateway.adminUrl}/live`)).status, 200, 'live while not ready');
  gateway.child.kill('SIGTERM');
  assert.equal(await gateway.exited, 0);
});
