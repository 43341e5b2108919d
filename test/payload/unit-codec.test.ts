// Packed units (payload-v2): byte shuffle and its inverse, the element-size guess and `_rdtype` hint,
// unit bodies that round-trip exactly, bounded decoding of hostile bodies and UNIT frames (fuzzed with
// fixed seeds), and whole blobs through a pair of endpoints on a slow link, tampered pieces included.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detectElementBytes, elementBytesFromRdtype, planeBytes, planesEntropyRatios, shufflePlanes, unshufflePlanes } from '../../src/payload/byte-shuffle.js';
import { decodeUnit, encodeUnit, maxUnitBodyBytes, PlaneCodec } from '../../src/payload/unit-codec.js';
import { decodePayloadFrame, encodeUnitPiece, FrameKind, wireLimitsFor } from '../../src/payload/payload-wire.js';
import { PayloadError, PayloadErrorCode } from '../../src/payload/payload-error.js';
import { createHarness, imageLikeBytes, randomBytesSeeded, sameBytes } from './payload-harness.js';

const slowLink = { lz4Enabled: false, initialLinkEstimate: { throughputBytesPerSec: 2e6, rttMs: 120 } };
const limits = wireLimitsFor(16 * 1024 * 1024, 4096, 65536);

function float32Weights(count: number, seed: number): Uint8Array {
  const noise = randomBytesSeeded(count * 8, seed);
  const view = new DataView(noise.buffer, noise.byteOffset);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = (view.getUint32(i * 8) + 1) / 2 ** 32;
    const v = view.getUint32(i * 8 + 4) / 2 ** 32;
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v) * 0.02;
  }
  return new Uint8Array(out.buffer);
}

test('shuffle puts byte j of every element in plane j (the tail last), and unshuffle inverts it, for every element size, phase and split into pieces', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom(1, 2, 4, 8), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 3 }), (data, elementBytes, parts, phase) => {
      const bytes = data.subarray(Math.min(phase, data.byteLength)); // an odd byteOffset: the word path must not assume alignment
      const pieces: Uint8Array[] = [];
      const step = Math.max(1, Math.ceil(bytes.byteLength / parts));
      for (let at = 0; at < bytes.byteLength; at += step) pieces.push(bytes.subarray(at, at + step));
      const planes = shufflePlanes(pieces, bytes.byteLength, elementBytes);
      assert.deepEqual(planes.map((plane) => plane.byteLength), planeBytes(bytes.byteLength, elementBytes));
      const lanes = Math.floor(bytes.byteLength / elementBytes);
      for (let j = 0; j < elementBytes; j++) {
        for (let lane = 0; lane < lanes; lane++) assert.equal(planes[j]![lane], bytes[lane * elementBytes + j]);
      }
      assert.ok(sameBytes(planes[elementBytes - 1]!.subarray(lanes), bytes.subarray(lanes * elementBytes)));
      // Planes at odd offsets (decoded planes may be views into a larger buffer) unshuffle the same.
      const shifted = planes.map((plane) => {
        const copy = new Uint8Array(plane.byteLength + 1);
        copy.set(plane, 1);
        return copy.subarray(1);
      });
      assert.ok(sameBytes(unshufflePlanes(planes, elementBytes), bytes));
      assert.ok(sameBytes(unshufflePlanes(shifted, elementBytes), bytes));
    }),
    { seed: 12, numRuns: 400 },
  );
});

test('the one-pass plane entropies equal each plane\'s own order-0 entropy, for every element size', () => {
  const direct = (sample: Uint8Array, size: number): number => {
    let bits = 0;
    for (let j = 0; j < size; j++) {
      const counts = new Map<number, number>();
      let n = 0;
      for (let i = j; i < sample.byteLength; i += size, n++) counts.set(sample[i]!, (counts.get(sample[i]!) ?? 0) + 1);
      for (const count of counts.values()) bits -= (count / n) * Math.log2(count / n);
    }
    return bits / size / 8;
  };
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), (sample) => {
      const ratios = planesEntropyRatios(sample);
      for (const size of [1, 2, 4, 8]) assert.ok(Math.abs(ratios[size]! - direct(sample, size)) < 1e-9, `size ${size}`);
    }),
    { seed: 13, numRuns: 100 },
  );
});

