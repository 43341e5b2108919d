// GOAWAY handoff: two gateway instances (real CLI processes) in front of one hypha, an edge dialling them
// through one address (a TCP forwarder standing for a Service), real Python and JS loopers calling through
// the edge. SIGTERM on the instance that carries them: its readiness flips while its listener still
// accepts; the "Service" then sends new connections to the other instance; the stopping instance says
// DRAIN; the edge dials a fresh link (other instance), closes each session with 1001 at a quiet moment,
// hypha-rpc reconnects onto the other instance and its service works again. Every call is answered.
import assert from 'node:assert/strict';
import net from 'node:net';
import diagnostics from 'node:diagnostics_channel';
import { after, before, describe, test } from 'node:test';
import { startService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { startCliRole, type CliRole } from '../helpers/cli-role.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { loadConfig, readSecret } from '../../src/config/load.js';
import { startEdge, type EdgeHandle } from '../../src/edge/edge.js';
import { createLogger } from '../../src/log.js';
import type { LinkEvent } from '../../src/events.js';

const DRAIN_TIMEOUT_MS = 20_000;
const STOP_DELAY_MS = 1000;
/** Rounds each looper must complete, all answered, after its reconnection. */
const ROUNDS_AFTER = 5;
/** Concurrent loops in py_looper.py / js-looper.ts. */
const LOOPS = 2;
/** How long before its close a failed round may have begun and still count as crossing the close (a round is 3 calls). */
const CROSSING_WINDOW_MS = 2000;

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

async function stats(role: CliRole): Promise<{ sessions: { edge: number }; links: Array<{ peerId: string }> }> {
  return (await (await fetch(`${role.adminUrl}/stats`)).json()) as { sessions: { edge: number }; links: Array<{ peerId: string }> };
}

/** Polls (each poll a real request, no fixed sleeps) until ok. */
async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: last ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('a gateway instance stopping under load hands its edges over (DRAIN)', () => {
  const gateways: CliRole[] = [];
  let forwarder: FaultProxy | undefined;
  let edge: EdgeHandle | undefined;
  const loopers: ServiceProcess[] = [];
  const linkEvents: Array<LinkEvent & { t: number }> = [];
  const onLink = (m: unknown) => linkEvents.push({ ...(m as LinkEvent), t: Date.now() });

  before(async () => {
    const hyphaUrl = await serverUrlFromEnv();
    const secretFile = writeSecret();
    for (let i = 0; i < 2; i++) {
      gateways.push(await startCliRole('gateway', ['--hypha-url', hyphaUrl, '--secret-file', secretFile, '--stop-delay-ms', String(STOP_DELAY_MS), '--drain-timeout-ms', String(DRAIN_TIMEOUT_MS), '--log-level', 'info']));
    }
    forwarder = new FaultProxy(Number(new URL(gateways[0]!.url).port));
    const forwarderPort = await forwarder.start();
    diagnostics.subscribe('hypha-accel:link', onLink);
    const config = loadConfig('edge', { flags: { listen: '127.0.0.1:0', gatewayUrl: `tcp://127.0.0.1:${forwarderPort}`, secretFile, adminListen: '' }, env: {} });
    edge = await startEdge(config, { secret: readSecret(secretFile), log: createLogger(process.env.HYPHA_ACCEL_TEST_LOG_LEVEL ?? 'silent') });
    for (const lang of ['py', 'js'] as const) loopers.push(await startService(lang, edge.url, uniqueServiceId(`${lang}-drain`), { program: 'looper' }));
  });
  after(async () => {
    diagnostics.unsubscribe('hypha-accel:link', onLink);
    await Promise.all(loopers.map((l) => l.stop()));
    await edge?.close(2000);
    await forwarder?.close();
    for (const gateway of gateways) gateway.child.kill('SIGKILL');
  });

  test('SIGTERM: readiness first, DRAIN, sessions move to the other instance, every call answered', async () => {
    const [stopping, staying] = [gateways[0]!, gateways[1]!];
    for (const looper of loopers) await looper.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000);
    assert.equal((await stats(stopping)).sessions.edge, 2, 'both loopers are carried by the first instance');
    const stoppingId = edge!.linkInfo()[0]!.peerId;
    const registeredBefore = loopers.map((l) => l.countEvents('services_registered'));
    const startedAt = Date.now();

    stopping.child.kill('SIGTERM');
    let exitedAt = Infinity;
    void stopping.exited.then(() => (exitedAt = Date.now()));
    await until('stopping instance not ready', () => status(`${stopping.adminUrl}/ready`), (s) => s === 503, 10_000);
    assert.equal(await accepts(Number(new URL(stopping.url).port)), true, 'readiness flipped while the listener still accepts');
    forwarder!.retarget(Number(new URL(staying.url).port)); // the Service drops the instance that is not ready

    // Each looper is closed with 1001 at a quiet moment, reconnects (onto the other instance) and goes on.
    for (const [index, looper] of loopers.entries()) await looper.waitForEventCount('services_registered', registeredBefore[index]! + 1, DRAIN_TIMEOUT_MS);
    const reconnectedAt = Date.now();
    for (const looper of loopers) await looper.waitForEventCount('call', looper.countEvents('call') + ROUNDS_AFTER * 2, 30_000);
    assert.equal(await stopping.exited, 0, 'the stopping instance exits cleanly');
    const stopSeconds = (exitedAt - startedAt) / 1000;
    assert.ok(exitedAt - startedAt < STOP_DELAY_MS + DRAIN_TIMEOUT_MS, `it exits before its drain deadline, its sessions gone (${stopSeconds} s)`);

    const after = await stats(staying);
    // At least the two loopers (hypha-rpc may hold a second connection for a moment while it reconnects).
    assert.ok(after.sessions.edge >= 2, `both loopers are now carried by the other instance (${after.sessions.edge} sessions)`);
    assert.ok(edge!.linkInfo().every((l) => l.peerId !== stoppingId), 'the edge has no link left to the stopped instance');
    console.log(`edge link events (ms after SIGTERM): ${linkEvents.filter((e) => e.t >= startedAt && e.event !== 'rtt').map((e) => `${e.event}${e.message ? `(${e.message})` : ''}@${e.t - startedAt}`).join(' ')}`);
    const drains = linkEvents.filter((e) => e.role === 'edge' && e.event === 'drain');
    const closes = linkEvents.filter((e) => e.role === 'edge' && e.event === 'drain-close');
    assert.ok(drains.length >= 1, 'the edge was told DRAIN');
    assert.deepEqual(closes.map((e) => e.message), ['quiet', 'quiet'], 'both sessions closed at a quiet moment, none at the deadline');

    // What hypha-rpc lets a proxy promise (as for a hypha restart, close-restart.test.ts): every round begun
    // before the client was closed is answered (nothing in flight is lost: the close waited for a moment with no
    // call pending), and every round begun after its services are registered again. Between the two, the
    // client's own service is unregistered (hypha drops a disconnected client's services), so a round that
    // looks it up then fails at get_service: counted and shown, allowed only there.
    for (const looper of loopers) {
      const at = (event: string) => Number(looper.events.find((e) => e.event === event && Number(e.t) >= startedAt)?.t ?? NaN);
      // Ready again once it re-registered AND its loops have the new manager (either event may come first; a
      // lookup begun between them goes to the old manager id and times out, directly too: close-restart.test.ts).
      const servicesAt = at('services_registered');
      const managerAt = at('manager_refreshed');
      const registeredAt = Number.isNaN(managerAt) ? servicesAt : Math.max(servicesAt, managerAt);
      // The edge's close of this client: its last drain close before the client noticed (its `disconnected`
      // event, which hypha-rpc in Python emits late or not at all on a close it recovers from) or, without that
      // event, the first drain close after its last answered round begun before it registered again (a closed
      // client answers nothing until then; the last close before the re-registration can be the OTHER looper's,
      // as the edge closes them one at a time: seen once, in CI on a33712f). A round the loop begins between the
      // edge's close and the client noticing it fails at its first stage (get_service) and counts as begun after
      // the close.
      const disconnectedAt = at('disconnected');
      const rounds = looper.events.filter((e) => e.event === 'call' && Number(e.t) >= startedAt - 1000);
      const lastCloseBefore = (t: number) => Math.max(...closes.map((e) => e.t).filter((closeAt) => closeAt <= t));
      const lastAnswered = Math.max(...rounds.filter((e) => e.ok === true && Number(e.t) < registeredAt).map((e) => Number(e.t)));
      const firstCloseAfterAnswered = Math.min(...closes.map((e) => e.t).filter((closeAt) => closeAt >= lastAnswered));
      const closedAt = !Number.isNaN(disconnectedAt)
        ? Math.min(disconnectedAt, lastCloseBefore(disconnectedAt))
        : firstCloseAfterAnswered < registeredAt ? firstCloseAfterAnswered : lastCloseBefore(registeredAt - 1);
      const failed = (from: number, to: number) => rounds.filter((e) => e.ok !== true && Number(e.t) >= from && Number(e.t) < to);
      const between = failed(closedAt, registeredAt);
      console.log(`${looper.lang}: ${rounds.length} rounds from 1 s before SIGTERM; closed ${closedAt - startedAt} ms after SIGTERM, services registered again ${registeredAt - closedAt} ms later; rounds failed: ${failed(0, closedAt).length} begun before the close (crossing it), ${between.length} while re-registering (${[...new Set(between.map((e) => e.stage))].join(',')}), ${failed(registeredAt, Infinity).length} after; instance exited ${stopSeconds} s after SIGTERM`);
      assert.ok(closedAt > 0 && registeredAt > closedAt, `${looper.lang}: closed and registered again (${closedAt}, ${registeredAt})`);
      // A call pending when the edge looks is never cut; one the client sends in the instant between that look
      // and the close frame reaching it can be (the close and the request cross): at most each loop's round in
      // progress at the close, begun shortly before it (one per loop). Seen in 1 of 4 runs at a load average of ~20.
      const crossed = failed(0, closedAt);
      const loopsCrossed = new Set(crossed.map((e) => e.loop));
      assert.ok(crossed.length <= LOOPS && loopsCrossed.size === crossed.length && crossed.every((e) => Number(e.t) >= closedAt - CROSSING_WINDOW_MS), `${looper.lang}: rounds begun before the close failed\n${JSON.stringify(crossed)}\n${looper.stderrTail(20)}`);
      // A lookup begun in the first moment after re-registration can still reach the old manager and time out
      // (hypha-rpc's race, close-restart.test.ts; seen once in ~15 runs here): allowed for get_service only, 1 s.
      const lateFailures = failed(registeredAt, Infinity).filter((e) => !(Number(e.t) < registeredAt + 1000 && (e.stage === 'get_service' || e.stage === 'getService')));
      assert.deepEqual(lateFailures, [], `${looper.lang}: rounds begun after re-registration failed\n${looper.stderrTail(20)}`);
      assert.ok(between.every((e) => e.stage === 'get_service' || e.stage === 'getService'), `${looper.lang}: only the lookup of its own service may fail while it re-registers: ${JSON.stringify(between)}`);
      assert.equal(looper.countEvents('reconnection_abandoned'), 0, `${looper.lang}: hypha-rpc gave up reconnecting`);
      assert.ok(rounds.filter((e) => e.ok === true && Number(e.t) >= registeredAt).length >= ROUNDS_AFTER, `${looper.lang}: rounds answered after re-registration`);
    }
  });
});
