// The messages one session sent and the peer has not yet confirmed delivered, numbered from 0 per direction,
// kept for replay after a link loss. Bounded per session and, through a shared ResumeBudget, per process.
import { Deque } from './deque.js';
import type { TraceContext } from './frame.js';

/** Bytes held for replay by every session of a process (one instance per role). */
export class ResumeBudget {
  usedBytes = 0;
  constructor(readonly maxBytes: number) {}
}

export interface LoggedMessage {
  data: Uint8Array;
  isText: boolean;
  trace?: TraceContext;
  /** A binary message sent piece by piece (ingress cut-through): its pieces so far; `data` is then empty. */
  pieces?: Uint8Array[];
  pieceBytes?: number;
  /** Pieces may still follow (the message's last piece has not been sent). */
  open?: boolean;
}

function sizeOf(message: LoggedMessage): number {
  return message.data.length + (message.pieceBytes ?? 0);
}

export class RetransmitLog {
  private readonly entries = new Deque<LoggedMessage>();
  /** Sequence number of the oldest message held (every earlier one was confirmed). */
  firstSeq = 0;
  bytes = 0;

  constructor(private readonly maxSessionBytes: number, private readonly budget: ResumeBudget) {}

  /** Sequence number the next message gets. */
  get nextSeq(): number {
    return this.firstSeq + this.entries.length;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Keeps a message for replay; false (nothing kept) when it would exceed the session or process bound. */
  push(message: LoggedMessage): boolean {
    const bytes = message.data.length;
    if (this.bytes + bytes > this.maxSessionBytes || this.budget.usedBytes + bytes > this.budget.maxBytes) return false;
    this.entries.push(message);
    this.bytes += bytes;
    this.budget.usedBytes += bytes;
    return true;
  }

  /** Adds a piece to a message logged with `pieces`; false (nothing kept) beyond the session or process bound. */
  grow(message: LoggedMessage, piece: Uint8Array): boolean {
    const bytes = piece.length;
    if (this.bytes + bytes > this.maxSessionBytes || this.budget.usedBytes + bytes > this.budget.maxBytes) return false;
    message.pieces!.push(piece);
    message.pieceBytes = (message.pieceBytes ?? 0) + bytes;
    this.bytes += bytes;
    this.budget.usedBytes += bytes;
    return true;
  }

  /**
   * The peer's endpoint has been handed `deliveredCount` messages: drop them. The count may come as its low
   * 32 bits (a DELIVERED frame); it is widened against firstSeq. False when it names messages never sent.
   */
  confirm(deliveredCount: number): boolean {
    const full = this.firstSeq + ((deliveredCount - this.firstSeq) >>> 0);
    if (full > this.nextSeq) return false;
    while (this.firstSeq < full) {
      const entry = this.entries.shift()!;
      this.bytes -= sizeOf(entry);
      this.budget.usedBytes -= sizeOf(entry);
      this.firstSeq++;
    }
    return true;
  }

  /** The messages still unconfirmed, oldest first (for replay). */
  pending(): LoggedMessage[] {
    return this.entries.toArray();
  }

  /** Gives every byte back to the process budget (the session ended). */
  release(): void {
    this.budget.usedBytes -= this.bytes;
    this.bytes = 0;
    this.entries.clear();
  }
}
