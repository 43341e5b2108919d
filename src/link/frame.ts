// The link wire format as pure functions: one link frame per WebSocket binary message, a fixed 12-byte
// header (+25 bytes of trace context when flagged), then the payload. docs/protocol.md is the spec;
// every length read here is checked before anything is allocated.
import { AccelError } from '../errors.js';

export const FrameType = {
  HELLO: 0x01,
  CHALLENGE: 0x02,
  AUTH: 0x03,
  WELCOME: 0x04,
  GOAWAY: 0x05,
  PING: 0x06,
  PONG: 0x07,
  OPEN: 0x10,
  OPEN_OK: 0x11,
  OPEN_FAIL: 0x12,
  DATA: 0x13,
  CLOSE: 0x14,
  WINDOW: 0x15,
  PAYLOAD: 0x16,
  ACK: 0x17,
  DELIVERED: 0x18, // stream: u32 count of whole messages handed to the endpoint (resume's acknowledgement)
  DRAIN: 0x19, // link (gateway -> edge, capability drain-v1): this instance is stopping; u32 ms left, then a reason
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];
const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/** DATA flags. Bits 4..7 are reserved and must be zero in version 1. */
export const DataFlag = {
  FIN: 0x01, // last fragment of a message
  TEXT: 0x02, // the message is a WebSocket text message
  CODEC: 0x04, // the payload is the codec's compact form, not the original bytes
  BLOB: 0x08, // the payload is a u32 blob id: the message's bytes travel on the payload plane
  RESERVED: 0xf0,
} as const;

/**
 * CLOSE flags: how the endpoint's connection ended (docs/protocol.md §7.1). Older peers send 0 and ignore
 * the byte, so 0 means "not said"; values this version does not know are read as 0 too.
 */
export const EndKind = {
  UNSAID: 0,
  HANDSHAKE: 1, // Close frames exchanged, then TCP closed
  CLOSE_THEN_DROP: 2, // the endpoint sent Close and dropped TCP without waiting for the answering Close
  DROPPED: 3, // TCP ended (FIN) without a Close frame
  RESET: 4, // TCP reset (RST) without a Close frame
} as const;
export type EndKindValue = (typeof EndKind)[keyof typeof EndKind];

/** The end kind a CLOSE frame's flags byte carries (unknown values: UNSAID). */
export function endKindOf(flags: number): EndKindValue {
  return flags >= EndKind.UNSAID && flags <= EndKind.RESET ? (flags as EndKindValue) : EndKind.UNSAID;
}

export const FrameClass = { CONTROL: 0, RPC: 1, BULK: 2 } as const;
export type FrameClassValue = (typeof FrameClass)[keyof typeof FrameClass];

/** First byte of a compressed link message (docs/protocol.md §1.1); never a frame type. */
export const COMPRESSED_MESSAGE_TAG = 0xc5;

const EXT_TRACE = 0x01;
export const HEADER_BYTES = 12;
export const TRACE_BYTES = 25; // 16-byte trace id, 8-byte span id, 1 byte trace flags

export interface TraceContext {
  traceId: Uint8Array; // 16 bytes
  spanId: Uint8Array; // 8 bytes
  traceFlags: number;
}

export interface Frame {
  type: FrameTypeValue;
  flags: number;
  frameClass: FrameClassValue;
  streamId: number;
  seq: number;
  trace?: TraceContext;
  payload: Uint8Array; // a view into the received buffer, never a copy
}

/** The header fields of a frame (everything but its payload). */
export type FrameHeader = Omit<Frame, 'payload'>;

/** Bytes of a frame's header: 12, or 37 with trace context. */
export function frameHeaderBytes(header: FrameHeader): number {
  return header.trace ? HEADER_BYTES + TRACE_BYTES : HEADER_BYTES;
}

/** Writes a frame's header into `target` at `offset`; returns the bytes written (frameHeaderBytes). */
export function writeFrameHeader(target: Uint8Array, offset: number, header: FrameHeader): number {
  target[offset] = header.type;
  target[offset + 1] = header.flags;
  target[offset + 2] = header.frameClass;
  target[offset + 3] = header.trace ? EXT_TRACE : 0;
  writeU32(target, offset + 4, header.streamId);
  writeU32(target, offset + 8, header.seq);
  if (!header.trace) return HEADER_BYTES;
  target.set(header.trace.traceId.subarray(0, 16), offset + HEADER_BYTES);
  target.set(header.trace.spanId.subarray(0, 8), offset + HEADER_BYTES + 16);
  target[offset + HEADER_BYTES + 24] = header.trace.traceFlags;
  return HEADER_BYTES + TRACE_BYTES;
}

function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

export function encodeFrame(frame: FrameHeader & { payload?: Uint8Array }): Buffer {
  const payload = frame.payload ?? EMPTY;
  const headerBytes = frameHeaderBytes(frame);
  const out = Buffer.allocUnsafe(headerBytes + payload.length);
  writeFrameHeader(out, 0, frame);
  out.set(payload, headerBytes);
  return out;
}

