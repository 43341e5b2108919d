// The TLS terminator of the direct-over-TLS arms (--link-tls): stands in front of hypha as an ingress
// would (the pinned `python -m hypha.server` has no TLS options), ends TLS and pipes plain bytes to hypha.
// With --strip-extensions it drops Sec-WebSocket-Extensions from the first upgrade request (the
// emulator cannot see inside TLS, so the "direct without deflate" arm strips here). Run as a process:
// `tls-terminator.ts --target HOST:PORT --cert PEM --key PEM [--strip-extensions]`; prints the same
// "listening" line the proxies print.

import type net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { FirstHeadScanner, stripWebSocketExtensions } from '../emulator/http-head.js';
import { argValue, pairWithUpstream, serve } from './relay-process.js';

const strip = process.argv.includes('--strip-extensions');
const sockets = new Set<net.Socket>();
const server = tls.createServer({ cert: readFileSync(argValue('--cert')), key: readFileSync(argValue('--key')) }, (client) => {
  client.setNoDelay(true);
  const upstream = pairWithUpstream(client, sockets);
  const scanner = new FirstHeadScanner((head) => (strip ? stripWebSocketExtensions(head) : head));
  client.on('data', (chunk: Buffer) => {
    const { forward } = scanner.push(chunk);
    if (forward && !upstream.write(forward)) {
      client.pause();
      upstream.once('drain', () => client.resume());
    }
  });
  client.on('end', () => upstream.end());
  upstream.pipe(client);
});
server.on('tlsClientError', () => undefined);
serve(server, sockets, 'tls-terminator', 'https');
