// S6 fan-in: 500 idle + 50 active real hypha-rpc clients through one edge (or, in the direct arms, through
// the emulated link straight to hypha). Per arm and repetition:
//   0. the driver waits (bounded) until hypha and the machine are quiet: hypha tears down the previous arm's
//      550 sessions after their sockets closed, and other jobs share the host; a measurement that starts
//      while either is busy runs on a busy machine (the time waited and both CPU shares are reported, and
//      over the active phase the machine's busy cores and what the rig does not explain, `otherCores`);
//      the same wait runs again after the quiet phase, before the warm-up calls;
//   1. one Python process (bench/clients/fan_in.py) opens the idle connections, at most 20 handshakes at a
//      time; a second one opens the active connections and gets the echo service on each;
//   2. proxy RSS is sampled before any connect and again once all connections are up (accelerated arm),
//      then proxy CPU over a 3 s quiet phase (all sessions open, no calls: the cost of holding them);
//   3. after a short unmeasured warm-up, every active client calls echo(~200 B) in a loop, one call at a
//      time, for a fixed duration; every answer is checked in the client. Proxy CPU is the /proc delta of
//      edge + gateway over exactly this phase;
//   4. everything disconnects and the processes exit; the driver waits until the sockets the clients held
//      (edge sockets in the accelerated arm, emulator connections in the direct arms) are gone, so
//      repetitions never accumulate sessions. A session that does not go away fails the measurement.
//
// What "a message" is (client-side count, the proxies' metrics port is not enabled by the rig): one hypha
// RPC WebSocket message relayed end to end through the proxy pair (edge + gateway) once. An echo call is
// a request (caller -> server) and a reply (server -> caller). In T1 only the caller is behind the edge,
// so a call is 2 messages through the pair; in T2 the service is behind the edge too, so the request also
// goes server -> service and the reply service -> server through the pair: 4 messages per call. Checked
// once against the proxies' own counter (hypha_accel_messages_total, edge started with --admin-listen):
// T1 1170 calls -> +1179 up / +1176 down binary messages at the edge; T2 509 calls -> +1018 / +1018. The idle
// clients' keep-alive pings (hypha-rpc sends {"type":"ping"} every 20 s per connection, about 25/s for
// 500 clients) cost proxy CPU in the active phase but are not counted, which slightly overstates
// cpuUsPerMessage (by well under the per-call traffic: 25/s against thousands of messages/s).
//
// Counts: 500 idle + 50 active is the committed default. HYPHA_ACCEL_BENCH_S6_IDLE, _ACTIVE and _SECONDS
// override them for quick development runs only; the counts are part of the variant name, so a reduced
// run can never be mistaken for the full one.

import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { interleave, withRigs } from './arms.js';
import { BenchError } from './bench-error.js';
import { descendantsOf } from './descendants.js';
import { REPO_ROOT } from './paths.js';
import type { RunPlan } from './plan.js';
import { PyClient, type ClientAnswer } from './py-client.js';
import type { Figures, ProfileResult, RunContext } from './results.js';
import type { Rig, Topology } from './rig.js';
import { measured, type ScenarioOutput } from './scenarios.js';
import { percentile } from './stats.js';
import { busyCoresBetween, sampleMachineCpu } from './machine-cpu.js';
import { treeCpuNs } from './role-cpu.js';

const FAN_IN_PATH = join(REPO_ROOT, 'bench/clients/fan_in.py');

function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_USAGE', `${name}=${raw} is not a count`);
  return value;
}

