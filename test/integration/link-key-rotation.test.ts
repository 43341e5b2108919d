// The link key rotated under load by the steps of docs/security.md, with the real CLI (reload by SIGHUP),
// real hypha and real Python and JS loopers through the pair: no round fails, no client reconnects or
// re-registers, the links end up made with the new key (/stats keyId on both sides), and an edge that
// holds only the old key is refused once the gateway dropped it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { startCliRole, type CliRole } from '../helpers/cli-role.js';
import { startService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';

const OLD = { id: '2026-05', secret: randomBytes(32).toString('hex') };
const NEW = { id: '2026-11', secret: randomBytes(32).toString('hex') };
const dir = mkdtempSync(join(tmpdir(), 'hypha-accel-rotation-'));

/** Writes a keyring as an operator would: a new file renamed over the old one. */
function writeKeys(path: string, keys: { id: string; secret: string }[]): void {
  writeFileSync(`${path}.tmp`, `# hypha-accel keys\n${keys.map((k) => `${k.id} ${k.secret}`).join('\n')}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

type LogLine = Record<string, unknown> & { msg?: string };
const logLines = (role: CliRole): LogLine[] =>
  role.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

/** Polls a role's log (bounded) until a line matches. */
async function waitForLog(role: CliRole, pred: (line: LogLine) => boolean, what: string, deadlineMs = 20_000): Promise<LogLine> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const line = logLines(role).find(pred);
    if (line) return line;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}:\n${role.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const reloadedTo = (ids: string[]) => (line: LogLine) => line.msg === 'link keys reloaded' && JSON.stringify(line.keyIds) === JSON.stringify(ids);

async function linkKeyIds(role: CliRole): Promise<string[]> {
  const stats = (await (await fetch(`${role.adminUrl}/stats`)).json()) as { links: { keyId: string }[] };
  return stats.links.map((l) => l.keyId).sort();
}

/** Polls /stats (bounded) until the role's links are exactly `ids`. */
async function waitForLinkKeys(role: CliRole, ids: string[], what: string, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const now = await linkKeyIds(role);
    if (JSON.stringify(now) === JSON.stringify(ids)) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: links use ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function moreRounds(loopers: ServiceProcess[], rounds: number): Promise<void> {
  const counts = loopers.map((l) => l.countEvents('call'));
  await Promise.all(loopers.map((l, i) => l.waitForEventCount('call', counts[i]! + rounds, 60_000)));
}

const roles: CliRole[] = [];
const loopers: ServiceProcess[] = [];
after(async () => {
  await Promise.all(loopers.map((l) => l.stop()));
  for (const role of roles) role.child.kill('SIGKILL');
});

test('link key rotated by the documented steps under load: no call lost, no reconnect, links move to the new key, an old-key edge is refused', { timeout: 240_000 }, async () => {
  const hyphaUrl = await serverUrlFromEnv();
  const gatewayKeys = join(dir, 'gateway-keys');
  const edgeKeys = join(dir, 'edge-keys');
  writeKeys(gatewayKeys, [OLD]);
  writeKeys(edgeKeys, [OLD]);
  const gateway = await startCliRole('gateway', ['--hypha-url', hyphaUrl, '--secret-file', gatewayKeys, '--log-level', 'info']);
  roles.push(gateway);
  const edge = await startCliRole('edge', ['--gateway-url', gateway.url.replace('http', 'tcp'), '--secret-file', edgeKeys, '--links', '2', '--log-level', 'info']);
  roles.push(edge);
  await waitForLinkKeys(edge, [OLD.id, OLD.id], 'two links with the old key');

  for (const lang of ['py', 'js'] as const) loopers.push(await startService(lang, edge.url, uniqueServiceId(`${lang}-rotate`), { program: 'looper' }));
  for (const looper of loopers) await looper.waitForEvent((e) => e.event === 'call' && e.ok === true, 60_000);
  const registered = loopers.map((l) => l.countEvents('services_registered'));
  const startedAt = Date.now();

  // 1. Gateway: the new key after the old one, reloaded by SIGHUP. Running links keep the old key.
  writeKeys(gatewayKeys, [OLD, NEW]);
  gateway.child.kill('SIGHUP');
  await waitForLog(gateway, reloadedTo([OLD.id, NEW.id]), 'gateway holding old and new');
  await moreRounds(loopers, 3);
  assert.deepEqual(await linkKeyIds(gateway), [OLD.id, OLD.id], 'step 1 leaves running links alone');

  // 2. Edge: the new key first. New links would use it; running links go on with the old one.
  writeKeys(edgeKeys, [NEW, OLD]);
  edge.child.kill('SIGHUP');
  await waitForLog(edge, reloadedTo([NEW.id, OLD.id]), 'edge holding new then old');
  await moreRounds(loopers, 3);
  assert.deepEqual(await linkKeyIds(edge), [OLD.id, OLD.id], 'step 2 leaves running links alone');

  // 3. Gateway: the old key removed. Its links made with it end; the edge redials with the new key and the
  // sessions resume on the new links.
  writeKeys(gatewayKeys, [NEW]);
  gateway.child.kill('SIGHUP');
  await waitForLog(gateway, reloadedTo([NEW.id]), 'gateway holding only the new key');
  await waitForLinkKeys(gateway, [NEW.id, NEW.id], 'the gateway\'s links re-made with the new key');
  await waitForLinkKeys(edge, [NEW.id, NEW.id], 'the edge\'s links re-made with the new key');
  assert.equal(logLines(gateway).filter((l) => l.msg === 'closing a link whose key was removed').length, 2, 'both old-key links were ended');
  await moreRounds(loopers, 5);

  // 4. Edge: the old key removed too. Nothing changes on the wire.
  writeKeys(edgeKeys, [NEW]);
  edge.child.kill('SIGHUP');
  await waitForLog(edge, reloadedTo([NEW.id]), 'edge holding only the new key');
  await moreRounds(loopers, 3);
  assert.deepEqual(await linkKeyIds(edge), [NEW.id, NEW.id]);

  for (const [index, looper] of loopers.entries()) {
    const calls = looper.events.filter((e) => e.event === 'call' && Number(e.t) >= startedAt);
    const failed = calls.filter((e) => e.ok !== true);
    console.log(`${looper.lang}: ${calls.length} rounds during the rotation, ${failed.length} failed`);
    assert.deepEqual(failed, [], `${looper.lang}: failed rounds\n${looper.stderrTail(20)}`);
    assert.equal(looper.countEvents('disconnected'), 0, `${looper.lang}: the client saw a disconnect`);
    assert.equal(looper.countEvents('connected'), 0, `${looper.lang}: the client reconnected`);
    assert.equal(looper.countEvents('services_registered'), registered[index], `${looper.lang}: services re-registered`);
  }

  // An edge that never got the new key is refused by the gateway.
  const staleKeys = join(dir, 'stale-keys');
  writeKeys(staleKeys, [OLD]);
  const stale = await startCliRole('edge', ['--gateway-url', gateway.url.replace('http', 'tcp'), '--secret-file', staleKeys, '--links', '1', '--log-level', 'info']);
  roles.push(stale);
  await waitForLog(gateway, (l) => l.msg === 'link refused' && l.code === 'HYPHA_ACCEL_ERR_AUTH' && /holds no key this gateway holds/.test(String(l.err)), 'the old-key edge refused');
  await waitForLog(stale, (l) => l.msg === 'link dial failed' && l.code === 'HYPHA_ACCEL_ERR_AUTH', 'the old-key edge told why');
  assert.deepEqual(await linkKeyIds(stale), [], 'the old-key edge has no link');
  assert.equal((await fetch(`${stale.adminUrl}/ready`)).status, 503, 'and is not ready');
});
