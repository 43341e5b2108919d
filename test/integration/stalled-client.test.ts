// A client that stops reading (its process is stopped with SIGSTOP) while another client pushes ~120 MiB of
// calls at its service through the pair: backpressure reaches hypha's socket instead of the proxies'
// memory, which stays bounded, and another client's calls through the same edge and link go on.
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { startService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair } from '../helpers/accel-pair.js';

const PUSH_CALLS = 600;
const PUSH_BYTES = 200 * 1024;
/**
 * The bounds on what each proxy holds per peer or process, set small so the test can tell them from a
 * backlog: the payload plane's dedupe store, the retransmit logs, the credit window per session.
 */
const BOUNDS = { payloadStoreBytes: 4 << 20, resumeBufferBytes: 8 << 20, resumeProcessBufferBytes: 16 << 20, windowBytes: 1 << 20 };
/** What edge and gateway (both in this process) may hold together: each bound, twice (edge and gateway), plus
 * slack for socket, parser and in-flight buffers (peaks of 15-46 MiB were seen; an unbounded backlog holds ~117). */
const MEMORY_BOUND_BYTES = 2 * (BOUNDS.payloadStoreBytes + BOUNDS.resumeProcessBufferBytes + 2 * BOUNDS.windowBytes) + (24 << 20);

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes of live buffers in this process (edge and gateway) after a full collection: what they hold, not garbage. */
function heldBytes(): number {
  gc();
  const { arrayBuffers, heapUsed } = process.memoryUsage();
  return arrayBuffers + heapUsed;
}

describe('a client that stops reading', () => {
  let pair: AccelPair | undefined;
  const procs: ServiceProcess[] = [];
  let victim: ServiceProcess | undefined;

  before(async () => {
    pair = await startAccelPair(await serverUrlFromEnv(), { edge: BOUNDS, gateway: BOUNDS });
    victim = await startService('py', pair.edgeUrl, uniqueServiceId('py-stopped'));
    procs.push(victim, await startService('js', pair.edgeUrl, uniqueServiceId('js-bystander'), { program: 'looper' }));
  });
  after(async () => {
    if (victim) process.kill(victim.pid, 'SIGCONT');
    await Promise.all(procs.map((p) => p.stop()));
    await pair?.close();
  });

  test(`${(PUSH_CALLS * PUSH_BYTES) >> 20} MiB pushed at it: proxy memory grows by less than ${MEMORY_BOUND_BYTES >> 20} MiB, other calls go on`, async () => {
    const looper = procs[1]!;
    await looper.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000);
    const pusher = await startService('js', pair!.edgeUrl, victim!.serviceId, { program: 'pusher', env: { PUSH_CALLS: String(PUSH_CALLS), PUSH_BYTES: String(PUSH_BYTES) } });
    procs.push(pusher);
    process.kill(victim!.pid, 'SIGSTOP');
    const baseline = heldBytes();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, heldBytes())), 250);
    try {
      process.kill(pusher.pid, 'SIGUSR1');
      await pusher.waitForEvent((e) => e.event === 'pushed', 60_000);
      const sentBefore = pair!.gateway.linkStats.frameBytesSent;
      // While the push is under way, the bystander's rounds go on and all are answered.
      const rounds = looper.countEvents('call');
      const since = Date.now();
      await looper.waitForEventCount('call', rounds + 30, 60_000);
      const calls = looper.events.filter((e) => e.event === 'call' && Number(e.t) >= since);
      assert.deepEqual(calls.filter((e) => e.ok !== true), [], 'bystander rounds failed');
      const gatewayToEdgeBytes = pair!.gateway.linkStats.frameBytesSent - sentBefore;
      console.log(`pushed ${(PUSH_CALLS * PUSH_BYTES) >> 20} MiB at a stopped client; proxies held at most ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB more (live heap + buffers after GC, sampled every 250 ms), ${((heldBytes() - baseline) / 2 ** 20).toFixed(1)} MiB more at the end; gateway sent ${(gatewayToEdgeBytes / 2 ** 20).toFixed(1)} MiB over the link meanwhile; bystander ${calls.length} rounds, all answered`);
      assert.ok(peak - baseline < MEMORY_BOUND_BYTES, `proxy memory grew by ${peak - baseline} bytes`);
    } finally {
      clearInterval(sampler);
    }
  });
});
