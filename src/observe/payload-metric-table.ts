// How each payload-plane stat (PayloadMetrics.snapshot(), PayloadPairs and ShmSetup extras) becomes a
// Prometheus series: one unit per metric name, counters end in _total, labels only from fixed sets.
// A unit test checks that every stat the plane reports is listed here.

export interface PayloadSeries {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labels?: Record<string, string>;
}

const counter = (name: string, help: string, labels?: Record<string, string>): PayloadSeries => ({ name, help, type: 'counter', labels });
const gauge = (name: string, help: string): PayloadSeries => ({ name, help, type: 'gauge' });

const BLOBS = 'Large messages moved by the payload plane, by direction.';
const BLOB_BYTES = 'Original bytes of large messages moved by the payload plane, by direction.';
const CHUNK_BYTES = 'Bytes of chunk bodies that crossed the link, before (raw) and after (wire) compression.';
const COMPRESSION = 'Chunk bodies sent, by compression chosen.';
const NACKS = 'NACKs (chunk requests after a store miss), by direction.';
const LOOKUPS = 'Chunk references resolved from the local store (hit) or requested from the peer (miss).';
const POLICY = 'What the compression policy chose for blobs with new data: raw, per-chunk lz4 or zstd, or packed units.';
const UNIT_BYTES = 'Raw bytes packed in units (payload-v2) and their unit bodies on the link.';
const UNIT_ELEMENT = 'Units sent, by byte-shuffle element size (1 = no shuffle).';
const UNIT_PLANES = 'Unit planes sent, by the coding that won (raw, zstd, Huffman-only deflate, split by the top plane as context, or masked: a bit mask and the non-zero bytes).';
const SHM_BLOBS = 'Blobs moved through shared-memory segments, by direction.';
const SHM_BYTES = 'Bytes moved through shared-memory segments, by direction.';

