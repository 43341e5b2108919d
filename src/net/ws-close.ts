// Mirrors a WebSocket close observed on one hop onto the other hop as faithfully as `ws` allows:
// 1005 (no code) closes without a code, 1006 (abnormal) drops the connection, other codes pass as they are.
import WebSocket from 'ws';

const CLOSE_GRACE_MS = 5000;

export function mirrorClose(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  if (code === 1006 || code === 0) {
    ws.terminate();
    return;
  }
  try {
    if (code === 1005) ws.close();
    else ws.close(code, reason);
  } catch {
    // ws refuses codes a peer may not send (1004, 1015, out of range): end the connection abnormally.
    ws.terminate();
    return;
  }
  setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
}

/** The close code and reason an endpoint's close delivers, as `ws` reports them. */
export function describeClose(code: number, reason: Buffer | string): { code: number; reason: string } {
  return { code, reason: typeof reason === 'string' ? reason : reason.toString('utf8') };
}
