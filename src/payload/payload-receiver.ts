// Receiving half of a payload endpoint: rebuilds blobs from inline bodies and the pair's store,
// verifies every chunk hash and the whole-blob hash, NACKs what is missing or corrupt (bounded
// rounds), and hands each blob out once via takeBlob(). Never yields bytes that fail verification.

import { PayloadError, PayloadErrorCode, type PayloadErrorCodeValue } from './payload-error.js';
import type { PayloadPair } from './payload-pair.js';
import { ChunkCodec, encodeAck, encodeNack, type ChunkFrame, type ManifestFrame, type ShmFrame, type UnitFrame } from './payload-wire.js';
import { decodeUnit } from './unit-codec.js';
import type { EmitFrame, YieldTurn } from './payload-sender.js';
import type { ChunkHasher } from './chunk-hash.js';
import type { ShmChannel } from './shm-segments.js';

interface Assembly {
  manifest: ManifestFrame;
  bodies: Map<bigint, Uint8Array>; // verified chunks received for this blob
  outstanding: Set<bigint>; // bodies we still wait for (announced inline, or NACKed)
  nackRounds: number;
  sawCorruption: boolean;
  assembling: boolean;
  decodedBytes: { lz4: number; zstd: number };
  decodeMs: { lz4: number; zstd: number };
  /** The unit whose pieces are arriving (units of a blob come one after another). */
  unit?: { frame: UnitFrame; body: Uint8Array; receivedBytes: number };
}

interface BlobSlot {
  promise: Promise<Uint8Array>;
  resolve: (bytes: Uint8Array) => void;
  reject: (error: PayloadError) => void;
  settled: boolean;
}

export class PayloadReceiver {
  private readonly assemblies = new Map<number, Assembly>();
  private readonly slots = new Map<number, BlobSlot>();
  /** hash -> number of active assemblies expecting its body inline (refs to it wait, no NACK). */
  private readonly expectedInline = new Map<bigint, number>();
  private closedError: PayloadError | undefined;
  /** Ids of blobs finished lately, so frames replayed after a link change are ignored (FIFO-bounded). */
  private readonly recentlyDone = new Set<number>();
  private static readonly recentlyDoneLimit = 4096;

  constructor(
    private readonly pair: PayloadPair,
    private readonly emit: EmitFrame,
    private readonly shm: ShmChannel | undefined,
    private readonly yieldTurn: YieldTurn,
  ) {}

  get activeBlobCount(): number {
    return this.assemblies.size;
  }

  /** Resolves with the blob's exact bytes, or rejects with a PayloadError. Call once per blob id. */
  takeBlob(blobId: number): Promise<Uint8Array> {
    const slot = this.slot(blobId);
    const settled = slot.settled;
    if (settled) this.slots.delete(blobId);
    else void slot.promise.then(() => this.slots.delete(blobId), () => this.slots.delete(blobId));
    return slot.promise;
  }

  private slot(blobId: number): BlobSlot {
    let slot = this.slots.get(blobId);
    if (!slot) {
      let resolve!: (bytes: Uint8Array) => void;
      let reject!: (error: PayloadError) => void;
      const promise = new Promise<Uint8Array>((res, rej) => [resolve, reject] = [res, rej]);
      promise.catch(() => undefined); // rejection is observed by takeBlob's caller
      slot = { promise, resolve, reject, settled: false };
      this.slots.set(blobId, slot);
      if (this.closedError) this.settle(blobId, this.closedError);
    }
    return slot;
  }

  private settle(blobId: number, result: Uint8Array | PayloadError): void {
    const slot = this.slot(blobId);
    if (slot.settled) return;
    slot.settled = true;
    if (result instanceof PayloadError) slot.reject(result);
    else slot.resolve(result);
  }

