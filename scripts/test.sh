#!/usr/bin/env bash
# Runs the test suite. `--unit` runs only the in-memory tests; otherwise one real hypha server is
# started for all integration tests (its URL is exported as HYPHA_TEST_SERVER_URL) and stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
mode="${1:-all}"
# No --test-force-exit: it loses verdicts (nodejs/node#64833: the parent reports fewer tests than ran, exit 0;
# seen here as 435-450 of 450 unit tests, the tail of test/link/retransmit-log.test.ts dropped). The one file
# whose process does not exit by itself, test/integration/link-faults.test.ts (after its last test passed it
# spins at 100% CPU in Node's exit cleanup, FreeEnvironment -> CleanupHandles; reproduced on 2026-12-01), runs on
# its own with the flag (its four tests). A bound on each run fails loudly should another process hang
# (HYPHA_ACCEL_TEST_TIMEOUT_MIN, default 10 for --unit, 45 for the full suite).
run_bounded() {
  local minutes="$1"; shift
  local rc=0
  timeout --kill-after=20s "${minutes}m" "$@" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "scripts/test.sh: the test run did not end within ${minutes} min (a test or a test process hung; the last file reported above is the suspect)" >&2
  fi
  return "$rc"
}
mapfile -t unit < <(find test -name '*.test.ts' -not -path 'test/integration/*' | sort)
if [ "$mode" = "--unit" ]; then
  run_bounded "${HYPHA_ACCEL_TEST_TIMEOUT_MIN:-10}" node --import tsx --test --test-reporter=spec "${unit[@]}"
  exit
fi
bash scripts/setup-python.sh
exits_stuck=test/integration/link-faults.test.ts
mapfile -t integration < <(find test/integration -name '*.test.ts' -not -path "$exits_stuck" | sort)
eval "$(node --import tsx scripts/start-hypha.ts --export)"
trap 'kill "$HYPHA_TEST_SERVER_PID" 2>/dev/null || true' EXIT
rc=0
run_bounded "${HYPHA_ACCEL_TEST_TIMEOUT_MIN:-45}" node --import tsx --test --test-reporter=spec --test-concurrency=1 "${unit[@]}" "${integration[@]}" || rc=$?
run_bounded 10 node --import tsx --test --test-force-exit --test-reporter=spec "$exits_stuck" || rc=$?
exit "$rc"
