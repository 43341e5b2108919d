// Pure msgpack structure walking over bytes: find where a value ends without building objects.
// Accepts every msgpack format including non-minimal encodings; rejects 0xc1 and truncation.

/**
 * End offset of the msgpack value starting at pos, or -1 when malformed or truncated before `end`.
 * Iterative (a pending-value counter), so nesting depth costs nothing. `maxBin[0]` is raised to the
 * largest bin payload length seen.
 */
export function skipValue(b: Uint8Array, pos: number, end: number, maxBin: Int32Array): number {
  let pending = 1;
  while (pending > 0) {
    if (pos >= end) return -1;
    const t = b[pos]!;
    pending--;
    if (t < 0x80 || t >= 0xe0) { pos += 1; continue; }
    if (t < 0x90) { pending += 2 * (t & 0x0f); pos += 1; continue; }
    if (t < 0xa0) { pending += t & 0x0f; pos += 1; continue; }
    if (t < 0xc0) { pos += 1 + (t & 0x1f); continue; }
    let n: number;
    switch (t) {
      case 0xc0: case 0xc2: case 0xc3: pos += 1; continue;
      case 0xc1: return -1;
      case 0xc4: case 0xc5: case 0xc6:
        if ((n = readLen(b, pos, end, t - 0xc4)) < 0) return -1;
        if (n > maxBin[0]!) maxBin[0] = n;
        pos += 1 + (1 << (t - 0xc4)) + n;
        continue;
      case 0xc7: case 0xc8: case 0xc9: {
        const w = t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4;
        if ((n = readLen(b, pos, end, t - 0xc7)) < 0) return -1;
        pos += 1 + w + 1 + n;
        continue;
      }
      case 0xca: pos += 5; continue;
      case 0xcb: pos += 9; continue;
      case 0xcc: case 0xd0: pos += 2; continue;
      case 0xcd: case 0xd1: pos += 3; continue;
      case 0xce: case 0xd2: pos += 5; continue;
      case 0xcf: case 0xd3: pos += 9; continue;
      case 0xd4: pos += 3; continue;
      case 0xd5: pos += 4; continue;
      case 0xd6: pos += 6; continue;
      case 0xd7: pos += 10; continue;
      case 0xd8: pos += 18; continue;
      case 0xd9: case 0xda: case 0xdb:
        if ((n = readLen(b, pos, end, t - 0xd9)) < 0) return -1;
        pos += 1 + (1 << (t - 0xd9)) + n;
        continue;
      case 0xdc: case 0xdd:
        if ((n = readLen(b, pos, end, t - 0xdc + 1)) < 0) return -1;
        pending += n;
        pos += 1 + (2 << (t - 0xdc));
        continue;
      case 0xde: case 0xdf:
        if ((n = readLen(b, pos, end, t - 0xde + 1)) < 0) return -1;
        pending += 2 * n;
        pos += 1 + (2 << (t - 0xde));
        continue;
    }
    return -1;
  }
  return pos <= end ? pos : -1;
}

/** Big-endian length after the format byte at pos: width code 0 = u8, 1 = u16, 2 = u32; -1 if truncated */
export function readLen(b: Uint8Array, pos: number, end: number, widthCode: number): number {
  if (widthCode === 0) return pos + 1 < end ? b[pos + 1]! : -1;
  if (widthCode === 1) return pos + 2 < end ? (b[pos + 1]! << 8) | b[pos + 2]! : -1;
  if (pos + 4 >= end) return -1;
  return b[pos + 1]! * 0x1000000 + ((b[pos + 2]! << 16) | (b[pos + 3]! << 8) | b[pos + 4]!);
}

/** Byte length of a scalar/string/bin/ext value's header+payload (not containers): -1 if truncated */
export function scalarSize(b: Uint8Array, pos: number, end: number): number {
  const t = b[pos]!;
  if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return 1;
  if (t >= 0xa0 && t < 0xc0) return 1 + (t & 0x1f);
  let n: number;
  switch (t) {
    case 0xc4: case 0xc5: case 0xc6:
      return (n = readLen(b, pos, end, t - 0xc4)) < 0 ? -1 : 1 + (1 << (t - 0xc4)) + n;
    case 0xc7: case 0xc8: case 0xc9:
      return (n = readLen(b, pos, end, t - 0xc7)) < 0 ? -1 : 2 + (1 << (t - 0xc7)) + n;
    case 0xd9: case 0xda: case 0xdb:
      return (n = readLen(b, pos, end, t - 0xd9)) < 0 ? -1 : 1 + (1 << (t - 0xd9)) + n;
    case 0xca: return 5;
    case 0xcb: return 9;
    case 0xcc: case 0xd0: return 2;
    case 0xcd: case 0xd1: return 3;
    case 0xce: case 0xd2: return 5;
    case 0xcf: case 0xd3: return 9;
    case 0xd4: return 3;
    case 0xd5: return 4;
    case 0xd6: return 6;
    case 0xd7: return 10;
    case 0xd8: return 18;
  }
  return -1;
}