  handleManifest(manifest: ManifestFrame): void {
    if (this.assemblies.has(manifest.blobId) || this.recentlyDone.has(manifest.blobId)) return; // replayed duplicate
    const assembly: Assembly = { manifest, bodies: new Map(), outstanding: new Set(), nackRounds: 0, sawCorruption: false, assembling: false, decodedBytes: { lz4: 0, zstd: 0 }, decodeMs: { lz4: 0, zstd: 0 } };
    for (const entry of manifest.entries) {
      if (!entry.inline || assembly.outstanding.has(entry.hash)) continue;
      assembly.outstanding.add(entry.hash);
      this.expectedInline.set(entry.hash, (this.expectedInline.get(entry.hash) ?? 0) + 1);
    }
    this.assemblies.set(manifest.blobId, assembly);
    this.tryComplete(assembly);
  }

  handleChunk(chunk: ChunkFrame): void {
    const { metrics, codecs, hasher, store, peerHolds } = this.pair;
    const assembly = this.assemblies.get(chunk.blobId);
    if (!assembly || !assembly.outstanding.has(chunk.hash)) return; // late, duplicate or unsolicited
    metrics.chunksReceived++;
    this.stopExpecting(assembly, chunk.hash);
    let bytes: Uint8Array | undefined;
    const startedMs = this.pair.options.nowMs();
    try {
      bytes = codecs.decodeSync(chunk.codec, chunk.body, chunk.rawBytes);
    } catch {
      metrics.decodeFailures++;
    }
    if (bytes && chunk.codec !== ChunkCodec.none) {
      const name = chunk.codec === ChunkCodec.lz4 ? 'lz4' : 'zstd';
      assembly.decodedBytes[name] += bytes.byteLength;
      assembly.decodeMs[name] += this.pair.options.nowMs() - startedMs;
    }
    if (bytes && hasher.hash(bytes) === chunk.hash) {
      assembly.bodies.set(chunk.hash, bytes);
      if (this.pair.options.dedupeEnabled) {
        store.putOwned(chunk.hash, bytes); // decodeSync returned a fresh private buffer
        peerHolds.add(chunk.hash, bytes.byteLength); // the peer sent it, so it holds it
      }
    } else {
      if (bytes) metrics.hashMismatches++;
      assembly.sawCorruption = true; // stays missing: the next completion attempt NACKs it
    }
    this.tryComplete(assembly);
    this.retryParked(chunk.hash);
  }

  /**
   * One piece of a packed unit. The unit is checked against the manifest before its body is allocated:
   * its raw length must be the sum of the inline entries it covers. A unit that cannot be decoded or
   * does not match leaves its chunks missing, so they are NACKed and come back as plain CHUNKs.
   */
  handleUnitPiece(frame: UnitFrame): void {
    const assembly = this.assemblies.get(frame.blobId);
    if (!assembly) return; // late or duplicate
    if (frame.pieceOffset === 0) {
      if (assembly.unit && assembly.unit.frame.firstEntry !== frame.firstEntry) {
        // The previous unit never got all its pieces: NACK its chunks instead of waiting forever.
        const stale = assembly.unit.frame;
        assembly.unit = undefined;
        this.pair.metrics.decodeFailures++;
        this.abandonUnit(assembly, stale);
      }
      const covered = this.unitEntries(assembly.manifest, frame);
      if (covered === undefined) {
        // Announced sizes disagree with the manifest: a broken sender; its chunks get NACKed.
        this.pair.metrics.decodeFailures++;
        this.abandonUnit(assembly, frame);
        return;
      }
      if (!covered.some((entry) => assembly.outstanding.has(entry.hash))) return; // replayed duplicate
      assembly.unit = { frame, body: new Uint8Array(frame.bodyBytes), receivedBytes: 0 };
    }
    const unit = assembly.unit;
    if (!unit || unit.frame.firstEntry !== frame.firstEntry || unit.frame.bodyBytes !== frame.bodyBytes) return; // stray piece
    if (frame.pieceOffset < unit.receivedBytes) return; // duplicate
    if (frame.pieceOffset > unit.receivedBytes) {
      assembly.unit = undefined; // a gap: give the unit up
      this.pair.metrics.decodeFailures++;
      this.abandonUnit(assembly, unit.frame);
      return;
    }
    unit.body.set(frame.piece, frame.pieceOffset);
    unit.receivedBytes += frame.piece.byteLength;
    if (unit.receivedBytes < unit.frame.bodyBytes) return;
    assembly.unit = undefined;
    this.completeUnit(assembly, unit.frame, unit.body);
  }

