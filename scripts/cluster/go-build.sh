# Sourced by scripts/cluster/build.sh and build-helm.sh: one `go build` with a line of progress every 30 s.
# `go build -v` names each package it compiles, into a log beside the cache; its tail is shown when a build fails.
#   go_build TAG NAME PACKAGE OUT_DIR LOG LDFLAGS
go_build() {
  local tag=$1 name=$2 pkg=$3 out=$4 log=$5 ldflags=$6 start=$SECONDS pid
  echo "$tag: [$name] compiling $pkg" >&2
  CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$out/$name" "$pkg" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if [ $(((SECONDS - start) % 30)) -lt 5 ]; then
      echo "$tag: [$name] $(wc -l <"$log") packages compiled, $((SECONDS - start)) s" >&2
    fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$log" >&2
    echo "$tag: building $name ($pkg) failed; the whole log is $log" >&2
    exit 1
  fi
  echo "$tag: [$name] done in $((SECONDS - start)) s" >&2
}
