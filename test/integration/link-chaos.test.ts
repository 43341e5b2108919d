// Real hypha, real Python and JS hypha-rpc clients (loopers: concurrent getService + 4 KiB echo + listServices)
// through edge -> fault proxy -> gateway, while every link through the proxy is reset every few seconds:
// sessions resume on new links, so no call fails, no client sees `disconnected`, no service re-registers,
// and the service itself counts each echo invoked exactly once (a replay that ran a request twice would show).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const RESETS = 5;
const RESET_EVERY_MS = 3000;

describe('link resets under load: sessions resume', () => {
  let pair: AccelPair | undefined;
  let proxy: FaultProxy | undefined;
  const loopers: ServiceProcess[] = [];

  before(async () => {
    const hyphaUrl = await serverUrlFromEnv();
    pair = await startAccelPair(hyphaUrl, {
      linkPort: async (gatewayPort) => {
        proxy = new FaultProxy(gatewayPort);
        return proxy.start();
      },
    });
    for (const lang of ['py', 'js'] as const) loopers.push(await startService(lang, pair.edgeUrl, uniqueServiceId(`${lang}-chaos`), { program: 'looper' }));
  });
  after(async () => {
    await Promise.all(loopers.map((l) => l.stop()));
    await pair?.close();
    await proxy?.close();
  });

  test(`${RESETS} resets ${RESET_EVERY_MS / 1000} s apart: every call answered, no reconnect, no re-registration`, async () => {
    for (const looper of loopers) await looper.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000);
    const registered = loopers.map((l) => l.countEvents('services_registered'));
    const startedAt = Date.now();
    for (let i = 0; i < RESETS; i++) {
      const before = loopers.map((l) => l.countEvents('call'));
      // Wait (bounded) for calls to flow, then cut every link mid-traffic.
      for (const [index, looper] of loopers.entries()) await looper.waitForEventCount('call', before[index]! + 3, 30_000);
      await new Promise((r) => setTimeout(r, RESET_EVERY_MS / 2));
      proxy!.reset();
      await new Promise((r) => setTimeout(r, RESET_EVERY_MS / 2));
    }
    // Calls go on after the last reset.
    const afterLast = loopers.map((l) => l.countEvents('call'));
    for (const [index, looper] of loopers.entries()) await looper.waitForEventCount('call', afterLast[index]! + 5, 30_000);
    assert.ok(proxy!.resets >= RESETS, `links were reset (${proxy!.resets})`);
    for (const [index, looper] of loopers.entries()) {
      const calls = looper.events.filter((e) => e.event === 'call' && Number(e.t) >= startedAt);
      const failed = calls.filter((e) => e.ok !== true);
      console.log(`${looper.lang}: ${calls.length} calls during ${RESETS} link resets, ${failed.length} failed, disconnected ${looper.countEvents('disconnected')}`);
      assert.deepEqual(failed, [], `${looper.lang}: failed calls`);
      assert.equal(looper.countEvents('disconnected'), 0, `${looper.lang}: the client saw a disconnect\n${looper.stderrTail(20)}`);
      assert.equal(looper.countEvents('services_registered'), registered[index], `${looper.lang}: services re-registered`);
      // Exactly once, counted by the service itself: no echo ran twice (a replayed request would), and every
      // answered round's echo ran (its token was seen by the service).
      const invoked = looper.events.filter((e) => e.event === 'echo_invoked');
      const twice = invoked.filter((e) => Number(e.n) > 1);
      const seen = new Set(invoked.map((e) => String(e.token)));
      const unseen = calls.filter((e) => e.ok === true && !seen.has(String(e.token)));
      console.log(`${looper.lang}: the service counted ${invoked.length} echo invocations over ${seen.size} tokens; ${twice.length} ran more than once`);
      assert.deepEqual(twice, [], `${looper.lang}: an echo ran more than once`);
      assert.deepEqual(unseen, [], `${looper.lang}: answered rounds whose echo the service never ran`);
    }
  });
});
