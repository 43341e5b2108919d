// Round trips through a pair of payload endpoints in memory: every path (dedupe hit, miss, evicted,
// each codec), corruption and lying peers, and the invariant that a blob is either its exact bytes
// or a coded error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHarness, imageLikeBytes, randomBytesSeeded, sameBytes, type FrameHook } from './payload-harness.js';
import { decodePayloadFrame, encodeChunk, FrameKind, ChunkCodec } from '../../src/payload/payload-wire.js';
import { PayloadError, PayloadErrorCode } from '../../src/payload/payload-error.js';
import type { PayloadOptions } from '../../src/payload/payload-options.js';

const slowLink = { initialLinkEstimate: { throughputBytesPerSec: 2e6, rttMs: 120 } };
const fastLink = { initialLinkEstimate: { throughputBytesPerSec: 20e6, rttMs: 1 } };
const noCompression: Partial<PayloadOptions> = { lz4Enabled: false, zstdEnabled: false };

function kindsOf(frames: Uint8Array[]): number[] {
  return frames.map((f) => f[0]!);
}

function chunkCodecsOf(frames: Uint8Array[], h: ReturnType<typeof createHarness>): number[] {
  return frames.filter((f) => f[0] === FrameKind.chunk).map((f) => {
    const frame = decodePayloadFrame(f, h.a.pair.wireLimits);
    return frame.kind === FrameKind.chunk ? frame.codec : -1;
  });
}

test('random and structured blobs of many sizes arrive bit-identical', async () => {
  const h = createHarness(noCompression);
  try {
    for (const size of [0, 1, 100, 4095, 4096, 65536, 300_000, 2 * 1024 * 1024 + 17]) {
      const random = randomBytesSeeded(size, size + 1);
      assert.ok(sameBytes(await h.roundTrip(h.a, random), random), `random ${size}`);
      const structured = new Uint8Array(new Float32Array(Math.ceil(size / 4)).map((_, i) => Math.sin(i / 100)).buffer).subarray(0, size);
      assert.ok(sameBytes(await h.roundTrip(h.b, structured), structured), `structured ${size}`);
    }
  } finally {
    await h.close();
  }
});

test('a repeated blob crosses as references only (dedupe hit), also when shifted', async () => {
  const h = createHarness(noCompression);
  try {
    const blob = randomBytesSeeded(1024 * 1024, 42);
    await h.roundTrip(h.a, blob);
    const inlineAfterFirst = h.a.pair.metrics.inlineRawBytes;
    assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
    assert.equal(h.a.pair.metrics.inlineRawBytes, inlineAfterFirst, 'second pass sent no chunk body');
    const shifted = Buffer.concat([Buffer.from('a few new bytes'), blob]);
    assert.ok(sameBytes(await h.roundTrip(h.a, shifted), shifted), 'sameBytes(await h.roundTrip(h.a, shifted), shifted)');
    assert.ok(h.a.pair.metrics.inlineRawBytes - inlineAfterFirst < 0.1 * blob.length, 'shifted pass resent almost nothing');
    assert.equal(h.b.pair.metrics.nacksSent, 0);
  } finally {
    await h.close();
  }
});

test('data that went up and comes back down crosses the link once', async () => {
  const h = createHarness(noCompression);
  try {
    const blob = randomBytesSeeded(512 * 1024, 5);
    await h.roundTrip(h.a, blob); // edge -> gateway
    const before = h.b.pair.metrics.inlineRawBytes;
    assert.ok(sameBytes(await h.roundTrip(h.b, blob), blob), 'sameBytes(await h.roundTrip(h.b, blob), blob)'); // gateway -> edge (relayed by hypha)
    assert.equal(h.b.pair.metrics.inlineRawBytes, before);
    assert.ok(h.b.pair.metrics.chunksDeduped > 0, 'h.b.pair.metrics.chunksDeduped > 0');
  } finally {
    await h.close();
  }
});

