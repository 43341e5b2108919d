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

export function encodeFrame(frame: Omit<Frame, 'payload'> & { payload?: Uint8Array }): Buffer {
  const payload = frame.payload ?? EMPTY;
  const traceBytes = frame.trace ? TRACE_BYTES : 0;
  const out = Buffer.allocUnsafe(HEADER_BYTES + traceBytes + payload.length);
  out[0] = frame.type;
  out[1] = frame.flags;
  out[2] = frame.frameClass;
  out[3] = frame.trace ? EXT_TRACE : 0;
  out.writeUInt32BE(frame.streamId >>> 0, 4);
  out.writeUInt32BE(frame.seq >>> 0, 8);
  if (frame.trace) {
    out.set(frame.trace.traceId.subarray(0, 16), HEADER_BYTES);
    out.set(frame.trace.spanId.subarray(0, 8), HEADER_BYTES + 16);
    out[HEADER_BYTES + 24] = frame.trace.traceFlags;
  }
  out.set(payload, HEADER_BYTES + traceBytes);
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
