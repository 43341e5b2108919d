#!/usr/bin/env bash
# Runs the test suite. `--unit` runs only the in-memory tests; otherwise one real hypha server is
# started for all integration tests (its URL is exported as HYPHA_TEST_SERVER_URL) and stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
mode="${1:-all}"
# --test-force-exit: each test file's process exits once its tests are done. A file whose natural exit got
# stuck in Node's handle cleanup (seen once: link-faults.test.ts spun at 100% CPU in
# FreeEnvironment -> CleanupHandles after its last test passed, a socket's close never completing) would
# otherwise hang the whole run.
mapfile -t unit < <(find test -name '*.test.ts' -not -path 'test/integration/*' | sort)
if [ "$mode" = "--unit" ]; then
  exec node --import tsx --test --test-force-exit --test-reporter=spec "${unit[@]}"
fi
bash scripts/setup-python.sh
mapfile -t integration < <(find test/integration -name '*.test.ts' | sort)
eval "$(node --import tsx scripts/start-hypha.ts --export)"
trap 'kill "$HYPHA_TEST_SERVER_PID" 2>/dev/null || true' EXIT
node --import tsx --test --test-force-exit --test-reporter=spec --test-concurrency=1 "${unit[@]}" "${integration[@]}"
