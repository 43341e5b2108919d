// Verbatim streaming HTTP reverse proxy for everything that is not the WebSocket endpoint: the request
// and response bodies are piped (never buffered, so hypha's streaming GET /rpc flows chunk by chunk),
// hop-by-hop headers are dropped, and X-Forwarded-* are set by the caller's policy. http or https is
// chosen by the target's scheme; failures answer 502 without echoing internal error text.
import http from 'node:http';
import https from 'node:https';
import { createConnection, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionOptions } from 'node:tls';
import { isOriginFormTarget } from './upgrade-check.js';
import { redactTarget } from './redact.js';
import { applyForwarded, type ForwardedValues } from './forwarded-headers.js';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host',
]);

export interface HttpProxyOptions {
  target: URL; // http(s)://host[:port] (path prefix ignored: paths pass through unchanged)
  /** From upstreamAgent(target): an https.Agent for an https:// target. */
  agent: http.Agent;
  log: Logger;
  /** The X-Forwarded-* values to send (forwarded-headers.ts), or undefined to leave them as the client sent them. */
  forwarded?: (req: http.IncomingMessage) => ForwardedValues;
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

/**
 * The upstream HTTP agent: https for an https:// (or wss://) target, at most maxSockets sockets;
 * `socketPath`: every connection goes to that Unix socket instead (a colocated gateway).
 */
export function upstreamAgent(target: URL, maxSockets: number, ca?: Buffer, tls: ConnectionOptions = {}, socketPath?: string): http.Agent {
  if (socketPath) {
    const agent = new http.Agent({ keepAlive: true, maxSockets });
    (agent as unknown as { createConnection: () => Socket }).createConnection = () => createConnection({ path: socketPath });
    return agent;
  }
  return isTls(target)
    ? new https.Agent({ keepAlive: true, maxSockets, ...tls, ...(ca ? { ca } : {}) })
    : new http.Agent({ keepAlive: true, maxSockets });
}

const isTls = (target: URL): boolean => target.protocol === 'https:' || target.protocol === 'wss:';

/** Answers a request the proxy will not forward, with a fixed text (never internal error details). */
export function answerPlain(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
  res.end(`${text}\n`);
}

export function proxyHttpRequest(req: http.IncomingMessage, res: http.ServerResponse, options: HttpProxyOptions): void {
  if (!isOriginFormTarget(req.url ?? '')) {
    return answerPlain(res, 400, 'hypha-accel: the request target must be an absolute path (HYPHA_ACCEL_ERR_BAD_REQUEST)');
  }
  const headers = forwardHeaders(req.headers);
  headers.host = options.target.host;
  const forwarded = options.forwarded?.(req);
  if (forwarded !== undefined) applyForwarded(headers, forwarded);
  const tls = isTls(options.target);
  let upstream: http.ClientRequest;
  try {
    upstream = (tls ? https : http).request({
      host: options.target.hostname,
      port: options.target.port || (tls ? 443 : 80),
      method: req.method,
      path: req.url,
      headers,
      agent: options.agent,
    });
  } catch (error) {
    options.log.warn({ code: 'HYPHA_ACCEL_ERR_BAD_REQUEST', err: (error as Error).message, url: redactTarget(req.url) }, 'HTTP request not forwardable');
    req.resume();
    return answerPlain(res, 400, 'hypha-accel: this request cannot be forwarded (HYPHA_ACCEL_ERR_BAD_REQUEST)');
  }
  upstream.on('response', (upstreamRes) => {
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, forwardHeaders(upstreamRes.headers, RESPONSE_DROP));
    res.flushHeaders();
    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  });
  upstream.on('error', (error) => {
    options.log.warn({ code: 'HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE', err: error.message, url: redactTarget(req.url) }, 'HTTP upstream failed');
    answerPlain(res, 502, 'hypha-accel: upstream unreachable (HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE)');
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

const RESPONSE_DROP = new Set([...HOP_BY_HOP].filter((h) => h !== 'host'));
