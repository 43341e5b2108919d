// Adapts a `ws` WebSocket carrying a link into the link layer's DuplexTransport. When both sides agreed on
// the subprotocol LINK_WS_PROTOCOL, each WebSocket message carries all frames of one event-loop turn,
// length-prefixed as on the byte-stream link (src/link/frame-batch.ts); otherwise one frame per message.
import WebSocket from 'ws';
import { AccelError } from '../errors.js';
import type { DuplexTransport } from '../link/establish.js';
import type { FrameHeader } from '../link/frame.js';
import { FrameBatch } from '../link/frame-batch.js';
import { FrameReader } from '../link/frame-reader.js';
import { writeCoalescer } from './write-coalescing.js';

/** The WebSocket subprotocol of a link whose messages carry many length-prefixed frames. */
export const LINK_WS_PROTOCOL = 'hypha-accel-link.batched.v1';

const CLOSE_GRACE_MS = 2000;
/** A batched message is sent once it holds this much, without waiting for the end of the turn. */
const BATCH_FLUSH_BYTES = 512 * 1024;

/** The largest batched link message a receiver accepts: a full batch plus one largest frame. */
export function maxBatchedLinkMessageBytes(maxLinkMessageBytes: number): number {
  return BATCH_FLUSH_BYTES + 2 * (maxLinkMessageBytes + 4);
}

type Transport = DuplexTransport & {
  sendParts?(header: FrameHeader, payload: Uint8Array, onWritten: (error?: Error) => void): void;
  /** Sends what is batched now (before a close, so a GOAWAY precedes it). */
  flush?(): void;
};

export function wsLinkTransport(ws: WebSocket, maxFrameBytes = 0): DuplexTransport {
  const batched = ws.protocol === LINK_WS_PROTOCOL;
  const transport: Transport = batched ? batchedSender(ws) : singleSender(ws);
  transport.close = (code, reason) => {
    if (ws.readyState === WebSocket.CLOSED) return;
    transport.flush?.();
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate();
    }
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  };
  const reader = batched ? new FrameReader(maxFrameBytes) : undefined;
  ws.on('message', (data: Buffer, isBinary) => {
    // A text message is never a link frame: give the decoder an empty buffer so it fails with BAD_FRAME.
    if (!isBinary) return transport.onMessage?.(Buffer.alloc(0));
    if (!reader) return transport.onMessage?.(data);
    try {
      reader.push(data, (frame) => transport.onMessage?.(frame));
      if (!reader.idle) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'a link message ended inside a frame');
    } catch (error) {
      ws.close(1009, (error as AccelError).code ?? 'HYPHA_ACCEL_ERR_BAD_FRAME');
      ws.terminate();
    }
  });
  ws.on('close', (code, reason) => transport.onClose?.(code, reason.toString()));
  ws.on('error', () => {
    /* 'close' follows every error; the link layer reports it there */
  });
  return transport;
}

function singleSender(ws: WebSocket): Transport {
  const coalesce = writeCoalescer(ws);
  return {
    onMessage: undefined,
    onClose: undefined,
    send(frame, onWritten) {
      if (ws.readyState !== WebSocket.OPEN) return onWritten(new Error('link socket is not open'));
      coalesce();
      ws.send(frame, { binary: true }, onWritten);
    },
    close() {},
  };
}

/** Frames of one turn go out as one WebSocket message (its fragments are the batch's chunks: no copy). */
function batchedSender(ws: WebSocket): Transport {
  const batch = new FrameBatch();
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (batch.empty) return;
    const { chunks, callbacks } = batch.take();
    const done = (error?: Error) => {
      for (const callback of callbacks) callback(error);
    };
    if (ws.readyState !== WebSocket.OPEN) return done(new Error('link socket is not open'));
    for (let i = 0; i < chunks.length; i++) {
      const fin = i === chunks.length - 1;
      ws.send(chunks[i]!, { binary: true, fin }, fin ? done : undefined);
    }
  };
  const schedule = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  };
  return {
    onMessage: undefined,
    onClose: undefined,
    send(frame, onWritten) {
      if (ws.readyState !== WebSocket.OPEN) return onWritten(new Error('link socket is not open'));
      batch.pushEncoded(frame, onWritten);
      if (batch.pendingBytes >= BATCH_FLUSH_BYTES) flush();
      else schedule();
    },
    sendParts(header, payload, onWritten) {
      if (ws.readyState !== WebSocket.OPEN) return onWritten(new Error('link socket is not open'));
      batch.push(header, payload, onWritten);
      if (batch.pendingBytes >= BATCH_FLUSH_BYTES) flush();
      else schedule();
    },
    flush,
    close() {},
  };
}
