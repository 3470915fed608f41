#!/usr/bin/env bash
# Connection-storm benchmark: how many opening handshakes per second wsbench
# completes against the bundled server (target: at least 10,000 per second).
#
# Each run opens N connections at 0.01 messages per second in total for 1 s, so
# it is mostly its connection phase, and reports connections.opened_per_s: the
# connections opened divided by the time from the first connect to the last
# completed opening handshake (connections.dial_s). Cases:
#   serve-<N>c-dc64, -dc256  against `wsbench serve` in a separate process (a
#                            fresh one per run), --dial-concurrency 64
#                            (the default) and 256
#   inproc-9000c             the bundled server inside the client process
#                            (no URL)
# Each case runs REPEAT times; the median handshakes/s is printed after them.
#
#   scripts/bench-connect.sh
#   STORM_CONNS=10000 INPROC_CONNS=5000 REPEAT=5 scripts/bench-connect.sh
#
# Set-up CPU (CASES=setup): the CPU (user + sys, the whole process, start to
# exit) a client spends opening SETUP_CONNS (10,000) WebSocket connections to a
# fresh `wsbench serve` and holding them idle for a second: `wsbench run
# --kind hold`, and with TCPKALI=<path> tcpkali --ws the same way (its -T
# covers the set-up and the hold; at most TCPKALI_RATE, 10,000, new connections
# a second: see hold_once in scripts/lib.sh). REPEAT runs per client, alternating, and
# the median; BASE=<git revision> adds that revision's build.
#
#   CASES=setup BASE=main TCPKALI=/tmp/tcpkali/src/tcpkali scripts/bench-connect.sh
#
# Run as root, the script runs in a network namespace of its own (NETNS=1, the
# default then; see scripts/lib.sh), so no other process's ports or TIME_WAIT
# sockets take part; NETNS=0 runs on the host's.
#
# Limits: the open-file limit here is 20,000 per process. With a separate
# server each process holds one socket per connection. In process, each
# connection needs two descriptors in the one process (the client socket and
# the server's accepted one), so at most (20,000 - 64 reserved) / 2 = 9,968
# connections fit: the in-process case uses 9,000. Ephemeral ports (28k here)
# are not the bound: each run talks to a new server port, and a source port
# can be reused for another destination; the runs' TIME_WAIT sockets are
# mostly on the server side anyway (it closes the TCP connection first, as
# RFC 6455 asks).
set -euo pipefail
cd "$(dirname "$0")/.."
STORM_CONNS=${STORM_CONNS:-15000}
INPROC_CONNS=${INPROC_CONNS:-9000}
REPEAT=${REPEAT:-3}
CASES=${CASES:-"storm setup"}
SETUP_CONNS=${SETUP_CONNS:-10000}
. scripts/lib.sh


# tw_to port: how many TIME_WAIT sockets on this host have the destination
# 127.0.0.1:port, each holding a source port for connections to it.
tw_to() {
  python3 - "$1" <<'PY'
import sys
want = "0100007F:%04X" % int(sys.argv[1])
n = 0
for l in open("/proc/net/tcp").readlines()[1:]:
    f = l.split()
    n += f[3] == "06" and f[2] == want
print(n)
PY
}
read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
ports=$((port_hi - port_lo + 1))
# wait_ports port n: wait (at most 65 s) until TIME_WAIT sockets to
# 127.0.0.1:port leave n source ports free. A source port in TIME_WAIT to
# another destination can be used again (connect picks ports per destination),
# so with a new server port per run this only waits if a port comes back.
wait_ports() {
  local port=$1 n=$2 tw t0=$SECONDS waited=0
  tw=$(tw_to "$port")
  while [ $((tw + n)) -gt "$ports" ] && [ $((SECONDS - t0)) -lt 65 ]; do
    sleep 5
    waited=1
    tw=$(tw_to "$port")
  done
  if [ "$waited" = 1 ]; then
    echo "  (waited $((SECONDS - t0)) s for TIME_WAIT sockets to 127.0.0.1:$port to free source ports; $tw left)"
  fi
}


