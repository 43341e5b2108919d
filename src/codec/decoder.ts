// CodecDecoder: one per link and direction on the receiving side. Interprets the compact form and
// writes back the exact original msgpack bytes, rebuilding the encoder's tables in lockstep. Every
// length read from the wire is checked (against maxMessageBytes and the bytes left) before use.
import { CodecError, type CodecErrorCode } from './codec-error.js';
import { readLen, scalarSize } from './msgpack-scan.js';
import { resolveOptions, type CodecOptions, type CodecStats, type ResolvedOptions } from './options.js';
import { DecoderTable } from './slot-table.js';
import { STATIC_STRINGS } from './static-dict.js';
import { SlabAllocator } from './slab.js';
import * as T from './tokens.js';
import { digestEntry, KIND_OBJECT, KIND_SHAPE, KIND_STRING } from './table-digest.js';

const EMPTY = new Uint8Array(0);

/** a map shape: the exact header and key bytes, and where each key ends in them */
interface Shape {
  bytes: Uint8Array;
  headerEnd: number;
  keyEnds: Int32Array;
}

export class CodecDecoder {
  readonly stats: CodecStats;
  readonly #o: ResolvedOptions;
  readonly #strings: DecoderTable<Uint8Array>;
  readonly #objects: DecoderTable<Uint8Array>;
  readonly #shapes: DecoderTable<Shape>;
  readonly #static: Uint8Array[];
  #c: Uint8Array = new Uint8Array(0);
  #ip = 0;
  #out: Uint8Array = new Uint8Array(0);
  #op = 0;
  #seq = 0;
  #digest = 0;
  #poisoned: CodecError | null = null;
  readonly #slab = new SlabAllocator();

  constructor(opts: CodecOptions = {}) {
    this.#o = resolveOptions(opts);
    this.stats = this.#o.stats;
    const o = this.#o;
    this.#strings = new DecoderTable({ entries: o.stringEntries, bytes: o.stringBytes });
    this.#objects = new DecoderTable({ entries: o.objectEntries, bytes: o.objectBytes });
    this.#shapes = new DecoderTable({ entries: o.shapeEntries, bytes: o.shapeBytes });
    this.#static = STATIC_STRINGS.map((s) => new Uint8Array(Buffer.from(s, 'latin1')));
  }

