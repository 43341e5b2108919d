# Python client under load for restart tests: registers a small public service, then keeps LOOPS
# concurrent loops calling it through the workspace manager (get_service + echo of 4 KiB, then
# list_services), each loop at most one round per LOOP_INTERVAL_S so the load stays within hypha's
# per-connection message rate. Prints a JSON line per round ({"event":"call","loop","ok","t": epoch
# ms when the round started, "stage" and "err" on failure}) and per (re)connection event, until stdin
# closes or SIGTERM.
# The loops call through the manager proxy of the RPC's latest "manager_refreshed" event, not the
# `server` object: hypha-rpc 0.21.47's `server` proxy keeps the old manager id after the FIRST
# reconnection (its refresh handler is registered after the initial event and so skips the first
# real one), and a server restart gives the manager a new id.
# A watchdog reports {"event":"reconnection_abandoned"} when hypha-rpc's reconnection has died: a call
# emitted between the socket closing and the listen task noticing opens a connection itself; when that
# open fails (the server still down), its cleanup cancels the reconnect task, leaving the client
# waiting forever (seen directly as through the pair). Read from hypha-rpc's internals, for reporting only.
# usage: py_looper.py SERVER_URL SERVICE_ID
import asyncio
import logging
import os
import sys
import time

from hypha_rpc import connect_to_server

from py_service import wait_for_stop
from workload_common import emit, log, run_server_client

LOOPS = 2
LOOP_INTERVAL_S = 0.1  # 2 loops x 10 rounds/s x 4 messages = 80 messages/s, hypha admits 200/s
# 4 KiB by default; LOOPER_PAYLOAD_BYTES (a multiple of 256) for bulk load, e.g. 4 MiB in the chaos tests.
PAYLOAD = bytes(range(256)) * (int(os.environ.get("LOOPER_PAYLOAD_BYTES", "4096")) // 256)
# LOOPER_PAYLOAD_FRESH=1: new random bytes of that size every round, so the pair's payload plane has nothing
# to deduplicate or compress and carries every chunk over the link.
FRESH = os.environ.get("LOOPER_PAYLOAD_FRESH") == "1"
CALL_TIMEOUT_S = float(os.environ.get("LOOPER_CALL_TIMEOUT_S", "10"))
WATCHDOG_INTERVAL_S = 0.5


def now_ms():
    return int(time.time() * 1000)


async def call_loop(index, current, service_id, stop):
    round_ = 0
    while not stop.is_set():
        started = time.time()
        token = f"{index}-{round_}"  # the service counts invocations per token (exactly once, not only answered)
        round_ += 1
        stage = "get_service"
        try:
            manager = current["manager"]
            svc = await asyncio.wait_for(manager.get_service(service_id), CALL_TIMEOUT_S)
            stage = "echo"
            payload = os.urandom(len(PAYLOAD)) if FRESH else PAYLOAD
            echoed = await asyncio.wait_for(svc.echo(payload, token), CALL_TIMEOUT_S)
            stage = "list_services"
            await asyncio.wait_for(manager.list_services(), CALL_TIMEOUT_S)
            ok = bytes(echoed) == payload
            emit({"event": "call", "loop": index, "ok": ok, "t": int(started * 1000), "token": token})
        except Exception as err:  # noqa: BLE001 - every failure is reported, the loop goes on
            emit({"event": "call", "loop": index, "ok": False, "t": int(started * 1000), "token": token, "stage": stage, "err": repr(err)[:200]})
        await asyncio.sleep(max(0.0, started + LOOP_INTERVAL_S - time.time()))


def reconnection_abandoned(connection):
    """hypha-rpc is mid-reconnection (its event unset) but no reconnect task is alive any more."""
    if connection._closed or connection._reconnected_event is None:
        return False
    names = {getattr(task.get_coro(), "__name__", "") for task in asyncio.all_tasks() if not task.done()}
    return "reconnect_with_retry" not in names


async def watch_reconnection(connection, stop):
    seen = 0
    while not stop.is_set():
        await asyncio.sleep(WATCHDOG_INTERVAL_S)
        seen = seen + 1 if reconnection_abandoned(connection) else 0
        if seen == 2:
            emit({"event": "reconnection_abandoned", "t": now_ms()})


async def main(server_url, service_id):
    server = await connect_to_server({"server_url": server_url, "name": "py-looper"})
    invocations = {}

    def echo(x, token=None):
        if token is not None:
            invocations[token] = invocations.get(token, 0) + 1
            emit({"event": "echo_invoked", "token": token, "n": invocations[token]})
        return x

    info = await server.register_service(
        {"id": service_id, "config": {"visibility": "public"}, "echo": echo}
    )
    current = {"manager": server}
    rpc = server.rpc

    def on_manager_refreshed(data):
        current["manager"] = data["manager"]
        emit({"event": "manager_refreshed", "t": now_ms()})

    rpc.on("manager_refreshed", on_manager_refreshed)
    rpc.on("connected", lambda *_: emit({"event": "connected", "t": now_ms()}))
    rpc.on("disconnected", lambda *_: emit({"event": "disconnected", "t": now_ms()}))
    rpc.on("services_registered", lambda *_: emit({"event": "services_registered", "t": now_ms()}))
    emit({"ready": True, "workspace": server.config.workspace, "client_id": server.config.client_id, "service_id": info.id})
    stop = asyncio.Event()
    loops = [asyncio.ensure_future(call_loop(i, current, info.id, stop)) for i in range(LOOPS)]
    loops.append(asyncio.ensure_future(watch_reconnection(rpc._connection, stop)))
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
    # hypha-rpc's reconnection story on stderr (the test shows its tail when a looper does not recover);
    # hypha_rpc configures logging to stdout on import, which carries our JSON lines: force it over.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True)
    logging.getLogger("websocket-client").setLevel(logging.INFO)
    run_server_client(main, "py_looper.py")
