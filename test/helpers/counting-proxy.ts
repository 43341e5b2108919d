// A TCP relay in front of a server that counts the connections made through it (opened in total and open
// now): the server-side view of what a proxy dials, for leak tests. Optionally terminates TLS.
import net from 'node:net';
import tls from 'node:tls';

export interface CountingProxy {
  url: string; // http(s)://127.0.0.1:PORT
  port: number;
  opened(): number;
  open(): number;
  /** Open connections whose first bytes were a WebSocket upgrade (HTTP keep-alive sockets excluded). */
  openUpgrades(): number;
  /** Resolves once no relayed WebSocket connection is open (bounded by timeoutMs; rejects after it). */
  drainedUpgrades(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number, options: { tls?: { key: string | Buffer; cert: string | Buffer } } = {}): Promise<CountingProxy> {
  let opened = 0;
  const sockets = new Set<net.Socket>();
  const upgrades = new Set<net.Socket>();
  const waiters: Array<() => void> = [];
  const onConnection = (client: net.Socket) => {
    opened++;
    sockets.add(client);
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.once('data', (first: Buffer) => {
      if (/^upgrade:\s*websocket/im.test(first.toString('latin1'))) upgrades.add(client);
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      if (upgrades.delete(client) && upgrades.size === 0) for (const w of waiters.splice(0)) w();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  };
  const server = options.tls ? tls.createServer(options.tls, onConnection) : net.createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    opened: () => opened,
    open: () => sockets.size,
    openUpgrades: () => upgrades.size,
    drainedUpgrades(timeoutMs = 10000) {
      if (upgrades.size === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${upgrades.size} WebSocket connections still open after ${timeoutMs} ms`)), timeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
