// A session that outlives its link. Whole messages are numbered per direction; what this side sent stays in
// a bounded retransmit log until the peer reports it delivered (DELIVERED frames). When the link dies the
// endpoint is paused and parked for a grace period; attach() hands it a stream on a new link to the same
// peer instance, and each side replays what the other has not delivered, exactly once and in order.
// Replayed messages go out as whole messages through the new link, so its own codec tables and payload
// plane encode them: nothing encoded for the dead link is ever decoded on the new one.
import { AccelError } from '../errors.js';
import { FrameType, encodeU32, type EndKindValue, type TraceContext } from './frame.js';
import type { LinkSession } from './link-session.js';
import type { SessionPort } from './session-port.js';
import type { Stream, StreamHandler } from './stream.js';
import { RetransmitLog, type LoggedMessage, type ResumeBudget } from './retransmit-log.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

const EMPTY = new Uint8Array(0);

export interface ResumableSessionOptions {
  sessionId: string;
  graceMs: number;
  maxBufferBytes: number;
  budget: ResumeBudget;
  clock?: Clock;
  /** The link died: find a link to the same peer instance and attach() (edge side; the gateway waits). */
  onDetached?(): void;
  /** The session is over (both endpoints closed, or it was aborted): forget it. */
  onEnded?(): void;
}

/** A DELIVERED frame goes out after this many messages or bytes (they bound the peer's log), or this long after
 * the first unreported one. The delay is long so that request/reply traffic on a slow link reports about once a
 * second, not once per message: each report is a frame on the link and a wake-up on both proxies. (5 s was tried
 * for issue 12 and broke the DRAIN handoff test, test/integration/gateway-drain.test.ts: not investigated.) */
const DELIVERED_EVERY_MESSAGES = 64;
const DELIVERED_EVERY_BYTES = 1024 * 1024;
export const DELIVERED_DELAY_MS = 1000;
/** A report that has waited this long goes out with the session's next message instead, in the same link
 * write (and compressed batch): alone it cost ~14 link bytes, alongside ~4 (bench S1 `slow`: 3-11 B per call). */
export const DELIVERED_RIDE_ALONG_MS = 750;

const NOOP_HANDLER: StreamHandler = { onMessage: (_d, _t, written) => written(), onRemoteClose: () => {}, onAbort: () => {}, onPause: () => {}, onResume: () => {} };

export class ResumableSession implements SessionPort {
  private stream: Stream | undefined;
  private link: LinkSession | undefined;
  private handler: StreamHandler | undefined;
  private readonly sent: RetransmitLog;
  private readonly clock: Clock;
  /** Whole messages handed to our endpoint (the peer replays from here). */
  deliveredCount = 0;
  private reportedCount = 0;
  /** Bytes of message number deliveredCount already handed on as fragments (cut-through). */
  private partialBytes = 0;
  private unreportedBytes = 0;
  /** Bytes of the next message received to drop: the part handed on before the link died. */
  private skipBytes = 0;
  private localClose: { code: number; reason: string; endKind: EndKindValue } | undefined;
  /** The logged message whose pieces are being sent (ingress cut-through), until its last piece. */
  private sendingPieces: LoggedMessage | undefined;
  remoteClosed = false;
  ended = false;
  private streamPaused = false;
  private endpointPaused = false;
  private graceTimer: TimerHandle | undefined;
  private reportTimer: TimerHandle | undefined;
  /** When the report timer was armed (the first unreported message). */
  private reportArmedAtMs = 0;

  constructor(stream: Stream, link: LinkSession, private readonly options: ResumableSessionOptions) {
    this.clock = options.clock ?? systemClock;
    this.sent = new RetransmitLog(options.maxBufferBytes, options.budget);
    this.stream = stream;
    this.link = link;
  }

  get sessionId(): string {
    return this.options.sessionId;
  }

  /** True while no link carries the session. */
  get detached(): boolean {
    return this.stream === undefined && !this.ended;
  }

  /** Unconfirmed messages and their bytes (metrics and tests). */
  get unconfirmed(): { messages: number; bytes: number } {
    return { messages: this.sent.length, bytes: this.sent.bytes };
  }

  // ---- SessionPort (the endpoint's side) ----

  /** Messages sent and delivered so far (replays not counted twice). */
  get messagesMoved(): number {
    return this.sent.nextSeq + this.deliveredCount;
  }

  bind(handler: StreamHandler): void {
    this.handler = handler;
    if (this.stream) this.bindStream(this.stream);
  }

