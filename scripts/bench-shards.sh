#!/usr/bin/env bash
# Scale on one machine: CONNS (60,000) WebSocket connections held at once by
# SHARDS (4) client processes, each one shard of the same run (`wsbench run
# --shard i/4 --start-at T`), against SERVERS (4) `wsbench serve` processes
# behind one address, then `wsbench merge` of the shards' results. The
# open-file limit (20,000 here) holds each process to fewer than 20,000
# connections: 15,000 per shard and per server.
#
#   scripts/bench-shards.sh
#   CONNS=20000 DURATION=5s scripts/bench-shards.sh      # smaller
#
# The servers stand behind one address as a Kubernetes Service's pods do
# behind its ClusterIP: the shards all dial ws://127.0.0.100:8080/ and an
# nftables rule (`dnat to numgen inc mod SERVERS`, what kube-proxy's nftables
# mode does) sends the connections in turn to the servers at
# 127.0.1.1:8080 … 127.0.1.SERVERS:8080. So every shard runs the same plan
# (one URL), and each server gets CONNS/SERVERS connections. One address and
# port pair holds at most one ephemeral port range (28,232 here) of
# connections from one source address, so the shards spread theirs over
# SOURCES (4) local addresses, 127.0.0.1 … 127.0.0.SOURCES (--source-ip).
#
# The run: --kind hold with RATE (3,000) messages a second in all, message i
# on connection i mod CONNS, so in DURATION (20 s) each connection sends one
# (light traffic: the merged result also has a latency histogram and counts
# that must balance), measured from the common start time T, which
# is START_IN (30 s) after the shards are started: they connect first, then
# wait for T. Printed: per shard, its connections, connect rate (opened per
# second from its first connect to its last handshake), resident memory per
# connection (VmRSS while holding, the median of 3 samples, divided by its
# connections: the process's fixed cost included) and peak RSS, its start
# skew; per server, its connections and RSS per connection; the whole run's
# connect rate (CONNS over the time from starting the shards until they held
# CONNS sockets, polled every 0.5 s) and the CPU shards and servers spent
# until then; then the merged totals from `wsbench merge` (its connect rate:
# first connect to last handshake over all shards) and the messages sent and
# unsent against RATE × DURATION. (Sends due in the window's last
# millisecond are neither: 2 of 12,000 at 3,000/s for 4 s, in one process as
# in 4 shards.) It exits 1 unless every shard ran, the merge succeeded, CONNS
# connections opened and the counts balance.
#
# Then a second, smaller round against the same servers (PROBE_CONNS,
# CONNS/8, for 4 s): the growth of each shard's RSS from that round to the
# big one, over the growth of its descriptors, is the client's memory per
# connection without the process's fixed cost.
#
# The kernel side: the growth of the machine's slab memory (Slab in
# /proc/meminfo) from before the shards start until they hold, per
# connection: its two loopback sockets and its conntrack entry; other
# processes on the machine move it too, so it is a rough figure.
#
# Needs root: it runs in a network namespace of its own (scripts/lib.sh), in
# which it adds the addresses' nftables rule; the namespace and everything in
# it go away at the end. Results in $OUT (bench-out/shards/).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-60000}
SHARDS=${SHARDS:-4}
SERVERS=${SERVERS:-4}
SOURCES=${SOURCES:-4}
RATE=${RATE:-3000}
DURATION=${DURATION:-20s}
START_IN=${START_IN:-30}
OUT=${OUT:-bench-out/shards}
if [ "$(id -u)" != 0 ]; then
  echo "bench-shards: needs root (a network namespace of its own and an nftables rule in it)" >&2
  exit 2
