// Puts an IngressParser in front of a `ws` WebSocket's receiver, so that large binary messages reach the
// link as their frames arrive instead of whole (ws only delivers complete messages). Installed before the
// first byte is read; without permessage-deflate only (a compressed message has to be inflated whole).
import type WebSocket from 'ws';
import { IngressParser, type IngressSink } from './ingress-parser.js';

/** The parts of ws's internals the tap relies on (ws 8: `_receiver` is the Writable fed by the socket). */
interface WsInternals {
  _receiver?: { write(chunk: Buffer): boolean };
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
  const parser = new IngressParser({ isServer, maxMessageBytes }, {
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

/** A frame header ws refuses with 1009: a 64-bit length above 2^53 - 1. */
function oversizedFrame(isServer: boolean): Buffer {
  return Buffer.from([0x82, (isServer ? 0x80 : 0) | 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
}

/** A frame header ws refuses with 1002: RSV2 set. */
function reservedBitsFrame(): Buffer {
  return Buffer.from([0xa2, 0x00]);
}
