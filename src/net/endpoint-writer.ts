// Frames the data messages a proxy sends to one endpoint WebSocket itself and writes all frames of one
// event-loop turn (and of the turns right after it that bring more, turn-flush.ts) with one socket write
// and one completion callback (ws.send costs two socket writes, an options object and a callback per message). Headers and small payloads go into
// the role's WriteArena (shared by all its writers); a client-side socket masks while copying into it. ws keeps its socket for control frames; its Close waits for the batch.
import { randomFillSync } from 'node:crypto';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { maskInto } from './ws-mask.js';
import { turnFlusher } from './turn-flush.js';
import { writeBatch } from './batch-write.js';

/** Payloads at least this large are written as their own buffer (a view, or a masked copy) instead of into the slab. */
const COPY_LIMIT_BYTES = 4096;
const SLAB_BYTES = 64 * 1024;
const MASK_POOL_BYTES = 1024;
const MAX_HEADER_BYTES = 14;

/**
 * Memory every endpoint writer of a role shares, so an idle session holds none (a slab per writer was 64 KiB
 * per session: most of the pair's memory per idle session in bench S6). The slab is a bump allocator: a
 * region once handed out is never written again, so queued writes keep viewing valid bytes and a full slab is
 * left to the writes still holding it (then collected). Masks come from one random pool.
 */
export class WriteArena {
  slab = Buffer.allocUnsafe(SLAB_BYTES);
  /** Bytes of `slab` handed out; writers write at this offset and advance it. */
  used = 0;
  private readonly maskPool = Buffer.allocUnsafe(MASK_POOL_BYTES);
  private maskAt = MASK_POOL_BYTES;
  /** The mask nextMask hands out: copied from the pool, not a view of it (a view is an object per frame). */
  private readonly mask = Buffer.allocUnsafe(4);

  /** Makes room for `bytes` at `used`: a fresh slab when the current one is short (the old one is never reused). */
  reserve(bytes: number): void {
    if (this.used + bytes <= this.slab.length) return;
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
    this.used = 0;
  }

  /** Four random mask bytes, in a buffer valid until the next call (use at once). */
  nextMask(): Buffer {
    if (this.maskAt === MASK_POOL_BYTES) {
      randomFillSync(this.maskPool);
      this.maskAt = 0;
    }
    const pool = this.maskPool;
    const mask = this.mask;
    const at = this.maskAt;
    mask[0] = pool[at]!;
    mask[1] = pool[at + 1]!;
    mask[2] = pool[at + 2]!;
    mask[3] = pool[at + 3]!;
    this.maskAt = at + 4;
    return mask;
  }
}

export interface EndpointWriter {
  /**
   * Queues a data frame (a whole message, or one fragment of a message sent in pieces with `fin` on its
   * last); `written` is called once it has left the process, or at once when the socket is gone.
   * `owned`: the caller hands `data` over, so a client socket masks a large payload in place instead of copying it.
   * `tail`: more bytes of the same frame after `data` (parts not joined: written as views, masked on), owned as `data`.
   */
  send(data: Buffer, isText: boolean, fin: boolean, written: () => void, owned?: boolean, tail?: Buffer[]): void;
  /** Writes what is queued now. */
  flush(): void;
}

/** The parts of ws's internals the writer relies on (ws 8). */
interface WsInternals {
  _socket?: Socket;
  _isServer?: boolean;
  _extensions?: Record<string, unknown>;
  _sender?: { close(...args: unknown[]): void };
}

/**
 * Call once the WebSocket is open; `arena`: the role's shared write memory. Undefined where ws must frame
 * itself (an extension negotiated, unknown internals).
 */
