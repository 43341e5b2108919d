// Chunk hashes: both algorithms are deterministic, depend on the pair seed, and the whole-blob check
// gives the same value however the blob is sliced; an endpoint pair works in either mode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createChunkHasher, hashWholeBlob, readHash, writeHash } from '../../src/payload/chunk-hash.js';
import { createHarness, randomBytesSeeded, sameBytes } from './payload-harness.js';

for (const algorithm of ['sha256-128', 'xxh3-128'] as const) {
  test(`${algorithm}: deterministic, seed-dependent, 128-bit`, () => {
    const bytes = randomBytesSeeded(10_000, 1);
    const a = createChunkHasher(algorithm, 7n);
    assert.equal(a.hash(bytes), createChunkHasher(algorithm, 7n).hash(bytes));
    assert.notEqual(a.hash(bytes), createChunkHasher(algorithm, 8n).hash(bytes));
    assert.ok(a.hash(bytes) < 1n << 128n, 'a.hash(bytes) < 1n << 128n');
    const view = new DataView(new ArrayBuffer(16));
    writeHash(view, 0, a.hash(bytes));
    assert.equal(readHash(view, 0), a.hash(bytes));
  });

  test(`${algorithm}: endpoints round-trip and dedupe`, async () => {
    const h = createHarness({ hashAlgorithm: algorithm, hashSeed: 99n, lz4Enabled: false, zstdEnabled: false });
    try {
      const blob = randomBytesSeeded(500_000, 2);
      assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
      assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
      assert.ok(h.a.pair.metrics.chunksDeduped > 0, 'h.a.pair.metrics.chunksDeduped > 0');
    } finally {
      await h.close();
    }
  });
}

test('the whole-blob check does not depend on how the blob is sliced, and covers the length', () => {
  const hasher = createChunkHasher('sha256-128', 3n);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
      const state = hasher.wholeBlob();
      let start = 0;
      for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((x, y) => x - y)) {
        state.update(bytes.subarray(start, Math.max(start, cut)));
        start = Math.max(start, cut);
      }
      state.update(bytes.subarray(start));
      const whole = hashWholeBlob(hasher, bytes);
      assert.equal(state.digest(), whole);
      assert.equal(whole >> 64n, BigInt(bytes.length));
    }),
  );
});
