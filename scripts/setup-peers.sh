#!/usr/bin/env bash
# Installs or builds every real peer the test suite starts, when it is missing, with a line of progress for
# each: Debian's prometheus (with promtool) and chromium (as root, through apt-get), moto_server (pip), and the
# Kubernetes control plane pinned in test/cluster/go.mod (Go, into a cache outside the repository; minutes the
# first time on a machine, nothing after), and helm pinned in test/helm/go.mod (the same way, for the chart's
# tests). Prints the control plane's bin directory as its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "setup: $*" >&2; }

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root" ; exit 1
  fi
  say "installing Debian packages: ${missing[*]} (apt-get)…"
  t0=$SECONDS
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "Debian packages installed in $((SECONDS - t0)) s"
fi

if ! command -v moto_server >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || { say "moto_server is missing and there is no python3 to install it with"; exit 1; }
  say "installing moto_server (pip install 'moto[server]==5.2.1')…"
  python3 -m pip install -q 'moto[server]==5.2.1'
  hash -r
  command -v moto_server >/dev/null 2>&1 || { say "moto_server is still not on the PATH after pip install"; exit 1; }
fi

for bin in prometheus promtool chromium moto_server; do
  command -v "$bin" >/dev/null 2>&1 || { say "$bin is not installed"; exit 1; }
done

# A build script's bin directory (scripts/cluster/*.sh print it last), built first when its cache has none.
built() { # script what
  local b
  if b=$(bash "$root/scripts/cluster/$1" --print 2>/dev/null); then
    say "$2 already built: $b"
  else
    say "building $2 from the Go module proxy…"
    b=$(bash "$root/scripts/cluster/$1" | tail -n 1)
    say "$2 built: $b"
  fi
  echo "$b"
}

built build-helm.sh helm >/dev/null
built build.sh "the test control plane (etcd, kube-apiserver, kube-controller-manager, kubectl)"
