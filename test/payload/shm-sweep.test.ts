// The shared-memory directory belongs to the user: we work in a subfolder of it, never change its mode,
// never remove a file whose name we do not issue, and sweep aged leftovers periodically, not only at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { ShmSetup } from '../../src/roles/shm-setup.js';
import { SHM_SUBDIR } from '../../src/payload/index.js';
import { until } from '../helpers/link-pair.js';

const log = createLogger('silent');
const HOUR_AGO = new Date(Date.now() - 3_600_000);

function setupIn(shmDir: string, listenPort: number): ShmSetup {
  const config = loadConfig('edge', { flags: { listen: '127.0.0.1:0', gatewayUrl: 'ws://127.0.0.1:1', secretFile: 'unused', shmDir }, env: {} });
  return new ShmSetup(config, { role: 'edge', listenPort }, log);
}

test("a configured shmDir keeps its mode and the user's files; ours live in a subfolder", async () => {
  const shmDir = mkdtempSync(join(tmpdir(), 'hypha-accel-userdir-'));
  await fs.chmod(shmDir, 0o755);
  await fs.writeFile(join(shmDir, 'notes.txt'), 'mine');
  await fs.mkdir(join(shmDir, 'data'));
  await fs.writeFile(join(shmDir, 'data', 'old.bin'), 'old');
  await fs.utimes(join(shmDir, 'data', 'old.bin'), HOUR_AGO, HOUR_AGO);
  const setup = setupIn(shmDir, 1234);
  await setup.sweep();
  const probe = await setup.probe();
  assert.ok(probe, 'the probe can be written');
  await probe.discard();
  assert.equal((await fs.stat(shmDir)).mode & 0o777, 0o755, "the user's directory mode is unchanged");
  assert.equal(await fs.readFile(join(shmDir, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(await fs.readFile(join(shmDir, 'data', 'old.bin'), 'utf8'), 'old');
  assert.equal(setup.baseDir, join(shmDir, SHM_SUBDIR));
  assert.equal((await fs.stat(setup.baseDir)).mode & 0o777, 0o700);
});

test('inside our subfolder only names we issue are swept: a foreign old file stays', async () => {
  const shmDir = mkdtempSync(join(tmpdir(), 'hypha-accel-userdir-'));
  const setup = setupIn(shmDir, 1235);
  await setup.sweep();
  const pairDir = join(setup.baseDir, 'e0123456789abcdef');
  await fs.mkdir(pairDir, { recursive: true });
  for (const name of ['README', 'e99-aaaa.seg']) {
    await fs.writeFile(join(pairDir, name), 'x');
    await fs.utimes(join(pairDir, name), HOUR_AGO, HOUR_AGO);
  }
  assert.equal(await setup.sweepAged(), 1);
  assert.ok(existsSync(join(pairDir, 'README')), 'a name we never issue is left alone');
  assert.ok(!existsSync(join(pairDir, 'e99-aaaa.seg')));
});

test('the periodic sweep removes aged segments of a crashed peer while the process runs', async () => {
  const shmDir = mkdtempSync(join(tmpdir(), 'hypha-accel-userdir-'));
  const setup = setupIn(shmDir, 1236);
  await setup.sweep();
  const pairDir = join(setup.baseDir, 'e0123456789abcdef');
  await fs.mkdir(pairDir, { recursive: true });
  const fresh = join(pairDir, 'g1-fresh.seg');
  const aged = join(pairDir, 'g1-aged.seg');
  await fs.writeFile(fresh, 'x');
  await fs.writeFile(aged, 'x');
  await fs.utimes(aged, HOUR_AGO, HOUR_AGO);
  setup.startPeriodicSweep(20);
  try {
    await until(() => !existsSync(aged), 'the aged segment to be swept', 5000);
    assert.ok(existsSync(fresh), 'a fresh segment is not swept');
  } finally {
    setup.stopPeriodicSweep();
  }
});
