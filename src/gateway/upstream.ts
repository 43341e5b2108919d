// Opens the one upstream WebSocket to hypha for a session (or a plain passthrough client) and reports
// either the open socket or the HTTP status the client's upgrade should be answered with.
import WebSocket from 'ws';

export type UpstreamResult = { ok: true; ws: WebSocket } | { ok: false; status: number; message: string };

export interface UpstreamOptions {
  hyphaUrl: URL;
  path: string;
  protocols: string[];
  headers: Record<string, string | string[]>;
  deflate: boolean;
  maxMessageBytes: number;
  timeoutMs: number;
}

export function dialUpstream(options: UpstreamOptions): Promise<UpstreamResult> {
  const base = options.hyphaUrl.href.replace(/^http/, 'ws').replace(/\/$/, '');
  const url = base.replace(/^(wss?:\/\/[^/]+).*$/, '$1') + options.path;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options.protocols, {
      headers: options.headers as Record<string, string>,
      perMessageDeflate: options.deflate,
      maxPayload: options.maxMessageBytes,
      handshakeTimeout: options.timeoutMs,
    });
    let settled = false;
    const settle = (result: UpstreamResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    ws.once('open', () => settle({ ok: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      // hypha answered the upgrade with HTTP: pass its status through, as a direct client would see it.
      settle({ ok: false, status: res.statusCode ?? 502, message: `hypha answered the upgrade with HTTP ${res.statusCode}` });
      res.resume();
      ws.terminate();
    });
    ws.on('error', (error) => settle({ ok: false, status: 502, message: `hypha-accel: hypha unreachable (HYPHA_ACCEL_ERR_UPSTREAM_UNREACHABLE): ${error.message}` }));
  });
}
