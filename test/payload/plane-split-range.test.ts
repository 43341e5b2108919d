// payload-v4 split ranges: a unit that is a whole hypha message (envelope, the array's bin, trailing fields)
// has only the array's positions sorted by context, so the envelope's rare symbols stay out of the
// zero-context stream; ranged split bodies round-trip, and malformed ranges fail without decoding more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeSplit, encodeSplit } from '../../src/payload/plane-split.js';
import { arraySpan, decodeUnit, encodeUnit, PlaneCodec } from '../../src/payload/unit-codec.js';
import { randomBytesSeeded, sameBytes } from './payload-harness.js';

/** A message_cache.set-like message: msgpack-ish envelope, a bin32 of uint16 background pixels with objects, trailing fields. */
function envelopedImage(pixels: number, seed: number): { message: Uint8Array; start: number; end: number } {
  const envelope = Buffer.from('\x86\xa4type\xa6method\xa4from\xd9)ws-user-anonymouz-bevel-soursop/caller-1\xa6method\xd9\'services.built-in.message_cache.set\xa4args\x94\xb6aBcDeFgHiJkLmNoPqRsTuV\x00', 'latin1');
  const noise = randomBytesSeeded(pixels, seed);
  const array = Buffer.alloc(pixels * 2);
  for (let i = 0; i < pixels; i++) array.writeUInt16LE((i >> 5) % 16 === 0 ? 1600 + noise[i]! * 3 : 100 + (noise[i]! & 7), i * 2);
  const header = Buffer.from([0xc6, 0, 0, 0, 0]);
  header.writeUInt32BE(array.length, 1);
  const trailer = Buffer.from('\xc2\xa7promise\xa1*\xa1t\xcb@N\x00\x00\x00\x00\x00\x00', 'latin1');
  const message = Buffer.concat([envelope, header, array, trailer]);
  return { message, start: envelope.length + 5, end: envelope.length + 5 + array.length };
}

test('arraySpan finds the bin that ends the message; nothing in a unit cut from the middle of a blob', () => {
  const { message, start, end } = envelopedImage(4096, 1);
  assert.deepEqual(arraySpan(message, message.byteLength), { start, end });
  assert.equal(arraySpan(message.subarray(start + 1), message.byteLength - start - 1), undefined);
});

test('payload-v4: the split sorts only the array by context: the envelope and trailer cost the background stream nothing', async () => {
  const { message } = envelopedImage(131072, 2);
  const v4 = await encodeUnit([message], message.byteLength, { elementBytes: 2, zstdLevel: 1, payloadV4: true });
  assert.ok(v4.planeCodecs.includes(PlaneCodec.split));
  assert.ok(sameBytes(decodeUnit(v4.body, message.byteLength, 2), message));
  // The same split without the range: rare symbols from the envelope land in the zero-context stream.
  const { start } = envelopedImage(16, 2);
  const odd = start % 2 === 1; // the array starts at an odd offset: top bytes are plane 0, low bytes plane 1
  const planes = [0, 1].map((j) => message.filter((_, i) => i % 2 === j));
  const [low, top, context] = odd ? [planes[1]!, planes[0]!, 0] : [planes[0]!, planes[1]!, 1];
  const span = arraySpan(message, message.byteLength)!;
  const shift = odd ? 2 : 0;
  const range = { from: Math.ceil((span.start - (odd ? 1 : 0)) / 2), to: Math.ceil((span.end - context - shift) / 2) };
  const ranged = await encodeSplit(low, top, context, { aligned: odd, range });
  const unranged = await encodeSplit(low, top, context, { aligned: odd });
  assert.ok(ranged.byteLength < unranged.byteLength * 0.99, `ranged ${ranged.byteLength} vs ${unranged.byteLength}`);
  for (const body of [ranged, unranged]) assert.ok(sameBytes(decodeSplit(body, top, low.byteLength), low));
});

test('property: ranged split bodies round-trip for any range; a range past the paired bytes is refused', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 0, max: 3100 }), fc.integer({ min: 0, max: 3100 }), fc.boolean(), fc.integer({ min: 1, max: 500 }), async (n, a, b, aligned, seed) => {
      const low = randomBytesSeeded(n, seed);
      const top = randomBytesSeeded(n + 1, seed + 1).map((v) => (v < 200 ? 0 : v));
      const body = await encodeSplit(low, top, 1, { aligned, range: { from: Math.min(a, b), to: Math.max(a, b) } });
      assert.ok(sameBytes(decodeSplit(body, top, n), low));
    }),
    { seed: 3, numRuns: 150 },
  );
  const low = randomBytesSeeded(100, 1);
  const top = new Uint8Array(100);
  const body = await encodeSplit(low, top, 1, { range: { from: 10, to: 50 } });
  const bad = body.slice();
  new DataView(bad.buffer).setUint32(5, 101); // to past the 100 paired bytes
  assert.throws(() => decodeSplit(bad, top, 100), /outside the 100 paired bytes/);
  new DataView(bad.buffer).setUint32(1, 60); // from after to
  assert.throws(() => decodeSplit(bad, top, 100), /outside/);
});