test('chunks the receiver evicted are NACKed and resent (miss path)', async () => {
  // The receiver keeps far less than the sender believes: references miss and must be fetched.
  const h = createHarness({ ...noCompression, storeBytes: 64 * 1024 * 1024 }, { ...noCompression, storeBytes: 128 * 1024 });
  try {
    const blob = randomBytesSeeded(1024 * 1024, 9);
    await h.roundTrip(h.a, blob);
    assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
    assert.ok(h.b.pair.metrics.nacksSent >= 1, 'h.b.pair.metrics.nacksSent >= 1');
    assert.ok(h.a.pair.metrics.chunksResent > 0, 'h.a.pair.metrics.chunksResent > 0');
    assert.ok(h.b.pair.metrics.storeMisses > 0, 'h.b.pair.metrics.storeMisses > 0');
  } finally {
    await h.close();
  }
});

test('a chunk held by neither side fails the blob with CHUNK_UNAVAILABLE, never wrong bytes', async () => {
  const h = createHarness({ ...noCompression, maxPinnedBytes: 1 });
  try {
    const blob = randomBytesSeeded(256 * 1024, 21);
    await h.roundTrip(h.a, blob);
    h.a.pair.store.clear();
    h.b.pair.store.clear();
    const heldNacks: Uint8Array[] = [];
    h.b.hook = (frame) => {
      if (frame[0] !== FrameKind.nack) return frame;
      heldNacks.push(frame);
      return null;
    };
    const id = await h.a.endpoint.sendBlob(blob); // references only: b must NACK them
    const result = h.b.endpoint.takeBlob(id);
    await h.quiet();
    assert.equal(heldNacks.length, 1);
    await h.a.endpoint.sendBlob(randomBytesSeeded(1000, 3)); // pushes the first blob's pins out
    await h.quiet();
    h.a.pair.store.clear(); // ... and the sender's cache evicted the chunks too
    h.b.hook = (frame) => frame;
    await h.a.endpoint.receiveFrame(heldNacks[0]!);
    await assert.rejects(result, (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.chunkUnavailable);
    await h.quiet();
    assert.ok(h.a.pair.metrics.chunksUnavailable > 0, 'h.a.pair.metrics.chunksUnavailable > 0');
    // The pair recovers: the failed references were forgotten, so the next send carries the bodies.
    assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
  } finally {
    await h.close();
  }
});

test('a chunk corrupted in transit is detected by its hash and fetched again', async () => {
  const h = createHarness(noCompression);
  try {
    let corrupted = 0;
    h.a.hook = (frame) => {
      if (frame[0] === FrameKind.chunk && corrupted === 0) {
        corrupted++;
        const bad = frame.slice();
        bad[bad.length - 1]! ^= 0xff;
        return bad;
      }
      return frame;
    };
    const blob = randomBytesSeeded(300_000, 77);
    assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
    assert.equal(corrupted, 1);
    assert.equal(h.b.pair.metrics.hashMismatches, 1);
    assert.equal(h.b.pair.metrics.nacksSent, 1);
  } finally {
    await h.close();
  }
});

test('a peer that lies about chunk hashes cannot make us deliver wrong bytes or poison the store', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 300_000 }), fc.nat(), async (size, seed) => {
      const h = createHarness(noCompression);
      try {
        const liar: FrameHook = (frame) => {
          if (frame[0] !== FrameKind.chunk) return frame;
          const chunk = decodePayloadFrame(frame, h.a.pair.wireLimits);
          if (chunk.kind !== FrameKind.chunk) return frame;
          const body = chunk.body.slice();
          body[seed % body.length]! ^= 1 + (seed % 255);
          return encodeChunk({ ...chunk, body });
        };
        h.a.hook = liar;
        const blob = randomBytesSeeded(size, seed);
        await assert.rejects(h.roundTrip(h.a, blob), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.hashMismatch);
        assert.equal(h.b.pair.store.entryCount, 0, 'nothing unverified was stored');
      } finally {
        await h.close();
      }
    }),
    { numRuns: 15 },
  );
});

