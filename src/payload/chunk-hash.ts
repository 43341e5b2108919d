// Strong 128-bit chunk and blob hashes: xxh3-128 (seeded per pair, native, default) or sha256
// truncated to 128 bits (for pairs whose clients may attack each other with crafted collisions).
// Hashes are bigints in memory (cheap Map keys) and 16 big-endian bytes on the wire.

import { createHash } from 'node:crypto';
import { xxh3 } from '@node-rs/xxhash';

export type HashAlgorithm = 'xxh3-128' | 'sha256-128';
export const hashBytes = 16;

export interface StreamingHash {
  update(bytes: Uint8Array): void;
  digest(): bigint;
}

export interface ChunkHasher {
  readonly algorithm: HashAlgorithm;
  /** 128-bit hash of one chunk. */
  hash(bytes: Uint8Array): bigint;
  /**
   * End-to-end check of a whole blob, fed in order and in slices (so it can yield between them).
   * xxh3: length (high 64 bits) + seeded XXH3-64 of the bytes (streaming XXH3 runs ~5x faster here
   * than one-shot xxh128 on large inputs); sha256-128: truncated seeded SHA-256.
   */
  wholeBlob(): StreamingHash;
}

/** `seed` should be a per-pair random secret agreed in the link handshake (both sides equal). */
export function createChunkHasher(algorithm: HashAlgorithm = 'xxh3-128', seed = 0n): ChunkHasher {
  if (algorithm === 'xxh3-128') {
    const seed64 = BigInt.asUintN(64, seed);
    return {
      algorithm,
      hash: (bytes) => xxh3.xxh128(bytes, seed),
      wholeBlob: () => {
        const state = xxh3.Xxh3.withSeed(seed64);
        let lengthBytes = 0;
        return {
          update: (bytes) => {
            lengthBytes += bytes.byteLength;
            state.update(bytes);
          },
          digest: () => (BigInt(lengthBytes) << 64n) | state.digest(),
        };
      },
    };
  }
  const seedBytes = Buffer.alloc(8);
  seedBytes.writeBigUInt64BE(BigInt.asUintN(64, seed));
  return {
    algorithm,
    hash: (bytes) => {
      const digest = createHash('sha256').update(seedBytes).update(bytes).digest();
      return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8);
    },
    wholeBlob: () => {
      const state = createHash('sha256').update(seedBytes);
      return {
        update: (bytes) => void state.update(bytes),
        digest: () => {
          const digest = state.digest();
          return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8);
        },
      };
    },
  };
}

/** One-shot whole-blob check (same value as feeding wholeBlob() in any slicing). */
export function hashWholeBlob(hasher: ChunkHasher, bytes: Uint8Array): bigint {
  const state = hasher.wholeBlob();
  state.update(bytes);
  return state.digest();
}

export function writeHash(target: DataView, offset: number, hash: bigint): void {
  target.setBigUint64(offset, hash >> 64n);
  target.setBigUint64(offset + 8, BigInt.asUintN(64, hash));
}

export function readHash(source: DataView, offset: number): bigint {
  return (source.getBigUint64(offset) << 64n) | source.getBigUint64(offset + 8);
}

export function hashToHex(hash: bigint): string {
  return hash.toString(16).padStart(32, '0');
}
