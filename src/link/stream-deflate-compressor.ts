// Compresses a link's small frames (the codec's compact calls and replies, ACKs, PINGs) with one raw
// deflate stream per direction that spans messages (stream-deflate.ts): the frames of one event-loop turn
// are deflated together and flushed, matches reach back 32 KiB into earlier batches, as
// permessage-deflate's context takeover does.
// Capability `stream-deflate-v1` (it replaced dict-deflate-v1, which re-primed an 8 KiB preset dictionary
// per message: the same bytes at ~5x the encode CPU, bench/link-compression/engines.ts).
//
// Wire: a compressed message is TAG (0xC5, never a frame type) + the deflated bytes without the sync
// tail, which inflate to one or more frames, each after a u32 length; anything else is one plain frame,
// never part of the streams. A side compresses only after it
// received a message through the wrapped transport: the peer has then finished its handshake.
// `stream-deflate-v2` (seq delta) writes a stream frame's seq inside the batch as its distance from the
// stream's previous seq + 1, i.e. 0 in order: a changing seq broke deflate's match of header and message
// start every time (docs/protocol.md §1.1).
import { AccelError } from '../errors.js';
import { LENGTH_PREFIX_BYTES, type LinkCompressionStats, type LinkCompressor } from './link-compressor.js';
import type { LinkState } from './link-session.js';
import { StreamDeflater, StreamInflater } from './stream-deflate.js';
import { COMPRESSED_MESSAGE_TAG, FrameType, HEADER_BYTES } from './frame.js';

export const STREAM_DEFLATE_CAPABILITY = 'stream-deflate-v1';
/** v1 plus seq delta; preferred when both sides announce it. */
export const STREAM_DEFLATE_V2_CAPABILITY = 'stream-deflate-v2';
const TAG = COMPRESSED_MESSAGE_TAG;
/** Largest frame compressed (and put in the stream). */
export const MAX_MESSAGE_BYTES = 4096;
/** Plain bytes of one compressed batch (frames and their length prefixes); also the decode bound. */
export const MAX_BATCH_BYTES = 16 * 1024;
const LEVEL = 6;

export interface StreamDeflateOptions {
  /** 'on': every eligible message; 'auto': only while the link is slower than maxLinkBytesPerUs. */
  mode: 'on' | 'auto';
  /** The link's throughput in bytes per µs as the compression policy estimates it, from its state. */
  linkBytesPerUs: (state: LinkState) => number | undefined;
  /** auto: links estimated at this rate or faster send plain (linkCompressionBelowMbps / 8). */
  maxLinkBytesPerUs: number;
  stats: LinkCompressionStats;
  /** stream-deflate-v2: stream frames carry their seq as a delta inside the batch. */
  seqDelta?: boolean;
}

export class StreamDeflateCompressor implements LinkCompressor {
  readonly maxMessageBytes = MAX_MESSAGE_BYTES;
  readonly maxBatchBytes = MAX_BATCH_BYTES;
  private readonly deflater = new StreamDeflater({ level: LEVEL });
  private readonly inflater = new StreamInflater({ maxMessageBytes: MAX_BATCH_BYTES });
  private peerReady = false;
  private state: (() => LinkState) | undefined;
  private batch = Buffer.allocUnsafe(MAX_BATCH_BYTES);
  private readonly sendSeqs: SeqDelta | undefined;
  private readonly receiveSeqs: SeqDelta | undefined;

  constructor(private readonly options: StreamDeflateOptions) {
    if (options.seqDelta) {
      this.sendSeqs = new SeqDelta();
      this.receiveSeqs = new SeqDelta();
    }
  }

  attach(state: () => LinkState): void {
    this.state = state;
  }

  /**
   * auto: compress on links slower than the threshold. The endpoints' own permessage-deflate, which the
   * pair turns off on the local hops, is the baseline: below the threshold this costs less CPU than it.
   */
  active(): boolean {
    if (!this.peerReady) return false;
    if (this.options.mode === 'on') return true;
    const linkBytesPerUs = this.state && this.options.linkBytesPerUs(this.state());
    return linkBytesPerUs !== undefined && linkBytesPerUs < this.options.maxLinkBytesPerUs;
  }