test('a manifest whose whole-blob hash lies is refused', async () => {
  const h = createHarness(noCompression);
  try {
    h.a.hook = (frame) => {
      if (frame[0] !== FrameKind.manifest) return frame;
      const bad = frame.slice();
      bad[25]! ^= 1; // inside the hash part of wholeHash
      return bad;
    };
    await assert.rejects(h.roundTrip(h.a, randomBytesSeeded(100_000, 1)), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.hashMismatch);
  } finally {
    await h.close();
  }
});

for (const [name, options, expected] of [
  ['lz4 on a fast link', { ...fastLink, zstdEnabled: false }, ChunkCodec.lz4],
  ['zstd per chunk on a slow link (units off)', { ...slowLink, unitEnabled: false }, ChunkCodec.zstd],
  ['lz4 only on a slow link', { ...slowLink, zstdEnabled: false }, ChunkCodec.lz4],
] as const) {
  test(`compressible data uses ${name} and round-trips`, async () => {
    const h = createHarness(options);
    try {
      const image = imageLikeBytes(1024, 512, 3);
      assert.ok(sameBytes(await h.roundTrip(h.a, image), image), 'sameBytes(await h.roundTrip(h.a, image), image)');
      const codecs = chunkCodecsOf(h.a.emitted, h);
      assert.ok(codecs.includes(expected), `codecs used: ${codecs}`);
      assert.ok(h.a.pair.metrics.inlineWireBytes < h.a.pair.metrics.inlineRawBytes * 0.8, 'h.a.pair.metrics.inlineWireBytes < h.a.pair.metrics.inlineRawBytes * 0.8');
    } finally {
      await h.close();
    }
  });
}

test('incompressible data is sent raw even on a slow link', async () => {
  const h = createHarness(slowLink);
  try {
    const blob = randomBytesSeeded(1024 * 1024, 8);
    assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
    assert.deepEqual([...new Set(chunkCodecsOf(h.a.emitted, h))], [ChunkCodec.none]);
  } finally {
    await h.close();
  }
});

test('dedupe can be switched off: every body crosses every time', async () => {
  const h = createHarness({ ...noCompression, dedupeEnabled: false });
  try {
    const blob = randomBytesSeeded(200_000, 4);
    await h.roundTrip(h.a, blob);
    assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
    assert.equal(h.a.pair.metrics.chunksDeduped, 0);
    assert.equal(h.a.pair.metrics.inlineRawBytes, 400_000);
  } finally {
    await h.close();
  }
});

test('eviction races: concurrent sends through tiny caches give exact bytes or nothing wrong', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 200_000 }), fc.boolean()), { minLength: 2, maxLength: 8 }),
      fc.integer({ min: 16 * 1024, max: 512 * 1024 }),
      async (sends, storeBytes) => {
        const h = createHarness({ ...noCompression, storeBytes, peerStoreBytes: 4 * storeBytes });
        try {
          const base = [0, 1, 2, 3, 4, 5].map((seed) => randomBytesSeeded(200_000, seed));
          const results = await Promise.all(
            sends.map(async ([seed, size, fromA]) => {
              const blob = base[seed]!.subarray(0, size);
              const from = fromA ? h.a : h.b;
              const to = fromA ? h.b : h.a;
              const id = await from.endpoint.sendBlob(blob);
              return { blob, got: await to.endpoint.takeBlob(id) };
            }),
          );
          for (const { blob, got } of results) assert.ok(sameBytes(got, blob), 'sameBytes(got, blob)');
          await h.quiet();
          assert.equal(h.a.endpoint.sender.pinnedBlobCount + h.b.endpoint.sender.pinnedBlobCount, 0, 'every blob acked');
        } finally {
          await h.close();
        }
      },
    ),
    { numRuns: 25 },
  );
});

