#!/usr/bin/env bash
# Soak test: does the client's memory stay flat over a long open-model run?
#
# Starts `wsbench serve` as its own process on 127.0.0.1, runs
# `wsbench run -c CONNS -r RATE -d DURATION` against it, and every SAMPLE
# seconds reads VmRSS and VmHWM of both processes from /proc/PID/status into
# $OUT/soak.csv (elapsed_s, client_rss_kib, server_rss_kib, client_hwm_kib,
# server_hwm_kib; elapsed from the client's start). At the end it prints the
# RSS at the marks 1, 10 and 30 minutes (and the end, for a longer DURATION;
# for a DURATION under 30 minutes: 10%, 50% and 100% of it), the growth from the first mark to the last, and the
# run's summary from its result JSON (-o): messages, rtt, errors, harness
# saturation.
#
# Verdict: FAIL (exit 1) when the client's RSS grows from the first mark to
# the last by more than MAX_GROWTH_PCT percent of the first mark or
# MAX_GROWTH_MIB MiB, whichever is larger (default 20% or 16 MiB), or when the
# run fails: non-zero exit, no result, counts that do not balance, lost
# messages, errors, or fewer connections than asked for. The server's growth
# is printed for reference and judged by nothing.
#
#   scripts/soak.sh                                   # 1,000 connections, 5,000 msg/s, 30 minutes
#   DURATION=60s scripts/soak.sh                      # a quick look (marks at 6 s, 30 s, 60 s)
#   CONNS=200 RATE=2000 DURATION=10m SAMPLE=5 scripts/soak.sh
#
# Knobs: DURATION (a Go duration: 30m, 90s, 1h30m), CONNS, RATE (messages/s in
# total), SAMPLE (seconds between samples; default 10, or DURATION/60 when that
# is shorter, at least 1), INTERVAL (the run's --interval, default 1s as in a
# plain run; 0 keeps no per-interval slices, which separates what they cost
# from the rest), MAX_GROWTH_PCT, MAX_GROWTH_MIB, OUT (default: a new temporary
# folder, kept: the binary, soak.csv, soak.json, the client's summary and the
# server's log).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30m}
CONNS=${CONNS:-1000}
RATE=${RATE:-5000}
INTERVAL=${INTERVAL:-1s}
MAX_GROWTH_PCT=${MAX_GROWTH_PCT:-20}
MAX_GROWTH_MIB=${MAX_GROWTH_MIB:-16}
# Go duration → seconds (h, m, s, ms, us/µs, ns; as `wsbench run -d` takes it).
dur_s=$(python3 - "$DURATION" <<'PY'
import re, sys
d = sys.argv[1]
unit = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)", d)
if not parts or "".join(n + u for n, u in parts) != d:
    sys.exit(f"DURATION={d!r}: want a Go duration such as 30m or 90s")
print(f"{sum(float(n) * unit[u] for n, u in parts):g}")
PY
)
SAMPLE=${SAMPLE:-$(awk -v d="$dur_s" 'BEGIN{s = d / 60; print (s > 10) ? 10 : (s < 1) ? 1 : s}')}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/wsbench-soak.XXXXXX")}
. scripts/lib.sh

rss_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true; }

csv="$OUT/soak.csv" json="$OUT/soak.json"
echo "wsbench soak: $CONNS connections, $RATE msg/s in total, $DURATION measured, RSS sampled every ${SAMPLE}s; $(nproc) cores shared by client and server"
start_server "$OUT/serve.log"
"$bin" run -q -c "$CONNS" -r "$RATE" -d "$DURATION" --interval "$INTERVAL" -o "$json" "$url" >"$OUT/soak.txt" 2>&1 &
cpid=$!
pids+=("$cpid")
t0=$(date +%s.%N)

# Sample on a fixed grid (k × SAMPLE from the client's start) so sleeping and
# reading do not make the samples drift.
echo "elapsed_s,client_rss_kib,server_rss_kib,client_hwm_kib,server_hwm_kib" >"$csv"
k=0
while kill -0 "$cpid" 2>/dev/null; do
  now=$(date +%s.%N)
  c=$(rss_kib "$cpid" VmRSS) ch=$(rss_kib "$cpid" VmHWM)
  s=$(rss_kib "$spid" VmRSS) sh=$(rss_kib "$spid" VmHWM)
  # A client that has ended (a zombie until waited for) has no VmRSS.
  [ -n "$c" ] && [ -n "$s" ] || break
  printf '%s,%s,%s,%s,%s\n' "$(awk -v n="$now" -v t="$t0" 'BEGIN{printf "%.1f", n - t}')" "$c" "$s" "$ch" "$sh" >>"$csv"
  k=$((k + 1))
  wait_s=$(awk -v t="$t0" -v k="$k" -v s="$SAMPLE" -v n="$(date +%s.%N)" 'BEGIN{w = t + k * s - n; printf "%.3f", (w > 0) ? w : 0}')
  sleep "$wait_s"
done
rc=0
wait "$cpid" || rc=$?
forget "$cpid"
stop_server

python3 - "$csv" "$json" "$OUT/serve.log" "$rc" "$dur_s" "$CONNS" "$MAX_GROWTH_PCT" "$MAX_GROWTH_MIB" <<'PY'
import csv, json, os, sys
path, rpath, slog, rc, dur = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
conns, pct, mib = int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(path))]
failed = []

