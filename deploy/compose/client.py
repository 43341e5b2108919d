# A plain hypha-rpc client for the compose example: registers a service through the edge, calls it through
# the edge (small call and a 8 MiB bytes value), prints what came back, exits 0 when every result is right.
import asyncio
import sys

from hypha_rpc import connect_to_server


async def main(url):
    server = await connect_to_server({"server_url": url})
    await server.register_service({"id": "echo", "config": {"visibility": "public"}, "echo": lambda x: x})
    caller = await connect_to_server({"server_url": url})
    svc = await caller.get_service(f"{server.config.workspace}/{server.config.client_id}:echo")
    small = await svc.echo({"hello": "hypha"})
    blob = bytes(range(256)) * 32768
    big = await svc.echo(blob)
    ok = small == {"hello": "hypha"} and bytes(big) == blob
    print(f"through the edge at {url}: small call {small}, {len(big)} bytes echoed, ok={ok}", flush=True)
    await caller.disconnect()
    await server.disconnect()
    sys.exit(0 if ok else 1)


asyncio.run(main(sys.argv[1]))
