// The order in which a link sends: link control first (PING/PONG, ACK, WINDOW, DRAIN), then streams by
// class (control, rpc, bulk), round-robin across the streams of a class, a stream's own frames always in
// order; payload-plane frames after every stream frame, so small calls overtake bulk data. A stream whose
// head is a blob reference not yet ready leaves the queues (stalled) until it is woken.
import { Deque } from './deque.js';
import type { FrameHeader } from './frame.js';
import type { PendingFrame, Stream } from './stream.js';
import type { BlobOutcome } from '../events.js';

/** A link-control or payload-plane frame on its way out, or a stream frame once scheduled: header fields and the payload as a view. */
export interface OutFrame {
  header: FrameHeader;
  payload: Uint8Array;
  /** A traced blob reference's plane outcome (set only when header.trace is). */
  blob?: BlobOutcome;
}

export class SendQueues {
  readonly linkControl = new Deque<OutFrame>();
  readonly payloadFrames = new Deque<OutFrame>();
  /** Streams with a frame to send, by frame class. */
  private readonly ready = [new Deque<Stream>(), new Deque<Stream>(), new Deque<Stream>()];

  /** True when a stream or the payload plane has a frame queued (link control aside). */
  get hasData(): boolean {
    return this.payloadFrames.length > 0 || this.ready[0]!.length > 0 || this.ready[1]!.length > 0 || this.ready[2]!.length > 0;
  }

  /** Queues a stream's frame behind its earlier ones. */
  pushStreamFrame(stream: Stream, frame: PendingFrame): void {
    const wasIdle = stream.out.length === 0;
    stream.out.push(frame);
    if (wasIdle && frame.ready !== false) {
      stream.stalled = false;
      this.ready[frame.frameClass]!.push(stream);
    } else if (wasIdle) {
      stream.stalled = true;
    }
  }

  /** A blob reference at the head of a stalled stream became ready: true when the stream is back in its class queue. */
  wake(stream: Stream): boolean {
    const head = stream.out.peek();
    if (!stream.stalled || !head || head.ready === false) return false;
    stream.stalled = false;
    this.ready[head.frameClass]!.push(stream);
    return true;
  }

  /**
   * The stream whose turn it is, with a ready frame at its head, taken off its class queue: the caller
   * shifts that frame and puts the stream back with `requeue` if more follow.
   */
  nextStream(): Stream | undefined {
    // Indexed loops here and in the write completions: for-of allocates an iterator per call in Maglev code
    // (~3% of the bytes a proxy allocates per message, in a sampling allocation profile: warm17 notes).
    for (let i = 0; i < this.ready.length; i++) {
      const queue = this.ready[i]!;
      let stream: Stream | undefined;
      while ((stream = queue.shift())) {
        const head = stream.out.peek();
        // A reset stream may sit in a queue with nothing left to send; a blob reference may not be ready yet.
        if (head?.ready === false) stream.stalled = true;
        else if (head) return stream;
      }
    }
    return undefined;
  }

  /** Puts a stream back at the end of the class queue of its next frame. */
  requeue(stream: Stream, next: PendingFrame): void {
    this.ready[next.frameClass]!.push(stream);
  }

  clear(): void {
    this.linkControl.clear();
    this.payloadFrames.clear();
    for (const queue of this.ready) queue.clear();
  }
}
