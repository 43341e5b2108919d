// One direction of an emulated link: a shared serialisation clock (bandwidth), a queue discipline
// (fifo = one deep queue, fq = per-flow queues served round-robin) and a delay line applied after
// serialisation. Flows are opaque to it: it only counts their bytes and hands pieces back in order.

import type { LinkShape } from './profiles.js';
import { Deque } from '../../src/link/deque.js';

/** Marks the end of a flow's byte stream; it travels through the queues like data, taking no time. */
export const END_OF_STREAM: unique symbol = Symbol('end-of-stream');
export type Piece = Buffer | typeof END_OF_STREAM;

export interface BottleneckFlow {
  /** Bytes of this flow waiting in the queue (maintained by the bottleneck). */
  queuedBytes: number;
  /** Called with pieces whose delay has elapsed, in order. */
  deliver(pieces: Piece[]): void;
  /** Called after the flow's or the shared queue's occupancy dropped (the flow may resume reading). */
  onQueueDrained(): void;
}

export interface BottleneckOptions extends LinkShape {
  now: () => number;
  /** Largest piece served at once; small pieces keep fq fair and small packets' wait short. */
  quantumBytes?: number;
  /** A delayed piece is delivered if due within this tolerance (timers have 1 ms resolution). */
  earlyToleranceMs?: number;
}

export interface BottleneckStats {
  bytesIn: number;
  bytesOut: number;
  queuedBytes: number;
  maxQueuedBytes: number;
}

interface Queued {
  flow: BottleneckFlow;
  piece: Piece;
}

interface Delayed extends Queued {
  dueMs: number;
}

const DEFAULT_QUANTUM_BYTES = 4096;

function pieceBytes(piece: Piece): number {
  return piece === END_OF_STREAM ? 0 : piece.length;
}

export class Bottleneck {
  private readonly opts: Required<BottleneckOptions>;
  /** fifo: every piece in arrival order. */
  private readonly fifo = new Deque<Queued>();
  /** fq: one queue per flow, and the round-robin ring of flows with data. */
  private readonly perFlow = new Map<BottleneckFlow, Deque<Piece>>();
  private readonly ring = new Deque<BottleneckFlow>();
  private readonly delayLine = new Deque<Delayed>();
  private queuedBytes = 0;
  private queuedItems = 0;
  private linkFreeAtMs = 0;
  private pumpTimer: NodeJS.Timeout | undefined;
  private deliverTimer: NodeJS.Timeout | undefined;
  private frozenUntilMs = 0;
  /** Running estimate of how late delivery timers fire, used to aim them earlier. */
  private timerLatenessMs = 0;
  private readonly counters = { bytesIn: 0, bytesOut: 0, maxQueuedBytes: 0 };
  private readonly waiting = new Set<BottleneckFlow>();

  constructor(options: BottleneckOptions) {
    this.opts = { quantumBytes: DEFAULT_QUANTUM_BYTES, earlyToleranceMs: 0.5, ...options };
  }

  get shape(): LinkShape {
    return this.opts;
  }

  /** Bytes queued that count against `flow`'s bound: the shared queue (fifo) or its own (fq). */
  occupancyFor(flow: BottleneckFlow): number {
    return this.opts.discipline === 'fifo' ? this.queuedBytes : flow.queuedBytes;
  }

  isOverBound(flow: BottleneckFlow): boolean {
    return this.occupancyFor(flow) > this.opts.queueBytes;
  }

  enqueue(flow: BottleneckFlow, piece: Piece): void {
    const bytes = pieceBytes(piece);
    this.counters.bytesIn += bytes;
    if (this.opts.bandwidthBitsPerSec <= 0) {
      this.toDelayLine(flow, piece, this.opts.now());
      return;
    }
    const now = this.opts.now();
    if (this.queuedItems === 0) this.linkFreeAtMs = Math.max(this.linkFreeAtMs, now);
    if (this.opts.discipline === 'fifo') {
      this.fifo.push({ flow, piece });
    } else {
      let queue = this.perFlow.get(flow);
      if (!queue) {
        queue = new Deque<Piece>();
        this.perFlow.set(flow, queue);
      }
      if (queue.length === 0) this.ring.push(flow);
      queue.push(piece);
    }
    this.queuedItems += 1;
    this.queuedBytes += bytes;
    flow.queuedBytes += bytes;
    this.counters.maxQueuedBytes = Math.max(this.counters.maxQueuedBytes, this.queuedBytes);
    this.pump();
  }

  /** Drops everything queued or in flight for a flow (its connection died). */
  removeFlow(flow: BottleneckFlow): void {
    const dropBytes = flow.queuedBytes;
    if (this.opts.discipline === 'fifo') {
      let items = 0;
      this.fifo.removeWhere((item) => {
        if (item.flow !== flow) return false;
        items += 1;
        return true;
      });
      this.queuedItems -= items;
    } else {
      const queue = this.perFlow.get(flow);
      if (queue) {
        this.queuedItems -= queue.length;
        this.perFlow.delete(flow);
        this.ring.removeWhere((f) => f === flow);
      }
    }
    this.queuedBytes -= dropBytes;
    flow.queuedBytes = 0;
    this.delayLine.removeWhere((item) => item.flow === flow);
    this.waiting.delete(flow);
  }

