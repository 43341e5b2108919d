// What observability knows of a hypha RPC message (hypha-protocol.md §3): where the `type`, `method`, `session`,
// `to` strings of the msgpack main object lie, found with the codec's scanner (nothing decoded, no object built,
// other values skipped), and the method path normalised to a bounded, id-free name (`service.function`).
import { readLen, skipValue } from '../codec/msgpack-scan.js';

/**
 * Byte ranges of main's envelope strings (`start` -1: absent, not a string, or longer than MAX_STRING_BYTES),
 * filled by scanEnvelope. One reader owns one and reuses it for every message, so a scan allocates nothing.
 */
export class EnvelopeSpans {
  typeStart = -1;
  typeEnd = -1;
  methodStart = -1;
  methodEnd = -1;
  sessionStart = -1;
  sessionEnd = -1;
  /** The target (`workspace/client`, a manager address, ...): an address, never a secret. */
  toStart = -1;
  toEnd = -1;
  /** replySuffix of the method path, taken once when it is found (-1: none, or no method). */
  methodReply = -1;
}

/** Keys beyond this many in main are not looked at (hypha's main has ~4-8). */
const MAX_KEYS = 32;
/** Strings longer than this are not read (method paths and session ids are short). */
const MAX_STRING_BYTES = 512;

const KEY_TYPE = Buffer.from('type');
const KEY_METHOD = Buffer.from('method');
const KEY_SESSION = Buffer.from('session');
const KEY_TO = Buffer.from('to');
export const SERVICES_PREFIX = Buffer.from('services.');
/** The reply paths' endings, indexed as replySuffix answers (0 `.resolve`, 1 `.reject`, 2 `.heartbeat`). */
export const REPLY_SUFFIXES = [Buffer.from('.resolve'), Buffer.from('.reject'), Buffer.from('.heartbeat')];
/** skipValue reports the largest bin it passed here; nothing reads it. */
const UNUSED_MAX_BIN = new Int32Array(1);

/**
 * Finds main's `type`, `method`, `session` and (with `wantTo`) `to` strings into `spans`; false when the
 * message does not start with a msgpack map. Decodes nothing and skips other values with the codec's scanner;
 * it stops once it holds what a call or reply needs (hypha puts `session` after `method`, and its
 * server-added keys such as `user` after both), so the rest of main is not walked.
 */
export function scanEnvelope(data: Uint8Array, spans: EnvelopeSpans, wantTo: boolean): boolean {
  spans.typeStart = spans.methodStart = spans.sessionStart = spans.toStart = spans.methodReply = -1;
  const end = data.length;
  if (end === 0) return false;
  const t = data[0]!;
  let pos: number;
  let keys: number;
  if (t >= 0x80 && t <= 0x8f) {
    keys = t & 0x0f;
    pos = 1;
  } else if (t === 0xde) {
    if ((keys = readLen(data, 0, end, 1)) < 0) return false;
    pos = 3;
  } else {
    return false;
  }
  for (let i = 0; i < keys && i < MAX_KEYS; i++) {
    const keyStart = stringStart(data, pos, end);
    if (keyStart < 0) return true;
    const keyLength = stringLength(data, pos, end);
    pos = keyStart + keyLength;
    const field = keyLength === 4 ? (equals(data, keyStart, KEY_TYPE) ? 1 : 0)
      : keyLength === 6 ? (equals(data, keyStart, KEY_METHOD) ? 2 : 0)
      : keyLength === 7 ? (equals(data, keyStart, KEY_SESSION) ? 3 : 0)
      : keyLength === 2 && wantTo ? (equals(data, keyStart, KEY_TO) ? 4 : 0)
      : 0;
    const valueStart = field === 0 ? -1 : stringStart(data, pos, end);
    if (valueStart < 0) {
      pos = skipValue(data, pos, end, UNUSED_MAX_BIN);
      if (pos < 0) return true;
      continue;
    }
    const valueLength = stringLength(data, pos, end);
    pos = valueStart + valueLength;
    if (valueLength > MAX_STRING_BYTES) continue;
    if (field === 1) {
      spans.typeStart = valueStart;
      spans.typeEnd = pos;
    } else if (field === 2) {
      spans.methodStart = valueStart;
      spans.methodEnd = pos;
      spans.methodReply = replySuffix(data, valueStart, pos);
    } else if (field === 3) {
      spans.sessionStart = valueStart;
      spans.sessionEnd = pos;
    } else {
      spans.toStart = valueStart;
      spans.toEnd = pos;
    }
    if (spans.typeStart >= 0 && spans.methodStart >= 0 && (!wantTo || spans.toStart >= 0)
      && (spans.sessionStart >= 0 || spans.methodReply >= 0)) return true;
  }
  return true;
}

