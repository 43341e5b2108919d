// Puts an IngressParser in front of a `ws` WebSocket's receiver, so that large binary messages reach the
// link as their frames arrive instead of whole (ws only delivers complete messages), and small binary
// messages that arrive whole in one read reach it without ws's per-message work. Installed before the
// first byte is read; without permessage-deflate only (a compressed message has to be inflated whole).
import type WebSocket from 'ws';
import { IngressParser, type IngressSink } from './ingress-parser.js';
import { channels } from '../events.js';
import type { TraceContext } from '../link/frame.js';

/** The parts of ws's internals the tap relies on (ws 8: `_receiver` is the Writable fed by the socket). */
interface WsInternals {
  _receiver?: { write(chunk: Buffer): boolean; _errored?: boolean };
  _extensions?: Record<string, unknown>;
  _isServer?: boolean;
}

export interface IngressTap {
  /** Large binary messages from now on go to `sink` (decided per message, at its first frame). */
  attach(sink: IngressSink): void;
}

/**
 * Call synchronously when ws hands over the socket (handleUpgrade's callback, or 'open' on a client),
 * before any byte reaches ws's receiver. Returns undefined where the data path keeps ws's receiver
 * (permessage-deflate negotiated, or a ws without the expected internals).
 */
export function tapIngress(ws: WebSocket, maxMessageBytes: number): IngressTap | undefined {
  const internals = ws as unknown as WsInternals;
  const receiver = internals._receiver;
  if (!receiver || typeof receiver.write !== 'function' || typeof internals._isServer !== 'boolean') return undefined;
  if (internals._extensions && Object.keys(internals._extensions).length > 0) return undefined;
  const isServer = internals._isServer;
  const write = receiver.write.bind(receiver);
  let written = true;
  const parser = new IngressParser({ isServer, maxMessageBytes, wholeMessageBytes: WHOLE_MESSAGE_BYTES }, {
    reading: () => receiver._errored !== true,
    pass(bytes) {
      written = write(bytes);
    },
    fail(code) {
      // ws closes the connection itself, with the right code, for a frame it refuses: give it one.
      written = write(code === 1009 ? oversizedFrame(isServer) : reservedBitsFrame());
    },
  });
  receiver.write = (chunk: Buffer) => {
    written = true;
    parser.write(chunk);
    return written;
  };
  return {
    attach(sink) {
      parser.sink = sink;
    },
  };
}

/**
 * Binary messages up to this size that arrive whole in one read skip ws's receiver (its stream write,
 * state loop and two events per message); larger ones are rare among RPC messages and take the paths above.
 */
const WHOLE_MESSAGE_BYTES = 16 * 1024;

/** A frame header ws refuses with 1009: a 64-bit length above 2^53 - 1. */
function oversizedFrame(isServer: boolean): Buffer {
  return Buffer.from([0x82, (isServer ? 0x80 : 0) | 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
}

/** A frame header ws refuses with 1002: RSV2 set. */
function reservedBitsFrame(): Buffer {
  return Buffer.from([0xa2, 0x00]);
}

/** Observers see a taken message by its head: at least this many bytes (or all of it); at egress, at most this much of its first fragment. */
export const OBSERVED_HEAD_BYTES = 4096;

/**
 * The sink that sends a taken message's pieces onto `stream`. While messages are observed, the first
 * pieces are held until the head is in (a copy of at most one read), `observe(head, bytes)` is told, and
 * the trace context it returns goes with the first frame. Whole-message observers keep ws's path.
 */
export interface PieceSender {
  takesPieces(frameBytes: number, final: boolean): boolean;
  sendPiece(piece: Uint8Array, fin: boolean, trace?: TraceContext): void;
}

export function ingressSink(stream: PieceSender, observe: (head: Buffer, bytes: number) => TraceContext | undefined): IngressSink {
  let messageBytes = 0;
  let held: Buffer[] | undefined; // pieces waiting for the head to be observed
  let heldBytes = 0;
  return {
    wants(frameBytes, final) {
      if (channels.wholeMessage.hasSubscribers || !stream.takesPieces(frameBytes, final)) return false;
      messageBytes = frameBytes;
      held = channels.message.hasSubscribers ? [] : undefined;
      heldBytes = 0;
      return true;
    },
    piece(data, fin) {
      if (!held) return stream.sendPiece(data, fin);
      held.push(data);
      heldBytes += data.length;
      if (heldBytes < OBSERVED_HEAD_BYTES && !fin) return;
      const pieces = held;
      held = undefined;
      const trace = observe(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, heldBytes), messageBytes);
      pieces.forEach((piece, i) => stream.sendPiece(piece, fin && i === pieces.length - 1, i === 0 ? trace : undefined));
    },
  };
}
