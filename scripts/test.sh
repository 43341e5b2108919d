#!/usr/bin/env bash
# Runs the test suite. `--unit` runs only the in-memory tests; otherwise one real hypha server is
# started for all integration tests (its URL is exported as HYPHA_TEST_SERVER_URL) and stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
mode="${1:-all}"
# No run uses the runner's --test-force-exit: it drops verdicts (nodejs/node#64833: the parent reports fewer
# tests than ran, exit 0; seen here as 435-450 of 450 unit tests). The integration files once needed it:
# link-faults.test.ts and link-outage.test.ts were seen, after their last test passed, spinning at 100% CPU
# in Node's exit cleanup (FreeEnvironment -> CleanupHandles) for 10+ minutes: the spin a socket reset while
# its FIN is under way leaves, which their fault proxy could do (fixed: src/net/socket-reset.ts). Each run is bounded
# and fails loudly should a process hang (HYPHA_ACCEL_TEST_TIMEOUT_MIN, default 10 for --unit, 45 for the
# integration files). HYPHA_ACCEL_TEST_JUNIT_DIR=DIR also writes JUnit reports there (unit.xml,
# integration.xml; each test case names its file).
run_bounded() {
  local minutes="$1"; shift
  local rc=0
  timeout --kill-after=20s "${minutes}m" "$@" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "scripts/test.sh: the test run did not end within ${minutes} min (a test or a test process hung; the last file reported above is the suspect)" >&2
  fi
  return "$rc"
}
# The spec reporter on stdout, and a JUnit file in HYPHA_ACCEL_TEST_JUNIT_DIR when set.
reporters() {
  printf '%s\n' --test-reporter=spec --test-reporter-destination=stdout
  if [ -n "${HYPHA_ACCEL_TEST_JUNIT_DIR:-}" ]; then
    mkdir -p "$HYPHA_ACCEL_TEST_JUNIT_DIR"
    printf '%s\n' --test-reporter=junit "--test-reporter-destination=$HYPHA_ACCEL_TEST_JUNIT_DIR/$1.xml"
  fi
}
mapfile -t unit < <(find test -name '*.test.ts' -not -path 'test/integration/*' | sort)
rc=0
mapfile -t unit_reporters < <(reporters unit)
run_bounded "${HYPHA_ACCEL_TEST_TIMEOUT_MIN:-10}" node --import tsx --test "${unit_reporters[@]}" "${unit[@]}" || rc=$?
[ "$mode" = "--unit" ] && exit "$rc"
bash scripts/setup-python.sh
mapfile -t integration < <(find test/integration -name '*.test.ts' | sort)
eval "$(node --import tsx scripts/start-hypha.ts --export)"
trap 'kill "$HYPHA_TEST_SERVER_PID" 2>/dev/null || true' EXIT
mapfile -t integration_reporters < <(reporters integration)
run_bounded "${HYPHA_ACCEL_TEST_TIMEOUT_MIN:-45}" node --import tsx --test "${integration_reporters[@]}" --test-concurrency=1 "${integration[@]}" || rc=$?
exit "$rc"
