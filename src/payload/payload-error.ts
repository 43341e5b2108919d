// Error type of the payload plane: every failure carries a stable HYPHA_ACCEL_ERR_PAYLOAD_* code.
// Local stand-in until the project registry src/errors.ts exists; the codes below are meant to move there.

export const PayloadErrorCode = {
  /** A payload frame is malformed or a length in it exceeds its documented limit. */
  frameInvalid: 'HYPHA_ACCEL_ERR_PAYLOAD_FRAME_INVALID',
  /** A chunk body or an assembled blob does not match the hash it was announced with. */
  hashMismatch: 'HYPHA_ACCEL_ERR_PAYLOAD_HASH_MISMATCH',
  /** A referenced chunk is held by neither side any more; the blob cannot be rebuilt. */
  chunkUnavailable: 'HYPHA_ACCEL_ERR_PAYLOAD_CHUNK_UNAVAILABLE',
  /** A chunk body could not be decompressed to its announced length. */
  decodeFailed: 'HYPHA_ACCEL_ERR_PAYLOAD_DECODE_FAILED',
  /** A blob exceeds maxBlobBytes. */
  blobTooLarge: 'HYPHA_ACCEL_ERR_PAYLOAD_BLOB_TOO_LARGE',
  /** The payload endpoint was closed (link pair reset) while the blob was in flight. */
  closed: 'HYPHA_ACCEL_ERR_PAYLOAD_CLOSED',
  /** A shared-memory segment is missing, of the wrong size, or its name is not one we issue. */
  shmSegmentInvalid: 'HYPHA_ACCEL_ERR_PAYLOAD_SHM_SEGMENT_INVALID',
  /** The protocol was violated (duplicate blob id, NACK for an unknown chunk, ...). */
  protocol: 'HYPHA_ACCEL_ERR_PAYLOAD_PROTOCOL',
} as const;

export type PayloadErrorCodeValue = (typeof PayloadErrorCode)[keyof typeof PayloadErrorCode];

export class PayloadError extends Error {
  readonly code: PayloadErrorCodeValue;
  constructor(code: PayloadErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadError';
    this.code = code;
  }
}

/** Numeric form of a code, carried in FAIL frames (stable: append only). */
export const failCodeNumbers: readonly PayloadErrorCodeValue[] = [
  PayloadErrorCode.frameInvalid,
  PayloadErrorCode.hashMismatch,
  PayloadErrorCode.chunkUnavailable,
  PayloadErrorCode.decodeFailed,
  PayloadErrorCode.blobTooLarge,
  PayloadErrorCode.closed,
  PayloadErrorCode.shmSegmentInvalid,
  PayloadErrorCode.protocol,
];
