// Adapts a `ws` WebSocket carrying a link into the link layer's DuplexTransport.
import WebSocket from 'ws';
import type { DuplexTransport } from '../link/establish.js';
import { writeCoalescer } from './write-coalescing.js';

const CLOSE_GRACE_MS = 2000;

export function wsLinkTransport(ws: WebSocket): DuplexTransport {
  const coalesce = writeCoalescer(ws);
  const transport: DuplexTransport = {
    onMessage: undefined,
    onClose: undefined,
    send(frame, onWritten) {
      if (ws.readyState !== WebSocket.OPEN) return onWritten(new Error('link socket is not open'));
      coalesce();
      ws.send(frame, { binary: true }, onWritten);
    },
    close(code, reason) {
      if (ws.readyState === WebSocket.CLOSED) return;
      try {
        ws.close(code, reason);
      } catch {
        ws.terminate();
      }
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    },
  };
  ws.on('message', (data: Buffer, isBinary) => {
    // A text message is never a link frame: give the decoder an empty buffer so it fails with BAD_FRAME.
    transport.onMessage?.(isBinary ? data : Buffer.alloc(0));
  });
  ws.on('close', (code, reason) => transport.onClose?.(code, reason.toString()));
  ws.on('error', () => {
    /* 'close' follows every error; the link layer reports it there */
  });
  return transport;
}
