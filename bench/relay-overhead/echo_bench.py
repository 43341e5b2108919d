# Small-call benchmark client for bench/relay-overhead: registers an echo service on one connection and
# calls it from a second one, sequentially and with 64 calls in flight; prints one JSON line of figures.
import asyncio, json, sys, time
from hypha_rpc import connect_to_server

MARKS = len(sys.argv) > 4 and sys.argv[4] == "--marks"

def mark(name):
    # With --marks the runner samples the proxies' CPU at each mark and answers with one line.
    if MARKS:
        print(f"mark {name}", flush=True)
        sys.stdin.readline()

async def main(url, sequential, concurrent_total):
    server = await connect_to_server({"server_url": url})
    await server.register_service({"id": "echo-bench", "config": {"visibility": "public"}, "echo": lambda x: x})
    caller = await connect_to_server({"server_url": url})
    svc = await caller.get_service(f"{server.config.workspace}/{server.config.client_id}:echo-bench")
    payload = {"text": "x" * 150, "n": 42, "tags": ["a", "b"]}
    for _ in range(20):  # warm-up
        assert await svc.echo(payload) == payload
    latencies = []
    mark("sequential")
    for _ in range(sequential):
        t0 = time.perf_counter()
        result = await svc.echo(payload)
        latencies.append((time.perf_counter() - t0) * 1000)
        assert result == payload
    mark("concurrent")
    sem = asyncio.Semaphore(64)
    async def one():
        async with sem:
            assert await svc.echo(payload) == payload
    t0 = time.perf_counter()
    await asyncio.gather(*[one() for _ in range(concurrent_total)])
    concurrent_s = time.perf_counter() - t0
    mark("end")
    latencies.sort()
    print(json.dumps({
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "sequential_calls_per_s": sequential / (sum(latencies) / 1000),
        "concurrent_calls_per_s": concurrent_total / concurrent_s,
    }))
    await caller.disconnect()
    await server.disconnect()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
