// Compresses a link's small messages (the codec's compact calls and replies, ACKs, PINGs) with one raw
// deflate stream per direction that spans messages (stream-deflate.ts): each message is flushed on its
// own, matches reach back 32 KiB into earlier ones, as permessage-deflate's context takeover does.
// Capability `stream-deflate-v1` (it replaced dict-deflate-v1, which re-primed an 8 KiB preset dictionary
// per message: the same bytes at ~5x the encode CPU, bench/link-compression/engines.ts).
//
// Wire: a compressed message is TAG (0xC5, never a frame type) + the deflated bytes without the sync
// tail; anything else is a plain link frame, never seen by the streams. A side compresses only after it
// received a message through the wrapped transport: the peer has then finished its handshake.
import { AccelError } from '../errors.js';
import type { LinkCompressionStats, LinkCompressor } from './link-compressor.js';
import type { LinkState } from './link-session.js';
import { StreamDeflater, StreamInflater } from './stream-deflate.js';

export const STREAM_DEFLATE_CAPABILITY = 'stream-deflate-v1';
const TAG = 0xc5;
/** Largest message compressed (and put in the stream); also the decode bound. */
export const MAX_MESSAGE_BYTES = 4096;
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
  private readonly deflater = new StreamDeflater({ level: LEVEL });
  private readonly inflater = new StreamInflater({ maxMessageBytes: MAX_MESSAGE_BYTES });
  private peerReady = false;
  private state: (() => LinkState) | undefined;

  constructor(private readonly options: StreamDeflateOptions) {}

  attach(state: () => LinkState): void {
    this.state = state;
  }

  /**
   * auto: compress on links slower than the threshold. The endpoints' own permessage-deflate, which the
   * pair turns off on the local hops, is the baseline: below the threshold this costs less CPU than it.
   */
  private pays(): boolean {
    if (this.options.mode === 'on') return true;
    const linkBytesPerUs = this.state && this.options.linkBytesPerUs(this.state());
    return linkBytesPerUs !== undefined && linkBytesPerUs < this.options.maxLinkBytesPerUs;
  }

  compress(message: Buffer): Buffer {
    if (!this.peerReady || message.byteLength > MAX_MESSAGE_BYTES || !this.pays()) return message;
    let wire: Buffer;
    try {
      wire = this.deflater.compress(message, 1);
    } catch (error) {
      // The stream may now hold bytes the peer never sees: nothing sent later could be trusted to decode.
      throw new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `link compression failed: ${(error as Error).message}`, { cause: error });
    }
    wire[0] = TAG;
    const { stats } = this.options;
    stats.linkMessagesCompressed++;
    stats.linkCompressRawBytes += message.byteLength;
    stats.linkCompressWireBytes += wire.byteLength;
    return wire;
  }

  decompress(wire: Uint8Array): Uint8Array {
    this.peerReady = true;
    if (wire[0] !== TAG) return wire;
    try {
      return this.inflater.decompress(wire.subarray(1));
    } catch (error) {
      throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `compressed link message does not decode: ${(error as Error).message}`);
    }
  }
}
