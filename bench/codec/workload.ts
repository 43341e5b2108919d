// M1 workloads built from the captured corpus: the corpus as captured, and a steady state of small
// messages where every call carries a fresh session id (same length, so the msgpack stays valid).
import { Decoder } from '@msgpack/msgpack';
import { loadCorpus, type CorpusRecord } from '../../test/fixtures/corpus.js';

export interface Workload {
  name: string;
  dir: 'c2s' | 's2c';
  messages: Uint8Array[];
}

export const SMALL_MESSAGE_BYTES = 4096;
/** the link's default maxFrameBytes: larger messages travel fragmented and raw */
export const LINK_FRAME_BYTES = 64 * 1024;

function sessionIds(rec: CorpusRecord): string[] {
  const ids = new Set<string>();
  try {
    const [main] = new Decoder({ useBigInt64: true }).decodeMulti(rec.bytes) as Iterable<Record<string, unknown>>;
    for (const k of ['session', 'parent']) if (typeof main?.[k] === 'string') ids.add(main[k] as string);
    const m = main?.method;
    if (typeof m === 'string' && /\.(resolve|reject|heartbeat)$/.test(m)) ids.add(m.slice(0, m.lastIndexOf('.')));
  } catch { /* not msgpack: keep as is */ }
  return [...ids];
}

function replaceAll(bytes: Uint8Array, from: Buffer, to: Buffer): Uint8Array {
  const b = Buffer.from(bytes);
  let i = b.indexOf(from);
  while (i >= 0) { to.copy(b, i); i = b.indexOf(from, i + to.length); }
  return new Uint8Array(b);
}

/** deterministic pseudo-random id of the same length and alphabet class */
function freshId(len: number, seed: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let x = (seed * 2654435761) >>> 0;
  let s = '';
  for (let i = 0; i < len; i++) { x = (x * 1103515245 + 12345) >>> 0; s += alphabet[(x >>> 16) % alphabet.length]; }
  return s;
}

export function buildWorkloads(rounds: number): Workload[] {
  const corpus = loadCorpus(process.env.M1_CORPUS || undefined).filter((r) => r.opcode === 2);
  const out: Workload[] = [];
  for (const dir of ['c2s', 's2c'] as const) {
    const recs = corpus.filter((r) => (r.dir === 0) === (dir === 'c2s'));
    out.push({ name: 'corpus', dir, messages: recs.map((r) => r.bytes) });
    // what the link transcodes by default: whole messages that fit one frame (maxFrameBytes 64 KiB)
    out.push({ name: 'corpus-frame', dir, messages: recs.filter((r) => r.bytes.length <= LINK_FRAME_BYTES).map((r) => r.bytes) });
    // steady state: the small messages (after each connection's handshake) replayed `rounds` times
    const small = recs.filter((r) => r.bytes.length <= SMALL_MESSAGE_BYTES);
    const ids = small.map(sessionIds);
    const msgs: Uint8Array[] = [];
    for (let round = 0; round < rounds; round++) {
      small.forEach((r, i) => {
        let bytes = r.bytes;
        for (const id of ids[i]!) {
          bytes = replaceAll(bytes, Buffer.from(id), Buffer.from(freshId(id.length, round * 100_003 + id.length * 7 + hash(id))));
        }
        msgs.push(bytes);
      });
    }
    out.push({ name: 'steady-small', dir, messages: msgs });
  }
  return out;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h;
}
