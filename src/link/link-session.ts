// One established link (after the handshake): demultiplexes received frames to streams, schedules sent
// frames (link control first, then control/rpc/bulk classes, round-robin across streams, a stream's own
// frames always in order), keeps the link alive with PING/PONG (RTT measured) and fails it on silence.
// With pacing negotiated, frames wait in the scheduler (not in socket buffers) once the link has about
// twice its bandwidth-delay product unacknowledged, so later small calls still overtake queued bulk.
import { newFrameKindStats, type FrameKindStats, type LinkCompressionStats, type LinkCompressor } from './link-compressor.js';
import { AccelError, ERROR_CODES, errorCodeForGoaway, type ErrorCode } from '../errors.js';
import { Deque } from './deque.js';
import {
  DataFlag, EndKind, FrameClass, FrameType, decodeCodeReason, decodeFrame, decodeU32, encodeCodeReason, encodeFrame, encodeU32,
  decodeAck, decodeDrain, decodePongStamp, encodeAck, encodeDrain, encodePingStamp, endKindOf, frameHeaderBytes, HEADER_BYTES, TRACE_BYTES, type EndKindValue, type Frame, type FrameHeader, type TraceContext,
} from './frame.js';
import type { LinkSettings } from './handshake.js';
import { Stream, type PendingFrame } from './stream.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { AckPolicy, SendPacer } from './pacing.js';
import type { BlobOutcome } from '../events.js';

/** What a link needs of its transport (a WebSocket in production, an in-memory pipe in tests). */
export interface LinkTransport {
  send(frame: Buffer, onWritten: (error?: Error) => void): void;
  /** Optional: sends a frame given as header and payload view without joining them first (batching transports). */
  sendParts?(header: FrameHeader, payload: Uint8Array, onWritten: (error?: Error) => void): void;
  close(code: number, reason: string): void;
}

const PAYLOAD_HEADER: FrameHeader = Object.freeze({ type: FrameType.PAYLOAD, flags: 0, frameClass: FrameClass.BULK, streamId: 0, seq: 0 });

/** A stream or payload-plane frame on its way out: header fields and the payload as a view. */
interface OutFrame {
  header: FrameHeader;
  payload: Uint8Array;
  /** A traced blob reference's plane outcome (set only when header.trace is). */
  blob?: BlobOutcome;
}

/** Transcodes whole messages at send time (in link order) and back at receive time. Optional. */
export interface LinkCodec {
  encode(message: Uint8Array, isText: boolean): Uint8Array | null;
  decode(compact: Uint8Array, isText: boolean): Uint8Array;
}

/** Cumulative counters, shared by all links of a role so they survive link churn. */
export interface LinkStats extends LinkCompressionStats, FrameKindStats {
  framesSent: number;
  frameBytesSent: number;
  framesReceived: number;
  frameBytesReceived: number;
  /** Whole messages offered to the codec, their original bytes, and the bytes actually sent for them. */
  messagesTranscoded: number;
  transcodeBytesIn: number;
  transcodeBytesOut: number;
  /** Messages the codec declined (sent raw). */
  transcodeFallbacks: number;
  /** Large messages sent as blobs, their original bytes, and the payload-plane bytes sent for all blobs. */
  blobsSent: number;
  blobBytesIn: number;
  payloadBytesSent: number;
}

/** What a link knows of its path: the round trip (pacing's smallest of the last minutes, else the last PING) and its pacing window. */
export interface LinkState {
  rttMs: number | undefined;
  pacingWindowBytes: number | undefined;
  /** The link cannot leave this host (a Unix socket): no network between the two sides. */
  sameHost?: boolean;
}

export function newLinkStats(): LinkStats {
  return { framesSent: 0, frameBytesSent: 0, framesReceived: 0, frameBytesReceived: 0, messagesTranscoded: 0, transcodeBytesIn: 0, transcodeBytesOut: 0, transcodeFallbacks: 0, blobsSent: 0, blobBytesIn: 0, payloadBytesSent: 0, linkMessagesCompressed: 0, linkCompressRawBytes: 0, linkCompressWireBytes: 0, ...newFrameKindStats() };
}

