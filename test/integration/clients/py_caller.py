# Python workload caller: gets a workload service (Python or JS) by its full id and exercises every
# function, checking each result against expectations.json; prints ONE JSON line
# {"ok": bool, "checks": {name: true | "why it failed"}} and exits 1 when any check failed.
# usage: py_caller.py SERVER_URL SERVICE_FULL_ID [--transport websocket|http] [--checks a,b]
import argparse
import asyncio
import sys
import traceback

import numpy as np
from hypha_rpc import connect_to_server

from workload_common import (
    array_stats,
    emit,
    load_expectations,
    log,
    make_array,
    make_bytes,
    plain,
)


def as_ndarray(value):
    """A JS service echoes ndarrays back unchanged; typed arrays become 1-D numpy arrays."""
    if isinstance(value, np.ndarray):
        return value
    raise AssertionError("expected numpy.ndarray, got %s" % type(value).__name__)


def same(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s: got %r, expected %r" % (what, actual, expected))


async def run_checks(svc, exp, only=None):
    checks = {}

    async def check(name, coro_fn):
        try:
            await coro_fn()
            checks[name] = True
        except Exception as err:  # noqa: BLE001 - every failure is reported, not raised
            checks[name] = "%s: %s" % (type(err).__name__, err)
            log("check", name, "failed:", traceback.format_exc())

    async def echo():
        for value in exp["echo"]:
            same(plain(await svc.echo(value)), value, "echo")

    async def add_positional():
        same(await svc.add(exp["add"]["a"], exp["add"]["b"]), exp["add"]["expected"], "add")
        s = exp["add_strings"]
        same(await svc.add(s["a"], s["b"]), s["expected"], "add strings")

    async def add_kwargs():
        same(await svc.add(a=exp["add"]["a"], b=exp["add"]["b"]), exp["add"]["expected"], "add kwargs")
        s = exp["add_strings"]
        same(await svc.add(b=s["b"], a=s["a"]), s["expected"], "add kwargs (reordered)")

    async def nested():
        same(plain(await svc.nested(exp["nested"]["input"])), exp["nested"]["expected"], "nested")

    async def bytes_small():
        data = make_bytes(exp["bytes_small_len"])
        same(await svc.bytes_len(data), len(data), "bytes_len")
        echoed = await svc.echo_bytes(data)
        same(bytes(echoed), data, "echo_bytes")

    async def bytes_large():
        data = make_bytes(exp["bytes_large_len"])
        same(await svc.bytes_len(data), len(data), "bytes_len (large)")
        echoed = await svc.echo_bytes(data)
        same(len(echoed), len(data), "echo_bytes length (large)")
        same(bytes(echoed) == data, True, "echo_bytes content (large)")

    async def arrays():
        for spec in exp["arrays"]:
            arr = make_array(spec["dtype"], spec["shape"])
            same(plain(await svc.array_stats(arr)), array_stats(arr), "array_stats %s" % spec)
            back = as_ndarray(await svc.echo_array(arr))
            same((str(back.dtype), list(back.shape)), (spec["dtype"], spec["shape"]), "echo_array meta")
            same(bool(np.array_equal(back, arr)), True, "echo_array values %s" % spec)

    async def array_large():
        spec = exp["array_large"]
        arr = make_array(spec["dtype"], spec["shape"])
        assert arr.nbytes > 1024 * 1024
        same(plain(await svc.array_stats(arr)), array_stats(arr), "array_stats (large)")
        back = as_ndarray(await svc.echo_array(arr))
        same(bool(np.array_equal(back, arr)), True, "echo_array (large)")

    async def generator():
        gen = await svc.count(exp["count"]["n"])
        items = [item async for item in gen]
        same(items, exp["count"]["expected"], "count")

    async def callback():
        seen = []

        def cb(x):
            seen.append(x)
            return x * 10 + 1

        result = plain(await svc.call_back(cb, exp["callback"]["x"]))
        same(result, exp["callback"]["expected"], "call_back")
        same(seen, [exp["callback"]["x"]], "callback invocations")

    async def exception():
        try:
            await svc.fail(exp["fail"]["message"])
        except Exception as err:  # noqa: BLE001 - the reject path is what is checked
            if exp["fail"]["message"] not in str(err):
                raise AssertionError("error does not carry the message: %r" % err) from err
            return
        raise AssertionError("fail() did not raise")

    for name, fn in [
        ("echo", echo),
        ("add_positional", add_positional),
        ("add_kwargs", add_kwargs),
        ("nested", nested),
        ("bytes_small", bytes_small),
        ("bytes_large", bytes_large),
        ("arrays", arrays),
        ("array_large", array_large),
        ("generator", generator),
        ("callback", callback),
        ("exception", exception),
    ]:
        if only is None or name in only:
            await check(name, fn)
    return checks


async def main(args):
    exp = load_expectations()
    checks = {}
    server = None
    try:
        server = await connect_to_server(
            {"server_url": args.server_url, "name": "py-workload-caller", "transport": args.transport}
        )
        checks["connect"] = True
        svc = await server.get_service(args.service_id)
        checks["get_service"] = True
        checks.update(await run_checks(svc, exp, args.checks))
    except Exception as err:  # noqa: BLE001
        checks.setdefault("connect", "%s: %s" % (type(err).__name__, err))
        if checks["connect"] is True:
            checks["get_service"] = "%s: %s" % (type(err).__name__, err)
        log("fatal:", traceback.format_exc())
    finally:
        if server is not None:
            try:
                await asyncio.wait_for(server.disconnect(), 5)
            except Exception as err:  # noqa: BLE001
                log("disconnect failed:", err)
    ok = all(v is True for v in checks.values())
    emit({"ok": ok, "transport": args.transport, "checks": checks})
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("server_url")
    parser.add_argument("service_id")
    parser.add_argument("--transport", choices=["websocket", "http"], default="websocket")
    parser.add_argument(
        "--checks",
        type=lambda v: set(filter(None, v.split(","))),
        default=None,
        help="comma-separated subset of checks to run (default: all)",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