  compressBatch(frames: readonly Uint8Array[], plainBytes: number): Buffer {
    if (plainBytes > MAX_BATCH_BYTES) throw new RangeError(`batch of ${plainBytes} bytes above ${MAX_BATCH_BYTES}`);
    let offset = 0;
    for (const frame of frames) {
      this.batch.writeUInt32BE(frame.byteLength, offset);
      this.batch.set(frame, offset + LENGTH_PREFIX_BYTES);
      this.sendSeqs?.encode(this.batch, offset + LENGTH_PREFIX_BYTES, frame.byteLength);
      offset += LENGTH_PREFIX_BYTES + frame.byteLength;
    }
    const wire = this.deflater.compress(this.batch.subarray(0, offset), 1);
    wire[0] = TAG;
    const { stats } = this.options;
    stats.linkMessagesCompressed += frames.length;
    stats.linkCompressRawBytes += offset;
    stats.linkCompressWireBytes += wire.byteLength;
    return wire;
  }

  release(): void {
    this.deflater.release();
    this.inflater.release();
  }

  decompress(wire: Uint8Array): Uint8Array[] {
    this.peerReady = true;
    if (wire[0] !== TAG) return [wire];
    let batch: Buffer;
    try {
      batch = this.inflater.decompress(wire.subarray(1));
    } catch (error) {
      throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `compressed link message does not decode: ${(error as Error).message}`);
    }
    const frames: Uint8Array[] = [];
    for (let offset = 0; offset < batch.byteLength; ) {
      if (batch.byteLength - offset < LENGTH_PREFIX_BYTES) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'compressed batch ends inside a length prefix');
      const length = batch.readUInt32BE(offset);
      offset += LENGTH_PREFIX_BYTES;
      if (length === 0 || length > MAX_MESSAGE_BYTES || length > batch.byteLength - offset) {
        throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `compressed batch holds a frame of ${length} bytes (at most ${MAX_MESSAGE_BYTES}, ${batch.byteLength - offset} left)`);
      }
      this.receiveSeqs?.decode(batch, offset, length);
      frames.push(batch.subarray(offset, offset + length));
      offset += length;
    }
    if (frames.length === 0) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'empty compressed batch');
    return frames;
  }
}

/** Frame types that carry a per-stream seq (docs/protocol.md §3: the stream frames). */
const SEQUENCED = new Set<number>([FrameType.OPEN, FrameType.OPEN_OK, FrameType.OPEN_FAIL, FrameType.DATA, FrameType.CLOSE, FrameType.DELIVERED]);
/** Streams remembered per direction; past it both sides forget them all at the same frame. */
const SEQ_DELTA_STREAMS = 4096;

/**
 * One direction's seq delta: the last seq of each stream seen in that direction's batches. Sender and
 * receiver see the same frames in the same order, so their maps stay equal; the rewrite is a bijection
 * (mod 2^32), so any seq, in order or not, round-trips.
 */
class SeqDelta {
  private readonly lastSeq = new Map<number, number>();

  /** Rewrites the seq of the frame at `at` (in place) to its distance from the expected one. */
  encode(bytes: Buffer, at: number, length: number): void {
    const streamId = this.streamOf(bytes, at, length);
    if (streamId === undefined) return;
    const seq = bytes.readUInt32BE(at + 8);
    bytes.writeUInt32BE((seq - this.expected(streamId, seq)) >>> 0, at + 8);
  }

  /** Restores the seq of a received frame at `at` (in place). */
  decode(bytes: Buffer, at: number, length: number): void {
    const streamId = this.streamOf(bytes, at, length);
    if (streamId === undefined) return;
    const delta = bytes.readUInt32BE(at + 8);
    const last = this.lastSeq.get(streamId);
    const seq = (delta + (last === undefined ? 0 : last + 1)) >>> 0;
    bytes.writeUInt32BE(seq, at + 8);
    this.expected(streamId, seq);
  }

  private streamOf(bytes: Buffer, at: number, length: number): number | undefined {
    if (length < HEADER_BYTES || !SEQUENCED.has(bytes[at]!)) return undefined;
    const streamId = bytes.readUInt32BE(at + 4);
    return streamId === 0 ? undefined : streamId;
  }

  /** The seq expected next on `streamId` (0 for a stream not seen yet); records `seq` as its last. */
  private expected(streamId: number, seq: number): number {
    const last = this.lastSeq.get(streamId);
    if (last === undefined && this.lastSeq.size >= SEQ_DELTA_STREAMS) this.lastSeq.clear();
    this.lastSeq.set(streamId, seq);
    return last === undefined ? 0 : (last + 1) >>> 0;
  }
}
