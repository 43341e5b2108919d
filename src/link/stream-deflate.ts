// One raw-deflate stream per link direction that spans messages: each message is deflated and flushed
// (Z_SYNC_FLUSH), so it decodes on its own while matches reach back into the last 32 KiB of earlier
// messages, as permessage-deflate's context takeover does; the flush's empty stored block (00 00 ff ff)
// is left off the wire and added back by the receiver (RFC 7692 §7.2.1). The z_stream itself (Node's zlib,
// or pako where this Node lacks the synchronous handle) is in sync-zstream.ts.
import { StreamDeflateError, createDeflateStream, createInflateStream, type SyncZStream, type ZEngine } from './sync-zstream.js';

export { StreamDeflateError, type ZEngine } from './sync-zstream.js';

/** The end of a sync flush (an empty stored block): never sent, appended before inflating. */
const SYNC_TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

export interface StreamDeflaterOptions {
  /** zlib level 1-9 (6: what permessage-deflate uses by default). */
  level: number;
  /** Which zlib runs it (default: Node's own where it can, see sync-zstream.ts). */
  engine?: ZEngine;
}

export class StreamDeflater {
  private readonly strm: SyncZStream;
  private scratch = new Uint8Array(8192);

  constructor(options: StreamDeflaterOptions) {
    this.strm = createDeflateStream(options.level, options.engine);
  }

  /**
   * The deflated message without the sync tail, written after `prefixBytes` bytes left free for the
   * caller (a tag). Every message given here becomes part of the window the peer's inflater must see.
   */
  compress(message: Uint8Array, prefixBytes = 0): Buffer {
    // Nothing to flush (zlib refuses a second flush without input): an empty stored block's header byte (the
    // stream is byte-aligned after every flush), which with the receiver's tail inflates to nothing.
    if (message.length === 0) return Buffer.alloc(prefixBytes + 1);
    // A sync flush of n bytes needs at most n + 5 bytes per 16 KiB stored block, plus a few for the flush.
    const bound = prefixBytes + message.length + 5 * Math.ceil((message.length + 1) / 16384) + 16;
    if (this.scratch.length < bound) this.scratch = new Uint8Array(bound);
    let end = this.strm.write(message, this.scratch, prefixBytes);
    if (this.strm.inputLeft !== 0 || end === this.scratch.length) {
      throw new StreamDeflateError(`deflate failed (${this.strm.inputLeft} bytes left)`);
    }
    // zlib ends every sync flush with the tail; anything else would desynchronise the peer.
    if (end - prefixBytes < 4 || !endsWithTail(this.scratch, end)) throw new StreamDeflateError('deflate flush without its sync tail');
    end -= 4;
    return Buffer.from(this.scratch.subarray(0, end));
  }

  /** Frees the stream now (the link is gone); compress throws after it. */
  release(): void {
    this.strm.release();
  }
}

export interface StreamInflaterOptions {
  /** A message that inflates to more than this is refused (the decode bound). */
  maxMessageBytes: number;
  /** Which zlib runs it (default: Node's own where it can, see sync-zstream.ts). */
  engine?: ZEngine;
}

export class StreamInflater {
  private readonly strm: SyncZStream;
  private readonly scratch: Uint8Array;

  constructor(private readonly options: StreamInflaterOptions) {
    this.strm = createInflateStream(options.engine);
    this.scratch = new Uint8Array(options.maxMessageBytes + 1);
  }

  /** The message from its deflated bytes (without the sync tail); throws StreamDeflateError. The stream is unusable after a throw. */
  decompress(deflated: Uint8Array): Buffer {
    let length = this.feed(deflated, 0);
    if (length <= this.options.maxMessageBytes) length = this.feed(SYNC_TAIL, length);
    if (length > this.options.maxMessageBytes) throw new StreamDeflateError(`message inflates to more than ${this.options.maxMessageBytes} bytes`);
    return Buffer.from(this.scratch.subarray(0, length));
  }

  /** Frees the stream now (the link is gone); decompress throws after it. */
  release(): void {
    this.strm.release();
  }

  private feed(input: Uint8Array, offset: number): number {
    const end = this.strm.write(input, this.scratch, offset);
    // Input left over: either the output bound was reached or the stream ended before it (a final block).
    if (this.strm.inputLeft !== 0) {
      throw new StreamDeflateError(end === this.scratch.length ? `message inflates to more than ${this.options.maxMessageBytes} bytes` : 'deflate stream ended (a final block is never sent)');
    }
    return end;
  }
}

function endsWithTail(bytes: Uint8Array, end: number): boolean {
  return bytes[end - 4] === 0x00 && bytes[end - 3] === 0x00 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xff;
}
