// Shared-memory writer ids: workers of one role share a listen port, so the worker index must be part of
// the id, or one worker's start-up sweep would remove another's live segments.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { ShmSetup } from '../../src/roles/shm-setup.js';

test('workers on one port get distinct, stable shm writer ids; a single process keeps its old id', () => {
  const config = loadConfig('gateway', { flags: { listen: '127.0.0.1:9600', hyphaUrl: 'http://127.0.0.1:9527', secretFile: 'unused' }, env: {} });
  const log = createLogger('silent');
  const id = (workerIndex?: number) => new ShmSetup(config, { role: 'gateway', listenPort: 9600, ...(workerIndex === undefined ? {} : { workerIndex }) }, log).writerId;
  assert.notEqual(id(0), id(1));
  assert.equal(id(1), id(1), 'a replaced worker sweeps what its predecessor left');
  assert.notEqual(id(0), id());
  // Unchanged for one process, so a restart after the upgrade still sweeps its earlier segments.
  assert.equal(id(), 'g' + createHash('sha256').update('hypha-accel shm writer\ngateway\n9600').digest('hex').slice(0, 16));
});
