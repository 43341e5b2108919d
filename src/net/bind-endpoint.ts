// Binds an endpoint WebSocket (a client at the edge, the upstream hypha socket at the gateway) to its
// session (one link stream, or a session that outlives its link): messages pass with their opcode, one message stays one message, closes are mirrored with
// how the connection ended (ws-close.ts), and an exhausted credit window pauses reading the socket.
import WebSocket from 'ws';
import type { Logger } from 'pino';
import type { SessionPort } from '../link/session-port.js';
import type { TraceContext } from '../link/frame.js';
import { channels, observingMessages, publishMessage, publishSession, type Direction, type MessageEvent, type RoleName } from '../events.js';
import { EndKind } from '../link/frame.js';
import { CLOSE_GRACE_MS, END_KIND_NAMES, mirrorClose, watchEnd } from './ws-close.js';
import { writeCoalescer } from './write-coalescing.js';
import { endpointWriter, type EndpointWriter, type WriteArena } from './endpoint-writer.js';
import { OBSERVED_HEAD_BYTES, ingressSink, type IngressTap } from './ingress-tap.js';
import { skipReadMoreTicks } from './read-ticks.js';

export interface EndpointBinding {
  role: RoleName;
  sessionId: string;
  /** Direction of messages that ENTER the proxy from this endpoint. */
  inbound: Direction;
  log: Logger;
  onClosed?: (code: number, reason: string) => void;
  /** Ingress cut-through on this socket (src/net/ingress-tap.ts); without it messages arrive whole. */
  ingress?: IngressTap;
  /** The role's write memory, shared by all its endpoint sockets (endpoint-writer.ts). */
  writeArena: WriteArena;
}

export function bindEndpoint(ws: WebSocket, stream: SessionPort, binding: EndpointBinding): void {
  const { role, sessionId, inbound, log } = binding;
  const outbound: Direction = inbound === 'up' ? 'down' : 'up';
  const coalesce = writeCoalescer(ws);
  let writer: EndpointWriter | undefined | null = null; // null: not looked at yet (made once the socket is open)
  const writerOf = () => (writer === null ? (writer = endpointWriter(ws, binding.writeArena)) : writer);
  const onWritten = (written: () => void) => () => {
    written();
    if (--unwrittenMessages === 0) afterWrites?.();
  };
  const end = watchEnd(ws);
  skipReadMoreTicks((ws as unknown as { _socket?: unknown })._socket);
  let unwrittenMessages = 0;
  let afterWrites: (() => void) | undefined;
  // A cut-through message as observers see it: its first fragment (all of them for whole-message observers), length, trace.
  let observedFragments: Buffer[] = [];
  let observedBytes = 0;
  let observedWhole = false;
  let observedTrace: TraceContext | undefined;
  log.debug({ role, sessionId }, 'session open');
  stream.bind({
    onMessage(data, isText, written, trace) {
      if (observingMessages()) publishMessage({ role, sessionId, direction: outbound, hop: 'out', isBinary: !isText, data, trace, bytes: undefined });
      if (ws.readyState !== WebSocket.OPEN) return written();
      unwrittenMessages++;
      const direct = writerOf();
      if (direct) return direct.send(data, isText, true, onWritten(written));
      coalesce();
      ws.send(data, { binary: !isText }, onWritten(written));
    },
    onFragment(data, isText, fin, written, trace, tail) {
      if (trace) observedTrace = trace;
      const first = observedBytes === 0;
      if (first) observedWhole = channels.wholeMessage.hasSubscribers;
      // The head is (at most the first OBSERVED_HEAD_BYTES of) the first link frame; a copy, as the endpoint
      // writer may mask `data` in place. Whole-message observers get every fragment.
      if ((observedWhole || first) && observingMessages()) {
        // A head within the first part is copied alone; the parts are joined only when it reaches past it.
        const whole = tail && (observedWhole || data.length < OBSERVED_HEAD_BYTES) ? Buffer.concat([data, ...tail]) : data;
        observedFragments.push(Buffer.from(observedWhole ? whole : whole.subarray(0, OBSERVED_HEAD_BYTES)));
      }
      observedBytes += data.length;
      if (tail) for (const part of tail) observedBytes += part.length;
      if (fin) {
        if (observingMessages() && observedFragments.length > 0) {
          const head = observedWhole ? Buffer.concat(observedFragments) : observedFragments[0]!;
          publishMessage({ role, sessionId, direction: outbound, hop: 'out', isBinary: !isText, data: head, trace: observedTrace, bytes: observedWhole ? undefined : observedBytes });
        }
        observedFragments = [];
        observedBytes = 0;
        observedTrace = undefined;
      }
      if (ws.readyState !== WebSocket.OPEN) return written();
      unwrittenMessages++;
      const direct = writerOf();
      // A fragment is a link frame this process owns: a client socket may mask it in place instead of copying.
      if (direct) return direct.send(data, isText, fin, onWritten(written), true, tail);
      coalesce();
      ws.send(tail ? Buffer.concat([data, ...tail]) : data, { binary: !isText, fin }, onWritten(written));
    },
    onRemoteClose(code, reason, endKind) {
      log.debug({ role, sessionId, code, reasonBytes: Buffer.byteLength(reason), end: END_KIND_NAMES[endKind], endedBy: 'far endpoint' }, 'session end');
      const hasClose = code !== 1006 && endKind !== EndKind.DROPPED && endKind !== EndKind.RESET;
      // ws sends a Close after the messages queued before it; a bare TCP end must wait for them itself.
      if (hasClose || unwrittenMessages === 0) return mirrorClose(ws, code, reason, endKind);
      afterWrites = () => mirrorClose(ws, code, reason, endKind);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
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
  // Every message event here has the same keys in the same order (trace and bytes present even when undefined,
  // never added later by tracing): the observers that read each message then see one object shape.
  const received = (data: Buffer, isBinary: boolean) => {
    if (!observingMessages()) return stream.sendMessage(data, !isBinary);
    const event: MessageEvent = { role, sessionId, direction: inbound, hop: 'in', isBinary, data, trace: undefined, bytes: undefined };
    publishMessage(event);
    stream.sendMessage(data, !isBinary, event.trace); // tracing may have set the call's trace context
  };
  const { takesPieces, sendPiece } = stream;
  const pieces = takesPieces && sendPiece ? { takesPieces: takesPieces.bind(stream), sendPiece: sendPiece.bind(stream) } : { takesPieces: () => false, sendPiece: () => {} };
  binding.ingress?.attach({
    ...ingressSink(pieces, (head, bytes) => {
      const event: MessageEvent = { role, sessionId, direction: inbound, hop: 'in', isBinary: true, data: head, trace: undefined, bytes };
      publishMessage(event);
      return event.trace; // tracing may have set the call's trace context
    }),
    message: (data) => received(data, true), // a small binary message that came whole in one read (ws skipped)
  });
  ws.on('message', received);
  ws.on('close', (code: number, reasonBuffer: Buffer) => {
    const reason = reasonBuffer.toString('utf8');
    const endKind = end.kind(code);
    if (!stream.remoteClosed) {
      log.debug({ role, sessionId, code, reasonBytes: reasonBuffer.length, end: END_KIND_NAMES[endKind], endedBy: 'endpoint' }, 'session end');
    }
    stream.close(code, reason, endKind);
    publishSession({ role, sessionId, event: 'close', code, reason, viaLink: true });
    binding.onClosed?.(code, reason);
  });
  ws.on('error', (error) => log.debug({ sessionId, err: error.message }, 'endpoint socket error'));
}
