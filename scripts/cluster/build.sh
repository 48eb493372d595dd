#!/usr/bin/env bash
# Builds the test control plane pinned in test/cluster/go.mod (etcd, kube-apiserver, kube-controller-manager,
# kubectl) from the Go module proxy, once per machine, into a cache outside the repository keyed by version:
#   ${PRESCALE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prescale/cluster}/k8s-<v>_etcd-<v>_<go>/bin
# A finished build holds versions.json; a build that died half-way is started again from its Go build cache.
# Prints the bin directory as its last line. `--print` prints it without building (exit 1 when not built).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$root/test/cluster"
command -v go >/dev/null 2>&1 || { echo "cluster: go is not on the PATH; Go >= 1.26 builds the test control plane (test/cluster/go.mod)" >&2; exit 1; }

cd "$mod"
k8s=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
gov=$(go env GOVERSION)
cache="${PRESCALE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prescale/cluster}"
dir="$cache/k8s-${k8s}_etcd-${etcd}_${gov}"
bin="$dir/bin"

if [ -f "$dir/versions.json" ]; then echo "$bin"; exit 0; fi
if [ "${1:-}" = "--print" ]; then echo "$bin"; exit 1; fi

# Without the version variables the servers report v0.0.0-master, which clients (kubectl, the aggregator's
# discovery) parse as a junk version.
minor=$(echo "$k8s" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1 \
-X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=$k8s -X k8s.io/client-go/pkg/version.gitMajor=1 \
-X k8s.io/client-go/pkg/version.gitMinor=$minor"
tmp="$dir/bin.partial"
mkdir -p "$tmp"
echo "cluster: building Kubernetes $k8s and etcd $etcd with $gov into $dir (once per machine; a cold build takes many minutes on 2 cores)" >&2

# One binary at a time, with a line of progress every 30 s (scripts/cluster/go-build.sh).
. "$root/scripts/cluster/go-build.sh"
build() { go_build cluster "$1" "$2" "$tmp" "$dir/build-$1.log" "$ldflags"; }
t0=$SECONDS
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl

rm -rf "$bin"
mv "$tmp" "$bin"
printf '{"kubernetes":"%s","etcd":"%s","go":"%s","builtAt":"%s","buildSeconds":%d}\n' \
  "$k8s" "$etcd" "$gov" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" $((SECONDS - t0)) > "$dir/versions.json"
echo "cluster: built in $((SECONDS - t0)) s" >&2
echo "$bin"
