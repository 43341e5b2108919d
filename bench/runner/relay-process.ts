// What the bench's plain relay processes (null relay, TLS terminator) share: the --target argument, a
// client socket paired with its upstream (an error on either destroys both), the "listening" line the proxies print,
// and a stop on SIGTERM/SIGINT that ends every socket.
import net from 'node:net';

export function argValue(name: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? '') : '';
}

/** `--target HOST:PORT` as connect options. */
export function targetAddress(): { host: string; port: number } {
  const target = argValue('--target');
  return { host: target.slice(0, target.lastIndexOf(':')) || '127.0.0.1', port: Number(target.slice(target.lastIndexOf(':') + 1)) };
}

/** Dials the target for `client`; an error on either side destroys both (ends travel through the caller's pipes). */
export function pairWithUpstream(client: net.Socket, sockets: Set<net.Socket>): net.Socket {
  const upstream = net.connect({ ...targetAddress(), noDelay: true });
  for (const socket of [client, upstream]) {
    sockets.add(socket);
    socket.on('error', () => {
      client.destroy();
      upstream.destroy();
    });
    socket.on('close', () => sockets.delete(socket));
  }
  return upstream;
}

/** Listens on a free loopback port, prints the listening line, and stops on SIGTERM/SIGINT. */
export function serve(server: net.Server, sockets: Set<net.Socket>, role: string, scheme: 'http' | 'https'): void {
  server.listen(0, '127.0.0.1', () => {
    const bound = (server.address() as net.AddressInfo).port;
    process.stdout.write(JSON.stringify({ event: 'listening', role, url: `${scheme}://127.0.0.1:${bound}`, port: bound }) + '\n');
  });
  const stop = () => {
    server.close();
    for (const socket of sockets) socket.destroy();
    setTimeout(() => process.exit(0), 20).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
