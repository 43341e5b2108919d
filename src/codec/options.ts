// Codec options: table bounds (must be identical on both ends of a link), wire limits, blob hook, stats.
// Every limit is documented here and in docs/codec.md; resolveOptions validates and fills defaults.
import { CodecError } from './codec-error.js';

/** Table bounds. Encoder and decoder of one direction MUST use equal values (see tableFingerprint). */
export interface CodecTableOptions {
  /** interned strings: max entries / max total content bytes / largest string interned */
  stringEntries: number;
  stringBytes: number;
  maxStringEntryBytes: number;
  /** interned whole maps/arrays (user dicts, schemas, service descriptions) */
  objectEntries: number;
  objectBytes: number;
  minObjectEntryBytes: number;
  maxObjectEntryBytes: number;
  /** map shapes (header + exact key bytes) */
  shapeEntries: number;
  shapeBytes: number;
  maxShapeKeys: number;
  /** a map/array holding a bin of at least this size is never interned as a whole */
  internBinLimitBytes: number;
  /** nesting deeper than this is carried verbatim (T_RAW_VALUE) */
  maxDepth: number;
}

/** Payload-plane hook (encoder side): lifts a bin payload out of the message, returns an opaque ref. */
export interface BlobSink {
  put(payload: Uint8Array): Uint8Array;
}
/** Payload-plane hook (decoder side): returns the exact payload for a ref produced by the peer's sink. */
export interface BlobSource {
  get(ref: Uint8Array): Uint8Array | undefined;
}

/** Counters read by the metrics layer; one object may be shared by several instances. */
export interface CodecStats {
  messages: number;
  rawFallbacks: number;
  bytesIn: number;
  bytesOut: number;
  mainBytesIn: number;
  mainBytesOut: number;
  extraBytesIn: number;
  extraBytesOut: number;
  trailingBytes: number;
  blobs: number;
  textMessages: number;
  textBytesIn: number;
  textBytesOut: number;
}

export function newCodecStats(): CodecStats {
  return {
    messages: 0, rawFallbacks: 0, bytesIn: 0, bytesOut: 0, mainBytesIn: 0, mainBytesOut: 0,
    extraBytesIn: 0, extraBytesOut: 0, trailingBytes: 0, blobs: 0, textMessages: 0, textBytesIn: 0,
    textBytesOut: 0,
  };
}

export interface CodecOptions extends Partial<CodecTableOptions> {
  /** decoder: refuse messages whose original length exceeds this (checked before allocating) */
  maxMessageBytes?: number;
  /** encoder: bins of at least this size go to blobSink (when one is given); default: never */
  blobThresholdBytes?: number;
  blobSink?: BlobSink;
  blobSource?: BlobSource;
  stats?: CodecStats;
}

export const DEFAULT_TABLES: Readonly<CodecTableOptions> = {
  stringEntries: 4096,
  stringBytes: 1 << 20,
  maxStringEntryBytes: 1024,
  objectEntries: 1024,
  objectBytes: 4 << 20,
  minObjectEntryBytes: 12,
  maxObjectEntryBytes: 64 << 10,
  shapeEntries: 1024,
  shapeBytes: 256 << 10,
  maxShapeKeys: 64,
  internBinLimitBytes: 256,
  maxDepth: 64,
};

/** 32 MiB: above hypha's 16 MiB client->server limit, far above the 1 MiB toward Python clients */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 << 20;

export interface ResolvedOptions extends CodecTableOptions {
  maxMessageBytes: number;
  blobThresholdBytes: number;
  blobSink: BlobSink | undefined;
  blobSource: BlobSource | undefined;
  stats: CodecStats;
}

export function resolveOptions(opts: CodecOptions = {}): ResolvedOptions {
  const r: ResolvedOptions = {
    ...DEFAULT_TABLES,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    blobThresholdBytes: Number.POSITIVE_INFINITY,
    blobSink: opts.blobSink,
    blobSource: opts.blobSource,
    stats: opts.stats ?? newCodecStats(),
  };
  for (const k of Object.keys(DEFAULT_TABLES) as (keyof CodecTableOptions)[]) {
    const v = opts[k];
    if (v !== undefined) r[k] = v;
  }
  if (opts.maxMessageBytes !== undefined) r.maxMessageBytes = opts.maxMessageBytes;
  if (opts.blobThresholdBytes !== undefined) r.blobThresholdBytes = opts.blobThresholdBytes;
  const positive = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 1) bad(`${name} must be a positive integer, got ${v}`);
  };
  for (const k of Object.keys(DEFAULT_TABLES) as (keyof CodecTableOptions)[]) positive(k, r[k]);
  positive('maxMessageBytes', r.maxMessageBytes);
  if (r.maxStringEntryBytes > r.stringBytes) bad('maxStringEntryBytes must not exceed stringBytes');
  if (r.maxObjectEntryBytes > r.objectBytes) bad('maxObjectEntryBytes must not exceed objectBytes');
  if (r.minObjectEntryBytes > r.maxObjectEntryBytes) bad('minObjectEntryBytes > maxObjectEntryBytes');
  if (r.maxDepth > 1000) bad('maxDepth must be at most 1000');
  if (!(r.blobThresholdBytes >= 1)) bad('blobThresholdBytes must be >= 1');
  return r;
}

/** A string both link ends compare in their handshake: equal fingerprints = compatible tables. */
export function tableFingerprint(opts: CodecOptions = {}): string {
  const r = resolveOptions(opts);
  const parts = (Object.keys(DEFAULT_TABLES) as (keyof CodecTableOptions)[]).map((k) => `${k}=${r[k]}`);
  return `codec-v1;${parts.join(';')}`;
}

function bad(msg: string): never {
  throw new CodecError('HYPHA_ACCEL_ERR_CODEC_CONFIG', msg, false);
}
