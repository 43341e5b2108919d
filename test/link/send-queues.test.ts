import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SendQueues } from '../../src/link/send-queues.js';
import { Stream, type PendingFrame } from '../../src/link/stream.js';
import { FrameClass, FrameType } from '../../src/link/frame.js';

const LIMITS = { maxFragmentBytes: 1024, maxMessageBytes: 1 << 20, peerWindowBytes: 1 << 20, localWindowBytes: 1 << 20 };
const HOST = { enqueue: () => {}, grant: () => {}, wake: () => {}, reset: () => {} };
const stream = (id: number) => new Stream(id, LIMITS, HOST);
const frame = (frameClass: number, tag: number, ready?: boolean): PendingFrame => ({
  type: FrameType.DATA, flags: 0, frameClass: frameClass as PendingFrame['frameClass'], payload: Uint8Array.of(tag), wholeMessage: true, ...(ready === undefined ? {} : { ready }),
});

/** Drains the queues as the link does: the next stream, its head frame, back in line if more follow. */
function drain(queues: SendQueues): string[] {
  const sent: string[] = [];
  for (let s = queues.nextStream(); s; s = queues.nextStream()) {
    const pending = s.out.shift()!;
    sent.push(`${s.id}:${pending.payload[0]}`);
    const next = s.out.peek();
    if (next) queues.requeue(s, next);
  }
  return sent;
}

test('classes in order (control, rpc, bulk), round-robin within a class, a stream keeps its own order', () => {
  const queues = new SendQueues();
  const [a, b, c] = [stream(1), stream(2), stream(3)];
  queues.pushStreamFrame(c, frame(FrameClass.BULK, 1));
  queues.pushStreamFrame(a, frame(FrameClass.RPC, 1));
  queues.pushStreamFrame(a, frame(FrameClass.RPC, 2));
  queues.pushStreamFrame(b, frame(FrameClass.RPC, 1));
  queues.pushStreamFrame(b, frame(FrameClass.CONTROL, 2));
  assert.equal(queues.hasData, true);
  // b's CONTROL frame waits behind its own RPC frame; then b is in the control queue ahead of a's next.
  assert.deepEqual(drain(queues), ['1:1', '2:1', '2:2', '1:2', '3:1']);
  assert.equal(queues.hasData, false);
});

test('a stream whose head is not ready leaves the queues until woken; waking a ready or idle stream does nothing', () => {
  const queues = new SendQueues();
  const [a, b] = [stream(1), stream(2)];
  const blobRef = frame(FrameClass.BULK, 1, false);
  queues.pushStreamFrame(a, blobRef);
  queues.pushStreamFrame(a, frame(FrameClass.BULK, 2));
  queues.pushStreamFrame(b, frame(FrameClass.BULK, 1));
  assert.equal(a.stalled, true);
  assert.deepEqual(drain(queues), ['2:1']);
  assert.equal(queues.wake(a), false, 'still not ready');
  blobRef.ready = true;
  assert.equal(queues.wake(a), true);
  assert.equal(queues.wake(a), false, 'already queued');
  assert.deepEqual(drain(queues), ['1:1', '1:2']);
  assert.equal(queues.wake(b), false, 'nothing to send');
});

test('clear empties every queue', () => {
  const queues = new SendQueues();
  queues.pushStreamFrame(stream(1), frame(FrameClass.RPC, 1));
  queues.payloadFrames.push({ header: { type: FrameType.PAYLOAD, flags: 0, frameClass: FrameClass.BULK, streamId: 0, seq: 0 }, payload: new Uint8Array(1) });
  queues.linkControl.push({ header: { type: FrameType.PING, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0 }, payload: new Uint8Array(8) });
  queues.clear();
  assert.equal(queues.hasData, false);
  assert.equal(queues.linkControl.length, 0);
  assert.equal(queues.nextStream(), undefined);
});
