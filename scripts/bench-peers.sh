#!/usr/bin/env bash
# Peer comparison: wsbench and k6 as clients of the same `wsbench serve`
# (a fresh one per case, in its own process), both on this machine, 64-byte
# text messages. Prints one line per client per case: messages (round trips)
# per second, client CPU per message, client peak RSS (VmHWM), rtt p50/p99
# where the tool reports them, messages received, and the server's own count
# of messages in (from its stats line when stopped) as a cross-check.
#
# Cases:
#   closed-100c   100 connections, each sends when its previous echo arrives
#   open-5k-100c  100 connections, 5,000 msg/s in total (each every 20 ms)
#   idle-rss      IDLE_CONNS (2000) connections held idle for DURATION; the
#                 peak RSS above that of a run with 1 connection, per connection
#
# How each figure is taken:
#   wsbench  from its result JSON: rates.received_msgs_per_s,
#            harness.cpu_us_per_message and max_rss_kib (its own measured
#            window, after a 1 s warm-up), latency.rtt.p50_us/p99_us.
#   k6       a Counter "echoes" incremented on every message received, from
#            --summary-export. The scripts (scripts/peers/k6-*.js) log when
#            each socket opened and stopped sending (Date.now()); the window is
#            the first open to the last stop, msg/s is echoes over it. k6's
#            CPU (/proc/PID/stat fields 14+15) and VmHWM are polled every 0.2 s
#            while it runs; CPU per message is the CPU interpolated over that
#            window divided by the echoes, with the whole process's (startup,
#            VU init and summary included) in brackets. k6 reports no
#            per-message rtt. k6 has no warm-up.
#
#   K6=/tmp/k6bin/k6 scripts/bench-peers.sh       # k6 from $K6 or PATH
#   DURATION=30s CASES="closed open" scripts/bench-peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
IDLE_CONNS=${IDLE_CONNS:-2000}
CASES=${CASES:-"closed open idle"}

K6=${K6:-k6}
if ! k6path=$(command -v "$K6"); then
  echo "bench-peers: k6 not found (K6=$K6): set K6 to the k6 binary or put k6 on PATH" >&2
  echo "  (e.g. GOBIN=/tmp/k6bin go install go.k6.io/k6@v1.8.1 && K6=/tmp/k6bin/k6 $0)" >&2
  exit 2
fi
K6=$k6path
. scripts/lib.sh

ticks=$(getconf CLK_TCK)

run_wsbench() { # case, name, then wsbench run flags
  local case=$1 name=$2; shift 2
  start_server "$OUT/serve-$name.log"
  local rc=0
  "$bin" run -q -s 64 -o "$OUT/$name.json" "$@" "$url" >"$OUT/$name.txt" 2>&1 || rc=$?
  stop_server
  if [ "$rc" -ne 0 ] || [ ! -s "$OUT/$name.json" ]; then
    echo "$case wsbench: wsbench run exited with $rc, see $OUT/$name.txt"; tail -3 "$OUT/$name.txt"
    return 1
  fi
}

run_k6() { # case, name, script, then k6 -e flags; polls k6's CPU and VmHWM
  local case=$1 name=$2 script=$3; shift 3
  start_server "$OUT/serve-$name.log"
  : >"$OUT/$name.samples"
  "$K6" run -q --no-color --no-usage-report --console-output "$OUT/$name.console" \
    --summary-export "$OUT/$name.summary.json" -e URL="$url" "$@" "$script" >"$OUT/$name.txt" 2>&1 &
  local kpid=$! s h
  pids+=("$kpid")
  # Every 0.2 s: wall ms, user+sys ticks, VmHWM KiB; the last line is the
  # last reading before k6 exited (a zombie has no VmHWM and is skipped).
  while kill -0 "$kpid" 2>/dev/null; do
    s=$(awk '{print $14+$15}' "/proc/$kpid/stat" 2>/dev/null) || s=""
    h=$(awk '/^VmHWM:/{print $2}' "/proc/$kpid/status" 2>/dev/null) || h=""
    [ -n "$s" ] && [ -n "$h" ] && echo "$(date +%s%3N) $s $h" >>"$OUT/$name.samples"
    sleep 0.2
  done
  local rc=0
  wait "$kpid" || rc=$?
  forget "$kpid"
  stop_server
  if [ "$rc" -ne 0 ] || [ ! -s "$OUT/$name.summary.json" ]; then
    echo "$case k6: k6 run exited with $rc, see $OUT/$name.txt"; tail -3 "$OUT/$name.txt"
    return 1
  fi
}

