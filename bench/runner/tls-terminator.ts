// The TLS terminator of the direct-over-TLS arms (--link-tls): stands in front of hypha as an ingress
// would (the pinned `python -m hypha.server` has no TLS options), ends TLS and pipes plain bytes to hypha.
// With --strip-extensions it drops Sec-WebSocket-Extensions from the first upgrade request (the
// emulator cannot see inside TLS, so the "direct without deflate" arm strips here). Run as a process:
// `tls-terminator.ts --target HOST:PORT --cert PEM --key PEM [--strip-extensions]`; prints the same
// "listening" line the proxies print.

import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { FirstHeadScanner, stripWebSocketExtensions } from '../emulator/http-head.js';

function arg(name: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? '') : '';
}

function main(): void {
  const target = arg('--target');
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const host = target.slice(0, target.lastIndexOf(':')) || '127.0.0.1';
  const strip = process.argv.includes('--strip-extensions');
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: readFileSync(arg('--cert')), key: readFileSync(arg('--key')) }, (client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host, port, noDelay: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    const scanner = new FirstHeadScanner((head) => (strip ? stripWebSocketExtensions(head) : head));
    client.on('data', (chunk: Buffer) => {
      const { forward } = scanner.push(chunk);
      if (forward && !upstream.write(forward)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
  });
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1', () => {
    const bound = (server.address() as net.AddressInfo).port;
    process.stdout.write(JSON.stringify({ event: 'listening', role: 'tls-terminator', url: `https://127.0.0.1:${bound}`, port: bound }) + '\n');
  });
  const stop = () => {
    server.close();
    for (const socket of sockets) socket.destroy();
    setTimeout(() => process.exit(0), 20).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
