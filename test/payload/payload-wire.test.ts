// Payload frames: encode/decode round trips, and the decoder refuses anything malformed with a coded
// error (never another exception, never an allocation sized by an unchecked wire length).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodePayloadFrame, encodeAck, encodeChunk, encodeFail, encodeManifest, encodeNack, encodeShm, FrameKind, ChunkCodec,
  wireLimitsFor, type PayloadFrame,
} from '../../src/payload/payload-wire.js';
import { PayloadError, PayloadErrorCode, failCodeNumbers } from '../../src/payload/payload-error.js';

const limits = wireLimitsFor(64 * 1024 * 1024, 4096, 65536);
const hashArb = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
const blobIdArb = fc.nat({ max: 0xffffffff });

const manifestArb = fc
  .array(fc.record({ hash: hashArb, rawBytes: fc.integer({ min: 1, max: 65536 }), inline: fc.boolean() }), { maxLength: 50 })
  .chain((entries) =>
    fc.record({
      kind: fc.constant(FrameKind.manifest),
      blobId: blobIdArb,
      wholeHash: hashArb,
      totalBytes: fc.constant(entries.reduce((sum, e) => sum + e.rawBytes, 0)),
      entries: fc.constant(entries),
    }),
  );
const chunkArb = fc.record({
  kind: fc.constant(FrameKind.chunk),
  blobId: blobIdArb,
  hash: hashArb,
  codec: fc.constantFrom(ChunkCodec.none, ChunkCodec.lz4, ChunkCodec.zstd),
  body: fc.uint8Array({ minLength: 1, maxLength: 2000 }),
}).map((c) => ({ ...c, rawBytes: c.codec === ChunkCodec.none ? c.body.byteLength : c.body.byteLength + 10 }));
const frameArb: fc.Arbitrary<PayloadFrame> = fc.oneof(
  manifestArb,
  chunkArb,
  fc.record({ kind: fc.constant(FrameKind.nack), blobId: blobIdArb, hashes: fc.array(hashArb, { minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant(FrameKind.ack), blobId: blobIdArb }),
  fc.record({ kind: fc.constant(FrameKind.fail), blobId: blobIdArb, code: fc.constantFrom(...failCodeNumbers) }),
  fc.record({
    kind: fc.constant(FrameKind.shm),
    blobId: blobIdArb,
    totalBytes: fc.nat({ max: 64 * 1024 * 1024 }),
    wholeHash: hashArb,
    segmentName: fc.stringMatching(/^[a-z0-9_]{1,40}-[0-9a-f]{32}\.seg$/),
  }),
);

function encode(frame: PayloadFrame): Uint8Array {
  switch (frame.kind) {
    case FrameKind.manifest: return encodeManifest(frame);
    case FrameKind.chunk: return encodeChunk(frame);
    case FrameKind.nack: return encodeNack(frame.blobId, frame.hashes);
    case FrameKind.ack: return encodeAck(frame.blobId);
    case FrameKind.fail: return encodeFail(frame.blobId, frame.code);
    case FrameKind.shm: return encodeShm(frame);
  }
}

function expectCoded(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PayloadError, `not a PayloadError: ${String(error)}`);
    assert.equal(error.code, PayloadErrorCode.frameInvalid);
    return;
  }
}

test('every frame kind round-trips', () => {
  fc.assert(
    fc.property(frameArb, (frame) => {
      const decoded = decodePayloadFrame(encode(frame), limits);
      frame = structuredClone(frame); // plain prototypes for deepEqual
      if (decoded.kind === FrameKind.chunk) {
        assert.deepEqual({ ...decoded, body: Buffer.from(decoded.body) }, { ...frame, body: Buffer.from((frame as typeof decoded).body) });
      } else {
        assert.deepEqual(decoded, frame);
      }
    }),
  );
});

test('every strict prefix of a valid frame (except a valid one) fails with FRAME_INVALID', () => {
  fc.assert(
    fc.property(frameArb, (frame) => {
      const bytes = encode(frame);
      for (let cut = 0; cut < Math.min(bytes.length, 200); cut++) {
        if (frame.kind === FrameKind.chunk && cut > 26) continue; // a shorter body can still be a valid compressed chunk
        assert.throws(() => decodePayloadFrame(bytes.subarray(0, cut), limits), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.frameInvalid);
      }
    }),
    { numRuns: 60 },
  );
});

test('fuzzed garbage yields only coded errors, and the decoder keeps working afterwards', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 6 }), (garbage, kind) => {
      const frame = garbage.slice();
      if (frame.length > 0) frame[0] = kind;
      expectCoded(() => decodePayloadFrame(frame, limits));
    }),
    { numRuns: 3000 },
  );
  assert.equal(decodePayloadFrame(encodeAck(9), limits).kind, FrameKind.ack);
});

test('mutated valid frames yield a frame or a coded error', () => {
  fc.assert(
    fc.property(frameArb, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), (frame, flips) => {
      const bytes = encode(frame).slice();
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      expectCoded(() => decodePayloadFrame(bytes, limits));
    }),
  );
});

test('lengths are checked against the limits before allocation', () => {
  const hugeCount = new Uint8Array(34);
  hugeCount[0] = FrameKind.manifest;
  new DataView(hugeCount.buffer).setUint32(30, 0xffffffff);
  assert.throws(() => decodePayloadFrame(hugeCount, limits), /count 4294967295 above limit/);
  const tooBig = encodeManifest({ blobId: 1, totalBytes: 65537, wholeHash: 1n, entries: [{ hash: 1n, rawBytes: 65537, inline: true }] });
  assert.throws(() => decodePayloadFrame(tooBig, limits), /outside 1\.\.65536/);
  const bigBlob = encodeShm({ blobId: 1, totalBytes: 2 ** 40, wholeHash: 1n, segmentName: 'a-b.seg' });
  assert.throws(() => decodePayloadFrame(bigBlob, limits), /above limit/);
  const hugeNack = new Uint8Array(9);
  hugeNack[0] = FrameKind.nack;
  new DataView(hugeNack.buffer).setUint32(5, 0x7fffffff);
  assert.throws(() => decodePayloadFrame(hugeNack, limits), /nack count/);
});

test('manifest lengths must add up and a raw chunk body must match its length', () => {
  const bad = encodeManifest({ blobId: 1, totalBytes: 10, wholeHash: 1n, entries: [{ hash: 1n, rawBytes: 9, inline: true }] });
  assert.throws(() => decodePayloadFrame(bad, limits), /sum to 9/);
  const rawMismatch = encodeChunk({ blobId: 1, hash: 1n, codec: ChunkCodec.none, rawBytes: 5, body: new Uint8Array(4) });
  assert.throws(() => decodePayloadFrame(rawMismatch, limits), /impossible/);
  const badName = encodeShm({ blobId: 1, totalBytes: 1, wholeHash: 1n, segmentName: 'ok.seg' });
  badName.set(Buffer.from('/.'), 30);
  assert.throws(() => decodePayloadFrame(badName, limits), /not one we issue/);
});
