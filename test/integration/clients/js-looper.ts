// JS client under load for restart tests (npm hypha-rpc), the twin of py_looper.py: registers a small
// public service, then keeps LOOPS concurrent loops calling it through the workspace manager
// (getService + echo of 4 KiB, then listServices), each loop at most one round per LOOP_INTERVAL_MS so
// the load stays within hypha's per-connection message rate; a JSON line per round and per event.
// The loops use the manager proxy of the RPC's latest "manager_refreshed" event, not the `server`
// object: npm hypha-rpc 0.21.40's `server` proxy keeps the old manager id after the FIRST
// reconnection (see py_looper.py), and a server restart gives the manager a new id.
// usage: node --import tsx js-looper.ts SERVER_URL SERVICE_ID
import { hyphaWebsocketClient } from "hypha-rpc";
import { type Any, emit, routeConsoleToStderr, stderrLogger } from "./js-common.js";

const LOOPS = 2;
/** 2 loops x 10 rounds/s x 4 messages = 80 messages/s; hypha admits 200/s per connection. */
const LOOP_INTERVAL_MS = 100;
/** 4 KiB by default; LOOPER_PAYLOAD_BYTES for bulk load, e.g. 4 MiB in the chaos tests. */
const PAYLOAD = new Uint8Array(Number(process.env.LOOPER_PAYLOAD_BYTES ?? 4096)).map((_, i) => i % 256);
const CALL_TIMEOUT_MS = Number(process.env.LOOPER_CALL_TIMEOUT_S ?? 10) * 1000;

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("call timed out")), CALL_TIMEOUT_MS).unref())]);
}

async function callLoop(index: number, current: { manager: Any }, serviceId: string, stopped: () => boolean): Promise<void> {
  for (let round = 0; !stopped(); round++) {
    const started = Date.now();
    const token = `${index}-${round}`; // the service counts invocations per token (exactly once, not only answered)
    let stage = "getService";
    try {
      const manager = current.manager;
      const svc = await withTimeout(manager.getService(serviceId));
      stage = "echo";
      const echoed: Uint8Array = await withTimeout(svc.echo(PAYLOAD, token));
      stage = "listServices";
      await withTimeout(manager.listServices());
      const ok = echoed.byteLength === PAYLOAD.byteLength && echoed.every((v, i) => v === PAYLOAD[i]);
      emit({ event: "call", loop: index, ok, t: started, token });
    } catch (err) {
      emit({ event: "call", loop: index, ok: false, t: started, token, stage, err: String(err).slice(0, 200) });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, started + LOOP_INTERVAL_MS - Date.now())));
  }
}

async function main(serverUrl: string, serviceId: string): Promise<void> {
  const server: Any = await hyphaWebsocketClient.connectToServer({ server_url: serverUrl, name: "js-looper", logger: stderrLogger } as Any);
  const invocations = new Map<string, number>();
  const echo = (x: unknown, token?: string) => {
    if (token !== undefined) {
      const n = (invocations.get(token) ?? 0) + 1;
      invocations.set(token, n);
      emit({ event: "echo_invoked", token, n });
    }
    return x;
  };
  const info: Any = await server.registerService({ id: serviceId, config: { visibility: "public" }, echo });
  const current = { manager: server };
  const rpc: Any = server.rpc;
  rpc.on("manager_refreshed", (data: Any) => {
    current.manager = data.manager;
    emit({ event: "manager_refreshed", t: Date.now() });
  });
  rpc.on("connected", () => emit({ event: "connected", t: Date.now() }));
  rpc.on("disconnected", () => emit({ event: "disconnected", t: Date.now() }));
  rpc.on("services_registered", () => emit({ event: "services_registered", t: Date.now() }));
  emit({ ready: true, workspace: server.config.workspace, client_id: server.config.client_id, service_id: info.id });
  let stop = false;
  const loops = Array.from({ length: LOOPS }, (_, i) => callLoop(i, current, info.id, () => stop));
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
