// Sends raw bytes to a server over net.Socket and collects the answer until the server closes (bounded):
// for requests no well-behaved client would send.
import net from 'node:net';

export interface RawAnswer {
  /** HTTP status of the first response line, undefined when none came. */
  status?: number;
  text: string;
  /** True when the server did not close within the bound and the socket was cut by us. */
  timedOut: boolean;
}

/**
 * halfClose: end our side after the bytes, so a server waiting for more of the request sees EOF.
 * untilHead: resolve (and close) once a whole response head arrived, for answers that keep the socket open (101).
 */
export function rawHttp(port: number, bytes: Buffer | string, timeoutMs = 5000, options: { halfClose?: boolean; untilHead?: boolean } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (options.untilHead && Buffer.concat(chunks).includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : undefined, text, timedOut });
    });
    if (options.halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

/** A WebSocket upgrade request with the given overrides (header value null drops the header). */
export function upgradeRequest(options: { method?: string; target?: string; headers?: Record<string, string | null> } = {}): string {
  const headers: Record<string, string | null> = {
    Host: '127.0.0.1',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...options.headers,
  };
  const lines = Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`);
  return `${options.method ?? 'GET'} ${options.target ?? '/ws'} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
