// No token reaches spans, metrics or logs: both roles run through the real CLI at debug level with tracing
// always on toward an OTLP receiver inside the test; a real Python client gets a token from hypha
// (generate_token) and connects with it through the pair; HTTP requests carry the token as
// `Authorization: Bearer`, as `?token=`/`?access_token=` and as a cookie; WebSocket upgrades carry it in
// the query. Then the token is searched for in every exported span, both /metrics texts and both logs.
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { startCliRole, type CliRole } from '../helpers/cli-role.js';

const PY_CLIENT = `
import asyncio, json, sys
from hypha_rpc import connect_to_server
async def main(url):
    first = await connect_to_server({"server_url": url, "client_id": "redact-a"})
    token = await first.generate_token()
    second = await connect_to_server({"server_url": url, "token": token, "workspace": first.config.workspace, "client_id": "redact-b"})
    services = await second.list_services()
    print(json.dumps({"token": token, "workspace": second.config.workspace, "services": len(services)}), flush=True)
    await second.disconnect()
    await first.disconnect()
asyncio.run(main(sys.argv[1]))
`;

async function runPython(url: string): Promise<{ token: string; workspace: string }> {
  const child = spawn('.venv/bin/python', ['-c', PY_CLIENT, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code] = await once(child, 'exit') as [number];
  assert.equal(code, 0, `python client failed: ${Buffer.concat(err).toString().slice(-2000)}`);
  const line = Buffer.concat(out).toString().split('\n').find((l) => l.startsWith('{"token"'));
  assert.ok(line, `no result line: ${Buffer.concat(out).toString().slice(-1000)}`);
  return JSON.parse(line) as { token: string; workspace: string };
}

/** OTLP/HTTP receiver: keeps every request body as text (JSON protocol). */
async function startReceiver(): Promise<{ url: string; bodies: string[]; close(): void }> {
  const bodies: string[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    bodies.push(`${req.url} ${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString('utf8')}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, bodies, close: () => server.close() };
}

async function upgradeOutcome(url: string): Promise<void> {
  const ws = new WebSocket(url, { headers: { authorization: 'Bearer X' } });
  ws.on('open', () => ws.close());
  await new Promise<void>((resolve) => { ws.once('close', () => resolve()); ws.once('error', () => resolve()); });
}

let gateway: CliRole;
let edge: CliRole;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
before(async () => {
  const hyphaUrl = await serverUrlFromEnv();
  receiver = await startReceiver();
  const env = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'always_on', OTEL_BSP_SCHEDULE_DELAY: '3600000' }; // exported only by the flush on stop
  const secret = writeSecret();
  gateway = await startCliRole('gateway', ['--hypha-url', hyphaUrl, '--secret-file', secret, '--log-level', 'debug'], env);
  edge = await startCliRole('edge', ['--gateway-url', gateway.url.replace('http', 'ws'), '--secret-file', secret, '--log-level', 'debug'], env);
});
after(() => {
  gateway?.child.kill('SIGKILL');
  edge?.child.kill('SIGKILL');
  receiver?.close();
});

test('a token from hypha, carried by clients and HTTP requests, is in no span, metric or log line', async () => {
  const { token, workspace } = await runPython(edge.url);
  assert.ok(token.length > 20, 'hypha gave a token');
  // HTTP through both proxies with the token in the header, the query and a cookie.
  for (const base of [edge.url, gateway.url]) {
    for (const path of [`/${workspace}/services?token=${token}`, `/public/services?access_token=${token}&x=1`, `/nowhere/404?reconnection_token=${token}`]) {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}`, cookie: `access_token=${token}` } });
      await res.arrayBuffer();
      assert.ok(res.status > 0);
    }
    // WebSocket upgrades with the token in the query (one accepted, one to a refused path).
    await upgradeOutcome(`${base.replace('http', 'ws')}/ws?token=${token}&reconnection_token=${token}`);
    await upgradeOutcome(`${base.replace('http', 'ws')}/not-a-ws-path?token=${token}`);
  }
  // Stop both gracefully: the exporters flush on stop and the logs are complete.
  const metrics = [await (await fetch(`${edge.adminUrl}/metrics`)).text(), await (await fetch(`${gateway.adminUrl}/metrics`)).text()];
  const stats = [await (await fetch(`${edge.adminUrl}/stats`)).text(), await (await fetch(`${gateway.adminUrl}/stats`)).text()];
  assert.equal(receiver.bodies.length, 0, 'no export before the stop (the batch delay is an hour)');
  edge.child.kill('SIGTERM');
  assert.equal(await edge.exited, 0);
  gateway.child.kill('SIGTERM');
  assert.equal(await gateway.exited, 0);

  const spans = receiver.bodies.join('\n');
  const logs = edge.log() + gateway.log();
  assert.ok(receiver.bodies.length > 0 && spans.includes('list_services'), 'spans of the workload were exported: flushed on graceful stop');
  assert.match(logs, /"level":20/, 'debug lines were logged');
  assert.match(logs, /session open/, 'the sessions were logged');
  // The token is a JWT: no piece of it (its signature, the whole) may appear anywhere.
  const signature = token.split('.').pop()!;
  for (const [where, text] of [['spans', spans], ['metrics', metrics.join('\n')], ['stats', stats.join('\n')], ['logs', logs]] as const) {
    assert.ok(!text.includes(token), `the token appears in ${where}`);
    assert.ok(!text.includes(signature), `the token's signature appears in ${where}`);
  }
});
