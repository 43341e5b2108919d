// Compact form of hypha's JSON text control frames (ping, pong, refresh_token, ...): stateless, so it
// can never desynchronise. Known exact strings become two bytes; anything else travels as UTF-8.
import { CodecError } from './codec-error.js';

/** exact strings the Python (json.dumps) and JS (JSON.stringify) clients and the server send */
const KNOWN_TEXT: readonly string[] = [
  '{"type":"ping"}', '{"type": "ping"}', '{"type":"pong"}', '{"type": "pong"}',
  '{"type":"refresh_token"}', '{"type": "refresh_token"}',
];
const KNOWN_INDEX = new Map(KNOWN_TEXT.map((s, i) => [s, i]));
const TEXT_KNOWN = 0x01;
const TEXT_UTF8 = 0x02;

/** two bytes for a known control string, else a marker byte plus the UTF-8 bytes */
export function encodeText(s: string): Uint8Array {
  const i = KNOWN_INDEX.get(s);
  if (i !== undefined) return Uint8Array.of(TEXT_KNOWN, i);
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(s, 'utf8'));
  out[0] = TEXT_UTF8;
  out.write(s, 1, 'utf8');
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

const KNOWN_BYTES = KNOWN_TEXT.map((t) => Buffer.from(t, 'utf8'));

/** the same compact form from the frame's UTF-8 bytes (what the link holds); byte-exact by copying */
export function encodeTextBytes(utf8Bytes: Uint8Array): Uint8Array {
  if (utf8Bytes.length <= 32) {
    const i = KNOWN_BYTES.findIndex((k) => k.length === utf8Bytes.length && k.equals(utf8Bytes));
    if (i >= 0) return Uint8Array.of(TEXT_KNOWN, i);
  }
  const out = new Uint8Array(1 + utf8Bytes.length);
  out[0] = TEXT_UTF8;
  out.set(utf8Bytes, 1);
  return out;
}

/** the original UTF-8 bytes of a compact text frame (validity is the WebSocket layer's job) */
export function decodeTextBytes(b: Uint8Array, maxMessageBytes = 1 << 20): Uint8Array {
  if (b.length === 2 && b[0] === TEXT_KNOWN) {
    const k = KNOWN_BYTES[b[1]!];
    if (k !== undefined) return new Uint8Array(k);
  }
  if (b.length >= 1 && b[0] === TEXT_UTF8) {
    if (b.length - 1 > maxMessageBytes) throw new CodecError('HYPHA_ACCEL_ERR_CODEC_LIMIT', 'text frame over limit', false);
    return b.slice(1);
  }
  throw new CodecError('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'not a compact text frame', false);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeText(b: Uint8Array, maxMessageBytes = 1 << 20): string {
  if (b.length === 2 && b[0] === TEXT_KNOWN) {
    const s = KNOWN_TEXT[b[1]!];
    if (s !== undefined) return s;
  }
  if (b.length >= 1 && b[0] === TEXT_UTF8) {
    if (b.length - 1 > maxMessageBytes) throw new CodecError('HYPHA_ACCEL_ERR_CODEC_LIMIT', 'text frame over limit', false);
    try {
      return utf8.decode(b.subarray(1));
    } catch {
      throw new CodecError('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'text frame is not UTF-8', false);
    }
  }
  throw new CodecError('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'not a compact text frame', false);
}
