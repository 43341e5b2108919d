// Start-up warm-up: before a role listens, runs a few thousand hypha-shaped calls and replies through
// throwaway instances of the per-message code (envelope scan, codec, link frame batching and reading, the
// link's deflate stream), so V8 has compiled and optimised it before the first real message. A young pair
// cost about twice a warm one per message (bench/results notes of held19, jit18, warm17), and short checks
// only ever see young pairs. Nothing here touches a live link's tables, streams or stats.
import { createLinkCodec } from '../codec/link-codec.js';
import { decodeFrame, encodeFrame, DataFlag, FrameClass, FrameType, type FrameHeader } from '../link/frame.js';
import { FrameBatch, type LinkFraming } from '../link/frame-batch.js';
import { FrameReader } from '../link/frame-reader.js';
import { StreamDeflateCompressor } from '../link/stream-deflate-compressor.js';
import { EnvelopeSpans, scanEnvelope } from '../observe/hypha-envelope.js';

export interface WarmUpOptions {
  /** Calls to run (each a call message and its reply). */
  calls: number;
  /** Also run the link's deflate stream (only when linkCompression may be on). */
  compression: boolean;
  /** The link's frame bound (the readers refuse larger frames). */
  maxFrameBytes: number;
}

export interface WarmUpResult {
  messages: number;
  /** CPU time of the process (user + system) and wall time spent, in ms. */
  cpuMs: number;
  wallMs: number;
}

/** Frames per simulated event-loop turn (what one batch carries). */
const FRAMES_PER_TURN = 8;
/** Messages also run through the deflate stream: pako is the dearest part, and warms within a few hundred. */
const DEFLATE_MESSAGES = 400;
/** Calls the roles run at start: ~100-150 ms of CPU on the shared 2-core bench host (bench/results, warm20). */
export const WARM_UP_CALLS = 600;
const noop = () => {};

