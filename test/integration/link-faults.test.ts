// Real hypha, real Python and JS hypha-rpc loopers through edge -> fault proxy -> gateway, under the faults
// a bad path adds besides outages:
// - slow reads: the proxy reads each direction of the link at a bounded rate, so TCP backpressure reaches
//   the proxy that sends. A client pushes far more than the proxies may hold at a service beside hypha; the
//   proxies' memory stays under their bounds, and the loopers' calls are answered, each exactly once.
// - corruption the link must catch (plain TCP, no TLS): a DATA frame whose type byte no longer names a frame
//   type (HYPHA_ACCEL_ERR_BAD_FRAME) and one whose sequence number is off by one (HYPHA_ACCEL_ERR_PROTOCOL).
//   The receiving proxy drops the link and the sessions resume on a new link, replaying what the bad frame
//   carried: no call fails, no client reconnects, the service runs each echo once, every echo is byte-exact.
//   Only these fields are aimed at because only they are guaranteed to be caught on a plain TCP link: a
//   flipped byte inside a DATA payload travels unnoticed (docs/security.md). On a TLS link a flip anywhere
//   in the stream fails TLS's record check: the last test shows the link dropped at once (before the fix in
//   src/net/tcp-link-transport.ts the edge's TLS socket stayed open after the peer's alert, the link hung
//   until the keep-alive timeout and two calls timed out) and the sessions resumed.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { startService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startAccelPair, type AccelPair, type AccelPairOptions } from '../helpers/accel-pair.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { FrameType } from '../../src/link/frame.js';
import type { LinkEvent } from '../../src/events.js';

interface Rig {
  pair: AccelPair;
  proxy: FaultProxy;
  loopers: ServiceProcess[];
  close(): Promise<void>;
}

