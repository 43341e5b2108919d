// Payload frames: pure encoders and one validating decoder. Every length read from the wire is
// checked against PayloadWireLimits before anything is allocated; bad input yields only
// PayloadError(HYPHA_ACCEL_ERR_PAYLOAD_FRAME_INVALID). All integers big-endian.
//
// MANIFEST 1 | blobId u32 | flags u8 | totalBytes u64 | wholeHash 16 | count u32 | count x (hash 16, rawBytes u32, flags u8)
// CHUNK    2 | blobId u32 | hash 16 | codec u8 | rawBytes u32 | body (rest of frame)
// NACK     3 | blobId u32 | count u32 | count x hash 16
// ACK      4 | blobId u32
// FAIL     5 | blobId u32 | code u16 (index into failCodeNumbers)
// SHM      6 | blobId u32 | totalBytes u64 | wholeHash 16 | nameBytes u8 | name (ASCII)
// UNIT     7 | blobId u32 | firstEntry u32 | entryCount u32 | rawBytes u32 | elementBytes u8 | bodyBytes u32
//            | pieceOffset u32 | piece (rest of frame)   (payload-v2: one piece of a packed run of new chunks)

import { failCodeNumbers, PayloadError, PayloadErrorCode, type PayloadErrorCodeValue } from './payload-error.js';
import { hashBytes, readHash, writeHash } from './chunk-hash.js';
import { maxUnitBodyBytes } from './unit-codec.js';
import { shuffleElementSizes } from './byte-shuffle.js';

export const FrameKind = { manifest: 1, chunk: 2, nack: 3, ack: 4, fail: 5, shm: 6, unit: 7 } as const;
export const ChunkCodec = { none: 0, lz4: 1, zstd: 2 } as const;
export type ChunkCodecId = (typeof ChunkCodec)[keyof typeof ChunkCodec];
export const chunkFlagInline = 1;

export interface PayloadWireLimits {
  /** Largest blob a manifest may announce. */
  maxBlobBytes: number;
  /** Largest raw chunk; also bounds NACK lists via maxChunksPerBlob. */
  maxChunkBytes: number;
  /** Most chunks one manifest or NACK may list. */
  maxChunksPerBlob: number;
  /** Largest raw run one UNIT may pack. */
  maxUnitBytes: number;
}

/** Bound on one packed unit, whatever the blob bound (a unit is decoded in one piece). */
export const maxUnitBytesLimit = 64 * 1024 * 1024;

export function wireLimitsFor(maxBlobBytes: number, minChunkBytes: number, maxChunkBytes: number): PayloadWireLimits {
  return { maxBlobBytes, maxChunkBytes, maxChunksPerBlob: Math.ceil(maxBlobBytes / minChunkBytes) + 1, maxUnitBytes: Math.min(maxBlobBytes, maxUnitBytesLimit) };
}

/** Worst-case encoded size of a chunk of `rawBytes` (above lz4's and zstd's bounds). */
export function maxEncodedChunkBytes(rawBytes: number): number {
  return rawBytes + (rawBytes >>> 7) + 128;
}

