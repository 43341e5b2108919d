// One established link (after the handshake): demultiplexes received frames to streams, schedules sent
// frames (link control first, then control/rpc/bulk classes, round-robin across streams, a stream's own
// frames always in order), keeps the link alive with PING/PONG (RTT measured) and fails it on silence.
// With pacing negotiated, frames wait in the scheduler (not in socket buffers) once the link has about
// twice its bandwidth-delay product unacknowledged, so later small calls still overtake queued bulk.
// Its parts: link-contract.ts (what it is given and reports), send-queues.ts (the send order),
// ack-scheduler.ts (when ACKs go), pacing.ts (how much may be in flight), stream.ts (one session's stream).
import { AccelError, ERROR_CODES, errorCodeForGoaway, type ErrorCode } from '../errors.js';
import {
  DataFlag, EndKind, FrameClass, FrameType, decodeCodeReason, decodeFrame, decodeU32, encodeCodeReason, encodeFrame, encodeU32,
  decodeAck, decodeDrain, decodePongStamp, encodeAck, encodeDrain, encodePingStamp, endKindOf, frameHeaderBytes, HEADER_BYTES, TRACE_BYTES, type EndKindValue, type Frame, type FrameHeader,
} from './frame.js';
import { Stream, type PendingFrame } from './stream.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { SendPacer } from './pacing.js';
import { AckScheduler } from './ack-scheduler.js';
import { SendQueues, type OutFrame } from './send-queues.js';
import { newLinkStats, type LinkSessionOptions, type LinkState, type LinkStats, type LinkTransport } from './link-contract.js';

// The contract types live in link-contract.ts; importers of this module keep finding them here.
export type { LinkBlobPlane, LinkCodec, LinkSessionOptions, LinkState, LinkStats, LinkTransport } from './link-contract.js';
export { newLinkStats } from './link-contract.js';
export { EAGER_ACKS } from './ack-scheduler.js';

const PAYLOAD_HEADER: FrameHeader = Object.freeze({ type: FrameType.PAYLOAD, flags: 0, frameClass: FrameClass.BULK, streamId: 0, seq: 0 });

export class LinkSession {
  readonly streams = new Map<number, Stream>();
  rttMs: number | undefined;
  closed = false;
  /** DRAIN was sent or received: the link carries its sessions on, but no new one is opened on it. */
  draining = false;
  private readonly queues = new SendQueues();
  private inflightBytes = 0;
  private pumping = false;
  private lastHeardMs: number;
  private readonly clock: Clock;
  private readonly pingTimer: TimerHandle;
  private nextLocalStreamId = 1;
  private readonly stats: LinkStats;
  private readonly closeListeners: Array<(error: AccelError | undefined) => void> = [];
  private readonly pacer: SendPacer | undefined;
  private readonly acks: AckScheduler | undefined;
  private pingsSkipped = 0;
  private lastLinkState: LinkState | undefined;

  constructor(private readonly transport: LinkTransport, private readonly options: LinkSessionOptions) {
    this.clock = options.clock ?? systemClock;
    this.stats = options.stats ?? newLinkStats();
    this.lastHeardMs = this.clock.now();
    this.pingTimer = this.clock.setInterval(() => this.keepalive(), options.pingIntervalMs);
    if (options.pacing) {
      this.pacer = new SendPacer({ clock: this.clock });
      this.acks = new AckScheduler(this.clock, (cumulativeBytes, ackDelayMs) => this.sendLinkFrame(FrameType.ACK, 0, encodeAck(cumulativeBytes, ackDelayMs)));
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
    this.queues.pushStreamFrame(stream, frame);
    this.pump();
  }

  /** A blob reference at the head of a stream became ready: put the stream back in its class queue. */
  private wakeStream(stream: Stream): void {
    if (this.queues.wake(stream)) this.pump();
  }

  /** Emits one payload-plane frame to the peer (lowest priority, in emission order). */
  sendPayloadFrame(payload: Uint8Array): void {
    if (this.closed) return;
    this.stats.payloadBytesSent += payload.length;
    // The plane's frames are fresh buffers it never touches again: a batching transport sends them as views.
    this.queues.payloadFrames.push({ header: PAYLOAD_HEADER, payload });
    this.pump();
  }

  private sendLinkFrame(type: (typeof FrameType)[keyof typeof FrameType], streamId: number, payload: Uint8Array): void {
    if (this.closed) return;
    this.queues.linkControl.push({ header: { type, flags: 0, frameClass: FrameClass.CONTROL, streamId, seq: 0, trace: undefined }, payload });
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      if (this.acks && this.queues.hasData) this.acks.rideAlong();
      while (!this.closed && this.inflightBytes < this.options.sendHighWaterBytes) {
        let frame: OutFrame | undefined = this.queues.linkControl.shift();
        if (!frame) {
          if (this.pacer && !this.pacer.open()) break; // link control (incl. ACKs) is never held back
          frame = this.nextStreamFrame() ?? this.queues.payloadFrames.shift();
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

  /** The next stream frame in send order (send-queues.ts), transcoded when the codec is wanted. */
  private nextStreamFrame(): OutFrame | undefined {
    const stream = this.queues.nextStream();
    if (!stream) return undefined;
    const pending = stream.out.shift()!;
    const next = stream.out.peek();
    if (next) this.queues.requeue(stream, next);
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
    if (this.acks && data[0] !== FrameType.ACK) this.acks.onReceived(bytes, nowMs);
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
    this.acks?.stop();
    if (transport !== 'gone') this.transport.close(spec.wsClose || 1000, error.code);
    this.abortAll(error);
    this.notifyClosed(error);
  }

  private abortAll(error: AccelError): void {
    const lost = error.code === 'HYPHA_ACCEL_ERR_SHUTDOWN' ? error : new AccelError('HYPHA_ACCEL_ERR_LINK_LOST', `link lost: ${error.message}`, { cause: error });
    for (const stream of this.streams.values()) stream.abort(lost);
    this.streams.clear();
    this.queues.clear();
    this.options.blobs?.close(error.message);
  }
}

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
