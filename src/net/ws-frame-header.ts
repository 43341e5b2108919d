// The WebSocket frame header (RFC 6455 §5.2) as pure functions, shared by the parsers that read endpoint
// frames themselves: ahead of ws's receiver (ingress-parser.ts) and beside a byte splice (frame-follower.ts).
import { maskInto } from './ws-mask.js';

/** The high word of a 64-bit length above which the length exceeds 2^53 - 1 (read as Infinity). */
const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1;

/** The whole header's length (2..14 bytes), from its second byte (mask bit and length code). */
export function frameHeaderBytes(secondByte: number): number {
  const lengthCode = secondByte & 0x7f;
  return 2 + (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0) + (secondByte & 0x80 ? 4 : 0);
}

export interface FrameHeader {
  fin: boolean;
  /** The three RSV bits, in place (0x70 of the first byte). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Payload length; Infinity for a 64-bit length above 2^53 - 1. */
  payloadBytes: number;
  /** Where the 4-byte masking key starts in the header (when masked). */
  maskAt: number;
}

export function newFrameHeader(): FrameHeader {
  return { fin: false, rsv: 0, opcode: 0, masked: false, payloadBytes: 0, maskAt: 2 };
}

/** Reads a whole header (frameHeaderBytes of it) into `into` (reused: no allocation per frame). */
export function readFrameHeader(header: Buffer, into: FrameHeader): FrameHeader {
  const lengthCode = header[1]! & 0x7f;
  into.fin = (header[0]! & 0x80) !== 0;
  into.rsv = header[0]! & 0x70;
  into.opcode = header[0]! & 0x0f;
  into.masked = (header[1]! & 0x80) !== 0;
  if (lengthCode === 126) {
    into.payloadBytes = header.readUInt16BE(2);
    into.maskAt = 4;
  } else if (lengthCode === 127) {
    const high = header.readUInt32BE(2);
    into.payloadBytes = high > MAX_SAFE_HIGH_WORD ? Infinity : high * 2 ** 32 + header.readUInt32BE(6);
    into.maskAt = 10;
  } else {
    into.payloadBytes = lengthCode;
    into.maskAt = 2;
  }
  return into;
}

/** A close frame with `code` and `reason` (at most 123 bytes of it), masked with a random key when `masked`. */
export function closeFrame(code: number, reason: string, masked: boolean, maskKey?: Buffer): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  const headerBytes = masked ? 6 : 2;
  const frame = Buffer.alloc(headerBytes + payload.length);
  frame[0] = 0x88;
  frame[1] = (masked ? 0x80 : 0) | payload.length;
  if (masked) {
    const key = maskKey ?? randomMaskKey();
    key.copy(frame, 2, 0, 4);
    maskInto(payload, key, frame, headerBytes, payload.length);
  } else payload.copy(frame, headerBytes);
  return frame;
}

function randomMaskKey(): Buffer {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(4)));
}
