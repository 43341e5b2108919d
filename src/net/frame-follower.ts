// Follows the frames of one direction of a spliced WebSocket, whose bytes pass on unchanged and are never
// parsed by ws: where each frame starts and ends (so the splice can stop at a boundary and write a Close
// of its own), how large each message grows (maxMessageBytes: 1009, as ws would close), and each message's
// head for observers (a copy, unmasked, of at most `headBytes`). Pure: no sockets.
import { unmaskInPlace } from './ws-mask.js';
import { frameHeaderBytes, newFrameHeader, readFrameHeader } from './ws-frame-header.js';

export interface FollowerOptions {
  maxMessageBytes: number;
  /** Heads are copied up to this many bytes (observers see the head of a large message, never all of it). */
  headBytes: number;
  /**
   * A message's head, unmasked: all of it (`bytes` undefined), or its first `headBytes` with `bytes` its
   * length (for a message sent in several frames, a lower bound: what had arrived when the head was full).
   * Not called while `wantsHeads()` answers false at the message's first frame.
   */
  onMessageHead?(head: Buffer, isBinary: boolean, bytes: number | undefined): void;
  wantsHeads?(): boolean;
}

export class FrameFollower {
  /**
   * Set when a frame broke a limit: nothing from its header on may be passed on. `cleanCut`: false when
   * part of that header was in an earlier chunk (already passed on), so the stream is broken mid-frame.
   */
  failure: { code: 1009; reason: string; cleanCut: boolean } | undefined;
  /** Set once a stop was asked and a frame boundary reached: nothing after it may be passed on. */
  stopped = false;
  private stopAsked = false;
  private readonly header = Buffer.alloc(14);
  private headerHave = 0;
  private readonly fields = newFrameHeader();
  /** Payload bytes of the current frame still to come. */
  private remainingBytes = 0;
  private isControl = false;
  private masked = false;
  private readonly mask = Buffer.alloc(4);
  private readonly rotatedMask = Buffer.alloc(4);
  private maskOffset = 0;
  /** Data bytes of the message in progress so far (across its frames). */
  private messageBytes = 0;
  private messageBinary = false;
  private messageFinal = false;
  /** The head being copied, while the message is observed and its head not yet handed on. */
  private head: Buffer | undefined;
  private headHave = 0;

  constructor(private readonly options: FollowerOptions) {}

  /** Between frames (no header or payload half read): a frame of our own may be written now. */
  get atBoundary(): boolean {
    return this.remainingBytes === 0 && this.headerHave === 0;
  }

  /** Stop at the next frame boundary (now, when at one). */
  stopAtBoundary(): void {
    this.stopAsked = true;
    if (this.atBoundary) this.stopped = true;
  }

  /** Follows `chunk`; returns how many of its bytes may be passed on (all, unless `failure` or `stopped` cut it). */
  follow(chunk: Buffer): number {
    if (this.failure || this.stopped) return 0;
    const length = chunk.length;
    let at = 0;
    while (at < length) {
      if (this.remainingBytes > 0) {
        const step = Math.min(this.remainingBytes, length - at);
        if (this.head && !this.isControl) this.copyHead(chunk, at, step);
        this.maskOffset = (this.maskOffset + step) & 3;
        at += step;
        this.remainingBytes -= step;
        if (this.remainingBytes === 0) this.endFrame();
        continue;
      }
      if (this.headerHave === 0 && this.stopAsked) {
        this.stopped = true;
        return at;
      }
      const headerStart = at - this.headerHave;
      let whole = false;
      while (!whole && at < length) {
        this.header[this.headerHave++] = chunk[at++]!;
        whole = this.headerHave >= 2 && this.headerHave === frameHeaderBytes(this.header[1]!);
      }
      if (!whole) return at; // the rest of the header comes later
      this.headerHave = 0;
      if (!this.startFrame()) {
        this.failure!.cleanCut = headerStart >= 0;
        return Math.max(headerStart, 0);
      }
    }
    return at;
  }

  /** A whole header is in: false when the frame breaks the size limit. */
  private startFrame(): boolean {
    const { fin, opcode, masked, payloadBytes, maskAt } = readFrameHeader(this.header, this.fields);
    this.isControl = opcode >= 8;
    this.masked = masked;
    if (masked) this.header.copy(this.mask, 0, maskAt, maskAt + 4);
    this.maskOffset = 0;
    if (!this.isControl) {
      if (opcode !== 0) this.startMessage(opcode === 2);
      this.messageBytes += payloadBytes;
      this.messageFinal = fin;
      if (this.messageBytes > this.options.maxMessageBytes) {
        this.failure = { code: 1009, reason: 'message too large', cleanCut: true };
        return false;
      }
    }
    this.remainingBytes = payloadBytes;
    if (payloadBytes === 0) this.endFrame();
    return true;
  }

  private startMessage(isBinary: boolean): void {
    this.messageBytes = 0;
    this.messageBinary = isBinary;
    this.headHave = 0;
    this.head = this.options.onMessageHead && this.options.wantsHeads?.() !== false ? Buffer.allocUnsafe(this.options.headBytes) : undefined;
  }

  private copyHead(chunk: Buffer, at: number, step: number): void {
    const head = this.head!;
    const take = Math.min(step, head.length - this.headHave);
    if (take > 0) {
      const piece = head.subarray(this.headHave, this.headHave + take);
      chunk.copy(piece, 0, at, at + take);
      if (this.masked) unmaskInPlace(piece, this.mask, this.maskOffset, this.rotatedMask);
      this.headHave += take;
    }
    if (this.headHave === head.length && this.remainingBytes > step) this.handHeadOn(); // full, more to come
  }

  private endFrame(): void {
    if (this.isControl || !this.head) return;
    if (this.messageFinal || this.headHave === this.head.length) this.handHeadOn();
  }

  private handHeadOn(): void {
    const head = this.head!;
    this.head = undefined;
    const whole = this.messageFinal && this.remainingBytes === 0 && this.headHave === this.messageBytes;
    this.options.onMessageHead!(head.subarray(0, this.headHave), this.messageBinary, whole ? undefined : this.messageBytes);
  }
}
