// The published package works on its own: `npm pack` ships dist/ and bin/, and the CLI installed from the
// tarball into an empty folder runs (`hypha-accel --version` prints package.json's version).
// Needs the npm registry for the tarball's dependencies (warm cache: seconds).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repoRoot = new URL('../../', import.meta.url).pathname;
const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm pack ships a CLI that installs and runs from the tarball', { timeout: 240_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'hypha-accel-pack-'));
  try {
    const packed = JSON.parse(execFileSync(npmCommand, ['pack', '--json', '--pack-destination', work], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    assert.ok(files.includes('dist/cli.js'), 'the tarball has dist/cli.js');
    assert.ok(files.includes('bin/hypha-accel.js'), 'the tarball has bin/hypha-accel.js');
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('bench/')), `no sources or tests shipped: ${files.filter((f) => /^(src|test|bench)\//.test(f)).slice(0, 3)}`);

    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-check', private: true }));
    execFileSync(npmCommand, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', join(work, packed[0]!.filename)], { cwd: app, stdio: 'ignore' });
    const printed = execFileSync(join(app, 'node_modules', '.bin', 'hypha-accel'), ['--version'], { encoding: 'utf8' }).trim();
    const expected = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(printed, expected);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