export const S6_IDLE_CLIENTS = envCount('HYPHA_ACCEL_BENCH_S6_IDLE', 500);
export const S6_ACTIVE_CLIENTS = envCount('HYPHA_ACCEL_BENCH_S6_ACTIVE', 50);
/** Length of the measured active phase, seconds. */
export const S6_ACTIVE_SECONDS = envCount('HYPHA_ACCEL_BENCH_S6_SECONDS', 15);
const WARMUP_SECONDS = 2;
/** Handshakes in flight at once per fan-in process (hypha admits connections with bounded concurrency). */
const CONNECT_CONCURRENCY = 20;
/** Settle time after the last connect before RSS is sampled (lets allocation bursts of the handshakes pass). */
const SETTLE_MS = 2000;
/** Seconds with every session open and no calls, to see the proxies' cost of holding idle sessions. */
const QUIET_SECONDS = 3;
/** How long sockets may take to close after every client disconnected. */
const DRAIN_DEADLINE_MS = 30_000;
/** hypha counts as quiet below this CPU share (cores) over one second: idle clients' pings cost ~0.01. */
const HYPHA_QUIET_CORES = 0.1;
/** The machine counts as quiet below this: the idle rigs (clients, emulators, proxies) use ~0.05 cores. */
const MACHINE_QUIET_CORES = 0.3;
/** How long to wait for quiet before measuring anyway (the figures record how busy it was). */
const QUIET_DEADLINE_MS = 60_000;
/**
 * Quiet seconds in a row that count as quiet: hypha's teardown of 550 sessions pauses (one quiet second
 * was seen followed by a phase of hypha at a full core: 57 calls/s instead of ~1,300).
 */
const QUIET_WINDOWS = 2;
/** A measurement with more cores than this busy outside the rig (otherCores) is marked `disturbed`. */
const DISTURBED_OTHER_CORES = 0.2;

/** Open sockets of a process (listeners, links and client sessions), from /proc/<pid>/fd. */
function socketCount(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) count += 1;
    } catch {
      // closed while listing
    }
  }
  return count;
}

