// The byte-stream link transport: length-prefixed frames straight on a TCP socket (src/link/frame-batch.ts,
// frame-reader.ts), all frames of one event-loop turn (and of the turns right after it that bring more,
// turn-flush.ts) in one writev, received frames handed on as views.
// The edge asks for it with an HTTP/1.1 Upgrade (`Upgrade: hypha-accel-link`) on the gateway's own port, so
// it passes wherever the WebSocket link did; any Duplex socket works (a TLS socket later), see docs/design.md.
import http from 'node:http';
import https from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AccelError } from '../errors.js';
import type { DuplexTransport } from '../link/establish.js';
import type { FrameHeader } from '../link/frame.js';
import { FrameBatch, LENGTH_PREFIX_BYTES, type LinkFraming } from '../link/frame-batch.js';
import { compactPrefixBytes } from '../link/compact-prefix.js';
import { FrameReader } from '../link/frame-reader.js';
import { turnFlusher } from './turn-flush.js';
import { writeBatch } from './batch-write.js';
import { skipReadMoreTicks } from './read-ticks.js';

/** The Upgrade token of a byte-stream link (version 1 of its framing). */
export const LINK_UPGRADE_TOKEN = 'hypha-accel-link/1';

/**
 * The header by which the edge offers, and the gateway accepts, compact framing (varint length prefix, the
 * compressed message's tag in its low bit). Without it in both the request and the 101: u32 prefixes.
 */
export const LINK_FRAMING_HEADER = 'hypha-accel-link-framing';
export const COMPACT_FRAMING = 'varint-v1';

const CLOSE_GRACE_MS = 2000;
/**
 * A batch holding this much is written at once instead of at the end of the turn: batching saves system
 * calls for small frames, and past a full frame's worth there is little left to save, while a busy turn
 * (the payload plane coding one array slice after another) would otherwise hold the link idle until it ends
 * (docs/design.md, "When writes leave").
 */
export const BATCH_FLUSH_BYTES = 64 * 1024;

export function tcpLinkTransport(socket: Duplex, maxFrameBytes: number, head?: Buffer, framing: LinkFraming = 'u32'): DuplexTransport {
  const batch = new FrameBatch(framing);
  const reader = new FrameReader(maxFrameBytes, framing, true);
  let flushScheduled = false;
  let closed = false;
  let closeCode = 1006;
  let closeReason = '';
  (socket as Socket).setNoDelay?.(true);
  skipReadMoreTicks(socket);

  const writeOut = () => {
    if (batch.empty) return;
    const { chunks, callbacks } = batch.take();
    const done = batchWritten(callbacks);
    if (socket.destroyed || !socket.writable) return done(new Error('link socket is not open'));
    writeBatch(socket, chunks, done);
  };
  const flush = () => {
    flushScheduled = false;
    writeOut();
  };
  const scheduleFlush = () => {
    if (flushScheduled) return turnFlusher.onQueued();
    flushScheduled = true;
    turnFlusher.onQueued(flush);
  };
  /** After a push: a batch of a full frame's worth leaves now, a smaller one at the end of the turn. */
  const pushed = () => (batch.pendingBytes >= BATCH_FLUSH_BYTES ? writeOut() : scheduleFlush());

  const transport: DuplexTransport & { sendParts(header: FrameHeader, payload: Uint8Array, onWritten: (error?: Error) => void): void } = {
    onMessage: undefined,
    onMessageParts: undefined,
    onClose: undefined,
    framingBytes: framing === 'u32' ? () => LENGTH_PREFIX_BYTES : (length, compressed) => (compressed ? compactPrefixBytes((length - 1) * 2 + 1) - 1 : compactPrefixBytes(length * 2)),
    send(frame, onWritten) {
      if (closed) return onWritten(new Error('link socket is not open'));
      batch.pushEncoded(frame, onWritten);
      pushed();
    },
    sendParts(header, payload, onWritten) {
      if (closed) return onWritten(new Error('link socket is not open'));
      batch.push(header, payload, onWritten);
      pushed();
    },
    close(code, reason) {
      if (closed) return;
      closed = true;
      closeCode = code;
      closeReason = reason;
      flush(); // a GOAWAY queued just before still goes out
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    },
  };

  // A large frame cut across reads comes as views; joined only for a receiver that does not take parts.
  const onFrame = (frame: Uint8Array, tail?: Uint8Array[]) => {
    if (!tail) return transport.onMessage?.(frame);
    if (transport.onMessageParts) return transport.onMessageParts(frame, tail);
    transport.onMessage?.(Buffer.concat([frame, ...tail]));
  };
  const onData = (chunk: Buffer) => {
    try {
      reader.push(chunk, onFrame);
    } catch (error) {
      closeCode = 1009;
      closeReason = (error as AccelError).code ?? 'HYPHA_ACCEL_ERR_BAD_FRAME';
      closed = true;
      socket.destroy();
    }
  };
  socket.on('data', onData);
  socket.on('end', () => {
    if (closeCode === 1006) closeCode = 1000;
    socket.end();
  });
  socket.on('close', () => {
    closed = true;
    transport.onClose?.(closeCode, closeReason);
  });
  socket.on('error', (error: Error) => {
    // A TLS record that fails its check (or a TLS alert from the peer) emits 'error' but leaves the socket
    // open (Node 24): without destroy() the link would hang until the keep-alive timeout. 'close' follows.
    if (!closeReason) closeReason = error.message.slice(0, 120);
    socket.destroy();
  });
  if (head && head.length > 0) setImmediate(() => onData(head));
  return transport;
}

