// When the proxy's batched writes (link transport, endpoint writers) leave the process. Under load, not at
// the end of the event-loop turn that queued them but at the end of the first turn that queues nothing
// new: each extra turn polls the sockets without blocking (~2 µs of CPU on this VM), so input that arrived
// while the proxy was busy joins the same writes. Profiles of 64 small calls in flight: the write syscall
// was 30-47% of each proxy's busy time, and a faster proxy found fewer messages per wake-up (writes per
// message rose 0.32 -> 0.53). Sparse input (one write in the turn and in the round before it, as with
// sequential calls) is flushed at the end of its own turn, as before: always polling once more added
// ~0.3 ms to a sequential call's p50 over its 8 passes (docs/design.md, "When writes leave").
// No flush in mid-turn by count: on slow links a message waits ~0.02 ms for its round's end, and flushing
// every 8 writes changed neither calls/s nor p50 at 64-400 in flight (bench/results/2026-12-01T1920-lat21-notes.md).
// By size, yes: the byte-stream link writes a batch of 64 KiB at once (tcp-link-transport.ts, BATCH_FLUSH_BYTES).

/** Turns a flush may wait for more input before it runs anyway (bounds the delay under steady input). */
export const MAX_DEFERRED_TURNS = 4;

export class TurnFlusher {
  private readonly flushes: Array<() => void> = [];
  private scheduled = false;
  /** Writes queued in the current turn, in the current round (since the last flush), in the round before. */
  private queuedInTurn = 0;
  private queuedInRound = 0;
  private queuedInLastRound = 0;
  private turns = 0;
  private readonly check = () => this.onTurnEnd();

  constructor(private readonly defer: (callback: () => void) => void = setImmediate) {}

  /**
   * A writer queued a frame. `flush` (the writer's own) runs once when the round ends; pass it only when
   * the writer has no flush pending yet.
   */
  onQueued(flush?: () => void): void {
    this.queuedInTurn++;
    if (flush) this.flushes.push(flush);
    if (!this.scheduled) {
      this.scheduled = true;
      this.turns = 0;
      this.defer(this.check);
    }
  }

  private onTurnEnd(): void {
    const queued = this.queuedInTurn;
    this.queuedInTurn = 0;
    this.queuedInRound += queued;
    const busy = this.turns === 0 ? queued > 1 || this.queuedInLastRound > 1 : queued > 0;
    if (busy && ++this.turns <= MAX_DEFERRED_TURNS) {
      this.defer(this.check);
      return;
    }
    this.scheduled = false;
    this.queuedInLastRound = this.queuedInRound;
    this.queuedInRound = 0;
    // Every writer flushes even if one throws: a writer left out would keep its flush pending for ever.
    let failure: unknown;
    for (const flush of this.flushes.splice(0)) {
      try {
        flush();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}

/** The process's one flusher: every writer of the event loop flushes at the same turn. */
export const turnFlusher = new TurnFlusher();
