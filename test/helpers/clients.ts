// Drives the workload programs in test/integration/clients against any hypha URL (server or edge):
// long-lived services with their event lines, one-shot callers with parsed results, HTTP service
// calls, a raw /rpc stream check, and retry-until-ok polling for restart tests. Bounded everywhere.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { decode } from "@msgpack/msgpack";
import { REPO_ROOT, VENV_PYTHON } from "./hypha-server.js";

export const CLIENTS_DIR = join(REPO_ROOT, "test/integration/clients");

export type Lang = "py" | "js";
export type Transport = "websocket" | "http";

/** One JSON line a service printed after its ready line, e.g. {"event":"services_registered",...}. */
export type ServiceEvent = Record<string, unknown> & { event?: string };

export interface ServiceProcess {
  readonly lang: Lang;
  readonly pid: number;
  readonly workspace: string;
  readonly clientId: string;
  /** The short id passed on the command line. */
  readonly shortId: string;
  /** Full service id `workspace/client_id:short_id`, what callers pass to get_service. */
  readonly serviceId: string;
  /** Every event line received so far, in order. */
  readonly events: readonly ServiceEvent[];
  /** Resolves with the first event (already received or future) matching `pred`. */
  waitForEvent(pred: (e: ServiceEvent) => boolean, timeoutMs?: number): Promise<ServiceEvent>;
  /** Counts events named `name` received so far. */
  countEvents(name: string): number;
  /**
   * Resolves once at least `count` events named `name` have arrived, e.g. after a restart:
   * `await svc.waitForEventCount("services_registered", before + 1)`.
   */
  waitForEventCount(name: string, count: number, timeoutMs?: number): Promise<void>;
  stderrTail(lines?: number): string;
  /** Closes stdin, then SIGTERM, then SIGKILL; resolves when the process is gone. */
  stop(): Promise<void>;
}

export interface CallerResult {
  ok: boolean;
  transport: Transport;
  /** check name -> true, or why it failed */
  checks: Record<string, true | string>;
  exitCode: number | null;
  stderr: string;
}

export interface ServiceOptions {
  /** Time allowed until the ready line. Default 60 s. */
  readyTimeoutMs?: number;
  env?: Record<string, string>;
  /** "looper" runs py_looper.py / js-looper.ts: calls under load, one JSON line per call; "pusher" (JS only)
   * runs js-pusher.ts, which fires calls at the service id given as shortId without waiting. */
  program?: "service" | "looper" | "pusher";
}

export interface CallerOptions {
  transport?: Transport;
  /** The caller is killed after this long and the result reports it. Default 120 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Run only these checks (plus connect and get_service), e.g. a quick probe after a restart. */
  checks?: string[];
}

/** A short service id unique to this run (services of one anonymous workspace must not collide). */
export function uniqueServiceId(prefix = "svc"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

type Program = "service" | "caller" | "looper" | "pusher";

function commandFor(lang: Lang, program: Program): [string, string[]] {
  if (lang === "py") return [VENV_PYTHON, [join(CLIENTS_DIR, `py_${program}.py`)]];
  return [process.execPath, ["--import", "tsx", join(CLIENTS_DIR, `js-${program}.ts`)]];
}

function childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: "1", ...extra };
  delete env.NODE_TEST_CONTEXT; // the JS programs are not test files
  return env;
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

function parseJsonLine(line: string): Record<string, unknown> | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith("{")) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function spawnProgram(lang: Lang, program: Program, args: string[], env?: Record<string, string>): ChildProcess {
  const [cmd, pre] = commandFor(lang, program);
  const child = spawn(cmd, [...pre, ...args], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ["pipe", "pipe", "pipe"],
    detached: true, // own process group, so killTree reaches grandchildren too
  });
  const onExit = (): void => killTree(child, "SIGKILL");
  process.once("exit", onExit);
  child.once("exit", () => process.removeListener("exit", onExit));
  child.stdin?.on("error", () => {});
  return child;
}

