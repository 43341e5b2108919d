// The incremental decoder of a byte-stream link: splits received chunks into length-prefixed frames
// (u32 length, or the compact varint prefix of compact-prefix.ts, then the frame) and yields each whole frame, as a view into the chunk when it lies in one
// chunk. A frame cut across chunks is either copied, once, into room of its announced length carved from a
// shared slab (one allocation per SLAB_BYTES, not one per frame), or, when the caller takes parts and the
// frame is large, handed on uncopied as its first part plus the views of the chunks that hold the rest (a
// socket never reuses a chunk it handed out): on a bulk transfer nearly every 64 KiB frame is cut across two
// 64 KiB socket reads, and that copy was ~5-9% of each proxy's busy time. The length is checked against the
// limit before anything is allocated.
import { AccelError } from '../errors.js';
import { LENGTH_PREFIX_BYTES, type LinkFraming } from './frame-batch.js';
import { CompactPrefixReader } from './compact-prefix.js';
import { COMPRESSED_MESSAGE_TAG } from './frame.js';

/** Split frames are carved from slabs of this size; larger frames get their own buffer. */
const SLAB_BYTES = 1024 * 1024;
const SLAB_MAX_FRAME_BYTES = SLAB_BYTES / 4;
/**
 * With parts taken: a split frame at least this large is handed on as views, when its first part holds at
 * least SPLIT_MIN_HEAD_BYTES (its header, trace context included, readable from the first part alone).
 * Smaller frames (control, compressed batches of at most 16 KiB) are still copied whole.
 */
export const SPLIT_MIN_FRAME_BYTES = 32 * 1024;
export const SPLIT_MIN_HEAD_BYTES = 64;

/** A frame handed on: `frame` (its first part) followed by the bytes of `tail`, when given. */
export type OnFrame = (frame: Uint8Array, tail?: Uint8Array[]) => void;

export class FrameReader {
  /** Room for split frames: views handed out never overlap, and a used slab is never written again. */
  private slab: Buffer | undefined;
  private slabUsed = 0;
  /** The frame being assembled across chunks, and how much of it has arrived. */
  private partial: Buffer | undefined;
  private partialFilled = 0;
  /** Bytes of a length prefix cut across chunks. */
  private readonly prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
  private prefixFilled = 0;

  /** A large frame being gathered as views (parts taken): its parts so far, and the bytes still missing. */
  private parts: Uint8Array[] | undefined;
  private partsMissing = 0;

  /** varint framing: the prefix being read (undefined: u32 framing). */
  private readonly compact: CompactPrefixReader | undefined;

  /** `takesParts`: onFrame accepts a tail (a large split frame is then not copied). */
  constructor(private readonly maxFrameBytes: number, framing: LinkFraming = 'u32', private readonly takesParts = false) {
    if (framing === 'varint') this.compact = new CompactPrefixReader(maxFrameBytes);
  }

  /** True between frames (nothing of a frame pending). */
  get idle(): boolean {
    return this.partial === undefined && this.parts === undefined && this.prefixFilled === 0 && !this.compact?.pending;
  }