export function endpointWriter(ws: WebSocket, arena: WriteArena): EndpointWriter | undefined {
  const internals = ws as unknown as WsInternals;
  const socket = internals._socket;
  const sender = internals._sender;
  if (!socket || !sender || typeof sender.close !== 'function' || typeof internals._isServer !== 'boolean') return undefined;
  if (internals._extensions && Object.keys(internals._extensions).length > 0) return undefined;
  const masked = !internals._isServer; // frames from a client are masked (RFC 6455 §5.3)
  let rotatedMask: Buffer | undefined; // made for the rare masked message in parts

  // This writer's queued bytes in the arena since its last chunk was closed: [chunkStart, chunkEnd) of chunkSlab.
  let chunkSlab: Buffer | undefined;
  let chunkStart = 0;
  let chunkEnd = 0;
  let chunks: Buffer[] = [];
  let callbacks: Array<() => void> = [];
  let scheduled = false;
  let midMessage = false; // the next frame continues a message sent in pieces

  const closeChunk = () => {
    if (chunkSlab && chunkEnd > chunkStart) chunks.push(chunkSlab.subarray(chunkStart, chunkEnd));
    chunkSlab = undefined;
  };
  /** Room for `bytes` in the arena; this writer's chunk goes on there if nothing else was written in between. */
  const reserve = (bytes: number) => {
    arena.reserve(bytes);
    if (chunkSlab === arena.slab && chunkEnd === arena.used) return;
    closeChunk();
    chunkSlab = arena.slab;
    chunkStart = chunkEnd = arena.used;
  };

  const flush = () => {
    scheduled = false;
    if (callbacks.length === 0) return;
    closeChunk();
    const batch = chunks;
    const done = callbacks;
    chunks = [];
    callbacks = [];
    const finish = confirmAll(done);
    if (socket.destroyed || !socket.writable) return finish();
    writeBatch(socket, batch, finish);
  };

  // ws writes its Close itself: what was queued before goes first.
  const close = sender.close.bind(sender);
  sender.close = (...args: unknown[]) => {
    flush();
    close(...args);
  };

  return {
    send(data, isText, fin, written, owned = false, tail) {
      if (ws.readyState !== WebSocket.OPEN) return written();
      const opcode = midMessage ? 0 : isText ? 1 : 2;
      midMessage = !fin;
      let length = data.length;
      if (tail) for (const part of tail) length += part.length;
      const inline = length < COPY_LIMIT_BYTES && !tail;
      const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
      reserve(MAX_HEADER_BYTES + (inline ? length : 0));
      const slab = arena.slab;
      let at = arena.used;
      slab[at++] = (fin ? 0x80 : 0) | opcode;
      slab[at++] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
      if (lengthBytes === 2) {
        slab.writeUInt16BE(length, at);
        at += 2;
      } else if (lengthBytes === 8) {
        slab.writeUInt32BE(Math.floor(length / 2 ** 32), at);
        slab.writeUInt32BE(length >>> 0, at + 4);
        at += 8;
      }
      let mask: Buffer | undefined;
      if (masked) {
        mask = arena.nextMask();
        slab.set(mask, at);
        at += 4;
      }
      if (inline) {
        if (mask) maskInto(data, mask, slab, at, length);
        else slab.set(data, at);
        arena.used = chunkEnd = at + length;
      } else {
        arena.used = chunkEnd = at;
        closeChunk();
        if (!mask) {
          chunks.push(data);
          if (tail) chunks.push(...tail);
        } else if (!tail) {
          const target = owned ? data : Buffer.allocUnsafe(length);
          maskInto(data, mask, target, 0, data.length); // XOR: in place when owned
          chunks.push(target);
        } else {
          // Each part is masked from where it starts in the frame (the mask rotated by that offset).
          let offset = 0;
          for (const part of [data, ...tail]) {
            const target = owned ? part : Buffer.allocUnsafe(part.length);
            if (offset & 3) {
              rotatedMask ??= Buffer.allocUnsafe(4);
              for (let k = 0; k < 4; k++) rotatedMask[k] = mask[(offset + k) & 3]!;
              maskInto(part, rotatedMask, target, 0, part.length);
            } else {
              maskInto(part, mask, target, 0, part.length);
            }
            chunks.push(target);
            offset += part.length;
          }
        }
      }
      callbacks.push(written);
      if (scheduled) return turnFlusher.onQueued();
      scheduled = true;
      turnFlusher.onQueued(flush);
    },
    flush,
  };
}

/** One callback for a batch: confirms each of its sends (a returned closure: tsx names assigned ones at each creation). */
function confirmAll(callbacks: Array<() => void>): () => void {
  return () => {
    for (let i = 0; i < callbacks.length; i++) callbacks[i]!(); // not for-of: no iterator per batch (send-queues.ts)
  };
}
