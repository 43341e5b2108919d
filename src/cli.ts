// Command line: `hypha-accel gateway|edge [options]`. Resolves configuration (flags > env > YAML >
// defaults), starts the role, and stops it gracefully on SIGTERM/SIGINT. Bad settings exit with code 2.
// With --workers N > 1 this process becomes the primary of N role processes (src/roles/workers.ts).
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { AccelError } from './errors.js';
import { SETTINGS, type Role } from './config/settings.js';
import { watchFiles } from './net/tls-files.js';
import type { LinkKey } from './link/handshake.js';
import { loadConfig, readKeys, type EdgeConfig, type GatewayConfig } from './config/load.js';
import { createLogger, type Logger } from './log.js';
import { startEdge } from './edge/edge.js';
import { startGateway } from './gateway/gateway.js';
import { startAdmin, type AdminHandle, type AdminOptions, type AdminSources } from './observe/admin.js';
import { RpcCallTracker } from './observe/rpc-calls.js';
import { startTracing } from './observe/tracing.js';
import { startFrameRecorder } from './observe/frame-recorder.js';
import { createMetrics } from './observe/metrics.js';
import { isWorkerProcess, joinPrimary, runPrimary } from './roles/workers.js';
import { missingLauncherFlags } from './config/node-flags.js';
import { defaultZEngine } from './link/sync-zstream.js';
import { warmUpThroughLoopback, type LinkChoices } from './warm-up/loopback-warm-up.js';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function roleCommand(role: Role, description: string): Command {
  const command = new Command(role).description(description).option('-c, --config <file>', 'YAML file of settings (keys as in docs/config.md)');
  for (const spec of SETTINGS.filter((s) => s.roles.includes(role))) {
    const def = spec.defaultValue === undefined || spec.defaultValue === '' ? '' : ` (default: ${String(spec.defaultValue)})`;
    command.addOption(new Option(`${spec.flag} <${spec.placeholder.toLowerCase()}>`, `${spec.doc}${def} [env ${spec.env}]`));
  }
  return command.action(async (flags: Record<string, unknown>) => run(role, flags));
}

function warnIfLauncherFlagsMissing(log: Pick<Logger, 'warn'>): void {
  const missing = missingLauncherFlags(process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length > 0) {
    log.warn({ missing }, 'node was started without the launcher\'s V8 heap flags: under load expect frequent full garbage collections; start with bin/hypha-accel.js (npx hypha-accel) or the image, or add the flags to NODE_OPTIONS (docs/deploy.md)');
  }
}

/** Probes the link's zlib engine at start (so the first link does not) and says when it is the slower fallback. */
function warnIfLinkZlibFallsBack(log: Pick<Logger, 'warn'>, linkCompression: string): void {
  if (linkCompression !== 'off' && defaultZEngine() === 'pako') {
    log.warn('link compression runs on pako, zlib ported to JavaScript (2-4x the CPU per message): this Node has no synchronous zlib handle (docs/design.md, link compression)');
  }
}

/** The warm-up may take this long (2000 calls take ~0.4-0.8 s on a shared 2-core host); past it the role starts cold. */
const WARM_UP_TIMEOUT_MS = 10_000;

/** The start-up warm-up (src/warm-up/loopback-warm-up.ts): a failure costs only the warm-up, never the start. */
async function warmUp(calls: number, log: Logger, choices: LinkChoices): Promise<void> {
  try {
    const result = await warmUpThroughLoopback(calls, WARM_UP_TIMEOUT_MS, log, choices);
    log.info({ calls: result.calls, cpuMs: Math.round(result.cpuMs), wallMs: Math.round(result.wallMs) }, 'warmed up');
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'warm-up failed; the role starts cold (set warmUpCalls 0 to skip it)');
  }
}

