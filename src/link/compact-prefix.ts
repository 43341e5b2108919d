// The compact length prefix of a byte-stream link (`Hypha-Accel-Link-Framing: varint-v1`, docs/protocol.md
// §1): one LEB128 varint per link message, value = body length × 2 + 1 when the message is a compressed
// one (its first byte, the tag 0xC5, is then left off the wire and put back by the reader), else length × 2.
// Small messages pay 1 byte instead of the 4 of a u32 and the tag byte.
import { AccelError } from '../errors.js';
import { COMPRESSED_MESSAGE_TAG } from './frame.js';

/** A u32 fits in 5 varint bytes; a longer prefix is refused. */
export const MAX_COMPACT_PREFIX_BYTES = 5;

/** The prefix value and body of `message` (body: `message` without its tag when it is a compressed one). */
export function compactPrefixValue(message: Uint8Array): { value: number; bodyOffset: number } {
  return message[0] === COMPRESSED_MESSAGE_TAG ? { value: (message.length - 1) * 2 + 1, bodyOffset: 1 } : { value: message.length * 2, bodyOffset: 0 };
}

export function compactPrefixBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}

/** Writes `value` as a varint at `at`; returns the bytes written. */
export function writeCompactPrefix(target: Uint8Array, at: number, value: number): number {
  let offset = at;
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[offset++] = value;
  return offset - at;
}

/**
 * Reads one prefix across chunks: feed bytes until it says done, then read `length` and `tagged`.
 * Throws BAD_FRAME for a prefix longer than 5 bytes, FRAME_TOO_LARGE for a message above `maxBytes`.
 */
export class CompactPrefixReader {
  private value = 0;
  private bytes = 0;
  length = 0;
  tagged = false;

  constructor(private readonly maxBytes: number) {}

  /** True while a prefix is partly read. */
  get pending(): boolean {
    return this.bytes > 0;
  }

  /** Takes one byte; true when the prefix is complete (length and tagged are then set, and the reader reset). */
  push(byte: number): boolean {
    this.value += (byte & 0x7f) * 2 ** (7 * this.bytes);
    this.bytes++;
    if (byte & 0x80) {
      if (this.bytes >= MAX_COMPACT_PREFIX_BYTES) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `link message length prefix longer than ${MAX_COMPACT_PREFIX_BYTES} bytes`);
      return false;
    }
    const value = this.value;
    this.value = 0;
    this.bytes = 0;
    this.tagged = value % 2 === 1;
    this.length = Math.floor(value / 2) + (this.tagged ? 1 : 0); // the message as handed on, tag included
    if (this.length > this.maxBytes) throw new AccelError('HYPHA_ACCEL_ERR_FRAME_TOO_LARGE', `link frame of ${this.length} bytes exceeds ${this.maxBytes}`);
    return true;
  }
}