# Prints the line of a traffic case (closed or open) for one client.
report() { # case, tool, name
  python3 - "$1" "$2" "$OUT/$3" "$OUT/serve-$3.log" "$ticks" "$DURATION" <<'PY'
import json, sys
case, tool, base, slog, hz, dur = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]

def server_in():
    for line in open(slog):
        if "stopped; stats " in line:
            return json.loads(line.split("stopped; stats ", 1)[1])["messages_in"]
    return None

srv = server_in()
srv_s = f"{srv:,}" if srv is not None else "?"
if tool == "wsbench":
    r = json.load(open(base + ".json"))
    h, m, l = r["harness"], r["messages"], r["latency"]["rtt"]
    print(f"{case:<13} {tool:<8} {r['rates']['received_msgs_per_s']:>9,.0f} msg/s  "
          f"client {h['cpu_us_per_message']:6.2f} µs/msg (its measured window)  "
          f"peak rss {h['max_rss_kib']/1024:6.1f} MiB  rtt p50 {l['p50_us']:.0f}µs p99 {l['p99_us']:.0f}µs  "
          f"received {m['received']:,} sent {m['sent']:,} lost {m['lost']}  "
          f"server messages_in {srv_s} (incl. 1 s warm-up)  errors {sum(r['errors'].values())}")
    sys.exit(0)

met = json.load(open(base + ".summary.json"))["metrics"]
echoes = int(met.get("echoes", {}).get("count", 0))
sent = met.get("ws_msgs_sent", {}).get("count")  # counts each socket's close frame too
opens, closes = {}, {}  # VU id: wall ms
for line in open(base + ".console"):
    for kind, acc in (("window open ", opens), ("window close ", closes)):
        if kind in line:
            vu, t = line.split(kind, 1)[1].split()[:2]
            acc[vu] = int(t.rstrip('"'))
samples = [tuple(map(int, l.split())) for l in open(base + ".samples") if l.strip()]
peak = max(s[2] for s in samples)
whole = samples[-1][1] / hz * 1e6 / echoes if echoes else float("nan")

def cpu_at(t):  # ticks at wall ms t, interpolated between the polls around it
    for (t0, c0, _), (t1, c1, _) in zip(samples, samples[1:]):
        if t0 <= t <= t1:
            return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c0
    return None

# msg/s: echoes over the mean of the VUs' own windows (each DURATION long,
# opened a few ms apart); CPU: over the union of the windows.
vus = [v for v in opens if v in closes]
if vus:
    rate = echoes / (sum(closes[v] - opens[v] for v in vus) / len(vus) / 1000)
else:
    secs = float(dur.rstrip("s")) if dur.endswith("s") and not dur.endswith("ms") else float("nan")
    rate = echoes / secs
w0, w1 = (min(opens.values()), max(closes.values())) if vus else (None, None)
c0, c1 = (cpu_at(w0), cpu_at(w1)) if w0 is not None else (None, None)
if c0 is not None and c1 is not None and echoes:
    cpu = (f"{(c1 - c0) / hz * 1e6 / echoes:6.2f} µs/msg (window: first open to last stop, {(w1 - w0) / 1000:.2f}s; "
           f"whole process incl. startup {whole:.2f})")
else:
    cpu = f"{whole:6.2f} µs/msg (WHOLE k6 process incl. startup: window not measured)"
sent_s = f"{int(sent):,}" if sent is not None else "?"
print(f"{case:<13} {tool:<8} {rate:>9,.0f} msg/s  client {cpu}  "
      f"peak rss {peak/1024:6.1f} MiB  rtt n/a (k6 reports none)  "
      f"received {echoes:,} ws_msgs_sent {sent_s} (incl. a close frame per VU)  server messages_in {srv_s}  "
      f"VUs {int(met['vus_max']['max'])}")
