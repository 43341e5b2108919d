# Benchmark client (real hypha-rpc, Python): one process, one connection, driven by JSON lines on stdin
# ({"id", "op", ...}) and answering JSON lines on stdout ({"id", "ok", ...}). Every returned value is
# checked against what was sent, so a fast wrong answer fails the run instead of flattering it.
# `bench_client.py --bootstrap URL SERVICE_ID` instead times connect + get_service + first call, then exits.
import asyncio
import hashlib
import json
import sys
import time

import numpy as np
from hypha_rpc import connect_to_server

T_PROCESS_START = time.perf_counter()


def make_array(kind, nbytes, seed=1):
    """Deterministic arrays: image-like uint16 with background, float32 weights, random bytes."""
    rng = np.random.default_rng(seed)
    if kind == "image":
        cols = 2048
        rows = max(1, nbytes // (2 * cols))
        img = rng.integers(0, 8, size=(rows, cols), dtype=np.uint16) + 100
        for _ in range(max(1, rows // 16)):
            r = int(rng.integers(0, max(1, rows - 32)))
            c = int(rng.integers(0, cols - 32))
            img[r : r + 32, c : c + 32] += rng.integers(1500, 2500, size=img[r : r + 32, c : c + 32].shape, dtype=np.uint16)
        return img
    if kind == "weights":
        return (rng.standard_normal(nbytes // 4, dtype=np.float32) * np.float32(0.02)).astype(np.float32)
    if kind == "random":
        return np.frombuffer(rng.bytes(nbytes), dtype=np.uint8).copy()
    raise ValueError(f"unknown array kind {kind}")


def mutate(arr, fraction, seed):
    """A copy with `fraction` of its bytes overwritten, as one contiguous region in the middle."""
    out = arr.copy()
    flat = out.reshape(-1).view(np.uint8)
    count = max(1, int(flat.size * fraction))
    start = (flat.size - count) // 2
    flat[start : start + count] = np.frombuffer(np.random.default_rng(seed).bytes(count), dtype=np.uint8)
    return out


def digest(arr):
    arr = np.ascontiguousarray(arr)
    return {"sha256": hashlib.sha256(arr.view(np.uint8).reshape(-1)).hexdigest(), "shape": list(arr.shape), "dtype": str(arr.dtype)}


def small_payload(i):
    # ~200 bytes once packed: a short text, a counter that makes every call's answer unique, and tags.
    return {"text": "hypha-accel small call " + "x" * 120, "n": i, "tags": ["bench", "s1"], "ok": True}


# Arrays a client keeps ready (S4 needs a base and its changed copy; older seeds are dropped).
ARRAYS_KEPT = 4


class Client:
    def __init__(self):
        self.server = None
        self.service = None
        self.arrays = {}
        self.stops = {}

    async def op_connect(self, req):
        t0 = time.perf_counter()
        self.server = await connect_to_server({"server_url": req["server_url"], "method_timeout": 120})
        return {"ms": (time.perf_counter() - t0) * 1000, "workspace": self.server.config.workspace, "client_id": self.server.config.client_id}

    async def op_register(self, req):
        def echo(x):
            return x

        def array_digest(arr):
            return digest(np.asarray(arr))

        info = await self.server.register_service(
            {"id": req["service_id"], "config": {"visibility": "public"}, "echo": echo, "digest": array_digest}
        )
        return {"service_id": info["id"]}

    async def op_get_service(self, req):
        t0 = time.perf_counter()
        self.service = await self.server.get_service(req["service_id"])
        return {"ms": (time.perf_counter() - t0) * 1000}

    async def op_small_calls(self, req):
        calls, concurrency = int(req["calls"]), int(req.get("concurrency", 1))
        base = int(req.get("base", 0))
        latencies = [0.0] * calls
        errors = []
        next_index = 0

        async def worker():
            nonlocal next_index
            while next_index < calls:
                i = next_index
                next_index += 1
                payload = small_payload(base + i)
                t0 = time.perf_counter()
                result = await self.service.echo(payload)
                latencies[i] = (time.perf_counter() - t0) * 1000
                if result != payload:
                    errors.append(f"call {i}: wrong echo {str(result)[:80]}")

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        seconds = time.perf_counter() - t0
        if errors:
            raise AssertionError(f"{len(errors)} wrong answers, first: {errors[0]}")
        return {"seconds": seconds, "latencies_ms": latencies}

    async def op_latency_loop(self, req):
        stop = asyncio.Event()
        self.stops[req["loop"]] = stop
        latencies, i = [], 0
        t_start = time.perf_counter()
        while not stop.is_set():
            payload = small_payload(i)
            t0 = time.perf_counter()
            result = await self.service.echo(payload)
            latencies.append((time.perf_counter() - t0) * 1000)
            if result != payload:
                raise AssertionError(f"call {i}: wrong echo")
            i += 1
        return {"latencies_ms": latencies, "seconds": time.perf_counter() - t_start}

    async def op_stop(self, req):
        stop = self.stops.pop(req["loop"], None)
        if stop:
            stop.set()
        return {}

    def array_for(self, req):
        """(array, digest) for a request's kind, nbytes, seed and variant; variant > 0 is the seed's base
        array with 1% of its bytes changed. Each measurement that must be a first transfer asks for its own
        seed: the pair deduplicates what it has seen before, so reusing an array would flatter it."""
        kind, nbytes, variant, seed = req["kind"], int(req["nbytes"]), int(req.get("variant", 0)), int(req.get("seed", 1))
        key = (kind, nbytes, variant, seed)
        if key not in self.arrays:
            base_key = (kind, nbytes, 0, seed)
            if base_key not in self.arrays:
                base = make_array(kind, nbytes, seed)
                self.arrays[base_key] = (base, digest(base))
            if variant != 0:
                arr = mutate(self.arrays[base_key][0], 0.01, variant)
                self.arrays[key] = (arr, digest(arr))
        entry = self.arrays.pop(key)
        self.arrays[key] = entry  # most recently used last
        while len(self.arrays) > ARRAYS_KEPT:
            self.arrays.pop(next(iter(self.arrays)))
        return entry

    async def op_prepare(self, req):
        t0 = time.perf_counter()
        self.array_for(req)
        return {"seconds": time.perf_counter() - t0}

    async def op_bulk(self, req):
        arr, expected = self.array_for(req)
        t0 = time.perf_counter()
        result = await self.service.digest(arr)
        seconds = time.perf_counter() - t0
        got = {"sha256": result["sha256"], "shape": list(result["shape"]), "dtype": result["dtype"]}
        if got != expected:
            raise AssertionError(f"wrong digest: {got} != {expected}")
        return {"seconds": seconds, "nbytes": int(arr.nbytes)}

    # --- S7 (link outage) ops: they survive failures and count them instead of raising, except for a
    # wrong answer, which always raises. Times are this process's perf_counter seconds (see op_now).

    def _watch(self):
        """Counts this connection's reconnections, once installed (idempotent). hypha-rpc 0.21.47 fires the
        RPC event "connected" from the connection's on_connected hook on every successful (re)open after
        connect_to_server, and "services_registered" after re-registering services; the connection's
        disconnect handler is wrapped to count link losses it noticed."""
        if getattr(self, "watch", None) is not None:
            return self.watch
        watch = {"connected": 0, "disconnected": 0, "registered_ok": 0, "registered_failed": 0, "last_connected_t": None}
        rpc = self.server.rpc

        def on_connected(_info):
            watch["connected"] += 1
            watch["last_connected_t"] = time.perf_counter()

        def on_registered(info):
            if info and not info.get("failed"):
                watch["registered_ok"] += 1
            else:
                watch["registered_failed"] += 1

        def on_registration_failed(_info):
            watch["registered_failed"] += 1

        rpc.on("connected", on_connected)
        rpc.on("services_registered", on_registered)
        rpc.on("services_registration_failed", on_registration_failed)
        conn = rpc._connection
        inner = conn._handle_disconnected

        def on_disconnected(reason=None):
            watch["disconnected"] += 1
            if inner:
                return inner(reason)

        conn._handle_disconnected = on_disconnected
        self.watch = watch
        return watch

    async def op_conn_state(self, req):
        """Reconnection counters and whether the connection is up and not reconnecting."""
        watch = self._watch()
        conn = self.server.rpc._connection
        ws = conn._websocket
        is_open = ws is not None and getattr(ws.state, "name", str(ws.state)) == "OPEN"
        return {
            "connected": watch["connected"],
            "disconnected": watch["disconnected"],
            "registered_ok": watch["registered_ok"],
            "registered_failed": watch["registered_failed"],
            "last_connected_t": watch["last_connected_t"],
            "open": is_open,
            "reconnecting": conn._reconnected_event is not None,
            "closed": bool(conn._closed),
            "t": time.perf_counter(),
        }

    async def op_now(self, req):
        return {"t": time.perf_counter()}

    async def _timed_echo(self, i, timeout_s):
        """One checked echo with a deadline: (t_start, t_end, outcome) with outcome ok/timeout/error text."""
        payload = small_payload(i)
        t0 = time.perf_counter()
        try:
            result = await asyncio.wait_for(self.service.echo(payload), timeout_s)
        except asyncio.TimeoutError:
            return (t0, time.perf_counter(), "timeout")
        except Exception as exc:  # a call that raised is a lost call, counted by the runner
            return (t0, time.perf_counter(), f"{type(exc).__name__}: {str(exc)[:160]}")
        if result != payload:
            raise AssertionError(f"call {i}: wrong echo {str(result)[:80]}")
        return (t0, time.perf_counter(), "ok")

    async def op_blip_calls(self, req):
        """Sequential checked echoes until op_stop(loop); a call that times out or raises is recorded and
        the loop goes on. Returns every call as [t_start, t_end, outcome]."""
        stop = asyncio.Event()
        self.stops[req["loop"]] = stop
        timeout_s = float(req.get("timeout_s", 15))
        base = int(req.get("base", 0))
        calls, i = [], 0
        while not stop.is_set():
            calls.append(list(await self._timed_echo(base + i, timeout_s)))
            i += 1
        return {"calls": calls}

    async def op_probe_until_ok(self, req):
        """From now, starts a checked echo every interval_s (each with its own deadline) until one succeeds
        or deadline_s passes; returns every probe as [t_start, t_end, outcome] once all have ended."""
        timeout_s = float(req.get("timeout_s", 15))
        interval_s = float(req.get("interval_s", 0.25))
        deadline = time.perf_counter() + float(req.get("deadline_s", 30))
        base = int(req.get("base", 1_000_000))
        done = asyncio.Event()
        tasks = []

        async def probe(i):
            out = await self._timed_echo(base + i, timeout_s)
            if out[2] == "ok":
                done.set()
            return out

        i = 0
        while not done.is_set() and time.perf_counter() < deadline:
            tasks.append(asyncio.ensure_future(probe(i)))
            i += 1
            try:
                await asyncio.wait_for(done.wait(), interval_s)
            except asyncio.TimeoutError:
                pass
        probes = await asyncio.gather(*tasks)
        return {"probes": [list(p) for p in probes]}

    async def op_blip_bulk(self, req):
        """Like op_bulk, but a timeout or a raised call is reported (upload_ok False) instead of raised.
        A wrong digest still raises."""
        arr, expected = self.array_for(req)
        t0 = time.perf_counter()
        try:
            result = await asyncio.wait_for(self.service.digest(arr), float(req.get("timeout_s", 30)))
        except asyncio.TimeoutError:
            return {"upload_ok": False, "t_start": t0, "t_end": time.perf_counter(), "outcome": "timeout"}
        except Exception as exc:
            return {"upload_ok": False, "t_start": t0, "t_end": time.perf_counter(), "outcome": f"{type(exc).__name__}: {str(exc)[:160]}"}
        t1 = time.perf_counter()
        got = {"sha256": result["sha256"], "shape": list(result["shape"]), "dtype": result["dtype"]}
        if got != expected:
            raise AssertionError(f"wrong digest: {got} != {expected}")
        return {"upload_ok": True, "t_start": t0, "t_end": t1, "seconds": t1 - t0, "nbytes": int(arr.nbytes), "outcome": "ok"}

    async def op_disconnect(self, req):
        if self.server:
            await self.server.disconnect()
        return {}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def serve(target, close):
    """The JSON-line loop shared by the bench clients: each stdin line {"id", "op", ...} runs
    target.op_<op>(request) concurrently and answers {"id", "ok", ...}; at end of input, pending requests
    are cancelled and close() runs (its failure is ignored: the process is exiting)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()

    async def handle(req):
        try:
            result = await getattr(target, "op_" + req["op"])(req)
            emit({"id": req["id"], "ok": True, **result})
        except Exception as exc:  # reported to the runner, which records the failure
            emit({"id": req["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"})

    emit({"event": "ready"})
    while True:
        line = await reader.readline()
        if not line:
            break
        task = asyncio.ensure_future(handle(json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in list(tasks):
        task.cancel()
    try:
        await close()
    except Exception:
        pass


async def disconnect_client(client):
    if client.server:
        await asyncio.wait_for(client.server.disconnect(), 5)


async def bootstrap(url, service_id):
    t_imported = time.perf_counter()
    server = await connect_to_server({"server_url": url})
    t_connected = time.perf_counter()
    svc = await server.get_service(service_id)
    t_service = time.perf_counter()
    payload = small_payload(7)
    result = await svc.echo(payload)
    t_result = time.perf_counter()
    if result != payload:
        raise AssertionError("wrong echo")
    emit({
        "ok": True,
        "import_ms": (t_imported - T_PROCESS_START) * 1000,
        "connect_ms": (t_connected - t_imported) * 1000,
        "get_service_ms": (t_service - t_connected) * 1000,
        "first_call_ms": (t_result - t_service) * 1000,
        "in_process_ms": (t_result - t_imported) * 1000,
    })
    await server.disconnect()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bootstrap":
        asyncio.run(bootstrap(sys.argv[2], sys.argv[3]))
    else:
        client = Client()
        asyncio.run(serve(client, lambda: disconnect_client(client)))
