// Checks a session OPEN from an edge before anything is dialed: an authenticated edge may still forward
// what a hostile client sent. Returns the headers and subprotocols safe to send to hypha, or why not.
import type { SessionOpen } from '../link/session-open.js';
import { WS_HANDSHAKE_HEADERS } from '../net/upgrade-response.js';
import { isOriginFormTarget, parseProtocols } from '../net/upgrade-check.js';

const HEADER_NAME = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;
/** What node:http sends as a header value (latin-1 without control characters). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEADERS = 100;
const MAX_HEADER_BYTES = 64 * 1024;

export type OpenCheck = { ok: true; headers: Record<string, string | string[]>; protocols: string[] } | { ok: false; why: string };

export function checkSessionOpen(open: SessionOpen): OpenCheck {
  if (!isOriginFormTarget(open.path)) return { ok: false, why: 'the path is not an absolute path (origin-form)' };
  const protocols = open.protocols.length === 0 ? [] : parseProtocols(open.protocols.join(','));
  if (!protocols) return { ok: false, why: 'subprotocols must be distinct tokens' };
  const entries = Object.entries(open.headers);
  if (entries.length > MAX_HEADERS) return { ok: false, why: `more than ${MAX_HEADERS} headers` };
  const headers: Record<string, string | string[]> = {};
  let totalBytes = 0;
  for (const [name, value] of entries) {
    const values = Array.isArray(value) ? value : [value];
    if (!HEADER_NAME.test(name) || !values.every((v) => typeof v === 'string' && HEADER_VALUE.test(v))) return { ok: false, why: 'a header name or value is invalid' };
    totalBytes += name.length + values.reduce((sum, v) => sum + v.length, 0);
    if (WS_HANDSHAKE_HEADERS.has(name.toLowerCase())) continue;
    headers[name.toLowerCase()] = value;
  }
  if (totalBytes > MAX_HEADER_BYTES) return { ok: false, why: `headers exceed ${MAX_HEADER_BYTES} bytes` };
  return { ok: true, headers, protocols };
}
