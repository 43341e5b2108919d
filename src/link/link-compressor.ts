// The seam through which a link's messages may be compressed whole, after framing and before the socket:
// one LinkCompressor per link serves both directions, the transport wrapper below calls it on every
// outgoing frame and every incoming one. The wrapper also counts what each kind of frame costs on the
// wire (after compression, with the 4-byte length prefix of the batched framing), for the byte breakdown.
import type { DuplexTransport } from './establish.js';
import { FrameType, encodeFrame, frameHeaderBytes } from './frame.js';
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

/** Frames and wire bytes per kind and direction (wire: after compression, plus the 4-byte length prefix). */
export type FrameKindStats = { [K in FrameKind as `wire${K}FramesSent` | `wire${K}BytesSent` | `wire${K}FramesReceived` | `wire${K}BytesReceived`]: number };

export function newFrameKindStats(): FrameKindStats {
  const stats: Record<string, number> = {};
  for (const kind of FRAME_KINDS) for (const key of ['FramesSent', 'BytesSent', 'FramesReceived', 'BytesReceived']) stats[`wire${kind}${key}`] = 0;
  return stats as FrameKindStats;
}

const LENGTH_PREFIX_BYTES = 4;

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
  /** Messages larger than this are never compressed nor remembered: they may bypass compress(). */
  readonly maxMessageBytes: number;
  /** Called once by the link session: how to read its measured round trip and pacing window. */
  attach(state: () => LinkState): void;
  /** The bytes to put on the wire for one outgoing message (the message itself when not compressed). */
  compress(message: Buffer): Buffer;
  /** The message from the bytes received; throws AccelError(BAD_FRAME) when they do not decode. */
  decompress(wire: Uint8Array): Uint8Array;
}

/** `inner` with every message passed through `compressor` (when given) and counted per kind into `stats`. */
export function compressedTransport(inner: DuplexTransport, compressor: LinkCompressor | undefined, stats: FrameKindStats | undefined): DuplexTransport {
  const counts = stats as Record<string, number> | undefined;
  const sent = (type: number | undefined, wireBytes: number) => {
    if (!counts) return;
    const kind = frameKind(type);
    counts[`wire${kind}FramesSent`]!++;
    counts[`wire${kind}BytesSent`]! += wireBytes + LENGTH_PREFIX_BYTES;
  };
  const send = (frame: Buffer, onWritten: (error?: Error) => void) => {
    const wire = compressor ? compressor.compress(frame) : frame;
    sent(frame[0], wire.byteLength);
    inner.send(wire, onWritten);
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
              sent(header.type, bytes);
              inner.sendParts!(header, payload, onWritten);
            } else send(encodeFrame({ ...header, payload }), onWritten);
          },
        }
      : {}),
    close: (code, reason) => inner.close(code, reason),
  };
  inner.onMessage = (data) => {
    let message: Uint8Array;
    try {
      message = compressor ? compressor.decompress(data) : data;
    } catch {
      message = new Uint8Array(0); // the link's frame decoder fails it with BAD_FRAME
    }
    if (counts) {
      const kind = frameKind(message[0]);
      counts[`wire${kind}FramesReceived`]!++;
      counts[`wire${kind}BytesReceived`]! += data.byteLength + LENGTH_PREFIX_BYTES;
    }
    outer.onMessage?.(message);
  };
  inner.onClose = (code, reason) => outer.onClose?.(code, reason);
  return outer;
}
