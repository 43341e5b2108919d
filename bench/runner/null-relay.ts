// The null relay: a plain TCP pipe (node:net, socket.pipe both ways) that stands where the edge or the
// gateway stands in the null-relay arm, so the report can tell the environment's cost of two more hops
// and two more processes from the pair's own. Run as a process: `null-relay.ts --target HOST:PORT`;
// prints the same "listening" line the proxies print.

import net from 'node:net';
import { pairWithUpstream, serve } from './relay-process.js';

const sockets = new Set<net.Socket>();
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = pairWithUpstream(client, sockets);
  client.pipe(upstream);
  upstream.pipe(client);
});
serve(server, sockets, 'null-relay', 'http');
