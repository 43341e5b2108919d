// FrameReader against a reference: random frames (empty to larger than a slab's share) cut into random
// chunks come out whole, in order, and every frame handed out stays intact after later chunks (split
// frames share a slab: their rooms must never overlap or be reused).
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameReader, SPLIT_MIN_FRAME_BYTES, SPLIT_MIN_HEAD_BYTES } from '../../src/link/frame-reader.js';

function prefixed(frames: Uint8Array[]): Buffer {
  return Buffer.concat(frames.flatMap((frame) => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(frame.length, 0);
    return [prefix, frame];
  }));
}

const frameArb = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.integer({ min: 60_000, max: 70_000 }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff)),
  fc.integer({ min: 250_000, max: 300_000 }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)),
);

test('frames cut at random points come out whole, in order, and stay intact afterwards', () => {
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 24 }), fc.array(fc.integer({ min: 1, max: 140_000 }), { minLength: 1, maxLength: 64 }), (frames, cuts) => {
      const wire = prefixed(frames);
      const reader = new FrameReader(1 << 20);
      const got: Uint8Array[] = [];
      let at = 0;
      for (let i = 0; at < wire.length; i++) {
        const end = Math.min(wire.length, at + cuts[i % cuts.length]!);
        // A fresh buffer per read, as a socket gives: the reader may hand out views of it.
        reader.push(Buffer.from(wire.subarray(at, end)), (frame) => got.push(frame));
        at = end;
      }
      assert.equal(reader.idle, true);
      assert.equal(got.length, frames.length);
      for (let i = 0; i < frames.length; i++) assert.ok(Buffer.from(frames[i]!).equals(got[i]!), `frame ${i} of ${frames[i]!.length} bytes`);
    }),
    { numRuns: 60 },
  );
});

test('with parts taken, a large split frame comes as views of the chunks (no copy) and the same bytes', () => {
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 24 }), fc.array(fc.integer({ min: 1, max: 140_000 }), { minLength: 1, maxLength: 64 }), (frames, cuts) => {
      const wire = prefixed(frames);
      const reader = new FrameReader(1 << 20, 'u32', true);
      const got: Uint8Array[] = [];
      const chunks: Buffer[] = [];
      let inParts = 0;
      let at = 0;
      for (let i = 0; at < wire.length; i++) {
        const end = Math.min(wire.length, at + cuts[i % cuts.length]!);
        const chunk = Buffer.from(wire.subarray(at, end));
        chunks.push(chunk);
        reader.push(chunk, (frame, tail) => {
          if (!tail) return got.push(frame);
          inParts++;
          assert.ok(frame.length >= SPLIT_MIN_HEAD_BYTES && tail.length >= 1);
          // Every part is a view of a chunk the reader was given: nothing copied.
          for (const part of [frame, ...tail]) assert.ok(chunks.some((c) => c.buffer === part.buffer), 'a part is not a view of a chunk');
          got.push(Buffer.concat([frame, ...tail]));
        });
        at = end;
      }
      assert.equal(reader.idle, true);
      assert.equal(got.length, frames.length);
      for (let i = 0; i < frames.length; i++) assert.ok(Buffer.from(frames[i]!).equals(got[i]!), `frame ${i} of ${frames[i]!.length} bytes`);
      // Only frames of at least SPLIT_MIN_FRAME_BYTES come in parts.
      assert.ok(inParts <= frames.filter((f) => f.length >= SPLIT_MIN_FRAME_BYTES).length);
    }),
    { numRuns: 60 },
  );
});

test('a split large frame whose first part is shorter than a header is copied whole, as without parts', () => {
  const frame = Uint8Array.from({ length: 40_000 }, (_, i) => i & 0xff);
  const wire = prefixed([frame]);
  const reader = new FrameReader(1 << 20, 'u32', true);
  const got: Array<{ frame: Uint8Array; tail?: Uint8Array[] }> = [];
  reader.push(Buffer.from(wire.subarray(0, 4 + SPLIT_MIN_HEAD_BYTES - 1)), (f, tail) => got.push({ frame: f, tail }));
  reader.push(Buffer.from(wire.subarray(4 + SPLIT_MIN_HEAD_BYTES - 1)), (f, tail) => got.push({ frame: f, tail }));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.tail, undefined);
  assert.ok(Buffer.from(frame).equals(got[0]!.frame));
});

test('garbage never breaks the reader beyond FRAME_TOO_LARGE, and a fresh reader works afterwards', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (garbage) => {
      const reader = new FrameReader(2048);
      try {
        reader.push(garbage, () => {});
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'HYPHA_ACCEL_ERR_FRAME_TOO_LARGE');
      }
      const fresh = new FrameReader(2048);
      const got: Uint8Array[] = [];
      fresh.push(prefixed([Uint8Array.of(1, 2, 3)]), (frame) => got.push(frame));
      assert.deepEqual([...got[0]!], [1, 2, 3]);
    }),
  );
});
