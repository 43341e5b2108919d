#!/usr/bin/env bash
# Validates the Helm chart, the kustomize manifests and the systemd unit offline (what CI runs): builds helm and kustomize
# from their Go modules at pinned versions once (cached outside git), checks values.schema.json is in step
# with src/config/settings.ts, `helm lint --strict` and `helm template` for every mode (helm/hypha-accel/ci/),
# `kustomize build` for every overlay, and validates every rendered object (test/deploy/validate-manifests.ts).
# Values the schema must refuse are tried too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/use-node.sh
HELM_VERSION="v3.21.4"
KUSTOMIZE_VERSION="v5.8.1"   # v5.8.2+ need go >= 1.27
KUBE_VERSION="1.31.0"   # the oldest we render for is the chart's kubeVersion (1.30); a current one here
CACHE="${HYPHA_ACCEL_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hypha-accel}"
CHART=helm/hypha-accel

go_tool() { # name module version -> path of the binary, built once
  local bin="$CACHE/$1-$3/bin/$1"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || { echo "helm-test: go is needed to build $1 $3" >&2; return 1; }
    echo "helm-test: building $1 $3 from its Go module once into $CACHE/$1-$3" >&2
    GOBIN="$CACHE/$1-$3/bin" CGO_ENABLED=0 go install -trimpath -ldflags=-s "$2@$3" >&2
  fi
  echo "$bin"
}
[ -d node_modules ] || npm ci --no-audit --no-fund
HELM="$(go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION")"
KUSTOMIZE="$(go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

node --import tsx scripts/gen-helm-schema.ts --check
for values in "$CHART"/ci/*-values.yaml; do
  mode="$(basename "$values" -values.yaml)"
  "$HELM" lint --strict --quiet --kube-version "$KUBE_VERSION" -f "$values" "$CHART" >"$out/lint.log" 2>&1 \
    || { cat "$out/lint.log" >&2; exit 1; }
  "$HELM" template accel "$CHART" --namespace hypha --kube-version "$KUBE_VERSION" -f "$values" >"$out/$mode.yaml"
  node --import tsx test/deploy/validate-manifests.ts "helm $mode" "$out/$mode.yaml"
done

# The schema refuses what the proxies would refuse, and keys a role does not have.
refuse() { # description, expected message, helm --set arguments...
  local what="$1" expected="$2"; shift 2
  if "$HELM" template accel "$CHART" --kube-version "$KUBE_VERSION" "$@" >/dev/null 2>"$out/refused.log"; then
    echo "helm-test: FAILED: the chart accepted $what ($*)" >&2; exit 1
  fi
  grep -q "$expected" "$out/refused.log" || { echo "helm-test: FAILED: $what refused for another reason:" >&2; cat "$out/refused.log" >&2; exit 1; }
}
refuse "a window below the minimum" "windowBytes': minimum" --set gateway.config.windowBytes=100
refuse "a misspelled setting" "'windowByte' not allowed" --set gateway.config.windowByte=65536
refuse "an edge-only setting on the gateway" "'links' not allowed" --set gateway.config.links=2
refuse "a chart-owned setting" "'listen' not allowed" --set edge.config.listen=0.0.0.0:1
refuse "an edge without a gateway to link to" "gatewayUrl is required" --set gateway.enabled=false --set clientJob.enabled=true
refuse "a short link secret" "value': minLength" --set linkSecret.value=short
echo "helm-test: the schema refuses 6 bad value sets" >&2

for overlay in deploy/kustomize/overlays/*/; do
  name="$(basename "$overlay")"
  "$KUSTOMIZE" build "$overlay" >"$out/kustomize-$name.yaml"
  node --import tsx test/deploy/validate-manifests.ts "kustomize $name" "$out/kustomize-$name.yaml"
done
# The systemd unit's hardening, as systemd itself scores it (0 = fully locked down, 10 = exposed).
if command -v systemd-analyze >/dev/null; then
  cp deploy/systemd/hypha-accel@.service "$out/hypha-accel@gateway.service"
  systemd-analyze security --offline=true --threshold=20 "$out/hypha-accel@gateway.service" 2>&1 \
    | sed -n 's/^.*Overall exposure level for \(.*\)$/helm-test: systemd exposure level of \1/p' >&2
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "helm-test: FAILED: the systemd unit's exposure is above 2.0" >&2; exit 1; }
fi
echo "helm-test: ok (helm $HELM_VERSION, kustomize $KUSTOMIZE_VERSION, kube $KUBE_VERSION)" >&2