export function warmUp(options: WarmUpOptions): WarmUpResult {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const messages = hyphaMessages(options.calls);
  const spans = new EnvelopeSpans();
  const framings: LinkFraming[] = ['varint', 'u32'];
  // one sending and one receiving end per framing: a codec's decoder must see its encoder's order
  const pipes = framings.map((framing) => ({
    sender: createLinkCodec({ maxMessageBytes: options.maxFrameBytes }),
    receiver: createLinkCodec({ maxMessageBytes: options.maxFrameBytes }),
    batch: new FrameBatch(framing),
    reader: new FrameReader(options.maxFrameBytes, framing, true),
  }));
  const deflate = options.compression ? [newCompressor(), newCompressor()] as const : undefined;
  let received = 0;
  const onFrames = pipes.map((pipe) => (bytes: Uint8Array) => {
    const frame = decodeFrame(bytes, options.maxFrameBytes);
    if (frame.type === FrameType.DATA) received += pipe.receiver.decode(frame.payload, false).length;
  });
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    scanEnvelope(message, spans, true);
    const pipe = pipes[i & 1]!;
    const compact = pipe.sender.encode(message, false) ?? message;
    // the key order and `trace` as link-session.ts builds headers: the same hidden class, so no new IC shape
    const header: FrameHeader = { type: FrameType.DATA, flags: DataFlag.FIN | DataFlag.CODEC, frameClass: FrameClass.RPC, streamId: 1 + (i & 63), seq: i >>> 6, trace: undefined };
    pipe.batch.push(header, compact, noop);
    if (deflate && i < DEFLATE_MESSAGES) {
      // with the deflate stream on, the link sends messages without the codec (link-setup.ts codecWanted)
      const frame = encodeFrame({ ...header, flags: DataFlag.FIN, payload: message });
      pending.push(frame);
      pendingBytes += 4 + frame.length;
    }
    if (i % FRAMES_PER_TURN !== FRAMES_PER_TURN - 1) continue;
    for (let p = 0; p < pipes.length; p++) {
      for (const chunk of pipes[p]!.batch.take().chunks) pipes[p]!.reader.push(chunk, onFrames[p]!);
    }
    if (deflate && pending.length > 0) {
      const wire = deflate[0].compressBatch(pending, pendingBytes);
      for (const frame of deflate[1].decompress(wire)) decodeFrame(frame, options.maxFrameBytes);
      pending.length = 0;
      pendingBytes = 0;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  // `received` keeps the decode from being dead code; a mismatch would mean the codec lost bytes.
  if (received === 0) throw new Error('warm-up decoded nothing');
  return { messages: messages.length, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0 };
}

function newCompressor(): StreamDeflateCompressor {
  const stats = { linkMessagesCompressed: 0, linkCompressRawBytes: 0, linkCompressWireBytes: 0 };
  return new StreamDeflateCompressor({ mode: 'on', stats, linkBytesPerUs: () => undefined, maxLinkBytesPerUs: 0, seqDelta: true });
}

/**
 * Calls and replies in the shapes hypha clients send (test/fixtures/corpus*): a main map (type, from, to,
 * method, session or parent; server-forwarded ones add ws and user) followed by an extra map (args, promise).
 */
export function hyphaMessages(calls: number): Buffer[] {
  const w = new MsgpackWriter();
  const out: Buffer[] = [];
  const caller = 'ws-user-anonymouz-kiwi-thrill-30155730/py-caller';
  const callee = 'ws-user-anonymouz-rambunctious-astrodon-51173830/js-svc';
  let seed = 0x2545f491;
  for (let i = 0; i < calls; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const session = sessionId(seed);
    const forwarded = (i & 1) === 1; // as the server hands it on: with ws and user
    // call
    w.mapHeader(forwarded ? 7 : 5);
    w.str('type'); w.str('method');
    w.str('from'); w.str(caller);
    w.str('to'); w.str(callee);
    w.str('method'); w.str(i % 3 === 0 ? 'services.js-svc.echo' : 'services.js-svc.add');
    w.str('session'); w.str(session);
    if (forwarded) userFields(w, caller);
    w.mapHeader(3);
    w.str('args'); w.arrayHeader(2); w.int(i & 0xffff); w.str(`payload ${i % 97}`);
    w.str('promise'); w.str('*');
    w.str('t'); w.int(15);
    out.push(w.take());
    // reply
    w.mapHeader(forwarded ? 7 : 5);
    w.str('type'); w.str('method');
    w.str('from'); w.str(callee);
    w.str('to'); w.str(caller);
    w.str('method'); w.str(`${session}.resolve`);
    w.str('parent'); w.str(session);
    if (forwarded) userFields(w, callee);
    w.mapHeader(1);
    w.str('args'); w.arrayHeader(1);
    if (i % 4 === 0) w.nil();
    else {
      w.mapHeader(3);
      w.str('i'); w.int(i & 0x7f);
      w.str('text'); w.str('hello from js');
      w.str('f'); w.float(i / 8);
    }
    out.push(w.take());
  }
  return out;
}

function userFields(w: MsgpackWriter, client: string): void {
  const ws = client.slice(0, client.indexOf('/'));
  w.str('ws'); w.str(ws);
  w.str('user');
  w.mapHeader(4);
  w.str('id'); w.str(ws.slice(8));
  w.str('roles'); w.arrayHeader(1); w.str('anonymous');
  w.str('is_anonymous'); w.bool(true);
  w.str('expires_at'); w.int(1795869310);
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function sessionId(seed: number): string {
  let s = '';
  let x = seed;
  for (let i = 0; i < 22; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    s += ID_CHARS[x % ID_CHARS.length];
  }
  return s;
}

/** The few msgpack forms the warm-up messages use (strings are ASCII). */
class MsgpackWriter {
  private buf = Buffer.allocUnsafe(1024);
  private pos = 0;

  /** A Buffer, as sockets and ws hand messages on: a plain Uint8Array would train the ICs on a map real traffic never has. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }

  mapHeader(n: number): void {
    this.room(1);
    this.buf[this.pos++] = 0x80 | n;
  }

  arrayHeader(n: number): void {
    this.room(1);
    this.buf[this.pos++] = 0x90 | n;
  }

  str(s: string): void {
    this.room(2 + s.length);
    if (s.length < 32) this.buf[this.pos++] = 0xa0 | s.length;
    else {
      this.buf[this.pos++] = 0xd9;
      this.buf[this.pos++] = s.length;
    }
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  int(n: number): void {
    this.room(5);
    if (n < 128) this.buf[this.pos++] = n;
    else {
      this.buf[this.pos++] = 0xce;
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  float(n: number): void {
    this.room(9);
    this.buf[this.pos++] = 0xcb;
    this.buf.writeDoubleBE(n, this.pos);
    this.pos += 8;
  }

  bool(b: boolean): void {
    this.room(1);
    this.buf[this.pos++] = b ? 0xc3 : 0xc2;
  }

  nil(): void {
    this.room(1);
    this.buf[this.pos++] = 0xc0;
  }

  private room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
