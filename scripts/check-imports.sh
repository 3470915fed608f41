#!/usr/bin/env bash
# Keeps the package arrows honest: cmd -> orchestrate -> scenario/driver/results/server -> metrics;
# cmd itself starts no process and opens no connection;
# server stands apart from the client side; metrics knows no WebSocket; results
# never touches the network; nothing imports cmd; internal/ is plumbing both
# sides share, and imports none of them.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
deps() { go list -deps "$mod/$1" | grep -E "^$mod/|^github.com/gobwas/ws$|^net$" || true; }
imports() { go list -f '{{join .Imports "\n"}}' "$mod/$1"; }
forbid_direct() { # package, import it must not make itself...
  local pkg=$1; shift
  local d; d=$(imports "$pkg")
  for f in "$@"; do
    if grep -qx -- "$f" <<<"$d"; then echo "import rule broken: $pkg imports $f itself"; fail=1; fi
  done
}
forbid() { # package, forbidden import...
  local pkg=$1; shift
  local d; d=$(deps "$pkg")
  for f in "$@"; do
    if grep -qx -- "$f" <<<"$d"; then echo "import arrow broken: $pkg depends on $f"; fail=1; fi
  done
}
forbid server   "$mod/scenario" "$mod/driver" "$mod/metrics" "$mod/results" "$mod/orchestrate" "$mod/cmd/wsbench" "$mod/live"
forbid metrics  "github.com/gobwas/ws" "$mod/scenario" "$mod/driver" "$mod/results" "$mod/server" "$mod/orchestrate" "net"
forbid scenario "$mod/driver" "$mod/metrics" "$mod/results" "$mod/server" "$mod/orchestrate" "github.com/gobwas/ws"
forbid driver   "$mod/results" "$mod/server" "$mod/orchestrate" "$mod/cmd/wsbench"
# protocols: the protocol presets, flow.Protocol values built from the generic
# pieces of internal/flow; it imports nothing else of the module (scenario
# imports it to resolve presets; its tests drive presets through driver).
forbid protocols "$mod/scenario" "$mod/driver" "$mod/metrics" "$mod/results" "$mod/server" "$mod/orchestrate" "github.com/gobwas/ws"
# kube (issue 16): builds and applies a Job of shards, merges their results;
# it reads scenarios and results, and drives no load itself.
forbid kube     "$mod/driver" "$mod/server" "$mod/orchestrate" "github.com/gobwas/ws"
# e2e part: the kubelet stand-in of `make e2e-kube` runs pods' programs as
# processes; it stands apart from wsbench (none of the module's packages).
forbid kube/e2e/standin "$mod/driver" "$mod/server" "$mod/orchestrate" "$mod/scenario" "$mod/results" "$mod/metrics" "$mod/kube" "github.com/gobwas/ws"
# prom part: live exports a run to Prometheus from its intervals and result
# (metrics, results); it drives nothing and knows no server. Its listener is
# internal/promserve, which server uses too.
forbid live     "$mod/driver" "$mod/server" "$mod/orchestrate" "github.com/gobwas/ws"
forbid results  "$mod/driver" "$mod/server" "$mod/orchestrate" "github.com/gobwas/ws" "net"
# The kit's compare command drives wsbench as a process and reads its JSON: of
# the client side it uses only results (Mann-Whitney, atomic writes).
forbid kit/compare "$mod/driver" "$mod/server" "$mod/orchestrate"
# cmd parses flags, wires packages and picks exit codes: starting processes
# (orchestrate.Split) and talking to the network (orchestrate, driver) are
# done below it.
forbid_direct cmd/wsbench "os/exec" "net" "net/url" "net/netip"
for pkg in $(go list ./... | grep -vx "$mod/cmd/wsbench"); do # nothing imports cmd
  forbid "${pkg#"$mod/"}" "$mod/cmd/wsbench"
done
for pkg in $(go list ./internal/...); do
  forbid "${pkg#"$mod/"}" "$mod/driver" "$mod/server" "$mod/scenario" "$mod/metrics" "$mod/results" "$mod/orchestrate" "$mod/cmd/wsbench"
done
[ $fail -eq 0 ] && echo "import arrows ok"
exit $fail
