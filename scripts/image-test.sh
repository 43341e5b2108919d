#!/usr/bin/env bash
# Builds the container image with podman and proves it works (what CI runs): installs podman when missing,
# makes the stand-in base image when it cannot be pulled, builds (layers cached: seconds when nothing
# changed), then test/deploy/image-e2e.ts runs the image's gateway and edge in front of a real hypha server
# and makes real Python calls through them. Skips (exit 0, with a message) only when podman cannot run here.
# usage: scripts/image-test.sh [--build-only]   env: HYPHA_ACCEL_IMAGE (default hypha-accel:test)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
source scripts/podman.sh
IMAGE="${HYPHA_ACCEL_IMAGE:-hypha-accel:test}"
BASE="$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)"
if ! hypha_podman_usable; then
  echo "image-test: SKIPPED: podman cannot run on this machine ($(hypha_podman info 2>&1 | tail -1))" >&2
  exit 0
fi
if ! hypha_podman image exists "$BASE"; then
  hypha_podman pull --quiet "docker.io/library/$BASE" >/dev/null 2>&1 || bash scripts/image-standin-base.sh "$BASE"
fi
t0=$SECONDS
version="$(node -p 'require("./package.json").version')"
revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
# The build never changes the cache key with time: `created` is the commit's date, not now.
created="$(git log -1 --format=%cI 2>/dev/null || echo unknown)"
hypha_podman build --quiet --format docker --network host --pull=never \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
  -t "$IMAGE" . >/dev/null
echo "image-test: built $IMAGE in $((SECONDS - t0)) s ($(hypha_podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))" >&2
[ "${1:-}" = "--build-only" ] && exit 0
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/setup-python.sh
node --import tsx test/deploy/image-e2e.ts "$IMAGE"