/** Starts a workload service (`py_service.py` / `js-service.ts`) and resolves on its ready line. */
export async function startService(lang: Lang, url: string, shortId: string, opts: ServiceOptions = {}): Promise<ServiceProcess> {
  const child = spawnProgram(lang, opts.program ?? "service", [url, shortId], opts.env);
  const events: ServiceEvent[] = [];
  const waiters = new Set<{ pred: (e: ServiceEvent) => boolean; resolve: (e: ServiceEvent) => void }>();
  let stderr = "";
  let exited = false;
  let ready: Record<string, unknown> | null = null;
  let onReady: (() => void) | null = null;
  let onGone: (() => void) | null = null;
  let buffered = "";

  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = tail(stderr + chunk, 400);
  });
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const obj = parseJsonLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (!obj) continue;
      if (!ready && obj.ready === true) {
        ready = obj;
        onReady?.();
        continue;
      }
      const ev = obj as ServiceEvent;
      events.push(ev);
      for (const w of [...waiters]) {
        if (w.pred(ev)) {
          waiters.delete(w);
          w.resolve(ev);
        }
      }
    }
  });
  child.once("exit", () => {
    exited = true;
    onGone?.();
    onReady?.();
  });
  // A service that is up must not keep the test process alive on its own.
  const unrefAll = (): void => {
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      killTree(child, "SIGKILL");
      reject(new Error(`${lang} service not ready within ${readyTimeoutMs} ms; stderr:\n${tail(stderr, 40)}`));
    }, readyTimeoutMs);
    onReady = () => {
      clearTimeout(timer);
      if (ready) resolve();
      else reject(new Error(`${lang} service exited before ready (code ${child.exitCode}); stderr:\n${tail(stderr, 40)}`));
    };
  });
  unrefAll();
  const info = ready as unknown as Record<string, string>;

  const waitForEvent = (pred: (e: ServiceEvent) => boolean, timeoutMs = 60_000): Promise<ServiceEvent> => {
    const found = events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const entry = {
        pred,
        resolve: (e: ServiceEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      // Ref'd on purpose: it keeps the test process alive while it waits on an unref'd child.
      const timer = setTimeout(() => {
        waiters.delete(entry);
        reject(new Error(`${lang} service: no matching event within ${timeoutMs} ms; events ${JSON.stringify(events)}; stderr:\n${tail(stderr, 20)}`));
      }, timeoutMs);
      waiters.add(entry);
    });
  };

  const stop = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => {
      onGone = resolve;
    });
    child.stdin?.end();
    const steps: Array<[number, NodeJS.Signals | null]> = [[5_000, "SIGTERM"], [5_000, "SIGKILL"], [5_000, null]];
    for (const [waitMs, next] of steps) {
      const timer = delay(waitMs, "timeout");
      if ((await Promise.race([gone.then(() => "gone"), timer])) === "gone") return;
      if (next) killTree(child, next);
    }
  };

  const countEvents = (name: string): number => events.filter((e) => e.event === name).length;
  const waitForEventCount = async (name: string, count: number, timeoutMs = 60_000): Promise<void> => {
    if (countEvents(name) >= count) return;
    await waitForEvent((e) => e.event === name && countEvents(name) >= count, timeoutMs);
  };

  return {
    lang,
    pid: child.pid ?? -1,
    workspace: info.workspace,
    clientId: info.client_id,
    shortId,
    serviceId: info.service_id,
    events,
    waitForEvent,
    countEvents,
    waitForEventCount,
    stderrTail: (lines = 40) => tail(stderr, lines),
    stop,
  };
}

export const startPyService = (url: string, shortId: string, opts?: ServiceOptions): Promise<ServiceProcess> =>
  startService("py", url, shortId, opts);
export const startJsService = (url: string, shortId: string, opts?: ServiceOptions): Promise<ServiceProcess> =>
  startService("js", url, shortId, opts);