export interface ManifestEntry {
  hash: bigint;
  rawBytes: number;
  inline: boolean;
}
export interface ManifestFrame {
  kind: typeof FrameKind.manifest;
  blobId: number;
  totalBytes: number;
  wholeHash: bigint;
  entries: ManifestEntry[];
}
export interface ChunkFrame {
  kind: typeof FrameKind.chunk;
  blobId: number;
  hash: bigint;
  codec: ChunkCodecId;
  rawBytes: number;
  body: Uint8Array;
}
export interface NackFrame {
  kind: typeof FrameKind.nack;
  blobId: number;
  hashes: bigint[];
}
export interface AckFrame {
  kind: typeof FrameKind.ack;
  blobId: number;
}
export interface FailFrame {
  kind: typeof FrameKind.fail;
  blobId: number;
  code: PayloadErrorCodeValue;
}
export interface ShmFrame {
  kind: typeof FrameKind.shm;
  blobId: number;
  totalBytes: number;
  wholeHash: bigint;
  segmentName: string;
}
export interface UnitFrame {
  kind: typeof FrameKind.unit;
  blobId: number;
  /** The unit packs the inline entries among manifest entries firstEntry .. firstEntry + entryCount - 1. */
  firstEntry: number;
  entryCount: number;
  rawBytes: number;
  /** Byte-shuffle element size (1 = none); also the number of planes in the body. */
  elementBytes: number;
  /** Length of the whole unit body, cut into pieces of one frame each, sent in order. */
  bodyBytes: number;
  pieceOffset: number;
  piece: Uint8Array;
}
export type PayloadFrame = ManifestFrame | ChunkFrame | NackFrame | AckFrame | FailFrame | ShmFrame | UnitFrame;

const manifestHeaderBytes = 1 + 4 + 1 + 8 + hashBytes + 4;
const manifestEntryBytes = hashBytes + 4 + 1;
const chunkHeaderBytes = 1 + 4 + hashBytes + 1 + 4;
const unitHeaderBytes = 1 + 4 + 4 + 4 + 4 + 1 + 4 + 4;
const segmentNamePattern = /^[A-Za-z0-9_-]{1,120}\.seg$/;

export function isValidSegmentName(name: string): boolean {
  return segmentNamePattern.test(name);
}

function allocFrame(bytes: number, kind: number, blobId: number): { frame: Uint8Array; view: DataView } {
  const frame = new Uint8Array(bytes);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setUint8(0, kind);
  view.setUint32(1, blobId >>> 0);
  return { frame, view };
}

export function encodeManifest(m: Omit<ManifestFrame, 'kind'>): Uint8Array {
  const { frame, view } = allocFrame(manifestHeaderBytes + m.entries.length * manifestEntryBytes, FrameKind.manifest, m.blobId);
  view.setBigUint64(6, BigInt(m.totalBytes));
  writeHash(view, 14, m.wholeHash);
  view.setUint32(30, m.entries.length);
  let offset = manifestHeaderBytes;
  for (const entry of m.entries) {
    writeHash(view, offset, entry.hash);
    view.setUint32(offset + 16, entry.rawBytes);
    view.setUint8(offset + 20, entry.inline ? chunkFlagInline : 0);
    offset += manifestEntryBytes;
  }
  return frame;
}

export function encodeChunk(c: Omit<ChunkFrame, 'kind'>): Uint8Array {
  const { frame, view } = allocFrame(chunkHeaderBytes + c.body.byteLength, FrameKind.chunk, c.blobId);
  writeHash(view, 5, c.hash);
  view.setUint8(21, c.codec);
  view.setUint32(22, c.rawBytes);
  frame.set(c.body, chunkHeaderBytes);
  return frame;
}

export function encodeNack(blobId: number, hashes: readonly bigint[]): Uint8Array {
  const { frame, view } = allocFrame(9 + hashes.length * hashBytes, FrameKind.nack, blobId);
  view.setUint32(5, hashes.length);
  hashes.forEach((hash, i) => writeHash(view, 9 + i * hashBytes, hash));
  return frame;
}

export function encodeAck(blobId: number): Uint8Array {
  return allocFrame(5, FrameKind.ack, blobId).frame;
}

export function encodeFail(blobId: number, code: PayloadErrorCodeValue): Uint8Array {
  const { frame, view } = allocFrame(7, FrameKind.fail, blobId);
  view.setUint16(5, Math.max(0, failCodeNumbers.indexOf(code)));
  return frame;
}

