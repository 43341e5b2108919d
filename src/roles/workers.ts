// Multi-core: a role run as N worker processes on one port through node:cluster. The primary accepts each
// connection and hands it to the next worker (round-robin), forks and replaces workers, serves the admin
// port once (readiness, /workers, metrics summed over the workers' registries) and drains every worker on
// SIGTERM/SIGINT. Each worker is a whole role: its own sessions, links, codec tables and payload stores.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { AdminHandle, AdminOptions, MetricsSource, Readiness } from '../observe/admin.js';
import type { RoleName } from '../events.js';

/** The environment variable through which the primary tells a worker its stable index (0..N-1). */
const WORKER_INDEX_ENV = 'HYPHA_ACCEL_WORKER_INDEX';
const LISTENING = 'hypha-accel:listening';
const STATUS = 'hypha-accel:status';
const READINESS_REQ = 'hypha-accel:readiness-req';
const READINESS_RES = 'hypha-accel:readiness-res';
/** A worker that does not answer a readiness question within this long counts as not ready. */
const READINESS_TIMEOUT_MS = 2500;
/** How often a worker reports its status (sessions, links) to the primary. */
const STATUS_INTERVAL_MS = 500;
/** A worker that died after it had listened is replaced after this pause (no tight crash loop). */
const RESPAWN_DELAY_MS = 1000;
/** The primary's hard stop comes this long after the workers' own drain deadline. */
const PRIMARY_GRACE_MS = 4000;

export interface WorkerStatus {
  sessions: Record<string, number>;
  links: number;
}

export interface ListeningLine {
  event: 'listening';
  role: string;
  url: string;
  port: number;
  admin?: string | undefined;
}

interface WorkerState {
  index: number;
  worker: Worker;
  listening?: ListeningLine;
  status?: WorkerStatus;
}

export interface PrimaryOptions {
  role: RoleName;
  workers: number;
  adminListen: string;
  drainTimeoutMs: number;
  /** Each worker keeps accepting this long after the stop begins (its own stopDelayMs) before it drains. */
  stopDelayMs: number;
  log: Logger;
  /** Starts the admin port (observe/admin.ts startAdmin, bound by the CLI). */
  startAdmin(address: string, options: AdminOptions): Promise<AdminHandle>;
}

/** True in a process forked by runPrimary (it then runs the role and reports through joinPrimary). */
export function isWorkerProcess(): boolean {
  return cluster.isWorker && process.env[WORKER_INDEX_ENV] !== undefined;
}

/** The primary: forks the workers, waits for all to listen, prints one listening line, stops them on a signal. */
export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const { log } = options;
  // Round-robin in the primary (the default on Linux, explicit so it holds everywhere): a handful of
  // long-lived links spread evenly over the gateway's workers, which the kernel's reuseport hash does not.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const states = new Map<number, WorkerState>();
  let stopping = false;
  let admin: AdminHandle | undefined;
  let failStartup: (error: Error) => void = () => {};
  let allListening: () => void = () => {};
  let nextQuestion = 1;
  const answers = new Map<number, (readiness: Readiness) => void>();
  const started = new Promise<void>((resolve, reject) => {
    allListening = resolve;
    failStartup = reject;
  });

  const fork = (index: number): void => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    const state: WorkerState = { index, worker };
    states.set(index, state);
    worker.on('message', (message: { type?: string; line?: ListeningLine; status?: WorkerStatus; id?: number; readiness?: Readiness }) => {
      if (message?.type === LISTENING && message.line) {
        state.listening = message.line;
        if ([...states.values()].every((s) => s.listening)) allListening();
      } else if (message?.type === STATUS && message.status) {
        state.status = message.status;
      } else if (message?.type === READINESS_RES && message.readiness && message.id !== undefined) {
        answers.get(message.id)?.(message.readiness);
      }
    });
    worker.on('exit', (code, signal) => {
      if (states.get(index) === state) states.delete(index);
      if (stopping) return;
      if (!state.listening) {
        failStartup(new Error(`worker ${index} exited before listening (${signal ?? code})`));
        return;
      }
      log.error({ worker: index, pid: worker.process.pid, code, signal }, 'worker exited; replacing it');
      // Not unref'd: a pending replacement is work the primary still has to do.
      setTimeout(() => {
        if (!stopping) fork(index);
      }, RESPAWN_DELAY_MS);
    });
  };

  const stop = async (signal: string, exitCode = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    admin?.beginDrain(); // /ready is 503 from here while the workers still accept for their stopDelayMs
    log.info({ signal, workers: states.size, stopDelayMs: options.stopDelayMs }, 'stopping workers');
    setTimeout(() => {
      for (const s of states.values()) s.worker.process.kill('SIGKILL');
      process.exit(1);
    }, options.stopDelayMs + options.drainTimeoutMs + PRIMARY_GRACE_MS).unref();
    const exits = [...states.values()].map((s) => new Promise<number | null>((resolve) => {
      if (s.worker.isDead()) return resolve(s.worker.process.exitCode);
      s.worker.once('exit', (code) => resolve(code));
    }));
    for (const s of states.values()) s.worker.process.kill('SIGTERM');
    const codes = await Promise.all(exits);
    await admin?.close();
    const clean = exitCode === 0 && codes.every((code) => code === 0);
    setTimeout(() => process.exit(clean ? 0 : 1), 50).unref();
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => forwardReload(states, log));

  for (let index = 0; index < options.workers; index += 1) fork(index);
  try {
    await started;
  } catch (error) {
    log.error({ err: (error as Error).message }, 'workers did not start');
    await stop('startup failure', 1);
    return;
  }
  const lines = [...states.values()].map((s) => s.listening!);
  const ports = new Set(lines.map((line) => line.port));
  if (ports.size !== 1) log.warn({ ports: [...ports] }, 'workers listen on different ports');
  const workersNow = () => [...states.values()].sort((a, b) => a.index - b.index).map((s) => ({ index: s.index, pid: s.worker.process.pid, ...s.status }));
  if (options.adminListen) {
    try {
      admin = await options.startAdmin(options.adminListen, { metrics: summedWorkerMetrics(), workers: workersNow });
    } catch (error) {
      log.error({ address: options.adminListen, err: (error as Error).message }, 'admin port unavailable; running without /metrics and probes');
    }
    // Readiness is asked of every worker when /ready is asked (the gateway's probes hypha), never polled.
    const ask = (state: WorkerState): Promise<Readiness> => new Promise((resolve) => {
      const id = nextQuestion++;
      const timer = setTimeout(() => done({ ready: false, reason: `worker ${state.index} did not answer` }), READINESS_TIMEOUT_MS);
      timer.unref();
      const done = (readiness: Readiness) => {
        clearTimeout(timer);
        answers.delete(id);
        resolve(readiness);
      };
      answers.set(id, done);
      if (state.worker.isConnected()) state.worker.send({ type: READINESS_REQ, id });
    });
    admin?.attach({
      readiness: async () => readinessOf([...states.values()], await Promise.all([...states.values()].map(ask)), options.workers),
      sessions: () => sumSessions([...states.values()].map((s) => s.status?.sessions ?? {})),
      linkStats: () => undefined,
      payloadStats: () => undefined,
      links: () => [],
    });
  }
  const first = lines[0]!;
  process.stdout.write(JSON.stringify({ ...first, admin: admin?.url, workers: workersNow().map(({ index, pid }) => ({ index, pid })) }) + '\n');
}

