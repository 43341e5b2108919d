// Per-chunk compression: none, lz4 (lz4-napi, async on the libuv threadpool) and zstd (worker pool
// for encoding; decoding of one bounded chunk is done inline, tens of microseconds). Decoders check
// the announced raw length before allocating, so a crafted body cannot make us allocate more.

import { compress as lz4Compress, compressSync as lz4CompressSync, uncompressSync as lz4UncompressSync } from 'lz4-napi';
import { createRequire } from 'node:module';
import { ChunkCodec, type ChunkCodecId } from './payload-wire.js';
import { PayloadError, PayloadErrorCode } from './payload-error.js';
import { ZstdPool } from './zstd-pool.js';

interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  compressBound(bytes: number): number;
}
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;

export class ChunkCodecs {
  private readonly pool: ZstdPool | undefined;
  private readonly cctx = new zstdBinding.CCtx();
  private readonly dctx = new zstdBinding.DCtx();

  constructor(readonly options: { zstdWorkers: number; zstdLevel: number; zstdEnabled: boolean }) {
    this.pool = options.zstdEnabled ? new ZstdPool(options.zstdWorkers, options.zstdLevel) : undefined;
  }

  /** Encodes a batch off the event loop; results are in input order. */
  async encodeBatch(codec: ChunkCodecId, chunks: readonly Uint8Array[]): Promise<Uint8Array[]> {
    if (codec === ChunkCodec.none) return [...chunks];
    if (codec === ChunkCodec.lz4) return Promise.all(chunks.map((chunk) => lz4Compress(chunk)));
    if (!this.pool) throw new PayloadError(PayloadErrorCode.protocol, 'zstd disabled');
    return this.pool.encode(chunks);
  }

  /** Synchronous encode of a small sample, used to estimate compressibility. */
  encodeSampleSync(codec: ChunkCodecId, sample: Uint8Array): number {
    if (codec === ChunkCodec.lz4) return lz4CompressSync(Buffer.from(sample.buffer, sample.byteOffset, sample.byteLength)).byteLength;
    if (codec === ChunkCodec.zstd) {
      const dst = new Uint8Array(zstdBinding.compressBound(sample.byteLength));
      return this.cctx.compress(dst, sample, this.options.zstdLevel);
    }
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
      const out = new Uint8Array(rawBytes);
      const written = this.dctx.decompress(out, body);
      if (written !== rawBytes) throw new Error(`zstd gave ${written} bytes, expected ${rawBytes}`);
      return out;
    } catch (error) {
      if (error instanceof PayloadError) throw error;
      throw new PayloadError(PayloadErrorCode.decodeFailed, `chunk decode (codec ${codec}): ${(error as Error).message}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
