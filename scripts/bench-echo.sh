#!/usr/bin/env bash
# Echo benchmark of wsbench against `wsbench serve` in a separate process, both
# on this machine. Prints, per case: round trips per second, client CPU per
# round trip, client and server peak RSS, server CPU, and rtt p50/p99/p99.9.
# A fresh server per case, so its peak RSS is that case's.
#
# Then the same against a third-party server: the kit's gorilla/websocket echo
# server (kit/servers/gorilla, its own Go module), pinned to core 0 with the
# client pinned to core 1, 32-byte text messages: the open model at 5,000
# msg/s over 100 connections (on 1 ms and on 20 ms ticks) and the closed
# model at 50, REPEAT runs each, each round also with the floor client
# (internal/cmd/floor: for the open cases its open model, the same ticking
# poller and io_uring batching with nothing measured), whose CPU per round
# trip is what any client on that mechanism pays here.
# With BASE=<git revision>, that revision's wsbench is built in a temporary
# worktree and each third-party run alternates base and this tree's build
# (base, new, base, new, ...), so the two are compared within one run of the
# script, minutes apart at most: this VM's speed changes from minute to
# minute, so only figures from one run compare.
#
#   scripts/bench-echo.sh            # the standard cases, 10s each, then third-party
#   DURATION=30s scripts/bench-echo.sh
#   CASES=third-party BASE=main REPEAT=5 DURATION=5s scripts/bench-echo.sh
#
# Run as root, the script runs in a network namespace of its own (NETNS=1, the
# default then; see scripts/lib.sh), so no other process's ports or TIME_WAIT
# sockets take part; NETNS=0 runs on the host's.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CASES=${CASES:-"standard third-party"}
REPEAT=${REPEAT:-3}
BASE=${BASE:-}
. scripts/lib.sh

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# against_server name client [args]: starts a fresh server, runs the client
# function (which finds the server at $url), stops the server, and sets
# sticks and wall (server CPU ticks and seconds over the client's whole run:
# connect, warm-up, window, close) and srss (server peak RSS, KiB). A fresh
# server per case, so its peak RSS is that case's.
against_server() {
  local name=$1; shift
  start_server "$OUT/serve-$name.log"
  local t0 w0 t1 w1
  t0=$(cpu_ticks "$spid"); w0=$(date +%s.%N)
  "$@"
  t1=$(cpu_ticks "$spid"); w1=$(date +%s.%N)
  srss=$(awk '/VmHWM/{print $2}' "/proc/$spid/status")
  stop_server
  sticks=$(( t1 - t0 ))
  wall=$(awk -v a="$w0" -v b="$w1" 'BEGIN{print b - a}')
}

run_case() { # name, then wsbench run flags
  local name=$1; shift
  wsbench_client() {
    ${client_pin[@]+"${client_pin[@]}"} "$bin" run -d "$DURATION" -s 64 -o "$OUT/$name.json" "$@" "$url" >"$OUT/$name.txt"
  }
  against_server "$name" wsbench_client "$@"
  python3 - "$OUT/$name.json" "$name" "$srss" "$sticks" "$ticks" "$wall" <<'PY'
import json, sys
path, name, srss, sticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
wall = float(sys.argv[6])
r = json.load(open(path))
h, m, l = r["harness"], r["messages"], r["latency"]["rtt"]
ok = "balanced" if m["balanced"] else "UNBALANCED"
print(f"{name:<22} {r['rates']['received_msgs_per_s']:>10,.0f} rt/s  client {h['cpu_us_per_message']:5.2f} µs/rt "
      f"({h['cpu_cores']:.2f} cores)  server {sticks/hz/wall:.2f} cores  "
      f"rss client {h['max_rss_kib']/1024:5.1f} MiB server {srss/1024:5.1f} MiB  "
      f"rtt p50 {l['p50_us']:.0f}µs p99 {l['p99_us']:.0f}µs p99.9 {l['p999_us']:.0f}µs  "
      f"errors {sum(r['errors'].values())} lost {m['lost']} {ok}")
PY
}

