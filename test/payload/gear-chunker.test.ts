// Content-defined chunking: boundaries cover the input, respect the size options, are deterministic,
// re-find almost all chunks after a shift, and the cooperative variant yields and agrees.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  chunkBlob, chunkBoundaries, chunkBoundariesCooperative, defaultChunkingOptions, validateChunkingOptions, type ChunkingOptions,
} from '../../src/payload/gear-chunker.js';
import { randomBytesSeeded } from './payload-harness.js';

const small: ChunkingOptions = { minChunkBytes: 256, avgChunkBytes: 1024, maxChunkBytes: 4096 };

function chunkSet(bytes: Uint8Array, options: ChunkingOptions): Map<string, number> {
  const set = new Map<string, number>();
  for (const chunk of chunkBlob(bytes, options)) set.set(Buffer.from(chunk).toString('base64'), chunk.byteLength);
  return set;
}

test('boundaries cover the input exactly and respect min/max', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40_000 }), (bytes) => {
      const cuts = chunkBoundaries(bytes, small);
      let start = 0;
      cuts.forEach((end, i) => {
        const length = end - start;
        assert.ok(length > 0 && length <= small.maxChunkBytes, 'length > 0 && length <= small.maxChunkBytes');
        if (i < cuts.length - 1) assert.ok(length >= small.minChunkBytes, `chunk ${i} of ${length} bytes below min`);
        start = end;
      });
      assert.equal(start, bytes.length);
      if (bytes.length === 0) assert.equal(cuts.length, 0);
    }),
  );
});

test('chunks are zero-copy views of the input', () => {
  const bytes = randomBytesSeeded(100_000, 7);
  for (const chunk of chunkBlob(bytes, small)) assert.equal(chunk.buffer, bytes.buffer);
});

test('average chunk size is near the configured average on random data', () => {
  const bytes = randomBytesSeeded(8 * 1024 * 1024, 3);
  const count = chunkBoundaries(bytes, defaultChunkingOptions).length;
  const avg = bytes.length / count;
  assert.ok(avg > defaultChunkingOptions.avgChunkBytes * 0.6 && avg < defaultChunkingOptions.avgChunkBytes * 1.6, `average ${avg}`);
});

test('data shifted by a few bytes re-finds almost all chunks (by bytes)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 1000 }), (shift, seed) => {
      const original = randomBytesSeeded(1024 * 1024, seed);
      const shifted = new Uint8Array(original.length + shift);
      shifted.set(randomBytesSeeded(shift, seed + 1), 0);
      shifted.set(original, shift);
      const known = chunkSet(original, defaultChunkingOptions);
      let foundBytes = 0;
      for (const chunk of chunkBlob(shifted, defaultChunkingOptions)) {
        if (known.has(Buffer.from(chunk).toString('base64'))) foundBytes += chunk.byteLength;
      }
      assert.ok(foundBytes / original.length > 0.9, `only ${foundBytes} of ${original.length} bytes re-found`);
    }),
    { numRuns: 20 },
  );
});

test('256 KiB slices of a shifted array still share most chunks with the original slices', () => {
  const array = randomBytesSeeded(4 * 1024 * 1024, 11);
  const slices = (prefix: number): Uint8Array[] => {
    const message = new Uint8Array(prefix + array.length);
    message.set(array, prefix);
    const out: Uint8Array[] = [];
    for (let offset = 0; offset < message.length; offset += 256 * 1024) out.push(message.subarray(offset, offset + 256 * 1024));
    return out;
  };
  const known = new Set<string>();
  for (const slice of slices(100)) for (const c of chunkBlob(slice)) known.add(Buffer.from(c).toString('base64'));
  let found = 0;
  for (const slice of slices(137)) for (const c of chunkBlob(slice)) if (known.has(Buffer.from(c).toString('base64'))) found += c.byteLength;
  assert.ok(found / array.length > 0.75, `only ${(found / array.length).toFixed(3)} re-found`);
});

test('the cooperative variant agrees and yields between slices', async () => {
  const bytes = randomBytesSeeded(3 * 1024 * 1024, 5);
  let yields = 0;
  const cuts = await chunkBoundariesCooperative(bytes, defaultChunkingOptions, 256 * 1024, async () => {
    yields++;
  });
  assert.deepEqual(cuts, chunkBoundaries(bytes));
  assert.ok(yields >= 10, `yielded only ${yields} times`);
});

test('invalid options are refused', () => {
  assert.throws(() => validateChunkingOptions({ minChunkBytes: 1000, avgChunkBytes: 3000, maxChunkBytes: 9000 }), RangeError);
  assert.throws(() => validateChunkingOptions({ minChunkBytes: 9000, avgChunkBytes: 8192, maxChunkBytes: 9000 }), RangeError);
});