/** One completion for a batch's frames (returned, not assigned: tsx names assigned closures at each creation). */
function batchWritten(callbacks: Array<(error?: Error) => void>): (error?: Error | null) => void {
  return (error) => {
    for (let i = 0; i < callbacks.length; i++) callbacks[i]!(error ?? undefined); // not for-of: no iterator per batch
  };
}

/**
 * Edge: asks the gateway for a byte-stream link at `url` (http:// form, or https:// for a link over TLS,
 * verified with `tls`) and resolves with its transport. `socketPath`: over the gateway's Unix socket instead.
 */
export function dialTcpLink(url: URL, options: { maxFrameBytes: number; timeoutMs: number; tls?: ConnectionOptions; socketPath?: string }): Promise<DuplexTransport> {
  return new Promise((resolve, reject) => {
    const overTls = url.protocol === 'https:' && !options.socketPath;
    const request = (overTls ? https : http).request(url, {
      headers: { Connection: 'Upgrade', Upgrade: LINK_UPGRADE_TOKEN, [LINK_FRAMING_HEADER]: COMPACT_FRAMING },
      timeout: options.timeoutMs,
      ...(overTls ? { ...options.tls, agent: false } : {}),
      ...(options.socketPath ? { socketPath: options.socketPath, agent: false } : {}),
    });
    request.once('upgrade', (res, socket, head) => {
      socket.setTimeout(0); // the dial timeout stays on the socket otherwise, and every read and write re-arms its timer
      // An older gateway ignores the offer and answers without the header: u32 framing.
      const framing = res.headers[LINK_FRAMING_HEADER] === COMPACT_FRAMING ? 'varint' : 'u32';
      resolve(tcpLinkTransport(socket, options.maxFrameBytes, head, framing));
    });
    request.once('response', (res) => {
      res.resume();
      reject(new AccelError('HYPHA_ACCEL_ERR_NO_LINK', `gateway answered the link upgrade with HTTP ${res.statusCode}`));
    });
    request.once('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    const where = options.socketPath ? `unix://${options.socketPath}` : url.href;
    request.once('error', (error) => reject(new AccelError('HYPHA_ACCEL_ERR_NO_LINK', `cannot reach the gateway at ${where}: ${error.message}`)));
    request.end();
  });
}

/** Gateway: true when an upgrade request asks for a byte-stream link. */
export function wantsTcpLink(req: http.IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === LINK_UPGRADE_TOKEN;
}

/**
 * Gateway: answers the upgrade with 101 and returns the link transport on the socket; compact framing when
 * the request offered it (`req`; an older edge does not).
 */
export function acceptTcpLink(socket: Duplex, head: Buffer, maxFrameBytes: number, req?: http.IncomingMessage): DuplexTransport {
  const compact = req?.headers[LINK_FRAMING_HEADER] === COMPACT_FRAMING;
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${LINK_UPGRADE_TOKEN}\r\n${compact ? `${LINK_FRAMING_HEADER}: ${COMPACT_FRAMING}\r\n` : ''}\r\n`);
  return tcpLinkTransport(socket, maxFrameBytes, head, compact ? 'varint' : 'u32');
}
