// CodecEncoder: one per link and direction on the sending side. Scans a hypha binary message once
// and writes the compact link form (tokens.ts), interning strings, map shapes and whole sub-objects
// in bounded tables that the peer's CodecDecoder rebuilds in lockstep.
import { CodecError } from './codec-error.js';
import { readLen, scalarSize, skipValue } from './msgpack-scan.js';
import { resolveOptions, type CodecOptions, type CodecStats, type ResolvedOptions } from './options.js';
import { EncoderTable } from './slot-table.js';
import { STATIC_STRINGS } from './static-dict.js';
import * as T from './tokens.js';
import { ByteWriter } from './byte-writer.js';
import { digestString, KIND_OBJECT, KIND_SHAPE, KIND_STRING } from './table-digest.js';

/** top-level maps above this size are never interned whole (they carry fresh session ids) */
const TOP_LEVEL_INTERN_BYTES = 128;

/** Node's native latin1 view works on any Uint8Array: one call, no Buffer wrapper per message */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, s: number, e: number): string })
  .latin1Slice;
const EMPTY = new Uint8Array(0);

export class CodecEncoder {
  readonly stats: CodecStats;
  readonly #o: ResolvedOptions;
  readonly #strings: EncoderTable;
  readonly #objects: EncoderTable;
  readonly #shapes: EncoderTable;
  readonly #static = new Map<string, number>();
  readonly #w = new ByteWriter(4096);
  readonly #maxBin = new Int32Array(1);
  #offsets = new Int32Array(256);
  #offsetsTop = 0;
  #keyScratch = new Uint8Array(1024);
  #b: Uint8Array = EMPTY;
  #seq = 0;
  #digest = 0;
  #poisoned = false;

  constructor(opts: CodecOptions = {}) {
    this.#o = resolveOptions(opts);
    this.stats = this.#o.stats;
    const o = this.#o;
    this.#strings = new EncoderTable({ entries: o.stringEntries, bytes: o.stringBytes });
    this.#objects = new EncoderTable({ entries: o.objectEntries, bytes: o.objectBytes });
    this.#shapes = new EncoderTable({ entries: o.shapeEntries, bytes: o.shapeBytes });
    STATIC_STRINGS.forEach((s, i) => this.#static.set(s, i));
  }

  /**
   * Compact form of one binary hypha message, or null when it does not scan as msgpack (the link then
   * sends it raw; counted in stats.rawFallbacks). Tables are only touched once the scan succeeded.
   */
  encodeBinary(msg: Uint8Array): Uint8Array | null {
    if (this.#poisoned) throw new CodecError('HYPHA_ACCEL_ERR_CODEC_POISONED', 'encoder failed before', true);
    const st = this.stats;
    const end = msg.length;
    const mb = this.#maxBin;
    const mainEnd = end > 0 ? skipValue(msg, 0, end, mb) : -1;
    if (mainEnd < 0) { st.rawFallbacks++; return null; }
    const extraEnd = mainEnd < end ? skipValue(msg, mainEnd, end, mb) : -1;
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
      this.#value(0, 0);
      const mainOut = w.pos - headerBytes;
      if (count === 2) this.#value(mainEnd, 0);
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
    }
    this.#seq++;
    st.messages++;
    st.bytesIn += end;
    st.bytesOut += w.pos;
    return w.take();
  }

  #value(pos: number, depth: number): number {
    const b = this.#b;
    const w = this.#w;
    const t = b[pos]!;
    if (t < 0x80) {
      if (t < T.FIXINT_TOKENS) w.byte(T.T_FIXINT0 + t);
      else { w.byte(T.T_UINT7); w.byte(t); }
      return pos + 1;
    }
    if (t >= 0xa0 && t < 0xc0) return this.#string(pos, pos + 1, t & 0x1f, true);
    if (t >= 0xd9 && t <= 0xdb) {
      const n = readLen(b, pos, b.length, t - 0xd9);
      const hdr = 1 + (1 << (t - 0xd9));
      const minimal = t === 0xd9 ? n >= 32 : t === 0xda ? n >= 256 : n >= 65536;
      return this.#string(pos, pos + hdr, n, minimal);
    }
    if (t < 0x90 || t === 0xde || t === 0xdf) return this.#map(pos, depth);
    if (t < 0xa0 || t === 0xdc || t === 0xdd) return this.#array(pos, depth);
    if (t >= 0xc4 && t <= 0xc6) return this.#bin(pos, t);
    const size = scalarSize(b, pos, b.length);
    w.bytes(b, pos, pos + size);
    return pos + size;
  }

