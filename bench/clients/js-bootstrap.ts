// S2 bootstrap with the real JS client (npm hypha-rpc; Node >= 22 has the global WebSocket it reads):
// connect, get a service, make the first call, check its answer, print one JSON line of timings.
// usage: js-bootstrap.ts SERVER_URL SERVICE_ID
import { performance } from 'node:perf_hooks';
import { hyphaWebsocketClient } from 'hypha-rpc';
import { isDeepStrictEqual } from 'node:util';

async function main(): Promise<void> {
  const [serverUrl, serviceId] = process.argv.slice(2);
  if (!serverUrl || !serviceId) throw new Error('usage: js-bootstrap.ts SERVER_URL SERVICE_ID');
  const tImported = performance.now();
  const server = await hyphaWebsocketClient.connectToServer({ server_url: serverUrl });
  const tConnected = performance.now();
  const svc = await server.getService(serviceId);
  const tService = performance.now();
  const payload = { text: 'hypha-accel small call ' + 'x'.repeat(120), n: 7, tags: ['bench', 's1'], ok: true };
  const result: unknown = await svc.echo(payload);
  const tResult = performance.now();
  if (!isDeepStrictEqual(result, payload)) throw new Error(`wrong echo: ${JSON.stringify(result).slice(0, 200)}`);
  process.stdout.write(
    JSON.stringify({
      ok: true,
      import_ms: tImported,
      connect_ms: tConnected - tImported,
      get_service_ms: tService - tConnected,
      first_call_ms: tResult - tService,
      in_process_ms: tResult - tImported,
    }) + '\n',
  );
  await server.disconnect();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`js-bootstrap: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
