// A TCP proxy that injects link faults for tests: reset every connection (RST both ways), black hole
// (connections stay open, bytes vanish both ways until heal()), stall (bytes are held, then delivered in
// order on heal()), slow reads (it reads a side at a bounded rate, so TCP backpressure reaches the sender)
// and byte corruption (raw: every Nth byte of the stream; or aimed at one field of chosen link frames, which
// it finds by following the tcp:// link framing of docs/protocol.md §1). Connections accepted while faulted
// follow the current faults. retarget() sends new connections elsewhere (a Service whose endpoints changed),
// leaving open ones where they are. It honours backpressure itself: a full destination pauses the source.
import net from 'node:net';
import { LinkFrameCursor } from './link-frame-cursor.js';
import { resetOrDestroy } from '../../src/net/socket-reset.js';

export type FaultMode = 'pass' | 'blackhole' | 'stall';
/** up: from the connecting side to the target (edge → gateway); down: the way back. */
export type Direction = 'up' | 'down';

/** Flips bytes at fixed stream offsets, counted from each connection's first byte in that direction. */
export interface RawCorruption {
  direction: Direction;
  /** The first byte flipped (stream offset); then every `everyBytes` bytes after it (0: only that one). */
  fromByte: number;
  everyBytes: number;
  xor: number;
}

/** Flips one byte of the next `count` link frames of `type` in `direction` (offset 0 = the frame's type byte). */
export interface FrameCorruption {
  direction: Direction;
  type: number;
  /** Offset inside the frame, after its u32 length: 0 type, 1 flags, 2 class, 3 ext, 4-7 stream, 8-11 seq, 12.. payload. */
  offset: number;
  xor: number;
  count: number;
}

interface Conn {
  client: net.Socket;
  upstream: net.Socket;
  held: Array<{ to: net.Socket; data: Buffer }>;
}

export class FaultProxy {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly conns = new Set<Conn>();
  private mode: FaultMode = 'pass';
  private readonly readRate: Partial<Record<Direction, number>> = {};
  private rawCorruption: RawCorruption | undefined;
  private frameCorruption: FrameCorruption | undefined;
  port = 0;
  /** Connections reset so far (each reset() counts every open connection). */
  resets = 0;
  accepted = 0;
  /** Bytes flipped so far (raw and frame corruption). */
  corruptedBytes = 0;
  /** Most bytes read but not yet accepted by their destination socket, at any moment (what slow reads hold). */
  peakUnwrittenBytes = 0;

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

  /** From now on each direction given is read at most `bytesPerSec` (the source socket is paused between reads). */
  slowReads(bytesPerSec: number, directions: Direction[] = ['up', 'down']): void {
    for (const direction of directions) this.readRate[direction] = bytesPerSec;
  }

  /** Flips bytes at stream offsets of every connection (open ones included), until heal(). */
  corruptBytes(corruption: RawCorruption): void {
    this.rawCorruption = corruption;
  }

  /** Flips one byte in each of the next `count` link frames of a type (any connection), until heal() or done. */
  corruptFrames(corruption: FrameCorruption): void {
    this.frameCorruption = { ...corruption };
  }

  /** Ends every fault: held bytes are delivered, reads run at full speed, nothing more is flipped. */
  heal(): void {
    this.mode = 'pass';
    delete this.readRate.up;
    delete this.readRate.down;
    this.rawCorruption = undefined;
    this.frameCorruption = undefined;
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
    const pipe = (from: net.Socket, to: net.Socket, direction: Direction) => {
      const cursor = new LinkFrameCursor(direction === 'up' ? 'request' : 'response');
      let streamOffset = 0;
      from.on('data', (data: Buffer) => {
        this.corrupt(data, direction, streamOffset, cursor);
        streamOffset += data.length;
        if (this.mode === 'blackhole') return;
        if (this.mode === 'stall') return void conn.held.push({ to, data });
        const accepted = to.write(data);
        this.peakUnwrittenBytes = Math.max(this.peakUnwrittenBytes, to.writableLength);
        const rate = this.readRate[direction];
        if (accepted && !rate) return;
        from.pause();
        const resume = () => {
          if (from.destroyed) return;
          if (to.writableLength > 0 && !to.destroyed) return void to.once('drain', resume);
          from.resume();
        };
        if (rate) setTimeout(resume, (data.length * 1000) / rate);
        else to.once('drain', resume);
      });
      from.on('end', () => to.end());
      from.on('error', () => this.drop(conn));
      from.on('close', () => this.drop(conn));
    };
    pipe(client, upstream, 'up');
    pipe(upstream, client, 'down');
  }

  /** Applies the corruption rules to `data` (in place), which starts at `streamOffset` of its direction. */
  private corrupt(data: Buffer, direction: Direction, streamOffset: number, cursor: LinkFrameCursor): void {
    const raw = this.rawCorruption;
    if (raw && raw.direction === direction) {
      let offset = raw.fromByte;
      if (offset < streamOffset) offset = raw.everyBytes > 0 ? offset + Math.ceil((streamOffset - offset) / raw.everyBytes) * raw.everyBytes : Infinity;
      for (; offset < streamOffset + data.length; offset += raw.everyBytes > 0 ? raw.everyBytes : Infinity) {
        data[offset - streamOffset]! ^= raw.xor;
        this.corruptedBytes++;
      }
    }
    const aimed = this.frameCorruption;
    cursor.walk(data, aimed && aimed.direction === direction && aimed.count > 0 ? (type) => {
      if (type !== aimed.type || aimed.count <= 0) return undefined;
      aimed.count--;
      this.corruptedBytes++;
      return { offset: aimed.offset, xor: aimed.xor };
    } : undefined);
  }

  private drop(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    for (const socket of [conn.client, conn.upstream]) {
      if (socket.destroyed) continue;
      // resetOrDestroy: a socket whose FIN is under way ('readOnly' after to.end()) cannot be reset; Node
      // would leave it unclosed and this process would spin at exit (src/net/socket-reset.ts).
      if (socket.readyState === 'open' || socket.readyState === 'readOnly' || socket.readyState === 'writeOnly') resetOrDestroy(socket);
      else socket.destroy();
    }
  }
}