  /**
   * Feeds one received chunk; calls onFrame for every frame it completes, in order. Throws FRAME_TOO_LARGE
   * (and BAD_FRAME for a malformed compact prefix).
   */
  push(chunk: Uint8Array, onFrame: OnFrame): void {
    if (this.compact) return this.pushCompact(chunk, onFrame, this.compact);
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.partial || this.parts) {
        offset = this.partial ? this.fillPartial(chunk, offset, onFrame) : this.gatherParts(chunk, offset, onFrame);
        if (offset < 0) return; // the chunk ended inside the frame
        continue;
      }
      let length: number;
      if (this.prefixFilled === 0 && end - offset >= LENGTH_PREFIX_BYTES) {
        length = ((chunk[offset]! << 24) | (chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!) >>> 0;
        offset += LENGTH_PREFIX_BYTES;
      } else {
        while (this.prefixFilled < LENGTH_PREFIX_BYTES && offset < end) this.prefix[this.prefixFilled++] = chunk[offset++]!;
        if (this.prefixFilled < LENGTH_PREFIX_BYTES) return;
        this.prefixFilled = 0;
        length = this.prefix.readUInt32BE(0);
      }
      if (length > this.maxFrameBytes) {
        throw new AccelError('HYPHA_ACCEL_ERR_FRAME_TOO_LARGE', `link frame of ${length} bytes exceeds ${this.maxFrameBytes}`);
      }
      if (end - offset >= length) {
        onFrame(chunk.subarray(offset, offset + length));
        offset += length;
      } else if (this.splits(length, end - offset)) {
        this.parts = [chunk.subarray(offset)];
        this.partsMissing = length - (end - offset);
        return;
      } else {
        this.partial = this.room(length);
        this.partialFilled = 0;
      }
    }
  }

  /** True when a frame of `length` bytes whose first `have` bytes are in this chunk is gathered as views. */
  private splits(length: number, have: number): boolean {
    return this.takesParts && length >= SPLIT_MIN_FRAME_BYTES && have >= SPLIT_MIN_HEAD_BYTES;
  }

  /** Takes what `chunk` holds of the frame gathered as views; hands it on when whole. Returns the next offset, or -1. */
  private gatherParts(chunk: Uint8Array, offset: number, onFrame: OnFrame): number {
    const parts = this.parts!;
    const take = Math.min(this.partsMissing, chunk.length - offset);
    parts.push(chunk.subarray(offset, offset + take));
    this.partsMissing -= take;
    if (this.partsMissing > 0) return -1;
    this.parts = undefined;
    onFrame(parts[0]!, parts.slice(1));
    return offset + take;
  }

  /** Copies what `chunk` holds of the frame being assembled; hands it on when whole. Returns the next offset, or -1 when the chunk ended first. */
  private fillPartial(chunk: Uint8Array, offset: number, onFrame: OnFrame): number {
    const partial = this.partial!;
    const take = Math.min(partial.length - this.partialFilled, chunk.length - offset);
    partial.set(chunk.subarray(offset, offset + take), this.partialFilled);
    this.partialFilled += take;
    if (this.partialFilled < partial.length) return -1;
    this.partial = undefined;
    onFrame(partial);
    return offset + take;
  }

  /** varint framing: as push, with a compressed message's tag put back in front of its body (a copy). */
  private pushCompact(chunk: Uint8Array, onFrame: OnFrame, prefix: CompactPrefixReader): void {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.partial || this.parts) {
        offset = this.partial ? this.fillPartial(chunk, offset, onFrame) : this.gatherParts(chunk, offset, onFrame);
        if (offset < 0) return; // the chunk ended inside the frame
        continue;
      }
      let complete = false;
      while (!complete && offset < end) complete = prefix.push(chunk[offset++]!);
      if (!complete) return; // the chunk ends inside the prefix
      const { length, tagged } = prefix;
      const bodyLength = tagged ? length - 1 : length;
      if (!tagged && end - offset >= length) {
        onFrame(chunk.subarray(offset, offset + length));
        offset += length;
        continue;
      }
      if (!tagged && this.splits(length, end - offset)) {
        this.parts = [chunk.subarray(offset)];
        this.partsMissing = length - (end - offset);
        return;
      }
      this.partial = this.room(length);
      this.partialFilled = 0;
      if (tagged) this.partial[this.partialFilled++] = COMPRESSED_MESSAGE_TAG;
      if (bodyLength === 0) {
        const frame = this.partial;
        this.partial = undefined;
        onFrame(frame);
      }
    }
  }

  /** Room for one split frame of `length` bytes. */
  private room(length: number): Buffer {
    if (length > SLAB_MAX_FRAME_BYTES) return Buffer.allocUnsafe(length);
    if (!this.slab || this.slabUsed + length > SLAB_BYTES) {
      this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const room = this.slab.subarray(this.slabUsed, this.slabUsed + length);
    this.slabUsed += length;
    return room;
  }
}