export function encodeShm(s: Omit<ShmFrame, 'kind'>): Uint8Array {
  if (!isValidSegmentName(s.segmentName)) throw new RangeError(`bad segment name ${s.segmentName}`);
  const name = Buffer.from(s.segmentName, 'ascii');
  const { frame, view } = allocFrame(30 + name.byteLength, FrameKind.shm, s.blobId);
  view.setBigUint64(5, BigInt(s.totalBytes));
  writeHash(view, 13, s.wholeHash);
  view.setUint8(29, name.byteLength);
  frame.set(name, 30);
  return frame;
}

export function encodeUnitPiece(u: Omit<UnitFrame, 'kind'>): Uint8Array {
  const { frame, view } = allocFrame(unitHeaderBytes + u.piece.byteLength, FrameKind.unit, u.blobId);
  view.setUint32(5, u.firstEntry);
  view.setUint32(9, u.entryCount);
  view.setUint32(13, u.rawBytes);
  view.setUint8(17, u.elementBytes);
  view.setUint32(18, u.bodyBytes);
  view.setUint32(22, u.pieceOffset);
  frame.set(u.piece, unitHeaderBytes);
  return frame;
}

function invalid(message: string): PayloadError {
  return new PayloadError(PayloadErrorCode.frameInvalid, `payload frame: ${message}`);
}

function need(frame: Uint8Array, bytes: number, what: string): void {
  if (frame.byteLength < bytes) throw invalid(`${what} truncated (${frame.byteLength} < ${bytes} bytes)`);
}

function exact(frame: Uint8Array, bytes: number, what: string): void {
  if (frame.byteLength !== bytes) throw invalid(`${what} must be ${bytes} bytes, got ${frame.byteLength}`);
}

function readLength64(view: DataView, offset: number, limit: number, what: string): number {
  const value = view.getBigUint64(offset);
  if (value > BigInt(limit)) throw invalid(`${what} ${value} above limit ${limit}`);
  return Number(value);
}

