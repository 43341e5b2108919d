// WebSocket masking (RFC 6455 §5.3) for the paths that frame or parse endpoint messages themselves:
// bufferutil's native mask/unmask (ws's own optional dependency, a prebuilt binary), loaded once, with a
// plain loop for short payloads and where the module is missing.
import { createRequire } from 'node:module';

interface BufferUtil {
  mask?: (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void;
  unmask?: (bytes: Buffer, mask: Buffer) => void;
}

/** Below this many bytes the loop is cheaper than the native call. */
const NATIVE_MIN_BYTES = 64;
const native = loadBufferUtil();

function loadBufferUtil(): BufferUtil {
  try {
    return createRequire(import.meta.url)('bufferutil') as BufferUtil;
  } catch {
    return {};
  }
}

/** output[offset..offset+length) = source ^ mask (output may be source itself, offset 0: in place). */
export function maskInto(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void {
  if (native.mask && length >= NATIVE_MIN_BYTES) return native.mask(source, mask, output, offset, length);
  for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ mask[i & 3]!;
}

/**
 * XORs `bytes` with the 4-byte mask, starting at mask position `offset` (0..3). `rotated`: 4 bytes of
 * scratch for the mask as seen from `offset` (the native unmask starts at position 0).
 */
export function unmaskInPlace(bytes: Buffer, mask: Buffer, offset: number, rotated: Buffer = Buffer.alloc(4)): void {
  if (native.unmask && bytes.length >= NATIVE_MIN_BYTES) {
    for (let k = 0; k < 4; k++) rotated[k] = mask[(offset + k) & 3]!;
    return native.unmask(bytes, rotated);
  }
  for (let i = 0; i < bytes.length; i++) bytes[i] ^= mask[(offset + i) & 3]!;
}