fi
export NETNS=1
. scripts/lib.sh
command -v nft >/dev/null || { echo "bench-shards: nft not found (Debian: apt-get install nftables)" >&2; exit 1; }
rm -f "$OUT"/shard-*.json "$OUT"/shard-*.txt "$OUT"/probe-* "$OUT"/merged.* "$OUT"/cpu.txt

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# cpu_ticks pid: the process's user + system CPU so far, in clock ticks.
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
nfds() { { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l; }

echo "wsbench shards: $CONNS connections, $SHARDS shards, $SERVERS servers, $(nproc) cores," \
  "open-file limit $(ulimit -Hn) per process, --kind hold, $RATE msg/s in all, $DURATION from a common start"

# The servers, and the Service-like address in front of them.
spids=() map=""
for i in $(seq "$SERVERS"); do
  "$bin" serve --addr "127.0.1.$i:8080" >"$OUT/serve-$i.log" 2>&1 &
  spids+=("$!")
  pids+=("$!")
  map+="${map:+, }$((i - 1)) : 127.0.1.$i"
done
for i in $(seq "$SERVERS"); do
  for _ in $(seq 100); do
    grep -q "listening on" "$OUT/serve-$i.log" 2>/dev/null && break
    sleep 0.05
  done
  grep -q "listening on" "$OUT/serve-$i.log" || { echo "server $i did not start:"; cat "$OUT/serve-$i.log"; exit 1; }
done
: >"$OUT/rss.txt"
for i in "${!spids[@]}"; do echo "idle-server $((i + 1)) $(rss_kib "${spids[$i]}") $(nfds "${spids[$i]}")" >>"$OUT/rss.txt"; done
slab_kib() { awk '/^Slab:/{print $2}' /proc/meminfo; }
slab0=$(slab_kib)
nft -f - <<EOF
table ip wsbench_service {
  chain output {
    type nat hook output priority -100; policy accept;
    ip daddr 127.0.0.100 tcp dport 8080 dnat to numgen inc mod $SERVERS map { $map }
  }
}
EOF
url=ws://127.0.0.100:8080/

# The shards: one plan, one start time.
start_at=$(date -u -d "@$(($(date +%s) + START_IN))" +%Y-%m-%dT%H:%M:%SZ)
cpids=()
t0=$(date +%s.%N)
for i in $(seq 0 $((SHARDS - 1))); do
  "$bin" run --shard "$i/$SHARDS" --start-at "$start_at" \
    --kind hold -c "$CONNS" -r "$RATE" -d "$DURATION" --warmup 0s \
    --source-ip "127.0.0.1-127.0.0.$SOURCES" --connect-timeout 60s \
    -o "$OUT/shard-$i.json" "$url" >"$OUT/shard-$i.txt" 2>&1 &
  cpids+=("$!")
  pids+=("$!")
done

# Until every shard holds its connections: the whole run's connect rate.
held=0 t_all=""
while :; do
  held=0 alive=0
  for p in "${cpids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then alive=1; held=$((held + $(nfds "$p"))); fi
  done
  if [ "$held" -ge "$CONNS" ]; then
    t_all=$(date +%s.%N)
    for i in "${!cpids[@]}"; do echo "cpu $i $(cpu_ticks "${cpids[$i]}")" >>"$OUT/cpu.txt"; done
    for i in "${!spids[@]}"; do echo "server-cpu $((i + 1)) $(cpu_ticks "${spids[$i]}")" >>"$OUT/cpu.txt"; done
    break
  fi
  [ "$alive" = 1 ] || break
  [ "$(date +%s)" -lt "$(date -d "$start_at" +%s)" ] || break
  sleep 0.5
done
# While holding (after the start): each process's resident memory.
now=$(date +%s) at=$(date -d "$start_at" +%s)
[ "$now" -ge $((at + 2)) ] || sleep $((at + 2 - now))
slab1=$(slab_kib)
for k in 1 2 3; do
  for i in "${!cpids[@]}"; do echo "shard $i $(rss_kib "${cpids[$i]}") $(nfds "${cpids[$i]}")" >>"$OUT/rss.txt"; done
  for i in "${!spids[@]}"; do echo "server $((i + 1)) $(rss_kib "${spids[$i]}") $(nfds "${spids[$i]}")" >>"$OUT/rss.txt"; done
  sleep 1
done

failed=0
for i in "${!cpids[@]}"; do
  rc=0
  wait "${cpids[$i]}" || rc=$?
  forget "${cpids[$i]}"
  if [ "$rc" != 0 ]; then
    echo "shard $i exited with $rc:"; tail -3 "$OUT/shard-$i.txt"
    failed=1
  fi
done
# The slope: a second, smaller round (PROBE_CONNS, CONNS/8) against the same
# servers, whose shards' RSS, against the big round's, gives the client's
# memory per connection without its fixed cost (runtime, histograms, buffers).
probe=${PROBE_CONNS:-$((CONNS / 8))}
: >"$OUT/probe-rss.txt"
if [ "$probe" -ge "$SHARDS" ]; then
  pstart=$(date -u -d "@$(($(date +%s) + 10))" +%Y-%m-%dT%H:%M:%SZ)
  ppids=()
  for i in $(seq 0 $((SHARDS - 1))); do
    "$bin" run --shard "$i/$SHARDS" --start-at "$pstart" \
      --kind hold -c "$probe" -r "$RATE" -d 4s --warmup 0s \
      --source-ip "127.0.0.1-127.0.0.$SOURCES" --connect-timeout 60s \
      -o "$OUT/probe-$i.json" "$url" >"$OUT/probe-$i.txt" 2>&1 &
    ppids+=("$!")
    pids+=("$!")
  done
  now=$(date +%s) at=$(date -d "$pstart" +%s)
  [ "$now" -ge $((at + 1)) ] || sleep $((at + 1 - now))
  for k in 1 2 3; do
    for i in "${!ppids[@]}"; do echo "shard $i $(rss_kib "${ppids[$i]}") $(nfds "${ppids[$i]}")" >>"$OUT/probe-rss.txt"; done
    sleep 0.5
  done
  for p in "${ppids[@]}"; do wait "$p" || true; forget "$p"; done
fi
for p in "${spids[@]}"; do kill -INT "$p"; wait "$p" || true; forget "$p"; done

mrc=0
"$bin" merge -o "$OUT/merged.json" "$OUT"/shard-*.json >"$OUT/merged.txt" 2>&1 || mrc=$?
touch "$OUT/cpu.txt"
python3 - "$OUT" "$SHARDS" "$CONNS" "$t0" "${t_all:-0}" "$mrc" "$slab0" "$slab1" "$(getconf CLK_TCK)" "$RATE" "$probe" <<'PY' || failed=1
import glob, json, os, statistics, sys
out, shards, conns, t0, t_all, mrc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
slab0, slab1, hz, rate = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), float(sys.argv[10])
cpu = {}
for line in open(os.path.join(out, "cpu.txt")):
    kind, i, ticks = line.split()
    cpu[(kind, int(i))] = int(ticks) / hz
