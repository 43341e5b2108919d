// One measured setup: an arm (direct with deflate, direct without, the null relay, accelerated) in a
// topology (T1: the caller behind the link, the service beside hypha; T2: both behind the link) on one
// emulated link. The clients are identical in every arm; only the URL they are given differs.

import net from 'node:net';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LinkEmulatorStats } from '../emulator/link-emulator.js';
import { profileShape, type ProfileName, type QueueDiscipline } from '../emulator/profiles.js';
import { startEmulatorProcess, type EmulatorProcess } from './emulator-child.js';
import { PyClient } from './py-client.js';
import { startNullRelay, startProxy, startTlsTerminator, type ProxyProcess, type StartOptions } from './proxies.js';
import type { LinkTlsFiles } from './results.js';
import type { ProcSample } from './proc-stats.js';
import { sampleRoleCpuNs, type CpuRole } from './role-cpu.js';
import { TRACING_ARMS, isTracingArm, tracingArmEnv, type TracingArm } from './tracing-arms.js';

/**
 * null-relay: direct without deflate, with a plain TCP pipe where the edge stands and another where the
 * gateway stands (the environment's cost of two more hops and processes). accel-shm: the accelerated pair
 * with shared memory on, only for the colocated scenario (S8). gateway-only (S8): no edge and no link; the
 * clients connect through the emulator straight to the gateway, which passes them through to hypha
 * (as a byte splice where it can; gateway-only-ws: with plainSplice off, ws relaying each message).
 */
export type Arm = 'direct-deflate' | 'direct-plain' | 'null-relay' | 'accel' | 'accel-shm' | 'accel-unix' | 'gateway-only' | 'gateway-only-ws' | TlsArm | TracingArm;
export type Topology = 'T1' | 'T2';
export const ARMS: readonly Arm[] = ['direct-deflate', 'direct-plain', 'null-relay', 'accel'];
/**
 * --link-tls adds these: direct-*-tls = clients reach hypha with wss:// across the link, TLS ended by a
 * terminator process in front of hypha (bench/runner/tls-terminator.ts, counted as the gateway role);
 * accel-tls = the pair with a tls:// link (gateway certificate, edge verifies with the bench CA).
 */
export type TlsArm = 'direct-deflate-tls' | 'direct-plain-tls' | 'accel-tls';
export const TLS_ARMS: readonly TlsArm[] = ['direct-deflate-tls', 'direct-plain-tls', 'accel-tls'];
/** Arms HYPHA_ACCEL_BENCH_ARMS may name for the default arm set (the pair with tracing off / default / always on: tracing-arms.ts). */
export const SELECTABLE_ARMS: readonly Arm[] = [...ARMS, ...TLS_ARMS, ...TRACING_ARMS];

export interface RigOptions {
  arm: Arm;
  topology: Topology;
  profile: ProfileName;
  discipline: QueueDiscipline;
  hyphaUrl: string;
  secretFile: string;
  callerCount: number;
  label: string;
  /** Folder whose src/cli.ts runs the proxies (a pinned snapshot of the committed code). */
  codeRoot: string;
  /** The hypha server's pid, for its CPU per measurement. */
  hyphaPid?: number;
  /** When set, edge and gateway (or the null relays) write --cpu-prof profiles under DIR/<label>/<role>. */
  cpuProfDir?: string;
  /** --workers for edge and gateway (default 1). */
  proxyWorkers?: number;
  /** CA and server certificate for the TLS arms (--link-tls). */
  linkTls?: LinkTlsFiles;
}

export interface RigSnapshot {
  link: LinkEmulatorStats;
  proxies: Record<string, ProcSample | undefined>;
  /** Nanoseconds on CPU so far, per role (see role-cpu.ts). */
  roleCpuNs: Partial<Record<CpuRole, number>>;
  /** The gateway's link counters per frame kind (its /stats `wire`: both directions cross it), accel arms only. */
  wire?: Record<string, number>;
}

export interface Rig {
  options: RigOptions;
  emulator: EmulatorProcess;
  /** The URL clients behind the link use as server_url (the emulator, or the edge). */
  behindUrl: string;
  serviceUrl: string;
  serviceId: string;
  service: PyClient;
  callers: PyClient[];
  proxies: ProxyProcess[];
  /** A new array seed for a measurement that must be a first transfer (the pair dedupes repeats). */
  nextSeed(): number;
  snapshot(): Promise<RigSnapshot>;
  close(): Promise<void>;
}