  /** The inline entries a unit covers, or undefined when its raw length does not match them. */
  private unitEntries(manifest: ManifestFrame, frame: UnitFrame): ManifestFrame['entries'] | undefined {
    if (frame.firstEntry + frame.entryCount > manifest.entries.length) return undefined;
    const covered = manifest.entries.slice(frame.firstEntry, frame.firstEntry + frame.entryCount).filter((e) => e.inline);
    const sum = covered.reduce((total, e) => total + e.rawBytes, 0);
    return covered.length > 0 && sum === frame.rawBytes ? covered : undefined;
  }

  private completeUnit(assembly: Assembly, frame: UnitFrame, body: Uint8Array): void {
    const { metrics } = this.pair;
    let bytes: Uint8Array;
    try {
      bytes = decodeUnit(body, frame.rawBytes, frame.elementBytes);
    } catch {
      metrics.decodeFailures++;
      this.abandonUnit(assembly, frame);
      return;
    }
    metrics.unitsReceived++;
    let offset = 0;
    for (const entry of this.unitEntries(assembly.manifest, frame)!) {
      const chunk = bytes.subarray(offset, offset + entry.rawBytes);
      offset += entry.rawBytes;
      if (!assembly.outstanding.has(entry.hash)) continue;
      // Each chunk keeps its own copy so the store never pins the whole unit through one entry.
      this.acceptBody(assembly, entry.hash, Uint8Array.prototype.slice.call(chunk));
    }
    this.tryComplete(assembly);
    for (const entry of assembly.manifest.entries.slice(frame.firstEntry, frame.firstEntry + frame.entryCount)) this.retryParked(entry.hash);
  }

  /** Stops waiting for a unit's bodies: the next completion attempt NACKs them. */
  private abandonUnit(assembly: Assembly, frame: UnitFrame): void {
    assembly.sawCorruption = true;
    const end = Math.min(assembly.manifest.entries.length, frame.firstEntry + frame.entryCount);
    for (let i = frame.firstEntry; i < end; i++) {
      const entry = assembly.manifest.entries[i]!;
      if (entry.inline) this.stopExpecting(assembly, entry.hash);
    }
    this.tryComplete(assembly);
  }

  /** Verifies one received body against its hash and keeps it (for this blob and the store). */
  private acceptBody(assembly: Assembly, hash: bigint, bytes: Uint8Array): void {
    const { metrics, hasher, store, peerHolds } = this.pair;
    metrics.chunksReceived++;
    this.stopExpecting(assembly, hash);
    if (hasher.hash(bytes) !== hash) {
      metrics.hashMismatches++;
      assembly.sawCorruption = true;
      return;
    }
    assembly.bodies.set(hash, bytes);
    if (this.pair.options.dedupeEnabled) {
      store.putOwned(hash, bytes);
      peerHolds.add(hash, bytes.byteLength);
    }
  }

  handleFail(blobId: number, code: PayloadErrorCodeValue): void {
    const assembly = this.assemblies.get(blobId);
    if (assembly) this.fail(assembly, code, `peer could not supply blob ${blobId}`);
  }

