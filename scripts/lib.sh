# Shared by the bench scripts (source it after cd to the repository root):
# builds wsbench into $OUT, keeps track of the processes a script starts and
# stops them on exit, and starts `wsbench serve` on a free loopback port.
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
  ${server_pin[@]+"${server_pin[@]}"} "$bin" serve --addr 127.0.0.1:0 "$@" >"$log" 2>&1 &
  spid=$!
  pids+=("$spid")
  url=""
  for _ in $(seq 100); do
    url=$(sed -n 's/.*listening on \(ws:[^ ]*\).*/\1/p' "$log")
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "server did not start:"; cat "$log"; exit 1; }
}

stop_server() { # stops the server start_server started last (it prints its stats line) and waits for it
  kill -INT "$spid"; wait "$spid" || true
  forget "$spid"
}
