// One raw-deflate stream per link direction that spans messages: each message is deflated and flushed
// (Z_SYNC_FLUSH), so it decodes on its own while matches reach back into the last 32 KiB of earlier
// messages, as permessage-deflate's context takeover does; the flush's empty stored block (00 00 ff ff)
// is left off the wire and added back by the receiver (RFC 7692 §7.2.1). Node's zlib has no synchronous
// streaming API (its sync calls end the stream), hence pako's port of zlib, driven through its z_stream.
import {
  ZStream, Z_DATA_ERROR, Z_DEFAULT_STRATEGY, Z_NEED_DICT, Z_OK, Z_BUF_ERROR, Z_SYNC_FLUSH, Z_STREAM_END,
  zlibDeflate, zlibDeflateInit2, zlibInflate, zlibInflateInit2,
} from 'pako';

const Z_DEFLATED = 8;
const WINDOW_BITS = 15;
const MEM_LEVEL = 8;
/** The end of a sync flush (an empty stored block): never sent, appended before inflating. */
const SYNC_TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

export class StreamDeflateError extends Error {}

export interface StreamDeflaterOptions {
  /** zlib level 1-9 (6: what permessage-deflate uses by default). */
  level: number;
}

export class StreamDeflater {
  private readonly strm = new ZStream();
  private scratch = new Uint8Array(8192);

  constructor(options: StreamDeflaterOptions) {
    const status = zlibDeflateInit2(this.strm, options.level, Z_DEFLATED, -WINDOW_BITS, MEM_LEVEL, Z_DEFAULT_STRATEGY);
    if (status !== Z_OK) throw new StreamDeflateError(`deflate init failed (${status})`);
  }

  /**
   * The deflated message without the sync tail, written after `prefixBytes` bytes left free for the
   * caller (a tag). Every message given here becomes part of the window the peer's inflater must see.
   */
  compress(message: Uint8Array, prefixBytes = 0): Buffer {
    const strm = this.strm;
    // A sync flush of n bytes needs at most n + 5 bytes per 16 KiB stored block, plus a few for the flush.
    const bound = prefixBytes + message.length + 5 * Math.ceil((message.length + 1) / 16384) + 16;
    if (this.scratch.length < bound) this.scratch = new Uint8Array(bound);
    strm.input = message;
    strm.next_in = 0;
    strm.avail_in = message.length;
    strm.output = this.scratch as Uint8Array<ArrayBuffer>;
    strm.next_out = prefixBytes;
    strm.avail_out = this.scratch.length - prefixBytes;
    const status = zlibDeflate(strm, Z_SYNC_FLUSH);
    if ((status !== Z_OK && status !== Z_BUF_ERROR) || strm.avail_out === 0 || strm.avail_in !== 0) {
      throw new StreamDeflateError(`deflate failed (${status}, ${strm.avail_in} bytes left)`);
    }
    let end = strm.next_out;
    // zlib ends every sync flush with the tail; anything else would desynchronise the peer.
    if (end - prefixBytes < 4 || !endsWithTail(this.scratch, end)) throw new StreamDeflateError('deflate flush without its sync tail');
    end -= 4;
    strm.input = EMPTY; // the window holds its own copy: let the message go
    return Buffer.from(this.scratch.subarray(0, end));
  }
}

export interface StreamInflaterOptions {
  /** A message that inflates to more than this is refused (the decode bound). */
  maxMessageBytes: number;
}

export class StreamInflater {
  private readonly strm = new ZStream();
  private readonly scratch: Uint8Array;

  constructor(private readonly options: StreamInflaterOptions) {
    const status = zlibInflateInit2(this.strm, -WINDOW_BITS);
    if (status !== Z_OK) throw new StreamDeflateError(`inflate init failed (${status})`);
    this.scratch = new Uint8Array(options.maxMessageBytes + 1);
  }

  /** The message from its deflated bytes (without the sync tail); throws StreamDeflateError. The stream is unusable after a throw. */
  decompress(deflated: Uint8Array): Buffer {
    const strm = this.strm;
    strm.output = this.scratch as Uint8Array<ArrayBuffer>;
    strm.next_out = 0;
    strm.avail_out = this.scratch.length;
    this.feed(deflated);
    this.feed(SYNC_TAIL);
    const length = strm.next_out;
    if (length > this.options.maxMessageBytes) throw new StreamDeflateError(`message inflates to more than ${this.options.maxMessageBytes} bytes`);
    return Buffer.from(this.scratch.subarray(0, length));
  }

  private feed(input: Uint8Array): void {
    const strm = this.strm;
    strm.input = input;
    strm.next_in = 0;
    strm.avail_in = input.length;
    const status = zlibInflate(strm, Z_SYNC_FLUSH);
    if (status === Z_STREAM_END) throw new StreamDeflateError('deflate stream ended (a final block is never sent)');
    if (status === Z_DATA_ERROR || status === Z_NEED_DICT || (status !== Z_OK && status !== Z_BUF_ERROR)) {
      throw new StreamDeflateError(`inflate failed: ${strm.msg || status}`);
    }
    if (strm.avail_in !== 0) throw new StreamDeflateError(`message inflates to more than ${this.options.maxMessageBytes} bytes`);
    strm.input = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

function endsWithTail(bytes: Uint8Array, end: number): boolean {
  return bytes[end - 4] === 0x00 && bytes[end - 3] === 0x00 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xff;
}
