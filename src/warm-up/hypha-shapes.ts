// Hypha-shaped calls and replies for the start-up warm-up (src/warm-up/loopback-warm-up.ts): the two msgpack
// segments hypha clients send (test/fixtures/corpus*), a main map (type, from, to, method, session or parent;
// server-forwarded ones add ws and user) followed by an extra map (args, promise).

/** `calls` calls, each followed by its reply (`<session>.resolve`): call i at index 2i, its reply at 2i + 1. */
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
