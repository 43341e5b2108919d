// The codec policy: never estimated slower than raw, raw for incompressible data, zstd when the link
// is the bottleneck, lz4 when the link is fast; plus the store bounds and submission order helper.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chooseCodec, effectiveThroughputBytesPerSec, type CodecPolicyInput, type CodecSpeed } from '../../src/payload/codec-policy.js';
import { ChunkCodec } from '../../src/payload/payload-wire.js';
import { ChunkStore, PeerBelief } from '../../src/payload/chunk-store.js';
import { SubmissionOrder } from '../../src/payload/submission-order.js';

// Fixed speeds (independent of the measured defaults): lz4 faster to encode and decode, zstd smaller.
const speeds: Record<'lz4' | 'zstd', CodecSpeed> = {
  lz4: { encodeBytesPerSec: 350e6, decodeBytesPerSec: 1500e6 },
  zstd: { encodeBytesPerSec: 240e6, decodeBytesPerSec: 700e6 },
};

const base = (over: Partial<CodecPolicyInput>): CodecPolicyInput => ({
  blobBytes: 16 * 1024 * 1024,
  lz4Ratio: 0.48,
  zstdRatio: 0.26,
  link: { throughputBytesPerSec: 12.5e6, rttMs: 40 },
  speeds,
  encodeParallelism: 1,
  marginRatio: 0.1,
  ...over,
});

test('the chosen codec is never estimated slower than raw', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.option(fc.double({ min: 0.01, max: 1.5, noNaN: true }), { nil: undefined }),
      fc.option(fc.double({ min: 0.01, max: 1.5, noNaN: true }), { nil: undefined }),
      fc.double({ min: 1e4, max: 1e10, noNaN: true }),
      fc.double({ min: 0, max: 500, noNaN: true }),
      (blobBytes, lz4Ratio, zstdRatio, throughputBytesPerSec, rttMs) => {
        const choice = chooseCodec(base({ blobBytes, lz4Ratio, zstdRatio, link: { throughputBytesPerSec, rttMs } }));
        const chosenMs = choice.codec === ChunkCodec.lz4 ? choice.estimatedMs.lz4! : choice.codec === ChunkCodec.zstd ? choice.estimatedMs.zstd! : choice.estimatedMs.none;
        assert.ok(chosenMs <= choice.estimatedMs.none, 'chosenMs <= choice.estimatedMs.none');
        for (const ms of [choice.estimatedMs.lz4, choice.estimatedMs.zstd]) if (ms !== undefined && choice.codec !== ChunkCodec.none) assert.ok(chosenMs <= ms, 'chosenMs <= ms');
      },
    ),
  );
});

test('incompressible data stays raw; wan picks zstd; a fast link picks lz4; a very fast lan nothing', () => {
  assert.equal(chooseCodec(base({ lz4Ratio: 1.004, zstdRatio: 1.0 })).codec, ChunkCodec.none);
  assert.equal(chooseCodec(base({})).codec, ChunkCodec.zstd);
  assert.equal(chooseCodec(base({ zstdRatio: undefined, link: { throughputBytesPerSec: 100e6, rttMs: 1 } })).codec, ChunkCodec.lz4);
  // lz4 wins over zstd when the link is fast enough that zstd's slower encode/decode outweigh its ratio.
  assert.equal(chooseCodec(base({ lz4Ratio: 0.3, zstdRatio: 0.25, link: { throughputBytesPerSec: 100e6, rttMs: 1 } })).codec, ChunkCodec.lz4);
  assert.equal(chooseCodec(base({ link: { throughputBytesPerSec: 2e9, rttMs: 0.1 } })).codec, ChunkCodec.none);
  assert.equal(chooseCodec(base({ lz4Ratio: undefined, zstdRatio: undefined })).codec, ChunkCodec.none);
});

test('a small window over a long RTT caps the effective throughput', () => {
  assert.equal(effectiveThroughputBytesPerSec({ throughputBytesPerSec: 1e9, rttMs: 100, windowBytes: 1e6 }), 1e7);
  assert.equal(chooseCodec(base({ link: { throughputBytesPerSec: 2e9, rttMs: 100, windowBytes: 1e6 } })).codec, ChunkCodec.zstd);
});

test('the chunk store is bounded in bytes, keeps private copies and evicts least recently used', () => {
  const store = new ChunkStore(3000);
  const source = new Uint8Array(10_000);
  store.put(1n, source.subarray(0, 1000));
  assert.notEqual(store.get(1n)!.buffer, source.buffer);
  store.put(2n, new Uint8Array(1000));
  store.put(3n, new Uint8Array(1000));
  store.get(1n);
  store.put(4n, new Uint8Array(1000));
  assert.ok(store.has(1n) && !store.has(2n) && store.has(4n), 'store.has(1n) && !store.has(2n) && store.has(4n)');
  assert.ok(store.sizeBytes <= 3000, 'store.sizeBytes <= 3000');
  assert.equal(store.evictions, 1);
  store.put(5n, new Uint8Array(5000)); // larger than the store: not kept
  assert.ok(!store.has(5n), '!store.has(5n)');
  const belief = new PeerBelief(2000);
  belief.add(1n, 1000);
  belief.add(2n, 1000);
  belief.add(3n, 1000);
  assert.ok(!belief.has(1n) && belief.has(3n), '!belief.has(1n) && belief.has(3n)');
});

test('SubmissionOrder delivers outcomes in submission order whatever the completion order', async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), async (s, failures) => {
      const delivered: number[] = [];
      const order = new SubmissionOrder<number>((outcome) => delivered.push(outcome.ok ? outcome.value : -1));
      failures.forEach((fails, i) => order.submit(s.schedule(fails ? Promise.reject(new Error('x')) : Promise.resolve(i))));
      await s.waitAll();
      await order.drained();
      assert.deepEqual(delivered, failures.map((fails, i) => (fails ? -1 : i)));
    }),
  );
});