# The floor: internal/cmd/floor, the cheapest client for the same traffic (the same
# epoll + io_uring batching, nothing measured), against the same server right
# after closed-100c and closed-1000c. Its CPU per round trip is the kernel's
# TCP work at this moment on this machine, and its round trips per second what
# any client could drive; wsbench's figures minus its are what wsbench adds.
go build -o "$OUT/floor" ./internal/cmd/floor
run_floor() { # name, then floor flags
  local name=$1; shift
  local line
  floor_client() {
    local a=${url#ws://}
    line=$(${client_pin[@]+"${client_pin[@]}"} "$OUT/floor" -addr "${a%/}" -d "$DURATION" "$@")
  }
  against_server "$name" floor_client "$@"
  awk -v n="$name" -v s="$sticks" -v hz="$ticks" -v wall="$wall" \
    '{gsub(/\(/, "", $11); printf "%-22s %10d rt/s  client %5s µs/rt (%s cores)  server %.2f cores  %s round trips per epoll wait\n", n, $6, $9, $11, s/hz/wall, $13}' <<<"$line"
}

standard() {
echo "wsbench echo benchmark: $DURATION per case, 64-byte messages, $(nproc) cores shared by client and server"
run_case closed-100c   -c 100
run_floor floor-100c   -c 100
run_case closed-1000c  -c 1000
run_floor floor-1000c  -c 1000
run_case open-20k-1000c -c 1000 -r 20000
run_case open-5k-100c   -c 100 -r 5000
# The control: the first case without io_uring. The VM's speed changes by up
# to 2x within seconds (the floor cases show which phase a case met), so
# compare within one run of this script, not across runs.
run_case closed-100c-syscalls -c 100 --io syscalls
# Pinned: the server on the last core, the client on the others (each sizes
# its loops to its cores), so the OS does not time-slice four busy loops over
# two cores. With 2 cores that is one loop a side.
last=$(( $(nproc) - 1 ))
if [ "$last" -ge 1 ]; then
  server_pin=(taskset -c "$last")
  client_pin=(taskset -c "0-$(( last - 1 ))")
  run_case closed-100c-pinned -c 100
  run_floor floor-100c-pinned -c 100 -loops "$last"
  # Both on core 0: no message crosses between cores. The difference from
  # the pinned-apart pair is what the machine charges for carrying the
  # traffic from one core to the other (on the 2-vCPU CI VM: about half the
  # client's CPU per round trip, at the same round trips per second).
  server_pin=(taskset -c 0)
  client_pin=(taskset -c 0)
  run_case closed-100c-one-core -c 100
  run_floor floor-100c-one-core -c 100 -loops 1
  unset server_pin client_pin
fi
}

# The third-party server: the kit's gorilla/websocket echo server, built
# from its own module. start_gorilla log: starts it, sets spid and url.
start_gorilla() {
  local log=$1
  ${server_pin[@]+"${server_pin[@]}"} "$OUT/gorilla" -addr 127.0.0.1:0 >"$log" 2>&1 &
  spid=$!
  pids+=("$spid")
  url=""
  for _ in $(seq 100); do
    url=$(sed -n 's/^listening on \([^ ]*\).*/ws:\/\/\1\/echo/p' "$log")
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "gorilla did not start:"; cat "$log"; exit 1; }
}

# third_case name client-binary [wsbench run flags]: one run of the given
# wsbench build against a fresh gorilla server, pinned apart; prints its line
# and appends "cpu_us_per_message user_s sys_s" to $OUT/<name>.cpu.
third_case() {
  local name=$1 client=$2; shift 2
  start_gorilla "$OUT/gorilla-$name.log"
  local t0 w0 t1 w1 rc=0
  t0=$(cpu_ticks "$spid"); w0=$(date +%s.%N)
  "${client_pin[@]}" "$client" run -q -d "$DURATION" -s 32 -o "$OUT/$name.json" "$@" "$url" >"$OUT/$name.txt" 2>&1 || rc=$?
  t1=$(cpu_ticks "$spid"); w1=$(date +%s.%N)
  stop_server
  if [ "$rc" -ne 0 ] || [ ! -s "$OUT/$name.json" ]; then
    echo "$name: wsbench run exited with $rc:"; tail -3 "$OUT/$name.txt"; return
  fi
  python3 - "$OUT/$name.json" "$name" "$(( t1 - t0 ))" "$ticks" "$w0" "$w1" <<'PY'
import json, sys
path, name, sticks, hz, w0, w1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
r = json.load(open(path))
h, m, l = r["harness"], r["messages"], r["latency"]["rtt"]
print(f"{name:<34} {r['rates']['received_msgs_per_s']:>9,.0f} msg/s  client {h['cpu_us_per_message']:6.2f} µs/msg "
      f"(user {h['cpu_user_s']:.2f}s sys {h['cpu_sys_s']:.2f}s)  server {sticks/hz/(w1-w0):.2f} cores  "
      f"rtt p50 {l['p50_us']:.0f}µs p99 {l['p99_us']:.0f}µs  lost {m['lost']} errors {sum(r['errors'].values())}")
PY
}

