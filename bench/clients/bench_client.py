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

    def array_for(self, kind, nbytes, variant):
        """(array, digest) for a kind and size; variant > 0 is the base with 1% of its bytes changed."""
        key = (kind, nbytes, variant)
        if key not in self.arrays:
            base_key = (kind, nbytes, 0)
            if base_key not in self.arrays:
                base = make_array(kind, nbytes)
                self.arrays[base_key] = (base, digest(base))
            if variant != 0:
                arr = mutate(self.arrays[base_key][0], 0.01, variant)
                self.arrays[key] = (arr, digest(arr))
        return self.arrays[key]

    async def op_prepare(self, req):
        t0 = time.perf_counter()
        self.array_for(req["kind"], int(req["nbytes"]), int(req.get("variant", 0)))
        return {"seconds": time.perf_counter() - t0}

    async def op_bulk(self, req):
        arr, expected = self.array_for(req["kind"], int(req["nbytes"]), int(req.get("variant", 0)))
        t0 = time.perf_counter()
        result = await self.service.digest(arr)
        seconds = time.perf_counter() - t0
        got = {"sha256": result["sha256"], "shape": list(result["shape"]), "dtype": result["dtype"]}
        if got != expected:
            raise AssertionError(f"wrong digest: {got} != {expected}")
        return {"seconds": seconds, "nbytes": int(arr.nbytes)}

    async def op_disconnect(self, req):
        if self.server:
            await self.server.disconnect()
        return {}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def serve():
    client = Client()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()

    async def handle(req):
        try:
            result = await getattr(client, "op_" + req["op"])(req)
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
    if client.server:
        try:
            await asyncio.wait_for(client.server.disconnect(), 5)
        except Exception:
            pass


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
        asyncio.run(serve())
