#!/usr/bin/env bash
# Client CPU per JSON-RPC request/response, in one run of this script (this
# VM's speed changes from minute to minute: only figures from one run
# compare), at the same connections and rate, against the bundled server:
#
#   echo     wsbench's echo path (`wsbench run`, 64-byte messages) against
#            `wsbench serve --mode echo`: the cost per message to beat
#   request  wsbench `--kind request`, JSON-RPC 2.0 ({"jsonrpc":"2.0","id":N,
#            "method":"echo","params":["x…"]}, replies correlated by $.id)
#            against `wsbench serve --mode rpc`
#   k6       k6 running the same JSON-RPC flow (scripts/peers/k6-jsonrpc.js:
#            JSON.parse each reply, its id looked up among the requests in
#            flight, the round trip into a Trend) against the same rpc server
#
# Each server is started once and pinned to the last core (taskset, when
# there are two cores or more), the clients to the others; the three clients
# take turns, REPEAT rounds (echo, request, k6, echo, …), so each round's
# ratios come from the same minute.
#
# CPU per message is the client process's user+sys CPU seconds over the
# messages answered (echoes received; replies matched to a request):
#   window   over the measured window only: wsbench's own (its result JSON:
#            harness cpu_user_s + cpu_sys_s over its window, after a warm-up,
#            divided by the replies it counted in it); k6's from /proc/PID/stat
#            polled every 0.1 s, interpolated over the span from the first
#            socket's open to the last one's stop (k6 has no warm-up)
#   whole    the whole process's CPU, start to exit (getrusage of the
#            child: start-up, connecting, warm-up and k6's VU set-up
#            included), over the same answered count: an upper bound
# Ratios (window figures, per round, then the median over the rounds):
# request/echo (goal ≤ 1.5) and k6/request (goal ≥ 4).
#
#   scripts/bench-rpc.sh                       # 100 connections, 3,000 requests/s, 10 s, 3 rounds
#   CONNS=100 RATE=0 scripts/bench-rpc.sh      # closed loop: one request in flight per connection
#   K6=/tmp/k6bin/k6 REPEAT=5 DURATION=20s scripts/bench-rpc.sh
#
# k6 comes from $K6 or PATH (it is AGPL: only ever run as a program, never
# imported; `GOBIN=/tmp/k6bin go install go.k6.io/k6@v1.8.1` builds it).
# Run as root, the script runs in a network namespace of its own (NETNS=1,
# the default then; see scripts/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-100}
RATE=${RATE:-3000}
REPEAT=${REPEAT:-3}
PARAM_BYTES=${PARAM_BYTES:-16}
TOOLS=${TOOLS:-"echo request k6"}

K6=${K6:-k6}
if [[ " $TOOLS " == *" k6 "* ]]; then
  if ! k6path=$(command -v "$K6"); then
    echo "bench-rpc: k6 not found (K6=$K6): set K6 to the k6 binary or put k6 on PATH" >&2
    echo "  (e.g. GOBIN=/tmp/k6bin go install go.k6.io/k6@v1.8.1 && K6=/tmp/k6bin/k6 $0)" >&2
    exit 2
  fi
  K6=$k6path
fi
. scripts/lib.sh

# The request both JSON-RPC clients send, PARAM_BYTES of x as its one param.
params="\"$(printf 'x%.0s' $(seq "$PARAM_BYTES"))\""

last=$(( $(nproc) - 1 ))
server_pin=() client_pin=()
if [ "$last" -ge 1 ] && command -v taskset >/dev/null; then
  server_pin=(taskset -c "$last")
  client_pin=(taskset -c "0-$(( last - 1 ))")
fi

start_server "$OUT/serve-rpcbench-echo.log" --mode echo
echo_pid=$spid echo_url=$url
start_server "$OUT/serve-rpcbench-rpc.log" --mode rpc
rpc_pid=$spid rpc_url=$url