test('the element size is guessed from the data, and read from _rdtype when the message has it', () => {
  assert.equal(detectElementBytes(imageLikeBytes(128, 128, 1).subarray(1)).elementBytes, 2, 'uint16, odd phase');
  assert.equal(detectElementBytes(float32Weights(8192, 2)).elementBytes, 4, 'float32');
  assert.equal(detectElementBytes(randomBytesSeeded(32768, 3)).elementBytes, 1, 'random bytes: no shuffle');
  assert.equal(detectElementBytes(Buffer.from('{"method":"echo","args":[1,2,3]} '.repeat(500))).elementBytes, 1, 'text: no shuffle');
  const message = Buffer.concat([Buffer.from([0x84, 0xa6]), Buffer.from('_rtype'), Buffer.from([0xa7]), Buffer.from('ndarray'), Buffer.from([0xa7]), Buffer.from('_rdtype'), Buffer.from([0xa7]), Buffer.from('float64')]);
  assert.equal(elementBytesFromRdtype(message), 8);
  assert.equal(elementBytesFromRdtype(Buffer.from('no dtype here')), undefined);
});

test('unit bodies round-trip exactly and pack typed arrays tighter than without the filter', async () => {
  for (const [name, data, elementBytes] of [
    ['image', imageLikeBytes(512, 256, 4), 2],
    ['weights', float32Weights(65536, 5), 4],
    ['random', randomBytesSeeded(100_003, 6), 1],
  ] as const) {
    const pieces = [data.subarray(0, 5000), data.subarray(5000, 70001), data.subarray(70001)];
    const plain = await encodeUnit(pieces, data.byteLength, { elementBytes: 1, zstdLevel: 3 });
    const filtered = await encodeUnit(pieces, data.byteLength, { elementBytes, zstdLevel: 3 });
    for (const encoded of [plain, filtered]) {
      assert.ok(encoded.body.byteLength <= maxUnitBodyBytes(data.byteLength, encoded.planeCodecs.length), `${name}: within the wire bound`);
      assert.ok(sameBytes(decodeUnit(encoded.body, data.byteLength, encoded.planeCodecs.length), data), `${name}: exact bytes`);
    }
    if (elementBytes > 1) assert.ok(filtered.body.byteLength < plain.body.byteLength * 0.97, `${name}: ${filtered.body.byteLength} vs ${plain.body.byteLength}`);
  }
});

test('image-like data with a background: the low plane split by the top plane codes tighter than one stream', async () => {
  const data = imageLikeBytes(1024, 256, 9);
  const split = await encodeUnit([data], data.byteLength, { elementBytes: 2, zstdLevel: 9 });
  const whole = await encodeUnit([data], data.byteLength, { elementBytes: 2, zstdLevel: 9, trySplit: false });
  assert.equal(split.planeCodecs[0], PlaneCodec.split);
  assert.ok(split.body.byteLength < whole.body.byteLength * 0.97, `${split.body.byteLength} vs ${whole.body.byteLength}`);
  assert.ok(sameBytes(decodeUnit(split.body, data.byteLength, 2), data));
  // A unit cut by content starts mid-element and has an odd length: the planes swap, the split follows.
  const shifted = data.subarray(1, data.byteLength - 2);
  const shiftedSplit = await encodeUnit([shifted], shifted.byteLength, { elementBytes: 2, zstdLevel: 9 });
  const shiftedWhole = await encodeUnit([shifted], shifted.byteLength, { elementBytes: 2, zstdLevel: 9, trySplit: false });
  assert.equal(shiftedSplit.planeCodecs[1], PlaneCodec.split);
  assert.ok(shiftedSplit.body.byteLength < shiftedWhole.body.byteLength * 0.97, `shifted: ${shiftedSplit.body.byteLength} vs ${shiftedWhole.body.byteLength}`);
  assert.ok(sameBytes(decodeUnit(shiftedSplit.body, shifted.byteLength, 2), shifted));
  // Weights and random data never split (their top plane has no zeros, or almost only zeros): no CPU spent on it.
  for (const [other, elementBytes] of [[float32Weights(16384, 3), 4], [randomBytesSeeded(65536, 4), 2]] as const) {
    assert.notEqual((await encodeUnit([other], other.byteLength, { elementBytes, zstdLevel: 3 })).planeCodecs[0], PlaneCodec.split);
  }
});

