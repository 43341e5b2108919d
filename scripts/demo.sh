#!/usr/bin/env bash
# `npm run demo`: installs what is missing, then runs scripts/demo.ts (a real hypha server, the pair, and
# real Python and JS clients through it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/setup-python.sh
exec node --import tsx scripts/demo.ts "$@"
