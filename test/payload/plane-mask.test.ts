// The masked plane coding (payload-v4): mostly-zero planes round-trip exactly through mask + values, a
// unit picks it only toward a payload-v4 peer and only where it is smaller, and malformed masked bodies
// fail with an Error (DECODE_FAILED at the unit level) without decoding past the plane's size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMasked, encodeMasked, worthMasking } from '../../src/payload/plane-mask.js';
import { decodeUnit, encodeUnit, PlaneCodec } from '../../src/payload/unit-codec.js';
import { randomBytesSeeded, sameBytes } from './payload-harness.js';

/** A plane with `zeroPercent` % zeros in runs, else small values 1-8. */
function sparsePlane(length: number, zeroPercent: number, seed: number): Uint8Array {
  const noise = randomBytesSeeded(length, seed);
  return noise.map((n, i) => (((i >> 5) * 37 + seed) % 100 < zeroPercent ? 0 : 1 + (n & 7)));
}

test('property: masked bodies give back the plane exactly, any length and zero share', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 1000 }), async (length, zeroPercent, seed) => {
      const plane = sparsePlane(length, zeroPercent, seed);
      assert.ok(sameBytes(decodeMasked(await encodeMasked(plane), length), plane));
    }),
    { seed: 17, numRuns: 60 },
  );
});

test('fuzz: a mutated or cut masked body throws or gives exactly the plane size, never more', async () => {
  const plane = sparsePlane(20_000, 90, 3);
  const body = await encodeMasked(plane);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: body.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: body.byteLength }), (at, xor, cut) => {
      const bad = body.slice(0, Math.max(cut, at + 1));
      bad[at]! ^= xor;
      try {
        assert.equal(decodeMasked(bad, plane.byteLength).byteLength, plane.byteLength);
      } catch (error) {
        assert.ok(error instanceof Error);
      }
    }),
    { seed: 8, numRuns: 400 },
  );
  assert.throws(() => decodeMasked(new Uint8Array(3), 100), /shorter than its table/);
});

test('a unit codes a mostly-zero plane masked only toward a payload-v4 peer, where it is smaller', async () => {
  // uint16 with 95% zero top bytes in runs: the top plane is what masking is for.
  const pixels = 65536;
  const top = sparsePlane(pixels, 95, 9);
  const low = randomBytesSeeded(pixels, 10);
  const data = new Uint8Array(pixels * 2);
  for (let i = 0; i < pixels; i++) {
    data[2 * i] = low[i]!;
    data[2 * i + 1] = top[i]!;
  }
  assert.ok(worthMasking(top));
  const v4 = await encodeUnit([data], data.byteLength, { elementBytes: 2, zstdLevel: 9, payloadV4: true });
  const v3 = await encodeUnit([data], data.byteLength, { elementBytes: 2, zstdLevel: 9 });
  assert.equal(v4.planeCodecs[1], PlaneCodec.masked);
  assert.ok(!v3.planeCodecs.includes(PlaneCodec.masked), 'a payload-v3 peer never gets a masked plane');
  assert.ok(v4.body.byteLength < v3.body.byteLength, `v4 ${v4.body.byteLength} vs v3 ${v3.body.byteLength}`);
  for (const { body } of [v4, v3]) assert.ok(sameBytes(decodeUnit(body, data.byteLength, 2), data));
  // A plane with few zeros is not worth a mask: not even tried.
  assert.equal(worthMasking(sparsePlane(4096, 30, 4)), false);
});

test('mask bits past the plane\'s end are ignored, as payload-v4 decoders always did (they name no position)', () => {
  // A raw mask (codec 0) of one byte for a 5-byte plane, bits 0 and 2 set plus bits 5-7 past the end; raw values 7, 9.
  const body = Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0b11100101, 7, 9]);
  assert.deepEqual([...decodeMasked(body, 5)], [7, 0, 9, 0, 0]);
});
