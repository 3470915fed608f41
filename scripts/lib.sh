# Shared by the bench scripts (source it after cd to the repository root):
# builds wsbench into $OUT, keeps track of the processes a script starts and
# stops them on exit, and starts `wsbench serve` on a free loopback port.
#
# NETNS: with NETNS=1 (the default when run as root and `ip netns` works;
# NETNS=0 turns it off) the script runs itself again inside a network
# namespace of its own, wsb-<pid>, with only its loopback up, and deletes it
# when it ends: its servers and clients then share no ports and no TIME_WAIT
# sockets with other processes on the host (a client that binds its source
# port itself, as tcpkali does, otherwise spins when another process's
# TIME_WAIT sockets hold the ephemeral ports). A fresh namespace has the
# kernel's default per-namespace settings (somaxconn, ip_local_port_range,
# ...); build and CPU pinning are unchanged. In it, each run of hold_once
# (the set-up CPU and peers' memory figures) gets a namespace of its own
# again, so no run starts among an earlier run's TIME_WAIT sockets: tcpkali
# closes first and binds its source ports itself, and bind(2) with port 0
# searches past every port a TIME_WAIT socket holds (10,000 after one run),
# which made a second tcpkali run spin at 100% sys.
if [ -z "${WSB_NETNS:-}" ]; then
  if [ -z "${NETNS:-}" ]; then
    NETNS=0
    if [ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1; then NETNS=1; fi
  fi
  if [ "$NETNS" = 1 ]; then
    ns_name="wsb-$$"
    ip netns add "$ns_name"
    # the namespaces hold_once adds inside it leave a name in /run/netns
    trap 'for f in "/run/netns/$ns_name" "/run/netns/$ns_name"-*; do [ -e "$f" ] && ip netns del "${f##*/}" 2>/dev/null; done; true' EXIT
    trap 'exit 130' INT TERM
    ip -n "$ns_name" link set lo up
    echo "(in network namespace $ns_name: NETNS=0 runs on the host's)"
    ns_rc=0
    ip netns exec "$ns_name" env WSB_NETNS="$ns_name" bash "scripts/$(basename "$0")" "$@" || ns_rc=$?
    exit "$ns_rc"
  fi
fi
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
go build -o "$OUT/wsbench" ./cmd/wsbench
bin="$OUT/wsbench"

# Processes this script started and has not yet waited for; the trap stops them.
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -INT "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
forget() { # pid: waited for, no longer ours to stop
  local p keep=()
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

start_server() { # log [serve flags]: starts wsbench serve, sets spid and url
  local log=$1; shift
  # ${server_pin[@]}: an optional command prefix, such as taskset -c 1
  ${ns[@]+"${ns[@]}"} ${server_pin[@]+"${server_pin[@]}"} "$bin" serve --addr 127.0.0.1:0 "$@" >"$log" 2>&1 &
  spid=$!
  pids+=("$spid")
  url=""
  for _ in $(seq 100); do
    url=$(sed -n 's/.*listening on \(ws:[^ ]*\).*/\1/p' "$log" 2>/dev/null)
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "server did not start:"; cat "$log"; exit 1; }
}

stop_server() { # stops the server start_server started last (it prints its stats line) and waits for it
  kill -INT "$spid"; wait "$spid" || true
  forget "$spid"
}

# build_base: with BASE set (a git revision), builds that revision's wsbench
# in a temporary worktree into $OUT/wsbench-base, so a script can alternate
# it with this tree's build within one run; sets base_bin ("" without BASE)
# and base_rev.
base_bin="" base_rev=""
build_base() {
  [ -n "${BASE:-}" ] || return 0
  local tmp abs
  base_rev=$(git rev-parse --short "$BASE")
  abs=$(cd "$OUT" && pwd)
  tmp=$(mktemp -d)
  git worktree add -q --detach "$tmp/base" "$base_rev"
  (cd "$tmp/base" && go build -o "$abs/wsbench-base" ./cmd/wsbench)
  git worktree remove --force "$tmp/base"
  rmdir "$tmp"
  base_bin="$OUT/wsbench-base"
}

# tw_local: the ports of the ephemeral range held by TCP sockets on this host
# in TIME_WAIT: each a port that bind(2) cannot hand out again (a
# client that closes first, as tcpkali does, leaves one per connection).
tw_local() {
  python3 - <<'PY'
lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
ports = set()  # distinct: a server's TIME_WAIT sockets all hold its one port
for l in open("/proc/net/tcp").readlines()[1:]:
    f = l.split()
    p = int(f[1].split(":")[1], 16)
    if f[3] == "06" and lo <= p <= hi:
        ports.add(p)
print(len(ports))
PY
}

# wait_free_ports n: wait (at most 70 s) until n ephemeral ports are free of
# TIME_WAIT sockets (and 2,000 more, for everything else on the host).
wait_free_ports() {
  local n=$1 lo hi tw t0=$SECONDS
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  tw=$(tw_local)
  while [ $((tw + n + 2000)) -gt $((hi - lo + 1)) ] && [ $((SECONDS - t0)) -lt 70 ]; do
    sleep 5
    tw=$(tw_local)
  done
}

# hold_once tool n seconds name: a fresh `wsbench serve`, then `tool` (wsbench,
# base: $base_bin, or tcpkali: $TCPKALI) holds n idle WebSocket connections
# to it for about `seconds` after opening them. Prints "cpu_s peak_kib
# upgraded": the client process's whole CPU (user + sys, start to exit: almost
# all of it the connection set-up), its peak RSS (VmHWM, from getrusage), and
# how many opening handshakes the server completed.
hold_once() {
  local tool=$1 n=$2 secs=$3 name=$4 cmd ns=() nsn=""
  if [ -n "${WSB_NETNS:-}" ]; then # a namespace of its own for the server and the client
    nsn="$WSB_NETNS-$name"
    ip netns add "$nsn"
    ip -n "$nsn" link set lo up
    ns=(ip netns exec "$nsn")
  fi
  start_server "$OUT/serve-$name.log"
  local hp=${url#ws://}
  hp=${hp%/}
  case $tool in
  wsbench | base)
    local b=$bin
    [ "$tool" = base ] && b=$base_bin
    cmd=("$b" run -q --kind hold -c "$n" -d "${secs}s" --warmup 0s --connect-timeout 60s -o "$OUT/$name.json" "$url")
    ;;
  tcpkali)
    # -T counts from the start: the set-up and then the hold. Above about
    # 10,000 new connections per second tcpkali (1.2.0, here) drops
    # connections it has opened and opens others, over and over (measured
    # in a network namespace of its own, -c 10000: the server upgraded
    # 10,000 at --connect-rate 10000, 11,197 at 15000, 19,329 at 20000 and
    # about 20,000 at 100000, with 30-60 s of CPU), so it is held to
    # TCPKALI_RATE (10,000) a second: wsbench opens 8,000-14,000 a second.
    cmd=("$TCPKALI" --ws -c "$n" --connect-rate "${TCPKALI_RATE:-10000}" --connect-timeout 60s -T "$((secs + 10))s" "$hp")
    ;;
  esac
  local usage
  usage=$(python3 - ${ns[@]+"${ns[@]}"} "${cmd[@]}" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.3f} {r.ru_maxrss}")
PY
  )
  stop_server
  if [ -n "$nsn" ]; then ip netns del "$nsn"; fi
  local up
  up=$(sed -n 's/.*stopped; stats .*"upgraded":\([0-9]*\).*/\1/p' "$OUT/serve-$name.log")
  echo "$usage ${up:-0}"
}
