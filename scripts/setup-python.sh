#!/usr/bin/env bash
# Creates .venv with the pinned hypha server and hypha-rpc Python client (idempotent, fast when present).
set -euo pipefail
cd "$(dirname "$0")/.."
HYPHA_VERSION="0.21.137"
HYPHA_RPC_VERSION="0.21.47"
# hypha 0.21.137 imports aiobotocore without declaring it (only in its s3 extra), and sqlmodel >= 0.0.45
# refuses the timezone-less datetimes hypha writes at start-up: pin both to versions seen to work.
EXTRA_PINS=("aiobotocore==3.10.0" "sqlmodel==0.0.44")
PY="${PYTHON:-python3}"
stamp=".venv/.pinned-$HYPHA_VERSION-$HYPHA_RPC_VERSION-2"
if [ -f "$stamp" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check \
  "hypha==$HYPHA_VERSION" "hypha-rpc==$HYPHA_RPC_VERSION" numpy "${EXTRA_PINS[@]}"
touch "$stamp"
echo "python venv ready: hypha $HYPHA_VERSION, hypha-rpc $HYPHA_RPC_VERSION"
