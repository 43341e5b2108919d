// Keeps a link's bytes in flight near what the path can carry, so the scheduler's priorities hold on the
// wire. Without it a link socket fills the kernel's send buffer (megabytes) and the bottleneck's queue
// with bulk data, and a small call queued after it waits behind all of it: head-of-line blocking below
// the multiplexer. The receiver acknowledges the bytes it took (ACK frames); the sender allows at most
// twice the estimated bandwidth-delay product unacknowledged, measured BBR-style: a windowed maximum of
// delivery-rate samples times a windowed minimum of round-trip samples, both taken from the ACKs. Each ACK
// says how long the receiver held it (as QUIC's ack_delay does), so lazy ACKs do not inflate the RTT.
import type { Clock } from './clock.js';
import { Deque } from './deque.js';

export interface PacerOptions {
  clock: Clock;
  /** Never allow fewer bytes in flight than this (covers start-up and fast local links). */
  minWindowBytes?: number;
  /** Multiplier on the estimated bandwidth-delay product (2 lets the rate estimate grow each round). */
  gain?: number;
  /** How long a maximum delivery-rate sample stays valid. */
  filterWindowMs?: number;
  /**
   * How long a minimum round-trip sample stays valid (10 s, as BBR's min_rtt filter): small traffic is
   * acknowledged lazily, a sample every ~2 s, and one delayed by a busy event loop must not replace a
   * good minimum after 2 s (loopback then looked slower than the 800 Mbit/s the payload plane bypasses at).
   */
  minRttWindowMs?: number;
}

interface SentMark {
  /** Cumulative sent bytes once this frame was handed to the transport. */
  endOffset: number;
  sentAtMs: number;
  /** Cumulative acknowledged bytes, and when that count was reached, at the time this frame was sent. */
  deliveredAtSend: number;
  deliveredTimeAtSend: number;
}

export const DEFAULT_MIN_WINDOW_BYTES = 512 * 1024;
/** How long the smallest round trip stays valid for the fast-link decisions (SendPacer.pathRttMs). */
export const PATH_RTT_WINDOW_MS = 5 * 60_000;

export class SendPacer {
  private sent = 0;
  private acked = 0;
  private ackedAtMs: number;
  private readonly marks = new Deque<SentMark>();
  private maxRate = 0; // bytes per ms
  private maxRateAtMs = -Infinity;
  private minRttMs_ = Infinity;
  private minRttAtMs = -Infinity;
  private pathRttMs_ = Infinity;
  private pathRttAtMs = -Infinity;
  private readonly minWindow: number;
  private readonly gain: number;
  private readonly filterWindowMs: number;
  private readonly minRttWindowMs: number;

  constructor(private readonly options: PacerOptions) {
    this.minWindow = options.minWindowBytes ?? DEFAULT_MIN_WINDOW_BYTES;
    this.gain = options.gain ?? 2;
    this.filterWindowMs = options.filterWindowMs ?? 2000;
    this.minRttWindowMs = options.minRttWindowMs ?? 10_000;
    this.ackedAtMs = options.clock.now();
  }

  /** The smallest recent round trip, without the receiver's ACK delay; undefined before the first ACK. */
  get minRttMs(): number | undefined {
    return Number.isFinite(this.minRttMs_) ? this.minRttMs_ : undefined;
  }

  /**
   * The smallest round trip of the last PATH_RTT_WINDOW_MS (5 min), for deciding whether the link is fast
   * (payload plane, codec, link compression step aside), not for pacing. The 10 s minimum gives way to
   * whatever sample comes next once it expires, and the first samples of a transfer after a quiet spell
   * carry the transfer's own queue: on a busy 2-core host a loopback link then read as ~10 ms, slower than
   * the thresholds, and a first array went through the payload plane (S8) while small frames were deflated
   * (pako in the edge's profile during S3 T2's first transfers). No sample is ever below the path's
   * round trip, so a long window only errs when the path itself gets longer, for at most 5 minutes.
   */
  get pathRttMs(): number | undefined {
    return Number.isFinite(this.pathRttMs_) ? this.pathRttMs_ : undefined;
  }

