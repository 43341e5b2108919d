// Starts a detached real hypha server on 127.0.0.1 for the test suite and prints how to reach it.
// `--export` prints `export HYPHA_TEST_SERVER_URL=...` / `_PID=...` / `_LOG=...` lines for `eval`;
// otherwise one JSON line. The server keeps running after this script exits; kill the PID to stop it.
import { parseArgs } from "node:util";
import { startHyphaServer } from "../test/helpers/hypha-server.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      export: { type: "boolean", default: false },
      port: { type: "string" },
      "timeout-ms": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: node --import tsx scripts/start-hypha.ts [--export] [--port N] [--timeout-ms MS]\n" +
        "Environment variables HYPHA_* set here are passed on to the server.\n",
    );
    return;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new Error(`--port: expected an integer 1-65535, got ${values.port}`);
  }
  const timeout = values["timeout-ms"] === undefined ? undefined : Number(values["timeout-ms"]);
  const server = await startHyphaServer({ port, detached: true, readyTimeoutMs: timeout });
  if (values.export) {
    process.stdout.write(
      `export HYPHA_TEST_SERVER_URL=${server.url}\n` +
        `export HYPHA_TEST_SERVER_PID=${server.pid}\n` +
        `export HYPHA_TEST_SERVER_LOG=${server.logPath}\n`,
    );
  } else {
    process.stdout.write(JSON.stringify({ url: server.url, pid: server.pid, log: server.logPath }) + "\n");
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`start-hypha: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