/** Decodes one frame; CHUNK bodies are zero-copy views into `frame`. */
export function decodePayloadFrame(frame: Uint8Array, limits: PayloadWireLimits): PayloadFrame {
  need(frame, 5, 'frame');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const kind = view.getUint8(0);
  const blobId = view.getUint32(1);
  switch (kind) {
    case FrameKind.manifest: {
      need(frame, manifestHeaderBytes, 'manifest');
      if (view.getUint8(5) !== 0) throw invalid('manifest flags must be 0');
      const totalBytes = readLength64(view, 6, limits.maxBlobBytes, 'manifest totalBytes');
      const wholeHash = readHash(view, 14);
      const count = view.getUint32(30);
      if (count > limits.maxChunksPerBlob) throw invalid(`manifest count ${count} above limit ${limits.maxChunksPerBlob}`);
      if (count === 0 && totalBytes !== 0) throw invalid('manifest without chunks for a non-empty blob');
      exact(frame, manifestHeaderBytes + count * manifestEntryBytes, 'manifest');
      const entries: ManifestEntry[] = new Array(count);
      let offset = manifestHeaderBytes;
      let sumBytes = 0;
      for (let i = 0; i < count; i++) {
        const rawBytes = view.getUint32(offset + 16);
        if (rawBytes === 0 || rawBytes > limits.maxChunkBytes) throw invalid(`chunk length ${rawBytes} outside 1..${limits.maxChunkBytes}`);
        const flags = view.getUint8(offset + 20);
        if ((flags & ~chunkFlagInline) !== 0) throw invalid(`unknown chunk flags ${flags}`);
        entries[i] = { hash: readHash(view, offset), rawBytes, inline: flags === chunkFlagInline };
        sumBytes += rawBytes;
        offset += manifestEntryBytes;
      }
      if (sumBytes !== totalBytes) throw invalid(`chunk lengths sum to ${sumBytes}, manifest says ${totalBytes}`);
      return { kind, blobId, totalBytes, wholeHash, entries };
    }
    case FrameKind.chunk: {
      need(frame, chunkHeaderBytes, 'chunk');
      const codec = view.getUint8(21);
      if (codec !== ChunkCodec.none && codec !== ChunkCodec.lz4 && codec !== ChunkCodec.zstd) throw invalid(`unknown codec ${codec}`);
      const rawBytes = view.getUint32(22);
      if (rawBytes === 0 || rawBytes > limits.maxChunkBytes) throw invalid(`chunk length ${rawBytes} outside 1..${limits.maxChunkBytes}`);
      const bodyBytes = frame.byteLength - chunkHeaderBytes;
      if (codec === ChunkCodec.none ? bodyBytes !== rawBytes : bodyBytes > maxEncodedChunkBytes(rawBytes) || bodyBytes === 0) {
        throw invalid(`chunk body of ${bodyBytes} bytes impossible for ${rawBytes} raw bytes`);
      }
      return { kind, blobId, hash: readHash(view, 5), codec, rawBytes, body: frame.subarray(chunkHeaderBytes) };
    }
    case FrameKind.nack: {
      need(frame, 9, 'nack');
      const count = view.getUint32(5);
      if (count === 0 || count > limits.maxChunksPerBlob) throw invalid(`nack count ${count} outside 1..${limits.maxChunksPerBlob}`);
      exact(frame, 9 + count * hashBytes, 'nack');
      const hashes: bigint[] = new Array(count);
      for (let i = 0; i < count; i++) hashes[i] = readHash(view, 9 + i * hashBytes);
      return { kind, blobId, hashes };
    }
    case FrameKind.ack:
      exact(frame, 5, 'ack');
      return { kind, blobId };
    case FrameKind.fail: {
      exact(frame, 7, 'fail');
      const code = failCodeNumbers[view.getUint16(5)];
      if (code === undefined) throw invalid(`unknown fail code ${view.getUint16(5)}`);
      return { kind, blobId, code };
    }
    case FrameKind.shm: {
      need(frame, 30, 'shm');
      const totalBytes = readLength64(view, 5, limits.maxBlobBytes, 'shm totalBytes');
      const nameBytes = view.getUint8(29);
      exact(frame, 30 + nameBytes, 'shm');
      const segmentName = Buffer.from(frame.buffer, frame.byteOffset + 30, nameBytes).toString('latin1');
      if (!isValidSegmentName(segmentName)) throw invalid('shm segment name not one we issue');
      return { kind, blobId, totalBytes, wholeHash: readHash(view, 13), segmentName };
    }
    case FrameKind.unit: {
      need(frame, unitHeaderBytes + 1, 'unit');
      const firstEntry = view.getUint32(5);
      const entryCount = view.getUint32(9);
      if (entryCount === 0 || firstEntry + entryCount > limits.maxChunksPerBlob) throw invalid(`unit entries ${firstEntry}+${entryCount} outside the manifest bound ${limits.maxChunksPerBlob}`);
      const rawBytes = view.getUint32(13);
      if (rawBytes === 0 || rawBytes > limits.maxUnitBytes) throw invalid(`unit length ${rawBytes} outside 1..${limits.maxUnitBytes}`);
      const elementBytes = view.getUint8(17);
      if (!(shuffleElementSizes as readonly number[]).includes(elementBytes)) throw invalid(`unit element size ${elementBytes}`);
      const bodyBytes = view.getUint32(18);
      if (bodyBytes === 0 || bodyBytes > maxUnitBodyBytes(rawBytes, elementBytes)) throw invalid(`unit body of ${bodyBytes} bytes impossible for ${rawBytes} raw bytes`);
      const pieceOffset = view.getUint32(22);
      const piece = frame.subarray(unitHeaderBytes);
      if (pieceOffset + piece.byteLength > bodyBytes) throw invalid(`unit piece ${pieceOffset}+${piece.byteLength} past its body of ${bodyBytes}`);
      return { kind, blobId, firstEntry, entryCount, rawBytes, elementBytes, bodyBytes, pieceOffset, piece };
    }
    default:
      throw invalid(`unknown frame kind ${kind}`);
  }
}