/** The payload plane as a link sees it (one endpoint per link, sharing the pair's stores). Optional. */
export interface LinkBlobPlane {
  /** Binary messages of minBlobBytes..maxBlobBytes (and larger than one frame) travel as blobs. */
  minBlobBytes: number;
  maxBlobBytes: number;
  /**
   * Called once by the link with the function that emits payload frames to the peer, and one that tells
   * the link's current round trip and pacing window (for the compression policy).
   */
  attach(emitFrame: (frame: Uint8Array) => void, linkState: () => LinkState): void;
  /** False while large messages should go as plain fragments instead (asked per message). */
  wanted(): boolean;
  sendBlob(bytes: Uint8Array, outcome?: BlobOutcome): Promise<number>;
  takeBlob(blobId: number): Promise<Uint8Array>;
  /** A PAYLOAD frame from the peer; throws on a malformed one (the link then fails with BAD_FRAME). */
  receiveFrame(frame: Uint8Array): Promise<void>;
  close(reason?: string): void;
}

export interface LinkSessionOptions {
  stats?: LinkStats;
  /** Large messages move through this plane; its frames are emitted with sendPayloadFrame. */
  blobs?: LinkBlobPlane;
  local: LinkSettings;
  peer: LinkSettings;
  maxMessageBytes: number;
  pingIntervalMs: number;
  keepaliveTimeoutMs: number;
  /** Bytes handed to the transport and not yet written before the scheduler waits. */
  sendHighWaterBytes: number;
  codec?: LinkCodec;
  /** Compresses whole link messages (link-compressor.ts); establish wraps the transport with it. */
  compressor?: LinkCompressor;
  /** Asked per whole message when a codec is set: false sends it raw (the codec steps aside on fast links). */
  codecWanted?: (state: LinkState) => boolean;
  /** Both sides speak ACK frames: pace sending to the measured bandwidth-delay product. */
  pacing?: boolean;
  /** The transport cannot leave this host (a Unix socket); reported in linkState(). */
  sameHost?: boolean;
  clock?: Clock;
  /** Called when the peer opens a stream (gateway side). */
  onStreamOpen?: (stream: Stream, open: Uint8Array) => void;
  /** Called for OPEN_OK / OPEN_FAIL on a stream this side opened (edge side). */
  onStreamOpenReply?: (stream: Stream, ok: boolean, payload: Uint8Array) => void;
  onRtt?: (rttMs: number) => void;
  /** The peer sent DRAIN (capability drain-v1, docs/protocol.md §9b): open no new streams here. Absent: DRAIN is a protocol error. */
  onDrain?: (drainMs: number, reason: string) => void;
  /** Called for each frame that carries trace context (a sampled call or reply: tracing), as it is sent. */
  onTracedFrame?: (trace: TraceContext, frameBytes: number, flags: number, blob: BlobOutcome | undefined) => void;
  onClosed?: (error: AccelError | undefined) => void;
}

export class LinkSession {
  readonly streams = new Map<number, Stream>();
  rttMs: number | undefined;
  closed = false;
  /** DRAIN was sent or received: the link carries its sessions on, but no new one is opened on it. */
  draining = false;
  private readonly linkControl = new Deque<OutFrame>();
  /** Payload-plane frames: served after every stream frame, so small calls overtake bulk data. */
  private readonly payloadFrames = new Deque<OutFrame>();
  private readonly ready = [new Deque<Stream>(), new Deque<Stream>(), new Deque<Stream>()];
  private inflightBytes = 0;
  private pumping = false;
  private lastHeardMs: number;
  private readonly clock: Clock;
  private readonly pingTimer: TimerHandle;
  private nextLocalStreamId = 1;
  private readonly stats: LinkStats;
  private readonly closeListeners: Array<(error: AccelError | undefined) => void> = [];
  private readonly pacer: SendPacer | undefined;
  private readonly acks: AckPolicy | undefined;
  private ackTimer: TimerHandle | undefined;
  private ackArmedAtMs = 0;
  private pingsSkipped = 0;
  private acksSent = 0;
  private lastLinkState: LinkState | undefined;

  constructor(private readonly transport: LinkTransport, private readonly options: LinkSessionOptions) {
    this.clock = options.clock ?? systemClock;
    this.stats = options.stats ?? newLinkStats();
    this.lastHeardMs = this.clock.now();
    this.pingTimer = this.clock.setInterval(() => this.keepalive(), options.pingIntervalMs);
    if (options.pacing) {
      this.pacer = new SendPacer({ clock: this.clock });
      this.acks = new AckPolicy();
    }
    options.compressor?.attach(() => this.linkState());
    options.blobs?.attach((frame) => this.sendPayloadFrame(frame), () => this.linkState());
  }