/** uint16 pixels: a 100-107 background with objects 8 pixels wide (values 2000+), as the bench image's patches. */
function patchyImage(pixels: number, seed: number): Uint8Array {
  const noise = randomBytesSeeded(pixels, seed);
  const out = new Uint8Array(pixels * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < pixels; i++) view.setUint16(i * 2, (i >> 3) % 4 === 0 ? 2000 + noise[i]! * 3 : 100 + (noise[i]! & 7), true);
  return out;
}

/** Plane `j`'s coded bytes in a unit body (the plane table: elementBytes x (codec u8, bytes u32)). */
function planeBody(body: Uint8Array, elementBytes: number, j: number): Uint8Array {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = elementBytes * 5;
  for (let k = 0; k < j; k++) offset += view.getUint32(k * 5 + 1);
  return body.subarray(offset, offset + view.getUint32(j * 5 + 1));
}

test('payload-v4 aligned split: a unit starting mid-element pairs each low byte with its own top byte, tighter than by index', async () => {
  const shifted = patchyImage(65536, 5).subarray(1); // starts at a top byte, as units cut by content often do
  const byIndex = await encodeUnit([shifted], shifted.byteLength, { elementBytes: 2, zstdLevel: 3 });
  const aligned = await encodeUnit([shifted], shifted.byteLength, { elementBytes: 2, zstdLevel: 3, payloadV4: true });
  assert.equal(aligned.planeCodecs[1], PlaneCodec.split);
  const [alignedSplit, byIndexSplit] = [planeBody(aligned.body, 2, 1), planeBody(byIndex.body, 2, 1)];
  assert.ok(alignedSplit.byteLength < byIndexSplit.byteLength * 0.97, `aligned ${alignedSplit.byteLength} vs by index ${byIndexSplit.byteLength}`);
  for (const { body } of [aligned, byIndex]) assert.ok(sameBytes(decodeUnit(body, shifted.byteLength, 2), shifted));
  // At phase 0 the top plane comes after the low one: pairing by index is already right, the split is the same.
  const even = patchyImage(65536, 6);
  const evenAligned = await encodeUnit([even], even.byteLength, { elementBytes: 2, zstdLevel: 3, payloadV4: true });
  const evenByIndex = await encodeUnit([even], even.byteLength, { elementBytes: 2, zstdLevel: 3 });
  assert.ok(sameBytes(planeBody(evenAligned.body, 2, 0), planeBody(evenByIndex.body, 2, 0)));
});

test('property: units whose top plane mixes zeros and values round-trip exactly, split or not, aligned or not', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(2, 4, 8), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 7 }), fc.boolean(), async (elementBytes, elements, zeroPercent, seed, phase, payloadV4) => {
      const data = randomBytesSeeded(elements * elementBytes + (seed % elementBytes), seed);
      const tops = randomBytesSeeded(elements, seed + 1);
      for (let i = 0; i < elements; i++) {
        data[i * elementBytes + elementBytes - 1] = tops[i]! % 100 < zeroPercent ? 0 : 1 + (tops[i]! & 3);
        data[i * elementBytes] = tops[i]! % 100 < zeroPercent ? data[i * elementBytes]! & 3 : data[i * elementBytes]!;
      }
      const unit = data.subarray(phase % elementBytes); // any phase: the split plane may come after the context plane
      const encoded = await encodeUnit([unit.subarray(0, 7), unit.subarray(7)], unit.byteLength, { elementBytes, zstdLevel: 1, payloadV4 });
      assert.ok(encoded.body.byteLength <= maxUnitBodyBytes(unit.byteLength, elementBytes));
      assert.ok(sameBytes(decodeUnit(encoded.body, unit.byteLength, elementBytes), unit));
    }),
    { seed: 31, numRuns: 160 },
  );
});

test('mutated or truncated unit bodies decode to the exact bytes or fail with DECODE_FAILED, never more', async () => {
  const data = imageLikeBytes(256, 128, 7).subarray(1); // odd phase: the split is aligned
  const { body, planeCodecs } = await encodeUnit([data], data.byteLength, { elementBytes: 2, zstdLevel: 1, payloadV4: true });
  assert.equal(planeCodecs[1], PlaneCodec.split, 'the fuzzed body has a split plane');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: body.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: body.byteLength }), (at, xor, cut) => {
      const bad = body.slice(0, Math.max(cut, at + 1));
      bad[at]! ^= xor;
      try {
        const out = decodeUnit(bad, data.byteLength, 2); // a flipped context byte may name the aligned or unaligned pairing
        assert.equal(out.byteLength, data.byteLength); // a flip in a Huffman body may still decode: the chunk hashes catch it
      } catch (error) {
        assert.ok(error instanceof PayloadError && error.code === PayloadErrorCode.decodeFailed, String(error));
      }
    }),
    { seed: 21, numRuns: 400 },
  );
});

