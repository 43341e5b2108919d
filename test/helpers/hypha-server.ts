// Starts and stops a real hypha server (`python -m hypha.server` from the repo's .venv) on 127.0.0.1
// for integration tests: free-port pick, bounded liveness polling, restart on the same port, log tail
// on failure. serverUrlFromEnv() reuses the suite's shared server (HYPHA_TEST_SERVER_URL) when set.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const VENV_PYTHON = join(REPO_ROOT, ".venv/bin/python");

export interface HyphaServerOptions {
  /** Port to listen on; a free one is picked when absent. */
  port?: number;
  /** Extra environment for the server (e.g. HYPHA_WS_MSG_RATE_LIMIT); overrides the defaults. */
  env?: Record<string, string>;
  /** Keep running after this process exits (used by scripts/start-hypha.ts). Default false. */
  detached?: boolean;
  /** How long to wait for GET /health/liveness. Default 60 s. */
  readyTimeoutMs?: number;
  /**
   * "hypha" (default): `python -m hypha.server`, which turns uvicorn's protocol pings off.
   * "uvicorn": `python -m uvicorn hypha.server:app` as the upstream Helm chart runs it, with
   * uvicorn's default 20 s / 20 s WebSocket protocol pings.
   */
  launcher?: "hypha" | "uvicorn";
  /** Extra command-line arguments, e.g. ["--redis-uri", uri] for a replica sharing a Redis. */
  args?: string[];
}

export interface HyphaServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** PID of the current server process (changes on restart). */
  readonly pid: number;
  /** Path of the server's combined stdout/stderr log (appended to across restarts). */
  readonly logPath: string;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same environment. */
  restart(): Promise<void>;
}

/** Picks a port that is free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Last `lines` lines of a log file ("" when unreadable). */
export function logTail(path: string, lines = 40): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

async function isLive(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health/liveness`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await delay(50);
  }
  return !isAlive(pid);
}

interface Launch {
  pid: number;
  exited: () => boolean;
}

function serverArgs(launcher: "hypha" | "uvicorn", port: number): string[] {
  if (launcher === "uvicorn") {
    return ["-m", "uvicorn", "hypha.server:app", "--host", "127.0.0.1", "--port", String(port)];
  }
  return ["-m", "hypha.server", "--host", "127.0.0.1", "--port", String(port)];
}

function launch(args: string[], env: Record<string, string>, logPath: string, detached: boolean): Launch {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error(`${VENV_PYTHON} not found: run scripts/setup-python.sh first`);
  }
  const logFd = openSync(logPath, "a");
  const child = spawn(
    VENV_PYTHON,
    args,
    {
      cwd: tmpdir(),
      env: { ...process.env, ...env },
      stdio: ["ignore", logFd, logFd],
      // Own process group: stop() signals the whole group, and a detached server outlives us.
      detached: true,
    },
  );
  closeSync(logFd);
  let exited = false;
  const pid = child.pid;
  // Never leave a private server behind when the test process ends.
  const killOnExit = (): void => {
    if (pid !== undefined) killGroup(pid, "SIGKILL");
  };
  if (!detached) process.once("exit", killOnExit);
  const markExited = (): void => {
    exited = true;
    process.removeListener("exit", killOnExit);
  };
  child.on("exit", markExited);
  child.on("error", markExited);
  child.unref();
  if (pid === undefined) throw new Error(`failed to spawn ${VENV_PYTHON}; see ${logPath}`);
  return { pid, exited: () => exited || !isAlive(pid) };
}

async function waitReady(url: string, proc: Launch, logPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isLive(url)) return;
    if (proc.exited()) {
      throw new Error(`hypha server exited before becoming live (log ${logPath}):\n${logTail(logPath)}`);
    }
    await delay(200);
  }
  killGroup(proc.pid, "SIGKILL");
  throw new Error(
    `hypha server at ${url} not live within ${timeoutMs} ms (log ${logPath}):\n${logTail(logPath)}`,
  );
}

/** Starts a hypha server on 127.0.0.1 and resolves once GET /health/liveness answers 200. */
export async function startHyphaServer(opts: HyphaServerOptions = {}): Promise<HyphaServer> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    HYPHA_JWT_SECRET: process.env.HYPHA_JWT_SECRET ?? randomBytes(16).toString("hex"),
    PYTHONUNBUFFERED: "1",
    ...opts.env,
  };
  const detached = opts.detached ?? false;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const logPath = join(tmpdir(), `hypha-test-server-${port}-${Date.now()}.log`);
  const args = [...serverArgs(opts.launcher ?? "hypha", port), ...(opts.args ?? [])];
  let proc = launch(args, env, logPath, detached);
  await waitReady(url, proc, logPath, readyTimeoutMs);

  const stop = async (): Promise<void> => {
    if (proc.exited()) return;
    killGroup(proc.pid, "SIGTERM");
    if (!(await waitExit(proc.pid, 10_000))) {
      killGroup(proc.pid, "SIGKILL");
      await waitExit(proc.pid, 5_000);
    }
  };
  const restart = async (): Promise<void> => {
    await stop();
    proc = launch(args, env, logPath, detached);
    await waitReady(url, proc, logPath, readyTimeoutMs);
  };
  return {
    url,
    port,
    get pid() {
      return proc.pid;
    },
    logPath,
    stop,
    restart,
  };
}

/**
 * The URL of the suite's shared server (HYPHA_TEST_SERVER_URL), or, when unset, of a private server
 * started for this process (killed when the process exits), so one test file can run alone.
 */
export async function serverUrlFromEnv(): Promise<string> {
  const shared = process.env.HYPHA_TEST_SERVER_URL;
  if (shared) return shared.replace(/\/+$/, "");
  const server = await startHyphaServer();
  return server.url;
}
