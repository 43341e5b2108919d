// SIGHUP on the primary of a role run with --workers 2 (real CLI): the primary survives and passes the
// reload on, every worker rereads its link keys (and the gateway its TLS material), and the role still
// carries links afterwards. The files are left unchanged, so only the signal can cause these reloads
// (the file watchers fire on a change only).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startCliRole, type CliRole } from '../helpers/cli-role.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { makeTestCa } from '../helpers/test-ca.js';

type LogLine = Record<string, unknown> & { msg?: string; worker?: unknown };
const logLines = (role: CliRole): LogLine[] =>
  role.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

/** Polls a role's log (bounded) until `pred` holds over its lines. */
async function waitForLog(role: CliRole, pred: (lines: LogLine[]) => boolean, what: string, deadlineMs = 15_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (pred(logLines(role))) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}:\n${role.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const workersLogging = (lines: LogLine[], msg: string) => new Set(lines.filter((l) => l.msg === msg).map((l) => l.worker));

const roles: CliRole[] = [];
after(() => {
  for (const role of roles) role.child.kill('SIGKILL');
});

test('SIGHUP on a --workers 2 primary reaches every worker, which reloads keys and certificates; the primary lives on', { timeout: 120_000 }, async () => {
  const hyphaUrl = await serverUrlFromEnv();
  const ca = makeTestCa();
  const secretFile = writeSecret();
  writeFileSync(secretFile, `# hypha-accel keys\nk1 ${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const gateway = await startCliRole('gateway', ['--workers', '2', '--hypha-url', hyphaUrl, '--secret-file', secretFile, '--tls-cert-file', ca.certPath, '--tls-key-file', ca.keyPath, '--log-level', 'info']);
  roles.push(gateway);
  assert.equal(logLines(gateway).filter((l) => l.msg === 'SIGHUP: reloading').length, 0, 'no reload before the signal');

  gateway.child.kill('SIGHUP');
  await waitForLog(gateway, (lines) => workersLogging(lines, 'SIGHUP: reloading').size === 2, 'both workers reloading');
  await waitForLog(gateway, (lines) => workersLogging(lines, 'link keys reloaded').size === 2 && workersLogging(lines, 'TLS material reloaded').size === 2, 'keys and TLS reloaded in both workers');
  assert.deepEqual([...workersLogging(logLines(gateway), 'SIGHUP: reloading')].sort(), [0, 1], 'worker 0 and worker 1');
  assert.deepEqual(logLines(gateway).filter((l) => l.msg === 'link keys reloaded').map((l) => l.keyIds), [['k1'], ['k1']]);
  assert.equal(gateway.child.exitCode, null, 'the primary is still running');
  assert.equal(gateway.child.signalCode, null);

  // The role still works: an edge opens links to it (each worker takes one) over TLS.
  const edge = await startCliRole('edge', ['--gateway-url', gateway.url.replace('https', 'tls'), '--ca-file', ca.caPath, '--secret-file', secretFile, '--links', '2', '--log-level', 'info']);
  roles.push(edge);
  const until = Date.now() + 15_000;
  while ((await fetch(`${edge.adminUrl}/ready`)).status !== 200) {
    assert.ok(Date.now() < until, `the edge never got a link:\n${edge.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const workers = (await (await fetch(`${gateway.adminUrl}/workers`)).json()) as { index: number }[];
  assert.equal(workers.length, 2, 'both workers still there');
});