test('UNIT frames: valid ones round-trip, impossible sizes are FRAME_INVALID before any allocation', () => {
  const piece = new Uint8Array([1, 2, 3]);
  const frame = { blobId: 9, firstEntry: 2, entryCount: 3, rawBytes: 70_000, elementBytes: 4, bodyBytes: 500, pieceOffset: 497, piece };
  const decoded = decodePayloadFrame(encodeUnitPiece(frame), limits);
  assert.equal(decoded.kind, FrameKind.unit);
  assert.deepEqual({ ...decoded, piece: [...(decoded as { piece: Uint8Array }).piece] }, { kind: FrameKind.unit, ...frame, piece: [1, 2, 3] });
  for (const bad of [
    { rawBytes: 0 }, { rawBytes: limits.maxUnitBytes + 1 }, { elementBytes: 3 }, { entryCount: 0 },
    { firstEntry: limits.maxChunksPerBlob }, { bodyBytes: 0 }, { bodyBytes: maxUnitBodyBytes(70_000, 4) + 1 }, { pieceOffset: 498 },
  ]) {
    assert.throws(() => decodePayloadFrame(encodeUnitPiece({ ...frame, ...bad }), limits), (e: unknown) => e instanceof PayloadError && e.code === PayloadErrorCode.frameInvalid, JSON.stringify(bad));
  }
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 5, maxLength: 200 }), (garbage) => {
      garbage[0] = FrameKind.unit;
      try {
        decodePayloadFrame(garbage, limits);
      } catch (error) {
        assert.ok(error instanceof PayloadError && error.code === PayloadErrorCode.frameInvalid);
      }
    }),
    { seed: 33, numRuns: 500 },
  );
});

test('a unit coded with the last winners as hints is the unit tried every way, and wrong hints still round-trip', async () => {
  for (const [data, elementBytes] of [[imageLikeBytes(512, 256, 21), 2], [float32Weights(65536, 22), 4]] as const) {
    const message = new Uint8Array(data.byteLength + 3);
    message.set(data, 3); // an odd phase, as a hypha message's array
    const full = await encodeUnit([message], message.byteLength, { elementBytes, zstdLevel: 3, payloadV4: true });
    const hinted = await encodeUnit([message], message.byteLength, { elementBytes, zstdLevel: 3, payloadV4: true, planeHints: full.planeCodecs });
    assert.deepEqual(hinted.planeCodecs, full.planeCodecs);
    assert.ok(sameBytes(hinted.body, full.body));
    // Coded plane by plane on the threadpool instead of on the calling thread: the same body.
    const pooled = await encodeUnit([message], message.byteLength, { elementBytes, zstdLevel: 3, payloadV4: true, syncUnitMaxBytes: 0 });
    assert.ok(sameBytes(pooled.body, full.body));
    for (const codec of [PlaneCodec.raw, PlaneCodec.zstd, PlaneCodec.huffman, PlaneCodec.split, PlaneCodec.masked]) {
      const wrong = await encodeUnit([message], message.byteLength, { elementBytes, zstdLevel: 3, payloadV4: true, planeHints: new Array(elementBytes).fill(codec) });
      assert.ok(sameBytes(decodeUnit(wrong.body, message.byteLength, elementBytes), message), `all planes hinted ${codec}`);
      assert.ok(wrong.planeCodecs.every((c) => c === codec || c === PlaneCodec.raw || codec === PlaneCodec.split || codec === PlaneCodec.masked), `hint ${codec}: ${wrong.planeCodecs}`);
    }
  }
  // The bench image's planes: the low one split, the top one masked.
  const image = imageLikeBytes(512, 256, 23);
  assert.deepEqual((await encodeUnit([image], image.byteLength, { elementBytes: 2, zstdLevel: 3, payloadV4: true })).planeCodecs, [PlaneCodec.split, PlaneCodec.masked]);
});

