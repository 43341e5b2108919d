// One session carried over a link: its outgoing frame FIFO with per-direction sequence numbers, its send
// credit (pausing the source when exhausted), and reassembly of incoming fragments into whole messages.
// It never touches sockets; the role (edge/gateway) binds it to a WebSocket through StreamHandler.
import { AccelError } from '../errors.js';
import { Deque } from './deque.js';
import type { BlobOutcome } from '../events.js';
import { DataFlag, FrameClass, FrameType, decodeU32, encodeU32, type EndKindValue, type FrameClassValue, type FrameTypeValue, type TraceContext } from './frame.js';

const EMPTY = new Uint8Array(0);

/** The same bytes as a Buffer (received frames usually are one already: no new view then). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export interface StreamHandler {
  /**
   * A whole message arrived. Call `written` once it has left this process (credit returns to the peer).
   * `trace`: the W3C trace context its first frame carried, if any.
   */
  onMessage(data: Buffer, isText: boolean, written: () => void, trace?: TraceContext): void;
  /**
   * Optional cut-through: one piece of a message that arrived in several frames, handed on as it arrives
   * (`fin` on the last); the endpoint sends it as a WebSocket fragment. Without it messages are reassembled.
   * `trace` comes with the first piece, as onMessage's. `tail`: more bytes of the same piece, after `data`
   * (a link frame the transport received in parts, not joined); an implementation must send them too.
   */
  onFragment?(data: Buffer, isText: boolean, fin: boolean, written: () => void, trace?: TraceContext, tail?: Buffer[]): void;
  /** The peer endpoint closed (code 1005 = no code, 1006 = abnormal), and how its connection ended. */
  onRemoteClose(code: number, reason: string, endKind: EndKindValue): void;
  /** The link died or the stream was reset; close the endpoint with this error. */
  onAbort(error: AccelError): void;
  /** Send credit ran out: stop reading the source socket. */
  onPause(): void;
  /** Credit is back: resume reading. */
  onResume(): void;
}

export interface PendingFrame {
  type: FrameTypeValue;
  flags: number;
  frameClass: FrameClassValue;
  payload: Uint8Array;
  /** A whole message in one frame: the link may transcode it at send time. */
  wholeMessage: boolean;
  /** False while a blob reference waits for the payload plane to assign its id. */
  ready?: boolean;
  /** Trace context carried in this frame's header (the first frame of a traced message). */
  trace?: TraceContext;
  /** A traced blob reference: the plane's outcome for its blob, filled in before the frame is ready. */
  blob?: BlobOutcome;
}

/** The payload plane as a stream sees it: large binary messages travel as blobs, referenced by id. */
export interface StreamBlobs {
  /** Binary messages of minBytes..maxBytes go through the plane. */
  minBytes: number;
  maxBytes: number;
  /** False while the plane would cost more than it saves (a fast link without shared memory). */
  wanted(): boolean;
  /** `outcome` (a traced message only) is filled in by the time the id resolves. */
  send(bytes: Uint8Array, outcome?: BlobOutcome): Promise<number>;
  take(blobId: number): Promise<Uint8Array>;
}

/** What a stream needs from the link that carries it. */
export interface StreamHost {
  /** Hands a frame to the link scheduler. */
  enqueue(stream: Stream, frame: PendingFrame): void;
  /** Returns credit to the peer. */
  grant(stream: Stream, bytes: number): void;
  /** A frame that was not ready (a blob reference) now is. */
  wake(stream: Stream): void;
  /** Ends this stream on both sides with an error (the link stays). */
  reset(stream: Stream, error: AccelError): void;
  blobs?: StreamBlobs;
}

interface InboxItem {
  message: Buffer | undefined; // undefined while a blob is being reassembled
  isText: boolean;
  trace: TraceContext | undefined;
}

export interface StreamLimits {
  maxFragmentBytes: number;
  maxMessageBytes: number;
  peerWindowBytes: number;
  localWindowBytes: number;
}

