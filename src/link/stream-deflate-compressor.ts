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
import { AccelError } from '../errors.js';
import { LENGTH_PREFIX_BYTES, type LinkCompressionStats, type LinkCompressor } from './link-compressor.js';
import type { LinkState } from './link-session.js';
import { StreamDeflater, StreamInflater } from './stream-deflate.js';

export const STREAM_DEFLATE_CAPABILITY = 'stream-deflate-v1';
const TAG = 0xc5;
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
}

export class StreamDeflateCompressor implements LinkCompressor {
  readonly maxMessageBytes = MAX_MESSAGE_BYTES;
  readonly maxBatchBytes = MAX_BATCH_BYTES;
  private readonly deflater = new StreamDeflater({ level: LEVEL });
  private readonly inflater = new StreamInflater({ maxMessageBytes: MAX_BATCH_BYTES });
  private peerReady = false;
  private state: (() => LinkState) | undefined;
  private batch = Buffer.allocUnsafe(MAX_BATCH_BYTES);

  constructor(private readonly options: StreamDeflateOptions) {}

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
      frames.push(batch.subarray(offset, offset + length));
      offset += length;
    }
    if (frames.length === 0) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'empty compressed batch');
    return frames;
  }
}
