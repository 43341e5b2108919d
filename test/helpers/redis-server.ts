// Starts and stops a real Redis (Debian's redis-server) on 127.0.0.1 for the scale-out tests: a free
// port, no persistence, readiness by a RESP PING, the process group killed on stop and on exit.
// redisServerPath() says whether redis-server is installed (scripts/setup-redis.sh installs it).
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { freePort, logTail } from "./hypha-server.js";

export interface RedisServer {
  /** redis://127.0.0.1:PORT/0, what hypha's --redis-uri takes. */
  readonly uri: string;
  readonly port: number;
  readonly pid: number;
  readonly logPath: string;
  stop(): Promise<void>;
}

/** The path of redis-server on PATH, or null when it is not installed. */
export function redisServerPath(): string | null {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : null;
}

/** Sends PING and resolves true on +PONG within `timeoutMs`. */
function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.on("error", () => done(false));
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** Starts redis-server on a free loopback port and resolves once it answers PING. */
export async function startRedisServer(readyTimeoutMs = 20_000): Promise<RedisServer> {
  const binary = redisServerPath();
  if (!binary) throw new Error("redis-server is not installed: run scripts/setup-redis.sh (Debian package redis-server)");
  const port = await freePort();
  const logPath = join(tmpdir(), `redis-test-server-${port}-${Date.now()}.log`);
  const logFd = openSync(logPath, "a");
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmpdir()];
  const child = spawn(binary, args, { stdio: ["ignore", logFd, logFd], detached: true });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`failed to spawn ${binary}; see ${logPath}`);
  let exited = false;
  const killOnExit = (): void => killGroup(pid, "SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => {
    exited = true;
    process.removeListener("exit", killOnExit);
  });
  child.unref();

  const deadline = Date.now() + readyTimeoutMs;
  while (!(await ping(port, 1000))) {
    if (exited || Date.now() > deadline) {
      killGroup(pid, "SIGKILL");
      throw new Error(`redis-server on port ${port} not ready within ${readyTimeoutMs} ms (log ${logPath}):\n${logTail(logPath)}`);
    }
    await delay(100);
  }

  const stop = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    killGroup(pid, "SIGTERM");
    const timer = delay(5_000, "timeout");
    if ((await Promise.race([gone.then(() => "gone"), timer])) !== "gone") killGroup(pid, "SIGKILL");
  };
  return { uri: `redis://127.0.0.1:${port}/0`, port, pid, logPath, stop };
}
