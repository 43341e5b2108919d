// Close fidelity for `ws` sockets: tells HOW an endpoint's connection ended (close handshake, Close then
// TCP dropped, TCP dropped or reset without a Close) and ends the other hop the same way, so an endpoint
// sees through the proxies what it would see directly (same code and reason, same moment its TCP ends).
import type { Socket } from 'node:net';
import type { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { EndKind, type EndKindValue } from '../link/frame.js';
import { resetOrDestroy } from './socket-reset.js';

/** How long a close handshake may wait for the endpoint's answering Close before the socket is dropped. */
export const CLOSE_GRACE_MS = 5000;

/** `ws` keeps the TCP socket and the frame receiver in these fields (ws 8, pinned in package-lock). */
interface WsInternals {
  _socket?: Socket;
  _receiver?: EventEmitter;
  _closeFrameReceived?: boolean;
  _closeFrameSent?: boolean;
}

export const END_KIND_NAMES: Record<EndKindValue, string> = {
  [EndKind.UNSAID]: 'unsaid',
  [EndKind.HANDSHAKE]: 'handshake',
  [EndKind.CLOSE_THEN_DROP]: 'close-then-drop',
  [EndKind.DROPPED]: 'dropped',
  [EndKind.RESET]: 'reset',
};

export interface EndWatch {
  /** How the connection ended, given the code of ws's 'close' event (1006: no Close frame arrived). */
  kind(code: number): EndKindValue;
  /** True when the proxy sent its Close first (mirroring the other hop) and the endpoint answered it. */
  readonly closedByProxy: boolean;
}

/**
 * Watches an open WebSocket's transport to tell how the endpoint ended it. `ws` answers a received Close
 * at once; an endpoint that waits for that answer closes its TCP only after reading it, while one that
 * drops its TCP right after its Close (hypha on a restart, 1012) has its FIN in our receive buffer already.
 * So a FIN (or a write/read error) seen before the event loop's NEXT check phase after the Close was read
 * means "Close then drop". libuv ends a read loop on a short read, so an EOF already queued is read one
 * loop turn later, which is why the window spans two setImmediate hops.
 */
export function watchEnd(ws: WebSocket): EndWatch {
  const internals = ws as unknown as WsInternals;
  const socket = internals._socket;
  let closeReceived = false;
  let inDropWindow = false;
  let droppedAfterClose = false;
  let reset = false;
  const watch = {
    closedByProxy: false,
    kind(code: number): EndKindValue {
      if (closeReceived) return droppedAfterClose ? EndKind.CLOSE_THEN_DROP : EndKind.HANDSHAKE;
      if (code === 1006) return reset ? EndKind.RESET : EndKind.DROPPED;
      return EndKind.UNSAID; // a close ws itself started (a protocol error, a message too large)
    },
  };
  // Listeners run after ws's own, which has answered the Close (unless ours had gone out already).
  internals._receiver?.on('conclude', () => {
    closeReceived = true;
    // Our Close was written before the endpoint's arrived: the endpoint answered it, a handshake.
    if (internals._closeFrameSent) watch.closedByProxy = true;
    else {
      inDropWindow = true;
      setImmediate(() => setImmediate(() => (inDropWindow = false)));
    }
  });
  socket?.on('end', () => {
    if (inDropWindow) droppedAfterClose = true;
  });
  socket?.on('error', (error: NodeJS.ErrnoException) => {
    if (!closeReceived) reset ||= error.code === 'ECONNRESET';
    else if (!watch.closedByProxy) droppedAfterClose = true; // our answering Close could not be written
  });
  return watch;
}

/**
 * Ends `ws` the way the other hop's endpoint ended: a Close (1005 = without a code) that waits for the
 * answering Close (a handshake, or a peer that did not say), a Close after which the TCP connection ends
 * as soon as the Close is written (close-then-drop), or no Close at all: TCP closed (dropped, 1006) or
 * reset (RST).
 */
export function mirrorClose(ws: WebSocket, code: number, reason: string, endKind: EndKindValue = EndKind.UNSAID): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  const socket = (ws as unknown as WsInternals)._socket;
  if (endKind === EndKind.RESET && socket) {
    resetOrDestroy(socket);
    return;
  }
  if (code === 1006 || code === 0 || endKind === EndKind.DROPPED || endKind === EndKind.RESET) {
    // No Close: end TCP after what was sent before (as the endpoint's own FIN did), then drop it.
    if (socket && !socket.destroyed) socket.end();
    else ws.terminate();
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    return;
  }
  if (endKind === EndKind.CLOSE_THEN_DROP && ws.readyState === WebSocket.OPEN) {
    // ws ends the TCP connection once its own Close is written when it holds the peer's Close already;
    // claiming so makes it end right after the Close leaves (after any message queued before it).
    (ws as unknown as WsInternals)._closeFrameReceived = true;
  }
  try {
    if (code === 1005) ws.close();
    else ws.close(code, reason);
  } catch {
    // ws refuses codes a peer may not send (1004, 1015, out of range): end the connection abnormally.
    ws.terminate();
    return;
  }
  setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
}
