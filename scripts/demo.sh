#!/usr/bin/env bash
# `npm run demo`: installs what is missing, then runs scripts/demo.ts (a real hypha server, the pair, and
# real Python and JS clients through it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/setup-python.sh
node --import tsx scripts/demo.ts "$@"
# A short side-by-side, direct vs accelerated: the proxies' own cost (lan small calls) next to where the
# pair exists for (a slow 60 ms, 20 Mbit/s link, two clients behind it, an array and repeated data).
echo
echo "side by side (direct with deflate / without / null relay / through the pair), each table labelled"
echo "'overhead' or 'where the pair helps'; a factor > 1 means the pair is better:"
node --import tsx bench/run.ts --demo --out "$(mktemp -d)"
