// JS workload caller (npm hypha-rpc): gets a workload service (Python or JS) by its full id, runs
// every check against expectations.json and prints ONE JSON line {"ok", "transport", "checks"}.
// usage: node --import tsx js-caller.ts SERVER_URL SERVICE_FULL_ID
//          [--transport websocket|http] [--checks a,b]
import { isDeepStrictEqual } from "node:util";
import { hyphaWebsocketClient } from "hypha-rpc";
import {
  type Any,
  type Expectations,
  arrayStats,
  bytesEqual,
  emit,
  loadExpectations,
  makeArray,
  makeBytes,
  normaliseArray,
  plain,
  routeConsoleToStderr,
  stderrLogger,
  toNdArrayObject,
} from "./js-common.js";

function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

function sameArray(actual: unknown, expected: Uint8Array, dtype: string, shape: number[], what: string): void {
  const got = normaliseArray(actual);
  same([got.dtype, got.shape], [dtype, shape], `${what} dtype/shape`);
  const gotBytes = new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength);
  if (!bytesEqual(gotBytes, expected)) throw new Error(`${what}: values differ`);
}

function bytesOf(arr: ArrayBufferView): Uint8Array {
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

type Check = () => Promise<void>;

function buildChecks(svc: Any, exp: Expectations): Array<[string, Check]> {
  return [
    ["echo", async () => {
      for (const value of exp.echo) same(plain(await svc.echo(value)), value, "echo");
    }],
    ["add_positional", async () => {
      same(await svc.add(exp.add.a, exp.add.b), exp.add.expected, "add");
      const s = exp.add_strings;
      same(await svc.add(s.a, s.b), s.expected, "add strings");
    }],
    ["add_kwargs", async () => {
      same(await svc.add({ a: exp.add.a, b: exp.add.b, _rkwargs: true }), exp.add.expected, "add kwargs");
      const s = exp.add_strings;
      same(await svc.add({ b: s.b, a: s.a, _rkwargs: true }), s.expected, "add kwargs (reordered)");
    }],
    ["nested", async () => {
      same(plain(await svc.nested(exp.nested.input)), exp.nested.expected, "nested");
    }],
    ["bytes_small", async () => {
      const data = makeBytes(exp.bytes_small_len);
      same(await svc.bytes_len(data), data.length, "bytes_len");
      const back = await svc.echo_bytes(data);
      if (!(back instanceof Uint8Array)) throw new Error(`echo_bytes returned ${typeof back}`);
      if (!bytesEqual(back, data)) throw new Error("echo_bytes: content differs");
    }],
    ["bytes_large", async () => {
      const data = makeBytes(exp.bytes_large_len);
      same(await svc.bytes_len(data), data.length, "bytes_len (large)");
      const back = await svc.echo_bytes(data);
      if (!(back instanceof Uint8Array)) throw new Error(`echo_bytes returned ${typeof back}`);
      if (!bytesEqual(back, data)) throw new Error("echo_bytes (large): content differs");
    }],
    // Typed arrays travel as {_rtype:"typedarray"} (1-D): Python sees 1-D numpy arrays.
    ["arrays", async () => {
      for (const spec of exp.arrays) {
        const arr = makeArray(spec.dtype, spec.shape);
        same(plain(await svc.array_stats(arr)), arrayStats(arr), `array_stats ${spec.dtype}`);
        sameArray(await svc.echo_array(arr), bytesOf(arr), spec.dtype, [arr.length], `echo_array ${spec.dtype}`);
      }
    }],
    // N-d arrays travel as {_rtype:"ndarray"} objects, exactly what numpy arrays become.
    ["ndarrays", async () => {
      for (const spec of exp.arrays) {
        const arr = makeArray(spec.dtype, spec.shape);
        const expected = arrayStats(toNdArrayObject(arr, spec.shape));
        same(plain(await svc.array_stats(toNdArrayObject(arr, spec.shape))), expected, `ndarray stats ${spec.dtype}`);
        const back = await svc.echo_array(toNdArrayObject(arr, spec.shape));
        sameArray(back, bytesOf(arr), spec.dtype, spec.shape, `echo ndarray ${spec.dtype}`);
      }
    }],
    ["array_large", async () => {
      const spec = exp.array_large;
      const arr = makeArray(spec.dtype, spec.shape);
      if (arr.byteLength <= 1024 * 1024) throw new Error("large array is not above 1 MiB");
      same(plain(await svc.array_stats(arr)), arrayStats(arr), "array_stats (large)");
      sameArray(await svc.echo_array(arr), bytesOf(arr), spec.dtype, [arr.length], "echo_array (large)");
      const nd = toNdArrayObject(arr, spec.shape);
      sameArray(await svc.echo_array(nd), bytesOf(arr), spec.dtype, spec.shape, "echo ndarray (large)");
    }],
    ["generator", async () => {
      const items: unknown[] = [];
      for await (const item of await svc.count(exp.count.n)) items.push(item);
      same(items, exp.count.expected, "count");
    }],
    ["callback", async () => {
      const seen: unknown[] = [];
      const cb = (x: number): number => {
        seen.push(x);
        return x * 10 + 1;
      };
      same(plain(await svc.call_back(cb, exp.callback.x)), exp.callback.expected, "call_back");
      same(seen, [exp.callback.x], "callback invocations");
    }],
    ["exception", async () => {
      let raised: unknown = null;
      try {
        await svc.fail(exp.fail.message);
      } catch (err) {
        raised = err;
      }
      if (raised === null) throw new Error("fail() did not reject");
      if (!String((raised as Error)?.message ?? raised).includes(exp.fail.message)) {
        throw new Error(`rejection does not carry the message: ${String(raised)}`);
      }
    }],
  ];
}

async function main(serverUrl: string, serviceId: string, transport: string, only: Set<string> | null): Promise<number> {
  const exp = loadExpectations();
  const checks: Record<string, true | string> = {};
  const why = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  let server: Any = null;
  try {
    server = await hyphaWebsocketClient.connectToServer({
      server_url: serverUrl,
      name: "js-workload-caller",
      transport,
      logger: stderrLogger,
    } as Any);
    checks.connect = true;
    const svc = await server.getService(serviceId);
    checks.get_service = true;
    for (const [name, run] of buildChecks(svc, exp)) {
      if (only && !only.has(name)) continue;
      try {
        await run();
        checks[name] = true;
      } catch (err) {
        checks[name] = why(err);
        console.error(`[js-caller] check ${name} failed:`, err);
      }
    }
  } catch (err) {
    if (checks.connect === undefined) checks.connect = why(err);
    else checks.get_service = why(err);
    console.error("[js-caller] fatal:", err);
  } finally {
    if (server) {
      await Promise.race([
        Promise.resolve(server.disconnect()).catch(() => {}),
        new Promise((r) => setTimeout(r, 5000).unref()),
      ]);
    }
  }
  const ok = Object.values(checks).every((v) => v === true);
  emit({ ok, transport, checks });
  return ok ? 0 : 1;
}

routeConsoleToStderr();
const args = process.argv.slice(2);
const tIdx = args.indexOf("--transport");
const transport = tIdx >= 0 ? args.splice(tIdx, 2)[1] ?? "websocket" : "websocket";
const cIdx = args.indexOf("--checks");
const checksArg = cIdx >= 0 ? args.splice(cIdx, 2)[1] ?? "" : null;
const only = checksArg === null ? null : new Set(checksArg.split(",").filter(Boolean));
const [serverUrl, serviceId] = args;
if (!serverUrl || !serviceId || !["websocket", "http"].includes(transport)) {
  console.error("usage: js-caller.ts SERVER_URL SERVICE_FULL_ID [--transport websocket|http] [--checks a,b]");
  process.exit(2);
}
main(serverUrl, serviceId, transport, only).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error("[js-caller] fatal:", err);
    process.exit(1);
  },
);