/** The warm-up array's seed, never used by a measurement (so no measurement dedupes against it). */
const WARMUP_SEED = 7;
const FIRST_MEASUREMENT_SEED = 1000;

function startOptions(options: RigOptions, role: string): StartOptions {
  // Measurement knobs: HYPHA_ACCEL_BENCH_PROXY_NODE_ARGS (extra node/V8 flags for the proxies and null relays,
  // e.g. an A/B of heap settings) and HYPHA_ACCEL_BENCH_TRACE_GC=PREFIX (--trace-gc, lines kept in PREFIX-<role>-<pid>.log).
  const extra = [...(process.env.HYPHA_ACCEL_BENCH_TRACE_GC ? ['--trace-gc'] : []), ...(process.env.HYPHA_ACCEL_BENCH_PROXY_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  const env = isTracingArm(options.arm) ? { env: tracingArmEnv(options.arm) } : {};
  if (!options.cpuProfDir) return extra.length > 0 ? { nodeArgs: extra, ...env } : env;
  const dir = join(options.cpuProfDir, options.label.replace(/[^A-Za-z0-9.-]+/g, '-'), role);
  mkdirSync(dir, { recursive: true });
  return { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir, ...extra], ...env };
}

export async function startRig(options: RigOptions): Promise<Rig> {
  const hyphaPort = Number(new URL(options.hyphaUrl).port);
  const shape = profileShape(options.profile, options.discipline);
  const proxies: ProxyProcess[] = [];
  const clients: PyClient[] = [];
  let emulator: EmulatorProcess | undefined;
  let adminPort: number | undefined;
  try {
    let behindUrl: string;
    const tls = options.arm.endsWith('-tls');
    if (tls && !options.linkTls) throw new Error(`arm ${options.arm} needs --link-tls`);
    if (options.arm === 'accel' || options.arm === 'accel-shm' || options.arm === 'accel-tls' || isTracingArm(options.arm)) {
      const workers = ['--workers', String(options.proxyWorkers ?? 1)];
      adminPort = await freePort();
      const gatewayTls = tls ? ['--tls-cert-file', options.linkTls!.certPath, '--tls-key-file', options.linkTls!.keyPath] : [];
      const gateway = await startProxy('gateway', ['--hypha-url', options.hyphaUrl, '--secret-file', options.secretFile, '--admin-listen', `127.0.0.1:${adminPort}`, ...gatewayTls, ...workers], options.codeRoot, startOptions(options, 'gateway'));
      proxies.push(gateway);
      emulator = await startEmulatorProcess({ target: { host: '127.0.0.1', port: gateway.port }, shape });
      // The link transport: tcp:// (byte-stream, the default) or ws:// (HYPHA_ACCEL_BENCH_LINK=ws); tls:// or wss:// in accel-tls.
      const transport = process.env.HYPHA_ACCEL_BENCH_LINK === 'ws' ? (tls ? 'wss' : 'ws') : tls ? 'tls' : 'tcp';
      const edge = await startProxy('edge', [
        '--gateway-url',
        `${transport}://127.0.0.1:${emulator.port}`,
        ...(tls ? ['--ca-file', options.linkTls!.caPath] : []),
        '--secret-file',
        options.secretFile,
        '--links',
        '2',
        // Edge and gateway share this host: shared memory would carry blobs around the emulated link.
        // The colocated scenario (S8) is where shm is measured.
        '--shm',
        String(options.arm === 'accel-shm'),
        ...workers,
      ], options.codeRoot, startOptions(options, 'edge'));
      proxies.push(edge);
      behindUrl = edge.url;
    } else if (options.arm === 'accel-unix') {
      // Colocated over the gateway's Unix socket: no emulator between edge and gateway; the (unshaped)
      // emulator stands between the clients and the edge instead, so this arm has one relay hop as the
      // direct arms do, and its link bytes are the clients' WebSocket bytes.
      const workers = ['--workers', String(options.proxyWorkers ?? 1)];
      const socketPath = join(mkdtempSync(join(tmpdir(), 'hypha-accel-bench-')), 'link.sock');
      const gateway = await startProxy('gateway', ['--hypha-url', options.hyphaUrl, '--secret-file', options.secretFile, '--link-socket-path', socketPath, ...workers], options.codeRoot, startOptions(options, 'gateway'));
      proxies.push(gateway);
      const edge = await startProxy('edge', ['--gateway-url', `unix://${socketPath}`, '--secret-file', options.secretFile, '--links', '2', '--shm', 'false', ...workers], options.codeRoot, startOptions(options, 'edge'));
      proxies.push(edge);
      emulator = await startEmulatorProcess({ target: { host: '127.0.0.1', port: edge.port }, shape });
      behindUrl = `http://127.0.0.1:${emulator.port}`;
    } else if (options.arm === 'gateway-only' || options.arm === 'gateway-only-ws') {
      // Colocated without a link: the clients are the gateway's plain clients (deflate off on both of its hops
      // by default), so the gateway is the one relay between them and hypha; the emulator stands where it does
      // in the direct arms.
      const splice = options.arm === 'gateway-only-ws' ? ['--plain-splice', 'false'] : [];
      const gateway = await startProxy('gateway', ['--hypha-url', options.hyphaUrl, '--secret-file', options.secretFile, '--workers', String(options.proxyWorkers ?? 1), ...splice], options.codeRoot, startOptions(options, 'gateway'));
      proxies.push(gateway);
      emulator = await startEmulatorProcess({ target: { host: '127.0.0.1', port: gateway.port }, shape });
      behindUrl = `http://127.0.0.1:${emulator.port}`;
    } else if (options.arm === 'null-relay') {
      const gateway = await startNullRelay('gateway', `127.0.0.1:${hyphaPort}`, startOptions(options, 'gateway'));
      proxies.push(gateway);
      emulator = await startEmulatorProcess({ target: { host: '127.0.0.1', port: gateway.port }, shape, stripWebSocketExtensions: true });
      const edge = await startNullRelay('edge', `127.0.0.1:${emulator.port}`, startOptions(options, 'edge'));
      proxies.push(edge);
      behindUrl = edge.url;
    } else if (tls) {
      // Direct over TLS: the emulator carries TLS bytes it cannot read; the terminator strips extensions.
      const terminator = await startTlsTerminator(`127.0.0.1:${hyphaPort}`, options.linkTls!, options.arm === 'direct-plain-tls', startOptions(options, 'tls-terminator'));
      proxies.push(terminator);
      emulator = await startEmulatorProcess({ target: { host: '127.0.0.1', port: terminator.port }, shape });
      behindUrl = `https://127.0.0.1:${emulator.port}`;
    } else {
      emulator = await startEmulatorProcess({
        target: { host: '127.0.0.1', port: hyphaPort },
        shape,
        stripWebSocketExtensions: options.arm === 'direct-plain',
      });
      behindUrl = `http://127.0.0.1:${emulator.port}`;
    }
    const serviceUrl = options.topology === 'T1' ? options.hyphaUrl : behindUrl;
    const service = await PyClient.start(`${options.label}/service`);
    clients.push(service);
    await service.request('connect', { server_url: serviceUrl }, 60_000);
    const registered = await service.request('register', { service_id: 'bench' }, 60_000);
    const serviceId = String(registered.service_id);
    const callers: PyClient[] = [];
    for (let i = 0; i < options.callerCount; i += 1) {
      const caller = await PyClient.start(`${options.label}/caller${i}`);
      clients.push(caller);
      callers.push(caller);
      await caller.request('connect', { server_url: behindUrl }, 60_000);
      await caller.request('get_service', { service_id: serviceId }, 60_000);
      // Warm-up, unmeasured: first calls and the first chunked (message_cache) transfer of a process
      // pay for lazy imports and allocations that no later measurement should carry.
      await caller.request('small_calls', { calls: 10, concurrency: 1 }, 60_000);
      // HYPHA_ACCEL_BENCH_WARMUP_CALLS=N (a measurement knob): N more unmeasured calls, 16 in flight, to see
      // what a process that has relayed tens of thousands of messages does, against the young rig the default measures.
      const moreWarmUp = Number(process.env.HYPHA_ACCEL_BENCH_WARMUP_CALLS ?? 0);
      if (moreWarmUp > 0) await caller.request('small_calls', { calls: moreWarmUp, concurrency: 16 }, 600_000);
      await caller.request('bulk', { kind: 'random', nbytes: 2 * 1024 * 1024, seed: WARMUP_SEED }, 120_000);
    }
    // The runner's first fetch loads undici (0.1-0.4 s of its CPU): here, not inside the first measurement,
    // whose `before` snapshot fetches the gateway's counters after sampling every role's CPU.
    if (adminPort !== undefined) await gatewayWire(adminPort);
    const link = emulator;
    // Every arm runs the same steps in the same order, so the k-th measurement gets the same seed in each.
    let seed = FIRST_MEASUREMENT_SEED;
    return {
      options,
      emulator: link,
      behindUrl,
      serviceUrl,
      serviceId,
      service,
      callers,
      proxies,
      nextSeed: () => seed++,
      snapshot: async () => {
        const roleCpuNs = sampleRoleCpuNs({
          edge: { pids: proxies.filter((p) => p.role === 'edge').map((p) => p.pid), withDescendants: true },
          gateway: { pids: proxies.filter((p) => p.role === 'gateway').map((p) => p.pid), withDescendants: true },
          hypha: { pids: options.hyphaPid ? [options.hyphaPid] : [], withDescendants: true },
          clients: { pids: clients.map((c) => c.pid), withDescendants: true },
          runner: { pids: [process.pid], withDescendants: false },
          emulator: { pids: [link.pid], withDescendants: false },
        });
        const wire = adminPort === undefined ? undefined : await gatewayWire(adminPort);
        return { link: await link.stats(), proxies: Object.fromEntries(proxies.map((p) => [p.role, p.sample()])), roleCpuNs, ...(wire ? { wire } : {}) };
      },
      close: async () => {
        await Promise.all(clients.map((c) => c.stop()));
        await Promise.all(proxies.map((p) => p.stop()));
        await link.close();
      },
    };
  } catch (err) {
    await Promise.all(clients.map((c) => c.stop()));
    await Promise.all(proxies.map((p) => p.stop()));
    await emulator?.close();
    throw err;
  }
}

/** A port free on 127.0.0.1 now (the gateway's admin port). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The gateway's per-kind link counters, or undefined when its admin port does not answer. */
async function gatewayWire(port: number): Promise<Record<string, number> | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { wire?: Record<string, number> };
    return body.wire;
  } catch {
    return undefined;
  }
}

