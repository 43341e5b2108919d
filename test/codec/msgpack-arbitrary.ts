// fast-check generators of raw msgpack bytes covering every format, with random non-minimal
// encodings (a small int as uint32, a short string as str16, a small map as map32), and hypha-like
// packages: main || extra || trailing bytes, drawing strings from a small pool so tables get hits.
import fc from 'fast-check';

const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const u8 = (...b: number[]) => Uint8Array.from(b);
const be = (v: number, bytes: number): Uint8Array => {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--) { out[i] = v & 0xff; v = Math.floor(v / 256); }
  return out;
};

/** header of a str/bin/array/map of length n; `pick` chooses among the formats that can hold n */
function lenHeader(kind: 'str' | 'bin' | 'arr' | 'map', n: number, pick: number): Uint8Array {
  const opts: Uint8Array[] = [];
  if (kind === 'str') {
    if (n < 32) opts.push(u8(0xa0 | n));
    if (n < 256) opts.push(u8(0xd9, n));
    if (n < 65536) opts.push(cat(u8(0xda), be(n, 2)));
    opts.push(cat(u8(0xdb), be(n, 4)));
  } else if (kind === 'bin') {
    if (n < 256) opts.push(u8(0xc4, n));
    if (n < 65536) opts.push(cat(u8(0xc5), be(n, 2)));
    opts.push(cat(u8(0xc6), be(n, 4)));
  } else {
    if (n < 16) opts.push(u8((kind === 'arr' ? 0x90 : 0x80) | n));
    if (n < 65536) opts.push(cat(u8(kind === 'arr' ? 0xdc : 0xde), be(n, 2)));
    opts.push(cat(u8(kind === 'arr' ? 0xdd : 0xdf), be(n, 4)));
  }
  return opts[pick % opts.length]!;
}

const intBytes = fc.oneof(
  fc.integer({ min: 0, max: 127 }).map((v) => u8(v)),
  fc.integer({ min: -32, max: -1 }).map((v) => u8(v & 0xff)),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat()).map(([w, v]) => cat(u8(0xcc + w), be(v, 1 << w))),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat()).map(([w, v]) => cat(u8(0xd0 + w), be(v, 1 << w))),
);
const floatBytes = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => cat(u8(0xca), b)),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => cat(u8(0xcb), b)),
);
const extBytes = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: -128, max: 127 }), fc.uint8Array({ maxLength: 40 }))
  .map(([f, type, data]) => {
    const ty = u8(type & 0xff);
    const fixed = [1, 2, 4, 8, 16];
    if (f < 5) return cat(u8(0xd4 + f), ty, new Uint8Array(fixed[f]!).map((_, i) => data[i] ?? i));
    if (f === 5) return cat(u8(0xc7, data.length), ty, data);
    if (f === 6) return cat(u8(0xc8), be(data.length, 2), ty, data);
    return cat(u8(0xc9), be(data.length, 4), ty, data);
  });
const timestamp = fc.nat().map((s) => cat(u8(0xd6, 0xff), be(s, 4)));

const POOL = ['type', 'method', 'from', 'to', 'session', 'args', 'promise', '*', 'ws-user-a/js-client',
  'abc123.resolve', 'abc123', 'services.echo.echo', 'x.y.z', '.', 'a.', '.b', 'héllo wörld ✓', ''];
const strText = fc.oneof(fc.constantFrom(...POOL), fc.string({ maxLength: 40 }), fc.string({ minLength: 200, maxLength: 400 }));
const strBytes = fc.tuple(strText, fc.nat()).map(([s, pick]) => {
  const b = Buffer.from(s, 'utf8');
  return cat(lenHeader('str', b.length, pick % 5 === 0 ? pick : 0), b);
});
const binBytes = fc.tuple(fc.uint8Array({ maxLength: 600 }), fc.nat()).map(([b, pick]) => cat(lenHeader('bin', b.length, pick), b));
const scalar = fc.oneof(
  fc.constantFrom(u8(0xc0), u8(0xc2), u8(0xc3)), intBytes, floatBytes, extBytes, timestamp, strBytes, strBytes, binBytes,
);

export const msgpackValue: fc.Arbitrary<Uint8Array> = fc.letrec<{ value: Uint8Array }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.tuple(fc.array(tie('value'), { maxLength: 6 }), fc.nat())
      .map(([items, pick]) => cat(lenHeader('arr', items.length, pick % 4 === 0 ? pick : 0), ...items)),
    fc.tuple(fc.array(fc.tuple(fc.oneof(strBytes, strBytes, tie('value')), tie('value')), { maxLength: 6 }), fc.nat())
      .map(([entries, pick]) => cat(lenHeader('map', entries.length, pick % 4 === 0 ? pick : 0), ...entries.flat())),
  ),
})).value;

/** a hypha-like package: one or two values, then possibly trailing garbage */
export const msgpackPackage: fc.Arbitrary<Uint8Array> = fc.tuple(
  msgpackValue, fc.option(msgpackValue), fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 })),
).map(([a, b, t]) => cat(a, b ?? new Uint8Array(0), t ?? new Uint8Array(0)));
