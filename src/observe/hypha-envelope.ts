// What observability knows of a hypha RPC message (hypha-protocol.md §3): the `type`, `method`, `session`, `to`
// strings of the msgpack main object, read with the codec's scanner (no objects built, other values skipped),
// and the method path normalised to a bounded, id-free name (`service.function`).
import { readLen, skipValue } from '../codec/msgpack-scan.js';

export interface Envelope {
  type: string | undefined;
  method: string | undefined;
  session: string | undefined;
  /** The target (`workspace/client`, a manager address, ...): an address, never a secret. */
  to: string | undefined;
}

/** Keys beyond this many in main are not looked at (hypha's main has ~4-8). */
const MAX_KEYS = 32;
/** Strings longer than this are not read (method paths and session ids are short). */
const MAX_STRING_BYTES = 512;

const KEY_TYPE = Buffer.from('type');
const KEY_METHOD = Buffer.from('method');
const KEY_SESSION = Buffer.from('session');
const KEY_TO = Buffer.from('to');

/** Reads main's envelope strings; undefined when the message does not start with a msgpack map. */
export function readEnvelope(data: Buffer): Envelope | undefined {
  const end = data.length;
  if (end === 0) return undefined;
  const t = data[0]!;
  let pos: number;
  let keys: number;
  if (t >= 0x80 && t <= 0x8f) {
    keys = t & 0x0f;
    pos = 1;
  } else if (t === 0xde) {
    if ((keys = readLen(data, 0, end, 1)) < 0) return undefined;
    pos = 3;
  } else {
    return undefined;
  }
  const envelope: Envelope = { type: undefined, method: undefined, session: undefined, to: undefined };
  const maxBin = new Int32Array(1);
  for (let i = 0; i < keys && i < MAX_KEYS; i++) {
    const key = readString(data, pos, end);
    if (!key) return envelope;
    pos = key.next;
    let field: keyof Envelope | undefined;
    if (equals(data, key.start, key.length, KEY_METHOD)) field = 'method';
    else if (equals(data, key.start, key.length, KEY_SESSION)) field = 'session';
    else if (equals(data, key.start, key.length, KEY_TYPE)) field = 'type';
    else if (equals(data, key.start, key.length, KEY_TO)) field = 'to';
    if (field) {
      const value = readString(data, pos, end);
      if (value && value.length <= MAX_STRING_BYTES) envelope[field] = data.toString('utf8', value.start, value.start + value.length);
    }
    pos = skipValue(data, pos, end, maxBin);
    if (pos < 0) return envelope;
  }
  return envelope;
}

function readString(b: Buffer, pos: number, end: number): { start: number; length: number; next: number } | undefined {
  if (pos >= end) return undefined;
  const t = b[pos]!;
  let start: number;
  let length: number;
  if (t >= 0xa0 && t <= 0xbf) {
    length = t & 0x1f;
    start = pos + 1;
  } else if (t === 0xd9 || t === 0xda || t === 0xdb) {
    if ((length = readLen(b, pos, end, t - 0xd9)) < 0) return undefined;
    start = pos + 1 + (1 << (t - 0xd9));
  } else {
    return undefined;
  }
  if (start + length > end) return undefined;
  return { start, length, next: start + length };
}

function equals(b: Buffer, start: number, length: number, key: Buffer): boolean {
  if (length !== key.length) return false;
  for (let i = 0; i < length; i++) if (b[start + i] !== key[i]) return false;
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
