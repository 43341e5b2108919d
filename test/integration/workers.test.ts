// Two workers per role (--workers 2, CLI-started): both gateway workers carry links and both edge workers
// carry sessions; the real Python and JS clients pass every workload check through them; the primary's
// admin port answers for all workers (readiness, /workers, summed metrics); SIGTERM on a primary closes
// the clients with 1001, drains every worker and exits 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';
import { rawConnect, handshakeMessage, type RawSession } from '../helpers/raw-ws.js';
import { failedChecks, runJsCaller, runPyCaller, startJsService, startPyService, uniqueServiceId, type CallerResult, type ServiceProcess } from '../helpers/clients.js';

interface Listening { url: string; admin: string; workers: Array<{ index: number; pid: number }> }
interface Role { child: ChildProcess; line: Listening; exited: Promise<number | null> }
interface WorkerRow { index: number; pid: number; sessions?: Record<string, number>; links?: number }

const sessionsOf = (row: WorkerRow) => Object.values(row.sessions ?? {}).reduce((n, v) => n + v, 0);

async function startRole(role: string, flags: string[]): Promise<Role> {
  const args = [...LAUNCHER_NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', role, '--workers', '2', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn', '--drain-timeout-ms', '3000', ...flags];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for await (const text of createInterface({ input: child.stdout! })) {
    const line = JSON.parse(text) as Listening & { event: string };
    if (line.event === 'listening') return { child, line, exited };
  }
  throw new Error(`${role} exited before listening`);
}

async function workers(role: Role): Promise<WorkerRow[]> {
  return (await fetch(`${role.line.admin}/workers`)).json() as Promise<WorkerRow[]>;
}

/** Polls the primary's /workers until `condition` holds (bounded; status is reported every 500 ms). */
async function waitWorkers(role: Role, condition: (rows: WorkerRow[]) => boolean, what: string, deadlineMs = 15_000): Promise<WorkerRow[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const rows = await workers(role);
    if (condition(rows)) return rows;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function assertAllPassed(result: CallerResult, what: string): void {
  const failed = failedChecks(result);
  assert.deepEqual(failed, [], `${what}: failed checks\n${failed.join('\n')}\nstderr:\n${result.stderr.slice(-2000)}`);
  assert.ok(Object.keys(result.checks).length >= 10, `${what}: too few checks ran`);
}

let hyphaUrl = '';
const started: Role[] = [];
const services: ServiceProcess[] = [];
before(async () => {
  hyphaUrl = await serverUrlFromEnv();
});
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  for (const role of started) {
    role.child.kill('SIGKILL');
    for (const { pid } of role.line.workers) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('two workers per role carry real clients end to end, and SIGTERM drains them all', async () => {
  const secret = writeSecret();
  // The payload plane stays in the path on loopback, so each worker's own stores carry the bulk checks.
  const plane = ['--payload-bypass-mbps', '0'];
  const gateway = await startRole('gateway', ['--hypha-url', hyphaUrl, '--secret-file', secret, ...plane]);
  started.push(gateway);
  const edge = await startRole('edge', ['--gateway-url', gateway.line.url.replace('http', 'ws'), '--secret-file', secret, '--links', '2', ...plane]);
  started.push(edge);

  for (const role of [gateway, edge]) {
    const pids = role.line.workers.map((w) => w.pid);
    assert.equal(new Set(pids).size, 2, 'two worker processes');
    for (const pid of pids) assert.equal(parentOf(pid), role.child.pid, 'each worker is a child of the primary');
  }
  // Two edge workers dial two links each; the gateway's primary hands them out in turn.
  const gatewayRows = await waitWorkers(gateway, (rows) => rows.length === 2 && rows.every((r) => r.links === 2), 'two links on each gateway worker');
  assert.deepEqual(gatewayRows.map((r) => r.links), [2, 2]);
  await waitWorkers(edge, (rows) => rows.length === 2 && rows.every((r) => r.links === 2), 'every edge worker with its own two links');
  assert.equal((await fetch(`${edge.line.admin}/ready`)).status, 200, 'the edge primary is ready: every worker has a link');
  assert.equal((await fetch(`${gateway.line.admin}/ready`)).status, 200, 'the gateway primary is ready: every worker reaches hypha');

  // Raw sessions opened one after another are handed to the edge workers in turn: both carry sessions.
  const raw: RawSession[] = [];
  for (let i = 0; i < 4; i += 1) {
    const session = rawConnect(`${edge.line.url}/ws`);
    assert.equal(await session.opened, true, `raw client ${i} connects through the edge`);
    session.ws.send(handshakeMessage(`workers-${randomUUID()}`));
    await session.nextMessage();
    raw.push(session);
  }
  const edgeRows = await waitWorkers(edge, (rows) => rows.reduce((n, r) => n + sessionsOf(r), 0) >= 4, 'four sessions over the edge workers');
  assert.ok(edgeRows.every((r) => sessionsOf(r) >= 1), `both edge workers carry sessions: ${JSON.stringify(edgeRows)}`);

  // Real clients: services and callers in both languages, through whichever workers they land on.
  const py = await startPyService(edge.line.url, uniqueServiceId('wpy'));
  services.push(py);
  const js = await startJsService(edge.line.url, uniqueServiceId('wjs'));
  services.push(js);
  const [pyToJs, jsToPy] = await Promise.all([runPyCaller(edge.line.url, js.serviceId), runJsCaller(edge.line.url, py.serviceId)]);
  assertAllPassed(pyToJs, 'py->js through two edge and two gateway workers');
  assertAllPassed(jsToPy, 'js->py through two edge and two gateway workers');

  // One scrape of the primary sums the workers' registries.
  const metrics = await (await fetch(`${gateway.line.admin}/metrics`)).text();
  assert.match(metrics, /^hypha_accel_links\{role="gateway"\} 4$/m, 'the gateway primary reports the links of both workers');
  const messages = [...(await (await fetch(`${edge.line.admin}/metrics`)).text()).matchAll(/^hypha_accel_messages_total\{[^}]*\} (\d+)$/gm)];
  assert.ok(messages.reduce((n, m) => n + Number(m[1]), 0) > 0, 'the edge primary reports messages relayed by its workers');

  await Promise.all(services.splice(0).map((s) => s.stop()));
  const stopStartedMs = Date.now();
  edge.child.kill('SIGTERM');
  for (const session of raw) assert.equal((await session.closed).close?.code, 1001, 'edge clients are closed with 1001');
  assert.equal(await edge.exited, 0, 'the edge primary exits cleanly');
  assert.ok(Date.now() - stopStartedMs < 3000 + 4000, 'within its drain deadline');
  for (const { pid } of edge.line.workers) assert.equal(alive(pid), false, `edge worker ${pid} is gone`);

  gateway.child.kill('SIGTERM');
  assert.equal(await gateway.exited, 0, 'the gateway primary exits cleanly');
  for (const { pid } of gateway.line.workers) assert.equal(alive(pid), false, `gateway worker ${pid} is gone`);
});
