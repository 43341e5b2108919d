#!/usr/bin/env bash
# Installs the system Chromium (Debian package) that test/integration/observe-live-page.test.ts drives with
# playwright-core; idempotent: does nothing when chromium is already on PATH. playwright-core never
# downloads a browser here.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
