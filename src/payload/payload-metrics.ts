// Counters of the payload plane (plain numbers, owned by one pair): bytes before and after each
// stage, dedupe hits, NACK traffic, failures and shared-memory use. src/observe reads snapshot().

export class PayloadMetrics {
  // sending side
  blobsSent = 0;
  blobBytesSent = 0; // raw blob bytes handed to sendBlob
  chunksSent = 0;
  chunksDeduped = 0; // sent as a reference only
  bytesDeduped = 0;
  inlineRawBytes = 0; // raw bytes of chunks whose body crossed the link
  inlineWireBytes = 0; // the same after compression
  chunksByCodec = { none: 0, lz4: 0, zstd: 0 };
  // what the policy chose per blob with new data (raw, per-chunk lz4/zstd, packed units)
  policyChoices = { none: 0, lz4: 0, zstd: 0, unit: 0 };
  policyLinkBytesPerUs = 0; // gauge: the link rate the last decision used
  policySavedBytesPerCpuUs = 0; // gauge: what the last chosen compression saves per CPU µs (0: raw)
  unitsSent = 0;
  unitRawBytes = 0; // raw bytes packed in units (part of inlineRawBytes)
  unitWireBytes = 0; // their unit bodies (part of inlineWireBytes)
  unitsByElementBytes = { e1: 0, e2: 0, e4: 0, e8: 0 }; // byte-shuffle element size
  unitPlanesByCodec = { raw: 0, zstd: 0, huffman: 0, split: 0, masked: 0 };
  unitLevel = 0; // zstd level of the last unit (gauge)
  unitsFallenBackRaw = 0; // units that did not shrink, sent as raw chunks
  nacksReceived = 0;
  chunksResent = 0;
  chunksUnavailable = 0; // NACKed chunks we no longer held
  // receiving side
  blobsReceived = 0;
  blobBytesReceived = 0;
  chunksReceived = 0;
  storeHits = 0;
  storeMisses = 0;
  nacksSent = 0;
  hashMismatches = 0;
  decodeFailures = 0;
  unitsReceived = 0;
  blobsFailed = 0;
  // shared memory
  shmBlobsSent = 0;
  shmBytesSent = 0;
  shmFallbacks = 0;
  shmBlobsReceived = 0;
  shmBytesReceived = 0;

  /** Fraction of referenced chunks resolved from the store without a NACK. */
  get storeHitRatio(): number {
    const total = this.storeHits + this.storeMisses;
    return total === 0 ? 0 : this.storeHits / total;
  }

  /** Fraction of sent chunk bytes that did not cross the link thanks to dedupe. */
  get dedupeByteRatio(): number {
    const total = this.bytesDeduped + this.inlineRawBytes;
    return total === 0 ? 0 : this.bytesDeduped / total;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(this)) {
      if (typeof value === 'number') out[key] = value;
      else for (const [sub, n] of Object.entries(value as Record<string, number>)) out[`${key}.${sub}`] = n;
    }
    out.storeHitRatio = this.storeHitRatio;
    out.dedupeByteRatio = this.dedupeByteRatio;
    return out;
  }
}
