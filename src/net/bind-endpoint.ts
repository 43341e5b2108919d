// Binds an endpoint WebSocket (a client at the edge, the upstream hypha socket at the gateway) to its
// link stream: messages pass with their opcode, one message stays one message, closes are mirrored,
// and an exhausted credit window pauses reading the socket.
import WebSocket from 'ws';
import type { Logger } from 'pino';
import type { LinkSession } from '../link/link-session.js';
import type { Stream } from '../link/stream.js';
import type { TraceContext } from '../link/frame.js';
import { channels, publishSession, type Direction, type MessageEvent, type RoleName } from '../events.js';
import { mirrorClose } from './ws-close.js';
import { writeCoalescer } from './write-coalescing.js';

export interface EndpointBinding {
  role: RoleName;
  sessionId: string;
  /** Direction of messages that ENTER the proxy from this endpoint. */
  inbound: Direction;
  log: Logger;
  onClosed?: (code: number, reason: string) => void;
}

export function bindEndpoint(ws: WebSocket, stream: Stream, link: LinkSession, binding: EndpointBinding): void {
  const { role, sessionId, inbound, log } = binding;
  const outbound: Direction = inbound === 'up' ? 'down' : 'up';
  const coalesce = writeCoalescer(ws);
  // A cut-through message as observers see it: its pieces (only while the message channel has subscribers) and trace.
  let observedFragments: Buffer[] = [];
  let observedTrace: TraceContext | undefined;
  stream.bind({
    onMessage(data, isText, written, trace) {
      if (channels.message.hasSubscribers) channels.message.publish({ role, sessionId, direction: outbound, hop: 'out', isBinary: !isText, data, trace });
      if (ws.readyState !== WebSocket.OPEN) return written();
      coalesce();
      ws.send(data, { binary: !isText }, () => written());
    },
    onFragment(data, isText, fin, written, trace) {
      if (trace) observedTrace = trace;
      if (channels.message.hasSubscribers) {
        observedFragments.push(data);
        if (fin) {
          channels.message.publish({ role, sessionId, direction: outbound, hop: 'out', isBinary: !isText, data: Buffer.concat(observedFragments), trace: observedTrace });
          observedFragments = [];
        }
      }
      if (fin) observedTrace = undefined;
      if (ws.readyState !== WebSocket.OPEN) return written();
      coalesce();
      ws.send(data, { binary: !isText, fin }, () => written());
    },
    onRemoteClose(code, reason) {
      mirrorClose(ws, code, reason);
    },
    onAbort(error) {
      const level = error.code === 'HYPHA_ACCEL_ERR_SHUTDOWN' ? 'info' : 'warn';
      log[level]({ code: error.code, sessionId, err: error.message }, 'session aborted');
      mirrorClose(ws, error.spec.wsClose || 1011, error.code === 'HYPHA_ACCEL_ERR_SHUTDOWN' ? 'proxy stopping' : 'proxy link lost');
    },
    onPause() {
      ws.pause();
    },
    onResume() {
      ws.resume();
    },
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!channels.message.hasSubscribers) return stream.sendMessage(data, !isBinary);
    const event: MessageEvent = { role, sessionId, direction: inbound, hop: 'in', isBinary, data };
    channels.message.publish(event);
    stream.sendMessage(data, !isBinary, event.trace); // tracing may have set the call's trace context
  });
  ws.on('close', (code: number, reasonBuffer: Buffer) => {
    const reason = reasonBuffer.toString('utf8');
    link.closeStream(stream, code, reason);
    publishSession({ role, sessionId, event: 'close', code, reason, viaLink: true });
    binding.onClosed?.(code, reason);
  });
  ws.on('error', (error) => log.debug({ sessionId, err: error.message }, 'endpoint socket error'));
}
