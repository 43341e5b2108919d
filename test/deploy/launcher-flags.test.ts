// The V8 flags the proxies run with (old-generation floor, small young generation: docs/design.md "Where a
// megabyte's CPU goes") are given in three places: the npm launcher's shebang, the image's ENTRYPOINT and
// src/config/node-flags.ts (which the benchmarks, the demo and the CLI tests start the proxies with, and the CLI
// checks at start). A flag changed in one of them and not the others fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LAUNCHER_NODE_FLAGS } from '../../src/config/node-flags.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test('bin/hypha-accel.js, the Dockerfile and the bench start the proxies with the same node flags', () => {
  const shebang = read('bin/hypha-accel.js').split('\n')[0]!;
  const match = /^#!\/usr\/bin\/env -S node (.*)$/.exec(shebang);
  assert.ok(match, `unexpected shebang: ${shebang}`);
  const launcherFlags = match[1]!.split(' ').filter(Boolean);

  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'));
  assert.ok(entrypoint, 'the Dockerfile has no exec-form ENTRYPOINT');
  const argv = JSON.parse(entrypoint[1]!) as string[];
  const imageFlags = argv.slice(argv.indexOf('node') + 1, argv.indexOf('/app/bin/hypha-accel.js'));

  assert.ok(launcherFlags.includes('--max-semi-space-size=4'));
  assert.deepEqual(imageFlags, launcherFlags);
  assert.deepEqual([...LAUNCHER_NODE_FLAGS], launcherFlags);
});
