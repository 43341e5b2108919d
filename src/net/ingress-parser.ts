// Frame boundaries of an endpoint WebSocket's incoming bytes, ahead of ws's own receiver: large binary
// messages a sink wants are taken frame by frame as their bytes arrive (unmasked in place, handed on as
// views), and small binary messages that arrive whole in one read are handed on at once; every other byte
// is passed to ws unchanged, so ws still owns text, control frames, fragmented messages and errors.
// Pure: no sockets; src/net/ingress-tap.ts wires it to a `ws` WebSocket.
import { unmaskInPlace } from './ws-mask.js';
import { frameHeaderBytes, newFrameHeader, readFrameHeader } from './ws-frame-header.js';

/** Where a taken message goes. */
export interface IngressSink {
  /** A binary message starts with a frame of `frameBytes` (`final`: the whole message). Take it piece by piece? */
  wants(frameBytes: number, final: boolean): boolean;
  /** The next bytes of a taken message, a view of the read buffer (a socket never reuses it); `fin` on the last. */
  piece(data: Buffer, fin: boolean): void;
  /**
   * Optional: a binary message of at most IngressOptions.wholeMessageBytes that came in one frame within one
   * read, unmasked in place, a view of the read buffer. Without it such messages go through ws.
   */
  message?(data: Buffer): void;
}

export interface IngressOutput {
  /** Bytes for ws's receiver, in order. */
  pass(bytes: Buffer): void;
  /** A taken message broke the protocol: close with this code (1002, or 1009 when too large). No more bytes follow. */
  fail(code: 1002 | 1009, reason: string): void;
  /** Optional: false once ws has refused bytes it was passed (it reads no more, so nothing after them is handed on). */
  reading?(): boolean;
}

export interface IngressOptions {
  /** Frames from a client must be masked, frames from a server must not (RFC 6455 §5.1). */
  isServer: boolean;
  /** A taken message larger than this fails with 1009 (checked before any of its bytes are handed on). */
  maxMessageBytes: number;
  /** Binary messages up to this size that arrive whole within one read go to IngressSink.message (0: none). */
  wholeMessageBytes?: number;
}

const enum State { HEADER, PASS, TAKE, CLOSED, FAILED }

export class IngressParser {
  sink: IngressSink | undefined;
  private state = State.HEADER;
  private readonly header = Buffer.alloc(14);
  private readonly fields = newFrameHeader();
  private headerHave = 0;
  private remainingBytes = 0;
  private frameFin = false;
  private readonly mask = Buffer.alloc(4);
  private readonly rotatedMask = Buffer.alloc(4);
  private masked = false;
  private maskOffset = 0;
  /** Inside a message this parser takes (first frame seen, final frame not yet). */
  private taking = false;
  private takenBytes = 0;
  /** Inside a fragmented message that ws receives. */
  private wsFragmented = false;
  private failure: { code: 1002 | 1009; reason: string } = { code: 1002, reason: '' };

  constructor(private readonly options: IngressOptions, private readonly out: IngressOutput) {}

  write(chunk: Buffer): void {
    const length = chunk.length;
    let at = 0;
    let passFrom = 0; // chunk bytes from here on go to ws unless a taken frame starts
    while (at < length) {
      const state = this.state;
      if (state === State.PASS) {
        const step = Math.min(this.remainingBytes, length - at);
        at += step;
        this.remainingBytes -= step;
        if (this.remainingBytes === 0) this.state = State.HEADER;
      } else if (state === State.TAKE) {
        const step = Math.min(this.remainingBytes, length - at);
        const piece = chunk.subarray(at, at + step);
        if (this.masked) unmaskInPlace(piece, this.mask, this.maskOffset, this.rotatedMask);
        this.maskOffset = (this.maskOffset + step) & 3;
        at += step;
        passFrom = at;
        this.remainingBytes -= step;
        if (this.remainingBytes === 0) this.endTakenFrame(piece);
        else this.sink?.piece(piece, false);
      } else if (state === State.HEADER) {
        const headerStart = at;
        const heldBefore = this.headerHave; // header bytes held from earlier chunks (never passed yet)
        at = this.readHeader(chunk, at);
        if (this.headerHave > 0) {
          // Incomplete at the chunk's end: this chunk's part of it is held back with the rest.
          if (headerStart > passFrom) this.out.pass(chunk.subarray(passFrom, headerStart));
          return;
        }
        const wholeBytes = heldBefore === 0 ? this.wholeMessage(length - at) : -1;
        if (wholeBytes >= 0) {
          // A small binary message, all of it in this read: handed on whole, ws's per-message work skipped.
          if (headerStart > passFrom) this.out.pass(chunk.subarray(passFrom, headerStart));
          const data = chunk.subarray(at, at + wholeBytes);
          at += wholeBytes;
          passFrom = at;
          if (this.header[1] & 0x80) {
            const maskAt = (this.header[1] & 0x7f) === 126 ? 4 : 2; // wholeMessage() takes no 64-bit lengths
            unmaskInPlace(data, this.header.subarray(maskAt, maskAt + 4), 0, this.rotatedMask);
          }
          if (this.out.reading?.() === false) return;
          this.sink!.message!(data);
          continue;
        }
        const decision = this.decide();
        if (decision === State.PASS || decision === State.CLOSED) {
          if (heldBefore > 0) this.out.pass(Buffer.from(this.header.subarray(0, heldBefore)));
          continue;
        }
        if (headerStart > passFrom) this.out.pass(chunk.subarray(passFrom, headerStart));
        passFrom = at;
        if (decision === State.FAILED) return this.out.fail(this.failure.code, this.failure.reason);
        if (this.remainingBytes === 0) this.endTakenFrame(EMPTY);
      } else if (state === State.CLOSED) {
        at = length;
      } else {
        return; // FAILED: nothing more is read
      }
    }
    if (at > passFrom) this.out.pass(chunk.subarray(passFrom, at));
  }

