#!/usr/bin/env bash
# Runs every native fuzz target for FUZZTIME each (default 30s; CI uses 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-30s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($t)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$t" "$pkg" 2>&1 | grep -E 'execs|FAIL|PASS|ok|panic' | tail -2
  done
done
