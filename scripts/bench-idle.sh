#!/usr/bin/env bash
# Idle-connection memory benchmark: how much the client's resident memory
# grows per open, idle connection (target: at most 1.6 KiB per connection at
# 19,000 connections held by one client process).
#
# For each N a fresh `wsbench serve` runs as its own process (so the client
# process holds only its own sockets), and `wsbench run -c N -r 0.01` holds N
# connections that send 0.01 messages per second in total: practically idle.
# Once the client holds N open descriptors, and 3 s more, its current VmRSS
# (not the peak) is sampled over 3 s and the median taken. The growth per
# connection is the RSS difference between the first and the last N divided by
# their difference in connections, which cancels the fixed cost of the process
# (Go runtime, binary, histograms).
#
#   scripts/bench-idle.sh                    # N = 1000 and 19000, then the peers' method
#   IDLE_CONNS="1000 5000 19000" CASES=slope scripts/bench-idle.sh
#
# The peers' method (CASES=peers): the client's peak RSS holding PEER_CONNS
# (10,000) idle connections (--kind hold) minus its peak RSS holding 1, over
# PEER_CONNS. Unlike the slope it charges the fixed costs that grow with the
# first thousands of connections (the dialling goroutines, their buffers and
# histograms, heap slack) to the connections. REPEAT (3) runs per client,
# alternating, and the median; BASE=<git revision> adds that revision's
# build, TCPKALI=<path to tcpkali> adds tcpkali (scripts/peers/build-tcpkali.sh
# builds it), each measured the same way.
#
#   CASES=peers BASE=main TCPKALI=/tmp/tcpkali/src/tcpkali scripts/bench-idle.sh
#
# Run as root, the script runs in a network namespace of its own (NETNS=1, the
# default then; see scripts/lib.sh), so no other process's ports or TIME_WAIT
# sockets take part; NETNS=0 runs on the host's.
#
# The open-file limit bounds N: one descriptor per connection plus a few for
# the runtime and the event loops must fit in `ulimit -Hn` (20,000 here).
set -euo pipefail
cd "$(dirname "$0")/.."
IDLE_CONNS=${IDLE_CONNS:-"1000 19000"}
CASES=${CASES:-"slope peers"}
PEER_CONNS=${PEER_CONNS:-10000}
REPEAT=${REPEAT:-3}
. scripts/lib.sh


rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nfds() { { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l; }


failed=0
slope() {
results=() # "N client_rss_kib server_rss_kib" per case
echo "wsbench idle-connection memory: N = $IDLE_CONNS, 0.01 msg/s in total, open-file limit $(ulimit -Hn), $(nproc) cores"
for n in $IDLE_CONNS; do
  name="idle-${n}c"
  start_server "$OUT/serve-$name.log"
  "$bin" run -c "$n" -r 0.01 -d 15s --warmup 0s --grace 1s --connect-timeout 60s \
    -o "$OUT/$name.json" "$url" >"$OUT/$name.txt" 2>&1 &
  cpid=$!
  pids+=("$cpid")

  # Wait (at most 60 s) until the client holds N descriptors: its sockets.
  fds=0 t0=$SECONDS
  while [ $((SECONDS - t0)) -lt 60 ] && kill -0 "$cpid" 2>/dev/null; do
    fds=$(nfds "$cpid")
    [ "$fds" -ge "$n" ] && break
    sleep 0.2
  done
  if [ "$fds" -lt "$n" ]; then
    echo "$name: the client holds $fds descriptors, not $n, after $((SECONDS - t0)) s; see $OUT/$name.txt"
    failed=1
  fi
  crss=(0) srss=(0) maxfds=$fds
  if kill -0 "$cpid" 2>/dev/null; then
    sleep 3 # let the last handshakes finish and the allocations settle
    crss=() srss=()
    for i in 1 2 3 4; do
      crss+=("$(rss_kib "$cpid")")
      srss+=("$(rss_kib "$spid")")
      f=$(nfds "$cpid")
      if [ "$f" -gt "$maxfds" ]; then maxfds=$f; fi
      if [ "$i" -lt 4 ]; then sleep 1; fi
    done
  fi
  c=$(median "${crss[@]}") s=$(median "${srss[@]}")

  rc=0
  wait "$cpid" || rc=$?
  forget "$cpid"
  stop_server
  if [ "$rc" -ne 0 ] || [ ! -s "$OUT/$name.json" ]; then
    echo "$name: wsbench run exited with $rc:"; tail -5 "$OUT/$name.txt"
    failed=1
    continue
  fi
  python3 - "$OUT/$name.json" "$name" "$n" "$c" "$s" "$maxfds" "${crss[*]}" <<'PY' || failed=1
import json, sys
path, name, n, c, s, fds, samples = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
r = json.load(open(path))
co = r["connections"]
errs = r["errors"]
ok = co["opened"] == n and not errs
print(f"{name:<12} opened {co['opened']:>6}/{n:<6} fds {fds:>6}  "
      f"client rss {c/1024:6.1f} MiB ({c/n:5.2f} KiB/conn, peak {r['harness']['max_rss_kib']/1024:.1f} MiB)  "
      f"server rss {s/1024:6.1f} MiB  dial {co['dial_s']:.2f}s  "
      f"errors {dict(errs) if errs else 0}  {'ok' if ok else 'FAILED'}")
print(f"{'':<12} client VmRSS samples (KiB): {samples}")
if "connect_no_source_port" in errs:
    print(f"{'':<12} FAILED: out of source ports (connect_no_source_port): TIME_WAIT from an earlier run?")
sys.exit(0 if ok else 1)
PY
  results+=("$n $c $s")
done

if [ "${#results[@]}" -ge 2 ]; then
  read -r n1 c1 s1 <<<"${results[0]}"
  read -r n2 c2 s2 <<<"${results[${#results[@]}-1]}"
  python3 - "$n1" "$c1" "$s1" "$n2" "$c2" "$s2" <<'PY'
import sys
n1, c1, s1, n2, c2, s2 = map(int, sys.argv[1:])
g = (c2 - c1) / (n2 - n1)
gs = (s2 - s1) / (n2 - n1)
print(f"client rss growth per connection, ({n2} - {n1}): {g:.2f} KiB  "
      f"(target <= 1.6 KiB: {'met' if g <= 1.6 else 'NOT met'})")
print(f"client rss / N: {c1/n1:.2f} KiB at {n1}, {c2/n2:.2f} KiB at {n2}")
print(f"server rss growth per connection, for reference: {gs:.2f} KiB")
PY
fi
}

# peers: the peers' method, for each client (see the top).
peers() {
  build_base
  local tools=(wsbench) t i r
  [ -n "$base_bin" ] && tools=(base wsbench)
  [ -n "${TCPKALI:-}" ] && tools+=(tcpkali)
  echo "idle memory by the peers' method: peak RSS holding $PEER_CONNS idle connections minus holding 1, over $PEER_CONNS;" \
    "$REPEAT runs per client, alternating${base_rev:+; base = $BASE ($base_rev)}"
  : >"$OUT/peers-idle.txt"
  for i in $(seq "$REPEAT"); do
    for t in "${tools[@]}"; do
      wait_free_ports "$PEER_CONNS"
      r=$(hold_once "$t" 1 2 "peers-idle-$t-1c-$i")
      echo "$t 1 $r" >>"$OUT/peers-idle.txt"
      wait_free_ports "$PEER_CONNS"
      r=$(hold_once "$t" "$PEER_CONNS" 3 "peers-idle-$t-${PEER_CONNS}c-$i")
      echo "$t $PEER_CONNS $r" >>"$OUT/peers-idle.txt"
    done
  done
  python3 - "$OUT/peers-idle.txt" "$PEER_CONNS" "${tools[@]}" <<'PY' || failed=1
import statistics, sys
path, n, tools = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {}
for line in open(path):
    t, c, cpu, peak, up = line.split()
    runs.setdefault((t, int(c)), []).append((float(cpu), int(peak), int(up)))
ok = True
names = {"wsbench": "wsbench (this tree)", "base": "wsbench (base)", "tcpkali": "tcpkali"}
for t in tools:
    ones, ns = runs[(t, 1)], runs[(t, n)]
    per = [(pn - p1) / n for (_, p1, _), (_, pn, _) in zip(ones, ns)]
    full = all(u == n for _, _, u in ns)
    ok = ok and full
    print(f"{names[t]:<20} {statistics.median(per):5.2f} KiB per connection (runs: {', '.join(f'{x:.2f}' for x in per)}); "
          f"peak RSS {statistics.median(p for _, p, _ in ns)/1024:.1f} MiB with {n}, {statistics.median(p for _, p, _ in ones)/1024:.1f} MiB with 1; "
          f"server upgraded {', '.join(str(u) for _, _, u in ns)}{'' if full else ' (NOT all)'}")
sys.exit(0 if ok else 1)
PY
}

for c in $CASES; do
  case $c in
  slope) slope ;;
  peers) peers ;;
  *) echo "bench-idle: unknown case $c (slope, peers)" >&2; exit 2 ;;
  esac
done
echo "results and summaries in $OUT/"
exit "$failed"
