// Answers a WebSocket upgrade on the raw socket: with a plain HTTP error (the upgrade is never completed,
// so hypha-rpc clients treat it as a failed connection attempt and retry), or, for a byte splice, with the
// 101 that completes it without an extension.
import type { Duplex } from 'node:stream';
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

/** RFC 6455 §1.3: the GUID appended to the client's key for Sec-WebSocket-Accept. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Completes an upgrade already checked (upgrade-check.ts) with `protocol` (hypha's choice) and no extension. */
export function acceptUpgrade(socket: Duplex, key: string, protocol: string): void {
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''}\r\n`,
  );
}

export function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Request headers that belong to one WebSocket handshake hop and must not be forwarded. */
export const WS_HANDSHAKE_HEADERS = new Set([
  'connection', 'upgrade', 'host', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions',
  'sec-websocket-protocol', 'sec-websocket-accept', 'keep-alive', 'te', 'trailer', 'transfer-encoding',
  'proxy-connection', 'proxy-authorization', 'content-length',
]);
