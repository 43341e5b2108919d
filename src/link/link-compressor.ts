// The seam through which a link's frames may be compressed, after framing and before the socket: one
// LinkCompressor per link serves both directions; the transport wrapper below collects the small frames of
// one event-loop turn and has them compressed together as one message (one tag, one length prefix). The wrapper also counts what each kind of frame costs on the
// wire (after compression, with the transport's length prefix), for the byte breakdown.
import type { DuplexTransport } from './establish.js';
import { COMPRESSED_MESSAGE_TAG, FrameType, encodeFrame, frameHeaderBytes } from './frame.js';
import type { LinkState } from './link-session.js';

/** Counters a compressor keeps (part of the role's LinkStats). */
export interface LinkCompressionStats {
  /** Messages sent compressed, their plain bytes, and the bytes put on the wire for them. */
  linkMessagesCompressed: number;
  linkCompressRawBytes: number;
  linkCompressWireBytes: number;
}

/** The kinds of frames the byte breakdown tells apart. */
export const FRAME_KINDS = ['Data', 'Ack', 'Window', 'Delivered', 'Keepalive', 'Payload', 'Other'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

/** Frames and wire bytes per kind and direction (wire: after compression, plus the transport's length prefix; a
 * compressed batch's bytes are shared among its frames in proportion to their plain sizes). */
export type FrameKindStats = { [K in FrameKind as `wire${K}FramesSent` | `wire${K}BytesSent` | `wire${K}FramesReceived` | `wire${K}BytesReceived`]: number };

export function newFrameKindStats(): FrameKindStats {
  const stats: Record<string, number> = {};
  for (const kind of FRAME_KINDS) for (const key of ['FramesSent', 'BytesSent', 'FramesReceived', 'BytesReceived']) stats[`wire${kind}${key}`] = 0;
  return stats as FrameKindStats;
}

export const LENGTH_PREFIX_BYTES = 4;

export function frameKind(type: number | undefined): FrameKind {
  switch (type) {
    case FrameType.OPEN: case FrameType.OPEN_OK: case FrameType.OPEN_FAIL: case FrameType.DATA: case FrameType.CLOSE: return 'Data';
    case FrameType.ACK: return 'Ack';
    case FrameType.WINDOW: return 'Window';
    case FrameType.DELIVERED: return 'Delivered';
    case FrameType.PING: case FrameType.PONG: return 'Keepalive';
    case FrameType.PAYLOAD: return 'Payload';
    default: return 'Other';
  }
}

export interface LinkCompressor {
  /** Frames larger than this are never compressed: they keep the transports' zero-copy path. */
  readonly maxMessageBytes: number;
  /** Plain bytes (frames with their 4-byte length prefixes) one compressed batch holds at most. */
  readonly maxBatchBytes: number;
  /** Called once by the link session: how to read its measured round trip and pacing window. */
  attach(state: () => LinkState): void;
  /** True when frames sent now should be compressed (the peer is ready and compression pays). */
  active(): boolean;
  /** The wire message for a batch of frames: one compressed message holding them all, length-prefixed. */
  compressBatch(frames: readonly Uint8Array[], plainBytes: number): Buffer;
  /** The frames in a received message (a plain frame: itself); throws AccelError(BAD_FRAME) when it does not decode. */
  decompress(wire: Uint8Array): Uint8Array[];
}

/**
 * `inner` with the frames of each event-loop turn compressed together by `compressor` (while it is active)
 * and every frame counted per kind into `stats`. Frames the compressor never takes (too large, or sent while
 * it is inactive) go straight through, after whatever batch is pending, so the order on the wire is kept.
 */
export function compressedTransport(inner: DuplexTransport, compressor: LinkCompressor | undefined, stats: FrameKindStats | undefined): DuplexTransport {
  const counts = stats as Record<string, number> | undefined;
  const framing = (length: number, compressed: boolean) => inner.framingBytes?.(length, compressed) ?? LENGTH_PREFIX_BYTES;
  const count = (type: number | undefined, wireBytes: number, direction: 'Sent' | 'Received') => {
    if (!counts) return;
    const kind = frameKind(type);
    counts[`wire${kind}Frames${direction}`]!++;
    counts[`wire${kind}Bytes${direction}`]! += wireBytes;
  };
  let pending: Uint8Array[] = [];
  let pendingCallbacks: Array<(error?: Error) => void> = [];
  let pendingBytes = 0;
  let flushScheduled = false;
  let closed = false;

  const flush = () => {
    flushScheduled = false;
    if (pending.length === 0) return;
    const frames = pending;
    const callbacks = pendingCallbacks;
    const plainBytes = pendingBytes;
    pending = [];
    pendingCallbacks = [];
    pendingBytes = 0;
    let wire: Buffer;
    try {
      wire = compressor!.compressBatch(frames, plainBytes);
    } catch {
      // The stream may now hold bytes the peer never sees: nothing sent later would decode. End the link.
      for (const callback of callbacks) callback(new Error('link compression failed'));
      inner.close(1011, 'HYPHA_ACCEL_ERR_PROTOCOL');
      return;
    }
    // Each frame's share of the batch on the wire, in proportion to its plain size.
    const wireBytes = wire.byteLength + framing(wire.byteLength, true);
    for (const frame of frames) count(frame[0], ((frame.byteLength + LENGTH_PREFIX_BYTES) / plainBytes) * wireBytes, 'Sent');
    inner.send(wire, (error) => {
      for (const callback of callbacks) callback(error);
    });
  };
  const sendPlain = (frame: Buffer, onWritten: (error?: Error) => void) => {
    flush();
    count(frame[0], frame.byteLength + framing(frame.byteLength, false), 'Sent');
    inner.send(frame, onWritten);
  };
  const send = (frame: Buffer, onWritten: (error?: Error) => void) => {
    if (closed || !compressor || frame.byteLength > compressor.maxMessageBytes || !compressor.active()) return sendPlain(frame, onWritten);
    if (pendingBytes + frame.byteLength + LENGTH_PREFIX_BYTES > compressor.maxBatchBytes) flush();
    pending.push(frame);
    pendingCallbacks.push(onWritten);
    pendingBytes += frame.byteLength + LENGTH_PREFIX_BYTES;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  const maxMessageBytes = compressor?.maxMessageBytes ?? 0;
  const outer: DuplexTransport = {
    onMessage: undefined,
    onClose: undefined,
    send,
    // A batching transport takes large payloads as views: keep that for frames the compressor never sees.
    ...(inner.sendParts
      ? {
          sendParts: (header, payload, onWritten) => {
            const bytes = frameHeaderBytes(header) + payload.byteLength;
            if (bytes > maxMessageBytes) {
              flush();
              count(header.type, bytes + framing(bytes, false), 'Sent');
              inner.sendParts!(header, payload, onWritten);
            } else send(encodeFrame({ ...header, payload }), onWritten);
          },
        }
      : {}),
    close: (code, reason) => {
      flush(); // a GOAWAY queued just before still goes out, in order
      closed = true;
      inner.close(code, reason);
    },
  };
  inner.onMessage = (data) => {
    let frames: Uint8Array[];
    try {
      frames = compressor ? compressor.decompress(data) : [data];
    } catch {
      frames = [new Uint8Array(0)]; // the link's frame decoder fails it with BAD_FRAME
    }
    const plainBytes = frames.reduce((sum, frame) => sum + frame.byteLength + LENGTH_PREFIX_BYTES, 0);
    const wireBytes = data.byteLength + framing(data.byteLength, data[0] === COMPRESSED_MESSAGE_TAG);
    for (const frame of frames) count(frame[0], ((frame.byteLength + LENGTH_PREFIX_BYTES) / plainBytes) * wireBytes, 'Received');
    for (const frame of frames) outer.onMessage?.(frame);
  };
  inner.onClose = (code, reason) => outer.onClose?.(code, reason);
  return outer;
}