async function run(role: Role, flags: Record<string, unknown>): Promise<void> {
  let config: EdgeConfig | GatewayConfig;
  let secret: Buffer;
  let keys: LinkKey[];
  try {
    const { config: configFile, ...settings } = flags;
    config = role === 'edge'
      ? loadConfig('edge', { flags: settings, env: process.env, configFile: configFile as string | undefined })
      : loadConfig('gateway', { flags: settings, env: process.env, configFile: configFile as string | undefined });
    keys = readKeys(config.secretFile);
    secret = keys[0]!.secret;
  } catch (error) {
    if (error instanceof AccelError && error.code === 'HYPHA_ACCEL_ERR_CONFIG') {
      process.stderr.write(`hypha-accel ${role}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (config.workers > 1 && !isWorkerProcess()) {
    const log = createLogger(config.logLevel, { role, worker: 'primary' });
    warnIfLauncherFlagsMissing(log);
    const startPrimaryAdmin = (address: string, options: AdminOptions) => startAdmin(address, role, version, log, undefined, options);
    return runPrimary({ role, workers: config.workers, adminListen: config.adminListen, drainTimeoutMs: config.drainTimeoutMs, stopDelayMs: config.stopDelayMs, log, startAdmin: startPrimaryAdmin });
  }
  const primary = joinPrimary(); // set in a worker: the primary serves admin and sums this worker's metrics
  const log = createLogger(config.logLevel, primary ? { role, worker: primary.index } : { role });
  if (!primary) warnIfLauncherFlagsMissing(log);
  warnIfLinkZlibFallsBack(log, config.linkCompression);
  // Before anything observes the process: the warm-up's traffic never reaches metrics, tracing or recorded frames.
  if (config.warmUpCalls > 0) await warmUp(config.warmUpCalls, log, { codec: config.codec, linkCompression: config.linkCompression });
  const recorder = config.recordFrames ? startFrameRecorder(config.recordFrames) : undefined;
  // Admin (and its metrics subscription) starts first so it sees the role's first links and sessions.
  const rpc = new RpcCallTracker({ role });
  const admin = primary ? undefined : await startAdminOrWarn(config.adminListen, role, log, rpc);
  let roleSources: AdminSources | undefined;
  const workerMetrics = primary && config.adminListen
    ? createMetrics({ role, version, rpc, sources: { linkStats: () => roleSources?.linkStats(), payloadStats: () => roleSources?.payloadStats(), links: () => roleSources?.links() ?? [] } })
    : undefined;
  if (workerMetrics) primary?.shareMetrics(workerMetrics.registry);
  const tracing = startTracing({ role, version, rpc, log, slowCallMs: config.tracingSlowCallMs });
  // The link keys rotate without a restart: reread on SIGHUP and when the file changes (docs/security.md).
  let afterKeysReloaded = () => {};
  const reloadKeys = () => {
    try {
      keys = readKeys(config.secretFile, (message) => log.warn(message));
      log.info({ keyIds: keys.map((k) => k.id) }, 'link keys reloaded');
      afterKeysReloaded();
    } catch (error) {
      log.error({ code: 'HYPHA_ACCEL_ERR_CONFIG', err: (error as Error).message }, 'link keys not reloaded; keeping the previous ones');
    }
  };
  const stopWatchingKeys = watchFiles([config.secretFile], reloadKeys);
  const deps = { secret, keys: () => keys, log, ...(primary ? { workerIndex: primary.index } : {}) };
  const handle = role === 'edge'
    ? await startEdge(config as EdgeConfig, deps)
    : await startGateway(config as GatewayConfig, deps);
  if ('retireLinksWithoutKey' in handle) afterKeysReloaded = () => handle.retireLinksWithoutKey();
  roleSources = {
    readiness: () => handle.readiness(),
    sessions: () => ('sessionCounts' in handle ? handle.sessionCounts() : { edge: handle.sessionCount() }),
    linkStats: () => ({ ...handle.linkStats }),
    payloadStats: () => handle.payloadMetrics(),
    links: () => handle.linkInfo(),
  };
  admin?.attach(roleSources);
  // A machine-readable line on stdout so scripts and benchmarks know when and where the role listens
  // (a worker tells its primary, which prints one line for all).
  const listening = { event: 'listening' as const, role, url: handle.url, port: handle.port, admin: admin?.url };
  const sources = roleSources;
  if (primary) {
    primary.announce(listening, () => ({ sessions: sources.sessions(), links: sources.links().length }), () => sources.readiness());
  } else {
    process.stdout.write(JSON.stringify(listening) + '\n');
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    stopWatchingKeys();
    admin?.beginDrain(); // not ready from the first moment of the stop, while the listener still accepts
    log.info({ signal, stopDelayMs: config.stopDelayMs, drainTimeoutMs: config.drainTimeoutMs }, 'stopping');
    const hardStop = setTimeout(() => process.exit(1), config.stopDelayMs + config.drainTimeoutMs + 2000);
    hardStop.unref();
    // Readiness is already 503; new clients are still accepted until the delay ends (docs/metrics.md).
    if (config.stopDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.stopDelayMs));
    await handle.close(config.drainTimeoutMs);
    await tracing?.shutdown(); // flushes the spans of the drain
    await admin?.close();
    primary?.close();
    workerMetrics?.close();
    recorder?.close();
    log.flush?.();
    setTimeout(() => process.exit(0), 50).unref();
  };
  // SIGHUP rereads what can rotate without a restart (docs/security.md).
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading');
    reloadKeys();
    if ('reloadTls' in handle) handle.reloadTls();
  });
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  primary?.onPrimaryGone(() => void stop('primary gone'));
}

/** The admin port is auxiliary: if it cannot listen, the role still carries traffic (and says so). */
async function startAdminOrWarn(address: string, role: Role, log: ReturnType<typeof createLogger>, rpc: RpcCallTracker): Promise<AdminHandle | undefined> {
  if (!address) return undefined;
  try {
    return await startAdmin(address, role, version, log, rpc);
  } catch (error) {
    log.error({ address, err: (error as Error).message }, 'admin port unavailable; running without /metrics and probes');
    return undefined;
  }
}

const program = new Command('hypha-accel')
  .description('Transparent accelerating proxies for hypha: run an edge beside clients and a gateway beside the server.')
  .version(version);
program.addCommand(roleCommand('gateway', 'Run beside the hypha server: accept links from edges, pass plain hypha traffic through.'));
program.addCommand(roleCommand('edge', 'Run beside hypha clients: look like a hypha server, carry sessions over pooled links.'));
program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`hypha-accel: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
