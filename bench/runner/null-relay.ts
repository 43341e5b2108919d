// The null relay: a plain TCP pipe (node:net, socket.pipe both ways) that stands where the edge or the
// gateway stands in the null-relay arm, so the report can tell the environment's cost of two more hops
// and two more processes from the pair's own. Run as a process: `null-relay.ts --target HOST:PORT`;
// prints the same "listening" line the proxies print.

import net from 'node:net';

function main(): void {
  const at = process.argv.indexOf('--target');
  const target = process.argv[at + 1] ?? '';
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const host = target.slice(0, target.lastIndexOf(':')) || '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host, port, noDelay: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1', () => {
    const bound = (server.address() as net.AddressInfo).port;
    process.stdout.write(JSON.stringify({ event: 'listening', role: 'null-relay', url: `http://127.0.0.1:${bound}`, port: bound }) + '\n');
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
