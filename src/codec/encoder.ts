// CodecEncoder: one per link and direction on the sending side. Indexes a hypha binary message once
// (value-index.ts), then writes the compact link form (tokens.ts), interning strings, map shapes and
// whole sub-objects in bounded tables that the peer's CodecDecoder rebuilds in lockstep.
import { ByteWriter } from './byte-writer.js';
import { CodecError } from './codec-error.js';
import { resolveOptions, type CodecOptions, type CodecStats, type ResolvedOptions } from './options.js';
import { BytesTable } from './slot-table.js';
import { STATIC_STRINGS } from './static-dict.js';
import { digestEntry, KIND_OBJECT, KIND_SHAPE, KIND_STRING } from './table-digest.js';
import * as T from './tokens.js';
import { FLAG_BIG_BIN, FNV_OFFSET, FNV_PRIME, hashBytes, ValueIndex } from './value-index.js';

/** top-level maps above this size are never interned whole (they carry fresh session ids) */
const TOP_LEVEL_INTERN_BYTES = 128;
/** messages with more msgpack values than this are sent raw (bounds the index memory) */
const MAX_VALUES = 1 << 20;
const PART_DYNAMIC = 0;
const PART_STATIC = 1;
const PART_NEW = 2;
/** maps whose header and keys take more bytes than this get no shape */
const MAX_SHAPE_BYTES = 4096;
/** index arrays beyond this many values are released after the message that needed them */
const KEEP_INDEX_VALUES = 1 << 16;
const EMPTY = new Uint8Array(0);

export class CodecEncoder {
  readonly stats: CodecStats;
  readonly #o: ResolvedOptions;
  readonly #strings: BytesTable;
  readonly #objects: BytesTable;
  readonly #shapes: BytesTable;
  readonly #staticByHash = new Map<number, number[]>();
  readonly #staticBytes: Uint8Array[];
  readonly #w = new ByteWriter(4096);
  readonly #ix: ValueIndex;
  #keyScratch = new Uint8Array(1024);
  #b: Uint8Array = EMPTY;
  #seq = 0;
  #digest = 0;
  #poisoned = false;