  sendMessage(data: Uint8Array, isText: boolean, trace?: TraceContext): void {
    if (this.ended || this.localClose) return;
    if (!this.sent.push({ data, isText, trace })) {
      const error = new AccelError('HYPHA_ACCEL_ERR_RESUME_BUFFER_FULL', `session ${this.sessionId}: ${this.sent.bytes + data.length} unconfirmed bytes exceed the session or process bound`);
      if (this.stream && this.link) this.link.resetStream(this.stream, error); // the far endpoint closes too
      return this.end(error);
    }
    this.stream?.sendMessage(data, isText, trace);
    this.reportAlong();
  }

  /** Ingress cut-through while a link carries the session; the pieces are logged for replay as they go. */
  takesPieces(frameBytes: number, final: boolean): boolean {
    return !this.ended && !this.localClose && this.stream !== undefined && this.stream.takesPieces(frameBytes, final);
  }

  sendPiece(piece: Uint8Array, fin: boolean, trace?: TraceContext): void {
    if (this.ended || this.localClose) return;
    let message = this.sendingPieces;
    if (!message) {
      message = { data: EMPTY, isText: false, pieces: [], open: true, ...(trace ? { trace } : {}) };
      this.sent.push(message);
      this.sendingPieces = message;
    }
    if (!this.sent.grow(message, piece)) {
      const error = new AccelError('HYPHA_ACCEL_ERR_RESUME_BUFFER_FULL', `session ${this.sessionId}: ${this.sent.bytes + piece.length} unconfirmed bytes exceed the session or process bound`);
      if (this.stream && this.link) this.link.resetStream(this.stream, error);
      return this.end(error);
    }
    if (fin) {
      message.open = false;
      this.sendingPieces = undefined;
    }
    this.stream?.sendPiece(piece, fin, trace); // detached: logged only, replayed on attach
    if (fin) this.reportAlong();
  }

  close(code: number, reason: string, endKind: EndKindValue): void {
    if (this.ended || this.localClose) return;
    this.localClose = { code, reason, endKind };
    if (this.stream && this.link) this.link.closeStream(this.stream, code, reason, endKind);
    this.endIfDone();
  }

  // ---- moving between links ----

  /** True when a peer that was handed `peerDeliveredCount` messages can be served from the log. */
  canReplayFrom(peerDeliveredCount: number): boolean {
    return !this.ended && peerDeliveredCount >= this.sent.firstSeq && peerDeliveredCount <= this.sent.nextSeq;
  }

  /** Takes the session off a stream that may still look alive (a resume arrived on another link first). */
  takeOver(): void {
    if (this.stream) this.detach();
  }

  /**
   * Carries the session on `stream` from now on: drops what the peer reports delivered, replays the rest,
   * then the endpoint's close if it came meanwhile. False (nothing changed) when the count is impossible.
   */
  attach(stream: Stream, link: LinkSession, peerDeliveredCount: number): boolean {
    if (this.ended) return false;
    if (this.stream) this.detach();
    if (!this.sent.confirm(peerDeliveredCount)) return false;
    if (this.graceTimer !== undefined) this.clock.clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.stream = stream;
    this.link = link;
    this.streamPaused = false;
    this.skipBytes = this.partialBytes;
    this.reportedCount = this.deliveredCount; // the resume exchange told the peer
    if (this.handler) this.bindStream(stream);
    for (const message of this.sent.pending()) {
      if (!message.pieces) {
        stream.sendMessage(message.data, message.isText, message.trace);
        continue;
      }
      // A message sent piece by piece replays as pieces; if it is still open, its next pieces follow on this stream.
      const pieces = message.pieces;
      pieces.forEach((piece, i) => stream.sendPiece(piece, !message.open && i === pieces.length - 1, i === 0 ? message.trace : undefined));
    }
    if (this.localClose) link.closeStream(stream, this.localClose.code, this.localClose.reason, this.localClose.endKind);
    this.updatePause();
    return true;
  }

  /** Ends the session now, closing the endpoint with this error (resume refused, grace over). */
  abort(error: AccelError): void {
    if (this.stream && this.link) this.link.resetStream(this.stream, error);
    this.end(error);
  }

  private detach(): void {
    const stream = this.stream!;
    const link = this.link!;
    this.stream = undefined;
    this.link = undefined;
    stream.onDelivered = undefined;
    stream.bind(NOOP_HANDLER); // late frames of the old link go nowhere; the new link replays them
    if (!stream.localClosed || !stream.remoteClosed) link.resetStream(stream, new AccelError('HYPHA_ACCEL_ERR_LINK_LOST', 'session moved to another link'));
    if (this.reportTimer !== undefined) this.clock.clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    this.updatePause();
    this.graceTimer ??= this.clock.setTimeout(() => this.end(new AccelError('HYPHA_ACCEL_ERR_RESUME_EXPIRED', `session ${this.sessionId} not resumed within ${this.options.graceMs} ms`)), this.options.graceMs);
  }