async function startRig(options: Omit<AccelPairOptions, 'linkPort'> = {}): Promise<Rig> {
  let proxy: FaultProxy | undefined;
  const pair = await startAccelPair(await serverUrlFromEnv(), {
    link: 'tcp',
    ...options,
    linkPort: async (gatewayPort) => {
      proxy = new FaultProxy(gatewayPort);
      return proxy.start();
    },
  });
  const loopers: ServiceProcess[] = [];
  for (const lang of ['py', 'js'] as const) loopers.push(await startService(lang, pair.edgeUrl, uniqueServiceId(`${lang}-faults`), { program: 'looper' }));
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

/** Polls (bounded, every 20 ms) until `condition` holds. */
async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every round since `sinceMs` answered byte-exact, each echo run once by the service, no reconnect, nothing re-registered. */
function assertUntouched(loopers: ServiceProcess[], sinceMs: number, registered: number[], what: string): void {
  for (const [index, looper] of loopers.entries()) {
    const calls = looper.events.filter((e) => e.event === 'call' && Number(e.t) >= sinceMs);
    const failed = calls.filter((e) => e.ok !== true);
    const invoked = looper.events.filter((e) => e.event === 'echo_invoked');
    const seen = new Set(invoked.map((e) => String(e.token)));
    console.log(`${looper.lang}: ${calls.length} rounds during ${what}, ${failed.length} failed, disconnected ${looper.countEvents('disconnected')}, connected ${looper.countEvents('connected')}`);
    assert.deepEqual(failed, [], `${looper.lang}: failed rounds\n${looper.stderrTail(20)}`);
    assert.equal(looper.countEvents('disconnected'), 0, `${looper.lang}: the client saw a disconnect\n${looper.stderrTail(20)}`);
    assert.equal(looper.countEvents('connected'), 0, `${looper.lang}: the client reconnected`);
    assert.equal(looper.countEvents('services_registered'), registered[index], `${looper.lang}: services re-registered`);
    assert.deepEqual(invoked.filter((e) => Number(e.n) > 1), [], `${looper.lang}: an echo ran more than once`);
    assert.deepEqual(calls.filter((e) => !seen.has(String(e.token))), [], `${looper.lang}: answered rounds whose echo the service never ran`);
  }
}

/** Link events (both roles, this process) while `body` runs. */
async function recordingLinkEvents<T>(body: (events: LinkEvent[]) => Promise<T>): Promise<T> {
  const events: LinkEvent[] = [];
  const listener = (message: unknown) => void events.push(message as LinkEvent);
  diagnostics.subscribe('hypha-accel:link', listener);
  try {
    return await body(events);
  } finally {
    diagnostics.unsubscribe('hypha-accel:link', listener);
  }
}

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes of live buffers in this process (edge, gateway, fault proxy) after a full collection. */
function heldBytes(): number {
  gc();
  const { arrayBuffers, heapUsed } = process.memoryUsage();
  return arrayBuffers + heapUsed;
}

describe('slow reads: the link is read at 32 MiB/s each way while a client pushes 100 MiB', () => {
  const READ_BYTES_PER_SEC = 32 << 20;
  const PUSH_CALLS = 500;
  const PUSH_BYTES = 200 * 1024;
  /** Small bounds so a backlog stands out; the payload plane off, so every pushed byte crosses the slow link. */
  const BOUNDS = { payloadStoreBytes: 1 << 20, resumeBufferBytes: 8 << 20, resumeProcessBufferBytes: 16 << 20, windowBytes: 1 << 20, payload: false };
  /** What edge and gateway may hold together: each bound twice, plus slack for socket, parser and in-flight
   * buffers (as in stalled-client.test.ts); a backlog of the push would be ~100 MiB. */
  const MEMORY_BOUND_BYTES = 2 * (BOUNDS.payloadStoreBytes + BOUNDS.resumeProcessBufferBytes + 2 * BOUNDS.windowBytes) + (24 << 20);
  let rig: Rig | undefined;
  let service: ServiceProcess | undefined;
  let pusher: ServiceProcess | undefined;
  before(async () => {
    rig = await startRig({ edge: BOUNDS, gateway: BOUNDS });
    service = await startService('py', await serverUrlFromEnv(), uniqueServiceId('py-beside-hypha'));
    pusher = await startService('js', rig.pair.edgeUrl, service.serviceId, { program: 'pusher', env: { PUSH_CALLS: String(PUSH_CALLS), PUSH_BYTES: String(PUSH_BYTES) } });
  });
  after(async () => {
    await Promise.all([pusher, service].map((p) => p?.stop()));
    await rig?.close();
  });

  test(`memory stays under ${MEMORY_BOUND_BYTES >> 20} MiB more, every looper call answered exactly once`, async () => {
    const { proxy, loopers, pair } = rig!;
    const registered = loopers.map((l) => l.countEvents('services_registered'));
    const startedAt = Date.now();
    proxy.slowReads(READ_BYTES_PER_SEC);
    const upBefore = pair.gateway.linkStats.frameBytesReceived;
    const downBefore = pair.edge.linkStats.frameBytesReceived;
    const baseline = heldBytes();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, heldBytes())), 250);
    try {
      process.kill(pusher!.pid, 'SIGUSR1');
      const pushed = PUSH_CALLS * PUSH_BYTES;
      // Every pushed byte crossed the slow link up, and every echo of it came back down.
      await until(() => pair.gateway.linkStats.frameBytesReceived - upBefore >= pushed, 'the push to cross the link', 120_000);
      await until(() => pair.edge.linkStats.frameBytesReceived - downBefore >= pushed, 'the echoes to cross the link back', 120_000);
      await moreRounds(loopers, 3);
    } finally {
      clearInterval(sampler);
      proxy.heal();
    }
    console.log(`slow reads at ${READ_BYTES_PER_SEC >> 20} MiB/s, ${(PUSH_CALLS * PUSH_BYTES) >> 20} MiB pushed each way: proxies held at most ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB more; the fault proxy held at most ${(proxy.peakUnwrittenBytes / 1024).toFixed(0)} KiB`);
    assert.ok(peak - baseline < MEMORY_BOUND_BYTES, `proxy memory grew by ${peak - baseline} bytes`);
    assertUntouched(loopers, startedAt, registered, 'slow reads under a push');
  });
});