  constructor(opts: CodecOptions = {}) {
    this.#o = resolveOptions(opts);
    this.stats = this.#o.stats;
    const o = this.#o;
    this.#strings = new BytesTable({ entries: o.stringEntries, bytes: o.stringBytes });
    this.#objects = new BytesTable({ entries: o.objectEntries, bytes: o.objectBytes });
    this.#shapes = new BytesTable({ entries: o.shapeEntries, bytes: o.shapeBytes });
    this.#ix = new ValueIndex(MAX_VALUES, o.internBinLimitBytes);
    this.#staticBytes = STATIC_STRINGS.map((s) => new Uint8Array(Buffer.from(s, 'latin1')));
    this.#staticBytes.forEach((s, i) => {
      const h = hashBytes(s, 0, s.length);
      const list = this.#staticByHash.get(h);
      if (list) list.push(i); else this.#staticByHash.set(h, [i]);
    });
  }

  /**
   * Compact form of one binary hypha message, or null when it does not scan as msgpack (the link then
   * sends it raw; counted in stats.rawFallbacks). Tables are only touched once the scan succeeded.
   */
  encodeBinary(msg: Uint8Array): Uint8Array | null {
    if (this.#poisoned) throw new CodecError('HYPHA_ACCEL_ERR_CODEC_POISONED', 'encoder failed before', true);
    const st = this.stats;
    const end = msg.length;
    const ix = this.#ix;
    ix.reset();
    const mainEnd = ix.add(msg, 0, end);
    if (mainEnd < 0) { st.rawFallbacks++; return null; }
    const extraOrd = ix.count;
    const extraEnd = mainEnd < end ? ix.add(msg, mainEnd, end) : -1;
    const count = extraEnd > 0 ? 2 : 1;
    const valuesEnd = count === 2 ? extraEnd : mainEnd;
    this.#b = msg;
    const w = this.#w;
    w.reset();
    w.ensure(end + 16); // big bins are copied once, without regrowing
    w.byte((T.FORMAT_VERSION << 4) | (count << 1) | (valuesEnd < end ? 1 : 0));
    w.byte(this.#seq & 0xff);
    w.byte((this.#digest >>> 8) & 0xff);
    w.byte(this.#digest & 0xff);
    w.varint(end);
    try {
      const headerBytes = w.pos;
      this.#value(0, 0, false);
      const mainOut = w.pos - headerBytes;
      if (count === 2) this.#value(extraOrd, 0, false);
      if (valuesEnd < end) w.bytes(msg, valuesEnd, end);
      st.mainBytesIn += mainEnd;
      st.mainBytesOut += mainOut + headerBytes;
      if (count === 2) { st.extraBytesIn += extraEnd - mainEnd; st.extraBytesOut += w.pos - headerBytes - mainOut; }
      st.trailingBytes += end - valuesEnd;
    } catch (err) {
      this.#poisoned = true; // tables changed for a message the peer will never see
      throw err instanceof CodecError ? err
        : new CodecError('HYPHA_ACCEL_ERR_CODEC_BLOB', `blob sink failed: ${String(err)}`, true);
    } finally {
      this.#b = EMPTY;
      ix.shrink(KEEP_INDEX_VALUES);
    }
    this.#seq++;
    st.messages++;
    st.bytesIn += end;
    st.bytesOut += w.pos;
    return w.take();
  }

  /** writes value number k (pre-order ordinal in the index) */
  #value(k: number, depth: number, inDef: boolean): void {
    const b = this.#b;
    const w = this.#w;
    const ix = this.#ix;
    const pos = ix.starts[k]!;
    const t = b[pos]!;
    if (t < 0x80) {
      if (t < T.FIXINT_TOKENS) w.byte(T.T_FIXINT0 + t);
      else { w.byte(T.T_UINT7); w.byte(t); }
      return;
    }
    if (t >= 0xa0 && t < 0xc0) { this.#string(k, pos, pos + 1, true); return; }
    if (t >= 0xd9 && t <= 0xdb) {
      const hdr = 1 + (1 << (t - 0xd9));
      const n = ix.ends[k]! - pos - hdr;
      const minimal = t === 0xd9 ? n >= 32 : t === 0xda ? n >= 256 : n >= 65536;
      this.#string(k, pos, pos + hdr, minimal);
      return;
    }
    if (t < 0xa0 || (t >= 0xdc && t <= 0xdf)) { this.#container(k, pos, t, depth, inDef); return; }
    if (t >= 0xc4 && t <= 0xc6) { this.#bin(pos, t, ix.ends[k]!); return; }
    w.bytes(b, pos, ix.ends[k]!);
  }

  #string(k: number, pos: number, cStart: number, minimal: boolean): void {
    const cEnd = this.#ix.ends[k]!;
    const len = cEnd - cStart;
    const w = this.#w;
    if (!minimal || len === 0 || len > this.#o.maxStringEntryBytes) { w.bytes(this.#b, pos, cEnd); return; }
    const b = this.#b;
    const h = hashBytes(b, cStart, cEnd);
    const slot = this.#strings.find(b, cStart, cEnd, h);
    if (slot >= 0) { this.#strRef(slot); return; }
    const st = this.#static(b, cStart, cEnd, h);
    if (st >= 0) { w.byte(T.T_STATIC); w.byte(st); return; }
    let dot = cEnd - 2;
    while (dot > cStart && b[dot] !== 0x2e) dot--;
    if (dot > cStart) {
      w.byte(T.T_STR_SPLIT);
      const prefix = this.#part(cStart, dot);
      const suffix = this.#part(dot, cEnd);
      // intern the whole only when made of known parts (a method path on its second sighting) and
      // not a session callback (<session>.resolve: static suffix, never seen again on this link)
      if (prefix !== PART_NEW && suffix === PART_DYNAMIC) {
        this.#strings.insert(b, cStart, cEnd, h);
        this.#digest = digestEntry(this.#digest, KIND_STRING, b, cStart, cEnd);
      }
      return;
    } else {
      w.byte(T.T_STR_NEW);
      w.varint(len);
      w.bytes(b, cStart, cEnd);
    }
    this.#strings.insert(b, cStart, cEnd, h);
    this.#digest = digestEntry(this.#digest, KIND_STRING, b, cStart, cEnd);
  }

  /** one part of a split string: a reference, a static entry or a new (interned) string */
  #part(start: number, end: number): number {
    const b = this.#b;
    const w = this.#w;
    const h = hashBytes(b, start, end);
    const slot = this.#strings.find(b, start, end, h);
    if (slot >= 0) { this.#strRef(slot); return PART_DYNAMIC; }
    const st = this.#static(b, start, end, h);
    if (st >= 0) { w.byte(T.T_STATIC); w.byte(st); return PART_STATIC; }
    w.byte(T.T_STR_NEW);
    w.varint(end - start);
    w.bytes(b, start, end);
    this.#strings.insert(b, start, end, h);
    this.#digest = digestEntry(this.#digest, KIND_STRING, b, start, end);
    return PART_NEW;
  }

  #static(b: Uint8Array, start: number, end: number, h: number): number {
    const list = this.#staticByHash.get(h);
    if (list === undefined) return -1;
    for (const i of list) {
      const s = this.#staticBytes[i]!;
      if (s.length !== end - start) continue;
      let j = 0;
      while (j < s.length && s[j] === b[start + j]) j++;
      if (j === s.length) return i;
    }
    return -1;
  }

  #strRef(slot: number): void {
    const w = this.#w;
    if (slot < T.STR_REF1_SLOTS) w.byte(T.T_STR_REF1 + slot);
    else if (slot < T.STR_REF2_LIMIT) {
      const s = slot - T.STR_REF1_SLOTS;
      w.byte(T.T_STR_REF2 + (s >> 8));
      w.byte(s & 0xff);
    } else { w.byte(T.T_STR_REFV); w.varint(slot); }
  }

  #objRef(slot: number): void {
    const w = this.#w;
    if (slot < T.OBJ_REF1_SLOTS) w.byte(T.T_OBJ_REF1 + slot);
    else if (slot < T.OBJ_REF2_LIMIT) {
      const s = slot - T.OBJ_REF1_SLOTS;
      w.byte(T.T_OBJ_REF2 + (s >> 8));
      w.byte(s & 0xff);
    } else { w.byte(T.T_OBJ_REFV); w.varint(slot); }
  }

  #container(k: number, pos: number, t: number, depth: number, inDef: boolean): void {
    const ix = this.#ix;
    const b = this.#b;
    const w = this.#w;
    const end = ix.ends[k]!;
    if (depth >= this.#o.maxDepth) { // carried verbatim
      w.byte(T.T_RAW_VALUE);
      w.varint(end - pos);
      w.bytes(b, pos, end);
      return;
    }
    const size = end - pos;
    const o = this.#o;
    const h = ix.hashes[k]!;
    // a whole top-level map (main, extra) rarely repeats unless small: do not spend table room on it
    const candidate = size >= o.minObjectEntryBytes && size <= o.maxObjectEntryBytes
      && (ix.flags[k]! & FLAG_BIG_BIN) === 0 && (depth > 0 || size <= TOP_LEVEL_INTERN_BYTES);
    let define = false;
    if (candidate) {
      const slot = this.#objects.find(b, pos, end, h);
      if (slot >= 0) { this.#objRef(slot); return; }
      // only the outermost new object on a path is defined: every byte is copied into a table once
      define = !inDef;
      if (define) w.byte(T.T_DEF);
    }
    const childInDef = inDef || define;
    const isMap = t < 0x90 || t >= 0xde;
    const hdr = t < 0xa0 ? 1 : t & 1 ? 5 : 3;
    if (!isMap) {
      w.bytes(b, pos, pos + hdr);
      const last = k + ix.sizes[k]!;
      for (let c = k + 1; c < last; c += ix.sizes[c]!) this.#value(c, depth + 1, childInDef);
    } else this.#map(k, pos, hdr, depth, childInDef);
    if (define) {
      this.#objects.insert(b, pos, end, h);
      this.#digest = digestEntry(this.#digest, KIND_OBJECT, b, pos, end);
    }
  }

  #map(k: number, pos: number, hdr: number, depth: number, inDef: boolean): void {
    const ix = this.#ix;
    const b = this.#b;
    const w = this.#w;
    const last = k + ix.sizes[k]!;
    // shape: header + exact key bytes, gathered contiguously; hash combines the keys' hashes
    let n = 0;
    let q = hdr;
    let h = FNV_OFFSET;
    let shapeOk = k + 1 < last;
    let s = this.#scratch(hdr);
    for (let j = 0; j < hdr; j++) s[j] = b[pos + j]!;
    for (let c = k + 1; c < last && shapeOk; ) {
      const keyStart = ix.starts[c]!;
      const keyEnd = ix.ends[c]!;
      if (q + keyEnd - keyStart > MAX_SHAPE_BYTES || ++n > this.#o.maxShapeKeys) shapeOk = false;
      else {
        s = this.#scratch(q + keyEnd - keyStart);
        for (let j = keyStart; j < keyEnd; j++) s[q++] = b[j]!;
        h = Math.imul(h ^ ix.hashes[c]!, FNV_PRIME) ^ (keyEnd - keyStart);
      }
      c += ix.sizes[c]!;
      c += ix.sizes[c]!;
    }
    const shape = shapeOk ? this.#shapes.find(this.#keyScratch, 0, q, h) : -1;
    if (shape >= 0) {
      w.byte(T.T_MAP_SHAPE);
      w.varint(shape);
      for (let c = k + 1; c < last; ) {
        c += ix.sizes[c]!;
        this.#value(c, depth + 1, inDef);
        c += ix.sizes[c]!;
      }
      return;
    }
    if (shapeOk) w.byte(T.T_MAP_NEWSHAPE);
    w.bytes(b, pos, pos + hdr);
    for (let c = k + 1; c < last; c += ix.sizes[c]!) this.#value(c, depth + 1, inDef);
    if (shapeOk) {
      // the scratch may have been reused by nested maps: gather the keys again
      q = 0;
      const s = this.#keyScratch;
      for (let j = pos; j < pos + hdr; j++) s[q++] = b[j]!;
      for (let c = k + 1; c < last; ) {
        const ks = ix.starts[c]!;
        const ke = ix.ends[c]!;
        for (let j = ks; j < ke; j++) s[q++] = b[j]!;
        c += ix.sizes[c]!;
        c += ix.sizes[c]!;
      }
      this.#shapes.insert(s, 0, q, h);
      this.#digest = digestEntry(this.#digest, KIND_SHAPE, s, 0, q);
    }
  }

  #scratch(need: number): Uint8Array {
    if (this.#keyScratch.length < need) {
      const g = new Uint8Array(Math.max(need, this.#keyScratch.length * 2));
      g.set(this.#keyScratch);
      this.#keyScratch = g;
    }
    return this.#keyScratch;
  }

  #bin(pos: number, t: number, end: number): void {
    const b = this.#b;
    const hdr = 1 + (1 << (t - 0xc4));
    const n = end - pos - hdr;
    const sink = this.#o.blobSink;
    if (sink !== undefined && n >= this.#o.blobThresholdBytes) {
      const ref = sink.put(b.subarray(pos + hdr, end));
      this.#w.byte(T.T_BLOB);
      this.#w.bytes(b, pos, pos + hdr);
      this.#w.varint(ref.length);
      this.#w.bytes(ref, 0, ref.length);
      this.stats.blobs++;
    } else {
      this.#w.bytes(b, pos, end); // header and payload as one slice
    }
  }
}
