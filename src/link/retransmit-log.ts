// The messages one session sent and the peer has not yet confirmed delivered, numbered from 0 per direction,
// kept for replay after a link loss. Bounded per session and, through a shared ResumeBudget, per process.
// Small untraced messages are copied into one byte ring per log, their place kept in number arrays: no object
// of theirs outlives the turn they were sent in (issue 11: the log's per-message objects and the read buffers
// they viewed survived scavenges until confirmed). Large, traced and piece-by-piece messages are held as before.
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

/** Messages up to this size are copied into the ring (a copy of a small message costs less than keeping its objects). */
export const RING_MESSAGE_BYTES = 16 * 1024;
const FIRST_RING_BYTES = 4096;
/** A ring dropped when empty is remembered up to this size, so the next one starts as large as the last. */
const REMEMBERED_RING_BYTES = 1024 * 1024;
const FIRST_ENTRIES = 16;
/** Marks an entry held by reference (`held`), not in the ring. */
const HELD = -1;

function sizeOf(message: LoggedMessage): number {
  return message.data.length + (message.pieceBytes ?? 0);
}

export class RetransmitLog {
  /** Sequence number of the oldest message held (every earlier one was confirmed). */
  firstSeq = 0;
  bytes = 0;
  // Entries: a circular FIFO over parallel arrays (capacity a power of two), `head` its oldest slot.
  private head = 0;
  private count = 0;
  private offsets = new Int32Array(FIRST_ENTRIES);
  private lengths = new Int32Array(FIRST_ENTRIES); // HELD: the entry is in `held`
  private texts = new Uint8Array(FIRST_ENTRIES);
  private held: Array<LoggedMessage | undefined> = new Array<LoggedMessage | undefined>(FIRST_ENTRIES).fill(undefined);
  // Ring bytes: records in send order from ringStart (the oldest live byte) to ringEnd (the next write);
  // a record that does not fit before the end starts again at 0. Allocated at first use, dropped when empty.
  private ring: Uint8Array | undefined;
  private ringStart = 0;
  private ringEnd = 0;
  private ringEntries = 0;
  private nextRingBytes = FIRST_RING_BYTES;

  constructor(private readonly maxSessionBytes: number, private readonly budget: ResumeBudget) {}

  /** Sequence number the next message gets. */
  get nextSeq(): number {
    return this.firstSeq + this.count;
  }

  get length(): number {
    return this.count;
  }

  /** Keeps a message for replay; false (nothing kept) when it would exceed the session or process bound. */
  push(message: LoggedMessage): boolean {
    const bytes = message.data.length;
    if (!this.fits(bytes)) return false;
    if (message.trace === undefined && message.pieces === undefined && bytes <= RING_MESSAGE_BYTES) {
      this.pushCopy(message.data, message.isText);
    } else {
      this.pushEntry(0, HELD, message.isText, message);
    }
    this.account(bytes);
    return true;
  }

  /** push() of an untraced whole message without an object for it: its bytes are copied or held. */
  pushMessage(data: Uint8Array, isText: boolean): boolean {
    const bytes = data.length;
    if (!this.fits(bytes)) return false;
    if (bytes <= RING_MESSAGE_BYTES) this.pushCopy(data, isText);
    else this.pushEntry(0, HELD, isText, { data, isText });
    this.account(bytes);
    return true;
  }

  /** Adds a piece to a message logged with `pieces`; false (nothing kept) beyond the session or process bound. */
  grow(message: LoggedMessage, piece: Uint8Array): boolean {
    const bytes = piece.length;
    if (!this.fits(bytes)) return false;
    message.pieces!.push(piece);
    message.pieceBytes = (message.pieceBytes ?? 0) + bytes;
    this.account(bytes);
    return true;
  }

  /**
   * The peer's endpoint has been handed `deliveredCount` messages: drop them. The count may come as its low
   * 32 bits (a DELIVERED frame); it is widened against firstSeq. False when it names messages never sent.
   */
  confirm(deliveredCount: number): boolean {
    const full = this.firstSeq + ((deliveredCount - this.firstSeq) >>> 0);
    if (full > this.nextSeq) return false;
    const mask = this.offsets.length - 1;
    let freed = 0;
    while (this.firstSeq < full) {
      const slot = this.head;
      const length = this.lengths[slot]!;
      if (length === HELD) {
        freed += sizeOf(this.held[slot]!);
        this.held[slot] = undefined;
      } else {
        freed += length;
        this.ringStart = this.offsets[slot]! + length;
        this.ringEntries--;
      }
      this.head = (slot + 1) & mask;
      this.count--;
      this.firstSeq++;
    }
    this.bytes -= freed;
    this.budget.usedBytes -= freed;
    if (this.ringEntries === 0) this.dropRing();
    return true;
  }