  /** The last bytes of a taken frame (possibly none); the message ends with it when the frame was final. */
  private endTakenFrame(piece: Buffer): void {
    this.state = State.HEADER;
    const fin = this.frameFin;
    if (fin) this.taking = false;
    if (piece.length > 0 || fin) this.sink?.piece(piece, fin);
  }

  /** Copies header bytes; returns the new offset. headerHave is 0 again once a whole header is in. */
  private readHeader(chunk: Buffer, at: number): number {
    const header = this.header;
    while (at < chunk.length) {
      header[this.headerHave++] = chunk[at++];
      const need = this.headerBytesNeeded();
      if (need !== 0 && this.headerHave === need) {
        this.headerHave = 0;
        return at;
      }
    }
    return at;
  }

  private headerBytesNeeded(): number {
    return this.headerHave < 2 ? 0 : frameHeaderBytes(this.header[1]);
  }

  /**
   * A whole header is in `this.header`: the payload length when the frame is a whole binary message for
   * IngressSink.message with all its `available` bytes in this read, else -1 (the frame goes on to decide()).
   */
  private wholeMessage(available: number): number {
    const limit = this.options.wholeMessageBytes ?? 0;
    if (limit === 0 || this.taking || this.wsFragmented || !this.sink?.message) return -1;
    const header = this.header;
    if (header[0] !== 0x82) return -1; // FIN, no RSV bits, binary
    const masked = (header[1] & 0x80) !== 0;
    if (masked !== this.options.isServer) return -1;
    const lengthCode = header[1] & 0x7f;
    const frameBytes = lengthCode < 126 ? lengthCode : lengthCode === 126 ? header.readUInt16BE(2) : -1;
    if (frameBytes < 0 || frameBytes > limit || frameBytes > available || frameBytes > this.options.maxMessageBytes) return -1;
    return frameBytes;
  }

  /** A whole header is in `this.header`: pass the frame to ws, take it, or fail. Sets the state. */
  private decide(): State {
    const header = this.header;
    const { fin, rsv, opcode, masked, payloadBytes: frameBytes, maskAt } = readFrameHeader(header, this.fields);
    const maskOk = masked === this.options.isServer;
    if (this.taking) {
      if (opcode >= 8) return this.pass(frameBytes, opcode);
      if (opcode !== 0 || rsv !== 0 || !maskOk) return this.failWith(1002, 'invalid frame inside a fragmented message');
      if (this.takenBytes + frameBytes > this.options.maxMessageBytes) return this.failWith(1009, 'message too large');
    } else {
      const wanted = opcode === 2 && rsv === 0 && maskOk && !this.wsFragmented && frameBytes <= this.options.maxMessageBytes
        && this.sink !== undefined && this.sink.wants(frameBytes, fin);
      if (!wanted) {
        if (opcode === 1 || opcode === 2) this.wsFragmented = !fin;
        else if (opcode === 0 && fin) this.wsFragmented = false;
        return this.pass(frameBytes, opcode);
      }
      this.taking = true;
      this.takenBytes = 0;
    }
    this.takenBytes += frameBytes;
    this.frameFin = fin;
    this.masked = masked;
    if (masked) header.copy(this.mask, 0, maskAt, maskAt + 4);
    this.maskOffset = 0;
    this.remainingBytes = frameBytes;
    this.state = State.TAKE;
    return State.TAKE;
  }

  private pass(frameBytes: number, opcode: number): State {
    // ws checks what it is given (lengths, masks, control frames); a close ends what this parser reads.
    if (opcode === 8 || frameBytes === Infinity) {
      this.state = State.CLOSED;
      return State.CLOSED;
    }
    this.remainingBytes = frameBytes;
    this.state = frameBytes === 0 ? State.HEADER : State.PASS;
    return State.PASS;
  }

  private failWith(code: 1002 | 1009, reason: string): State {
    this.state = State.FAILED;
    this.taking = false;
    this.failure = { code, reason };
    return State.FAILED;
  }
}

const EMPTY = Buffer.alloc(0);
