// A TCP proxy that injects link faults for tests (and bench S7): reset every connection (RST both ways),
// black hole (connections stay open, bytes vanish both ways until heal()), stall (bytes are held, then
// delivered in order on heal()). Connections accepted while faulted follow the current mode. retarget()
// sends new connections elsewhere (a Service whose endpoints changed), leaving open ones where they are.
import net from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'stall';

interface Conn {
  client: net.Socket;
  upstream: net.Socket;
  held: Array<{ to: net.Socket; data: Buffer }>;
}

export class FaultProxy {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly conns = new Set<Conn>();
  private mode: FaultMode = 'pass';
  port = 0;
  /** Connections reset so far (each reset() counts every open connection). */
  resets = 0;
  accepted = 0;

  constructor(private targetPort: number, private readonly targetHost = '127.0.0.1') {}

  /** New connections go to `port` from now on; open ones stay where they are. */
  retarget(port: number): void {
    this.targetPort = port;
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  get openConnections(): number {
    return this.conns.size;
  }

  /** Resets every open connection (TCP RST to both sides). */
  reset(): void {
    for (const conn of [...this.conns]) {
      this.resets++;
      this.drop(conn);
    }
  }

  /** From now on bytes vanish both ways (a black hole); heal() passes them again. */
  blackHole(): void {
    this.mode = 'blackhole';
  }

  /** From now on bytes are held both ways; heal() delivers them in order. */
  stall(): void {
    this.mode = 'stall';
  }

  heal(): void {
    this.mode = 'pass';
    for (const conn of this.conns) {
      for (const { to, data } of conn.held) if (!to.destroyed) to.write(data);
      conn.held = [];
    }
  }

  async close(): Promise<void> {
    for (const conn of [...this.conns]) this.drop(conn);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect(this.targetPort, this.targetHost);
    const conn: Conn = { client, upstream, held: [] };
    this.conns.add(conn);
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on('data', (data: Buffer) => {
        if (this.mode === 'blackhole') return;
        if (this.mode === 'stall') return void conn.held.push({ to, data });
        to.write(data);
      });
      from.on('end', () => to.end());
      from.on('error', () => this.drop(conn));
      from.on('close', () => this.drop(conn));
    };
    pipe(client, upstream);
    pipe(upstream, client);
  }

  private drop(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    for (const socket of [conn.client, conn.upstream]) {
      if (socket.destroyed) continue;
      if (socket.readyState === 'open' || socket.readyState === 'readOnly' || socket.readyState === 'writeOnly') socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}
