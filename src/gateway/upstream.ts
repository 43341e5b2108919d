// Opens the one upstream WebSocket to hypha for a session (or a plain passthrough client) and reports
// either the open socket or the HTTP status the client's upgrade should be answered with. The upstream URL
// is built with new URL and refused unless it stays on hypha's origin and the one path hypha serves.
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { isOriginFormTarget } from '../net/upgrade-check.js';
import { tapIngress, type IngressTap } from '../net/ingress-tap.js';

/**
 * `ingress`: the socket's ingress tap, installed before ws read a byte (undefined with deflate).
 * `socket`: with `takeSocket`, the upgraded connection taken from ws before it read a byte (paused).
 */
export type UpstreamResult = { ok: true; ws: WebSocket; ingress: IngressTap | undefined; socket?: Socket } | { ok: false; status: number; message: string; detail?: string };

export interface UpstreamOptions {
  hyphaUrl: URL;
  /** The client's request target (path and query), origin-form. */
  path: string;
  protocols: string[];
  headers: Record<string, string | string[]>;
  deflate: boolean;
  maxMessageBytes: number;
  timeoutMs: number;
  /** Extra CA certificates for an https:// hypha (PEM). */
  ca?: Buffer;
  /** Take the upgraded socket from ws when no extension was negotiated (a byte splice); ws then owns nothing. */
  takeSocket?: boolean;
}

/**
 * hypha's only WebSocket endpoint is `{base}/ws` (hypha/websocket.py): the ws(s) URL for a client's target,
 * or undefined when the target would leave hypha's origin or ask for another path.
 */
export function upstreamUrl(hyphaUrl: URL, target: string): URL | undefined {
  if (!isOriginFormTarget(target)) return undefined;
  const origin = new URL(hyphaUrl.origin);
  origin.protocol = hyphaUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  let url: URL;
  try {
    url = new URL(target, origin);
  } catch {
    return undefined;
  }
  const wsPath = `${hyphaUrl.pathname.replace(/\/+$/, '')}/ws`;
  if (url.origin !== origin.origin || url.pathname !== wsPath || url.username || url.password) return undefined;
  return url;
}

export function dialUpstream(options: UpstreamOptions): Promise<UpstreamResult> {
  const url = upstreamUrl(options.hyphaUrl, options.path);
  if (!url) return Promise.resolve({ ok: false, status: 400, message: 'hypha-accel: hypha serves no WebSocket at this path (HYPHA_ACCEL_ERR_BAD_REQUEST)' });
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, options.protocols, {
      headers: options.headers as Record<string, string>,
      perMessageDeflate: options.deflate,
      maxPayload: options.maxMessageBytes,
      handshakeTimeout: options.timeoutMs,
      ...(options.ca ? { ca: options.ca } : {}),
    });
  } catch (error) {
    // ws and node:http throw synchronously on what they cannot send (bad subprotocols, header characters).
    return Promise.resolve({ ok: false, status: 400, message: 'hypha-accel: this upgrade cannot be sent to hypha (HYPHA_ACCEL_ERR_BAD_REQUEST)', detail: (error as Error).message });
  }
  ws.on('error', () => {}); // errors after the outcome is settled are reported by the relay's close
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: UpstreamResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    ws.once('open', () => {
      // Both before ws reads a byte (it reads on the next tick at the earliest).
      const socket = options.takeSocket && !ws.extensions ? takeSocket(ws) : undefined;
      settle(socket ? { ok: true, ws, ingress: undefined, socket } : { ok: true, ws, ingress: tapIngress(ws, options.maxMessageBytes) });
    });
    ws.once('unexpected-response', (_req, res) => {
      // hypha answered the upgrade with HTTP: pass its status through, as a direct client would see it.
      settle({ ok: false, status: res.statusCode ?? 502, message: `hypha answered the upgrade with HTTP ${res.statusCode}` });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (error) => settle({ ok: false, status: 502, message: 'hypha-accel: hypha unreachable (HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE)', detail: error.message }));
  });
}

/** ws's own listeners on the socket of an open WebSocket (ws 8.x websocket.js setSocket), by event. */
const WS_SOCKET_LISTENERS = { data: 'socketOnData', end: 'socketOnEnd', close: 'socketOnClose', error: 'socketOnError' } as const;

/**
 * Detaches ws from an open connection: the socket (with any bytes already read unshifted into it), paused;
 * or undefined, ws left as it is, when its listeners are not the ones expected.
 */
function takeSocket(ws: WebSocket): Socket | undefined {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (!socket) return undefined;
  const found = Object.entries(WS_SOCKET_LISTENERS).map(([event, name]) => [event, socket.listeners(event).find((l) => l.name === name)] as const);
  if (found.some(([, listener]) => !listener)) return undefined;
  socket.on('error', () => {}); // before ws's goes: an error never lacks a listener
  for (const [event, listener] of found) socket.removeListener(event, listener as (...args: unknown[]) => void);
  socket.pause();
  return socket;
}
