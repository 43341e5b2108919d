// The byte-stream framing: FrameBatch writes length-prefixed frames (slab for headers and small payloads,
// views for large ones) and FrameReader gets the same frames back however the stream is cut.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameBatch } from '../../src/link/frame-batch.js';
import { FrameReader } from '../../src/link/frame-reader.js';
import { DataFlag, FrameClass, FrameType, decodeFrame, encodeFrame } from '../../src/link/frame.js';
import { AccelError } from '../../src/errors.js';

const small = { type: FrameType.DATA, flags: DataFlag.FIN, frameClass: FrameClass.RPC, streamId: 7, seq: 3 } as const;

function sampleBatch(): { wire: Buffer; frames: Buffer[]; batchChunks: number; largePayload: Uint8Array; chunks: Uint8Array[]; calls: number[] } {
  const batch = new FrameBatch();
  const calls: number[] = [];
  const largePayload = new Uint8Array(10000).map((_, i) => i & 0xff);
  const frames = [
    encodeFrame({ ...small, payload: Buffer.from('hi') }),
    encodeFrame({ ...small, seq: 4, frameClass: FrameClass.BULK, payload: largePayload }),
    encodeFrame({ type: FrameType.PING, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0 }),
  ];
  batch.push(small, Buffer.from('hi'), () => calls.push(0));
  batch.push({ ...small, seq: 4, frameClass: FrameClass.BULK }, largePayload, () => calls.push(1));
  batch.pushEncoded(frames[2]!, () => calls.push(2));
  const taken = batch.take();
  assert.ok(batch.empty);
  for (const callback of taken.callbacks) callback();
  const wire = Buffer.concat(taken.chunks);
  assert.equal(taken.bytes, wire.length);
  return { wire, frames, batchChunks: taken.chunks.length, largePayload, chunks: taken.chunks, calls };
}

test('a batch is the frames, each with a u32 length prefix, in order; callbacks in order', () => {
  const { wire, frames, calls } = sampleBatch();
  const expected = Buffer.concat(frames.flatMap((f) => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(f.length);
    return [prefix, f];
  }));
  assert.deepEqual(wire, expected);
  assert.deepEqual(calls, [0, 1, 2]);
});

test('a large payload is handed on as the same view, not copied', () => {
  const { chunks, largePayload } = sampleBatch();
  assert.ok(chunks.includes(largePayload));
});

test('the reader yields the same frames for every way of cutting the stream in two', () => {
  const { wire, frames } = sampleBatch();
  for (let cut = 0; cut <= wire.length; cut++) {
    const reader = new FrameReader(1 << 20);
    const got: Buffer[] = [];
    reader.push(wire.subarray(0, cut), (f) => got.push(Buffer.from(f)));
    reader.push(wire.subarray(cut), (f) => got.push(Buffer.from(f)));
    assert.deepEqual(got, frames, `cut at ${cut}`);
  }
});

test('the reader yields the same frames fed one byte at a time, and views when a frame lies in one chunk', () => {
  const { wire, frames } = sampleBatch();
  const reader = new FrameReader(1 << 20);
  const got: Buffer[] = [];
  for (let i = 0; i < wire.length; i++) reader.push(wire.subarray(i, i + 1), (f) => got.push(Buffer.from(f)));
  assert.deepEqual(got, frames);
  const whole: Uint8Array[] = [];
  new FrameReader(1 << 20).push(wire, (f) => whole.push(f));
  assert.ok(whole.every((f) => f.buffer === wire.buffer), 'frames within one chunk are views of it');
  assert.equal(decodeFrame(whole[0]!, 1 << 20).streamId, 7);
});

test('a length over the limit fails with FRAME_TOO_LARGE before anything is allocated', () => {
  const reader = new FrameReader(1000);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(0xffffffff);
  assert.throws(() => reader.push(prefix, () => {}), (error: unknown) => error instanceof AccelError && error.code === 'HYPHA_ACCEL_ERR_FRAME_TOO_LARGE');
});

test('many small frames share one slab chunk (one write for the whole batch)', () => {
  const batch = new FrameBatch();
  for (let i = 0; i < 100; i++) batch.push({ ...small, seq: i }, Buffer.alloc(150, i), () => {});
  assert.equal(batch.take().chunks.length, 1);
});
