// Real numpy arrays (several dtypes and sizes, made by the project's Python venv) through a pair of
// payload endpoints with dedupe, lz4, zstd and shared memory each on: bytes arrive bit-identical.
// This is the blob level only; the same arrays through the running proxies belong to test/integration.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHarness } from './payload-harness.js';
import { ShmSegments } from '../../src/payload/shm-segments.js';
import type { PayloadOptions } from '../../src/payload/payload-options.js';

const python = join(process.cwd(), '.venv/bin/python');
const script = `
import json, sys, numpy as np, hashlib
out = sys.argv[1]
rng = np.random.default_rng(1)
arrays = {
  "uint8_image": (rng.integers(0, 8, (512, 512)) + np.pad(np.full((256, 256), 200), 128)).astype(np.uint8),
  "uint16_image": (np.pad(rng.integers(1000, 1064, (700, 700)), 362) + rng.integers(0, 4, (1424, 1424))).astype(np.uint16),
  "float32_weights": rng.normal(0, 0.02, 1_000_003).astype(np.float32),
  "float64_ramp": np.linspace(0, 1, 300_001),
  "int32_small": np.arange(17, dtype=np.int32),
  "complex64": (rng.normal(size=50_000) + 1j * rng.normal(size=50_000)).astype(np.complex64),
  "bool_mask": rng.random(200_000) > 0.9,
  "random_bytes": rng.integers(0, 256, 2_000_000, dtype=np.uint8),
}
meta = {}
for name, a in arrays.items():
  raw = a.tobytes()
  open(f"{out}/{name}.bin", "wb").write(raw)
  meta[name] = {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": hashlib.sha256(raw).hexdigest()}
json.dump(meta, open(f"{out}/meta.json", "w"))
`;

const modes: Array<[string, Partial<PayloadOptions>, boolean]> = [
  ['dedupe, no compression', { lz4Enabled: false, zstdEnabled: false }, false],
  ['lz4', { zstdEnabled: false, initialLinkEstimate: { throughputBytesPerSec: 5e6, rttMs: 40 } }, false],
  ['zstd', { lz4Enabled: false, unitEnabled: false, initialLinkEstimate: { throughputBytesPerSec: 5e6, rttMs: 40 } }, false],
  ['units', { lz4Enabled: false, compressUnitBytes: 256 * 1024, initialLinkEstimate: { throughputBytesPerSec: 5e6, rttMs: 40 } }, false],
  ['shared memory', { shmThresholdBytes: 64 * 1024 }, true],
];

test('numpy arrays of several dtypes and sizes arrive bit-identical on every path', { skip: !existsSync(python) && 'no .venv (run scripts/setup-python.sh)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hypha-accel-numpy-'));
  try {
    execFileSync(python, ['-c', script, dir], { stdio: 'pipe' });
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, { sha256: string }>;
    assert.ok(Object.keys(meta).length >= 8, 'Object.keys(meta).length >= 8');
    for (const [mode, options, withShm] of modes) {
      const shmBase = join('/dev/shm', `hypha-accel-numpy-${process.pid}-${randomBytes(4).toString('hex')}`);
      const shm = withShm
        ? {
            a: await ShmSegments.open({ baseDir: shmBase, pairId: 'p', writerId: 'edge', maxTotalBytes: 1 << 30, maxSegmentAgeMs: 60_000, nowMs: Date.now }),
            b: await ShmSegments.open({ baseDir: shmBase, pairId: 'p', writerId: 'gw', maxTotalBytes: 1 << 30, maxSegmentAgeMs: 60_000, nowMs: Date.now }),
          }
        : undefined;
      const h = createHarness(options, options, shm);
      try {
        for (const [name, { sha256 }] of Object.entries(meta)) {
          const bytes = readFileSync(join(dir, `${name}.bin`));
          for (const from of [h.a, h.b, h.a]) {
            const got = await h.roundTrip(from, bytes);
            assert.equal(createHash('sha256').update(got).digest('hex'), sha256, `${name} via ${mode}`);
          }
        }
        if (!withShm) assert.ok(h.a.pair.metrics.chunksDeduped > 0, `${mode}: later passes deduped`);
        if (mode === 'lz4') assert.ok(h.a.pair.metrics.chunksByCodec.lz4 > 0, 'h.a.pair.metrics.chunksByCodec.lz4 > 0');
        if (mode === 'zstd') assert.ok(h.a.pair.metrics.chunksByCodec.zstd > 0, 'h.a.pair.metrics.chunksByCodec.zstd > 0');
        if (mode === 'units') {
          const { unitsSent, unitsByElementBytes } = h.a.pair.metrics;
          assert.ok(unitsSent > 0 && unitsByElementBytes.e2 + unitsByElementBytes.e4 + unitsByElementBytes.e8 > 0, 'units sent, some byte-shuffled');
        }
        if (withShm) assert.ok(h.a.pair.metrics.shmBlobsSent > 0 && h.b.pair.metrics.shmBlobsSent > 0, 'h.a.pair.metrics.shmBlobsSent > 0 && h.b.pair.metrics.shmBlobsSent > 0');
      } finally {
        await h.close();
        await fs.rm(shmBase, { recursive: true, force: true });
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