export class Stream {
  readonly out = new Deque<PendingFrame>();
  nextSendSeq = 0;
  nextRecvSeq = 0;
  localClosed = false;
  /** Out of the scheduler's queues because its next frame (a blob reference) is not ready. */
  stalled = false;
  remoteClosed = false;
  private sendCreditBytes: number;
  private paused = false;
  private ungrantedBytes = 0;
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  /** The message being received is passed on fragment by fragment (cut-through), not reassembled. */
  private cutThrough = false;
  private fragmentTrace: TraceContext | undefined;
  private handler: StreamHandler | undefined;
  private readonly inbox = new Deque<InboxItem>();
  /** A CLOSE that arrived while a blob was still being reassembled: delivered after the messages before it. */
  private closeAfterInbox: (() => void) | undefined;
  private early: Array<(h: StreamHandler) => void> = [];
  /** Told of an abort that happens before an endpoint is bound (e.g. the link dies while opening). */
  onAbortUnbound: ((error: AccelError) => void) | undefined;
  /** Told of the peer's DELIVERED count (low 32 bits of the whole messages its endpoint was handed). */
  onDelivered: ((deliveredCount: number) => void) | undefined;

  constructor(
    readonly id: number,
    private readonly limits: StreamLimits,
    private readonly host: StreamHost,
  ) {
    this.sendCreditBytes = limits.peerWindowBytes;
  }

  /** Binds the endpoint; events that arrived before are replayed in order. */
  bind(handler: StreamHandler): void {
    this.handler = handler;
    const early = this.early;
    this.early = [];
    for (const replay of early) replay(handler);
    if (this.paused) handler.onPause();
  }

  private deliver(event: (h: StreamHandler) => void): void {
    if (this.handler) event(this.handler);
    else this.early.push(event);
  }

  // ---- sending ----

  sendControl(type: FrameTypeValue, payload: Uint8Array, flags = 0): void {
    this.host.enqueue(this, { type, flags, frameClass: FrameClass.CONTROL, payload, wholeMessage: false });
  }

  /** `trace`: W3C trace context for the header of the message's first frame (tracing only). */
  sendMessage(data: Uint8Array, isText: boolean, trace?: TraceContext): void {
    if (this.localClosed) return;
    const textFlag = isText ? DataFlag.TEXT : 0;
    const max = this.limits.maxFragmentBytes;
    const blobs = this.host.blobs;
    if (data.length <= max) {
      const frameClass = isText ? FrameClass.CONTROL : FrameClass.RPC;
      this.host.enqueue(this, { type: FrameType.DATA, flags: textFlag | DataFlag.FIN, frameClass, payload: data, wholeMessage: true, trace });
    } else if (blobs && !isText && data.length >= blobs.minBytes && data.length <= blobs.maxBytes && blobs.wanted()) {
      this.sendBlob(blobs, data, trace);
    } else {
      for (let offset = 0; offset < data.length; offset += max) {
        const end = Math.min(offset + max, data.length);
        const fin = end === data.length ? DataFlag.FIN : 0;
        this.host.enqueue(this, { type: FrameType.DATA, flags: textFlag | fin, frameClass: FrameClass.BULK, payload: data.subarray(offset, end), wholeMessage: false, trace: offset === 0 ? trace : undefined });
      }
    }
    this.sendCreditBytes -= data.length;
    if (this.sendCreditBytes <= 0 && !this.paused) {
      this.paused = true;
      this.handler?.onPause();
    }
  }

  /**
   * Ingress cut-through: should a binary message whose first WebSocket frame has `frameBytes` (`final`:
   * the whole message) be sent piece by piece as it arrives? Yes when it needs several link frames and
   * the payload plane would not take it whole.
   */
  takesPieces(frameBytes: number, final: boolean): boolean {
    if (this.localClosed || frameBytes <= this.limits.maxFragmentBytes) return false;
    const blobs = this.host.blobs;
    if (!blobs || !blobs.wanted()) return true;
    return final && (frameBytes < blobs.minBytes || frameBytes > blobs.maxBytes);
  }

