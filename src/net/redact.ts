// What may be written to logs of a request target, a header or a free string: the path and the names of
// query parameters, never their values (hypha passes tokens as ?token=..., reconnection_token=...,
// access_token=...), never the value of a credential header (authorization, cookie, set-cookie).

/** "/ws?token=abc&x=1" -> "/ws?token=...&x=..."; anything unparsable is cut at the first "?". */
export function redactTarget(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const index = target.indexOf('?');
  if (index < 0) return target.slice(0, 200);
  const names = target.slice(index + 1).split('&').map((pair) => pair.split('=')[0]!.slice(0, 40));
  return `${target.slice(0, Math.min(index, 200))}?${names.map((n) => `${n}=...`).join('&')}`.slice(0, 400);
}

/** Field names whose values are credentials wherever they appear in a log line (compared lower-cased). */
export const SECRET_FIELD_NAMES: ReadonlySet<string> = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key',
  'token', 'access_token', 'reconnection_token', 'refresh_token', 'id_token', 'secret', 'password', 'client_secret',
]);

const SECRET_PARAMS = 'token|access_token|reconnection_token|refresh_token|id_token|client_secret|secret|password|api_key|apikey|code';
/** A credential-named query parameter's value inside any string (a URL, an error message). */
const QUERY_SECRET = new RegExp(`([?&;](?:${SECRET_PARAMS})=)[^&#\\s"'<>]*`, 'gi');
/** An HTTP auth scheme's credentials inside any string ("Bearer eyJ...", "Basic dXNlcjpw..."). */
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9\-._~+/]+=*/g;
/** A JSON Web Token anywhere (hypha's tokens are JWTs: three base64url parts, the first "eyJ..."). */
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;

/** A URL's userinfo ("wss://user:password@host"). */
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@"'<>]+@/gi;

/** Replaces credential values inside a free string: query parameters, URL userinfo, auth schemes, JWTs. */
export function redactString(text: string): string {
  if (text.length === 0) return text;
  return text.replace(QUERY_SECRET, '$1...').replace(USERINFO, '$1[redacted]@').replace(AUTH_SCHEME, '$1 [redacted]').replace(JWT, '[redacted-jwt]');
}

const MAX_DEPTH = 6;

/**
 * A copy of a log line's fields with every credential removed: values of SECRET_FIELD_NAMES keys at any
 * depth, and credentials inside strings (redactString). Logging is off the hot path; this walks the fields.
 */
export function redactFields<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactString(value) as T;
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (value instanceof Error) {
    return { type: value.name, message: redactString(value.message), stack: value.stack === undefined ? undefined : redactString(value.stack), ...(('code' in value) ? { code: (value as { code: unknown }).code } : {}) } as T;
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]` as T;
  if (Array.isArray(value)) return value.map((item) => redactFields(item, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_FIELD_NAMES.has(key.toLowerCase()) && item !== undefined && item !== null ? '[redacted]' : redactFields(item, depth + 1);
  }
  return out as T;
}
