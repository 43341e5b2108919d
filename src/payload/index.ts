// Public surface of the payload plane (src/payload): blobs moved between the two proxies of a pair
// with content-defined dedupe, per-chunk compression and shared memory. See docs/payload.md.

export { PayloadPair } from './payload-pair.js';
export { PayloadEndpoint, type PayloadEndpointOptions } from './payload-endpoint.js';
export { defaultPayloadOptions, resolvePayloadOptions, type PayloadOptions } from './payload-options.js';
export { PayloadError, PayloadErrorCode, type PayloadErrorCodeValue } from './payload-error.js';
export { PayloadMetrics } from './payload-metrics.js';
export { chunkBlob, chunkBoundaries, defaultChunkingOptions, type ChunkingOptions } from './gear-chunker.js';
export { createChunkHasher, type ChunkHasher, type HashAlgorithm } from './chunk-hash.js';
export { ChunkStore, PeerBelief } from './chunk-store.js';
export { chooseCodec, defaultCodecSpeeds, type CodecPolicyInput, type LinkEstimate } from './codec-policy.js';
export { decodePayloadFrame, FrameKind, ChunkCodec, type PayloadFrame, type PayloadWireLimits } from './payload-wire.js';
export { ShmSegments, SHM_SUBDIR, defaultShmBaseDir, defaultShmOptions, type ShmChannel, type ShmOptions } from './shm-segments.js';
export { writeProbe, answerProbe, checkProbeProof, discardProbe, expectedProbeProof, type ShmProbe, type ShmProbeOffer } from './shm-probe.js';
export { SubmissionOrder } from './submission-order.js';
