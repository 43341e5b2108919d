// ChunkCodecs round-trips every codec and refuses bodies that announce or inflate to another size:
// decoding never allocates more than the raw size the frame announced.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { zstdCompressSync } from 'node:zlib';
import { ChunkCodecs } from '../../src/payload/chunk-codecs.js';
import { ChunkCodec } from '../../src/payload/payload-wire.js';
import { PayloadError, PayloadErrorCode } from '../../src/payload/payload-error.js';

const codecs = new ChunkCodecs({ zstdEnabled: true, zstdLevel: 1 });
const sameBytes = (a: Uint8Array, b: Uint8Array): void => assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b), `bytes differ (${a.byteLength} vs ${b.byteLength})`);
const decodeFailed = (error: unknown): boolean => error instanceof PayloadError && error.code === PayloadErrorCode.decodeFailed;

test('every codec round-trips arbitrary chunks, batch encode keeps input order', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 4096 }), { minLength: 1, maxLength: 8 }), async (chunks) => {
    for (const codec of [ChunkCodec.none, ChunkCodec.lz4, ChunkCodec.zstd]) {
      const encoded = await codecs.encodeBatch(codec, chunks);
      assert.equal(encoded.length, chunks.length);
      encoded.forEach((body, i) => sameBytes(codecs.decodeSync(codec, body, chunks[i]!.byteLength), chunks[i]!));
    }
  }), { seed: 9, numRuns: 60 });
});

test('a zstd body that inflates past the announced size is refused with DECODE_FAILED', () => {
  const bomb = zstdCompressSync(new Uint8Array(8 * 1024 * 1024));
  assert.ok(bomb.byteLength < 2048, 'a compressible 8 MiB body is small on the wire');
  assert.throws(() => codecs.decodeSync(ChunkCodec.zstd, bomb, 1024), decodeFailed);
  const short = zstdCompressSync(new Uint8Array(100));
  assert.throws(() => codecs.decodeSync(ChunkCodec.zstd, short, 200), decodeFailed);
});

test('garbage bodies fail with DECODE_FAILED and the codecs keep working afterwards', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 0, max: 65536 }), (body, rawBytes) => {
    for (const codec of [ChunkCodec.lz4, ChunkCodec.zstd]) {
      try {
        const out = codecs.decodeSync(codec, body, rawBytes);
        assert.equal(out.byteLength, rawBytes);
      } catch (error) {
        assert.ok(decodeFailed(error), String(error));
      }
    }
  }), { seed: 10, numRuns: 300 });
  const sample = new Uint8Array(1000).fill(7);
  sameBytes(codecs.decodeSync(ChunkCodec.zstd, zstdCompressSync(sample), 1000), sample);
});
