#!/usr/bin/env bash
# `npm run demo`: installs what is missing, then runs scripts/demo.ts (a real hypha server, the pair, and
# real Python and JS clients through it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/setup-python.sh
node --import tsx scripts/demo.ts "$@"
# A short side-by-side on the emulated `wan` link (20 ms one way, 100 Mbit/s): direct vs accelerated.
echo
echo "side by side on an emulated wan link (direct with deflate / without / through the pair):"
node --import tsx bench/run.ts --demo --out "$(mktemp -d)"
