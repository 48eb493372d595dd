#!/usr/bin/env bash
# `npm test`: the whole test suite on a fresh machine, doing its own set-up. Installs the npm dependencies when
# they are missing or older than the lockfile, installs or builds the real peers (scripts/setup-peers.sh), then
# runs the build (the Dockerfile's `npm run build`), lint, type check and jest. The control plane's kubectl
# (the tested Kubernetes version) comes first on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "test: $*" >&2; }

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # @tensorflow/tfjs-node is optional: its install script cannot download libtensorflow everywhere, and
  # prescale falls back to the wasm backend at run time.
  step "npm ci…"
  npm ci --no-audit --no-fund
fi
bin=$(bash scripts/setup-peers.sh | tail -n 1)
export PATH="$bin:$PATH"
step "npm run build"; npm run --silent build
step "npm run lint"; npm run --silent lint
step "npm run typecheck"; npm run --silent typecheck
step "npm run jest"; exec npm run --silent jest -- "$@"
