// Validates a client's WebSocket upgrade request completely (method, Upgrade, version, key, subprotocols,
// extensions syntax, request target) BEFORE anything is dialed, so a bad request costs nothing upstream.
// A failure is answered with a plain HTTP 400 (never 403 or a close 1003: hypha-rpc treats those as auth).
import type { IncomingHttpHeaders } from 'node:http';

export type UpgradeCheck = { ok: true; protocols: string[] } | { ok: false; status: 400; message: string };

/** RFC 6455 §4.1: base64 of exactly 16 bytes. */
const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** RFC 7230 token characters: what a subprotocol name may contain. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;
/** Longest request target accepted (hypha's /ws plus a query string fits easily). */
export const MAX_TARGET_CHARS = 8192;

export function checkUpgrade(req: { method?: string; url?: string; headers: IncomingHttpHeaders }): UpgradeCheck {
  const bad = (why: string): UpgradeCheck => ({ ok: false, status: 400, message: `hypha-accel: bad WebSocket upgrade (HYPHA_ACCEL_ERR_BAD_REQUEST): ${why}` });
  if (req.method !== 'GET') return bad('method must be GET');
  const upgrade = req.headers.upgrade;
  if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket') return bad('Upgrade must be websocket');
  if (req.headers['sec-websocket-version'] !== '13') return bad('Sec-WebSocket-Version must be 13');
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY.test(key) || Buffer.from(key, 'base64').length !== 16) return bad('Sec-WebSocket-Key must be 16 bytes in base64');
  if (!isOriginFormTarget(req.url ?? '')) return bad('the request target must be an absolute path (origin-form)');
  const protocols = parseProtocols(req.headers['sec-websocket-protocol']);
  if (!protocols) return bad('Sec-WebSocket-Protocol must be distinct tokens separated by commas');
  const extensions = req.headers['sec-websocket-extensions'];
  if (extensions !== undefined && !/^[\t\x20-\x7e]*$/.test(String(extensions))) return bad('Sec-WebSocket-Extensions has invalid characters');
  return { ok: true, protocols };
}

/** Offered subprotocols in order, or undefined when the header is malformed or repeats a name. */
export function parseProtocols(header: string | string[] | undefined): string[] | undefined {
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  const names = joined.split(',').map((p) => p.trim());
  if (!names.every((name) => TOKEN.test(name))) return undefined;
  if (new Set(names).size !== names.length) return undefined;
  return names;
}

/**
 * An origin-form request target: "/" then visible ASCII, no fragment, no backslash, not "//" (which a URL
 * parser reads as another host), within MAX_TARGET_CHARS. Absolute-form ("http://other/") is refused.
 */
export function isOriginFormTarget(target: string): boolean {
  return target.length > 0 && target.length <= MAX_TARGET_CHARS && target[0] === '/' && target[1] !== '/' && /^[\x21-\x7e]+$/.test(target) && !/[#\\]/.test(target);
}
