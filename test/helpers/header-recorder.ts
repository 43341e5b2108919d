// A transparent relay in front of hypha that records the headers of every request it passes on (HTTP and
// WebSocket upgrades): what hypha itself receives from the gateway, for X-Forwarded-* tests.
import http from 'node:http';
import net from 'node:net';

export interface RecordedRequest {
  url: string;
  upgrade: boolean;
  headers: http.IncomingHttpHeaders;
}

export interface HeaderRecorder {
  url: string; // http://127.0.0.1:PORT, to use as the gateway's hyphaUrl
  /** Resolves with the first recorded request (from now on or already seen) whose url matches. */
  next(match: (r: RecordedRequest) => boolean): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export async function startHeaderRecorder(hyphaUrl: string): Promise<HeaderRecorder> {
  const target = new URL(hyphaUrl);
  const port = Number(target.port || 80);
  const seen: RecordedRequest[] = [];
  const waiters: Array<{ match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }> = [];
  const sockets = new Set<net.Socket>();
  const record = (req: http.IncomingMessage, upgrade: boolean) => {
    const entry = { url: req.url ?? '', upgrade, headers: req.headers };
    const waiter = waiters.find((w) => w.match(entry));
    if (!waiter) return void seen.push(entry);
    waiters.splice(waiters.indexOf(waiter), 1);
    waiter.resolve(entry);
  };
  const rawHead = (req: http.IncomingMessage) => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    return lines.join('\r\n') + '\r\n\r\n';
  };
  const relay = (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const upstream = net.connect(port, target.hostname);
    sockets.add(client).add(upstream);
    upstream.write(rawHead(req));
    if (head.length) upstream.write(head);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  };
  const server = http.createServer((req, res) => {
    record(req, false);
    const upstream = http.request({ host: target.hostname, port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    record(req, true);
    relay(req, socket, head);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    next(match) {
      const found = seen.find(match);
      if (found) {
        seen.splice(seen.indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