/** Link bytes and frames per kind (sent + received at the gateway) between two snapshots, per unit. */
export function wireBetween(before: RigSnapshot, after: RigSnapshot, perUnit: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (!before.wire || !after.wire) return out;
  for (const key of Object.keys(after.wire)) {
    const match = /^wire(\w+?)(Frames|Bytes)(Sent|Received)$/.exec(key);
    if (!match) continue;
    const name = `wire${match[1]}${match[2]}PerUnit`;
    out[name] = (out[name] ?? 0) + ((after.wire[key] ?? 0) - (before.wire[key] ?? 0)) / perUnit;
  }
  return out;
}

/** Bytes that crossed the link (both directions) between two snapshots. */
export function linkBytesBetween(before: RigSnapshot, after: RigSnapshot): { up: number; down: number } {
  return { up: after.link.up.bytesOut - before.link.up.bytesOut, down: after.link.down.bytesOut - before.link.down.bytesOut };
}

/** CPU seconds per role between two snapshots (roles absent from the rig are left out). */
export function roleCpuBetween(before: RigSnapshot, after: RigSnapshot, proxiesPresent: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, ns] of Object.entries(after.roleCpuNs)) {
    if (!proxiesPresent && (role === 'edge' || role === 'gateway')) continue;
    const start = before.roleCpuNs[role as CpuRole];
    if (ns === undefined || start === undefined) continue;
    out[role] = (ns - start) / 1e9;
  }
  return out;
}

/** CPU seconds the proxies used between two snapshots, and their peak RSS so far. */
export function proxyCostBetween(before: RigSnapshot, after: RigSnapshot): Record<string, { cpuSeconds: number; peakRssBytes: number }> {
  const out: Record<string, { cpuSeconds: number; peakRssBytes: number }> = {};
  for (const [role, sample] of Object.entries(after.proxies)) {
    const start = before.proxies[role];
    if (!sample || !start) continue;
    out[role] = { cpuSeconds: sample.cpuSeconds - start.cpuSeconds, peakRssBytes: sample.peakRssBytes };
  }
  return out;
}
