// Relays two WebSockets directly (the gateway's passthrough for clients without an edge): same opcodes,
// one message stays one message, closes mirrored with how each side ended, and a slow side pauses reading
// the fast one.
import WebSocket from 'ws';
import { mirrorClose, watchEnd } from './ws-close.js';

const HIGH_WATER_BYTES = 4 * 1024 * 1024;

export function relayWebSockets(a: WebSocket, b: WebSocket, onClosed: () => void): void {
  pipeOneWay(a, b);
  pipeOneWay(b, a);
  let closed = 0;
  const closeOther = (self: WebSocket, other: WebSocket) => {
    const end = watchEnd(self);
    return (code: number, reason: Buffer) => {
      mirrorClose(other, code, reason.toString('utf8'), end.kind(code));
      if (++closed === 2) onClosed();
    };
  };
  a.on('close', closeOther(a, b));
  b.on('close', closeOther(b, a));
  a.on('error', () => {});
  b.on('error', () => {});
}

function pipeOneWay(from: WebSocket, to: WebSocket): void {
  from.on('message', (data: Buffer, isBinary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary: isBinary }, () => {
      if (from.isPaused && to.bufferedAmount < HIGH_WATER_BYTES / 2) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER_BYTES) from.pause();
  });
}