  /** The messages still unconfirmed, oldest first (for replay; ring messages as copies of their bytes). */
  pending(): LoggedMessage[] {
    const out: LoggedMessage[] = [];
    const mask = this.offsets.length - 1;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & mask;
      const length = this.lengths[slot]!;
      if (length === HELD) out.push(this.held[slot]!);
      else out.push({ data: Buffer.from(this.ring!.subarray(this.offsets[slot]!, this.offsets[slot]! + length)), isText: this.texts[slot] === 1 });
    }
    return out;
  }

  /** Gives every byte back to the process budget (the session ended). */
  release(): void {
    this.budget.usedBytes -= this.bytes;
    this.bytes = 0;
    this.head = this.count = 0;
    this.held.fill(undefined);
    this.dropRing();
  }

  private fits(bytes: number): boolean {
    return this.bytes + bytes <= this.maxSessionBytes && this.budget.usedBytes + bytes <= this.budget.maxBytes;
  }

  private account(bytes: number): void {
    this.bytes += bytes;
    this.budget.usedBytes += bytes;
  }

  private pushCopy(data: Uint8Array, isText: boolean): void {
    const offset = this.place(data.length);
    this.ring!.set(data, offset);
    this.ringEnd = offset + data.length;
    this.ringEntries++;
    this.pushEntry(offset, data.length, isText, undefined);
  }

  /** Where a record of `bytes` goes: after the last one, else from 0 when that is free, else in a larger ring. */
  private place(bytes: number): number {
    const ring = this.ring;
    if (ring === undefined || this.ringEntries === 0) {
      if (ring === undefined || ring.length < bytes) this.ring = new Uint8Array(Math.max(this.nextRingBytes, bytes));
      this.ringStart = this.ringEnd = 0;
      return 0;
    }
    if (this.ringEnd >= this.ringStart) {
      if (this.ringEnd + bytes <= ring.length) return this.ringEnd;
      if (bytes < this.ringStart) return 0;
    } else if (this.ringEnd + bytes < this.ringStart) {
      return this.ringEnd;
    }
    return this.enlargeRing(bytes);
  }

  /** Copies the live records, in order, to the front of a ring with room for `bytes` more; returns where they go. */
  private enlargeRing(bytes: number): number {
    const old = this.ring!;
    let live = 0;
    const mask = this.offsets.length - 1;
    for (let i = 0; i < this.count; i++) {
      const length = this.lengths[(this.head + i) & mask]!;
      if (length !== HELD) live += length;
    }
    const ring = new Uint8Array(Math.max(old.length * 2, live + bytes));
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & mask;
      const length = this.lengths[slot]!;
      if (length === HELD) continue;
      ring.set(old.subarray(this.offsets[slot]!, this.offsets[slot]! + length), at);
      this.offsets[slot] = at;
      at += length;
    }
    this.ring = ring;
    this.ringStart = 0;
    this.ringEnd = at;
    return at;
  }

  private dropRing(): void {
    if (this.ring !== undefined) this.nextRingBytes = Math.max(FIRST_RING_BYTES, Math.min(this.ring.length, REMEMBERED_RING_BYTES));
    this.ring = undefined;
    this.ringStart = this.ringEnd = this.ringEntries = 0;
  }

  private pushEntry(offset: number, length: number, isText: boolean, held: LoggedMessage | undefined): void {
    if (this.count === this.offsets.length) this.enlargeEntries();
    const slot = (this.head + this.count) & (this.offsets.length - 1);
    this.offsets[slot] = offset;
    this.lengths[slot] = length;
    this.texts[slot] = isText ? 1 : 0;
    this.held[slot] = held;
    this.count++;
  }

  /** Doubles the entry arrays, the oldest entry moved to slot 0. */
  private enlargeEntries(): void {
    const capacity = this.offsets.length;
    const offsets = new Int32Array(capacity * 2);
    const lengths = new Int32Array(capacity * 2);
    const texts = new Uint8Array(capacity * 2);
    const held = new Array<LoggedMessage | undefined>(capacity * 2).fill(undefined);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & (capacity - 1);
      offsets[i] = this.offsets[slot]!;
      lengths[i] = this.lengths[slot]!;
      texts[i] = this.texts[slot]!;
      held[i] = this.held[slot];
    }
    this.offsets = offsets;
    this.lengths = lengths;
    this.texts = texts;
    this.held = held;
    this.head = 0;
  }
}
