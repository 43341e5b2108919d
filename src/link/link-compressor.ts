// The seam through which a link's messages may be compressed whole, after framing and before the socket:
// one LinkCompressor per link serves both directions, the transport wrapper below calls it on every
// outgoing message (a frame today; a batch of frames once the transport batches) and every incoming one.
import type { DuplexTransport } from './establish.js';
import { encodeFrame, frameHeaderBytes } from './frame.js';
import type { LinkState } from './link-session.js';

/** Counters a compressor keeps (part of the role's LinkStats). */
export interface LinkCompressionStats {
  /** Messages sent compressed, their plain bytes, and the bytes put on the wire for them. */
  linkMessagesCompressed: number;
  linkCompressRawBytes: number;
  linkCompressWireBytes: number;
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

/** `inner` with every message passed through `compressor` (installed once the handshake is done). */
export function compressedTransport(inner: DuplexTransport, compressor: LinkCompressor): DuplexTransport {
  const outer: DuplexTransport = {
    onMessage: undefined,
    onClose: undefined,
    send: (frame, onWritten) => inner.send(compressor.compress(frame), onWritten),
    // A batching transport takes large payloads as views: keep that for frames the compressor never sees.
    ...(inner.sendParts
      ? {
          sendParts: (header, payload, onWritten) => {
            if (frameHeaderBytes(header) + payload.byteLength > compressor.maxMessageBytes) inner.sendParts!(header, payload, onWritten);
            else inner.send(compressor.compress(encodeFrame({ ...header, payload })), onWritten);
          },
        }
      : {}),
    close: (code, reason) => inner.close(code, reason),
  };
  inner.onMessage = (data) => {
    let message: Uint8Array;
    try {
      message = compressor.decompress(data);
    } catch {
      message = new Uint8Array(0); // the link's frame decoder fails it with BAD_FRAME
    }
    outer.onMessage?.(message);
  };
  inner.onClose = (code, reason) => outer.onClose?.(code, reason);
  return outer;
}