  async handleShm(frame: ShmFrame): Promise<void> {
    const { metrics, hasher } = this.pair;
    if (this.recentlyDone.has(frame.blobId)) return; // replayed duplicate
    this.markDone(frame.blobId);
    try {
      if (!this.shm) throw new PayloadError(PayloadErrorCode.shmSegmentInvalid, 'shared memory not negotiated');
      const bytes = await this.shm.read(frame.segmentName, frame.totalBytes);
      if ((await this.wholeHashOf([bytes], hasher)) !== frame.wholeHash) {
        metrics.hashMismatches++;
        throw new PayloadError(PayloadErrorCode.hashMismatch, `shm blob ${frame.blobId} does not match its hash`);
      }
      metrics.shmBlobsReceived++;
      metrics.shmBytesReceived += bytes.byteLength;
      this.deliver(frame.blobId, bytes);
    } catch (error) {
      metrics.blobsFailed++;
      const coded = error instanceof PayloadError ? error : new PayloadError(PayloadErrorCode.shmSegmentInvalid, String(error));
      this.settle(frame.blobId, coded);
      this.emit(encodeAck(frame.blobId));
    }
  }

  private stopExpecting(assembly: Assembly, hash: bigint): void {
    if (!assembly.outstanding.delete(hash)) return;
    const count = (this.expectedInline.get(hash) ?? 1) - 1;
    if (count <= 0) this.expectedInline.delete(hash);
    else this.expectedInline.set(hash, count);
  }

  private tryComplete(assembly: Assembly): void {
    if (assembly.outstanding.size > 0 || assembly.assembling || !this.assemblies.has(assembly.manifest.blobId)) return;
    const { metrics, store, hasher, options } = this.pair;
    const missingSet = new Set<bigint>();
    const pieces: Uint8Array[] = [];
    let waitsForOthers = true;
    for (const entry of assembly.manifest.entries) {
      let bytes = assembly.bodies.get(entry.hash);
      if (!bytes) {
        bytes = store.get(entry.hash);
        if (bytes && options.verifyStoreHits && hasher.hash(bytes) !== entry.hash) {
          store.delete(entry.hash); // a corrupt store entry: never use it again
          metrics.hashMismatches++;
          bytes = undefined;
        }
        if (bytes && bytes.byteLength === entry.rawBytes) {
          metrics.storeHits++;
          assembly.bodies.set(entry.hash, bytes); // keeps it alive if the store evicts meanwhile
        } else {
          bytes = undefined;
        }
      }
      if (!bytes) {
        missingSet.add(entry.hash);
        if (!this.expectedInline.has(entry.hash)) waitsForOthers = false;
        continue;
      }
      pieces.push(bytes);
    }
    const missing = [...missingSet];
    if (missing.length > 0) {
      if (waitsForOthers) return; // another blob in flight brings these bodies: retryParked resumes us
      if (assembly.nackRounds >= options.maxNackRounds) {
        const code = assembly.sawCorruption ? PayloadErrorCode.hashMismatch : PayloadErrorCode.chunkUnavailable;
        this.fail(assembly, code, `blob ${assembly.manifest.blobId}: ${missing.length} chunks still missing after ${assembly.nackRounds} NACK rounds`);
        return;
      }
      assembly.nackRounds++;
      metrics.storeMisses += missing.length;
      metrics.nacksSent++;
      for (const hash of missing) {
        assembly.outstanding.add(hash);
        this.expectedInline.set(hash, (this.expectedInline.get(hash) ?? 0) + 1);
      }
      this.emit(encodeNack(assembly.manifest.blobId, missing));
      return;
    }
    assembly.assembling = true;
    void this.assemble(assembly, pieces);
  }