  /** Holds every byte (queue and delay line) until `untilMs`: a link outage that TCP rides out. */
  freezeUntil(untilMs: number): void {
    this.frozenUntilMs = Math.max(this.frozenUntilMs, untilMs);
    this.schedulePump(untilMs - this.opts.now());
    this.scheduleDeliver(untilMs - this.opts.now());
  }

  stats(): BottleneckStats {
    return { ...this.counters, queuedBytes: this.queuedBytes };
  }

  close(): void {
    clearTimeout(this.pumpTimer);
    clearTimeout(this.deliverTimer);
  }

  private popPiece(): Queued | undefined {
    const quantum = this.opts.quantumBytes;
    if (this.opts.discipline === 'fifo') {
      const head = this.fifo.peek();
      if (!head) return undefined;
      if (head.piece !== END_OF_STREAM && head.piece.length > quantum) {
        this.fifo.replaceHead({ flow: head.flow, piece: head.piece.subarray(quantum) });
        return { flow: head.flow, piece: head.piece.subarray(0, quantum) };
      }
      this.fifo.shift();
      this.queuedItems -= 1;
      return head;
    }
    const flow = this.ring.shift();
    if (!flow) return undefined;
    const queue = this.perFlow.get(flow);
    const piece = queue?.peek();
    if (!queue || piece === undefined) return this.popPiece();
    let served: Piece;
    if (piece !== END_OF_STREAM && piece.length > quantum) {
      queue.replaceHead(piece.subarray(quantum));
      served = piece.subarray(0, quantum);
    } else {
      queue.shift();
      this.queuedItems -= 1;
      served = piece;
    }
    if (queue.length > 0) this.ring.push(flow);
    else this.perFlow.delete(flow);
    return { flow, piece: served };
  }

  private pump(): void {
    const now = this.opts.now();
    if (now < this.frozenUntilMs) {
      this.schedulePump(this.frozenUntilMs - now);
      return;
    }
    const drained = new Set<BottleneckFlow>();
    while (this.queuedItems > 0 && this.linkFreeAtMs <= now) {
      const item = this.popPiece();
      if (!item) break;
      const bytes = pieceBytes(item.piece);
      this.linkFreeAtMs += (bytes * 8000) / this.opts.bandwidthBitsPerSec;
      this.queuedBytes -= bytes;
      item.flow.queuedBytes -= bytes;
      drained.add(item.flow);
      this.toDelayLine(item.flow, item.piece, this.linkFreeAtMs);
    }
    if (this.queuedItems > 0) this.schedulePump(this.linkFreeAtMs - now);
    this.notifyWaiting(drained);
  }

  /** A flow paused its source because it was over its bound; it is told when it is back under. */
  markWaiting(flow: BottleneckFlow): void {
    this.waiting.add(flow);
  }

  private notifyWaiting(drained: Set<BottleneckFlow>): void {
    if (this.waiting.size === 0) return;
    const ready: BottleneckFlow[] = [];
    for (const flow of this.waiting) {
      if (this.opts.discipline === 'fq' && !drained.has(flow)) continue;
      if (!this.isOverBound(flow)) ready.push(flow);
    }
    for (const flow of ready) {
      this.waiting.delete(flow);
      flow.onQueueDrained();
    }
  }

  private toDelayLine(flow: BottleneckFlow, piece: Piece, departedMs: number): void {
    const dueMs = departedMs + this.opts.oneWayDelayMs;
    const now = this.opts.now();
    if (this.delayLine.length === 0 && dueMs <= now + this.opts.earlyToleranceMs && now >= this.frozenUntilMs) {
      this.counters.bytesOut += pieceBytes(piece);
      flow.deliver([piece]);
      return;
    }
    this.delayLine.push({ flow, piece, dueMs });
    if (this.delayLine.length === 1) this.scheduleDeliver(dueMs - now);
  }

  private deliverDue(): void {
    this.deliverTimer = undefined;
    const now = this.opts.now();
    if (now < this.frozenUntilMs) {
      this.scheduleDeliver(this.frozenUntilMs - now);
      return;
    }
    const batches = new Map<BottleneckFlow, Piece[]>();
    for (;;) {
      const head = this.delayLine.peek();
      if (!head || head.dueMs > now + this.opts.earlyToleranceMs) break;
      this.delayLine.shift();
      this.counters.bytesOut += pieceBytes(head.piece);
      const batch = batches.get(head.flow);
      if (batch) batch.push(head.piece);
      else batches.set(head.flow, [head.piece]);
    }
    for (const [flow, pieces] of batches) flow.deliver(pieces);
    const next = this.delayLine.peek();
    if (next) this.scheduleDeliver(next.dueMs - now);
  }

  private schedulePump(inMs: number): void {
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pump();
    }, Math.max(1, Math.floor(inMs)));
    this.pumpTimer.unref();
  }

  private scheduleDeliver(inMs: number): void {
    if (this.deliverTimer) return;
    // Timers fire late (1 ms resolution plus wake-up); aim early by the lateness seen so far, and
    // the tolerance absorbs the rest, so the mean added delay stays on the setting.
    const targetMs = this.opts.now() + inMs;
    const waitMs = Math.max(1, Math.round(inMs - this.timerLatenessMs));
    this.deliverTimer = setTimeout(() => {
      const latenessMs = this.opts.now() - targetMs;
      this.timerLatenessMs = Math.min(3, Math.max(0, this.timerLatenessMs * 0.9 + latenessMs * 0.1));
      this.deliverDue();
    }, waitMs);
    this.deliverTimer.unref();
  }
}
