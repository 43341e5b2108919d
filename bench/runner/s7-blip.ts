// S7 (blip): a 5 s link outage during S1-like sequential small calls and during an S3-like 16 MiB upload,
// on one rig per arm, interleaved. Two kinds of outage, both caused on the rig's emulated link:
//   stall: every byte in both directions is held for 5 s and delivered after (TCP rides it out);
//   reset: every TCP connection through the link is reset, then the link holds bytes for 5 s, so
//          reconnection attempts hang for the outage too (a middlebox or NAT that dropped its state).
//   blackhole: nothing passes for 5 s and no endpoint is told; just before the path comes back every TCP
//          connection through it is reset (a NAT that silently forgot its state during the outage): the
//          loss is found only when the path returns, unlike reset, where it is known at once.
// Figures (per measurement): callsLost (calls that raised or did not return within CALL_TIMEOUT_S; for the
// upload, 1 if it did not complete), reconnects (successful re-opens of the caller's and the service's
// hypha-rpc connections, counted from hypha-rpc's own "connected" event), servicesReRegistered (1 when a
// checked echo through the caller reaches the service after the outage), recoverySeconds (outage end to
// the first successful call completed after it; a probe echo is started every 250 ms from the outage end
// so a sequential call stuck until its deadline does not hide a recovered connection). Every echo and the
// upload's digest are checked in the client; a wrong answer fails the measurement.
// Extra figures: probesLost (recovery probes that failed: calls made while the connections come back),
// callerReconnectedAtSeconds/serviceReconnectedAtSeconds (when each re-open completed, from the outage
// end), uploadFailedAfterSeconds (a failed upload raised early, or timed out at UPLOAD_TIMEOUT_S).
// After each measurement both clients must be connected again and the service callable within
// SETTLE_TIMEOUT_MS, or the measurement is an error (and the next one on that rig says so up front).

import { interleave, withRigs } from './arms.js';
import { BenchError } from './bench-error.js';
import type { RunPlan } from './plan.js';
import type { PyClient } from './py-client.js';
import type { Figures, ProfileResult, RunContext } from './results.js';
import type { Rig, Topology } from './rig.js';
import { callerOf, measured, type ScenarioOutput } from './scenarios.js';

const OUTAGE_MS = 5000;
/** A call that has not returned this long after it started is lost (hypha-rpc's own method_timeout is 120 s). */
const CALL_TIMEOUT_S = 15;
/** The whole upload's deadline, from its start. */
const UPLOAD_TIMEOUT_S = 25;
/** S1: calls before the outage starts; S3: how far into the upload the outage starts. */
const S1_LEAD_MS = 1000;
const S3_LEAD_MS = 700;
/** S1: how long the sequential loop keeps going once a call has succeeded after the outage. */
const S1_TAIL_MS = 1000;
const PROBE_INTERVAL_S = 0.25;
const PROBE_DEADLINE_S = 40;
/** How long to wait for both clients to be connected and not reconnecting after a measurement. */
const SETTLE_TIMEOUT_MS = 30_000;
const S3_MAX_BYTES = 16 * 1024 * 1024;

type Outage = 'stall' | 'reset' | 'blackhole';
/** blackhole: how long before the outage ends the connections are reset (their held bytes die with them). */
const BLACKHOLE_RESET_LEAD_MS = 50;
type Work = 'S1' | 'S3';
type CallRecord = [number, number, string];

interface ConnState {
  connected: number;
  disconnected: number;
  registered_ok: number;
  registered_failed: number;
  last_connected_t: number | null;
  open: boolean;
  reconnecting: boolean;
  closed: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function connState(client: PyClient): Promise<ConnState> {
  return (await client.request('conn_state', {}, 10_000)) as unknown as ConnState;
}

/** The offset to add to a runner performance.now() (ms) to get the client's perf_counter (s). */
async function clockOffset(client: PyClient): Promise<number> {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 3; i += 1) {
    const before = performance.now();
    const answer = await client.request('now', {}, 10_000);
    const after = performance.now();
    if (after - before < best.rtt) best = { rtt: after - before, offset: (answer.t as number) - (before + after) / 2000 };
  }
  return best.offset;
}

