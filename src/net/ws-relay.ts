// Relays two WebSockets directly (the gateway's passthrough for clients without an edge): same opcodes,
// one message stays one message, closes mirrored with how each side ended, and a slow side pauses reading
// the fast one. Each message is published once to observers (metrics, call pairing) while anyone observes.
import WebSocket from 'ws';
import { observingMessages, publishMessage, type RoleName } from '../events.js';
import { mirrorClose, watchEnd } from './ws-close.js';

/** Who the relayed messages belong to, for observers: `a` is the client, `b` the upstream (hypha). */
export interface RelayObserved {
  role: RoleName;
  sessionId: string;
}

const HIGH_WATER_BYTES = 4 * 1024 * 1024;

export function relayWebSockets(a: WebSocket, b: WebSocket, onClosed: () => void, observed?: RelayObserved): void {
  // A passthrough message enters and leaves at once: published as the client's message coming in (up, hop in)
  // or hypha's going out to the client (down, hop out), so a call pairs with its reply as on a link session.
  pipeOneWay(a, b, observed && { ...observed, direction: 'up', hop: 'in' });
  pipeOneWay(b, a, observed && { ...observed, direction: 'down', hop: 'out' });
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

function pipeOneWay(from: WebSocket, to: WebSocket, observed?: RelayObserved & { direction: 'up' | 'down'; hop: 'in' | 'out' }): void {
  from.on('message', (data: Buffer, isBinary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return;
    if (observed && observingMessages()) publishMessage({ ...observed, isBinary, data, passthrough: true });
    to.send(data, { binary: isBinary }, () => {
      if (from.isPaused && to.bufferedAmount < HIGH_WATER_BYTES / 2) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER_BYTES) from.pause();
  });
}
