// Writes the fragments of a cut-through message (src/link/stream.ts onFragment) as WebSocket frames straight
// to an endpoint's socket: a client socket (the gateway's upstream to hypha) masks the payload in place, in
// a buffer this process owns, where ws.send would copy every byte into a new frame. Used only while ws's
// own sender is idle and without permessage-deflate; otherwise the caller keeps ws.send.
import { randomFillSync } from 'node:crypto';
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { unmaskInPlace } from './ingress-parser.js';

/** The parts of ws's internals this relies on (ws 8). */
interface WsInternals {
  _socket?: Socket;
  _isServer?: boolean;
  _extensions?: Record<string, unknown>;
  _sender?: { _state?: number; _queue?: unknown[] };
}

/** Random mask bytes are drawn this many at a time (ws draws 8 KiB likewise). */
const MASK_POOL_BYTES = 8192;

export interface FragmentWriter {
  /**
   * Writes one fragment (`first`: opens the message with its opcode, else a continuation; `fin`: the last).
   * `data` is masked in place on a client socket: the caller must not read it afterwards.
   * Returns false when it cannot write (caller falls back to ws.send).
   */
  write(data: Buffer, isText: boolean, first: boolean, fin: boolean, onWritten: (error?: Error) => void): boolean;
}

export function fragmentWriter(ws: WebSocket): FragmentWriter {
  const internals = ws as unknown as WsInternals;
  const maskPool = Buffer.allocUnsafe(MASK_POOL_BYTES);
  let maskAt = MASK_POOL_BYTES;
  const rotated = Buffer.allocUnsafe(4);
  return {
    write(data, isText, first, fin, onWritten) {
      const socket = internals._socket;
      const sender = internals._sender;
      // ws's sender queues only while it deflates or reads Blob data: then frames must go through it, in order.
      if (!socket || socket.destroyed || !sender || sender._state !== 0 || (sender._queue?.length ?? 0) > 0) return false;
      if (internals._extensions && Object.keys(internals._extensions).length > 0) return false;
      const masked = internals._isServer === false;
      if (masked && maskAt + 4 > MASK_POOL_BYTES) {
        randomFillSync(maskPool);
        maskAt = 0;
      }
      const length = data.length;
      const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
      const header = Buffer.allocUnsafe(2 + lengthBytes + (masked ? 4 : 0));
      header[0] = (fin ? 0x80 : 0) | (first ? (isText ? 0x1 : 0x2) : 0x0);
      header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
      if (lengthBytes === 2) header.writeUInt16BE(length, 2);
      else if (lengthBytes === 8) {
        header.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
        header.writeUInt32BE(length >>> 0, 6);
      }
      if (masked) {
        const mask = maskPool.subarray(maskAt, maskAt + 4);
        maskAt += 4;
        header.set(mask, 2 + lengthBytes);
        unmaskInPlace(data, mask, 0, rotated); // XOR: masking and unmasking are the same operation
      }
      socket.cork();
      socket.write(header);
      socket.write(data, (error) => onWritten(error ?? undefined));
      socket.uncork();
      return true;
    },
  };
}
