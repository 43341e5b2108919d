import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LAUNCHER_NODE_FLAGS, missingLauncherFlags } from '../../src/config/node-flags.js';

test('every launcher flag is missing from a bare node', () => {
  assert.deepEqual(missingLauncherFlags([], ''), [...LAUNCHER_NODE_FLAGS]);
  assert.deepEqual(missingLauncherFlags(['--import', 'tsx']), [...LAUNCHER_NODE_FLAGS]);
});

test('a flag counts as given on the command line or in NODE_OPTIONS, with any value and either spelling', () => {
  assert.deepEqual(missingLauncherFlags([...LAUNCHER_NODE_FLAGS]), []);
  assert.deepEqual(missingLauncherFlags(['--max-semi-space-size=8'], '  --initial_old_space_size=512 '), []);
  assert.deepEqual(missingLauncherFlags(['--initial-old-space-size=160']), ['--max-semi-space-size=4']);
  assert.deepEqual(missingLauncherFlags([], '--max-semi-space-size=4'), ['--initial-old-space-size=160']);
});

test('a flag whose name only starts like a launcher flag does not count', () => {
  assert.deepEqual(missingLauncherFlags(['--max-semi-space-size-extra=1', '--initial-old-space']), [...LAUNCHER_NODE_FLAGS]);
});
