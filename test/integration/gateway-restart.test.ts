// The gateway instance is gone: a gateway process killed (SIGKILL: no DRAIN, no GOAWAY, its upstream sockets
// die with it) and started again on the same port. Nothing can resume its sessions. The edge meets the new
// instance in the same slot (host, port, worker; docs/protocol.md §9a), asks it to resume, is refused (410)
// and closes each client with 1011 (HYPHA_ACCEL_ERR_RESUME_REFUSED) at once. The grace period is set far
// beyond every wait of this test, so an expiry (1001) cannot be what closes them. Both roles are real CLI
// processes; a raw WebSocket client shows the exact close code; real Python and JS hypha-rpc loopers log it,
// reconnect through the new gateway, re-register their services and are answered again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { freePort, serverUrlFromEnv } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { startCliRole, type CliRole } from '../helpers/cli-role.js';
import { handshakeMessage } from '../helpers/raw-ws.js';
import { rawClientConnect, type RawConnection } from '../helpers/raw-peers.js';

/** Far longer than this test waits for anything: a close seen here is never the grace period's. */
const GRACE_MS = 600_000;
const RECOVERY_TIMEOUT_MS = 60_000;

describe('the gateway instance is gone (killed and restarted): clients are closed with 1011 and reconnect', () => {
  let gateway: CliRole | undefined;
  let edge: CliRole | undefined;
  let raw: RawConnection | undefined;
  const loopers: ServiceProcess[] = [];
  let hyphaUrl = '';
  const secretFile = writeSecret();
  let gatewayPort = 0;
  const gatewayFlags = () => ['--hypha-url', hyphaUrl, '--secret-file', secretFile, '--listen', `127.0.0.1:${gatewayPort}`, '--resume-grace-ms', String(GRACE_MS), '--log-level', 'info'];

  before(async () => {
    hyphaUrl = await serverUrlFromEnv();
    gatewayPort = await freePort();
    gateway = await startCliRole('gateway', gatewayFlags());
    edge = await startCliRole('edge', ['--gateway-url', `tcp://127.0.0.1:${gatewayPort}`, '--secret-file', secretFile, '--resume-grace-ms', String(GRACE_MS), '--log-level', 'info']);
    raw = await rawClientConnect(edge.url, '/ws');
    raw.sendText(handshakeMessage(`raw-${randomBytes(4).toString('hex')}`));
    await raw.until((o) => o.messages.length > 0, 'connection_info');
    for (const lang of ['py', 'js'] as const) loopers.push(await startService(lang, edge.url, uniqueServiceId(`${lang}-restart`), { program: 'looper' }));
    for (const looper of loopers) await looper.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000);
  });
  after(async () => {
    await Promise.all(loopers.map((l) => l.stop()));
    raw?.socket.destroy();
    for (const role of [edge, gateway]) {
      if (role && role.child.exitCode === null) {
        role.child.kill('SIGKILL');
        await role.exited;
      }
    }
  });

  test('SIGKILL and restart of the gateway: 1011 at once (not the grace period), then reconnect, re-register, calls work', async () => {
    const registered = loopers.map((l) => l.countEvents('services_registered'));
    const oldGateway = gateway!;
    oldGateway.child.kill('SIGKILL');
    await oldGateway.exited;
    const killedAt = Date.now();
    gateway = await startCliRole('gateway', gatewayFlags());

    // The raw client: exactly 1011, the reason naming the refusal.
    await raw!.until((o) => o.close !== undefined, 'a Close from the edge', RECOVERY_TIMEOUT_MS);
    const close = raw!.observed.close!;
    console.log(`raw client closed ${Date.now() - killedAt} ms after the kill: ${close.code} ${close.reason}`);
    assert.equal(close.code, 1011, `close code (reason: ${close.reason})`);
    // The edge's log line reaches us through a pipe, possibly after the Close did: wait for it (bounded).
    for (const deadline = Date.now() + 10_000; !/resume refused/.test(edge!.log()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    assert.match(edge!.log(), /resume refused/, 'the edge logged the refusal');
    assert.doesNotMatch(edge!.log(), /HYPHA_ACCEL_ERR_RESUME_EXPIRED/, 'no session ended by its grace period');

    for (const [index, looper] of loopers.entries()) {
      await looper.waitForEventCount('services_registered', registered[index]! + 1, RECOVERY_TIMEOUT_MS).catch((error: Error) => {
        throw new Error(`${looper.lang}: no re-registration after the gateway restart (${error.message})\n${looper.stderrTail(30)}`);
      });
      const reRegisteredAt = Number([...looper.events].reverse().find((e) => e.event === 'services_registered')?.t ?? killedAt);
      await looper.waitForEvent((e) => e.event === 'call' && e.ok === true && Number(e.t) > reRegisteredAt, RECOVERY_TIMEOUT_MS);
      // hypha-rpc logs the close code it saw (Python: logging, JS: console.warn).
      assert.match(looper.stderrTail(400), /\(code: 1011\)/, `${looper.lang}: the client saw 1011\n${looper.stderrTail(30)}`);
      assert.ok(looper.countEvents('connected') >= 1, `${looper.lang}: the client reconnected`);
      console.log(`${looper.lang}: reconnected ${looper.countEvents('connected')}, re-registered, answering again ${Date.now() - killedAt} ms after the kill`);
    }
  });
});