# The marks: 1, 10 and 30 minutes when they fit, else 10%, 50% and 100% of the
# measured duration; each takes the sample nearest to it.
marks = [60, 600, 1800] if dur >= 1800 else [dur * 0.1, dur * 0.5, dur]
if dur > 1800:
    marks.append(dur)
def label(t):
    return f"{t / 60:g} min" if t >= 60 and t % 60 == 0 else f"{t:g} s"
at = [min(rows, key=lambda r: abs(r["elapsed_s"] - m)) for m in marks] if rows else []
mi = lambda kib: f"{kib / 1024:7.1f} MiB"
print(f"\nRSS ({len(rows)} samples in {path})")
print(f"{'mark':>10} {'sample at':>10} {'client':>12} {'server':>12}")
for m, r in zip(marks, at):
    print(f"{label(m):>10} {r['elapsed_s']:>9.1f}s {mi(r['client_rss_kib']):>12} {mi(r['server_rss_kib']):>12}")
if len(at) >= 2:
    first, last = at[0], at[-1]
    if last["elapsed_s"] <= first["elapsed_s"]:
        failed.append("too few samples to compare the marks: lower SAMPLE")
    bound = max(first["client_rss_kib"] * pct / 100, mib * 1024)
    for who in ("client", "server"):
        g = last[f"{who}_rss_kib"] - first[f"{who}_rss_kib"]
        rel = g / first[f"{who}_rss_kib"] * 100
        print(f"{who} growth, {label(marks[0])} → {label(marks[-1])}: {g / 1024:+.1f} MiB ({rel:+.1f}%)"
              f"; peak (VmHWM) {rows[-1][f'{who}_hwm_kib'] / 1024:.1f} MiB")
    g = last["client_rss_kib"] - first["client_rss_kib"]
    if g > bound:
        failed.append(f"client RSS grew {g / 1024:.1f} MiB, more than the bound {bound / 1024:.1f} MiB "
                      f"(the larger of {pct:g}% and {mib:g} MiB)")
    else:
        print(f"client growth within the bound of {bound / 1024:.1f} MiB (the larger of {pct:g}% and {mib:g} MiB)")
else:
    failed.append("no RSS samples")
stats = [l for l in open(slog) if "stopped; stats " in l]
if stats:
    s = json.loads(stats[-1].split("stats ", 1)[1])
    print(f"server at stop: rss {s['rss_kib'] / 1024:.1f} MiB, peak {s['max_rss_kib'] / 1024:.1f} MiB, "
          f"{s['cpu_cores']:.2f} cores, {s['messages_in']} messages in")

if rc != 0:
    failed.append(f"wsbench run exited with {rc} (see {os.path.dirname(path)}/soak.txt)")
if os.path.exists(rpath) and os.path.getsize(rpath) > 0:
    r = json.load(open(rpath))
    m, c, h, l = r["messages"], r["connections"], r["harness"], r["latency"]["rtt"]
    errs = sum(r["errors"].values())
    print(f"\nrun: {r['duration_s']:.0f} s measured, stop {r['stop_reason']}; "
          f"connections {c['opened']}/{c['attempted']} opened, {c['failed']} failed, {c['dropped']} dropped")
    print(f"messages: sent {m['sent']} received {m['received']} lost {m['lost']} in flight {m['in_flight']} "
          f"unsent {m['unsent']} ({'balanced' if m['balanced'] else 'NOT balanced'}); "
          f"{r['rates']['received_msgs_per_s']:.0f} msg/s received")
    print(f"rtt: p50 {l['p50_us']:.0f} µs, p99 {l['p99_us']:.0f} µs, p99.9 {l['p999_us']:.0f} µs, max {l['max_us']:.0f} µs")
    iv = r.get("intervals") or []
    if len(iv) >= 2:
        p99 = [i["latency"]["rtt"]["p99_us"] for i in iv if "rtt" in i["latency"]]
        print(f"rtt p99 per {iv[0]['end_s'] - iv[0]['start_s']:g} s interval: first {p99[0]:.0f} µs, "
              f"last {p99[-1]:.0f} µs, max {max(p99):.0f} µs; received/s per interval "
              f"{min(i['received_per_s'] for i in iv):.0f} to {max(i['received_per_s'] for i in iv):.0f}")
    print(f"errors: {dict(r['errors']) if errs else 'none'}")
    print(f"harness: {h['cpu_cores']:.2f} cores, {h['cpu_us_per_message']:.1f} µs per message, "
          f"max RSS {h['max_rss_kib'] / 1024:.1f} MiB, GC {h['gc_cycles']} cycles ({h['gc_pause_fraction'] * 100:.3f}% of wall); "
          + ("SATURATED: " + "; ".join(h["saturation"]) if h["saturated"] else "not saturated"))
    if not m["balanced"] or m["lost"]:
        failed.append("the message counts do not add up, or messages were lost")
    if errs:
        failed.append(f"{errs} errors")
    if c["opened"] < conns or c["dropped"]:
        failed.append(f"{c['opened']} of {conns} connections opened, {c['dropped']} dropped")
else:
    failed.append(f"no result in {rpath}")

print()
for f in failed:
    print("FAIL:", f)
print("soak: " + ("FAIL" if failed else "PASS"))
sys.exit(1 if failed else 0)
PY
