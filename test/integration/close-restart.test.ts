// A hypha server restart under load, direct and through the pair, on a private hypha server (started on
// a fixed port so it comes back on the same one; the suite's shared server is never restarted):
// - a raw endpoint that does not answer hypha's Close sees its TCP connection end as promptly through
//   the pair as directly (the issue: the edge held it open until the client's own Close);
// - every real client (Python and JS loopers, calls in flight, load within hypha's 200 messages/s per
//   connection) reconnects, re-registers, and every call it starts after both its `services_registered`
//   and `manager_refreshed` events is answered, through the pair as directly.
// What a hypha-rpc user can rely on, and so what is asserted: calls through the manager proxy of the
// latest `manager_refreshed` event, started after it and `services_registered` (either may come first:
// seen once, a round started between them timed out). Not asserted: calls in flight
// at the restart, or started between the reconnection and `manager_refreshed` (they go
// to the old manager id and time out, directly too); and calls through the `server` object of
// connect_to_server, which in hypha-rpc 0.21.47 (Python) and 0.21.40 (npm) keeps the old manager id
// after the first reconnection (its refresh handler misses the initial event and skips the first
// real one), so every manager call through it times out after a restart, directly too.
// Tolerated and logged, never a pass by silence: a Python looper whose hypha-rpc reconnection died
// (py_looper.py reports `reconnection_abandoned`: a call emitted while the socket had closed opened a
// connection itself, its failure cancelled the reconnect task; hypha-rpc 0.21.47, seen directly as
// through the pair in about 1 of 20 restarts per client).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startService, uniqueServiceId, type Lang, type ServiceProcess } from '../helpers/clients.js';
import { freePort, startHyphaServer, type HyphaServer } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { handshakeMessage } from '../helpers/raw-ws.js';
import { rawClientConnect, type RawConnection } from '../helpers/raw-peers.js';

/** How long the raw endpoint watches whether its TCP connection ends without its answering Close. */
const UNANSWERED_WATCH_MS = 1500;
/** Rounds each loop of each looper must have completed, all answered, after its re-registration. */
const ROUNDS_AFTER_REREGISTRATION = 3;
/** What recovery() reports for a Python looper whose hypha-rpc reconnection died (see the header). */
const ABANDONED = 'reconnection abandoned by hypha-rpc';
/** Concurrent loops in py_looper.py / js-looper.ts. */
const LOOPS = 2;
/** How long a looper may take to reconnect, re-register and complete its rounds. */
const RECOVERY_TIMEOUT_MS = 90_000;

