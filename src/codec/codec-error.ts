// Coded errors raised by the codec. A local class until the project-wide registry (src/errors.ts)
// exists; the codes follow the HYPHA_ACCEL_ERR_* scheme and are listed in docs/codec.md.

export type CodecErrorCode =
  /** compact input is malformed (truncated, bad token, length over a limit); fatal if `fatal` */
  | 'HYPHA_ACCEL_ERR_CODEC_MALFORMED'
  /** a table reference, sequence number or table digest does not match: the tables diverged */
  | 'HYPHA_ACCEL_ERR_CODEC_DESYNC'
  /** a declared length exceeds a configured limit (maxMessageBytes, ...) */
  | 'HYPHA_ACCEL_ERR_CODEC_LIMIT'
  /** the instance failed before and refuses further work: build a new encoder/decoder pair */
  | 'HYPHA_ACCEL_ERR_CODEC_POISONED'
  /** invalid options (table sizes, thresholds) */
  | 'HYPHA_ACCEL_ERR_CODEC_CONFIG'
  /** a blob reference could not be resolved by the payload plane hook */
  | 'HYPHA_ACCEL_ERR_CODEC_BLOB';

export class CodecError extends Error {
  readonly code: CodecErrorCode;
  /** true when the instance that threw can no longer be used (its tables may be corrupted) */
  readonly fatal: boolean;

  constructor(code: CodecErrorCode, message: string, fatal: boolean) {
    super(message);
    this.name = 'CodecError';
    this.code = code;
    this.fatal = fatal;
  }
}
