// Builds raw WebSocket frames (RFC 6455 §5.2) for parser tests: as a client sends them (masked with `mask`)
// or as a server does (unmasked).

/** One frame; `rsv` is OR-ed into the first byte (0x40 / 0x20 / 0x10). */
export function wsFrame(opcode: number, fin: boolean, payload: Buffer, mask: Buffer | undefined, rsv = 0): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? Buffer.from([length]) : length < 65536 ? Buffer.from([126, length >> 8, length & 0xff]) : (() => {
    const b = Buffer.alloc(9);
    b[0] = 127;
    b.writeBigUInt64BE(BigInt(length), 1);
    return b;
  })();
  lengthBytes[0] |= mask ? 0x80 : 0;
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3]!;
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | rsv | opcode]), lengthBytes, mask ?? Buffer.alloc(0), body]);
}
