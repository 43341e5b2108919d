// Scripted raw WebSocket peers over plain TCP for close-fidelity tests: a server and a client that frame
// by hand, so a test controls exactly how a connection ends (Close then drop, FIN or RST without Close,
// half a large frame) and observes what arrives, including when the TCP connection ends. Neither answers
// a Close on its own: like a busy endpoint, it answers only when the test says so.
import http from 'node:http';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** How a scripted peer ends its connection. */
export type Ending =
  | 'handshake' // Close, then TCP closes once the other side answered with its Close
  | 'close-then-drop' // Close, then TCP closed at once
  | 'drop' // TCP closed (FIN) without a Close
  | 'reset' // TCP reset (RST) without a Close
  | 'large-then-close-drop' // a 3 MB binary message, then Close, then TCP closed at once
  | 'drop-mid-large'; // half of a 3 MB frame, then TCP closed

export const LARGE_BYTES = 3 * 1024 * 1024;

/** What one side saw of the other's end. Times are ms since the observation started. */
export interface Observed {
  messages: number[]; // byte length of every whole message
  close?: { code: number; reason: string; atMs: number };
  tcpEnd?: { how: 'fin' | 'reset' | 'closed'; atMs: number };
}

function frame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.alloc(head + (mask ? 4 : 0) + len);
  out[0] = 0x80 | opcode;
  out[1] = (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  if (head === 4) out.writeUInt16BE(len, 2);
  if (head === 10) out.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) {
    payload.copy(out, head);
    return out;
  }
  const key = randomBytes(4);
  key.copy(out, head);
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

export function closePayload(code: number, reason: string): Buffer {
  const r = Buffer.from(reason, 'utf8');
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** A WebSocket connection over a raw socket: parses incoming frames, records what arrived and when. */
export class RawConnection {
  readonly observed: Observed = { messages: [] };
  private buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private readonly startMs = performance.now();
  private waiters: Array<() => void> = [];

  constructor(readonly socket: net.Socket, private readonly masked: boolean, head?: Buffer) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.ended('fin'));
    socket.on('error', (error: NodeJS.ErrnoException) => this.ended(error.code === 'ECONNRESET' ? 'reset' : 'closed'));
    socket.on('close', () => this.ended('closed'));
    if (head?.length) this.onData(head);
  }

  private now(): number {
    return performance.now() - this.startMs;
  }

  private ended(how: 'fin' | 'reset' | 'closed'): void {
    this.observed.tcpEnd ??= { how, atMs: this.now() };
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once `condition` holds (checked on every event), or rejects after `timeoutMs`. */
  until(condition: (o: Observed) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(this.observed)}`)), timeoutMs);
      const check = () => {
        if (condition(this.observed)) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.buffer.length < 2) break;
      const b1 = this.buffer[1]!;
      let len = b1 & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (this.buffer.length < 4) break;
        len = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (this.buffer.length < 10) break;
        len = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const maskBytes = b1 & 0x80 ? 4 : 0;
      if (this.buffer.length < offset + maskBytes + len) break;
      let payload = this.buffer.subarray(offset + maskBytes, offset + maskBytes + len);
      if (maskBytes) {
        const key = this.buffer.subarray(offset, offset + 4);
        payload = Buffer.from(payload.map((v, i) => v ^ key[i & 3]!));
      }
      const b0 = this.buffer[0]!;
      this.buffer = this.buffer.subarray(offset + maskBytes + len);
      this.onFrame(b0 & 0x0f, (b0 & 0x80) !== 0, payload);
    }
    this.notify();
  }

  private onFrame(opcode: number, fin: boolean, payload: Buffer): void {
    if (opcode === 0x8) {
      this.observed.close ??= {
        code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005,
        reason: payload.subarray(2).toString('utf8'),
        atMs: this.now(),
      };
      return;
    }
    if (opcode === 0x9) return void this.send(0xa, payload); // protocol ping: answer as endpoints do
    if (opcode >= 0x8) return;
    this.fragments.push(payload);
    if (!fin) return;
    this.observed.messages.push(this.fragments.reduce((n, f) => n + f.length, 0));
    this.fragments = [];
  }

  send(opcode: number, payload: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame(opcode, payload, this.masked));
  }

  sendText(text: string): void {
    this.send(0x1, Buffer.from(text, 'utf8'));
  }

  /** Ends the connection as scripted. */
  end(ending: Ending, code = 1012, reason = 'scripted end'): void {
    const socket = this.socket;
    switch (ending) {
      case 'handshake':
        this.send(0x8, closePayload(code, reason));
        void this.until((o) => o.close !== undefined, 'the answering Close', 60_000).then(() => socket.end(), () => socket.destroy());
        return;
      case 'close-then-drop':
        this.send(0x8, closePayload(code, reason));
        socket.destroy();
        return;
      case 'drop':
        socket.destroy();
        return;
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'large-then-close-drop':
        this.send(0x2, randomBytes(LARGE_BYTES));
        this.send(0x8, closePayload(code, reason));
        socket.end(); // flush the message and the Close, then FIN (closing at once, without waiting)
        return;
      case 'drop-mid-large': {
        const whole = frame(0x2, randomBytes(LARGE_BYTES), this.masked);
        socket.write(whole.subarray(0, whole.length >> 1));
        socket.end();
        return;
      }
    }
  }

  /** Answers the peer's Close (as an endpoint whose event loop was busy, later). */
  answerClose(): void {
    const close = this.observed.close;
    this.send(0x8, close && close.code !== 1005 ? closePayload(close.code, '') : Buffer.alloc(0));
    if (!this.masked) this.socket.end(); // a server closes TCP after the handshake; a client waits for it
  }
}

/**
 * A scripted WebSocket server: each connection's path is handed to `onConnection` with its raw
 * connection (no extensions, no subprotocol), so a test decides what happens.
 */
export async function startRawServer(onConnection: (conn: RawConnection, path: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    onConnection(new RawConnection(socket, false, head), req.url ?? '/');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A scripted WebSocket client: resolves once the upgrade succeeded (rejects on any other answer). */
export function rawClientConnect(url: string, path: string): Promise<RawConnection> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: target.hostname,
      port: target.port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (_res, socket: net.Socket, head: Buffer) => resolve(new RawConnection(socket, true, head)));
    req.on('response', (res) => {
      res.resume();
      reject(new Error(`upgrade answered with HTTP ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end();
  });
}
