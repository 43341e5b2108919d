// Follows the tcp:// link framing (docs/protocol.md §1) through a byte stream as it passes the fault proxy,
// so a fault can aim at one field of chosen frames: the HTTP upgrade head, then `u32 length || frame`
// repeatedly (a compressed message, first byte 0xC5, is framed the same way), or with compact framing
// (varint-v1) `varint(length × 2 + tagged) || body`, where a compressed message's tag is left off the wire.
// Compact framing is read from each side's own head: the edge's offer (request) and the gateway's 101
// (response); a gateway of this version accepts every offer, so the two agree. Compressed messages are never
// aimed at. A connection whose head is not a link upgrade (request) or not 101 (response) is left alone.
export type Aim = (frameType: number) => { offset: number; xor: number } | undefined;

const MAX_HEAD_CHARS = 16 * 1024;

export class LinkFrameCursor {
  private state: 'head' | 'length' | 'frame' | 'inert' = 'head';
  private head = '';
  private compact = false;
  private tagged = false;
  private lengthBytes = 0;
  private length = 0;
  private frameLeft = 0;
  private frameOffset = 0;
  private target: { offset: number; xor: number } | undefined;
  /** Whole frames (messages) seen after the head. */
  frames = 0;

  constructor(private readonly side: 'request' | 'response') {}

  /** Walks `data` (the next bytes of the stream); `aim` may choose a byte of each new frame to flip in place. */
  walk(data: Buffer, aim?: Aim): void {
    let i = 0;
    while (i < data.length) {
      if (this.state === 'inert') return;
      if (this.state === 'head') {
        const before = this.head.length;
        this.head += data.toString('latin1', i);
        const end = this.head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.head.length > MAX_HEAD_CHARS) this.state = 'inert';
          return;
        }
        const head = this.head.slice(0, end);
        const isLink = this.side === 'request' ? /\r\nupgrade:[ \t]*hypha-accel-link/i.test(head) : /^HTTP\/1\.1 101 /.test(head);
        this.compact = /\r\nhypha-accel-link-framing:[ \t]*varint-v1/i.test(head);
        i += end + 4 - before;
        this.head = '';
        this.state = isLink ? 'length' : 'inert';
      } else if (this.state === 'length') {
        const byte = data[i++]!;
        if (this.compact) {
          this.length += (byte & 0x7f) * 2 ** (7 * this.lengthBytes++);
          if (byte & 0x80) continue;
          this.tagged = this.length % 2 === 1;
          this.length = Math.floor(this.length / 2);
        } else {
          this.length = this.length * 256 + byte;
          if (++this.lengthBytes < 4) continue;
          this.tagged = false;
        }
        this.frameLeft = this.length;
        this.frameOffset = 0;
        this.lengthBytes = 0;
        this.length = 0;
        this.target = undefined;
        this.frames++;
        if (this.frameLeft > 0) this.state = 'frame';
      } else {
        if (this.frameOffset === 0) this.target = this.tagged ? undefined : aim?.(data[i]!);
        const span = Math.min(this.frameLeft, data.length - i);
        const target = this.target;
        if (target && target.offset >= this.frameOffset && target.offset < this.frameOffset + span) data[i + target.offset - this.frameOffset]! ^= target.xor;
        i += span;
        this.frameOffset += span;
        this.frameLeft -= span;
        if (this.frameLeft === 0) this.state = 'length';
      }
    }
  }
}