/** Decodes one frame from one link message; throws AccelError(BAD_FRAME / FRAME_TOO_LARGE). */
export function decodeFrame(buf: Uint8Array, maxFrameBytes: number): Frame {
  if (buf.length > maxFrameBytes) {
    throw new AccelError('HYPHA_ACCEL_ERR_FRAME_TOO_LARGE', `link frame of ${buf.length} bytes exceeds ${maxFrameBytes}`);
  }
  if (buf.length < HEADER_BYTES) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `link frame of ${buf.length} bytes is shorter than its header`);
  const type = buf[0]!;
  if (!KNOWN_TYPES.has(type)) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `unknown link frame type 0x${type.toString(16)}`);
  const frameClass = buf[2]!;
  if (frameClass > FrameClass.BULK) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `unknown frame class ${frameClass}`);
  const ext = buf[3]!;
  if ((ext & ~EXT_TRACE) !== 0) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `unknown header extension bits 0x${ext.toString(16)}`);
  const flags = buf[1]!;
  if (type === FrameType.DATA && (flags & DataFlag.RESERVED) !== 0) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `reserved DATA flag bits set: 0x${flags.toString(16)}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = HEADER_BYTES;
  let trace: TraceContext | undefined;
  if (ext & EXT_TRACE) {
    if (buf.length < HEADER_BYTES + TRACE_BYTES) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'link frame too short for its trace context');
    trace = {
      traceId: buf.subarray(offset, offset + 16),
      spanId: buf.subarray(offset + 16, offset + 24),
      traceFlags: buf[offset + 24]!,
    };
    offset += TRACE_BYTES;
  }
  return {
    type: type as FrameTypeValue,
    flags,
    frameClass: frameClass as FrameClassValue,
    streamId: view.getUint32(4),
    seq: view.getUint32(8),
    trace,
    payload: buf.subarray(offset),
  };
}

const EMPTY = new Uint8Array(0);

// ---- payload helpers for control frames ----

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Parses a JSON control payload, bounded by the frame limit already checked by decodeFrame. */
export function decodeJson(payload: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'control frame payload is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'control frame payload is not a JSON object');
  }
  return value as Record<string, unknown>;
}

/** DRAIN payload: u32 milliseconds until the sender ends the link's sessions, then a UTF-8 reason (at most 123 bytes). */
export function encodeDrain(drainMs: number, reason: string): Buffer {
  return Buffer.concat([encodeU32(Math.max(0, Math.min(0xffffffff, Math.round(drainMs)))), encodeCodeReason(0, reason).subarray(2)]);
}

export function decodeDrain(payload: Uint8Array): { drainMs: number; reason: string } {
  if (payload.length < 4) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `DRAIN payload of ${payload.length} bytes (at least 4)`);
  const { reason } = decodeCodeReason(payload.subarray(2)); // reuses the reason check; its 2 "code" bytes are the u32's low half
  return { drainMs: decodeU32(payload.subarray(0, 4)), reason };
}

/** GOAWAY and CLOSE payloads: u16 code then a UTF-8 reason (at most 123 bytes, as in a WebSocket close). */
export function encodeCodeReason(code: number, reason: string): Buffer {
  let reasonBytes = Buffer.from(reason, 'utf8');
  if (reasonBytes.length > 123) {
    let end = 123;
    while (end > 0 && (reasonBytes[end]! & 0xc0) === 0x80) end--; // never cut inside a UTF-8 sequence
    reasonBytes = reasonBytes.subarray(0, end);
  }
  const out = Buffer.allocUnsafe(2 + reasonBytes.length);
  out.writeUInt16BE(code, 0);
  out.set(reasonBytes, 2);
  return out;
}

export function decodeCodeReason(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length < 2) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'code/reason payload shorter than 2 bytes');
  if (payload.length > 2 + 123) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'close reason longer than 123 bytes');
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return { code: buf.readUInt16BE(0), reason: buf.toString('utf8', 2) };
}

export function encodeU32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

export function decodeU32(payload: Uint8Array): number {
  if (payload.length !== 4) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `expected a 4-byte payload, got ${payload.length}`);
  return new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
}

/** ACK payload: f64 cumulative bytes received, u32 microseconds the ACK waited after the last of them. */
const ACK_PAYLOAD_BYTES = 12;

export function encodeAck(cumulativeBytes: number, ackDelayMs: number): Buffer {
  const out = Buffer.allocUnsafe(ACK_PAYLOAD_BYTES);
  out.writeDoubleBE(cumulativeBytes, 0);
  out.writeUInt32BE(Math.min(0xffffffff, Math.round(ackDelayMs * 1000)), 8);
  return out;
}

/** Throws BAD_FRAME unless the payload is 12 bytes with a non-negative integer count. */
export function decodeAck(payload: Uint8Array): { cumulativeBytes: number; ackDelayMs: number } {
  if (payload.length !== ACK_PAYLOAD_BYTES) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', `ACK payload must be ${ACK_PAYLOAD_BYTES} bytes`);
  const view = new DataView(payload.buffer, payload.byteOffset, ACK_PAYLOAD_BYTES);
  const cumulativeBytes = view.getFloat64(0);
  if (!Number.isSafeInteger(cumulativeBytes) || cumulativeBytes < 0) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'ACK count must be a non-negative integer');
  return { cumulativeBytes, ackDelayMs: view.getUint32(8) / 1000 };
}

/** PING payload: the sender's clock in ms as f64 (the PONG echoes it). */
export function encodePingStamp(nowMs: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeDoubleBE(nowMs, 0);
  return out;
}

/** Throws BAD_FRAME unless the PONG payload is exactly 8 bytes. */
export function decodePongStamp(payload: Uint8Array): number {
  if (payload.length !== 8) throw new AccelError('HYPHA_ACCEL_ERR_BAD_FRAME', 'PONG payload must be 8 bytes');
  return new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0);
}