test('units cut mid-element keep what was learnt per element byte: zstd codes every unit\'s top byte', async () => {
  const image = imageLikeBytes(2048, 2048, 11); // 8 MiB: units of ~1 MiB at content-defined cuts, odd offsets among them
  const h = createHarness({ ...slowLink });
  try {
    assert.ok(sameBytes(await h.roundTrip(h.a, image), image));
    const m = h.a.pair.metrics;
    assert.ok(m.unitsSent >= 6, JSON.stringify(m.snapshot()));
    // The top byte's plane compresses with zstd in every unit (a plane-indexed history sent it to Huffman
    // after each odd cut); the low byte's is split where both contexts occur, else Huffman.
    assert.equal(m.unitPlanesByCodec.zstd, m.unitsSent, JSON.stringify(m.unitPlanesByCodec));
    assert.ok(m.unitPlanesByCodec.split > 0, JSON.stringify(m.unitPlanesByCodec));
  } finally {
    await h.close();
  }
});

test('on a slow link new chunks travel packed in byte-shuffled units, fewer bytes than per-chunk zstd', async () => {
  const image = imageLikeBytes(1024, 1024, 8);
  const units = createHarness({ ...slowLink });
  const perChunk = createHarness({ ...slowLink, unitEnabled: false });
  try {
    assert.ok(sameBytes(await units.roundTrip(units.a, image), image));
    assert.ok(sameBytes(await perChunk.roundTrip(perChunk.a, image), image));
    const m = units.a.pair.metrics;
    assert.ok(m.unitsSent > 0 && m.unitsByElementBytes.e2 > 0 && m.policyChoices.unit === 1, JSON.stringify(m.snapshot()));
    assert.ok(units.a.emitted.every((f) => f[0] !== FrameKind.chunk), 'no CHUNK frames: all new data in units');
    assert.ok(m.inlineWireBytes < perChunk.a.pair.metrics.inlineWireBytes * 0.9, `${m.inlineWireBytes} vs ${perChunk.a.pair.metrics.inlineWireBytes}`);
    // The same array again crosses as references only.
    const before = m.inlineWireBytes;
    assert.ok(sameBytes(await units.roundTrip(units.a, image), image));
    assert.equal(m.inlineWireBytes, before);
  } finally {
    await units.close();
    await perChunk.close();
  }
});

test("a blob that is a whole hypha message uses its _rdtype's element size over the sample's guess", async () => {
  // uint16-like pixels that the sample alone reads as 2-byte elements, announced as 4-byte ones.
  const pixels = imageLikeBytes(512, 256, 12);
  const tail = Buffer.concat([Buffer.from([0xa6]), Buffer.from('_rshape'), Buffer.from([0x92, 0xcd, 1, 0, 0xcd, 2, 0]), Buffer.from([0xa7]), Buffer.from('_rdtype'), Buffer.from([0xa6]), Buffer.from('uint32')]);
  const message = Buffer.concat([Buffer.from([0x84, 0xa6]), Buffer.from('_rtype'), Buffer.from([0xa7]), Buffer.from('ndarray'), Buffer.from([0xa7]), Buffer.from('_rvalue'), Buffer.from([0xc6, 0, 4, 0, 0]), pixels, tail]);
  for (const [name, blob, expected] of [['no hint', pixels, 'e2'], ['_rdtype uint32', message, 'e4']] as const) {
    const h = createHarness({ ...slowLink });
    try {
      assert.ok(sameBytes(await h.roundTrip(h.a, blob), blob), name);
      const byElement = h.a.pair.metrics.unitsByElementBytes;
      assert.ok(byElement[expected] > 0 && byElement.e2 + byElement.e4 === byElement[expected], `${name}: ${JSON.stringify(byElement)}`);
    } finally {
      await h.close();
    }
  }
});

