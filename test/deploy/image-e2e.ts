// End-to-end check of the built image (run by scripts/image-test.sh, not by `npm test`): a real hypha server
// on the host, the image's gateway and edge as podman containers (host network, read-only root, no
// capabilities, user 10001), a real Python service and caller through the pair, then a graceful stop.
// usage: node --import tsx test/deploy/image-e2e.ts IMAGE   (needs `podman` working as scripts/podman.sh sets up)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { failedChecks, runPyCaller, startPyService, uniqueServiceId } from '../helpers/clients.js';
import { freePort, startHyphaServer } from '../helpers/hypha-server.js';

const run = promisify(execFile);
const image = process.argv[2];
if (!image) throw new Error('usage: image-e2e.ts IMAGE');
const podmanArgs = ['--runtime', 'runc'];
const suffix = randomBytes(3).toString('hex');
const containers: string[] = [];

async function podman(...args: string[]): Promise<string> {
  const { stdout } = await run('podman', [...podmanArgs, ...args], { maxBuffer: 16 << 20 });
  return stdout.trim();
}

function step(text: string): void {
  process.stderr.write(`image-e2e: ${text}\n`);
}

/** Polls `check` until it returns true or the deadline passes (bounded; no fixed waits). */
async function until(what: string, deadlineMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 500)) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await delay(pauseMs);
  }
}

async function startRole(role: 'gateway' | 'edge', adminPort: number, secretDir: string, args: string[]): Promise<string> {
  const name = `hypha-accel-e2e-${role}-${suffix}`;
  containers.push(name);
  await podman('run', '-d', '--name', name, '--network', 'host', '--health-interval', 'disable',
    '--read-only', '--read-only-tmpfs=false', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '-v', `${secretDir}:/run/hypha-accel:ro`,
    '-e', `HYPHA_ACCEL_ADMIN_LISTEN=127.0.0.1:${adminPort}`, '-e', 'HYPHA_ACCEL_DRAIN_TIMEOUT_MS=5000',
    image!, role, '--secret-file', '/run/hypha-accel/secret', ...args);
  return name;
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function main(): Promise<void> {
  const inspect = JSON.parse(await podman('image', 'inspect', image!))[0];
  assert.equal(inspect.Config.User, '10001:10001', 'the image runs as numeric user 10001');
  assert.ok(inspect.Config.Labels['org.opencontainers.image.version'], 'OCI version label');
  assert.deepEqual(inspect.Config.Entrypoint.slice(0, 2), ['/usr/bin/tini', '--'], 'tini is PID 1');
  assert.ok((inspect.Healthcheck ?? inspect.Config.Healthcheck)?.Test?.length, 'HEALTHCHECK kept (--format docker)');
  step(`image ${image}: ${(inspect.Size / 1e6).toFixed(1)} MB, user ${inspect.Config.User}`);

  const hypha = await startHyphaServer();
  const secretDir = mkdtempSync(join(tmpdir(), 'hypha-accel-e2e-'));
  chmodSync(secretDir, 0o755);
  writeFileSync(join(secretDir, 'secret'), randomBytes(32).toString('hex'), { mode: 0o644 });
  const [gatewayPort, edgePort, gatewayAdmin, edgeAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  let service: Awaited<ReturnType<typeof startPyService>> | undefined;
  try {
    const gateway = await startRole('gateway', gatewayAdmin, secretDir, ['--listen', `127.0.0.1:${gatewayPort}`, '--hypha-url', hypha.url]);
    const edge = await startRole('edge', edgeAdmin, secretDir, ['--listen', `127.0.0.1:${edgePort}`, '--gateway-url', `ws://127.0.0.1:${gatewayPort}`]);
    // The image's own HEALTHCHECK (node /app/healthcheck.mjs -> /ready) decides readiness.
    for (const name of [gateway, edge]) {
      await until(`${name} healthy`, 30_000, async () => (await run('podman', [...podmanArgs, 'healthcheck', 'run', name]).then(() => true, () => false)));
    }
    // The start-up warm-up writes no file, so it runs in this read-only container too: each role logged it.
    for (const name of [gateway, edge]) {
      const { stdout, stderr } = await run('podman', [...podmanArgs, 'logs', name], { maxBuffer: 16 << 20 });
      assert.match(stdout + stderr, /"msg":"warmed up"/, `${name} warmed up before listening`);
    }
    step('gateway and edge warmed up (read-only root) and healthy (HEALTHCHECK)');
    const edgeUrl = `http://127.0.0.1:${edgePort}`;
    service = await startPyService(edgeUrl, uniqueServiceId('image'));
    const result = await runPyCaller(edgeUrl, service.serviceId);
    assert.deepEqual(failedChecks(result), [], `Python caller through the image's pair: ${result.stderr.slice(-2000)}`);
    const linkMessages = await metric(edgeAdmin, 'hypha_accel_link_frames_total');
    assert.ok(linkMessages > 0, 'the edge counted frames on its links');
    step(`Python service + caller through edge and gateway containers: ${Object.keys(result.checks).length} checks ok, edge counted ${linkMessages} link frames`);
    await service.stop();
    service = undefined;
    // SIGTERM reaches node through tini: both roles drain and exit 0 well within the stop timeout.
    for (const name of [edge, gateway]) {
      const t0 = Date.now();
      await podman('stop', '-t', '20', name);
      const code = await podman('inspect', '--format', '{{.State.ExitCode}}', name);
      assert.equal(code, '0', `${name} exits 0 on SIGTERM`);
      step(`${name}: SIGTERM -> exit 0 in ${Date.now() - t0} ms`);
    }
  } catch (error) {
    for (const name of containers) process.stderr.write(`--- logs of ${name}\n${await podman('logs', '--tail', '30', name).catch(() => '')}\n`);
    throw error;
  } finally {
    await service?.stop();
    await Promise.all(containers.map((name) => podman('rm', '-f', name).catch(() => '')));
    await hypha.stop();
    rmSync(secretDir, { recursive: true, force: true });
  }
}

main().then(() => step('ok'), (error: unknown) => {
  process.stderr.write(`image-e2e: FAILED: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