describe('corruption caught by the link (plain TCP): the link is dropped, sessions resume', () => {
  let rig: Rig | undefined;
  before(async () => {
    rig = await startRig();
  });
  after(async () => rig?.close());

  const cases = [
    // 0x13 ^ 0x80 = 0x93: no frame type, the gateway's decoder refuses the frame.
    { what: 'a DATA frame to the gateway whose type byte names no frame type', direction: 'up', offset: 0, xor: 0x80, detector: 'gateway', code: 'HYPHA_ACCEL_ERR_BAD_FRAME' },
    // The last byte of the sequence number: not the next one the edge expects on that stream.
    { what: 'a DATA frame to the edge whose sequence number is off by one', direction: 'down', offset: 11, xor: 0x01, detector: 'edge', code: 'HYPHA_ACCEL_ERR_PROTOCOL' },
  ] as const;
  for (const fault of cases) {
    test(`${fault.what}: ${fault.code} at the ${fault.detector}, resumed, no call fails, no reconnect`, async () => {
      const { proxy, loopers } = rig!;
      const registered = loopers.map((l) => l.countEvents('services_registered'));
      const acceptedBefore = proxy.accepted;
      await moreRounds(loopers, 2);
      const startedAt = Date.now();
      await recordingLinkEvents(async (events) => {
        proxy.corruptFrames({ direction: fault.direction, type: FrameType.DATA, offset: fault.offset, xor: fault.xor, count: 1 });
        await until(() => events.some((e) => e.role === fault.detector && e.event === 'down' && e.errorCode === fault.code), `the ${fault.detector} to drop the link with ${fault.code}`);
        // Link lifecycle for observers (metrics, spans): the edge reports each session it took back over a new link.
        await until(() => events.some((e) => e.role === 'edge' && e.event === 'resume' && e.errorCode === undefined), 'the edge to report a resumed session');
        console.log(`link events: ${JSON.stringify(events.map((e) => [e.role, e.event, e.errorCode]))}`);
      });
      await moreRounds(loopers, 5);
      assert.equal(proxy.corruptedBytes > 0, true);
      assert.ok(proxy.accepted > acceptedBefore, 'the edge dialed a new link (the sessions moved)');
      assertUntouched(loopers, startedAt, registered, fault.what);
    });
  }
});

describe('corruption anywhere on a TLS link: TLS catches it, the link is dropped, sessions resume', () => {
  let rig: Rig | undefined;
  before(async () => {
    const ca = makeTestCa();
    rig = await startRig({ link: 'tls', gateway: { tlsCertFile: ca.certPath, tlsKeyFile: ca.keyPath }, edge: { caFile: ca.caPath } });
  });
  after(async () => rig?.close());

  test('one byte flipped 64 KiB into what the edge sends on a fresh link: the link is dropped at once, no call fails, no reconnect', async () => {
    const { proxy, loopers } = rig!;
    const registered = loopers.map((l) => l.countEvents('services_registered'));
    await moreRounds(loopers, 2);
    const startedAt = Date.now();
    const acceptedBefore = proxy.accepted;
    // Offsets count from each connection's first byte: a fresh link first (the open one may be past the
    // offset), so the flip lands after its TLS and link handshakes, in whatever record carries that byte.
    await recordingLinkEvents(async (events) => {
      proxy.reset();
      await until(() => events.some((e) => e.role === 'edge' && e.event === 'up'), 'a fresh link');
      const mark = events.length;
      proxy.corruptBytes({ direction: 'up', fromByte: 64 * 1024, everyBytes: 0, xor: 0x01 });
      await until(() => proxy.corruptedBytes >= 1 && events.slice(mark).some((e) => e.event === 'down'), 'a link dropped after the flip');
      proxy.heal();
      console.log(`link events after the flip: ${JSON.stringify(events.slice(mark).map((e) => [e.role, e.event, e.errorCode, e.message?.slice(0, 100)]))}`);
    });
    await moreRounds(loopers, 5);
    assert.ok(proxy.accepted > acceptedBefore + 1, 'the edge dialed again after the corrupted link');
    assertUntouched(loopers, startedAt, registered, 'a flipped byte inside TLS');
  });
});
