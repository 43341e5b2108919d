#!/usr/bin/env bash
# Installs Debian's redis-server for the scale-out test (test/integration/scale-out.test.ts starts its
# own instance on a loopback port; none is left running). Idempotent: nothing happens when it is on PATH.
set -euo pipefail
command -v redis-server >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server)
redis-server --version