# measured name cmd...: runs cmd (pinned), polling its CPU (/proc/PID/stat
# user+sys ticks) every 0.1 s into $OUT/name.samples ("wall_ms ticks") and
# writing its whole CPU (getrusage of the child: start to exit) to
# $OUT/name.rusage ("user_s sys_s"); stdout and stderr go to $OUT/name.txt.
measured() {
  local name=$1; shift
  python3 - "$OUT/$name" ${client_pin[@]+"${client_pin[@]}"} "$@" <<'PY'
import os, resource, subprocess, sys, time
base, cmd = sys.argv[1], sys.argv[2:]
with open(base + ".txt", "w") as out, open(base + ".samples", "w") as smp:
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    while p.poll() is None:
        try:
            f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
            smp.write(f"{int(time.time() * 1000)} {int(f[11]) + int(f[12])}\n")
        except (OSError, IndexError):
            pass
        time.sleep(0.1)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(base + ".rusage", "w").write(f"{r.ru_utime} {r.ru_stime}\n")
sys.exit(p.returncode)
PY
}

run_echo() { # name
  measured "$1" "$bin" run -q -c "$CONNS" ${rate_flag[@]+"${rate_flag[@]}"} -d "$DURATION" -s 64 \
    -o "$OUT/$1.json" "$echo_url"
}

run_request() { # name
  measured "$1" "$bin" run -q --kind request -c "$CONNS" ${rate_flag[@]+"${rate_flag[@]}"} -d "$DURATION" \
    --send "{\"jsonrpc\":\"2.0\",\"id\":{{id}},\"method\":\"echo\",\"params\":[$params]}" --match '$.id' \
    -o "$OUT/$1.json" "$rpc_url"
}

run_k6() { # name
  local mode=(-e MODE=closed)
  if [ "$RATE" != 0 ]; then
    mode=(-e MODE=open -e INTERVAL="$(awk -v c="$CONNS" -v r="$RATE" 'BEGIN{printf "%gms", c * 1000 / r}')")
  fi
  measured "$1" "$K6" run -q --no-color --no-usage-report --summary-trend-stats "avg,min,med,max,p(99)" \
    --console-output "$OUT/$1.console" \
    --summary-export "$OUT/$1.summary.json" -e URL="$rpc_url" -e VUS="$CONNS" -e DURATION="$DURATION" \
    -e PARAM_BYTES="$PARAM_BYTES" "${mode[@]}" scripts/peers/k6-jsonrpc.js
}

rate_flag=()
[ "$RATE" != 0 ] && rate_flag=(-r "$RATE")
load="$CONNS connections, $( [ "$RATE" = 0 ] && echo "closed loop (one in flight each)" || echo "$RATE requests/s in total (open model)")"
echo "JSON-RPC client CPU: $load, $DURATION per run, $REPEAT rounds; servers (bundled, started once) ${server_pin[*]:-unpinned}, clients ${client_pin[*]:-unpinned}"
[[ " $TOOLS " == *" k6 "* ]] && echo "k6: $("$K6" version | head -1)"

failed=0
for i in $(seq "$REPEAT"); do
  for t in $TOOLS; do
    rc=0
    "run_$t" "rpcbench-$t-$i" || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "round $i $t: exited with $rc, see $OUT/rpcbench-$t-$i.txt:"; tail -3 "$OUT/rpcbench-$t-$i.txt"
      failed=1
    fi
  done
done
stop_server # the rpc server (started last)
spid=$echo_pid
stop_server

python3 - "$OUT" "$REPEAT" "$(getconf CLK_TCK)" "$TOOLS" "$RATE" <<'PY' || failed=1
import json, os, statistics, sys
out, n, hz, tools, asked = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), float(sys.argv[5])

def wsbench(base):
    r = json.load(open(base + ".json"))
    h, m = r["harness"], r["messages"]
    answered = m["received"]  # request: the requests answered (their replies matched)
    return {"answered": answered, "cpu_s": h["cpu_user_s"] + h["cpu_sys_s"],
            "rate": r["rates"]["received_msgs_per_s"], "p50": r["latency"]["rtt"]["p50_us"],
            "p99": r["latency"]["rtt"]["p99_us"],
            "extra": f"sent {m['sent']:,} lost {m['lost']} timed out {m.get('timed_out', 0)} failed {m.get('failed', 0)} "
                     f"unsolicited {m.get('unsolicited', 0)} " + ("balanced" if m["balanced"] else "UNBALANCED")}

