#!/usr/bin/env bash
# `npm run bench [-- --full | --smoke | --profile lan,wan | --scenario S1,S3 | --topology T1 | --reps N]`:
# makes sure the pinned Python venv exists, then runs the benchmark (bench/run.ts). Reports, never asserts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/setup-python.sh
exec node --import tsx bench/run.ts "$@"