  // ---- what the stream delivers ----

  private bindStream(stream: Stream): void {
    stream.onDelivered = (count) => {
      if (!this.sent.confirm(count)) this.abort(new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `session ${this.sessionId}: peer confirmed messages never sent`));
    };
    const isCurrent = () => this.stream === stream;
    stream.bind({
      onMessage: (data, isText, written, trace) => {
        if (!isCurrent()) return written();
        const endpoint = this.handler!;
        if (this.skipBytes > 0) {
          const rest = data.subarray(this.skipBytes);
          this.skipBytes = 0;
          this.delivered(data.length);
          return endpoint.onFragment!(rest, isText, true, written);
        }
        this.delivered(data.length);
        endpoint.onMessage(data, isText, written, trace);
      },
      onFragment: this.handler?.onFragment && ((data, isText, fin, written, trace, tail) => {
        if (!isCurrent()) return written();
        let piece = data;
        if (tail && this.skipBytes > 0) {
          piece = Buffer.concat([data, ...tail]); // a resumed stream's replay (rare): skipped bytes counted on one buffer
          tail = undefined;
        }
        if (this.skipBytes > 0) {
          const skipped = Math.min(this.skipBytes, piece.length);
          this.skipBytes -= skipped;
          piece = piece.subarray(skipped);
          if (piece.length === 0 && !fin) return written();
        }
        let pieceBytes = piece.length;
        if (tail) for (const part of tail) pieceBytes += part.length;
        if (fin) this.delivered(this.partialBytes + pieceBytes);
        else this.partialBytes += pieceBytes;
        this.handler!.onFragment!(piece, isText, fin, written, trace, tail);
      }),
      onRemoteClose: (code, reason, endKind) => {
        if (!isCurrent() || this.remoteClosed) return;
        this.remoteClosed = true;
        this.handler!.onRemoteClose(code, reason, endKind);
        this.endIfDone();
      },
      onAbort: (error) => {
        if (!isCurrent()) return;
        if (error.code === 'HYPHA_ACCEL_ERR_LINK_LOST' && this.options.graceMs > 0) {
          this.detach();
          this.options.onDetached?.();
          return;
        }
        this.end(error);
      },
      onPause: () => {
        if (!isCurrent()) return;
        this.streamPaused = true;
        this.updatePause();
      },
      onResume: () => {
        if (!isCurrent()) return;
        this.streamPaused = false;
        this.updatePause();
      },
    });
  }

  /** One whole message was handed to the endpoint: report it to the peer soon (bounds its log). */
  private delivered(messageBytes: number): void {
    this.deliveredCount++;
    this.partialBytes = 0;
    this.unreportedBytes += messageBytes;
    if (this.deliveredCount - this.reportedCount >= DELIVERED_EVERY_MESSAGES || this.unreportedBytes >= DELIVERED_EVERY_BYTES) this.reportDelivered();
    else if (this.reportTimer === undefined) {
      this.reportArmedAtMs = this.clock.now();
      this.reportTimer = this.clock.setTimeout(() => this.reportDelivered(), DELIVERED_DELAY_MS);
    }
  }

  /** A message just went out: a report that has waited long enough goes with it. */
  private reportAlong(): void {
    if (this.reportTimer !== undefined && this.clock.now() - this.reportArmedAtMs >= DELIVERED_RIDE_ALONG_MS) this.reportDelivered();
  }

  private reportDelivered(): void {
    if (this.reportTimer !== undefined) this.clock.clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    const stream = this.stream;
    if (!stream || stream.localClosed || this.reportedCount === this.deliveredCount) return;
    this.reportedCount = this.deliveredCount;
    this.unreportedBytes = 0;
    stream.sendControl(FrameType.DELIVERED, encodeU32(this.deliveredCount));
  }

  /** The endpoint reads while a stream carries the session and has credit. */
  private updatePause(): void {
    const pause = !this.ended && (this.stream === undefined || this.streamPaused);
    if (pause === this.endpointPaused || !this.handler) return;
    this.endpointPaused = pause;
    if (pause) this.handler.onPause();
    else this.handler.onResume();
  }

  private endIfDone(): void {
    if (this.localClose && this.remoteClosed) this.end(undefined);
  }

  private end(error: AccelError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    if (this.graceTimer !== undefined) this.clock.clearTimeout(this.graceTimer);
    if (this.reportTimer !== undefined) this.clock.clearTimeout(this.reportTimer);
    this.graceTimer = this.reportTimer = undefined;
    this.sent.release();
    if (error && !this.localClose) {
      if (this.handler) this.handler.onAbort(error);
    }
    this.options.onEnded?.();
  }
}

