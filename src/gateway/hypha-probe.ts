// Asks the hypha server whether it answers (GET <hyphaUrl>/health/liveness, hypha-protocol.md §6), for the
// gateway's readiness: any HTTP answer below 500 within the deadline counts as up.
import http from 'node:http';
import https from 'node:https';

/** Probes never wait longer than this, whatever the handshake deadline. */
const MAX_PROBE_MS = 2000;

export function probeHypha(hyphaUrl: URL, timeoutMs: number): Promise<{ ok: boolean; reason: string }> {
  const base = hyphaUrl.pathname.endsWith('/') ? hyphaUrl.pathname : `${hyphaUrl.pathname}/`;
  const target = new URL(`${base}health/liveness`, hyphaUrl);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = client.get(target, { timeout: Math.min(timeoutMs, MAX_PROBE_MS), agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status < 500 ? { ok: true, reason: `HTTP ${status}` } : { ok: false, reason: `HTTP ${status}` });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => resolve({ ok: false, reason: error.message }));
  });
}