describe('a hypha restart under load, direct and through the pair', () => {
  let server: HyphaServer | undefined;
  let pair: AccelPair | undefined;
  const loopers: Array<{ name: string; proc: ServiceProcess }> = [];
  const raws: Array<{ name: string; conn: RawConnection }> = [];

  before(async () => {
    server = await startHyphaServer({ port: await freePort() });
    pair = await startAccelPair(server.url);
    const targets = { direct: server.url, pair: pair.edgeUrl };
    const starts: Array<Promise<void>> = [];
    for (const [where, url] of Object.entries(targets)) {
      for (const lang of ['py', 'js'] as Lang[]) {
        starts.push(startService(lang, url, uniqueServiceId(`${lang}-loop`), { program: 'looper' }).then((proc) => void loopers.push({ name: `${lang} ${where}`, proc })));
      }
      starts.push((async () => {
        const conn = await rawClientConnect(url, '/ws');
        conn.sendText(handshakeMessage(`raw-${randomBytes(4).toString('hex')}`));
        await conn.until((o) => o.messages.length > 0, 'connection_info');
        raws.push({ name: where, conn });
      })());
    }
    await Promise.all(starts);
  });
  after(async () => {
    await Promise.all(loopers.map((l) => l.proc.stop()));
    for (const r of raws) r.conn.socket.destroy();
    await pair?.close();
    await server?.stop();
  });

  let restartStartedAt = 0;
  /** Waits until the looper re-registered after the restart and each loop completed rounds started after that. */
  async function recovery(name: string, proc: ServiceProcess): Promise<string> {
    const calls = () => proc.events.filter((e) => e.event === 'call');
    // Ready again once it re-registered AND its loops have the new manager (either event may come first).
    const firstAfterRestart = (event: string) => proc.events.find((e) => e.event === event && Number(e.t) > restartStartedAt)?.t;
    const registeredAt = () => {
      const registered = Number(firstAfterRestart('services_registered') ?? Infinity);
      return Math.max(registered, Number(firstAfterRestart('manager_refreshed') ?? registered));
    };
    const roundsAfter = (loop: number) => calls().filter((e) => e.loop === loop && Number(e.t) > registeredAt());
    const done = () => Array.from({ length: LOOPS }, (_, i) => roundsAfter(i).length >= ROUNDS_AFTER_REREGISTRATION).every(Boolean);
    const abandoned = () => proc.events.some((e) => e.event === 'reconnection_abandoned' && Number(e.t) > restartStartedAt);
    try {
      await proc.waitForEvent(() => done() || abandoned(), RECOVERY_TIMEOUT_MS);
      if (!done()) {
        console.log(`hypha restart, ${name}: ${ABANDONED} (known hypha-rpc race, see the header)`);
        return ABANDONED;
      }
    } catch {
      const seen = registeredAt() === Infinity ? 'never re-registered' : `re-registered, rounds after it: ${JSON.stringify(calls().filter((e) => Number(e.t) > registeredAt()).slice(-3))}`;
      const events = proc.events.filter((e) => e.event !== 'call').map((e) => `${e.event}@${Number(e.t) - restartStartedAt}`);
      return `${name}: not recovered within ${RECOVERY_TIMEOUT_MS} ms (${seen}; events since the restart began, ms: ${events.join(' ')}; stderr:\n${proc.stderrTail(30)})`;
    }
    const after = calls().filter((e) => Number(e.t) > registeredAt());
    const failed = after.filter((e) => e.ok !== true);
    const inWindow = calls().filter((e) => Number(e.t) > restartStartedAt && Number(e.t) <= registeredAt() && e.ok !== true).length;
    console.log(`hypha restart, ${name}: re-registered ${registeredAt() - restartStartedAt} ms after the restart began; ${after.length} rounds after it, ${failed.length} failed; ${inWindow} failed rounds started during the restart`);
    const events = proc.events.filter((e) => e.event !== 'call' && Number(e.t) > restartStartedAt).map((e) => `${e.event}@${Number(e.t) - restartStartedAt}`);
    return failed.length === 0
      ? 'answered'
      : `${name}: ${failed.length} rounds started after it was ready again failed: ${JSON.stringify(failed.slice(0, 3).map((e) => ({ ...e, t: Number(e.t) - restartStartedAt })))}; events since the restart began, ms: ${events.join(' ')}`;
  }

  test('hypha restarts: the Close and the TCP end look the same direct and through the pair', async () => {
    for (const { name, proc } of loopers) {
      await proc.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000).catch((error: Error) => {
        throw new Error(`${name}: no answered call before the restart: ${error.message}`);
      });
    }
    restartStartedAt = Date.now();
    await server!.restart();

    // The raw endpoints: hypha's Close, then (without answering it) does the TCP connection end?
    const seen: Record<string, unknown> = {};
    for (const { name, conn } of raws) {
      await conn.until((o) => o.close !== undefined || o.tcpEnd !== undefined, `${name}: hypha's Close`);
      const ended = await conn.until((o) => o.tcpEnd !== undefined, 'TCP end', UNANSWERED_WATCH_MS).then(() => true, () => false);
      const { close, tcpEnd } = conn.observed;
      seen[name] = {
        close: close ? { code: close.code, reason: close.reason } : null,
        tcpEndedWithoutAnswer: ended,
        how: tcpEnd?.how ?? null,
      };
      if (close && tcpEnd) console.log(`hypha restart, ${name}: TCP ended ${Math.round(tcpEnd.atMs - close.atMs)} ms after the Close`);
    }
    assert.equal((seen.direct as { tcpEndedWithoutAnswer: boolean }).tcpEndedWithoutAnswer, true, `hypha drops its TCP on a restart: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.pair, seen.direct);
  });

  test('every looper, direct and through the pair, reconnects and has every call after its re-registration answered', async () => {
    assert.ok(restartStartedAt > 0, 'the restart happened (previous test)');
    const recovered = await Promise.all(loopers.map(({ name, proc }) => recovery(name, proc)));
    const expected = loopers.map(({ proc }, i) => (proc.lang === 'py' && recovered[i] === ABANDONED ? ABANDONED : 'answered'));
    assert.deepEqual(recovered, expected, JSON.stringify(loopers.map((l) => l.name)));
    assert.ok(recovered.filter((r) => r === 'answered').length > 0, 'some looper recovered');
    // The load stayed within what hypha admits: no looper was closed by hypha's rate limiter (1008),
    // so every reconnection seen here is the restart's.
    assert.doesNotMatch(readFileSync(server!.logPath, 'utf8'), /Rate limit exceeded/);
  });
});
