// SIGTERM on the CLI-started proxies: no new clients, connected clients closed with 1001 (so hypha-rpc
// reconnects), links drained, exit code 0 within the drain deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { cliRoleHooks } from '../helpers/cli-role.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';
import { rawConnect, handshakeMessage } from '../helpers/raw-ws.js';

interface Role { child: ChildProcess; url: string; exited: Promise<number | null> }

async function startRole(role: string, flags: string[]): Promise<Role> {
  const child = spawn(process.execPath, [...LAUNCHER_NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', role, '--listen', '127.0.0.1:0', '--log-level', 'warn', '--drain-timeout-ms', '3000', ...flags], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for await (const line of createInterface({ input: child.stdout! })) {
    const event = JSON.parse(line) as { event: string; url: string };
    if (event.event === 'listening') return { child, url: event.url, exited };
  }
  throw new Error(`${role} exited before listening`);
}

const { hypha, started } = cliRoleHooks<Role>();

test('SIGTERM on the edge closes clients with 1001 and exits 0 in time; the gateway too', async () => {
  const secret = writeSecret();
  const gateway = await startRole('gateway', ['--hypha-url', hypha.url, '--secret-file', secret]);
  started.push(gateway);
  const edge = await startRole('edge', ['--gateway-url', gateway.url.replace('http', 'ws'), '--secret-file', secret]);
  started.push(edge);

  const viaEdge = rawConnect(`${edge.url}/ws`);
  assert.equal(await viaEdge.opened, true, 'client connects through the edge');
  viaEdge.ws.send(handshakeMessage(`stop-${randomUUID()}`));
  await viaEdge.nextMessage();
  const plain = rawConnect(`${gateway.url}/ws`);
  assert.equal(await plain.opened, true, 'plain client connects through the gateway');

  const stopStartedMs = Date.now();
  edge.child.kill('SIGTERM');
  const edgeOutcome = await viaEdge.closed;
  assert.equal(edgeOutcome.close?.code, 1001, 'edge clients are closed with 1001');
  assert.equal(await edge.exited, 0, 'the edge exits cleanly');
  assert.ok(Date.now() - stopStartedMs < 3000 + 2000, 'the edge exits within its drain deadline');

  gateway.child.kill('SIGTERM');
  const plainOutcome = await plain.closed;
  assert.equal(plainOutcome.close?.code, 1001, 'plain clients of the gateway are closed with 1001');
  assert.equal(await gateway.exited, 0, 'the gateway exits cleanly');
});
