# Python client under load for restart tests: registers a small public service, then keeps LOOPS
# concurrent loops calling it through the server (get_service + echo of 4 KiB) and the workspace
# manager (list_services), printing a JSON line per call ({"event":"call","ok",...,"t": epoch ms}) and
# per (re)connection event, until stdin closes or SIGTERM.
# usage: py_looper.py SERVER_URL SERVICE_ID
import asyncio
import sys
import time

from hypha_rpc import connect_to_server

from py_service import wait_for_stop
from workload_common import emit, log

LOOPS = 2
PAYLOAD = bytes(range(256)) * 16  # 4 KiB
CALL_TIMEOUT_S = 10


async def call_loop(server, service_id, stop):
    while not stop.is_set():
        started = time.time()
        try:
            svc = await asyncio.wait_for(server.get_service(service_id), CALL_TIMEOUT_S)
            echoed = await asyncio.wait_for(svc.echo(PAYLOAD), CALL_TIMEOUT_S)
            await asyncio.wait_for(server.list_services(), CALL_TIMEOUT_S)
            ok = bytes(echoed) == PAYLOAD
            emit({"event": "call", "ok": ok, "t": int(started * 1000)})
        except Exception as err:  # noqa: BLE001 - every failure is reported, the loop goes on
            emit({"event": "call", "ok": False, "t": int(started * 1000), "err": repr(err)[:200]})
            await asyncio.sleep(0.2)


async def main(server_url, service_id):
    server = await connect_to_server({"server_url": server_url, "name": "py-looper"})
    info = await server.register_service(
        {"id": service_id, "config": {"visibility": "public"}, "echo": lambda x: x}
    )
    rpc = server.rpc
    rpc.on("connected", lambda *_: emit({"event": "connected"}))
    rpc.on("services_registered", lambda *_: emit({"event": "services_registered"}))
    rpc.on("disconnected", lambda *_: emit({"event": "disconnected"}))
    emit({"ready": True, "workspace": server.config.workspace, "client_id": server.config.client_id, "service_id": info.id})
    stop = asyncio.Event()
    loops = [asyncio.ensure_future(call_loop(server, info.id, stop)) for _ in range(LOOPS)]
    await wait_for_stop()
    stop.set()
    for task in loops:
        task.cancel()
    log("stopping")
    try:
        await asyncio.wait_for(server.disconnect(), 5)
    except Exception as err:  # noqa: BLE001
        log("disconnect failed:", err)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: py_looper.py SERVER_URL SERVICE_ID", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except Exception as err:  # noqa: BLE001
        log("fatal:", repr(err))
        sys.exit(1)
