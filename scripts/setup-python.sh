#!/usr/bin/env bash
# Creates .venv with the pinned hypha server and hypha-rpc Python client (idempotent, fast when present).
set -euo pipefail
cd "$(dirname "$0")/.."
HYPHA_VERSION="0.21.137"
HYPHA_RPC_VERSION="0.21.47"
PY="${PYTHON:-python3}"
stamp=".venv/.pinned-$HYPHA_VERSION-$HYPHA_RPC_VERSION"
if [ -f "$stamp" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check \
  "hypha==$HYPHA_VERSION" "hypha-rpc==$HYPHA_RPC_VERSION" numpy
touch "$stamp"
echo "python venv ready: hypha $HYPHA_VERSION, hypha-rpc $HYPHA_RPC_VERSION"
