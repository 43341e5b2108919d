// JS workload service (npm hypha-rpc): registers the same public service as py_service.py, prints a
// ready JSON line and a JSON line per (re)connection event, and runs until stdin closes or SIGTERM.
// usage: node --import tsx js-service.ts SERVER_URL SERVICE_ID
import { hyphaWebsocketClient } from "hypha-rpc";
import {
  type Any,
  arrayStats,
  emit,
  nestedTransform,
  routeConsoleToStderr,
  stderrLogger,
} from "./js-common.js";

// Parameter names matter: hypha-rpc maps Python kwargs onto them.
function echo(x: unknown): unknown {
  return x;
}
function add(a: Any, b: Any): unknown {
  return a + b;
}
function nested(d: Any): unknown {
  return nestedTransform(d);
}
function bytes_len(b: Uint8Array | ArrayBuffer): number {
  return b.byteLength;
}
function echo_bytes(b: Uint8Array | ArrayBuffer): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(b);
}
function array_stats(arr: Any): unknown {
  return arrayStats(arr);
}
function echo_array(arr: Any): unknown {
  return arr;
}
async function* count(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}
async function call_back(cb: (x: unknown) => unknown, x: unknown): Promise<unknown> {
  const result = await cb(x);
  return { x, result };
}
function fail(msg: string): never {
  throw new Error(msg);
}

async function waitForStop(): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
    process.stdin.on("end", () => resolve());
    process.stdin.on("close", () => resolve());
    process.stdin.resume();
  });
}

async function main(serverUrl: string, serviceId: string): Promise<void> {
  const server: Any = await hyphaWebsocketClient.connectToServer({
    server_url: serverUrl,
    name: "js-workload-service",
    logger: stderrLogger,
  } as Any);
  const info: Any = await server.registerService({
    id: serviceId,
    name: "hypha-accel js workload",
    config: { visibility: "public" },
    echo,
    add,
    nested,
    bytes_len,
    echo_bytes,
    array_stats,
    echo_array,
    count,
    call_back,
    fail,
  });
  const rpc: Any = server.rpc;
  rpc.on("connected", (ci: Any) => emit({ event: "connected", workspace: ci?.workspace ?? null }));
  rpc.on("services_registered", (status: Any) => emit({ event: "services_registered", status }));
  rpc.on("disconnected", () => emit({ event: "disconnected" }));
  emit({
    ready: true,
    workspace: server.config.workspace,
    client_id: server.config.client_id,
    service_id: info.id,
  });
  console.error("[js-service] registered", info.id);
  await waitForStop();
  console.error("[js-service] stopping");
  await Promise.race([server.disconnect(), new Promise((r) => setTimeout(r, 5000).unref())]);
}

routeConsoleToStderr();
const [serverUrl, serviceId] = process.argv.slice(2);
if (!serverUrl || !serviceId) {
  console.error("usage: js-service.ts SERVER_URL SERVICE_ID");
  process.exit(2);
}
main(serverUrl, serviceId).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error("[js-service] fatal:", err);
    process.exit(1);
  },
);