/** Waits until both clients are connected and not reconnecting; returns false if they are not by the deadline. */
async function settled(clients: PyClient[], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(clients.map((c) => connState(c).catch(() => undefined)));
    if (states.every((s) => s && s.open && !s.reconnecting && !s.closed)) return true;
    if (performance.now() > deadline) return false;
    await sleep(250);
  }
}

/** A checked echo through the caller; true when it came back right within the deadline. */
async function callable(caller: PyClient, timeoutMs: number): Promise<boolean> {
  try {
    await caller.request('small_calls', { calls: 3, concurrency: 1, base: 5_000_000 }, timeoutMs);
    return true;
  } catch (err) {
    if (err instanceof BenchError && err.code === 'HYPHA_ACCEL_ERR_BENCH_WRONG_RESULT' && /wrong answers/.test(err.message)) throw err;
    return false;
  }
}

function fmt(figures: Figures): string {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(' ');
}

async function runBlip(rig: Rig, work: Work, outage: Outage, s3Bytes: number, note: (line: string) => void): Promise<ScenarioOutput> {
  const caller = callerOf(rig);
  const clients = [caller, rig.service];
  // The rig must be healthy before the outage; otherwise this measurement says nothing about the outage.
  if (!(await settled(clients, 15_000)) || !(await callable(caller, 20_000))) {
    throw new BenchError('HYPHA_ACCEL_ERR_BENCH_CLIENT', `${work}-${outage}: rig not usable before the outage (a previous outage left it broken)`);
  }
  const seed = rig.nextSeed(); // each upload is a first transfer
  if (work === 'S3') await caller.request('prepare', { kind: 'random', nbytes: s3Bytes, seed }, 120_000);
  const offsets = await Promise.all(clients.map(clockOffset));
  const toClient = (runnerMs: number, i = 0) => runnerMs / 1000 + offsets[i]!;
  const before = await Promise.all(clients.map(connState));
  const variant = `${work}-${outage}`;

  return measured(rig, variant, async () => {
    const loop = `s7-${Date.now()}`;
    const working =
      work === 'S1'
        ? caller.request('blip_calls', { loop, timeout_s: CALL_TIMEOUT_S }, 120_000)
        : caller.request('blip_bulk', { kind: 'random', nbytes: s3Bytes, seed, timeout_s: UPLOAD_TIMEOUT_S }, (UPLOAD_TIMEOUT_S + 30) * 1000);
    // Observe a failure of the work without waiting for it (it is awaited below).
    let workDone = false;
    working.then(
      () => (workDone = true),
      () => (workDone = true),
    );
    await sleep(work === 'S1' ? S1_LEAD_MS : S3_LEAD_MS);
    const workEndedBeforeOutage = workDone;
    const outageStart = performance.now();
    if (outage === 'reset') await rig.emulator.resetAll();
    await rig.emulator.blackhole(OUTAGE_MS);
    const outageEnd = outageStart + OUTAGE_MS;
    let probes: CallRecord[] = [];
    let calls: CallRecord[] = [];
    let upload: Record<string, unknown> | undefined;
    try {
      if (outage === 'blackhole') {
        await sleep(outageEnd - BLACKHOLE_RESET_LEAD_MS - performance.now());
        await rig.emulator.resetAll();
      }
      await sleep(outageEnd - performance.now());
      const probing = caller.request('probe_until_ok', { timeout_s: CALL_TIMEOUT_S, interval_s: PROBE_INTERVAL_S, deadline_s: PROBE_DEADLINE_S }, (PROBE_DEADLINE_S + CALL_TIMEOUT_S + 30) * 1000);
      probes = (await probing).probes as CallRecord[];
      if (work === 'S1') {
        await sleep(S1_TAIL_MS);
        await caller.request('stop', { loop }, 10_000);
        calls = (await working).calls as CallRecord[];
      } else {
        upload = await working;
      }
    } finally {
      // Whatever failed, never leave the next measurement inside this one's outage or with a loop running.
      await sleep(outageEnd - performance.now());
      if (work === 'S1') await caller.request('stop', { loop }, 10_000).catch(() => undefined);
      await working.catch(() => undefined);
    }

    const endT = toClient(outageEnd);
    const startT = toClient(outageStart);
    const isOk = (r: CallRecord) => r[2] === 'ok';
    const successesAfter = [...calls, ...probes].filter((r) => isOk(r) && r[1] >= endT).map((r) => r[1]);
    if (upload?.upload_ok && (upload.t_end as number) >= endT) successesAfter.push(upload.t_end as number);
    const figures: Figures = {
      callsLost: work === 'S1' ? calls.filter((r) => !isOk(r)).length : upload?.upload_ok ? 0 : 1,
      probesLost: probes.filter((r) => !isOk(r)).length,
      recoverySeconds: successesAfter.length > 0 ? Math.min(...successesAfter) - endT : NaN,
    };
    if (work === 'S1') {
      figures.calls = calls.length;
      // Calls in flight at any moment of the outage (started before its end, ended after its start).
      figures.callsSpanningOutage = calls.filter((r) => r[0] < endT && r[1] > startT).length;
      figures.maxCallSeconds = Math.max(...calls.map((r) => r[1] - r[0]));
    } else {
      figures.uploadOk = upload?.upload_ok ? 1 : 0;
      if (upload?.upload_ok) figures.uploadSeconds = upload.seconds as number;
      // When a failed upload gave up: at its deadline (timeout) or earlier (an error was raised).
      if (upload && !upload.upload_ok) figures.uploadFailedAfterSeconds = (upload.t_end as number) - (upload.t_start as number);
      figures.outageDuringUpload = workEndedBeforeOutage ? 0 : 1;
    }
    const errors = [...calls, ...probes].filter((r) => !isOk(r)).map((r) => r[2]);
    if (upload && !upload.upload_ok) errors.push(`upload: ${upload.outcome as string}`);

    const isSettled = await settled(clients, SETTLE_TIMEOUT_MS);
    const reachable = isSettled && (await callable(caller, 20_000));
    const after = await Promise.all(clients.map((c) => connState(c).catch(() => undefined)));
    const delta = (i: number, key: 'connected' | 'disconnected' | 'registered_failed') => (after[i] ? after[i]![key] - before[i]![key] : NaN);
    figures.callerReconnects = delta(0, 'connected');
    figures.serviceReconnects = delta(1, 'connected');
    figures.reconnects = figures.callerReconnects + figures.serviceReconnects;
    // When each client's last reconnection completed, from the outage end (each in its own clock).
    for (const [i, key] of [[0, 'callerReconnectedAtSeconds'], [1, 'serviceReconnectedAtSeconds']] as const) {
      const t = after[i]?.last_connected_t;
      if (t != null && t !== before[i]!.last_connected_t) figures[key] = t - toClient(outageEnd, i);
    }
    figures.disconnectsSeen = delta(0, 'disconnected') + delta(1, 'disconnected');
    figures.reRegistrationFailures = delta(0, 'registered_failed') + delta(1, 'registered_failed');
    figures.servicesReRegistered = reachable ? 1 : 0;
    if (errors.length > 0) note(`${variant} ${rig.options.arm}: ${errors.length} failed call(s): ${[...new Set(errors)].slice(0, 3).join(' | ')}`);
    if (!reachable) {
      throw new BenchError(
        'HYPHA_ACCEL_ERR_BENCH_CLIENT',
        `${variant}: the service is not callable through the caller ${SETTLE_TIMEOUT_MS / 1000} s after the outage (${isSettled ? 'connections up' : 'connections not back'}); ${fmt(figures)}; first errors: ${[...new Set(errors)].slice(0, 3).join(' | ')}`,
      );
    }
    return figures;
  });
}

export async function runS7(plan: RunPlan, ctx: RunContext, result: ProfileResult, topology: Topology): Promise<void> {
  const s3Bytes = Math.min(plan.sizes.s3Bytes, S3_MAX_BYTES);
  await withRigs(ctx, result, { profile: result.profile, topology, discipline: 'fifo', callerCount: 1 }, 'S7', async (set) => {
    for (const work of ['S1', 'S3'] as const) {
      for (const outage of ['stall', 'reset', 'blackhole'] as const) {
        await interleave(plan, ctx, result, { profile: result.profile, topology, scenario: 'S7', tag: `${work}-${outage}` }, set, async (rig) => [
          await runBlip(rig, work, outage, s3Bytes, (line) => ctx.progress(`  ${line}`)),
        ]);
      }
    }
  });
}