  /**
   * The round trip (pacing's smallest of the last minutes, else the last PING) and the pacing window. The same
   * object while neither changed: the stages that step aside on fast links ask per message and remember their
   * answer per state.
   */
  linkState(): LinkState {
    const rttMs = this.pacer?.pathRttMs ?? this.rttMs;
    const pacingWindowBytes = this.pacer?.windowBytes;
    const last = this.lastLinkState;
    if (last && last.rttMs === rttMs && last.pacingWindowBytes === pacingWindowBytes) return last;
    return (this.lastLinkState = Object.freeze({ rttMs, pacingWindowBytes, ...(this.options.sameHost ? { sameHost: true } : {}) }));
  }

  /** Registers a listener for the end of the link (besides options.onClosed). */
  addCloseListener(listener: (error: AccelError | undefined) => void): void {
    this.closeListeners.push(listener);
  }

  private notifyClosed(error: AccelError | undefined): void {
    this.options.onClosed?.(error);
    for (const listener of this.closeListeners) listener(error);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Opens a stream toward the peer with an OPEN payload (edge side). */
  openStream(openPayload: Uint8Array): Stream {
    const stream = this.createStream(this.nextLocalStreamId++);
    stream.sendControl(FrameType.OPEN, openPayload);
    return stream;
  }

  private createStream(id: number): Stream {
    const { local, peer } = this.options;
    const blobs = this.options.blobs;
    const stream = new Stream(
      id,
      {
        maxFragmentBytes: peer.maxFrameBytes - 64,
        maxMessageBytes: this.options.maxMessageBytes,
        peerWindowBytes: peer.windowBytes,
        localWindowBytes: local.windowBytes,
      },
      {
        enqueue: (s, frame) => this.enqueueStreamFrame(s, frame),
        grant: (s, bytes) => this.sendLinkFrame(FrameType.WINDOW, s.id, encodeU32(bytes)),
        wake: (s) => this.wakeStream(s),
        reset: (s, error) => this.resetStream(s, error),
        blobs: blobs && { minBytes: blobs.minBlobBytes, maxBytes: blobs.maxBlobBytes, wanted: () => blobs.wanted(), send: (bytes, outcome) => {
          this.stats.blobsSent++;
          this.stats.blobBytesIn += bytes.length;
          return blobs.sendBlob(bytes, outcome);
        }, take: (blobId) => blobs.takeBlob(blobId) },
      },
    );
    this.streams.set(id, stream);
    return stream;
  }

  /**
   * Sends CLOSE for a stream (mirroring the endpoint's close code, reason and how its connection ended)
   * and forgets it once both sides closed.
   */
  closeStream(stream: Stream, code: number, reason: string, endKind: EndKindValue = EndKind.UNSAID): void {
    if (stream.localClosed) return;
    stream.sendControl(FrameType.CLOSE, encodeCodeReason(code, reason), endKind);
    stream.localClosed = true;
    this.forgetIfDone(stream);
  }

  /** Drops a stream that never carried a session (its open failed); frames still queued are sent first. */
  forgetStream(stream: Stream): void {
    stream.localClosed = true;
    stream.remoteClosed = true;
    this.forgetIfDone(stream);
  }

  private forgetIfDone(stream: Stream): void {
    if (stream.localClosed && stream.remoteClosed && stream.out.length === 0) this.streams.delete(stream.id);
  }

  // ---- sending ----

  private enqueueStreamFrame(stream: Stream, frame: PendingFrame): void {
    if (this.closed) return;
    const wasIdle = stream.out.length === 0;
    stream.out.push(frame);
    if (wasIdle && frame.ready !== false) {
      stream.stalled = false;
      this.ready[frame.frameClass]!.push(stream);
    } else if (wasIdle) {
      stream.stalled = true;
    }
    this.pump();
  }

  /** A blob reference at the head of a stream became ready: put the stream back in its class queue. */
  private wakeStream(stream: Stream): void {
    const head = stream.out.peek();
    if (!stream.stalled || !head || head.ready === false) return;
    stream.stalled = false;
    this.ready[head.frameClass]!.push(stream);
    this.pump();
  }

  /** Emits one payload-plane frame to the peer (lowest priority, in emission order). */
  sendPayloadFrame(payload: Uint8Array): void {
    if (this.closed) return;
    this.stats.payloadBytesSent += payload.length;
    // The plane's frames are fresh buffers it never touches again: a batching transport sends them as views.
    this.payloadFrames.push({ header: PAYLOAD_HEADER, payload });
    this.pump();
  }

  private sendLinkFrame(type: (typeof FrameType)[keyof typeof FrameType], streamId: number, payload: Uint8Array): void {
    if (this.closed) return;
    this.linkControl.push({ header: { type, flags: 0, frameClass: FrameClass.CONTROL, streamId, seq: 0, trace: undefined }, payload });
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.piggybackAck();
      while (!this.closed && this.inflightBytes < this.options.sendHighWaterBytes) {
        let frame: OutFrame | undefined = this.linkControl.shift();
        if (!frame) {
          if (this.pacer && !this.pacer.open()) break; // link control (incl. ACKs) is never held back
          frame = this.nextStreamFrame() ?? this.payloadFrames.shift();
        }
        if (!frame) break;
        const { header, payload } = frame;
        const length = frameHeaderBytes(header) + payload.length;
        // ACK frames are not themselves acknowledged (both sides leave them out of the count).
        if (this.pacer && header.type !== FrameType.ACK) this.pacer.onSent(length);
        this.inflightBytes += length;
        this.stats.framesSent++;
        this.stats.frameBytesSent += length;
        if (header.trace) this.options.onTracedFrame?.(header.trace, length, header.flags, frame.blob);
        const onWritten = this.frameWritten(length);
        // A batching transport writes header and payload into its batch; others get the frame joined.
        if (this.transport.sendParts) this.transport.sendParts(header, payload, onWritten);
        else this.transport.send(encodeFrame({ ...header, payload }), onWritten);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** The callback for a frame handed to the transport (returned, not assigned: tsx names assigned closures at each creation). */
  private frameWritten(length: number): () => void {
    return () => {
      this.inflightBytes -= length;
      this.pump();
    };
  }

  /**
   * A lazy ACK rides with frames already going out (the batch is written at once) once it waited
   * ACK_PIGGYBACK_MS or covers ACK_PIGGYBACK_BYTES, so small calls do not carry one each.
   */
  private piggybackAck(): void {
    if (this.ackTimer === undefined) return;
    if (this.payloadFrames.length === 0 && this.ready[0]!.length === 0 && this.ready[1]!.length === 0 && this.ready[2]!.length === 0) return;
    const waitMs = this.acksSent < EAGER_ACKS ? EAGER_ACK_PIGGYBACK_MS : ACK_PIGGYBACK_MS;
    if (this.acks!.unackedBytes < ACK_PIGGYBACK_BYTES && this.clock.now() - this.ackArmedAtMs < waitMs) return;
    this.sendAck();
  }

  private nextStreamFrame(): OutFrame | undefined {
    for (const queue of this.ready) {
      let stream: Stream | undefined;
      let pending: PendingFrame | undefined;
      while (!pending && (stream = queue.shift())) {
        const head = stream.out.peek();
        // A reset stream may sit in a queue with nothing left to send; a blob reference may not be ready yet
        // (the stream leaves the queues until wakeStream puts it back).
        if (head?.ready === false) stream.stalled = true;
        else pending = stream.out.shift();
      }
      if (!stream || !pending) continue;
      const next = stream.out.peek();
      if (next) this.ready[next.frameClass]!.push(stream);
      let { flags, payload } = pending;
      if (pending.wholeMessage && this.options.codec && (this.options.codecWanted?.(this.linkState()) ?? true)) {
        const compact = this.options.codec.encode(payload, (flags & DataFlag.TEXT) !== 0);
        this.stats.messagesTranscoded++;
        this.stats.transcodeBytesIn += payload.length;
        if (compact) {
          payload = compact;
          flags |= DataFlag.CODEC;
        } else {
          this.stats.transcodeFallbacks++;
        }
        this.stats.transcodeBytesOut += payload.length;
      }
      const header: FrameHeader = { type: pending.type, flags, frameClass: pending.frameClass, streamId: stream.id, seq: stream.nextSendSeq++, trace: pending.trace };
      if (!next) this.forgetIfDone(stream);
      return pending.blob ? { header, payload, blob: pending.blob } : { header, payload };
    }
    return undefined;
  }

  // ---- receiving ----

  /**
   * Feeds one received link message: `data`, followed by the bytes of `tail` when the transport hands a large
   * frame on in parts (only a DATA frame's plain payload stays in parts, for cut-through; others are joined).
   * Errors that end the link close it; per-stream errors reset the stream.
   */
  handleMessage(data: Uint8Array, tail?: Uint8Array[]): void {
    if (this.closed) return;
    const nowMs = this.clock.now();
    this.lastHeardMs = nowMs;
    let bytes = data.length;
    if (tail) for (const part of tail) bytes += part.length;
    this.stats.framesReceived++;
    this.stats.frameBytesReceived += bytes;
    if (this.acks && data[0] !== FrameType.ACK) this.countReceived(bytes, nowMs);
    try {
      const maxBytes = maxLinkMessageBytes(this.options.local.maxFrameBytes);
      if (tail && !(data[0] === FrameType.DATA && (data[1]! & (DataFlag.CODEC | DataFlag.BLOB)) === 0 && data.length >= HEADER_BYTES + TRACE_BYTES)) {
        data = Buffer.concat([data, ...tail]);
        tail = undefined;
      }
      if (bytes > maxBytes) throw new AccelError('HYPHA_ACCEL_ERR_FRAME_TOO_LARGE', `link frame of ${bytes} bytes exceeds ${maxBytes}`);
      const frame = decodeFrame(data, maxBytes);
      if (tail) this.handleStreamFrame(frame, tail);
      else this.handleFrame(frame);
    } catch (error) {
      this.fail(asAccelError(error));
    }
  }

  private handleFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.PING:
        this.sendLinkFrame(FrameType.PONG, 0, frame.payload.slice());
        return;
      case FrameType.PONG:
        return this.handlePong(frame.payload);
      case FrameType.ACK:
        return this.handleAck(frame.payload);
      case FrameType.GOAWAY: {
        const { code, reason } = decodeCodeReason(frame.payload);
        const name = errorCodeForGoaway(code) ?? 'HYPHA_ACCEL_ERR_PROTOCOL';
        return this.shutdown(new AccelError(name, `peer sent GOAWAY: ${reason}`), false);
      }
      case FrameType.DRAIN: {
        if (!this.options.onDrain) throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', 'DRAIN on a link that did not negotiate drain-v1');
        const { drainMs, reason } = decodeDrain(frame.payload);
        if (this.draining) return;
        this.draining = true;
        this.options.onDrain(drainMs, reason);
        return;
      }
      case FrameType.WINDOW:
        this.streams.get(frame.streamId)?.handleWindow(decodeU32(frame.payload));
        return;
      case FrameType.PAYLOAD:
        return this.handlePayload(frame.payload);
      case FrameType.OPEN: {
        if (this.streams.has(frame.streamId) || !this.options.onStreamOpen) {
          throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `unexpected OPEN for stream ${frame.streamId}`);
        }
        const stream = this.createStream(frame.streamId);
        this.checkSeq(stream, frame);
        this.options.onStreamOpen(stream, frame.payload);
        return;
      }
      default:
        return this.handleStreamFrame(frame);
    }
  }

