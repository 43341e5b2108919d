// Hypha-shaped calls and replies for the start-up warm-up (src/warm-up/loopback-warm-up.ts): the two msgpack
// segments hypha clients send (test/fixtures/corpus*), a main map (type, from, to, method, session or parent;
// server-forwarded ones add ws and user) followed by an extra map (args, promise).
import { encode } from '@msgpack/msgpack';

/** `calls` calls, each followed by its reply (`<session>.resolve`): call i at index 2i, its reply at 2i + 1. */
export function hyphaMessages(calls: number): Buffer[] {
  const out: Buffer[] = [];
  const caller = 'ws-user-anonymouz-kiwi-thrill-30155730/py-caller';
  const callee = 'ws-user-anonymouz-rambunctious-astrodon-51173830/js-svc';
  let seed = 0x2545f491;
  for (let i = 0; i < calls; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const session = sessionId(seed);
    const forwarded = (i & 1) === 1; // as the server hands it on: with ws and user
    const call = { type: 'method', from: caller, to: callee, method: i % 3 === 0 ? 'services.js-svc.echo' : 'services.js-svc.add', session, ...(forwarded ? userFields(caller) : {}) };
    out.push(twoSegments(call, { args: [i & 0xffff, `payload ${i % 97}`], promise: '*', t: 15 }));
    const reply = { type: 'method', from: callee, to: caller, method: `${session}.resolve`, parent: session, ...(forwarded ? userFields(callee) : {}) };
    out.push(twoSegments(reply, { args: [i % 4 === 0 ? null : { i: i & 0x7f, text: 'hello from js', f: i / 8 }] }));
  }
  return out;
}

/**
 * The main map and the extra map, one after the other, as a Buffer (what sockets and ws hand on: a plain
 * Uint8Array would train the proxies' inline caches on a map real traffic never has).
 */
function twoSegments(main: object, extra: object): Buffer {
  return Buffer.concat([encode(main), encode(extra)]);
}

function userFields(client: string): { ws: string; user: object } {
  const ws = client.slice(0, client.indexOf('/'));
  return { ws, user: { id: ws.slice(8), roles: ['anonymous'], is_anonymous: true, expires_at: 1795869310 } };
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
