// Compact framing (varint-v1) of a byte-stream link: FrameBatch writes a varint prefix per message (a
// compressed message's tag in its low bit, not on the wire) and FrameReader gives back the same messages,
// tag restored, however the stream is cut; a hex example pins the layout; garbage is only BAD_FRAME or
// FRAME_TOO_LARGE, and a length above the limit is refused before anything is allocated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameBatch } from '../../src/link/frame-batch.js';
import { FrameReader } from '../../src/link/frame-reader.js';
import { COMPRESSED_MESSAGE_TAG, DataFlag, FrameClass, FrameType, encodeFrame } from '../../src/link/frame.js';
import { CompactPrefixReader, writeCompactPrefix } from '../../src/link/compact-prefix.js';
import { AccelError } from '../../src/errors.js';

function framed(messages: Uint8Array[]): { wire: Buffer; bytes: number } {
  const batch = new FrameBatch('varint');
  for (const message of messages) batch.pushEncoded(message, () => {});
  const taken = batch.take();
  return { wire: Buffer.concat(taken.chunks), bytes: taken.bytes };
}

test('hex: a plain frame costs one prefix byte, a compressed message its tag less', () => {
  const frame = encodeFrame({ type: FrameType.DATA, flags: DataFlag.FIN, frameClass: FrameClass.RPC, streamId: 7, seq: 3, payload: Buffer.from('hi') });
  const compressed = Buffer.from([COMPRESSED_MESSAGE_TAG, 0xaa, 0xbb, 0xcc]);
  const { wire, bytes } = framed([frame, compressed]);
  assert.equal(wire.toString('hex'), '1c' + frame.toString('hex') + '07aabbcc'); // 14 × 2 = 0x1c; 3 × 2 + 1 = 7
  assert.equal(bytes, wire.length);
  const got: Buffer[] = [];
  new FrameReader(1 << 16, 'varint').push(wire, (m) => got.push(Buffer.from(m)));
  assert.deepEqual(got, [frame, compressed]);
});

const messageArb = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 80 }).map((m) => { m[0] = (m[0]! % 0x19) + 1; return m; }), // a frame type first
  fc.uint8Array({ minLength: 0, maxLength: 300 }).map((m) => Uint8Array.of(COMPRESSED_MESSAGE_TAG, ...m)), // a compressed one
  fc.integer({ min: 4000, max: 70_000 }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0x13 : (i * 31 + n) & 0xff))),
  fc.integer({ min: 4000, max: 20_000 }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? COMPRESSED_MESSAGE_TAG : (i * 7 + n) & 0xff))),
);

test('property: messages cut at random points come out whole, in order, tags restored, and stay intact', () => {
  fc.assert(
    fc.property(fc.array(messageArb, { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 40 }), (messages, cuts) => {
      const { wire } = framed(messages);
      const reader = new FrameReader(1 << 20, 'varint');
      const got: Uint8Array[] = [];
      let at = 0;
      for (let i = 0; at < wire.length; i++) {
        const end = Math.min(wire.length, at + cuts[i % cuts.length]!);
        reader.push(Buffer.from(wire.subarray(at, end)), (m) => got.push(m));
        at = end;
      }
      assert.equal(reader.idle, true);
      assert.equal(got.length, messages.length);
      messages.forEach((m, i) => assert.ok(Buffer.from(m).equals(got[i]!), `message ${i} of ${m.length} bytes`));
    }),
    { seed: 31, numRuns: 150 },
  );
});