  /** `tail`: the rest of a DATA frame's plain payload, as views (see handleMessage). */
  private handleStreamFrame(frame: Frame, tail?: Uint8Array[]): void {
    const stream = this.streams.get(frame.streamId);
    if (frame.type === FrameType.DATA && (frame.flags & DataFlag.CODEC) && (frame.flags & DataFlag.FIN) === 0) {
      throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', 'a transcoded DATA frame must be a whole message');
    }
    // Transcoded frames are decoded even for a stream that is gone, so codec tables stay in lockstep.
    const payload = frame.type === FrameType.DATA ? this.decodePayload(frame) : frame.payload;
    if (!stream || stream.remoteClosed) {
      // Late frames for a closed stream are dropped; a blob they reference is taken and discarded so the
      // payload plane does not hold its bytes for the life of the link.
      if (frame.type === FrameType.DATA && (frame.flags & DataFlag.BLOB) && payload.length === 4 && !tail) this.options.blobs?.takeBlob(decodeU32(payload)).catch(() => {});
      return;
    }
    this.checkSeq(stream, frame);
    switch (frame.type) {
      case FrameType.DATA:
        try {
          stream.handleData(payload, frame.flags, frame.trace, tail);
        } catch (error) {
          const accel = asAccelError(error);
          if (accel.code !== 'HYPHA_ACCEL_ERR_MESSAGE_TOO_LARGE') throw accel;
          this.resetStream(stream, accel);
        }
        return;
      case FrameType.CLOSE: {
        const { code, reason } = decodeCodeReason(frame.payload);
        stream.handleRemoteClose(code, reason, endKindOf(frame.flags));
        this.forgetIfDone(stream);
        return;
      }
      case FrameType.DELIVERED:
        stream.onDelivered?.(decodeU32(frame.payload));
        return;
      case FrameType.OPEN_OK:
      case FrameType.OPEN_FAIL:
        if (!this.options.onStreamOpenReply) throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', 'unexpected OPEN reply');
        this.options.onStreamOpenReply(stream, frame.type === FrameType.OPEN_OK, frame.payload);
        return;
      default:
        throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `frame type 0x${frame.type.toString(16)} is not valid here`);
    }
  }

  private handlePayload(payload: Uint8Array): void {
    const blobs = this.options.blobs;
    if (!blobs) throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', 'PAYLOAD frame on a link without a payload plane');
    try {
      void blobs.receiveFrame(payload);
    } catch (error) {
      throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `malformed payload frame: ${(error as Error).message}`, { cause: error });
    }
  }

  private decodePayload(frame: Frame): Uint8Array {
    if ((frame.flags & DataFlag.CODEC) === 0) return frame.payload;
    if (!this.options.codec) throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', 'transcoded frame on a link without codec');
    try {
      return this.options.codec.decode(frame.payload, (frame.flags & DataFlag.TEXT) !== 0);
    } catch (error) {
      throw new AccelError('HYPHA_ACCEL_ERR_CODEC', `cannot decode transcoded message: ${(error as Error).message}`, { cause: error });
    }
  }

  private checkSeq(stream: Stream, frame: Frame): void {
    if (frame.seq !== stream.nextRecvSeq) {
      throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `stream ${stream.id} expected seq ${stream.nextRecvSeq}, got ${frame.seq}`);
    }
    stream.nextRecvSeq = (stream.nextRecvSeq + 1) >>> 0;
  }

  /** Ends one stream on both sides without touching the link. */
  resetStream(stream: Stream, error: AccelError): void {
    const closeCode = error.spec.wsClose || 1011;
    const tellPeer = !stream.localClosed;
    stream.abort(error); // clears the unsent queue and marks both directions closed
    if (tellPeer) stream.sendControl(FrameType.CLOSE, encodeCodeReason(closeCode, error.message.slice(0, 100)));
    this.forgetIfDone(stream);
  }

  // ---- pacing ----

  /** Acknowledges at once after AckPolicy.everyBytes, otherwise within ACK_DELAY_MS (one timer at most). */
  private countReceived(bytes: number, nowMs: number): void {
    if (this.acks!.onReceived(bytes, nowMs)) this.sendAck();
    else if (this.ackTimer === undefined) {
      this.ackArmedAtMs = nowMs;
      this.ackTimer = this.clock.setTimeout(() => this.sendAck(), this.acksSent < EAGER_ACKS ? EAGER_ACK_DELAY_MS : ACK_DELAY_MS);
    }
  }

  private sendAck(): void {
    if (this.ackTimer !== undefined) this.clock.clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (!this.acks!.pending) return;
    this.acksSent++;
    this.sendLinkFrame(FrameType.ACK, 0, encodeAck(this.acks!.take(), this.acks!.delayMs(this.clock.now())));
  }

  private handleAck(payload: Uint8Array): void {
    if (!this.pacer) throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', 'ACK frame on a link without pacing');
    const { cumulativeBytes, ackDelayMs } = decodeAck(payload);
    this.pacer.onAck(cumulativeBytes, ackDelayMs);
    this.pump();
  }

  /** Bytes unacknowledged and the current allowance (pacing only), for metrics and tests. */
  get pacingState(): { inFlightBytes: number; windowBytes: number } | undefined {
    return this.pacer && { inFlightBytes: this.pacer.inFlightBytes, windowBytes: this.pacer.windowBytes };
  }

  // ---- keep-alive ----

  private keepalive(): void {
    const silentMs = this.clock.now() - this.lastHeardMs;
    if (silentMs > this.options.keepaliveTimeoutMs) {
      this.fail(new AccelError('HYPHA_ACCEL_ERR_KEEPALIVE_TIMEOUT', `nothing heard from the link peer for ${Math.round(silentMs)} ms`));
      return;
    }
    // A paced link heard from within the interval is alive and its ACKs measure the round trip: PING only
    // after a quiet interval, or every PING_REFRESH_INTERVALS-th time (small calls paid ~4 B each for PINGs).
    if (this.pacer && this.rttMs !== undefined && silentMs < this.options.pingIntervalMs && ++this.pingsSkipped < PING_REFRESH_INTERVALS) return;
    this.pingsSkipped = 0;
    this.sendLinkFrame(FrameType.PING, 0, encodePingStamp(this.clock.now()));
  }

  private handlePong(payload: Uint8Array): void {
    const sentMs = decodePongStamp(payload);
    this.rttMs = Math.max(0, this.clock.now() - sentMs);
    this.pacer?.onRttSample(this.rttMs);
    this.options.onRtt?.(this.rttMs);
  }

  // ---- ending ----

  /** Ends the link with a coded error: GOAWAY, then close. Streams are aborted. */
  fail(error: AccelError): void {
    this.shutdown(error, true);
  }

  /**
   * Tells the peer (which must have negotiated drain-v1) that this side is stopping: it should open no new
   * stream here; the link and its sessions go on until goAway() ends them, at the latest after drainMs.
   */
  drain(drainMs: number, reason: string): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.sendLinkFrame(FrameType.DRAIN, 0, encodeDrain(drainMs, reason));
  }

  /** Graceful end (drain or stop): GOAWAY with SHUTDOWN, then close. */
  goAway(reason: string): void {
    this.shutdown(new AccelError('HYPHA_ACCEL_ERR_SHUTDOWN', reason), true);
  }

  private shutdown(error: AccelError, notifyPeer: boolean): void {
    this.end(error, notifyPeer ? 'goaway' : 'close');
  }

  /** The transport went away underneath (socket closed or errored). */
  handleTransportClosed(error: AccelError): void {
    this.end(error, 'gone');
  }

  /**
   * The one transition of a link (open -> closed) and all its side effects, in order: GOAWAY to the peer
   * (`goaway`), timers stopped, the transport closed unless it is already `gone`, streams aborted, listeners told.
   */
  private end(error: AccelError, transport: 'goaway' | 'close' | 'gone'): void {
    if (this.closed) return;
    const spec = ERROR_CODES[error.code as ErrorCode];
    if (transport === 'goaway') {
      const goaway = encodeFrame({ type: FrameType.GOAWAY, flags: 0, frameClass: FrameClass.CONTROL, streamId: 0, seq: 0, payload: encodeCodeReason(spec.goaway, error.message.slice(0, 120)) });
      this.transport.send(goaway, () => {});
    }
    this.closed = true;
    this.clock.clearInterval(this.pingTimer);
    if (this.ackTimer !== undefined) this.clock.clearTimeout(this.ackTimer);
    if (transport !== 'gone') this.transport.close(spec.wsClose || 1000, error.code);
    this.abortAll(error);
    this.notifyClosed(error);
  }

  private abortAll(error: AccelError): void {
    const lost = error.code === 'HYPHA_ACCEL_ERR_SHUTDOWN' ? error : new AccelError('HYPHA_ACCEL_ERR_LINK_LOST', `link lost: ${error.message}`, { cause: error });
    for (const stream of this.streams.values()) stream.abort(lost);
    this.streams.clear();
    this.linkControl.clear();
    this.payloadFrames.clear();
    for (const queue of this.ready) queue.clear();
    this.options.blobs?.close(error.message);
  }
}

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
/** On a busy paced link one keep-alive interval in this many sends a PING (the round trip via PONG refreshed). */
const PING_REFRESH_INTERVALS = 6;

export function asAccelError(error: unknown): AccelError {
  if (error instanceof AccelError) return error;
  return new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', error instanceof Error ? error.message : String(error), { cause: error });
}

/** A transcoded whole message may exceed the fragment size slightly: links accept up to twice maxFrameBytes. */
export function maxLinkMessageBytes(maxFrameBytes: number): number {
  return maxFrameBytes * 2 + 64;
}
