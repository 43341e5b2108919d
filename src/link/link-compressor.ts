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
  /** The link closed: free what the compressor holds (zlib streams) now, not at garbage collection. */
  release?(): void;
}

/** The stats keys of each frame kind, per direction: built once, so counting a frame builds no string. */
const KIND_KEYS = FRAME_KINDS.map((kind) => ({
  framesSent: `wire${kind}FramesSent`, bytesSent: `wire${kind}BytesSent`, framesReceived: `wire${kind}FramesReceived`, bytesReceived: `wire${kind}BytesReceived`,
}));
/** Frame type byte -> index into FRAME_KINDS. */
const KIND_OF_TYPE = Uint8Array.from({ length: 256 }, (_, type) => FRAME_KINDS.indexOf(frameKind(type)));

/**
 * `inner` with the frames of each event-loop turn compressed together by `compressor` (while it is active)
 * and every frame counted per kind into `stats`. Frames the compressor never takes (too large, or sent while
 * it is inactive) go straight through, after whatever batch is pending, so the order on the wire is kept:
 * on a fast link (compression inactive) a frame costs one `active()` question and a count, and keeps the
 * inner transport's header + payload view path (no frame joined, no closure).
 */
export function compressedTransport(inner: DuplexTransport, compressor: LinkCompressor | undefined, stats: FrameKindStats | undefined): DuplexTransport {
  const counts = stats as Record<string, number> | undefined;
  /** The transport's length prefix of a message of `length` bytes (u32, or a varint with compact framing). */
  const framing = (length: number, compressed: boolean) => inner.framingBytes?.(length, compressed) ?? LENGTH_PREFIX_BYTES;
  const countSent = (type: number | undefined, wireBytes: number) => {
    if (!counts) return;
    const keys = KIND_KEYS[KIND_OF_TYPE[type ?? 0]!]!;
    counts[keys.framesSent]!++;
    counts[keys.bytesSent]! += wireBytes;
  };
  const countReceived = (type: number | undefined, wireBytes: number) => {
    if (!counts) return;
    const keys = KIND_KEYS[KIND_OF_TYPE[type ?? 0]!]!;
    counts[keys.framesReceived]!++;
    counts[keys.bytesReceived]! += wireBytes;
  };
  let pending: Uint8Array[] = [];
  let pendingCallbacks: Array<(error?: Error) => void> = [];
  let pendingBytes = 0;
  let flushScheduled = false;
  let closed = false;
  const maxMessageBytes = compressor?.maxMessageBytes ?? 0;
  /** True when a frame of `bytes` sent now goes into a compressed batch. */
  const compresses = (bytes: number) => !closed && bytes <= maxMessageBytes && compressor!.active();

  /** Empties the batch being collected and returns its frames, their callbacks and plain bytes. */
  const takePending = () => {
    const taken = { frames: pending, callbacks: pendingCallbacks, plainBytes: pendingBytes };
    pending = [];
    pendingCallbacks = [];
    pendingBytes = 0;
    return taken;
  };
  const flush = () => {
    flushScheduled = false;
    if (pending.length === 0) return;
    const { frames, callbacks, plainBytes } = takePending();
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
    for (const frame of frames) countSent(frame[0], ((frame.byteLength + LENGTH_PREFIX_BYTES) / plainBytes) * wireBytes);
    inner.send(wire, batchWritten(callbacks));
  };
  /** Queues a frame for the next compressed batch. */
  const enqueue = (frame: Buffer, onWritten: (error?: Error) => void) => {
    if (pendingBytes + frame.byteLength + LENGTH_PREFIX_BYTES > compressor!.maxBatchBytes) flush();
    pending.push(frame);
    pendingCallbacks.push(onWritten);
    pendingBytes += frame.byteLength + LENGTH_PREFIX_BYTES;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  const send = (frame: Buffer, onWritten: (error?: Error) => void) => {
    if (compresses(frame.byteLength)) return enqueue(frame, onWritten);
    if (pending.length > 0) flush();
    countSent(frame[0], frame.byteLength + framing(frame.byteLength, false));
    inner.send(frame, onWritten);
  };
  const outer: DuplexTransport = {
    onMessage: undefined,
    onClose: undefined,
    send,
    // A batching transport takes header and payload view: kept for every frame the compressor does not take now.
    ...(inner.sendParts
      ? {
          sendParts: (header, payload, onWritten) => {
            const bytes = frameHeaderBytes(header) + payload.byteLength;
            if (compresses(bytes)) return enqueue(encodeFrame({ ...header, payload }), onWritten);
            if (pending.length > 0) flush();
            countSent(header.type, bytes + framing(bytes, false));
            inner.sendParts!(header, payload, onWritten);
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
    if (frames.length === 1 && frames[0] === data) {
      countReceived(data[0], data.byteLength + framing(data.byteLength, false)); // a plain frame
      outer.onMessage?.(data);
      return;
    }
    let plainBytes = 0;
    for (const frame of frames) plainBytes += frame.byteLength + LENGTH_PREFIX_BYTES;
    const wireBytes = data.byteLength + framing(data.byteLength, data[0] === COMPRESSED_MESSAGE_TAG);
    for (const frame of frames) countReceived(frame[0], ((frame.byteLength + LENGTH_PREFIX_BYTES) / plainBytes) * wireBytes);
    for (const frame of frames) outer.onMessage?.(frame);
  };
  // A large plain frame in parts (never a compressed message: those are at most a batch's size): counted
  // and passed on as parts, or joined for a receiver that does not take them.
  inner.onMessageParts = (data, tail) => {
    if (data[0] === COMPRESSED_MESSAGE_TAG) return inner.onMessage!(Buffer.concat([data, ...tail]));
    compressor?.decompress(data); // a plain frame (returned as is): marks the peer ready, as inner.onMessage does
    let bytes = data.byteLength;
    for (const part of tail) bytes += part.byteLength;
    countReceived(data[0], bytes + framing(bytes, false));
    if (outer.onMessageParts) return outer.onMessageParts(data, tail);
    outer.onMessage?.(Buffer.concat([data, ...tail]));
  };
  inner.onClose = (code, reason) => {
    closed = true;
    outer.onClose?.(code, reason);
    // Frames still batched can no longer go out; their callbacks hear so before the streams are freed.
    for (const callback of takePending().callbacks) callback(new Error('link closed'));
    compressor?.release?.();
  };
  return outer;
}

/** One callback for a compressed batch (returned, not assigned: tsx names assigned closures at each creation). */
function batchWritten(callbacks: Array<(error?: Error) => void>): (error?: Error) => void {
  return (error) => {
    for (const callback of callbacks) callback(error);
  };
}