failed=0
rates=()
# run_once name conns separate(yes/no) [wsbench run flags]: one run, one line.
run_once() {
  local name=$1 n=$2 separate=$3; shift 3
  local target=() spid=""
  if [ "$separate" = yes ]; then
    start_server "$OUT/serve-$name.log"
    target=("$url")
    local p=${url##*:}
    wait_ports "${p%%/*}" "$n"
  fi
  local rc=0
  "$bin" run -c "$n" -r 0.01 -d 1s --warmup 0s -o "$OUT/$name.json" "$@" "${target[@]}" \
    >"$OUT/$name.txt" 2>&1 || rc=$?
  if [ -n "$spid" ]; then
    stop_server
  fi
  if [ "$rc" -ne 0 ] || [ ! -s "$OUT/$name.json" ]; then
    echo "$name: wsbench run exited with $rc:"; tail -5 "$OUT/$name.txt"
    failed=1
    return
  fi
  local line prc=0
  line=$(python3 - "$OUT/$name.json" "$name" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
r = json.load(open(path))
co, lat, errs = r["connections"], r["latency"], r["errors"]
c, h = lat["connect"], lat["handshake"]
ms = lambda us: us / 1000
print(f"{co['opened_per_s']:.0f}")  # first line: for the median
print(f"{name:<22} opened {co['opened']:>6}/{co['attempted']:<6} dial {co['dial_s']:6.3f}s  "
      f"{co['opened_per_s']:>8,.0f} handshakes/s  "
      f"connect p50 {ms(c['p50_us']):6.2f} p99 {ms(c['p99_us']):6.2f} ms  "
      f"handshake p50 {ms(h['p50_us']):6.2f} p99 {ms(h['p99_us']):6.2f} ms  "
      f"errors {dict(errs) if errs else 0}")
if "connect_no_source_port" in errs:
    print(f"{'':<22} FAILED: out of source ports (connect_no_source_port {errs['connect_no_source_port']}): "
          "TIME_WAIT sockets of earlier runs hold the ephemeral ports")
sys.exit(0 if co["opened"] == co["attempted"] and not errs else 3)
PY
  ) || prc=$?
  rates+=("$(head -1 <<<"$line")")
  sed -n '2,$p' <<<"$line"
  if [ "$prc" -ne 0 ]; then failed=1; fi
}

# run_case name conns separate [flags]: REPEAT runs, then their median.
run_case() {
  local name=$1 n=$2 separate=$3; shift 3
  rates=()
  local i
  for i in $(seq "$REPEAT"); do
    run_once "$name-$i" "$n" "$separate" "$@"
  done
  if [ "${#rates[@]}" -gt 0 ]; then
    python3 - "$name" "${rates[@]}" <<'PY'
import statistics, sys
name, rates = sys.argv[1], [float(x) for x in sys.argv[2:]]
m = statistics.median(rates)
print(f"{name + ' median':<22} {m:,.0f} handshakes/s over {len(rates)} runs "
      f"(min {min(rates):,.0f}, max {max(rates):,.0f}; target >= 10,000: {'met' if m >= 10000 else 'NOT met'})")
PY
  fi
}

storm() {
echo "wsbench connection storm: -r 0.01 -d 1s, $REPEAT runs per case, $(nproc) cores shared by client and server," \
  "open-file limit $(ulimit -Hn), ephemeral ports $port_lo-$port_hi ($ports)"
run_case "serve-${STORM_CONNS}c-dc64" "$STORM_CONNS" yes
run_case "serve-${STORM_CONNS}c-dc256" "$STORM_CONNS" yes --dial-concurrency 256
run_case "inproc-${INPROC_CONNS}c" "$INPROC_CONNS" no
}

setup() {
  build_base
  local tools=(wsbench) t i
  [ -n "$base_bin" ] && tools=(base wsbench)
  [ -n "${TCPKALI:-}" ] && tools+=(tcpkali)
  echo "connection set-up CPU: $SETUP_CONNS connections opened and held 1 s, client process CPU start to exit;" \
    "$REPEAT runs per client, alternating${base_rev:+; base = $BASE ($base_rev)}"
  : >"$OUT/setup-cpu.txt"
  for i in $(seq "$REPEAT"); do
    for t in "${tools[@]}"; do
      wait_free_ports "$SETUP_CONNS"
      echo "$t $(hold_once "$t" "$SETUP_CONNS" 1 "setup-$t-$i")" >>"$OUT/setup-cpu.txt"
    done
  done
  python3 - "$OUT/setup-cpu.txt" "$SETUP_CONNS" "${tools[@]}" <<'PY' || failed=1
import statistics, sys
path, n, tools = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {}
for line in open(path):
    t, cpu, peak, up = line.split()
    runs.setdefault(t, []).append((float(cpu), int(up)))
names = {"wsbench": "wsbench (this tree)", "base": "wsbench (base)", "tcpkali": "tcpkali"}
ok = True
for t in tools:
    cpu = [c for c, _ in runs[t]]
    full = all(u == n for _, u in runs[t])
    ok = ok and full
    print(f"{names[t]:<20} {statistics.median(cpu):5.2f} s CPU for {n} connections ({statistics.median(cpu)/n*1e6:.0f} µs each, "
          f"{statistics.median(c / max(u, 1) for c, u in runs[t])*1e6:.0f} µs per connection the server upgraded; "
          f"runs: {', '.join(f'{c:.2f}' for c in cpu)}); server upgraded {', '.join(str(u) for _, u in runs[t])}"
          f"{'' if full else ' (NOT exactly ' + str(n) + ': retries or failures)'}")
sys.exit(0 if ok else 1)
PY
}

for c in $CASES; do
  case $c in
  storm) storm ;;
  setup) setup ;;
  *) echo "bench-connect: unknown case $c (storm, setup)" >&2; exit 2 ;;
  esac
done
echo "results and summaries in $OUT/"
exit "$failed"
