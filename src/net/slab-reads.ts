// Reads a plain TCP or Unix socket into regions of a slab this module owns (Node's `onread` mode), instead
// of a fresh 64 KiB buffer per read pushed through the Readable stream: one allocation per SLAB_BYTES, reads
// of up to MAX_READ_BYTES, and no stream machinery per read (push, 'data', flow ticks). A region once handed
// out is never written again (as a socket never reuses a chunk it pushed), so receivers may keep views.
// Node offers `onread` only to sockets it constructs; an accepted or upgraded socket is switched with the
// internals onread sets (Node 20-24), and left as it is where they are missing.
import type { Duplex } from 'node:stream';

/** Bytes of one slab; a used slab is left to the views still holding it (then collected). */
const SLAB_BYTES = 1024 * 1024;
/** At most this much per read; below MIN_READ_BYTES left in the slab, the next read starts a new one. */
const MAX_READ_BYTES = 256 * 1024;
const MIN_READ_BYTES = 64 * 1024;

/** The parts of net.Socket's internals `onread` uses (lib/net.js, internal/stream_base_commons.js). */
interface SocketInternals {
  _handle?: { useUserBuffer?(buffer: Uint8Array): void; reading?: boolean } | null;
  encrypted?: boolean;
  readableLength?: number;
  connecting?: boolean;
}

function ownSymbol(socket: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(socket).find((s) => s.description === description);
}

/**
 * Switches `socket` to slab reads: `onChunk` gets each read's bytes (a view), in place of 'data' events
 * ('end', 'close', 'error' and pause/resume behave as before). Returns false, changing nothing, where the
 * socket is not a plain connected TCP/Unix socket with the expected internals or has bytes buffered already.
 * Call synchronously where the socket is handed over (before the event loop reads it again).
 */
export function readIntoSlabs(socket: Duplex, onChunk: (chunk: Buffer) => void): boolean {
  const internals = socket as unknown as SocketInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || internals.encrypted || internals.connecting) return false;
  if ((internals.readableLength ?? 0) > 0) return false;
  const kBuffer = ownSymbol(socket, 'kBuffer');
  const kBufferCb = ownSymbol(socket, 'kBufferCb');
  const kBufferGen = ownSymbol(socket, 'kBufferGen');
  if (!kBuffer || !kBufferCb || !kBufferGen) return false;
  const record = socket as unknown as Record<symbol, unknown>;
  if (record[kBuffer] !== null || record[kBufferGen] !== null) return false;

  let slab = Buffer.allocUnsafe(SLAB_BYTES);
  let used = 0;
  let region = slab.subarray(0, MAX_READ_BYTES);
  // Node calls this after each read for the next read's buffer (and once now, through initSocketHandle's path below).
  const nextRegion = (): Buffer => {
    if (SLAB_BYTES - used < MIN_READ_BYTES) {
      slab = Buffer.allocUnsafe(SLAB_BYTES);
      used = 0;
    }
    region = slab.subarray(used, Math.min(used + MAX_READ_BYTES, SLAB_BYTES));
    return region;
  };
  record[kBuffer] = region;
  record[kBufferGen] = nextRegion;
  record[kBufferCb] = (nread: number, buffer: Buffer): boolean => {
    used += nread; // `buffer` is the region handed out last: its first nread bytes are the read's
    onChunk(buffer.subarray(0, nread));
    return true; // pause() stops reading itself (net.Socket with onread)
  };
  handle.useUserBuffer(region);
  return true;
}
