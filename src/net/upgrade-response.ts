// Answers a WebSocket upgrade with a plain HTTP error on the raw socket (the upgrade is never completed),
// so hypha-rpc clients treat it as a failed connection attempt and retry.
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';

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