/** stat key -> series. Ratios are left out: they derive from the counters. */
export const PAYLOAD_SERIES: Record<string, PayloadSeries> = {
  blobsSent: counter('hypha_accel_payload_blobs_total', BLOBS, { direction: 'sent' }),
  blobsReceived: counter('hypha_accel_payload_blobs_total', BLOBS, { direction: 'received' }),
  blobBytesSent: counter('hypha_accel_payload_blob_bytes_total', BLOB_BYTES, { direction: 'sent' }),
  blobBytesReceived: counter('hypha_accel_payload_blob_bytes_total', BLOB_BYTES, { direction: 'received' }),
  chunksSent: counter('hypha_accel_payload_chunks_sent_total', 'Chunks sent (by body or by reference).'),
  chunksDeduped: counter('hypha_accel_payload_chunks_deduped_total', 'Chunks sent as a reference only: the peer held them.'),
  bytesDeduped: counter('hypha_accel_payload_deduped_bytes_total', 'Chunk bytes that did not cross the link thanks to dedupe.'),
  inlineRawBytes: counter('hypha_accel_payload_chunk_bytes_total', CHUNK_BYTES, { stage: 'raw' }),
  inlineWireBytes: counter('hypha_accel_payload_chunk_bytes_total', CHUNK_BYTES, { stage: 'wire' }),
  'chunksByCodec.none': counter('hypha_accel_payload_chunks_compressed_total', COMPRESSION, { compression: 'none' }),
  'chunksByCodec.lz4': counter('hypha_accel_payload_chunks_compressed_total', COMPRESSION, { compression: 'lz4' }),
  'chunksByCodec.zstd': counter('hypha_accel_payload_chunks_compressed_total', COMPRESSION, { compression: 'zstd' }),
  'policyChoices.none': counter('hypha_accel_payload_policy_choices_total', POLICY, { choice: 'none' }),
  'policyChoices.lz4': counter('hypha_accel_payload_policy_choices_total', POLICY, { choice: 'lz4' }),
  'policyChoices.zstd': counter('hypha_accel_payload_policy_choices_total', POLICY, { choice: 'zstd' }),
  'policyChoices.unit': counter('hypha_accel_payload_policy_choices_total', POLICY, { choice: 'unit' }),
  policyLinkBytesPerUs: gauge('hypha_accel_payload_policy_link_bytes_per_us', 'Link rate (bytes per µs) the last compression decision used (largest over peer pairs).'),
  policySavedBytesPerCpuUs: gauge('hypha_accel_payload_policy_saved_bytes_per_cpu_us', 'Bytes the last chosen compression keeps off the link per µs of CPU (0: raw; largest over peer pairs).'),
  unitsSent: counter('hypha_accel_payload_units_sent_total', 'Units (packed runs of new chunks, payload-v2) sent.'),
  unitsReceived: counter('hypha_accel_payload_units_received_total', 'Units received and decoded.'),
  unitsFallenBackRaw: counter('hypha_accel_payload_units_fallen_back_total', 'Units that did not shrink and went as raw chunks.'),
  unitRawBytes: counter('hypha_accel_payload_unit_bytes_total', UNIT_BYTES, { stage: 'raw' }),
  unitWireBytes: counter('hypha_accel_payload_unit_bytes_total', UNIT_BYTES, { stage: 'wire' }),
  'unitsByElementBytes.e1': counter('hypha_accel_payload_units_by_element_total', UNIT_ELEMENT, { element_bytes: '1' }),
  'unitsByElementBytes.e2': counter('hypha_accel_payload_units_by_element_total', UNIT_ELEMENT, { element_bytes: '2' }),
  'unitsByElementBytes.e4': counter('hypha_accel_payload_units_by_element_total', UNIT_ELEMENT, { element_bytes: '4' }),
  'unitsByElementBytes.e8': counter('hypha_accel_payload_units_by_element_total', UNIT_ELEMENT, { element_bytes: '8' }),
  'unitPlanesByCodec.raw': counter('hypha_accel_payload_unit_planes_total', UNIT_PLANES, { codec: 'raw' }),
  'unitPlanesByCodec.zstd': counter('hypha_accel_payload_unit_planes_total', UNIT_PLANES, { codec: 'zstd' }),
  'unitPlanesByCodec.huffman': counter('hypha_accel_payload_unit_planes_total', UNIT_PLANES, { codec: 'huffman' }),
  'unitPlanesByCodec.split': counter('hypha_accel_payload_unit_planes_total', UNIT_PLANES, { codec: 'split' }),
  'unitPlanesByCodec.masked': counter('hypha_accel_payload_unit_planes_total', UNIT_PLANES, { codec: 'masked' }),
  unitLevel: gauge('hypha_accel_payload_unit_zstd_level', 'zstd level of the last unit (largest over peer pairs).'),
  nacksReceived: counter('hypha_accel_payload_nacks_total', NACKS, { direction: 'received' }),
  nacksSent: counter('hypha_accel_payload_nacks_total', NACKS, { direction: 'sent' }),
  chunksResent: counter('hypha_accel_payload_chunks_resent_total', 'Chunks resent after a NACK.'),
  chunksUnavailable: counter('hypha_accel_payload_chunks_unavailable_total', 'NACKed chunks this side no longer held.'),
  chunksReceived: counter('hypha_accel_payload_chunks_received_total', 'Chunks received (by body or by reference).'),
  storeHits: counter('hypha_accel_payload_store_lookups_total', LOOKUPS, { result: 'hit' }),
  storeMisses: counter('hypha_accel_payload_store_lookups_total', LOOKUPS, { result: 'miss' }),
  hashMismatches: counter('hypha_accel_payload_hash_mismatches_total', 'Received chunks whose hash did not match.'),
  decodeFailures: counter('hypha_accel_payload_decode_failures_total', 'Chunk bodies that failed to decompress.'),
  blobsFailed: counter('hypha_accel_payload_blobs_failed_total', 'Blobs that could not be reassembled.'),
  shmBlobsSent: counter('hypha_accel_shm_blobs_total', SHM_BLOBS, { direction: 'sent' }),
  shmBlobsReceived: counter('hypha_accel_shm_blobs_total', SHM_BLOBS, { direction: 'received' }),
  shmBytesSent: counter('hypha_accel_shm_bytes_total', SHM_BYTES, { direction: 'sent' }),
  shmBytesReceived: counter('hypha_accel_shm_bytes_total', SHM_BYTES, { direction: 'received' }),
  shmFallbacks: counter('hypha_accel_shm_fallbacks_total', 'Blobs that went over the link although shared memory was negotiated.'),
  shmLinks: counter('hypha_accel_shm_links_total', 'Links that came up with shared memory negotiated.'),
  pairs: gauge('hypha_accel_payload_pairs', 'Payload pairs (one per peer process) currently held.'),
  shmOutstandingBytes: gauge('hypha_accel_shm_outstanding_bytes', 'Bytes of shared-memory segments written and not yet consumed.'),
  shmOutstandingSegments: gauge('hypha_accel_shm_outstanding_segments', 'Shared-memory segments written and not yet consumed.'),
};

export const PAYLOAD_IGNORED_STATS = new Set(['storeHitRatio', 'dedupeByteRatio']);
