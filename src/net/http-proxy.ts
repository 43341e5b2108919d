// Verbatim streaming HTTP reverse proxy for everything that is not the WebSocket endpoint: the request
// and response bodies are piped (never buffered, so hypha's streaming GET /rpc flows chunk by chunk),
// hop-by-hop headers are dropped, and X-Forwarded-For is set by the caller's policy.
import http from 'node:http';
import type { Logger } from 'pino';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host',
]);

export interface HttpProxyOptions {
  target: URL; // http://host:port (path prefix ignored: paths pass through unchanged)
  agent: http.Agent;
  log: Logger;
  /** The X-Forwarded-For value to send, or undefined to leave the header as the client sent it. */
  forwardedFor?: (req: http.IncomingMessage) => string | undefined;
}

export function forwardHeaders(headers: http.IncomingHttpHeaders, drop: Set<string> = HOP_BY_HOP): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  const connectionTokens = String(headers.connection ?? '').toLowerCase().split(',').map((t) => t.trim());
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || drop.has(name) || connectionTokens.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Appends the address this hop sees to any X-Forwarded-For the request already carries. */
export function appendForwardedFor(existing: string | string[] | undefined, address: string | undefined): string | undefined {
  const prior = Array.isArray(existing) ? existing.join(', ') : existing;
  const seen = address?.startsWith('::ffff:') ? address.slice(7) : address;
  if (!seen) return prior;
  return prior ? `${prior}, ${seen}` : seen;
}

export function proxyHttpRequest(req: http.IncomingMessage, res: http.ServerResponse, options: HttpProxyOptions): void {
  const headers = forwardHeaders(req.headers);
  headers.host = options.target.host;
  const forwarded = options.forwardedFor?.(req);
  if (forwarded !== undefined) headers['x-forwarded-for'] = forwarded;
  const upstream = http.request({
    host: options.target.hostname,
    port: options.target.port,
    method: req.method,
    path: req.url,
    headers,
    agent: options.agent,
  });
  upstream.on('response', (upstreamRes) => {
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, forwardHeaders(upstreamRes.headers, RESPONSE_DROP));
    res.flushHeaders();
    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  });
  upstream.on('error', (error) => {
    options.log.warn({ code: 'HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE', err: error.message, url: req.url }, 'HTTP upstream failed');
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`hypha-accel: upstream unreachable (HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE): ${error.message}\n`);
    } else {
      res.destroy();
    }
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

const RESPONSE_DROP = new Set([...HOP_BY_HOP].filter((h) => h !== 'host'));