/** True when the bytes in [start, end) are `word`'s. */
export function bytesEqual(b: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  return end - start === word.length && equals(b, start, word);
}

/** KEY_METHOD is also the `type` value of a call or reply. */
export const METHOD_TYPE = KEY_METHOD;

/**
 * Which reply suffix the method path in [start, end) ends with: 0 `.resolve`, 1 `.reject`, 2 `.heartbeat`, -1 none
 * (classifyMethod's cases, on bytes; a `services.` path is a call whatever it ends with).
 */
export function replySuffix(b: Uint8Array, start: number, end: number): number {
  if (startsWith(b, start, end, SERVICES_PREFIX)) return -1;
  for (let s = 0; s < REPLY_SUFFIXES.length; s++) {
    const suffix = REPLY_SUFFIXES[s]!;
    if (end - start >= suffix.length && equals(b, end - suffix.length, suffix)) return s;
  }
  return -1;
}

/** True when the bytes in [start, end) begin with `prefix`. */
export function startsWith(b: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  return end - start >= prefix.length && equals(b, start, prefix);
}

/** Where the bytes of the msgpack string at `pos` start; -1 when it is no string or runs past `end`. */
function stringStart(b: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  const t = b[pos]!;
  let start: number;
  let length: number;
  if (t >= 0xa0 && t <= 0xbf) {
    length = t & 0x1f;
    start = pos + 1;
  } else if (t === 0xd9 || t === 0xda || t === 0xdb) {
    if ((length = readLen(b, pos, end, t - 0xd9)) < 0) return -1;
    start = pos + 1 + (1 << (t - 0xd9));
  } else {
    return -1;
  }
  return start + length > end ? -1 : start;
}

/** The length of the msgpack string at `pos` (stringStart said it is one). */
function stringLength(b: Uint8Array, pos: number, end: number): number {
  const t = b[pos]!;
  return t <= 0xbf ? t & 0x1f : readLen(b, pos, end, t - 0xd9);
}

function equals(b: Uint8Array, start: number, key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (b[start + i] !== key[i]) return false;
  return true;
}

/** How a method path takes part in call/reply matching. */
export type MethodRole = { kind: 'call'; name: string } | { kind: 'reply'; session: string; outcome: 'resolve' | 'reject' } | { kind: 'heartbeat' };

const MAX_SEGMENT_CHARS = 64;

/**
 * `services.<svc>.<fn>` is a call named `<svc>.<fn>` (a `workspace/client:` prefix and an `@app` suffix
 * of the service id dropped); `<session>.resolve|reject` is a reply; any other path names a callback
 * by a session id and is called `callback`, so no id ever becomes a name.
 */
export function classifyMethod(method: string): MethodRole {
  if (method.startsWith('services.')) {
    const rest = method.slice('services.'.length);
    const dot = rest.indexOf('.');
    let service = dot < 0 ? rest : rest.slice(0, dot);
    const colon = service.lastIndexOf(':');
    if (colon >= 0) service = service.slice(colon + 1);
    const at = service.indexOf('@');
    if (at >= 0) service = service.slice(0, at);
    const fn = dot < 0 ? '' : rest.slice(dot + 1);
    const name = [service, ...fn.split('.')].filter(Boolean).map((s) => s.slice(0, MAX_SEGMENT_CHARS)).join('.');
    return { kind: 'call', name: name || 'services' };
  }
  if (method.endsWith('.resolve')) return { kind: 'reply', session: method.slice(0, -'.resolve'.length), outcome: 'resolve' };
  if (method.endsWith('.reject')) return { kind: 'reply', session: method.slice(0, -'.reject'.length), outcome: 'reject' };
  if (method.endsWith('.heartbeat')) return { kind: 'heartbeat' };
  return { kind: 'call', name: 'callback' };
}
