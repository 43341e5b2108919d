# S6 fan-in driver (real hypha-rpc, Python): one process holding MANY hypha-rpc connections in one asyncio
# loop, driven by JSON lines on stdin ({"id", "op", ...}) and answering JSON lines on stdout
# ({"id", "ok", ...}); {"event": "ready"} when it can take requests.
#
# ops:
#   connect    {server_url, count, concurrency, service_id?}  opens `count` connect_to_server connections,
#              at most `concurrency` handshakes at a time; with service_id every connection also gets the
#              service (an active client). Any failed connect fails the op (no partial fan-in is reported).
#   run        {seconds}  every active connection calls echo(small_payload) in a loop, one call at a time,
#              until `seconds` have passed; every answer is compared with what was sent (each payload
#              carries a counter unique to the client and call, so a misrouted reply fails the check).
#              Answers the number of calls, the wall time and each call's latency.
#   disconnect {}  disconnects every connection (bounded concurrency) and forgets them.
# On end of stdin the process disconnects whatever is left and exits.
import asyncio
import sys
import time

from hypha_rpc import connect_to_server

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_client import serve, small_payload  # noqa: E402  (the same JSON-line loop and ~200 B payload as S1)


class FanIn:
    def __init__(self):
        self.conns = []  # (server, service or None)

    async def op_connect(self, req):
        url, count = req["server_url"], int(req["count"])
        concurrency = max(1, int(req.get("concurrency", 20)))
        service_id = req.get("service_id")
        gate = asyncio.Semaphore(concurrency)
        failures = []
        opened = []
        connect_ms = []

        async def one(i):
            async with gate:
                t0 = time.perf_counter()
                try:
                    server = await connect_to_server({"server_url": url, "method_timeout": 120})
                except Exception as exc:
                    failures.append(f"connect {i}: {type(exc).__name__}: {exc}")
                    return
                service = None
                try:
                    if service_id:
                        service = await server.get_service(service_id)
                except Exception as exc:
                    failures.append(f"get_service {i}: {type(exc).__name__}: {exc}")
                    opened.append((server, None))
                    return
                connect_ms.append((time.perf_counter() - t0) * 1000)
                opened.append((server, service))

        t0 = time.perf_counter()
        await asyncio.gather(*[one(i) for i in range(count)])
        seconds = time.perf_counter() - t0
        self.conns.extend(opened)
        if failures:
            raise ConnectionError(f"{len(failures)} of {count} connections failed, first: {failures[0]}")
        connect_ms.sort()
        return {
            "connected": len(opened),
            "total": len(self.conns),
            "seconds": seconds,
            "connect_p50_ms": connect_ms[len(connect_ms) // 2] if connect_ms else None,
            "connect_max_ms": connect_ms[-1] if connect_ms else None,
        }

    async def op_run(self, req):
        seconds = float(req["seconds"])
        active = [svc for _, svc in self.conns if svc is not None]
        if not active:
            raise RuntimeError("no active connections")
        latencies = []
        errors = []
        per_client = [0] * len(active)
        deadline = time.perf_counter() + seconds

        async def loop(k, svc):
            i = 0
            while time.perf_counter() < deadline:
                payload = small_payload(k * 10_000_000 + i)
                t0 = time.perf_counter()
                result = await svc.echo(payload)
                latencies.append((time.perf_counter() - t0) * 1000)
                if result != payload:
                    errors.append(f"client {k} call {i}: wrong echo {str(result)[:80]}")
                    return
                i += 1
            per_client[k] = i

        t0 = time.perf_counter()
        await asyncio.gather(*[loop(k, svc) for k, svc in enumerate(active)])
        wall = time.perf_counter() - t0
        if errors:
            raise AssertionError(f"{len(errors)} wrong answers, first: {errors[0]}")
        return {
            "calls": len(latencies),
            "seconds": wall,
            "clients": len(active),
            "min_calls_per_client": min(per_client),
            "latencies_ms": [round(x, 3) for x in latencies],
        }

    async def op_disconnect(self, req):
        conns, self.conns = self.conns, []
        gate = asyncio.Semaphore(max(1, int(req.get("concurrency", 50))))
        failures = []

        async def one(server):
            async with gate:
                try:
                    await asyncio.wait_for(server.disconnect(), 15)
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")

        t0 = time.perf_counter()
        await asyncio.gather(*[one(server) for server, _ in conns])
        return {"disconnected": len(conns) - len(failures), "failures": len(failures), "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    fan = FanIn()
    asyncio.run(serve(fan, lambda: asyncio.wait_for(fan.op_disconnect({}), 30)))