samples = {}
for line in open(os.path.join(out, "rss.txt")):
    kind, i, rss, fds = line.split()
    samples.setdefault((kind, int(i)), []).append((int(rss), int(fds)))
ok = True
tot_opened = 0
for i in range(shards):
    try:
        r = json.load(open(os.path.join(out, f"shard-{i}.json")))
    except (OSError, ValueError) as e:
        print(f"shard {i}: no result ({e})"); ok = False; continue
    co, h, sh = r["connections"], r["harness"], (r.get("shard") or {}).get("shard") or {}
    live = [s for s, _ in samples[("shard", i)] if s > 0]  # 0: the process had ended
    rss = statistics.median(live) if live else 0
    held = co.get("opened", 0)
    tot_opened += held
    skew = sh.get("skew_ns")
    print(f"shard {i}/{shards}: {held:>6} connections  {co.get('opened_per_s', 0):>7,.0f} opened/s"
          f"  RSS {rss/1024:6.1f} MiB = {rss/max(held,1):5.2f} KiB/conn (peak {h.get('max_rss_kib', 0)/1024:.1f} MiB)"
          + (f"  start skew {skew/1e6:+.2f} ms" if skew is not None else ""))
for (kind, i), v in sorted(samples.items()):
    if kind != "server":
        continue
    idle_rss, idle_fds = samples[("idle-server", i)][0]
    live = [s for s, _ in v if s > 0]
    rss, held = statistics.median(live) if live else 0, max(f for _, f in v) - idle_fds
    print(f"server {i}: {held:>6} connections  RSS {rss/1024:6.1f} MiB = {rss/max(held,1):5.2f} KiB/conn"
          f" ({(rss - idle_rss)/max(held,1):.2f} KiB/conn above its {idle_rss/1024:.1f} MiB idle)")
