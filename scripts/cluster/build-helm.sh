#!/usr/bin/env bash
# Builds helm, pinned in test/helm/go.mod, from the Go module proxy, once per machine, into a cache outside the
# repository keyed by version (the chart's tests run it: test/deploy/helm.test.ts):
#   ${PRESCALE_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prescale/helm}/helm-<v>_<go>/bin
# A finished build holds versions.json; a build that died half-way is started again from its Go build cache.
# Prints the bin directory as its last line. `--print` prints it without building (exit 1 when not built).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$root/test/helm"
command -v go >/dev/null 2>&1 || { echo "helm: go is not on the PATH; Go >= 1.26 builds helm (test/helm/go.mod)" >&2; exit 1; }

cd "$mod"
helm=$(go list -m -f '{{.Version}}' helm.sh/helm/v4)
gov=$(go env GOVERSION)
cache="${PRESCALE_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prescale/helm}"
dir="$cache/helm-${helm}_${gov}"
bin="$dir/bin"

if [ -f "$dir/versions.json" ]; then echo "$bin"; exit 0; fi
if [ "${1:-}" = "--print" ]; then echo "$bin"; exit 1; fi

# Without them `helm version` says v4.3+unreleased (the release's Makefile sets the same variables).
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm -X helm.sh/helm/v4/internal/version.metadata= \
-X helm.sh/helm/v4/internal/version.gitTreeState=clean"
tmp="$dir/bin.partial"
log="$dir/build-helm.log"
mkdir -p "$tmp"
echo "helm: building helm $helm with $gov into $dir (once per machine; a cold build takes minutes on 2 cores)" >&2

. "$root/scripts/cluster/go-build.sh"
t0=$SECONDS
go_build helm helm helm.sh/helm/v4/cmd/helm "$tmp" "$log" "$ldflags"

rm -rf "$bin"
mv "$tmp" "$bin"
printf '{"helm":"%s","go":"%s","builtAt":"%s","buildSeconds":%d}\n' \
  "$helm" "$gov" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" $((SECONDS - t0)) > "$dir/versions.json"
echo "helm: built in $((SECONDS - t0)) s" >&2
echo "$bin"