/** Runs a workload caller to completion and returns its parsed result line (never throws for failed checks). */
export async function runCaller(lang: Lang, url: string, serviceId: string, opts: CallerOptions = {}): Promise<CallerResult> {
  const transport = opts.transport ?? "websocket";
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const args = [url, serviceId, "--transport", transport];
  if (opts.checks) args.push("--checks", opts.checks.join(","));
  const child = spawnProgram(lang, "caller", args, opts.env);
  child.stdin?.end();
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr = tail(stderr + c, 400)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(child, "SIGKILL");
  }, timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once("close", (code) => resolve(code));
    child.once("error", (err) => {
      stderr += `\nspawn error: ${err.message}`;
      resolve(null);
    });
  });
  clearTimeout(timer);
  const result = stdout
    .split("\n")
    .map(parseJsonLine)
    .filter((o): o is Record<string, unknown> => o !== null && typeof o.checks === "object")
    .pop();
  if (!result) {
    const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited ${exitCode} without a result line`;
    return { ok: false, transport, checks: { result: why }, exitCode, stderr: tail(stderr, 60) };
  }
  return {
    ok: result.ok === true && exitCode === 0,
    transport,
    checks: result.checks as Record<string, true | string>,
    exitCode,
    stderr: tail(stderr, 60),
  };
}

export const runPyCaller = (url: string, serviceId: string, opts?: CallerOptions): Promise<CallerResult> =>
  runCaller("py", url, serviceId, opts);
export const runJsCaller = (url: string, serviceId: string, opts?: CallerOptions): Promise<CallerResult> =>
  runCaller("js", url, serviceId, opts);

/** The names of failed checks with their reasons, or [] when everything passed. */
export function failedChecks(result: CallerResult): string[] {
  const failed = Object.entries(result.checks)
    .filter(([, v]) => v !== true)
    .map(([k, v]) => `${k}: ${String(v).split("\n")[0]}`);
  if (failed.length === 0 && !result.ok) failed.push(`exit code ${result.exitCode}`);
  return failed;
}

/**
 * Retries `attempt` until it returns ok or the deadline passes; returns the last result (callers
 * assert on it). For restart tests: the service comes back when hypha-rpc has reconnected and
 * re-registered, which takes its own backoff.
 */
export async function retryUntilOk(
  attempt: () => Promise<CallerResult>,
  opts: { deadlineMs?: number; intervalMs?: number } = {},
): Promise<CallerResult & { attempts: number }> {
  const deadline = Date.now() + (opts.deadlineMs ?? 90_000);
  let attempts = 0;
  for (;;) {
    attempts++;
    const result = await attempt();
    if (result.ok || Date.now() >= deadline) return { ...result, attempts };
    await delay(opts.intervalMs ?? 1_000);
  }
}

export interface HttpCallResult {
  status: number;
  body: unknown;
}

/**
 * Calls `{url}/{workspace}/services/{serviceId}/{fn}` through hypha's HTTP services API:
 * GET passes `args` as query parameters, POST as a JSON body (hypha maps both onto kwargs).
 */
export async function httpServiceCall(
  url: string,
  workspace: string,
  serviceId: string,
  fn: string,
  opts: { method?: "GET" | "POST"; args?: Record<string, unknown>; timeoutMs?: number } = {},
): Promise<HttpCallResult> {
  const method = opts.method ?? "POST";
  const target = new URL(`${url.replace(/\/+$/, "")}/${workspace}/services/${serviceId}/${fn}`);
  const init: RequestInit = { method, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) };
  if (method === "GET") {
    for (const [k, v] of Object.entries(opts.args ?? {})) {
      target.searchParams.set(k, typeof v === "string" ? v : JSON.stringify(v));
    }
  } else {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify(opts.args ?? {});
  }
  return readResult(await fetch(target, init));
}

/** Status and body of a response; the body parsed as JSON when it is JSON, else kept as text. */
async function readResult(res: Response): Promise<HttpCallResult> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body };
}

/** GET {url}/health/liveness. */
export async function livenessCheck(url: string, timeoutMs = 10_000): Promise<HttpCallResult> {
  return readResult(await fetch(`${url.replace(/\/+$/, "")}/health/liveness`, { signal: AbortSignal.timeout(timeoutMs) }));
}

export interface RpcStreamCheck {
  status: number;
  contentType: string | null;
  /** The first frame of the stream, decoded (hypha sends connection_info first). */
  firstFrame: Record<string, unknown>;
  clientId: string;
}

/**
 * Opens the `/rpc` HTTP transport's streaming GET as a raw client would, reads the first
 * `u32be length || msgpack` frame before the response ends (it must be flushed, not buffered),
 * then aborts. The full GET+POST path is exercised by the callers with transport "http".
 */
export async function rpcHttpCheck(url: string, opts: { timeoutMs?: number } = {}): Promise<RpcStreamCheck> {
  const clientId = `rpc-check-${randomBytes(4).toString("hex")}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error("rpc stream check timed out")), opts.timeoutMs ?? 15_000);
  try {
    const res = await fetch(`${url.replace(/\/+$/, "")}/rpc?client_id=${clientId}`, { signal: abort.signal });
    if (!res.body) throw new Error(`GET /rpc answered ${res.status} without a body`);
    const reader = res.body.getReader();
    let buf = new Uint8Array(0);
    for (;;) {
      if (buf.length >= 4) {
        const len = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
        if (len > 16 * 1024 * 1024) throw new Error(`first /rpc frame claims ${len} bytes`);
        if (buf.length >= 4 + len) {
          const firstFrame = decode(buf.subarray(4, 4 + len)) as Record<string, unknown>;
          return { status: res.status, contentType: res.headers.get("content-type"), firstFrame, clientId };
        }
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`GET /rpc (status ${res.status}) ended before a whole frame`);
      const next = new Uint8Array(buf.length + value.length);
      next.set(buf);
      next.set(value, buf.length);
      buf = next;
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