/** Sockets that carry the clients' sessions: the edge's in the accelerated arm, the emulator's otherwise. */
async function clientSockets(rig: Rig): Promise<number> {
  const edge = rig.proxies.find((p) => p.role === 'edge');
  // With --workers N the sessions sit in the edge's workers (its descendants).
  return edge ? [edge.pid, ...descendantsOf(edge.pid)].reduce((n, pid) => n + socketCount(pid), 0) : (await rig.emulator.stats()).connectionsOpen;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds of a process and its descendants so far. */
const cpuSecondsOf = (pid: number) => treeCpuNs(pid) / 1e9;

/**
 * Waits (bounded) until hypha spends under HYPHA_QUIET_CORES and the whole machine under MACHINE_QUIET_CORES
 * for QUIET_WINDOWS seconds in a row. Returns the seconds waited and, for the first second, hypha's and the machine's CPU share
 * (how busy the previous arm, or another job on the host, left them).
 */
async function waitForQuiet(rig: Rig): Promise<{ seconds: number; hyphaCores: number; machineCores: number; timedOut: boolean }> {
  const pid = rig.options.hyphaPid;
  const started = performance.now();
  let first: { hyphaCores: number; machineCores: number } | undefined;
  let quietWindows = 0;
  for (;;) {
    const hyphaCpu = pid ? cpuSecondsOf(pid) : NaN;
    const machine = sampleMachineCpu();
    const t = performance.now();
    await sleep(1000);
    const seconds = (performance.now() - t) / 1000;
    const hyphaCores = (cpuSecondsOf(pid ?? 0) - hyphaCpu) / seconds;
    const machineCores = busyCoresBetween(machine, sampleMachineCpu(), seconds);
    first ??= { hyphaCores, machineCores };
    // NaN (no hypha pid, no /proc/stat) compares false: such a rig is never held back by what it cannot see.
    const busy = hyphaCores >= HYPHA_QUIET_CORES || machineCores >= MACHINE_QUIET_CORES;
    quietWindows = busy ? 0 : quietWindows + 1;
    const timedOut = performance.now() - started > QUIET_DEADLINE_MS;
    if (quietWindows >= QUIET_WINDOWS || timedOut) return { seconds: (performance.now() - started) / 1000, ...first, timedOut: timedOut && quietWindows < QUIET_WINDOWS };
  }
}

async function fanIn(rig: Rig, topology: Topology, variant: string): Promise<ScenarioOutput[]> {
  const sessions = S6_IDLE_CLIENTS + S6_ACTIVE_CLIENTS;
  const label = `${rig.options.label}/S6`;
  const procs: PyClient[] = [];
  try {
    const idle = S6_IDLE_CLIENTS > 0 ? await PyClient.start(`${label}/idle`, { script: FAN_IN_PATH }) : undefined;
    if (idle) procs.push(idle);
    const active = await PyClient.start(`${label}/active`, { script: FAN_IN_PATH });
    procs.push(active);

    const settled = await waitForQuiet(rig);
    const socketsBefore = await clientSockets(rig);
    const before = await rig.snapshot();
    const connectStarted = performance.now();
    const idleAnswer = idle
      ? await idle.request('connect', { server_url: rig.behindUrl, count: S6_IDLE_CLIENTS, concurrency: CONNECT_CONCURRENCY }, 300_000)
      : { seconds: 0 };
    const activeAnswer = await active.request(
      'connect',
      { server_url: rig.behindUrl, count: S6_ACTIVE_CLIENTS, concurrency: CONNECT_CONCURRENCY, service_id: rig.serviceId },
      120_000,
    );
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    await sleep(SETTLE_MS);
    const connected = await rig.snapshot();
    const socketsConnected = await clientSockets(rig);
    // Quiet phase: all sessions open, no calls; what the proxies spend just holding them (keep-alives).
    await sleep(QUIET_SECONDS * 1000);
    const quiet = await rig.snapshot();
    if (socketsConnected - socketsBefore < sessions) {
      throw new BenchError('HYPHA_ACCEL_ERR_BENCH_CLIENT', `only ${socketsConnected - socketsBefore} new client sockets for ${sessions} sessions`);
    }

    // hypha may still be busy with this arm's connects (or be busy again): wait again before the calls.
    const beforeRun = await waitForQuiet(rig);
    await active.request('run', { seconds: WARMUP_SECONDS }, (WARMUP_SECONDS + 60) * 1000); // unmeasured
    let run: ClientAnswer | undefined;
    // The fan-in processes are not a rig role: their CPU and the machine's are taken around the run itself.
    let fanInCpu = { active: NaN, idle: NaN, machineCores: NaN, wallSeconds: NaN };
    const output = await measured(rig, variant, async () => {
      const activeCpu0 = cpuSecondsOf(active.pid);
      const idleCpu0 = idle ? cpuSecondsOf(idle.pid) : 0;
      const machine0 = sampleMachineCpu();
      const wall0 = performance.now();
      run = await active.request('run', { seconds: S6_ACTIVE_SECONDS }, (S6_ACTIVE_SECONDS + 120) * 1000);
      const wallSeconds = (performance.now() - wall0) / 1000;
      fanInCpu = {
        active: cpuSecondsOf(active.pid) - activeCpu0,
        idle: idle ? cpuSecondsOf(idle.pid) - idleCpu0 : 0,
        machineCores: busyCoresBetween(machine0, sampleMachineCpu(), wallSeconds),
        wallSeconds,
      };
      const latencies = run.latencies_ms as number[];
      const calls = run.calls as number;
      return {
        activeCallsPerSec: calls / (run.seconds as number),
        activeP50Ms: percentile(latencies, 0.5),
        activeP99Ms: percentile(latencies, 0.99),
      };
    });
    const calls = run!.calls as number;
    const messagesPerCall = topology === 'T1' ? 2 : 4;
    const messages = calls * messagesPerCall;
    const figures: Figures = output.figures;
    Object.assign(figures, {
      sessions,
      idleSessions: S6_IDLE_CLIENTS,
      activeSessions: S6_ACTIVE_CLIENTS,
      calls,
      activeSeconds: run!.seconds as number,
      minCallsPerActiveClient: run!.min_calls_per_client as number,
      messagesPerCall,
      messages,
      connectSeconds,
      idleConnectSeconds: idleAnswer.seconds as number,
      activeConnectSeconds: activeAnswer.seconds as number,
      clientSocketsOpened: socketsConnected - socketsBefore,
      settleSeconds: settled.seconds,
      hyphaCoresBeforeConnect: settled.hyphaCores,
      machineCoresBeforeConnect: settled.machineCores,
      quietHyphaCores: ((quiet.roleCpuNs.hypha ?? NaN) - (connected.roleCpuNs.hypha ?? NaN)) / 1e9 / QUIET_SECONDS,
      // Cores over the active phase: the process driving the 50 active clients (one asyncio loop), the idle
      // clients' process, the whole machine, and what neither the rig's roles nor the fan-in explain
      // (other jobs on the host: a measurement with a large share here was taken on a busy machine).
      activeClientCores: fanInCpu.active / fanInCpu.wallSeconds,
      idleClientCores: fanInCpu.idle / fanInCpu.wallSeconds,
      machineBusyCores: fanInCpu.machineCores,
      otherCores: fanInCpu.machineCores - (Object.values(output.roleCpu).reduce((a, b) => a + b, 0) + fanInCpu.active + fanInCpu.idle) / fanInCpu.wallSeconds,
      runSettleSeconds: beforeRun.seconds,
      hyphaCoresBeforeRun: beforeRun.hyphaCores,
    });
    // 1: taken on a busy host (another job's CPU) or with hypha never quiet before it; compare such a
    // measurement with nothing (docs/benchmarks.md, "S6 on a shared machine").
    figures.disturbed = settled.timedOut || beforeRun.timedOut || figures.otherCores >= DISTURBED_OTHER_CORES ? 1 : 0;
    const edgeCost = output.proxyCost.edge;
    const gatewayCost = output.proxyCost.gateway;
    if (edgeCost && gatewayCost) {
      const cpuSeconds = edgeCost.cpuSeconds + gatewayCost.cpuSeconds;
      const quietCpu = (role: 'edge' | 'gateway') => (quiet.proxies[role]?.cpuSeconds ?? NaN) - (connected.proxies[role]?.cpuSeconds ?? NaN);
      const rssKiBPerSession = (role: 'edge' | 'gateway') => {
        const a = before.proxies[role]?.rssBytes ?? NaN;
        const b = connected.proxies[role]?.rssBytes ?? NaN;
        return (b - a) / sessions / 1024;
      };
      Object.assign(figures, {
        rssPerSessionKiB: rssKiBPerSession('edge'),
        gatewayRssPerSessionKiB: rssKiBPerSession('gateway'),
        edgeRssBeforeMiB: (before.proxies.edge?.rssBytes ?? NaN) / 2 ** 20,
        edgeRssConnectedMiB: (connected.proxies.edge?.rssBytes ?? NaN) / 2 ** 20,
        gatewayRssBeforeMiB: (before.proxies.gateway?.rssBytes ?? NaN) / 2 ** 20,
        gatewayRssConnectedMiB: (connected.proxies.gateway?.rssBytes ?? NaN) / 2 ** 20,
        // CPU share (cores) of edge + gateway while the sessions sat idle, before the active phase.
        quietProxyCores: (quietCpu('edge') + quietCpu('gateway')) / QUIET_SECONDS,
        edgeCpuSeconds: edgeCost.cpuSeconds,
        gatewayCpuSeconds: gatewayCost.cpuSeconds,
        // /proc CPU times tick at 10 ms; over a 15 s phase that is well under 1% of the total.
        cpuUsPerMessage: cpuSeconds > 0 ? (cpuSeconds * 1e6) / messages : NaN,
        messagesPerCoreSec: cpuSeconds > 0 ? messages / cpuSeconds : NaN,
      });
    }

    // Disconnect everything and check the sessions are gone before the next measurement.
    const disconnected = await Promise.all(procs.map((p) => p.request('disconnect', {}, 120_000)));
    await Promise.all(procs.splice(0).map((p) => p.stop(40_000)));
    const until = Date.now() + DRAIN_DEADLINE_MS;
    let left = (await clientSockets(rig)) - socketsBefore;
    while (left > 0 && Date.now() < until) {
      await sleep(250);
      left = (await clientSockets(rig)) - socketsBefore;
    }
    if (left > 0) throw new BenchError('HYPHA_ACCEL_ERR_BENCH_CLIENT', `${left} client sockets still open ${DRAIN_DEADLINE_MS} ms after every client disconnected`);
    figures.disconnectSeconds = Math.max(...disconnected.map((d) => d.seconds as number));
    return [output];
  } finally {
    await Promise.all(procs.map((p) => p.stop(40_000)));
  }
}

export async function runS6(plan: RunPlan, ctx: RunContext, result: ProfileResult, topology: Topology): Promise<void> {
  const profile = result.profile;
  const variant = `${S6_IDLE_CLIENTS}idle+${S6_ACTIVE_CLIENTS}active`;
  await withRigs(ctx, result, { profile, topology, discipline: 'fifo', callerCount: 0 }, 'S6', async (set) => {
    await interleave(plan, ctx, result, { profile, topology, scenario: 'S6', tag: variant }, set, (rig) => fanIn(rig, topology, variant));
  });
}