def k6(base):
    met = json.load(open(base + ".summary.json"))["metrics"]
    answered = int(met.get("answered", {}).get("count", 0))
    opens, closes = {}, {}
    for line in open(base + ".console"):
        for kind, acc in (("window open ", opens), ("window close ", closes)):
            if kind in line:
                vu, t = line.split(kind, 1)[1].split()[:2]
                acc[vu] = int(t.rstrip('"'))
    samples = [tuple(map(int, l.split())) for l in open(base + ".samples") if l.strip()]
    def at(t):
        for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c0
        return None
    w0, w1 = min(opens.values()), max(closes.values())
    c0, c1 = at(w0), at(w1)
    if c0 is None or c1 is None:
        raise SystemExit(f"{base}: k6's window {w0}..{w1} lies outside its CPU samples")
    # the replies inside the window: all of them but those of the last 0.5 s
    # wait (none are sent then) and those before the first open (none)
    trend = met.get("rpc_rtt", {})
    return {"answered": answered, "cpu_s": (c1 - c0) / hz, "rate": answered / ((w1 - w0) / 1000),
            "p50": trend.get("med", float("nan")) * 1000, "p99": trend.get("p(99)", float("nan")) * 1000,
            "extra": f"sent {int(met.get('sent', {}).get('count', 0)):,} unsolicited {int(met.get('unsolicited', {}).get('count', 0))} "
                     f"errors {int(met.get('rpc_errors', {}).get('count', 0))}"}

rows = {}
for t in tools:
    for i in range(1, n + 1):
        base = f"{out}/rpcbench-{t}-{i}"
        try:
            f = (k6 if t == "k6" else wsbench)(base)
        except (OSError, KeyError, ValueError) as e:
            print(f"round {i} {t}: no figures ({e})")
            continue
        u, s = map(float, open(base + ".rusage").read().split())
        f["win_us"] = f["cpu_s"] * 1e6 / f["answered"] if f["answered"] else float("nan")
        f["whole_us"] = (u + s) * 1e6 / f["answered"] if f["answered"] else float("nan")
        rows[(t, i)] = f
        print(f"round {i} {t:<8} {f['rate']:>9,.0f} answered/s  CPU {f['win_us']:7.2f} µs/msg (window)  "
              f"{f['whole_us']:7.2f} µs/msg (whole process)  rtt p50 {f['p50']:.0f}µs p99 {f['p99']:.0f}µs  {f['extra']}"
              + (f"  BEHIND: {f['rate'] / asked:.0%} of the {asked:,.0f}/s asked" if asked and f["rate"] < 0.95 * asked else ""))

print()
print(f"{'client':<9} {'answered/s':>11} {'µs CPU/msg window':>18} {'(min–max)':>16} {'whole process':>14}")
for t in tools:
    fs = [rows[(t, i)] for i in range(1, n + 1) if (t, i) in rows]
    if not fs:
        continue
    w = [f["win_us"] for f in fs]
    print(f"{t:<9} {statistics.median(f['rate'] for f in fs):>11,.0f} {statistics.median(w):>18.2f} "
          f"{f'{min(w):.2f}–{max(w):.2f}':>16} {statistics.median(f['whole_us'] for f in fs):>14.2f}")

def ratio(a, b, goal, ok):
    rs = [rows[(a, i)]["win_us"] / rows[(b, i)]["win_us"] for i in range(1, n + 1) if (a, i) in rows and (b, i) in rows]
    if not rs:
        return True
    m = statistics.median(rs)
    print(f"{a}/{b}: {m:.2f} (per round: {', '.join(f'{r:.2f}' for r in rs)})  goal {goal}: {'met' if ok(m) else 'NOT MET'}")
    return ok(m)

print()
good = True
if "request" in tools and "echo" in tools:
    good &= ratio("request", "echo", "≤ 1.5", lambda m: m <= 1.5)
if "k6" in tools and "request" in tools:
    good &= ratio("k6", "request", "≥ 4", lambda m: m >= 4)
PY
echo "results, k6 summaries and CPU samples in $OUT/ (rpcbench-*, serve-rpcbench-*)"
exit "$failed"
