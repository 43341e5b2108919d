# Python workload service: registers a public hypha service exercising every kind of value the
# harness checks (kwargs, nested data, bytes, numpy, generator, callback, exception), prints a
# ready JSON line, a JSON line per (re)connection event, and runs until stdin closes or SIGTERM.
# usage: py_service.py SERVER_URL SERVICE_ID
import asyncio
import signal
import sys

import numpy as np
from hypha_rpc import connect_to_server

from workload_common import array_stats as _array_stats
from workload_common import emit, log, nested_transform, run_server_client


def build_service(service_id):
    def echo(x):
        return x

    def add(a, b):
        return a + b

    def nested(d):
        return nested_transform(d)

    def bytes_len(b):
        return len(b)

    def echo_bytes(b):
        return bytes(b)

    def as_array(arr):
        # A JS Uint8Array is sent as plain msgpack bin (bytes), not as a typed array.
        if isinstance(arr, (bytes, bytearray, memoryview)):
            return np.frombuffer(bytes(arr), dtype=np.uint8)
        return np.asarray(arr)

    def array_stats(arr):
        return _array_stats(as_array(arr))

    def echo_array(arr):
        return as_array(arr)

    async def count(n):
        for i in range(int(n)):
            yield i

    async def call_back(cb, x):
        result = cb(x)
        if asyncio.iscoroutine(result) or asyncio.isfuture(result):
            result = await result
        return {"x": x, "result": result}

    def fail(msg):
        raise RuntimeError(msg)

    return {
        "id": service_id,
        "name": "hypha-accel py workload",
        "config": {"visibility": "public"},
        "echo": echo,
        "add": add,
        "nested": nested,
        "bytes_len": bytes_len,
        "echo_bytes": echo_bytes,
        "array_stats": array_stats,
        "echo_array": echo_array,
        "count": count,
        "call_back": call_back,
        "fail": fail,
    }


async def wait_for_stop():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def drain_stdin():
        while await reader.read(65536):
            pass
        stop.set()

    drain = asyncio.ensure_future(drain_stdin())
    await stop.wait()
    drain.cancel()


async def main(server_url, service_id):
    server = await connect_to_server({"server_url": server_url, "name": "py-workload-service"})
    info = await server.register_service(build_service(service_id))
    rpc = server.rpc

    def on_connected(conn_info):
        emit({"event": "connected", "workspace": (conn_info or {}).get("workspace")})

    def on_registered(status):
        emit({"event": "services_registered", "status": dict(status or {})})

    def on_disconnected(*_):
        emit({"event": "disconnected"})

    rpc.on("connected", on_connected)
    rpc.on("services_registered", on_registered)
    rpc.on("disconnected", on_disconnected)
    emit(
        {
            "ready": True,
            "workspace": server.config.workspace,
            "client_id": server.config.client_id,
            "service_id": info.id,
        }
    )
    log("registered", info.id)
    await wait_for_stop()
    log("stopping")
    try:
        await asyncio.wait_for(server.disconnect(), 5)
    except Exception as err:  # noqa: BLE001 - best effort on the way out
        log("disconnect failed:", err)


if __name__ == "__main__":
    run_server_client(main, "py_service.py")