test('concurrent blobs do not make the learnt unit speed look slower: units stay chosen on a slow link', async () => {
  // 24 slices of 256 KiB sent at once (as a session's message_cache slices can be): their units queue on
  // the threadpool together. Timing each unit from launch to result would count the same wall time once per
  // unit in flight, the learnt speed would collapse and the policy would fall back to raw.
  // 5 MB/s: units pay while they encode faster than ~5 MB/s; the old timing measured ~24x too slow. (At
  // 10 MB/s the learnt speed, ~10 MB/s with the low-plane split on a machine at load 15, sat on the edge.)
  const link = { lz4Enabled: false, initialLinkEstimate: { throughputBytesPerSec: 5e6, rttMs: 20 } };
  const h = createHarness({ ...link, minSpeedSampleBytes: 256 * 1024, codecSpeedSmoothing: 1 });
  try {
    for (let round = 0; round < 3; round++) {
      const blobs = Array.from({ length: 24 }, (_, i) => imageLikeBytes(512, 256, 100 + round * 24 + i));
      const got = await Promise.all(blobs.map((blob) => h.roundTrip(h.a, blob)));
      got.forEach((bytes, i) => assert.ok(sameBytes(bytes, blobs[i]!)));
    }
    const { policyChoices } = h.a.pair.metrics;
    assert.deepEqual({ ...policyChoices }, { none: 0, lz4: 0, zstd: 0, unit: 72 }, `speeds learnt: ${JSON.stringify(h.a.pair.unitSpeeds)}`);
  } finally {
    await h.close();
  }
});

test('a fast link compresses nothing; random data on a slow link stays raw', async () => {
  const fast = createHarness({ lz4Enabled: false, initialLinkEstimate: { throughputBytesPerSec: 1e9, rttMs: 0.2 } });
  const slow = createHarness({ ...slowLink });
  try {
    const image = imageLikeBytes(512, 512, 9);
    assert.ok(sameBytes(await fast.roundTrip(fast.a, image), image));
    assert.equal(fast.a.pair.metrics.unitsSent, 0);
    assert.equal(fast.a.pair.metrics.policyChoices.none, 1);
    const random = randomBytesSeeded(512 * 1024, 10);
    assert.ok(sameBytes(await slow.roundTrip(slow.a, random), random));
    assert.equal(slow.a.pair.metrics.unitsSent, 0);
    assert.equal(slow.a.pair.metrics.inlineWireBytes, slow.a.pair.metrics.inlineRawBytes);
  } finally {
    await fast.close();
    await slow.close();
  }
});

test('a corrupted, cut or lying unit never yields wrong bytes: its chunks are NACKed and resent', async () => {
  // Each tampering returns the frame to deliver (null: drop it), or undefined to leave this frame alone.
  const tamperings: Array<[string, (frame: Uint8Array) => Uint8Array | null | undefined]> = [
    ['flipped body byte', (f) => { const g = f.slice(); g[g.length - 7]! ^= 0x5a; return g; }],
    ['dropped piece', (f) => (new DataView(f.buffer, f.byteOffset).getUint32(22) > 0 ? null : undefined)],
    ['raw length that disagrees with the manifest', (f) => { const g = f.slice(); const v = new DataView(g.buffer); v.setUint32(13, v.getUint32(13) - 1); v.setUint32(18, Math.min(v.getUint32(18), v.getUint32(13) + 10)); return g; }],
  ];
  for (const [name, tamper] of tamperings) {
    const h = createHarness({ ...slowLink, compressUnitBytes: 256 * 1024, unitPieceBytes: 16 * 1024 });
    try {
      let tampered = 0;
      h.a.hook = (frame) => {
        if (frame[0] !== FrameKind.unit || tampered >= 1) return frame;
        const out = tamper(frame);
        if (out === undefined) return frame;
        tampered++;
        return out;
      };
      const image = imageLikeBytes(1024, 512, 11);
      assert.ok(sameBytes(await h.roundTrip(h.a, image), image), name);
      assert.equal(tampered, 1, name);
      assert.ok(h.b.pair.metrics.nacksSent > 0, `${name}: NACKed`);
    } finally {
      await h.close();
    }
  }
});

test('a decoded unit is a buffer of its own, also when its one plane was sent raw', () => {
  const raw = Uint8Array.from([7, 1, 2, 3]);
  const body = new Uint8Array(5 + raw.byteLength);
  body[0] = PlaneCodec.raw;
  new DataView(body.buffer).setUint32(1, raw.byteLength);
  body.set(raw, 5);
  const out = decodeUnit(body, raw.byteLength, 1);
  assert.deepEqual([...out], [...raw]);
  body.fill(0);
  assert.deepEqual([...out], [...raw], 'not a view of the body');
});
