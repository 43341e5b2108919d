// Real hypha, real Python and JS hypha-rpc loopers through edge -> fault proxy -> gateway, with short
// keep-alive settings so outages can be short: link resets under bulk load (4 MiB echoes), a stall and a
// black hole shorter than the resume grace period (sessions resume: no call fails, no client reconnects,
// nothing re-registers), and a black hole longer than the grace period (clients are closed, reconnect
// cleanly and their services answer again).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/** Link keep-alive for these tests: a silent link is declared dead after 1 s, a hung handshake after 1 s. */
const FAST_LINK = { pingIntervalMs: 250, keepaliveTimeoutMs: 1000, handshakeTimeoutMs: 1000 };

interface Rig {
  pair: AccelPair;
  proxy: FaultProxy;
  loopers: ServiceProcess[];
  close(): Promise<void>;
}

interface RigOptions {
  looperEnv?: Record<string, string>;
  /** Settings for both roles on top of FAST_LINK. */
  settings?: Record<string, unknown>;
  langs?: Array<'py' | 'js'>;
}

async function startRig(resumeGraceMs: number, options: RigOptions = {}): Promise<Rig> {
  const hyphaUrl = await serverUrlFromEnv();
  let proxy: FaultProxy | undefined;
  const settings = { ...FAST_LINK, resumeGraceMs, ...options.settings };
  const pair = await startAccelPair(hyphaUrl, {
    edge: settings,
    gateway: settings,
    linkPort: async (gatewayPort) => {
      proxy = new FaultProxy(gatewayPort);
      return proxy.start();
    },
  });
  const loopers: ServiceProcess[] = [];
  for (const lang of options.langs ?? ['py', 'js'] as const) loopers.push(await startService(lang, pair.edgeUrl, uniqueServiceId(`${lang}-outage`), { program: 'looper', env: options.looperEnv ?? {} }));
  for (const looper of loopers) await looper.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000);
  return {
    pair,
    proxy: proxy!,
    loopers,
    async close() {
      await Promise.all(loopers.map((l) => l.stop()));
      await pair.close();
      await proxy!.close();
    },
  };
}

/** Waits (bounded) until every looper completed `rounds` more rounds than it had. */
async function moreRounds(loopers: ServiceProcess[], rounds: number, timeoutMs = 60_000): Promise<void> {
  const counts = loopers.map((l) => l.countEvents('call'));
  await Promise.all(loopers.map((l, i) => l.waitForEventCount('call', counts[i]! + rounds, timeoutMs)));
}

/** Every round since `sinceMs` answered correctly, no client re-opened its connection ("connected" fires on
 * each re-open; hypha-rpc does not always emit "disconnected" before one), nothing re-registered. */
function assertUntouched(loopers: ServiceProcess[], sinceMs: number, registered: number[], what: string): void {
  for (const [index, looper] of loopers.entries()) {
    const calls = looper.events.filter((e) => e.event === 'call' && Number(e.t) >= sinceMs);
    const failed = calls.filter((e) => e.ok !== true);
    console.log(`${looper.lang}: ${calls.length} rounds during ${what}, ${failed.length} failed, disconnected ${looper.countEvents('disconnected')}, connected ${looper.countEvents('connected')}`);
    assert.deepEqual(failed, [], `${looper.lang}: failed rounds\n${looper.stderrTail(20)}`);
    assert.equal(looper.countEvents('disconnected'), 0, `${looper.lang}: the client saw a disconnect\n${looper.stderrTail(20)}`);
    assert.equal(looper.countEvents('connected'), 0, `${looper.lang}: the client reconnected`);
    assert.equal(looper.countEvents('services_registered'), registered[index], `${looper.lang}: services re-registered`);
  }
}

describe('link resets under bulk load (4 MiB echoes): sessions resume', () => {
  const RESETS = 3;
  let rig: Rig | undefined;
  before(async () => {
    rig = await startRig(10_000, { looperEnv: { LOOPER_PAYLOAD_BYTES: String(4 * 1024 * 1024), LOOPER_CALL_TIMEOUT_S: '30' } });
  });
  after(async () => rig?.close());

  test(`${RESETS} resets mid-transfer: every echo answered with the right bytes, no reconnect`, async () => {
    const { proxy, loopers } = rig!;
    const registered = loopers.map((l) => l.countEvents('services_registered'));
    const startedAt = Date.now();
    for (let i = 0; i < RESETS; i++) {
      await moreRounds(loopers, 1);
      await delay(150); // into the next round's 4 MiB transfer
      proxy.reset();
    }
    await moreRounds(loopers, 2);
    assert.ok(proxy.resets >= RESETS, `links were reset (${proxy.resets})`);
    assertUntouched(loopers, startedAt, registered, `${RESETS} resets under bulk load`);
  });
});

/** Polls (bounded, every 5 ms) until `condition` holds. */
async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

