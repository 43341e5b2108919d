// A JS client (npm hypha-rpc) that pushes data at a service without waiting for answers: it fires
// PUSH_CALLS echo calls of PUSH_BYTES each (below hypha-rpc's 256 KiB chunk size, so each call is one
// message sent at once), ignoring their outcome. Used against a service whose process stopped reading.
// Prints a ready line once it holds the service (hypha asks the service's client for it), pushes on SIGUSR1,
// then prints {"event":"pushed","calls","bytes"} once every call was handed to the socket.
// usage: node --import tsx js-pusher.ts SERVER_URL SERVICE_ID
import { hyphaWebsocketClient } from "hypha-rpc";
import { type Any, emit, routeConsoleToStderr, stderrLogger } from "./js-common.js";

const CALLS = Number(process.env.PUSH_CALLS ?? 100);
const BYTES = Number(process.env.PUSH_BYTES ?? 200 * 1024);

async function main(serverUrl: string, serviceId: string): Promise<void> {
  const server: Any = await hyphaWebsocketClient.connectToServer({ server_url: serverUrl, name: "js-pusher", method_timeout: 600, logger: stderrLogger } as Any);
  const svc: Any = await server.getService(serviceId);
  const go = new Promise<void>((resolve) => process.once("SIGUSR1", () => resolve()));
  emit({ ready: true, workspace: server.config.workspace, client_id: server.config.client_id, service_id: serviceId });
  await go;
  for (let i = 0; i < CALLS; i++) {
    const payload = new Uint8Array(BYTES).fill(i % 256);
    void Promise.resolve(svc.echo(payload)).catch(() => {});
  }
  emit({ event: "pushed", calls: CALLS, bytes: CALLS * BYTES, t: Date.now() });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.stdin.on("end", () => resolve());
    process.stdin.on("close", () => resolve());
    process.stdin.resume();
  });
  process.exit(0);
}

routeConsoleToStderr();
const [serverUrl, serviceId] = process.argv.slice(2);
if (!serverUrl || !serviceId) {
  console.error("usage: js-pusher.ts SERVER_URL SERVICE_ID");
  process.exit(2);
}
main(serverUrl, serviceId).catch((err: unknown) => {
  console.error("[js-pusher] fatal:", err);
  process.exit(1);
});