  /** Copies the verified pieces into one buffer and checks the whole-blob hash, yielding between slices. */
  private async assemble(assembly: Assembly, pieces: Uint8Array[]): Promise<void> {
    const { metrics, hasher } = this.pair;
    const { totalBytes, blobId, wholeHash } = assembly.manifest;
    // Always a fresh buffer: a piece may be the store's own copy, which the caller must not alias.
    const blob = Buffer.allocUnsafe(totalBytes);
    {
      let offset = 0;
      let copiedSinceYield = 0;
      for (const piece of pieces) {
        blob.set(piece, offset);
        offset += piece.byteLength;
        copiedSinceYield += piece.byteLength;
        if (copiedSinceYield >= this.pair.options.cooperativeSliceBytes) {
          copiedSinceYield = 0;
          await this.yieldTurn();
          if (this.assemblies.get(blobId) !== assembly) return; // closed meanwhile
        }
      }
    }
    const actual = await this.wholeHashOf(pieces, hasher);
    if (this.assemblies.get(blobId) !== assembly) return;
    if (blob.byteLength !== totalBytes || actual !== wholeHash) {
      metrics.hashMismatches++;
      this.fail(assembly, PayloadErrorCode.hashMismatch, `blob ${blobId} does not match its whole-blob hash`);
      return;
    }
    this.finish(assembly);
    for (const name of ['lz4', 'zstd'] as const) {
      this.pair.observeCodecSpeed(name, 'decode', assembly.decodedBytes[name], assembly.decodeMs[name]);
    }
    this.deliver(blobId, blob);
  }

  private async wholeHashOf(pieces: readonly Uint8Array[], hasher: ChunkHasher): Promise<bigint> {
    const state = hasher.wholeBlob();
    const sliceBytes = this.pair.options.cooperativeSliceBytes;
    let hashedSinceYield = 0;
    for (const piece of pieces) {
      for (let offset = 0; offset < piece.byteLength; offset += sliceBytes) {
        const slice = piece.subarray(offset, Math.min(piece.byteLength, offset + sliceBytes));
        state.update(slice);
        hashedSinceYield += slice.byteLength;
        if (hashedSinceYield >= 4 * sliceBytes) {
          hashedSinceYield = 0;
          await this.yieldTurn();
        }
      }
    }
    return state.digest();
  }

  private retryParked(hash: bigint): void {
    if (this.expectedInline.has(hash)) return;
    for (const assembly of [...this.assemblies.values()]) {
      if (assembly.outstanding.size === 0 && assembly.manifest.entries.some((e) => e.hash === hash)) this.tryComplete(assembly);
    }
  }

  private deliver(blobId: number, bytes: Uint8Array): void {
    this.pair.metrics.blobsReceived++;
    this.pair.metrics.blobBytesReceived += bytes.byteLength;
    this.settle(blobId, bytes);
    this.emit(encodeAck(blobId));
  }

  private finish(assembly: Assembly): void {
    for (const hash of [...assembly.outstanding]) this.stopExpecting(assembly, hash);
    this.assemblies.delete(assembly.manifest.blobId);
    this.markDone(assembly.manifest.blobId);
  }

  private markDone(blobId: number): void {
    this.recentlyDone.add(blobId);
    if (this.recentlyDone.size > PayloadReceiver.recentlyDoneLimit) {
      this.recentlyDone.delete(this.recentlyDone.values().next().value!);
    }
  }

  private fail(assembly: Assembly, code: PayloadErrorCodeValue, message: string): void {
    this.pair.metrics.blobsFailed++;
    const hashes = assembly.manifest.entries.map((e) => e.hash);
    this.finish(assembly);
    this.settle(assembly.manifest.blobId, new PayloadError(code, message));
    this.emit(encodeAck(assembly.manifest.blobId));
    for (const hash of new Set(hashes)) this.retryParked(hash);
  }

  /** Fails every blob in flight or not yet taken with HYPHA_ACCEL_ERR_PAYLOAD_CLOSED. */
  close(reason = 'payload endpoint closed'): void {
    this.closedError = new PayloadError(PayloadErrorCode.closed, reason);
    for (const assembly of [...this.assemblies.values()]) this.finish(assembly);
    for (const blobId of [...this.slots.keys()]) this.settle(blobId, this.closedError);
  }
}