# floor_third name [floor flags]: the floor client against a fresh gorilla
# server, pinned apart; prints its line and writes its µs per round trip to
# $OUT/<name>.cpu.
floor_third() {
  local name=$1; shift
  start_gorilla "$OUT/gorilla-$name.log"
  local hp=${url#ws://} line rc=0
  hp=${hp%%/*}
  line=$("${client_pin[@]}" "$OUT/floor" -addr "$hp" -path /echo -d "$DURATION" "$@" 2>&1) || rc=$?
  stop_server
  if [ "$rc" -ne 0 ]; then
    echo "$name: floor exited with $rc: $line"; return
  fi
  awk -v n="$name" '{gsub(/\(/, "", $11); printf "%-34s %9s msg/s  client %6.2f µs/rt (%s cores)  %s round trips per wait\n", n, $6, $9, $11, $13}' <<<"$line"
  awk '{print $9}' <<<"$line" >"$OUT/$name.cpu"
}

third_party() {
  local abs; abs=$(cd "$OUT" && pwd)
  (cd kit/servers && go build -o "$abs/gorilla" ./gorilla)
  local builds=(new) b i
  if [ -n "$BASE" ]; then
    build_base
    builds=(base new)
  fi
  server_pin=(taskset -c 0)
  client_pin=(taskset -c 1)
  echo "third-party server: kit gorilla/websocket echo on core 0, wsbench on core 1, 32-byte text, $DURATION per run," \
    "$REPEAT runs per build${BASE:+, base = $BASE ($base_rev), alternating}"
  local c
  # open-5k-100c-tick20ms: the same load with sends due on 20 ms ticks (100
  # a wake-up instead of 5): what the open model costs per message without
  # the per-tick wake-ups, the sends and receives alone.
  # After the wsbench builds, each round runs the floor client
  # (internal/cmd/floor, one loop) with the same traffic: for the open cases
  # its open model, on the same ticking poller, measuring nothing. What it
  # costs per round trip is what any client on this mechanism pays here;
  # wsbench's figure minus it is what wsbench adds.
  local floor_args
  for c in "open-5k-100c -c 100 -r 5000|-r 5000" "open-5k-100c-tick20ms -c 100 -r 5000 --tick 20ms|-r 5000 -tick 20ms" "closed-50c -c 50|"; do
    floor_args=${c#*|}
    set -- ${c%%|*}
    local name=$1; shift
    for i in $(seq "$REPEAT"); do
      for b in "${builds[@]}"; do
        local client=$bin
        [ "$b" = base ] && client="$OUT/wsbench-base"
        third_case "gorilla-$name-$b-$i" "$client" "$@"
      done
      # shellcheck disable=SC2086 # floor_args: words
      floor_third "gorilla-$name-floor-$i" -c "$2" -loops 1 $floor_args
    done
    python3 - "$OUT" "gorilla-$name-floor" "$REPEAT" <<'PY'
import os, statistics, sys
out, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cpu = [float(open(p).read()) for p in (f"{out}/{name}-{i}.cpu" for i in range(1, n + 1)) if os.path.exists(p)]
if cpu:
    print(f"{name + ' median':<34} {'':>9}        client {statistics.median(cpu):6.2f} µs/rt  (min {min(cpu):.2f}, max {max(cpu):.2f}, {len(cpu)} runs)")
PY
    for b in "${builds[@]}"; do
      python3 - "$OUT" "gorilla-$name-$b" "$REPEAT" <<'PY'
import json, os, statistics, sys
out, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rs = [json.load(open(p)) for p in (f"{out}/{name}-{i}.json" for i in range(1, n + 1)) if os.path.exists(p)]
if rs:
    cpu = [r["harness"]["cpu_us_per_message"] for r in rs]
    rate = [r["rates"]["received_msgs_per_s"] for r in rs]
    print(f"{name + ' median':<34} {statistics.median(rate):>9,.0f} msg/s  client {statistics.median(cpu):6.2f} µs/msg "
          f"(min {min(cpu):.2f}, max {max(cpu):.2f}, {len(rs)} runs)")
PY
    done
  done
  unset server_pin client_pin
}

for c in $CASES; do
  case $c in
  standard) standard ;;
  third-party) third_party ;;
  *) echo "bench-echo: unknown case $c (standard, third-party)" >&2; exit 2 ;;
  esac
done
echo "results and summaries in $OUT/"
