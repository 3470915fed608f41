#!/usr/bin/env bash
# Runs every native fuzz target for FUZZTIME each (default 30s; CI uses 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-30s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Targets are found with `go test -list`: a package whose TestMain runs its
# tests more than once (server: once per I/O mode) must list, and fuzz, once
# (server/helpers_linux_test.go does); sort -u keeps a repeat from fuzzing a
# target twice anyway.
corpus() { # the saved inputs of one target: a failure writes a new one
  local dir=$1/testdata/fuzz/$2
  [ -d "$dir" ] && ls "$dir" || true
}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' | sort -u || true); do
    echo "fuzz $pkg $target ($t)"
    before=$(corpus "$dir" "$target")
    if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$t" "$pkg" >"$log" 2>&1; then
      # The last progress line (executions, corpus), then the verdict.
      grep 'execs' "$log" | tail -1 || true
      grep '^ok' "$log" | tail -1
    elif grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log" &&
      [ "$(corpus "$dir" "$target")" = "$before" ]; then
      # Go's fuzz coordinator can report its own -fuzztime deadline as a
      # failure, with no failing input (golang/go#75804, fixed in Go 1.27):
      # not a finding. Say so, and go on.
      grep 'execs' "$log" | tail -1 || true
      echo "note: $target stopped with \"context deadline exceeded\" and no failing input: golang/go#75804, not a finding"
    else
      # The whole story, less the progress lines: the failing input is saved
      # under the package's testdata/fuzz/ and the error says why.
      grep -v '^fuzz: elapsed' "$log"
      exit 1
    fi
  done
done
