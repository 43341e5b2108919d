# Shared workload definitions for the Python service and caller: the expectations file, the
# deterministic test data (arrays, bytes) and the service's pure transformations.
# js-common.ts implements the same definitions for the JS programs; keep the two in step.
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load_expectations():
    with open(os.path.join(HERE, "expectations.json"), encoding="utf-8") as f:
        return json.load(f)


def log(*parts):
    print("[%s]" % os.path.basename(sys.argv[0]), *parts, file=sys.stderr, flush=True)


def emit(obj):
    """Print one JSON line on stdout."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def make_bytes(n):
    return bytes((i * 31 + 7) % 256 for i in range(n)) if n < 65536 else (
        np.arange(n, dtype=np.uint32) * 31 + 7
    ).astype(np.uint8).tobytes()


def make_array(dtype, shape):
    size = int(np.prod(shape))
    base = (np.arange(size, dtype=np.int64) * 7919) % 1000
    kind = np.dtype(dtype)
    if kind.kind == "f":
        values = (base - 500) / 4.0
    elif dtype == "uint8":
        values = base % 256
    elif dtype == "int8":
        values = (base % 256) - 128
    elif kind.kind == "i":
        values = base - 500
    else:
        values = base
    return values.astype(dtype).reshape(shape)


def array_stats(arr):
    arr = np.asarray(arr)
    wide = arr.astype(np.float64)
    return {
        "shape": [int(s) for s in arr.shape],
        "dtype": str(arr.dtype),
        "size": int(arr.size),
        "sum": float(wide.sum()),
        "min": float(wide.min()) if arr.size else None,
        "max": float(wide.max()) if arr.size else None,
    }


def nested_transform(d):
    items = list(d["items"])
    inner = d["inner"]
    return {
        "name": d["name"].upper(),
        "count": len(items),
        "total": sum(items),
        "tags": list(reversed(list(d["tags"]))),
        "inner": {
            "flag": not inner["flag"],
            "label": inner["label"][::-1],
            "deeper": {"keys": [e["k"] for e in inner["deeper"]["list"]]},
        },
        "input": d,
    }


def plain(value):
    """Convert hypha-rpc proxies (ObjectProxy, tuples) into plain JSON-like Python values."""
    if isinstance(value, dict) or hasattr(value, "items") and not isinstance(value, (bytes, str)):
        try:
            return {str(k): plain(v) for k, v in value.items()}
        except Exception:  # noqa: BLE001 - not a mapping after all
            pass
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def run_server_client(main, program):
    """Runs `main(server_url, service_id)` from the command line: usage error 2, a fatal error logged and 1."""
    import asyncio

    if len(sys.argv) != 3:
        print(f"usage: {program} SERVER_URL SERVICE_ID", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except Exception as err:  # noqa: BLE001
        log("fatal:", repr(err))
        sys.exit(1)
