// A manual Clock for tests: time only moves when `advance(ms)` is called, and due timers run then, in
// order of due time (ties in creation order). It records every delay asked of it, so a test can check
// what a component scheduled (e.g. reconnect backoff) without waiting for it.
import type { Clock, TimerHandle } from '../../src/link/clock.js';

interface FakeTimer {
  id: number;
  dueMs: number;
  fn: () => void;
  /** Set for intervals: the timer is rescheduled this many ms after it ran. */
  intervalMs: number | undefined;
}

export class FakeClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();
  /** Every `setTimeout` delay requested, in order. */
  readonly timeoutDelaysMs: number[] = [];

  constructor(startMs = 1000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.timeoutDelaysMs.push(ms);
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    if (!(ms > 0)) throw new RangeError(`FakeClock: interval must be > 0 ms, got ${ms}`);
    return this.add(fn, ms, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  clearInterval(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Timers (timeouts and intervals) still scheduled. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way, at its due time. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock: cannot advance by ${ms} ms`);
    const targetMs = this.nowMs + ms;
    for (;;) {
      const next = this.nextDue();
      if (!next || next.dueMs > targetMs) break;
      this.nowMs = next.dueMs;
      if (next.intervalMs === undefined) this.timers.delete(next.id);
      else next.dueMs += next.intervalMs;
      next.fn();
    }
    this.nowMs = targetMs;
  }

  private nextDue(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.timers.values()) if (!best || timer.dueMs < best.dueMs) best = timer;
    return best; // Map iteration is insertion order, so ties go to the timer created first
  }

  private add(fn: () => void, ms: number, intervalMs: number | undefined): number {
    const id = this.nextId++;
    this.timers.set(id, { id, dueMs: this.nowMs + Math.max(0, ms), fn, intervalMs });
    return id;
  }
}