test('a reference to a chunk still in flight in another blob waits for it instead of NACKing', async () => {
  const h = createHarness(noCompression);
  try {
    const blob = randomBytesSeeded(400_000, 13);
    const [first, second] = await Promise.all([h.a.endpoint.sendBlob(blob), h.a.endpoint.sendBlob(blob)]);
    const [x, y] = await Promise.all([h.b.endpoint.takeBlob(first), h.b.endpoint.takeBlob(second)]);
    assert.ok(sameBytes(x, blob) && sameBytes(y, blob), 'sameBytes(x, blob) && sameBytes(y, blob)');
    await h.quiet();
    assert.equal(h.b.pair.metrics.nacksSent, 0);
  } finally {
    await h.close();
  }
});

test('closing fails pending blobs with a coded error and refuses new sends', async () => {
  const h = createHarness(noCompression);
  try {
    h.a.hook = () => null; // nothing arrives
    const id = await h.a.endpoint.sendBlob(randomBytesSeeded(10_000, 1));
    const pending = h.b.endpoint.takeBlob(id);
    h.b.endpoint.close('link pair reset');
    await assert.rejects(pending, (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.closed);
    h.a.endpoint.close();
    await assert.rejects(h.a.endpoint.sendBlob(new Uint8Array(10)), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.closed);
    const kinds = kindsOf(h.a.emitted);
    assert.equal(kinds[0], FrameKind.manifest);
    assert.ok(kinds.length > 1 && kinds.slice(1).every((k) => k === FrameKind.chunk), 'kinds.length > 1 && kinds.slice(1).every((k) => k === FrameKind.chunk)');
  } finally {
    await h.close();
  }
});

test('a blob above maxBlobBytes is refused with a coded error', async () => {
  const h = createHarness({ ...noCompression, maxBlobBytes: 1000 });
  try {
    await assert.rejects(h.a.endpoint.sendBlob(new Uint8Array(1001)), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.blobTooLarge);
  } finally {
    await h.close();
  }
});

test('frames replayed after a link change are ignored once the blob is done', async () => {
  const h = createHarness(noCompression);
  try {
    const blob = randomBytesSeeded(150_000, 31);
    assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), 'sameBytes(await h.roundTrip(h.a, blob), blob)');
    const replay = [...h.a.emitted];
    const emittedBefore = h.b.emitted.length;
    for (const frame of replay) await h.b.endpoint.receiveFrame(frame);
    await h.quiet();
    assert.equal(h.b.emitted.length, emittedBefore, 'no second ACK or NACK');
    assert.equal(h.b.endpoint.receiver.activeBlobCount, 0);
    assert.equal(h.b.pair.metrics.blobsReceived, 1);
  } finally {
    await h.close();
  }
});

test('the policy learns measured codec speeds: a codec measured slow is no longer chosen', async () => {
  let clockMs = 0;
  const nowMs = (): number => (clockMs += 10_000); // every reading 10 s later: encoding looks very slow
  const h = createHarness({ ...slowLink, lz4Enabled: false, unitEnabled: false, nowMs, codecSpeedSmoothing: 1 }, { ...slowLink, lz4Enabled: false });
  try {
    const first = imageLikeBytes(1024, 1024, 1);
    assert.ok(sameBytes(await h.roundTrip(h.a, first), first), 'sameBytes(await h.roundTrip(h.a, first), first)');
    assert.ok(h.a.pair.metrics.chunksByCodec.zstd > 0, 'zstd chosen from the configured speeds');
    assert.ok(h.a.pair.codecSpeeds.zstd.encodeBytesPerSec < h.a.pair.options.codecSpeeds.zstd.encodeBytesPerSec / 2, 'h.a.pair.codecSpeeds.zstd.encodeBytesPerSec < h.a.pair.options.codecSpeeds.zstd.encodeBytesPerSec / 2');
    const zstdChunks = h.a.pair.metrics.chunksByCodec.zstd;
    const second = imageLikeBytes(1024, 1024, 2);
    assert.ok(sameBytes(await h.roundTrip(h.a, second), second), 'sameBytes(await h.roundTrip(h.a, second), second)');
    assert.equal(h.a.pair.metrics.chunksByCodec.zstd, zstdChunks, 'raw after learning zstd is slow here');
  } finally {
    await h.close();
  }
});