  private sampleRtt(rttMs: number, now: number): void {
    if (rttMs <= this.minRttMs_ || now - this.minRttAtMs > this.minRttWindowMs) {
      this.minRttMs_ = rttMs;
      this.minRttAtMs = now;
    }
    if (rttMs <= this.pathRttMs_ || now - this.pathRttAtMs > PATH_RTT_WINDOW_MS) {
      this.pathRttMs_ = rttMs;
      this.pathRttAtMs = now;
    }
  }

  get inFlightBytes(): number {
    return this.sent - this.acked;
  }

  /** The current allowance of unacknowledged bytes. */
  get windowBytes(): number {
    if (!(this.maxRate > 0) || !Number.isFinite(this.minRttMs_)) return this.minWindow;
    return Math.max(this.minWindow, Math.ceil(this.gain * this.maxRate * this.minRttMs_));
  }

  /** True while another frame may go out. */
  open(): boolean {
    return this.inFlightBytes < this.windowBytes;
  }

  /**
   * A round trip measured by other means (a PING answered at once): it lowers the minimum as an ACK sample
   * would. Early ACK samples are taken while both processes are cold and busy; without this, one of them
   * stayed the minimum for minRttWindowMs however quick the link was when idle, and the stages that step
   * aside on fast links could take a loopback link for a slow one (seen once in S8: a first 16 MiB array
   * went through the payload plane).
   */
  onRttSample(rttMs: number): void {
    this.sampleRtt(rttMs, this.options.clock.now());
  }

  onSent(bytes: number): void {
    this.sent += bytes;
    this.marks.push({ endOffset: this.sent, sentAtMs: this.options.clock.now(), deliveredAtSend: this.acked, deliveredTimeAtSend: this.ackedAtMs });
  }

  /**
   * The peer reports the cumulative bytes it has received, and how long it held the ACK after the last of
   * them arrived; stale or impossible counts are ignored.
   */
  onAck(cumulativeBytes: number, ackDelayMs = 0): void {
    if (cumulativeBytes <= this.acked) return;
    const now = this.options.clock.now();
    this.acked = Math.min(cumulativeBytes, this.sent);
    this.ackedAtMs = now;
    let newest: SentMark | undefined;
    for (let mark = this.marks.peek(); mark && mark.endOffset <= this.acked; mark = this.marks.peek()) newest = this.marks.shift();
    if (!newest) return;
    this.sampleRtt(Math.max(0, now - newest.sentAtMs - ackDelayMs), now);
    const interval = now - newest.deliveredTimeAtSend;
    if (interval > 0) {
      const rate = (this.acked - newest.deliveredAtSend) / interval;
      if (rate >= this.maxRate || now - this.maxRateAtMs > this.filterWindowMs) {
        this.maxRate = rate;
        this.maxRateAtMs = now;
      }
    }
  }
}

/** Receiver side: counts bytes taken and says when to acknowledge them. */
export class AckPolicy {
  private received = 0;
  private lastAcked = 0;
  private lastReceivedAtMs = 0;

  /**
   * @param everyBytes acknowledge at once when this many bytes are unacknowledged; smaller amounts wait for a
   * timer or ride along. 128 KiB: every second 64 KiB bulk frame, a quarter of the 512 KiB minimum window.
   * At 32 KiB each bulk frame drew an ACK: as many ACK frames as DATA frames to encode, schedule, decode
   * and count at both ends (S3 T2: 31 ACKs per MB, now 16).
   */
  constructor(readonly everyBytes = 128 * 1024) {}

  /** Counts a received frame; true when an ACK should go out now. */
  onReceived(bytes: number, nowMs = 0): boolean {
    this.received += bytes;
    this.lastReceivedAtMs = nowMs;
    return this.received - this.lastAcked >= this.everyBytes;
  }

  get pending(): boolean {
    return this.received > this.lastAcked;
  }

  /** Bytes received and not yet acknowledged. */
  get unackedBytes(): number {
    return this.received - this.lastAcked;
  }

  /** The cumulative count to send, marking it acknowledged. */
  take(): number {
    this.lastAcked = this.received;
    return this.received;
  }

  /** How long an ACK sent now has waited since the last counted frame arrived (its ack delay). */
  delayMs(nowMs: number): number {
    return Math.max(0, nowMs - this.lastReceivedAtMs);
  }
}
