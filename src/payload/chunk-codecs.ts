// Per-chunk compression: none, lz4 (lz4-napi) and zstd (node:zlib, Node >= 22.15). Batches are encoded
// off the event loop on the libuv threadpool; one bounded chunk is decoded inline. Decoders check the
// announced raw length before allocating, so a crafted body cannot make us allocate more.

import { compress as lz4Compress, compressSync as lz4CompressSync, uncompressSync as lz4UncompressSync } from 'lz4-napi';
import { constants as zlibConstants, zstdCompress, zstdCompressSync, zstdDecompressSync, type ZstdOptions } from 'node:zlib';
import { ChunkCodec, type ChunkCodecId } from './payload-wire.js';
import { PayloadError, PayloadErrorCode } from './payload-error.js';

export class ChunkCodecs {
  private readonly zstdOptions: ZstdOptions;

  constructor(readonly options: { zstdLevel: number; zstdEnabled: boolean }) {
    this.zstdOptions = { params: { [zlibConstants.ZSTD_c_compressionLevel]: options.zstdLevel } };
  }

  /** Encodes a batch off the event loop; results are in input order. */
  async encodeBatch(codec: ChunkCodecId, chunks: readonly Uint8Array[]): Promise<Uint8Array[]> {
    if (codec === ChunkCodec.none) return [...chunks];
    if (codec === ChunkCodec.lz4) return Promise.all(chunks.map((chunk) => lz4Compress(chunk)));
    if (!this.options.zstdEnabled) throw new PayloadError(PayloadErrorCode.protocol, 'zstd disabled');
    return Promise.all(chunks.map((chunk) => this.zstdEncode(chunk)));
  }

  private zstdEncode(chunk: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      zstdCompress(chunk, this.zstdOptions, (error, out) => (error ? reject(error) : resolve(out)));
    });
  }

  /** Synchronous encode of a small sample, used to estimate compressibility. */
  encodeSampleSync(codec: ChunkCodecId, sample: Uint8Array): number {
    if (codec === ChunkCodec.lz4) return lz4CompressSync(Buffer.from(sample.buffer, sample.byteOffset, sample.byteLength)).byteLength;
    if (codec === ChunkCodec.zstd) return zstdCompressSync(sample, this.zstdOptions).byteLength;
    return sample.byteLength;
  }

  /** Decodes one chunk body to exactly `rawBytes` bytes (a fresh buffer) or throws DECODE_FAILED. */
  decodeSync(codec: ChunkCodecId, body: Uint8Array, rawBytes: number): Uint8Array {
    try {
      if (codec === ChunkCodec.none) return Uint8Array.prototype.slice.call(body);
      if (codec === ChunkCodec.lz4) {
        // lz4-napi prepends the raw size (u32 LE): check it before the library allocates it.
        if (body.byteLength < 4) throw new Error('lz4 body too short');
        const announced = new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true);
        if (announced !== rawBytes) throw new Error(`lz4 announces ${announced} bytes, expected ${rawBytes}`);
        const out = lz4UncompressSync(body);
        if (out.byteLength !== rawBytes) throw new Error(`lz4 gave ${out.byteLength} bytes`);
        return out;
      }
      // maxOutputLength bounds what zlib allocates; a body that inflates past it is refused.
      const out = zstdDecompressSync(body, { maxOutputLength: Math.max(1, rawBytes) });
      if (out.byteLength !== rawBytes) throw new Error(`zstd gave ${out.byteLength} bytes, expected ${rawBytes}`);
      return out;
    } catch (error) {
      if (error instanceof PayloadError) throw error;
      throw new PayloadError(PayloadErrorCode.decodeFailed, `chunk decode (codec ${codec}): ${(error as Error).message}`, { cause: error });
    }
  }

  async close(): Promise<void> {}
}