  /**
   * The next bytes of a binary message sent piece by piece (`fin` on the last); the receiver passes them on
   * as continuation frames. `piece` must stay unchanged until sent (the read buffer it views is not reused).
   * `trace`: with the message's first piece only, as sendMessage's.
   */
  sendPiece(piece: Uint8Array, fin: boolean, trace?: TraceContext): void {
    if (this.localClosed) return;
    const max = this.limits.maxFragmentBytes;
    let offset = 0;
    do {
      const end = Math.min(offset + max, piece.length);
      const flags = end === piece.length && fin ? DataFlag.FIN : 0;
      this.host.enqueue(this, { type: FrameType.DATA, flags, frameClass: FrameClass.BULK, payload: piece.subarray(offset, end), wholeMessage: false, trace: offset === 0 ? trace : undefined });
      offset = end;
    } while (offset < piece.length);
    this.sendCreditBytes -= piece.length;
    if (this.sendCreditBytes <= 0 && !this.paused) {
      this.paused = true;
      this.handler?.onPause();
    }
  }

  /** Queues a blob reference in message order; it becomes sendable once the plane has emitted the blob. */
  private sendBlob(blobs: StreamBlobs, data: Uint8Array, trace: TraceContext | undefined): void {
    const reference: PendingFrame = { type: FrameType.DATA, flags: DataFlag.FIN | DataFlag.BLOB, frameClass: FrameClass.RPC, payload: EMPTY, wholeMessage: false, ready: false, trace };
    // Only a traced message asks the plane for its outcome: an untraced one pays nothing for it.
    if (trace) reference.blob = { rawBytes: 0, dedupedBytes: 0, wireBytes: 0, shm: false };
    this.host.enqueue(this, reference);
    blobs.send(data, reference.blob).then(
      (blobId) => {
        reference.payload = encodeU32(blobId);
        reference.ready = true;
        this.host.wake(this);
      },
      (error: Error) => this.host.reset(this, new AccelError('HYPHA_ACCEL_ERR_PAYLOAD', `blob of ${data.length} bytes could not be sent: ${error.message}`, { cause: error })),
    );
  }

  handleWindow(bytes: number): void {
    this.sendCreditBytes += bytes;
    if (this.paused && this.sendCreditBytes > 0) {
      this.paused = false;
      this.handler?.onResume();
    }
  }

  // ---- receiving ----

  /** A DATA frame's payload, already decoded back to original bytes; `tail`: the rest of it, in parts (not joined). */
  handleData(payload: Uint8Array, flags: number, trace?: TraceContext, tail?: Uint8Array[]): void {
    const fin = (flags & DataFlag.FIN) !== 0;
    const isText = (flags & DataFlag.TEXT) !== 0;
    if (flags & DataFlag.BLOB) return this.receiveBlob(decodeU32(tail ? Buffer.concat([payload, ...tail]) : payload), flags, trace);
    if (this.fragmentBytes === 0) this.fragmentTrace = trace;
    this.fragmentBytes += payload.length;
    if (tail) for (const part of tail) this.fragmentBytes += part.length;
    if (this.fragmentBytes > this.limits.maxMessageBytes) {
      throw new AccelError('HYPHA_ACCEL_ERR_MESSAGE_TOO_LARGE', `message on stream ${this.id} exceeds ${this.limits.maxMessageBytes} bytes`);
    }
    // The first fragment of a message decides: cut-through when the endpoint takes fragments and nothing
    // waits ahead of it (a blob being reassembled keeps later messages in order behind it).
    if (!fin && this.fragments.length === 0 && !this.cutThrough && this.handler?.onFragment && this.inbox.length === 0) this.cutThrough = true;
    if (this.cutThrough) {
      const firstPieceTrace = this.fragmentTrace; // set only by the message's first frame
      this.fragmentTrace = undefined;
      if (fin) {
        this.cutThrough = false;
        this.fragmentBytes = 0;
      }
      return this.deliverFragment(asBuffer(payload), isText, fin, firstPieceTrace, tail?.map(asBuffer));
    }
    if (!fin) {
      this.fragments.push(payload);
      if (tail) this.fragments.push(...tail);
      return;
    }
    let message: Buffer;
    if (this.fragments.length === 0 && !tail) {
      message = asBuffer(payload);
    } else {
      this.fragments.push(payload);
      if (tail) this.fragments.push(...tail);
      message = Buffer.concat(this.fragments, this.fragmentBytes);
      this.fragments = [];
    }
    this.fragmentBytes = 0;
    const messageTrace = this.fragmentTrace;
    this.fragmentTrace = undefined;
    if (this.inbox.length === 0) this.deliverMessage(message, isText, messageTrace);
    else this.inbox.push({ message, isText, trace: messageTrace });
  }

