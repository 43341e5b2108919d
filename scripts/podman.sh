#!/usr/bin/env bash
# Sourced by the image scripts: makes `hypha_podman` run podman the way it works on the build machine
# (runc runtime, no default ulimits, host network), installing podman and runc from Debian when missing.
# `hypha_podman_usable` tells whether podman can run a container here at all.
hypha_apt_install() {
  [ "$(id -u)" = 0 ] || { echo "hypha-accel: $* missing and not root: install it first" >&2; return 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  echo "hypha-accel: installing podman and runc from Debian" >&2
  hypha_apt_install podman runc
fi
_hypha_conf="${XDG_CACHE_HOME:-$HOME/.cache}/hypha-accel/containers.conf"
if [ ! -f "$_hypha_conf" ]; then
  mkdir -p "$(dirname "$_hypha_conf")"
  printf '[containers]\ndefault_ulimits = []\n' >"$_hypha_conf"
fi
export CONTAINERS_CONF="$_hypha_conf"
unset _hypha_conf
hypha_podman() { podman --runtime runc "$@"; }
hypha_podman_usable() { hypha_podman info >/dev/null 2>&1; }