test('property, parts taken: large plain messages may come as views, tagged ones always whole; the same bytes', () => {
  const large = (tagged: boolean) => fc.integer({ min: 30_000, max: 70_000 }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? (tagged ? COMPRESSED_MESSAGE_TAG : 0x13) : (i * 11 + n) & 0xff)));
  fc.assert(
    fc.property(fc.array(fc.oneof(messageArb, large(false), large(true)), { minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 40 }), (messages, cuts) => {
      const { wire } = framed(messages);
      const reader = new FrameReader(1 << 20, 'varint', true);
      const got: Uint8Array[] = [];
      let at = 0;
      for (let i = 0; at < wire.length; i++) {
        const end = Math.min(wire.length, at + cuts[i % cuts.length]!);
        reader.push(Buffer.from(wire.subarray(at, end)), (m, tail) => {
          if (tail) assert.notEqual(m[0], COMPRESSED_MESSAGE_TAG, 'a compressed message came in parts');
          got.push(tail ? Buffer.concat([m, ...tail]) : m);
        });
        at = end;
      }
      assert.equal(reader.idle, true);
      assert.equal(got.length, messages.length);
      messages.forEach((m, i) => assert.ok(Buffer.from(m).equals(got[i]!), `message ${i} of ${m.length} bytes`));
    }),
    { seed: 37, numRuns: 80 },
  );
});

test('a length above the limit is FRAME_TOO_LARGE before any body arrives; a 6-byte prefix is BAD_FRAME', () => {
  const prefix = Buffer.alloc(5);
  const n = writeCompactPrefix(prefix, 0, 2049 * 2);
  assert.throws(() => new FrameReader(2048, 'varint').push(prefix.subarray(0, n), () => assert.fail('no message')), (e: unknown) => e instanceof AccelError && e.code === 'HYPHA_ACCEL_ERR_FRAME_TOO_LARGE');
  // A tagged message counts its tag: 2047 body bytes + tag = 2048 is fine, 2048 + tag is not.
  const ok = new CompactPrefixReader(2048);
  ok.push(((2047 * 2 + 1) & 0x7f) | 0x80);
  assert.equal(ok.push((2047 * 2 + 1) >> 7), true);
  assert.equal(ok.length, 2048);
  assert.equal(ok.tagged, true);
  const over = new CompactPrefixReader(2048);
  over.push(((2048 * 2 + 1) & 0x7f) | 0x80);
  assert.throws(() => over.push((2048 * 2 + 1) >> 7), (e: unknown) => e instanceof AccelError && e.code === 'HYPHA_ACCEL_ERR_FRAME_TOO_LARGE');
  assert.throws(() => new FrameReader(1 << 30, 'varint').push(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), () => {}), (e: unknown) => e instanceof AccelError && e.code === 'HYPHA_ACCEL_ERR_BAD_FRAME');
});

test('fuzz: garbage is BAD_FRAME or FRAME_TOO_LARGE or bounded messages, and a fresh reader works afterwards', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (garbage) => {
      const reader = new FrameReader(2048, 'varint');
      try {
        reader.push(garbage, (m) => assert.ok(m.length <= 2048));
      } catch (error) {
        assert.ok(error instanceof AccelError && ['HYPHA_ACCEL_ERR_FRAME_TOO_LARGE', 'HYPHA_ACCEL_ERR_BAD_FRAME'].includes(error.code), String(error));
      }
      const got: Uint8Array[] = [];
      new FrameReader(2048, 'varint').push(framed([Uint8Array.of(1, 2, 3)]).wire, (m) => got.push(m));
      assert.deepEqual([...got[0]!], [1, 2, 3]);
    }),
    { seed: 5, numRuns: 300 },
  );
});

test('push() with header and payload writes the same bytes as pushEncoded of the whole frame', () => {
  const header = { type: FrameType.DATA, flags: DataFlag.FIN, frameClass: FrameClass.BULK, streamId: 300, seq: 70_000 } as const;
  for (const size of [0, 100, 5000, 20_000]) {
    const payload = Buffer.alloc(size, 9);
    const a = new FrameBatch('varint');
    a.push(header, payload, () => {});
    const b = new FrameBatch('varint');
    b.pushEncoded(encodeFrame({ ...header, payload }), () => {});
    assert.ok(Buffer.concat(a.take().chunks).equals(Buffer.concat(b.take().chunks)), `payload of ${size} bytes`);
  }
});