  /**
   * The exact original message. Errors found in the header (version, sequence, table digest, length
   * limit) leave the instance usable (`fatal: false`); errors inside the body may have changed the
   * tables, so they are fatal and every later call throws HYPHA_ACCEL_ERR_CODEC_POISONED.
   */
  decodeBinary(compact: Uint8Array): Uint8Array {
    if (this.#poisoned) {
      throw new CodecError('HYPHA_ACCEL_ERR_CODEC_POISONED', `decoder failed before: ${this.#poisoned.message}`, true);
    }
    const c = compact;
    if (c.length < T.HEADER_FIXED_BYTES + 1) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'too short', false);
    const h = c[0]!;
    if (h >> 4 !== T.FORMAT_VERSION) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', `version ${h >> 4}`, false);
    const count = (h >> 1) & 3;
    if (count < 1 || count > 2 || (h & 8) !== 0) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'bad header', false);
    if (c[1] !== (this.#seq & 0xff)) {
      this.#fail('HYPHA_ACCEL_ERR_CODEC_DESYNC', `sequence ${c[1]} where ${this.#seq & 0xff} was due`, false);
    }
    const digest = (c[2]! << 8) | c[3]!;
    if (digest !== (this.#digest & 0xffff)) {
      this.#fail('HYPHA_ACCEL_ERR_CODEC_DESYNC', `table digest ${digest} where ${this.#digest & 0xffff} was due`, false);
    }
    this.#c = c;
    this.#ip = T.HEADER_FIXED_BYTES;
    const total = this.#varint(this.#o.maxMessageBytes, 'HYPHA_ACCEL_ERR_CODEC_LIMIT', false);
    // from a slab when small: every byte is written before the result is returned (op === total)
    this.#out = this.#slab.alloc(total);
    this.#op = 0;
    try {
      this.#value(0);
      if (count === 2) this.#value(0);
      if ((h & 1) === 1) {
        const rest = total - this.#op;
        if (rest <= 0 || c.length - this.#ip !== rest) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'trailing bytes', true);
        this.#out.set(c.subarray(this.#ip), this.#op);
        this.#op += rest;
        this.#ip += rest;
      }
      if (this.#op !== total || this.#ip !== c.length) {
        this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'length mismatch', true);
      }
    } catch (err) {
      // inside the body the tables may have changed: every error here is fatal for the instance
      const e = err instanceof CodecError && err.fatal ? err
        : err instanceof CodecError ? new CodecError(err.code, err.message, true)
          : new CodecError('HYPHA_ACCEL_ERR_CODEC_MALFORMED', `bad input: ${String(err)}`, true);
      this.#poisoned = e;
      throw e;
    } finally {
      this.#c = EMPTY;
    }
    const out = this.#out;
    this.#out = EMPTY;
    this.#seq++;
    const st = this.stats;
    st.messages++;
    st.bytesIn += c.length;
    st.bytesOut += total;
    return out;
  }

  #fail(code: CodecErrorCode, message: string, fatal: boolean): never {
    throw new CodecError(code, message, fatal);
  }

  #need(n: number): void {
    if (this.#ip + n > this.#c.length) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'truncated input', true);
  }

  #room(n: number): void {
    if (this.#op + n > this.#out.length) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'output longer than declared', true);
  }

  /** unsigned LEB128 at ip, rejected above `max` before it is used */
  #varint(max: number, code: CodecErrorCode = 'HYPHA_ACCEL_ERR_CODEC_MALFORMED', fatal = true): number {
    const c = this.#c;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.#ip >= c.length) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'truncated varint', fatal);
      const x = c[this.#ip++]!;
      v += (x & 0x7f) * mul;
      if (v > max) this.#fail(code, `length ${v} over limit ${max}`, fatal);
      if (x < 0x80) return v;
      mul *= 0x80;
    }
    return this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'varint too long', fatal);
  }

  #copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.#room(n);
    const out = this.#out;
    if (n <= 32) {
      let p = this.#op;
      for (let i = start; i < end; i++) out[p++] = src[i]!;
    } else if (start === 0 && end === src.length) out.set(src, this.#op);
    else out.set(src.subarray(start, end), this.#op);
    this.#op += n;
  }

  #byte(v: number): void {
    this.#room(1);
    this.#out[this.#op++] = v;
  }

  #value(depth: number): void {
    this.#need(1);
    const t = this.#c[this.#ip++]!;
    if (t >= 0x80) { this.#literal(t, depth); return; }
    if (t >= T.T_FIXINT0) { this.#byte(t - T.T_FIXINT0); return; }
    if (t < T.T_STR_REF2) { this.#writeString(this.#stringAt(t)); return; }
    if (t < T.T_OBJ_REF1) { this.#writeString(this.#stringAt(t)); return; }
    if (t < T.T_STR_REFV) { const o = this.#objectAt(t); this.#copy(o, 0, o.length); return; }
    switch (t) {
      case T.T_STR_REFV: this.#writeString(this.#stringAt(t)); return;
      case T.T_OBJ_REFV: { const o = this.#objectAt(t); this.#copy(o, 0, o.length); return; }
      case T.T_STR_SPLIT: {
        const prefixNew = this.#c[this.#ip] === T.T_STR_NEW;
        const a = this.#part();
        const suffixToken = this.#c[this.#ip];
        const b = this.#part();
        this.#header(a.length + b.length);
        this.#copy(a, 0, a.length);
        this.#copy(b, 0, b.length);
        // the same rule as the encoder: the whole string is interned only when made of known parts
        // and its suffix is not a static one (session callbacks: <session>.resolve and the like)
        if (!prefixNew && suffixToken !== T.T_STR_NEW && suffixToken !== T.T_STATIC) {
          const whole = new Uint8Array(a.length + b.length);
          whole.set(a);
          whole.set(b, a.length);
          this.#strings.insert(whole, whole.length);
          this.#digest = digestEntry(this.#digest, KIND_STRING, whole, 0, whole.length);
        }
        return;
      }
      case T.T_STR_NEW: case T.T_STATIC: this.#writeString(this.#part(t)); return;
      case T.T_MAP_SHAPE: this.#shapedMap(depth); return;
      case T.T_MAP_NEWSHAPE: this.#newShapeMap(depth); return;
      case T.T_UINT7: {
        this.#need(1);
        const v = this.#c[this.#ip++]!;
        if (v >= 0x80) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'bad uint7', true);
        this.#byte(v);
        return;
      }
      case T.T_BLOB: this.#blob(); return;
      case T.T_RAW_VALUE: {
        const n = this.#varint(this.#out.length - this.#op);
        this.#need(n);
        this.#copy(this.#c, this.#ip, this.#ip + n);
        this.#ip += n;
        return;
      }
      case T.T_DEF: {
        this.#need(1);
        const next = this.#c[this.#ip]!;
        const container = next === T.T_MAP_SHAPE || next === T.T_MAP_NEWSHAPE || (next >= 0x80 && next < 0xa0)
          || (next >= 0xdc && next <= 0xdf);
        if (!container) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'definition of a non-container', true);
        const start = this.#op;
        this.#value(depth);
        const entry = this.#out.slice(start, this.#op);
        this.#objects.insert(entry, entry.length);
        this.#digest = digestEntry(this.#digest, KIND_OBJECT, entry, 0, entry.length);
        return;
      }
    }
    this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', `unknown token 0x${t.toString(16)}`, true);
  }

  /** the string table entry a reference token (already consumed) points to */
  #stringAt(t: number): Uint8Array {
    let slot: number;
    if (t < T.T_STR_REF2) slot = t;
    else if (t < T.T_OBJ_REF1) { this.#need(1); slot = T.STR_REF1_SLOTS + (((t & 0x0f) << 8) | this.#c[this.#ip++]!); }
    else slot = this.#varint(0x7fffffff);
    const s = this.#strings.get(slot);
    if (s === undefined) this.#fail('HYPHA_ACCEL_ERR_CODEC_DESYNC', `no string in slot ${slot}`, true);
    return s;
  }

  #objectAt(t: number): Uint8Array {
    let slot: number;
    if (t < T.T_OBJ_REF2) slot = t - T.T_OBJ_REF1;
    else if (t < T.T_STR_REFV) { this.#need(1); slot = T.OBJ_REF1_SLOTS + (((t & 3) << 8) | this.#c[this.#ip++]!); }
    else slot = this.#varint(0x7fffffff);
    const o = this.#objects.get(slot);
    if (o === undefined) this.#fail('HYPHA_ACCEL_ERR_CODEC_DESYNC', `no object in slot ${slot}`, true);
    return o;
  }

  /** a string-part token (reference, static or new): its content; new strings are interned */
  #part(consumed?: number): Uint8Array {
    let t = consumed;
    if (t === undefined) { this.#need(1); t = this.#c[this.#ip++]!; }
    if (t < T.T_OBJ_REF1 || t === T.T_STR_REFV) return this.#stringAt(t);
    if (t === T.T_STATIC) {
      this.#need(1);
      const s = this.#static[this.#c[this.#ip++]!];
      if (s === undefined) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'bad static index', true);
      return s;
    }
    if (t !== T.T_STR_NEW) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'bad string part', true);
    const n = this.#varint(this.#o.maxStringEntryBytes);
    this.#need(n);
    const s = this.#c.slice(this.#ip, this.#ip + n);
    this.#ip += n;
    this.#strings.insert(s, s.length);
    this.#digest = digestEntry(this.#digest, KIND_STRING, s, 0, s.length);
    return s;
  }

  /** minimal msgpack str header for n content bytes */
  #header(n: number): void {
    if (n < 32) this.#byte(0xa0 | n);
    else if (n < 256) { this.#room(2); this.#out[this.#op++] = 0xd9; this.#out[this.#op++] = n; }
    else if (n < 65536) {
      this.#room(3);
      const o = this.#out;
      o[this.#op++] = 0xda; o[this.#op++] = n >> 8; o[this.#op++] = n & 0xff;
    } else {
      this.#room(5);
      const o = this.#out;
      o[this.#op++] = 0xdb; o[this.#op++] = n >>> 24; o[this.#op++] = (n >> 16) & 0xff;
      o[this.#op++] = (n >> 8) & 0xff; o[this.#op++] = n & 0xff;
    }
  }

  #writeString(content: Uint8Array): void {
    this.#header(content.length);
    this.#copy(content, 0, content.length);
  }

  #checkDepth(depth: number): void {
    if (depth >= this.#o.maxDepth) this.#fail('HYPHA_ACCEL_ERR_CODEC_LIMIT', 'nesting deeper than maxDepth', true);
  }

  /** a token that is a msgpack format byte: copy it (and its payload); containers recurse */
  #literal(t: number, depth: number): void {
    const c = this.#c;
    const ip = this.#ip - 1;
    let n: number;
    let hdr: number;
    if (t < 0x90) { n = t & 0x0f; hdr = 1; }
    else if (t < 0xa0) { n = t & 0x0f; hdr = 1; }
    else if (t === 0xdc || t === 0xde) { hdr = 3; n = readLen(c, ip, c.length, 1); }
    else if (t === 0xdd || t === 0xdf) { hdr = 5; n = readLen(c, ip, c.length, 2); }
    else {
      const size = t === 0xc1 ? -1 : scalarSize(c, ip, c.length);
      if (size < 0 || ip + size > c.length) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'bad literal', true);
      this.#copy(c, ip, ip + size);
      this.#ip = ip + size;
      return;
    }
    if (n < 0) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'truncated container header', true);
    this.#checkDepth(depth);
    this.#copy(c, ip, ip + hdr);
    this.#ip = ip + hdr;
    const children = t < 0x90 || t === 0xde || t === 0xdf ? 2 * n : n;
    // every child consumes at least one input byte: a count above what is left is malformed
    if (children > c.length - this.#ip) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'container count over input', true);
    for (let i = 0; i < children; i++) this.#value(depth + 1);
  }

  #shapedMap(depth: number): void {
    const slot = this.#varint(0x7fffffff);
    const shape = this.#shapes.get(slot);
    if (shape === undefined) this.#fail('HYPHA_ACCEL_ERR_CODEC_DESYNC', `no shape in slot ${slot}`, true);
    this.#checkDepth(depth);
    const bytes = shape.bytes;
    const ends = shape.keyEnds;
    let from = 0;
    for (let i = 0; i < ends.length; i++) {
      const to = ends[i]!;
      this.#copy(bytes, from, to); // the header rides with the first key
      from = to;
      this.#value(depth + 1);
    }
  }

  #newShapeMap(depth: number): void {
    this.#need(1);
    const c = this.#c;
    const t = c[this.#ip]!;
    let n: number;
    let hdr: number;
    if (t >= 0x80 && t < 0x90) { n = t & 0x0f; hdr = 1; }
    else if (t === 0xde) { hdr = 3; n = readLen(c, this.#ip, c.length, 1); }
    else if (t === 0xdf) { hdr = 5; n = readLen(c, this.#ip, c.length, 2); }
    else return this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'shape without map header', true);
    if (n < 1 || n > this.#o.maxShapeKeys) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'bad shape size', true);
    this.#checkDepth(depth);
    const start = this.#op;
    this.#copy(c, this.#ip, this.#ip + hdr);
    this.#ip += hdr;
    // keys are written into the output; their bytes are gathered once the map is complete
    const keyRanges = new Int32Array(2 * n);
    for (let i = 0; i < n; i++) {
      keyRanges[2 * i] = this.#op;
      this.#value(depth + 1);
      keyRanges[2 * i + 1] = this.#op;
      this.#value(depth + 1);
    }
    let size = hdr;
    for (let i = 0; i < n; i++) size += keyRanges[2 * i + 1]! - keyRanges[2 * i]!;
    const bytes = new Uint8Array(size);
    const keyEnds = new Int32Array(n);
    const out = this.#out;
    bytes.set(out.subarray(start, start + hdr));
    let q = hdr;
    for (let i = 0; i < n; i++) {
      bytes.set(out.subarray(keyRanges[2 * i]!, keyRanges[2 * i + 1]!), q);
      q += keyRanges[2 * i + 1]! - keyRanges[2 * i]!;
      keyEnds[i] = q;
    }
    this.#shapes.insert({ bytes, headerEnd: hdr, keyEnds }, size);
    this.#digest = digestEntry(this.#digest, KIND_SHAPE, bytes, 0, size);
  }

  #blob(): void {
    const c = this.#c;
    this.#need(1);
    const t = c[this.#ip]!;
    if (t < 0xc4 || t > 0xc6) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'blob without bin header', true);
    const n = readLen(c, this.#ip, c.length, t - 0xc4);
    const hdr = 1 + (1 << (t - 0xc4));
    if (n < 0) this.#fail('HYPHA_ACCEL_ERR_CODEC_MALFORMED', 'truncated blob header', true);
    this.#room(hdr + n);
    this.#copy(c, this.#ip, this.#ip + hdr);
    this.#ip += hdr;
    const refLen = this.#varint(c.length - this.#ip);
    const ref = c.subarray(this.#ip, this.#ip + refLen);
    this.#ip += refLen;
    const payload = this.#o.blobSource?.get(ref);
    if (payload === undefined || payload.length !== n) {
      this.#fail('HYPHA_ACCEL_ERR_CODEC_BLOB', 'blob reference not resolvable', true);
    }
    this.#copy(payload, 0, payload.length);
  }
}
