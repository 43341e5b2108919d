// Shared workload definitions for the JS service and caller: the expectations file, deterministic
// test data (typed arrays, bytes), array statistics and the service's pure transformations.
// workload_common.py implements the same definitions for Python; keep the two in step.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Any = any;

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export interface ArraySpec {
  dtype: string;
  shape: number[];
}

export interface Expectations {
  echo: unknown[];
  add: { a: number; b: number; expected: number };
  add_strings: { a: string; b: string; expected: string };
  nested: { input: Any; expected: Any };
  bytes_small_len: number;
  bytes_large_len: number;
  arrays: ArraySpec[];
  array_large: ArraySpec;
  count: { n: number; expected: number[] };
  callback: { x: number; expected: { x: number; result: number } };
  fail: { message: string };
}

const DTYPES: Record<string, new (n: number | ArrayBuffer) => TypedArray> = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

export function loadExpectations(): Expectations {
  const here = dirname(fileURLToPath(import.meta.url));
  return JSON.parse(readFileSync(join(here, "expectations.json"), "utf8")) as Expectations;
}

/** Everything the hypha-rpc JS client logs goes to stderr: stdout carries only our JSON lines. */
export function routeConsoleToStderr(): void {
  const toErr = (...args: unknown[]): void => console.error(...args);
  console.log = toErr;
  console.info = toErr;
  console.debug = toErr;
  console.warn = toErr;
}

export const stderrLogger = {
  log: (...a: unknown[]) => console.error(...a),
  info: (...a: unknown[]) => console.error(...a),
  debug: () => {},
  warn: (...a: unknown[]) => console.error(...a),
  error: (...a: unknown[]) => console.error(...a),
};

export function emit(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

export function makeBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) % 256;
  return out;
}

export function dtypeOf(arr: TypedArray): string {
  for (const [name, ctor] of Object.entries(DTYPES)) if (arr instanceof ctor) return name;
  throw new Error(`unsupported typed array ${arr.constructor.name}`);
}

/** Same values as workload_common.make_array, flattened. */
export function makeArray(dtype: string, shape: number[]): TypedArray {
  const ctor = DTYPES[dtype];
  if (!ctor) throw new Error(`unsupported dtype ${dtype}`);
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new ctor(size);
  for (let i = 0; i < size; i++) {
    const base = (i * 7919) % 1000;
    let v: number;
    if (dtype.startsWith("float")) v = (base - 500) / 4;
    else if (dtype === "uint8") v = base % 256;
    else if (dtype === "int8") v = (base % 256) - 128;
    else if (dtype.startsWith("int")) v = base - 500;
    else v = base;
    out[i] = v;
  }
  return out;
}

/** An ndarray as hypha-rpc encodes numpy arrays ({_rtype:"ndarray",...}); JS keeps it as a plain object. */
export interface NdArrayObject {
  _rtype: "ndarray";
  _rvalue: Uint8Array;
  _rshape: number[];
  _rdtype: string;
}

export function toNdArrayObject(arr: TypedArray, shape: number[]): NdArrayObject {
  const bytes = new Uint8Array(arr.buffer.slice(arr.byteOffset, arr.byteOffset + arr.byteLength));
  return { _rtype: "ndarray", _rvalue: bytes, _rshape: [...shape], _rdtype: dtypeOf(arr) };
}

/** Normalises what arrives as an array (typed array or ndarray object) to data + shape + dtype. */
export function normaliseArray(value: Any): { data: TypedArray; shape: number[]; dtype: string } {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const data = value as TypedArray;
    return { data, shape: [data.length], dtype: dtypeOf(data) };
  }
  if (value && typeof value === "object" && value._rtype === "ndarray") {
    const ctor = DTYPES[value._rdtype as string];
    if (!ctor) throw new Error(`unsupported dtype ${value._rdtype}`);
    let raw: Uint8Array = value._rvalue;
    if (Array.isArray(raw)) raw = concatBytes(raw as Uint8Array[]);
    const copy = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
    return { data: new ctor(copy), shape: [...(value._rshape as number[])], dtype: value._rdtype };
  }
  throw new Error(`not an array: ${Object.prototype.toString.call(value)}`);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export function arrayStats(value: Any): Record<string, unknown> {
  const { data, shape, dtype } = normaliseArray(value);
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const empty = data.length === 0;
  return { shape, dtype, size: data.length, sum, min: empty ? null : min, max: empty ? null : max };
}

export function nestedTransform(d: Any): Any {
  const items = d.items as number[];
  return {
    name: String(d.name).toUpperCase(),
    count: items.length,
    total: items.reduce((a, b) => a + b, 0),
    tags: [...(d.tags as string[])].reverse(),
    inner: {
      flag: !d.inner.flag,
      label: [...String(d.inner.label)].reverse().join(""),
      deeper: { keys: (d.inner.deeper.list as Any[]).map((e) => e.k) },
    },
    input: d,
  };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** A value decoded by hypha-rpc reduced to plain JSON (drops proxies' hidden fields). */
export function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null));
}
