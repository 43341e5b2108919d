// The codec as one link end uses it: an encoder for what this end sends and a decoder for what it
// receives, plus the text form, behind the two calls the link session makes (shape of LinkCodec).
import { CodecDecoder } from './decoder.js';
import { CodecEncoder } from './encoder.js';
import { newCodecStats, type CodecOptions, type CodecStats } from './options.js';
import { decodeTextBytes, encodeTextBytes } from './text-codec.js';

export interface LinkEndCodec {
  /** compact form of one whole message, or null to send it raw (binary that does not scan) */
  encode(message: Uint8Array, isText: boolean): Uint8Array | null;
  /** the exact original message; throws CodecError (fatal ones mean: close the link) */
  decode(compact: Uint8Array, isText: boolean): Uint8Array;
  readonly sendStats: CodecStats;
  readonly receiveStats: CodecStats;
}

/** A fresh pair of tables for one link end: call once per link (a new link is the reset). */
export function createLinkCodec(opts: CodecOptions = {}): LinkEndCodec {
  const sendStats = opts.stats ?? newCodecStats();
  const receiveStats = newCodecStats();
  const encoder = new CodecEncoder({ ...opts, stats: sendStats });
  const decoder = new CodecDecoder({ ...opts, stats: receiveStats });
  const maxMessageBytes = opts.maxMessageBytes;
  return {
    sendStats,
    receiveStats,
    encode(message, isText) {
      if (!isText) return encoder.encodeBinary(message);
      const out = encodeTextBytes(message);
      sendStats.textMessages++;
      sendStats.textBytesIn += message.length;
      sendStats.textBytesOut += out.length;
      return out;
    },
    decode(compact, isText) {
      if (!isText) return decoder.decodeBinary(compact);
      const out = decodeTextBytes(compact, maxMessageBytes);
      receiveStats.textMessages++;
      receiveStats.textBytesIn += compact.length;
      receiveStats.textBytesOut += out.length;
      return out;
    },
  };
}