// On loopback the payload plane steps aside (payloadBypassMbps): forced on here (0 = always the plane, shm off
// so chunks cross the link), with fresh random 4 MiB per round (nothing to deduplicate), each reset lands
// while the plane is moving a round's blobs. Replays go through the new link's plane (per-link state is never
// reused) against the pair's shared chunk stores: the echo must come back byte-exact, and the service must
// have run each echo exactly once.
describe('link resets while the payload plane carries data (fresh 4 MiB echoes, plane forced on): sessions resume', () => {
  const RESETS = 3;
  let rig: Rig | undefined;
  before(async () => {
    rig = await startRig(10_000, {
      langs: ['py'],
      settings: { payloadBypassMbps: 0, shm: false },
      looperEnv: { LOOPER_PAYLOAD_BYTES: String(4 * 1024 * 1024), LOOPER_PAYLOAD_FRESH: '1', LOOPER_CALL_TIMEOUT_S: '30' },
    });
  });
  after(async () => rig?.close());

  test(`${RESETS} resets while blobs move: every array echoed byte-exact, each echo run once, no reconnect`, async () => {
    const { proxy, loopers, pair } = rig!;
    const stats = () => ({ edge: pair.edge.linkStats.blobsSent, gateway: pair.gateway.linkStats.blobsSent });
    const registered = loopers.map((l) => l.countEvents('services_registered'));
    const startedAt = Date.now();
    const atStart = stats();
    for (let i = 0; i < RESETS; i++) {
      await moreRounds(loopers, 1);
      const before = stats().edge;
      // The next round's upload is under way through the plane (hypha-rpc cuts 4 MiB into 256 KiB messages,
      // each one blob): cut the link in the middle of it.
      await until(() => stats().edge >= before + 4, 'blobs of the next round on the link');
      proxy.reset();
    }
    const afterResets = stats();
    await moreRounds(loopers, 2);
    const atEnd = stats();
    console.log(`blobs sent: edge ${atStart.edge} -> ${afterResets.edge} -> ${atEnd.edge}, gateway ${atStart.gateway} -> ${afterResets.gateway} -> ${atEnd.gateway}`);
    assert.ok(proxy.resets >= RESETS, `links were reset (${proxy.resets})`);
    assert.ok(atEnd.edge > afterResets.edge && atEnd.gateway > afterResets.gateway, 'both directions moved blobs through the plane on the new links');
    assertUntouched(loopers, startedAt, registered, `${RESETS} resets while the payload plane carried data`);
    for (const looper of loopers) {
      const calls = looper.events.filter((e) => e.event === 'call' && Number(e.t) >= startedAt);
      const invoked = looper.events.filter((e) => e.event === 'echo_invoked');
      const twice = invoked.filter((e) => Number(e.n) > 1);
      const seen = new Set(invoked.map((e) => String(e.token)));
      const unseen = calls.filter((e) => e.ok === true && !seen.has(String(e.token)));
      assert.deepEqual(twice, [], `${looper.lang}: an echo ran more than once`);
      assert.deepEqual(unseen, [], `${looper.lang}: answered rounds whose echo the service never ran`);
    }
  });
});

describe('stall and black hole shorter than the grace period: sessions resume', () => {
  const OUTAGE_MS = 3000;
  let rig: Rig | undefined;
  before(async () => {
    rig = await startRig(10_000);
  });
  after(async () => rig?.close());

  for (const kind of ['stall', 'blackHole'] as const) {
    test(`${kind} of ${OUTAGE_MS / 1000} s (the link is declared dead after 1 s): no call fails, no reconnect`, async () => {
      const { proxy, loopers } = rig!;
      const registered = loopers.map((l) => l.countEvents('services_registered'));
      const acceptedBefore = proxy.accepted;
      await moreRounds(loopers, 3);
      const startedAt = Date.now();
      proxy[kind]();
      await delay(OUTAGE_MS);
      proxy.heal();
      await moreRounds(loopers, 5);
      assert.ok(proxy.accepted > acceptedBefore, 'the edge dialed a new link (the session moved)');
      assertUntouched(loopers, startedAt, registered, `a ${OUTAGE_MS / 1000} s ${kind}`);
    });
  }
});

describe('black hole longer than the grace period: clients reconnect cleanly', () => {
  const GRACE_MS = 1500;
  const OUTAGE_MS = 5000;
  let rig: Rig | undefined;
  before(async () => {
    rig = await startRig(GRACE_MS);
  });
  after(async () => rig?.close());

  test(`black hole of ${OUTAGE_MS / 1000} s, grace ${GRACE_MS / 1000} s: clients are closed, reconnect, re-register, and calls work again`, async () => {
    const { proxy, loopers } = rig!;
    const registered = loopers.map((l) => l.countEvents('services_registered'));
    await moreRounds(loopers, 3);
    const holeAt = Date.now();
    proxy.blackHole();
    await delay(OUTAGE_MS);
    proxy.heal();
    for (const [index, looper] of loopers.entries()) {
      await looper.waitForEventCount('services_registered', registered[index]! + 1, 60_000).catch((error: Error) => {
        throw new Error(`${looper.lang}: no re-registration after the outage (${error.message})\n${looper.stderrTail(30)}`);
      });
      // Rounds started after the re-registration are answered again.
      const reRegisteredAt = Number([...looper.events].reverse().find((e) => e.event === 'services_registered')?.t ?? holeAt);
      await looper.waitForEvent((e) => e.event === 'call' && e.ok === true && Number(e.t) > reRegisteredAt, 30_000);
      // hypha-rpc emits "connected" on each re-open (the looper subscribes after the first one).
      assert.ok(looper.countEvents('connected') >= 1, `${looper.lang}: the client reconnected`);
      const closedAt = looper.events.find((e) => e.event === 'disconnected');
      console.log(`${looper.lang}: ${closedAt ? `disconnected ${Number(closedAt.t) - holeAt} ms after the black hole began, ` : ''}reconnected ${looper.countEvents('connected')}, re-registered ${looper.countEvents('services_registered') - registered[index]!}, answering again ${Date.now() - holeAt - OUTAGE_MS} ms after the outage ended`);
    }
  });
});
