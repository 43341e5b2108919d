// Public interface of the codec: byte-exact transcoding of hypha messages for the link (no sockets).
// See docs/codec.md for the compact format, the table contract and the error codes.
export { CodecEncoder } from './encoder.js';
export { CodecDecoder } from './decoder.js';
export { encodeText, decodeText } from './text-codec.js';
export { CodecError, type CodecErrorCode } from './codec-error.js';
export {
  newCodecStats, tableFingerprint, DEFAULT_TABLES, DEFAULT_MAX_MESSAGE_BYTES,
  type CodecOptions, type CodecStats, type CodecTableOptions, type BlobSink, type BlobSource,
} from './options.js';
export { encodeTextBytes, decodeTextBytes } from './text-codec.js';
export { createLinkCodec, type LinkEndCodec } from './link-codec.js';