PY
}

k6v=$("$K6" version | head -1)
echo "peer benchmark: wsbench vs $k6v ($K6); $DURATION per case, 64-byte text messages, $(nproc) cores shared by client and server"

failed=0
for c in $CASES; do
  case $c in
  closed)
    { run_wsbench closed-100c peers-wsbench-closed-100c -c 100 -d "$DURATION" &&
      report closed-100c wsbench peers-wsbench-closed-100c; } || failed=1
    { run_k6 closed-100c peers-k6-closed-100c scripts/peers/k6-closed.js -e VUS=100 -e DURATION="$DURATION" &&
      report closed-100c k6 peers-k6-closed-100c; } || failed=1
    ;;
  open)
    { run_wsbench open-5k-100c peers-wsbench-open-5k-100c -c 100 -r 5000 -d "$DURATION" &&
      report open-5k-100c wsbench peers-wsbench-open-5k-100c; } || failed=1
    { run_k6 open-5k-100c peers-k6-open-5k-100c scripts/peers/k6-open.js -e VUS=100 -e INTERVAL=20ms -e DURATION="$DURATION" &&
      report open-5k-100c k6 peers-k6-open-5k-100c; } || failed=1
    ;;
  idle)
    # wsbench: --kind hold keeps the connections open and sends nothing. The
    # baseline runs 3 s with 1 connection; its peak RSS is subtracted.
    idle_ok=1
    run_wsbench idle-rss peers-wsbench-idle-1c --kind hold -c 1 -d 3s --warmup 0s || idle_ok=0
    run_wsbench idle-rss "peers-wsbench-idle-${IDLE_CONNS}c" --kind hold -c "$IDLE_CONNS" -d "$DURATION" \
      --warmup 0s --connect-timeout 60s || idle_ok=0
    run_k6 idle-rss peers-k6-idle-1c scripts/peers/k6-idle.js -e VUS=1 -e DURATION=3s || idle_ok=0
    run_k6 idle-rss "peers-k6-idle-${IDLE_CONNS}c" scripts/peers/k6-idle.js -e VUS="$IDLE_CONNS" -e DURATION="$DURATION" || idle_ok=0
    if [ "$idle_ok" = 1 ]; then python3 - "$OUT" "$IDLE_CONNS" "$DURATION" <<'PY' || failed=1
import json, sys
out, n, dur = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def upgraded(name):
    for line in open(f"{out}/serve-{name}.log"):
        if "stopped; stats " in line:
            return json.loads(line.split("stopped; stats ", 1)[1])["upgraded"]
    return "?"

def ws(c):
    r = json.load(open(f"{out}/peers-wsbench-idle-{c}c.json"))
    return r["harness"]["max_rss_kib"], r["connections"]["opened"]

def k6(c):
    peak = max(int(l.split()[2]) for l in open(f"{out}/peers-k6-idle-{c}c.samples") if l.strip())
    met = json.load(open(f"{out}/peers-k6-idle-{c}c.summary.json"))["metrics"]
    return peak, int(met.get("opened", {}).get("count", 0))

for tool, f, unit in (("wsbench", ws, "connection"), ("k6", k6, "connection (one VU each)")):
    (r1, o1), (rn, on) = f(1), f(n)
    print(f"{'idle-rss':<13} {tool:<8} {on:,}/{n:,} opened (server upgraded {upgraded(f'peers-{tool}-idle-{n}c')}), held {dur}  "
          f"peak rss {rn/1024:7.1f} MiB, with 1 connection {r1/1024:6.1f} MiB (3 s run; opened {o1})  "
          f"{(rn - r1)/(n - 1):7.2f} KiB per {unit} above 1  ({rn/n:.2f} KiB per connection of the total)")
PY
    else failed=1; fi
    ;;
  *) echo "bench-peers: unknown case $c (closed, open, idle)" >&2; exit 2 ;;
  esac
done
echo "results, k6 summaries, console logs, CPU/RSS samples and server logs in $OUT/ (peers-*, serve-peers-*)"
exit "$failed"