  /** A blob reference: messages after it wait until the plane has its bytes, so order is kept. */
  private receiveBlob(blobId: number, flags: number, trace: TraceContext | undefined): void {
    const blobs = this.host.blobs;
    if (!blobs || (flags & DataFlag.TEXT) || !(flags & DataFlag.FIN) || this.fragmentBytes > 0) {
      throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `unexpected blob reference on stream ${this.id}`);
    }
    const item: InboxItem = { message: undefined, isText: false, trace };
    this.inbox.push(item);
    blobs.take(blobId).then(
      (bytes) => {
        item.message = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        this.flushInbox();
      },
      (error: Error) => this.host.reset(this, new AccelError('HYPHA_ACCEL_ERR_PAYLOAD', `blob ${blobId} could not be received: ${error.message}`, { cause: error })),
    );
  }

  private flushInbox(): void {
    for (let head = this.inbox.peek(); head?.message; head = this.inbox.peek()) {
      this.inbox.shift();
      this.deliverMessage(head.message, head.isText, head.trace);
    }
    if (this.inbox.length === 0 && this.closeAfterInbox) {
      const close = this.closeAfterInbox;
      this.closeAfterInbox = undefined;
      close();
    }
  }

  private deliverFragment(fragment: Buffer, isText: boolean, fin: boolean, trace: TraceContext | undefined, tail: Buffer[] | undefined): void {
    let length = fragment.length;
    if (tail) for (const part of tail) length += part.length;
    let done = false;
    this.handler!.onFragment!(fragment, isText, fin, () => {
      if (done) return;
      done = true;
      this.returnCredit(length);
    }, trace, tail);
  }

  private deliverMessage(message: Buffer, isText: boolean, trace: TraceContext | undefined): void {
    const length = message.length;
    let done = false;
    this.deliver((h) => h.onMessage(message, isText, () => {
      if (done) return;
      done = true;
      this.returnCredit(length);
    }, trace));
  }

  private returnCredit(bytes: number): void {
    this.ungrantedBytes += bytes;
    // Batch grants: one WINDOW per quarter window keeps control traffic small without ever stalling the sender.
    if (this.ungrantedBytes >= this.limits.localWindowBytes / 4) {
      const bytesToGrant = this.ungrantedBytes;
      this.ungrantedBytes = 0;
      this.host.grant(this, bytesToGrant);
    }
  }

  handleRemoteClose(code: number, reason: string, endKind: EndKindValue): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    const close = () => this.deliver((h) => h.onRemoteClose(code, reason, endKind));
    if (this.inbox.length === 0) close();
    else this.closeAfterInbox = close; // the close must not overtake a message still being reassembled
  }

  abort(error: AccelError): void {
    this.localClosed = true;
    this.remoteClosed = true;
    this.out.clear();
    this.inbox.clear();
    this.closeAfterInbox = undefined;
    if (!this.handler) this.onAbortUnbound?.(error);
    this.deliver((h) => h.onAbort(error));
  }
}
