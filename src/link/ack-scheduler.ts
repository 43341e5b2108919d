// When a paced link's ACK frames go out: at once after AckPolicy.everyBytes; otherwise lazily, riding along
// with frames already going out once it waited long enough or covers enough bytes, or alone after a delay
// (one timer at most). A link's first ACKs go quickly: they give the peer its round trip.
import type { Clock, TimerHandle } from './clock.js';
import { AckPolicy } from './pacing.js';

/**
 * How long a small unacknowledged amount may wait before its ACK goes out alone. Small amounts never fill a
 * window (512 KiB at least; an ACK goes at once per AckPolicy.everyBytes), and each ACK carries how long it
 * was held, so the sender's RTT estimate stays right: sequential small calls on a 120 ms link then send
 * an ACK every 2 s or so, riding along, instead of one per call (bench S1 slow: 0.45 ACKs per call at 500 ms
 * cost ~7 B of ~94 per call). It stays well inside the keep-alive timeout (a receiving side is heard).
 */
const ACK_DELAY_MS = 4000;
/** A lazy ACK rides along with outgoing frames once it waited this long or covers this many bytes. */
const ACK_PIGGYBACK_MS = 2000;
const ACK_PIGGYBACK_BYTES = 8 * 1024;
/**
 * A link's first ACKs go quickly (as all did before): they give the peer its round trip, which the stages
 * that step aside on fast links (payload plane, codec, link compression) need from the start.
 */
export const EAGER_ACKS = 16;
const EAGER_ACK_DELAY_MS = 20;
const EAGER_ACK_PIGGYBACK_MS = 2;

export class AckScheduler {
  private readonly policy = new AckPolicy();
  private timer: TimerHandle | undefined;
  private armedAtMs = 0;
  private acksSent = 0;

  /** `send` emits one ACK frame: the cumulative bytes received and how long the ACK was held. */
  constructor(private readonly clock: Clock, private readonly send: (cumulativeBytes: number, ackDelayMs: number) => void) {}

  /** Counts a received frame (ACK frames are not counted by either side). */
  onReceived(bytes: number, nowMs: number): void {
    if (this.policy.onReceived(bytes, nowMs)) this.sendNow();
    else if (this.timer === undefined) {
      this.armedAtMs = nowMs;
      this.timer = this.clock.setTimeout(() => this.sendNow(), this.acksSent < EAGER_ACKS ? EAGER_ACK_DELAY_MS : ACK_DELAY_MS);
    }
  }

  /**
   * Frames are about to go out (the batch is written at once): a lazy ACK rides with them once it waited
   * ACK_PIGGYBACK_MS or covers ACK_PIGGYBACK_BYTES, so small calls do not carry one each.
   */
  rideAlong(): void {
    if (this.timer === undefined) return;
    const waitMs = this.acksSent < EAGER_ACKS ? EAGER_ACK_PIGGYBACK_MS : ACK_PIGGYBACK_MS;
    if (this.policy.unackedBytes < ACK_PIGGYBACK_BYTES && this.clock.now() - this.armedAtMs < waitMs) return;
    this.sendNow();
  }

  /** The link ended: no timer stays behind. */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private sendNow(): void {
    this.stop();
    if (!this.policy.pending) return;
    this.acksSent++;
    this.send(this.policy.take(), this.policy.delayMs(this.clock.now()));
  }
}
