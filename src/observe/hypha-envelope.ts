// What observability knows of a hypha RPC message (hypha-protocol.md §3): where the `type`, `method`, `session`
// and `to` strings of the msgpack main object lie, found with the codec's scanner (no string decoded, no
// object built, other values skipped), whether the method is a reply, and the method path normalised to a
// bounded, id-free name (`service.function`).
import { readLen, skipValue } from '../codec/msgpack-scan.js';

/** Keys beyond this many in main are not looked at (hypha's main has ~4-8). */
const MAX_KEYS = 32;
/** Strings longer than this are not read (method paths and session ids are short). */
const MAX_STRING_BYTES = 512;

const KEY_TYPE = Buffer.from('type');
const KEY_METHOD = Buffer.from('method');
const KEY_SESSION = Buffer.from('session');
const KEY_TO = Buffer.from('to');
const SERVICES_PREFIX = Buffer.from('services.');
/** skipValue reports the largest bin it passed here; nothing reads it. */
const UNUSED_MAX_BIN = new Int32Array(1);

/** What a method path does in call/reply matching, read from its bytes. */
export const MethodKind = { CALL: 0, RESOLVE: 1, REJECT: 2, HEARTBEAT: 3 } as const;
export type MethodKindValue = (typeof MethodKind)[keyof typeof MethodKind];
const RESOLVE_SUFFIX = Buffer.from('.resolve');
const REJECT_SUFFIX = Buffer.from('.reject');
const HEARTBEAT_SUFFIX = Buffer.from('.heartbeat');

/**
 * Byte ranges of main's envelope strings in one message (start -1: absent or longer than MAX_STRING_BYTES).
 * One instance is reused for every message: scanning allocates nothing, and a caller decodes only the
 * strings it needs (a reply needs none but its method's session part).
 */
export class EnvelopeSpans {
  typeIsMethod = false;
  methodStart = -1;
  methodEnd = -1;
  methodKind: MethodKindValue = MethodKind.CALL;
  sessionStart = -1;
  sessionEnd = -1;
  toStart = -1;
  toEnd = -1;

  reset(): void {
    this.typeIsMethod = false;
    this.methodStart = this.sessionStart = this.toStart = -1;
    this.methodEnd = this.sessionEnd = this.toEnd = -1;
    this.methodKind = MethodKind.CALL;
  }
}

/**
 * Scans main's keys into `spans`; true when main is a map whose `type` is "method" and that has a method.
 * Stops as soon as it has what call pairing needs (hypha puts `type`, `from`, `to`, `method`, `session`
 * first and its larger `user` dict last): for a reply or heartbeat, its method; for a call, also its session
 * and target.
 */
export function scanEnvelope(data: Buffer, spans: EnvelopeSpans): boolean {
  spans.reset();
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
    if (keyStart < 0) break;
    const keyLength = stringLength(data, pos, end);
    pos = keyStart + keyLength;
    const field = keyLength === 4 ? (equals(data, keyStart, KEY_TYPE) ? 1 : 0)
      : keyLength === 6 ? (equals(data, keyStart, KEY_METHOD) ? 2 : 0)
      : keyLength === 7 ? (equals(data, keyStart, KEY_SESSION) ? 3 : 0)
      : keyLength === 2 ? (equals(data, keyStart, KEY_TO) ? 4 : 0)
      : 0;
    const valueStart = field === 0 ? -1 : stringStart(data, pos, end);
    if (valueStart < 0) {
      pos = skipValue(data, pos, end, UNUSED_MAX_BIN);
      if (pos < 0) break;
      continue;
    }
    const valueLength = stringLength(data, pos, end);
    pos = valueStart + valueLength;
    if (valueLength > MAX_STRING_BYTES) continue;
    if (field === 1) {
      spans.typeIsMethod = valueLength === 6 && equals(data, valueStart, KEY_METHOD);
      if (!spans.typeIsMethod) return false;
    } else if (field === 2) {
      spans.methodStart = valueStart;
      spans.methodEnd = pos;
      spans.methodKind = methodKind(data, valueStart, pos);
    } else if (field === 3) {
      spans.sessionStart = valueStart;
      spans.sessionEnd = pos;
    } else {
      spans.toStart = valueStart;
      spans.toEnd = pos;
    }
    if (spans.typeIsMethod && spans.methodStart >= 0 && (spans.methodKind !== MethodKind.CALL || (spans.sessionStart >= 0 && spans.toStart >= 0))) break;
  }
  return spans.typeIsMethod && spans.methodStart >= 0;
}

/** As classifyMethod decides it, from the bytes: a `services.` path is a call, else its suffix says. */
function methodKind(b: Buffer, start: number, end: number): MethodKindValue {
  if (endsWith(b, start, end, RESOLVE_SUFFIX) && !startsWith(b, start, end, SERVICES_PREFIX)) return MethodKind.RESOLVE;
  if (endsWith(b, start, end, REJECT_SUFFIX) && !startsWith(b, start, end, SERVICES_PREFIX)) return MethodKind.REJECT;
  if (endsWith(b, start, end, HEARTBEAT_SUFFIX) && !startsWith(b, start, end, SERVICES_PREFIX)) return MethodKind.HEARTBEAT;
  return MethodKind.CALL;
}

/** Where a reply method's call session ends (before `.resolve` / `.reject`). */
export function replySessionEnd(spans: EnvelopeSpans): number {
  return spans.methodEnd - (spans.methodKind === MethodKind.RESOLVE ? RESOLVE_SUFFIX.length : REJECT_SUFFIX.length);
}

function startsWith(b: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return end - start >= prefix.length && equals(b, start, prefix);
}

function endsWith(b: Buffer, start: number, end: number, suffix: Buffer): boolean {
  return end - start >= suffix.length && equals(b, end - suffix.length, suffix);
}

/** Where the bytes of the msgpack string at `pos` start; -1 when it is no string or runs past `end`. */
function stringStart(b: Buffer, pos: number, end: number): number {
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
function stringLength(b: Buffer, pos: number, end: number): number {
  const t = b[pos]!;
  return t <= 0xbf ? t & 0x1f : readLen(b, pos, end, t - 0xd9);
}

function equals(b: Buffer, start: number, key: Buffer): boolean {
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
