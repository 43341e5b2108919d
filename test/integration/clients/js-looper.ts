// JS client under load for restart tests (npm hypha-rpc), the twin of py_looper.py: registers a small
// public service, then keeps LOOPS concurrent loops calling it through the server (getService + echo of
// 4 KiB) and the workspace manager (listServices), printing a JSON line per call and per event.
// usage: node --import tsx js-looper.ts SERVER_URL SERVICE_ID
import { hyphaWebsocketClient } from "hypha-rpc";
import { type Any, emit, routeConsoleToStderr, stderrLogger } from "./js-common.js";

const LOOPS = 2;
const PAYLOAD = new Uint8Array(4 * 1024).map((_, i) => i % 256);
const CALL_TIMEOUT_MS = 10_000;

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("call timed out")), CALL_TIMEOUT_MS).unref())]);
}

async function callLoop(server: Any, serviceId: string, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    const started = Date.now();
    try {
      const svc = await withTimeout(server.getService(serviceId));
      const echoed: Uint8Array = await withTimeout(svc.echo(PAYLOAD));
      await withTimeout(server.listServices());
      const ok = echoed.byteLength === PAYLOAD.byteLength && echoed.every((v, i) => v === PAYLOAD[i]);
      emit({ event: "call", ok, t: started });
    } catch (err) {
      emit({ event: "call", ok: false, t: started, err: String(err).slice(0, 200) });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function main(serverUrl: string, serviceId: string): Promise<void> {
  const server: Any = await hyphaWebsocketClient.connectToServer({ server_url: serverUrl, name: "js-looper", logger: stderrLogger } as Any);
  const info: Any = await server.registerService({ id: serviceId, config: { visibility: "public" }, echo: (x: unknown) => x });
  const rpc: Any = server.rpc;
  rpc.on("connected", () => emit({ event: "connected" }));
  rpc.on("services_registered", () => emit({ event: "services_registered" }));
  rpc.on("disconnected", () => emit({ event: "disconnected" }));
  emit({ ready: true, workspace: server.config.workspace, client_id: server.config.client_id, service_id: info.id });
  let stop = false;
  const loops = Array.from({ length: LOOPS }, () => callLoop(server, info.id, () => stop));
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.stdin.on("end", () => resolve());
    process.stdin.on("close", () => resolve());
    process.stdin.resume();
  });
  stop = true;
  void loops;
  await Promise.race([server.disconnect(), new Promise((r) => setTimeout(r, 5000).unref())]);
}

routeConsoleToStderr();
const [serverUrl, serviceId] = process.argv.slice(2);
if (!serverUrl || !serviceId) {
  console.error("usage: js-looper.ts SERVER_URL SERVICE_ID");
  process.exit(2);
}
main(serverUrl, serviceId).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error("[js-looper] fatal:", err);
    process.exit(1);
  },
);