  #string(pos: number, cStart: number, len: number, minimal: boolean): number {
    const cEnd = cStart + len;
    if (!minimal || len === 0 || len > this.#o.maxStringEntryBytes) {
      this.#w.bytes(this.#b, pos, cEnd);
      return cEnd;
    }
    const key = latin1Slice.call(this.#b, cStart, cEnd);
    const slot = this.#strings.get(key);
    if (slot !== undefined) { this.#strRef(slot); return cEnd; }
    const st = this.#static.get(key);
    if (st !== undefined) { this.#w.byte(T.T_STATIC); this.#w.byte(st); return cEnd; }
    const dot = key.lastIndexOf('.');
    if (dot > 0 && dot < len - 1) {
      this.#w.byte(T.T_STR_SPLIT);
      this.#part(key.slice(0, dot), cStart, cStart + dot);
      this.#part(key.slice(dot), cStart + dot, cEnd);
    } else {
      this.#w.byte(T.T_STR_NEW);
      this.#w.varint(len);
      this.#w.bytes(this.#b, cStart, cEnd);
    }
    this.#strings.insert(key);
    this.#digest = digestString(this.#digest, KIND_STRING, key);
    return cEnd;
  }

  /** one part of a split string: a reference, a static entry or a new (interned) string */
  #part(key: string, start: number, end: number): void {
    const slot = this.#strings.get(key);
    if (slot !== undefined) { this.#strRef(slot); return; }
    const st = this.#static.get(key);
    if (st !== undefined) { this.#w.byte(T.T_STATIC); this.#w.byte(st); return; }
    this.#w.byte(T.T_STR_NEW);
    this.#w.varint(end - start);
    this.#w.bytes(this.#b, start, end);
    this.#strings.insert(key);
    this.#digest = digestString(this.#digest, KIND_STRING, key);
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

  /** Looks a whole map/array up; returns its table key when it should be defined (T_DEF), or null. */
  #objectKey(pos: number, end: number, maxBin: number): string | null | number {
    const size = end - pos;
    const o = this.#o;
    if (size < o.minObjectEntryBytes || size > o.maxObjectEntryBytes || maxBin >= o.internBinLimitBytes) {
      return null;
    }
    const key = latin1Slice.call(this.#b, pos, end);
    const slot = this.#objects.get(key);
    return slot !== undefined ? slot : key;
  }

  #map(pos: number, depth: number): number {
    const b = this.#b;
    const t = b[pos]!;
    const hdr = t < 0x90 ? 1 : t === 0xde ? 3 : 5;
    const n = t < 0x90 ? t & 0x0f : readLen(b, pos, b.length, t - 0xde + 1);
    if (depth >= this.#o.maxDepth) return this.#raw(pos);
    // one pass over the entries: key and value offsets, end, largest bin inside
    const base = this.#offsetsTop;
    if (base + 2 * n + 1 > this.#offsets.length) this.#growOffsets(base + 2 * n + 1);
    const offs = this.#offsets;
    const mb = this.#maxBin;
    mb[0] = 0;
    let p = pos + hdr;
    const len = b.length;
    for (let i = 0; i < n; i++) {
      offs[base + 2 * i] = p;
      p = skipValue(b, p, len, mb);
      offs[base + 2 * i + 1] = p;
      p = skipValue(b, p, len, mb);
    }
    offs[base + 2 * n] = p;
    const end = p;
    // a whole top-level map (main, extra) rarely repeats unless small: do not spend table room on it
    const objKey = depth > 0 || end - pos <= TOP_LEVEL_INTERN_BYTES ? this.#objectKey(pos, end, mb[0]!) : null;
    if (typeof objKey === 'number') { this.#objRef(objKey); return end; }
    const w = this.#w;
    if (objKey !== null) w.byte(T.T_DEF);
    this.#offsetsTop = base + 2 * n + 1;
    const shapeKey = n > 0 && n <= this.#o.maxShapeKeys ? this.#shapeKey(pos, hdr, base, n) : null;
    const shapeSlot = shapeKey === null ? undefined : this.#shapes.get(shapeKey);
    if (shapeSlot !== undefined) {
      w.byte(T.T_MAP_SHAPE);
      w.varint(shapeSlot);
      for (let i = 0; i < n; i++) this.#value(this.#offsets[base + 2 * i + 1]!, depth + 1);
    } else {
      if (shapeKey !== null) w.byte(T.T_MAP_NEWSHAPE);
      w.bytes(b, pos, pos + hdr);
      for (let i = 0; i < n; i++) {
        this.#value(this.#offsets[base + 2 * i]!, depth + 1);
        this.#value(this.#offsets[base + 2 * i + 1]!, depth + 1);
      }
      if (shapeKey !== null) {
        this.#shapes.insert(shapeKey);
        this.#digest = digestString(this.#digest, KIND_SHAPE, shapeKey);
      }
    }
    this.#offsetsTop = base;
    if (objKey !== null) {
      this.#objects.insert(objKey);
      this.#digest = digestString(this.#digest, KIND_OBJECT, objKey);
    }
    return end;
  }

  /** latin1 key of the map header plus each key's exact bytes, copied contiguously first */
  #shapeKey(pos: number, hdr: number, base: number, n: number): string | null {
    const offs = this.#offsets;
    let total = hdr;
    for (let i = 0; i < n; i++) total += offs[base + 2 * i + 1]! - offs[base + 2 * i]!;
    if (total > 4096) return null;
    if (this.#keyScratch.length < total) this.#keyScratch = new Uint8Array(total * 2);
    const s = this.#keyScratch;
    const b = this.#b;
    let q = 0;
    for (let j = pos; j < pos + hdr; j++) s[q++] = b[j]!;
    for (let i = 0; i < n; i++) {
      const e = offs[base + 2 * i + 1]!;
      for (let j = offs[base + 2 * i]!; j < e; j++) s[q++] = b[j]!;
    }
    return latin1Slice.call(s, 0, q);
  }

  #array(pos: number, depth: number): number {
    const b = this.#b;
    const t = b[pos]!;
    const hdr = t < 0xa0 ? 1 : t === 0xdc ? 3 : 5;
    const n = t < 0xa0 ? t & 0x0f : readLen(b, pos, b.length, t - 0xdc + 1);
    if (depth >= this.#o.maxDepth) return this.#raw(pos);
    const mb = this.#maxBin;
    mb[0] = 0;
    const end = skipValue(b, pos, b.length, mb);
    const objKey = this.#objectKey(pos, end, mb[0]!);
    if (typeof objKey === 'number') { this.#objRef(objKey); return end; }
    const w = this.#w;
    if (objKey !== null) w.byte(T.T_DEF);
    w.bytes(b, pos, pos + hdr);
    let p = pos + hdr;
    for (let i = 0; i < n; i++) p = this.#value(p, depth + 1);
    if (objKey !== null) {
      this.#objects.insert(objKey);
      this.#digest = digestString(this.#digest, KIND_OBJECT, objKey);
    }
    return end;
  }

  #bin(pos: number, t: number): number {
    const b = this.#b;
    const n = readLen(b, pos, b.length, t - 0xc4);
    const hdr = 1 + (1 << (t - 0xc4));
    const end = pos + hdr + n;
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
    return end;
  }

  /** a subtree nested deeper than maxDepth: carried verbatim */
  #raw(pos: number): number {
    const end = skipValue(this.#b, pos, this.#b.length, this.#maxBin);
    this.#w.byte(T.T_RAW_VALUE);
    this.#w.varint(end - pos);
    this.#w.bytes(this.#b, pos, end);
    return end;
  }

  #growOffsets(min: number): void {
    const next = new Int32Array(Math.max(min, this.#offsets.length * 2));
    next.set(this.#offsets);
    this.#offsets = next;
  }
}