/**
 * SIGHUP on the primary: it holds no keys or certificates of its own (each worker reads its files), so it
 * passes the signal to every worker that has listened (a worker installs its SIGHUP handler before it
 * announces; one still starting reads the files afresh anyway, and would die of an early SIGHUP).
 */
function forwardReload(states: ReadonlyMap<number, WorkerState>, log: Logger): void {
  const targets = [...states.values()].filter((s) => s.listening && !s.worker.isDead());
  log.info({ workers: targets.map((s) => s.index) }, 'SIGHUP: passing the reload to the workers');
  for (const s of targets) s.worker.process.kill('SIGHUP');
}

/** Ready when every worker is up and ready; otherwise the first reason found. */
function readinessOf(states: WorkerState[], answers: Readiness[], expected: number): Readiness {
  if (states.length < expected) return { ready: false, reason: `${expected - states.length} worker(s) down` };
  const notReady = answers.findIndex((a) => !a.ready);
  if (notReady >= 0) return { ready: false, reason: `worker ${states[notReady]!.index}: ${answers[notReady]!.reason}` };
  return { ready: true, reason: answers[0]?.reason ?? '' };
}

function sumSessions(records: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const record of records) for (const [kind, n] of Object.entries(record)) out[kind] = (out[kind] ?? 0) + n;
  return out;
}

/** The workers' registries, gathered over IPC at scrape time and summed per series (prom-client). */
function summedWorkerMetrics(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return { text: () => aggregator.clusterMetrics(), contentType: aggregator.contentType };
}

export interface PrimaryLink {
  index: number;
  /** Offers this worker's registry to the primary's /metrics (summed with the other workers'). */
  shareMetrics(registry: Registry): void;
  /** Tells the primary this worker listens, then reports its status every STATUS_INTERVAL_MS. */
  announce(line: ListeningLine, status: () => WorkerStatus, readiness: () => Promise<Readiness>): void;
  /** Called once if the primary goes away (its IPC channel closes): the worker should stop. */
  onPrimaryGone(handler: () => void): void;
  close(): void;
}

/** In a worker: the channel to the primary (undefined in a single-process role). */
export function joinPrimary(): PrimaryLink | undefined {
  if (!isWorkerProcess()) return undefined;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  let timer: ReturnType<typeof setInterval> | undefined;
  const send = (message: unknown) => {
    if (process.connected) process.send?.(message);
  };
  return {
    index,
    shareMetrics(registry) {
      new AggregatorRegistry(); // installs prom-client's worker-side IPC listener
      AggregatorRegistry.setRegistries([registry]);
    },
    announce(line, status, readiness) {
      process.on('message', (message: { type?: string; id?: number }) => {
        if (message?.type !== READINESS_REQ) return;
        readiness().then(
          (answer) => send({ type: READINESS_RES, id: message.id, readiness: answer }),
          (error: Error) => send({ type: READINESS_RES, id: message.id, readiness: { ready: false, reason: error.message } }),
        );
      });
      send({ type: STATUS, status: status() });
      send({ type: LISTENING, line });
      timer = setInterval(() => send({ type: STATUS, status: status() }), STATUS_INTERVAL_MS);
      timer.unref();
    },
    onPrimaryGone(handler) {
      process.once('disconnect', handler);
    },
    close() {
      clearInterval(timer);
    },
  };
}
