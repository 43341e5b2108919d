// Collects the frames a link sends within one event-loop turn into one batch of length-prefixed frames
// (u32 length, or the compact varint prefix of compact-prefix.ts, then the frame), so a byte-stream
// transport writes them with one writev. Headers and small payloads are written into a shared slab (no
// allocation per frame); large payloads are handed on as views.
import { frameHeaderBytes, writeFrameHeader, type FrameHeader } from './frame.js';
import { compactPrefixBytes, compactPrefixValue, writeCompactPrefix } from './compact-prefix.js';

/** How a byte-stream link prefixes its messages: u32 (every peer) or varint (negotiated, docs/protocol.md §1). */
export type LinkFraming = 'u32' | 'varint';

export const LENGTH_PREFIX_BYTES = 4;
/** Payloads at least this large travel as their own view instead of being copied into the slab. */
const COPY_LIMIT_BYTES = 4096;
const SLAB_BYTES = 64 * 1024;

export type WrittenCallback = (error?: Error) => void;

export interface Batch {
  chunks: Uint8Array[];
  callbacks: WrittenCallback[];
  bytes: number;
}

export class FrameBatch {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  /** Start of the bytes of the open chunk in the slab, and the end of what is written. */
  private chunkStart = 0;
  private slabUsed = 0;
  private chunks: Uint8Array[] = [];
  private callbacks: WrittenCallback[] = [];
  private bytes = 0;

  constructor(private readonly framing: LinkFraming = 'u32') {}

  get empty(): boolean {
    return this.bytes === 0;
  }

  /** Bytes pushed since the last take (length prefixes included). */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** Adds one frame given as header fields and a payload view. */
  push(header: FrameHeader, payload: Uint8Array, onWritten: WrittenCallback): void {
    const headerBytes = frameHeaderBytes(header);
    const inline = payload.length < COPY_LIMIT_BYTES;
    const length = headerBytes + payload.length;
    const prefixBytes = this.framing === 'u32' ? LENGTH_PREFIX_BYTES : compactPrefixBytes(length * 2);
    const target = this.reserve(prefixBytes + headerBytes + (inline ? payload.length : 0));
    const at = this.slabUsed;
    if (this.framing === 'u32') target.writeUInt32BE(length, at);
    else writeCompactPrefix(target, at, length * 2);
    writeFrameHeader(target, at + prefixBytes, header);
    this.slabUsed += prefixBytes + headerBytes;
    if (inline) {
      target.set(payload, this.slabUsed);
      this.slabUsed += payload.length;
    } else {
      this.closeChunk();
      this.chunks.push(payload);
    }
    this.bytes += prefixBytes + length;
    this.callbacks.push(onWritten);
  }

  /** Adds one already encoded link message (a frame, or a compressed message starting with its tag). */
  pushEncoded(frame: Uint8Array, onWritten: WrittenCallback): void {
    if (this.framing === 'varint') return this.pushCompact(frame, onWritten);
    const target = this.reserve(LENGTH_PREFIX_BYTES);
    target.writeUInt32BE(frame.length, this.slabUsed);
    this.slabUsed += LENGTH_PREFIX_BYTES;
    this.closeChunk();
    this.chunks.push(frame);
    this.bytes += LENGTH_PREFIX_BYTES + frame.length;
    this.callbacks.push(onWritten);
  }

  /** varint framing: a compressed message's tag travels in the prefix's low bit; small bodies are copied. */
  private pushCompact(message: Uint8Array, onWritten: WrittenCallback): void {
    const { value, bodyOffset } = compactPrefixValue(message);
    const body = message.subarray(bodyOffset);
    const prefixBytes = compactPrefixBytes(value);
    const inline = body.length < COPY_LIMIT_BYTES;
    const target = this.reserve(prefixBytes + (inline ? body.length : 0));
    this.slabUsed += writeCompactPrefix(target, this.slabUsed, value);
    if (inline) {
      target.set(body, this.slabUsed);
      this.slabUsed += body.length;
    } else {
      this.closeChunk();
      this.chunks.push(body);
    }
    this.bytes += prefixBytes + body.length;
    this.callbacks.push(onWritten);
  }

  /** Hands out everything pushed so far and starts a new batch (the slab regions handed out are never reused). */
  take(): Batch {
    this.closeChunk();
    const batch = { chunks: this.chunks, callbacks: this.callbacks, bytes: this.bytes };
    this.chunks = [];
    this.callbacks = [];
    this.bytes = 0;
    return batch;
  }

  /** The slab with room for `bytes` more (a fresh slab when the current one is full). */
  private reserve(bytes: number): Buffer {
    if (this.slabUsed + bytes > this.slab.length) {
      this.closeChunk();
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
      this.slabUsed = 0;
      this.chunkStart = 0;
    }
    return this.slab;
  }

  private closeChunk(): void {
    if (this.slabUsed > this.chunkStart) this.chunks.push(this.slab.subarray(this.chunkStart, this.slabUsed));
    this.chunkStart = this.slabUsed;
  }
}