print(f"kernel slab memory (the whole machine's, so roughly): {(slab1 - slab0)/1024:+.1f} MiB while holding, "
      f"{(slab1 - slab0)/conns:.2f} KiB per connection (its two sockets and conntrack entry on loopback)")
if t_all:
    ccpu = sum(v for (k, _), v in cpu.items() if k == "cpu")
    scpu = sum(v for (k, _), v in cpu.items() if k == "server-cpu")
    print(f"all shards held {conns} connections {t_all - t0:.1f} s after they were started: {conns/(t_all - t0):,.0f} connections/s in all; "
          f"CPU until then: shards {ccpu:.2f} s ({ccpu/conns*1e6:.0f} µs per connection), servers {scpu:.2f} s ({scpu/conns*1e6:.0f} µs)")
else:
    print(f"the shards never held {conns} connections at once"); ok = False
if mrc != 0:
    print(f"wsbench merge exited with {mrc}:"); print(open(os.path.join(out, "merged.txt")).read()); ok = False
else:
    m = json.load(open(os.path.join(out, "merged.json")))
    c, co, ms = m["messages"], m["connections"], m.get("shards") or {}
    print(f"merged ({len(ms.get('present') or [])} of {ms.get('count', '?')} shards): {co['opened']} opened, {co.get('failed', 0)} failed, "
          f"{co.get('opened_per_s', 0):,.0f} opened/s (first connect to last handshake over all shards); "
          f"messages sent {c['sent']}, received {c['received']}, lost {c.get('lost', 0)}; "
          f"balanced {c.get('balanced')}; start spread {ms.get('spread_ns', 0)/1e6:.2f} ms, max skew {ms.get('skew_max_ns', 0)/1e6:.2f} ms")
    planned = round(rate * m["duration_s"])
    print(f"rate × duration {planned} messages: sent {c['sent']} + unsent {c.get('unsent', 0)}"
          f" = {c['sent'] + c.get('unsent', 0)} ({c['sent'] + c.get('unsent', 0) - planned:+d})")
    ok = ok and co["opened"] == conns and c.get("balanced", False)
probe = {}
for line in open(os.path.join(out, "probe-rss.txt")):
    kind, i, rss, fds = line.split()
    if int(rss) > 0:
        probe.setdefault(int(i), []).append((int(rss), int(fds)))
slopes = []
for i in range(shards):
    big = [(s, f) for s, f in samples.get(("shard", i), []) if s > 0]
    if big and probe.get(i):
        fb, fp = max(f for _, f in big), max(f for _, f in probe[i])  # descriptors: the sockets held
        rb, rp = statistics.median(s for s, _ in big), statistics.median(s for s, _ in probe[i])
        if fb > fp:
            slopes.append((rb - rp) / (fb - fp))
if slopes:
    print(f"client memory per connection without the fixed cost (the RSS of each shard holding {conns//shards} "
          f"against a round of {int(sys.argv[11])//shards}): {statistics.median(slopes):.2f} KiB "
          f"(shards: {', '.join(f'{x:.2f}' for x in slopes)})")
sys.exit(0 if ok else 1)
PY
echo "results in $OUT/ (merged summary: $OUT/merged.txt)"
exit "$failed"
