#!/usr/bin/env bash
# RabbitMQ's Web-STOMP (Debian's rabbitmq-server, STOMP 1.2 over WebSocket at
# ws://127.0.0.1:PORT/ws, user guest/guest from loopback) for the protocol
# tests, run unprivileged-style from a temporary folder: no system service,
# no epmd daemon left behind (it runs its own epmd in the foreground).
#
#   stomp.sh --port P --epmd-port E --dist-port D
#
# All three ports must be free loopback ports (the Go test picks them). It
# prints "listening on 127.0.0.1:P" once Web-STOMP accepts connections, and
# stops the broker and its epmd when its stdin closes or on SIGTERM/SIGINT.
set -euo pipefail
port='' epmd_port='' dist_port=''
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2 ;;
    --epmd-port) epmd_port=$2 ;;
    --dist-port) dist_port=$2 ;;
    *) echo "usage: stomp.sh --port P --epmd-port E --dist-port D; bad: $1" >&2; exit 2 ;;
  esac
  shift 2
done
if [ -z "$port" ] || [ -z "$epmd_port" ] || [ -z "$dist_port" ]; then
  echo "usage: stomp.sh --port P --epmd-port E --dist-port D" >&2; exit 2
fi
server=/usr/lib/rabbitmq/bin/rabbitmq-server
epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -1)
if [ ! -x "$server" ] || [ -z "$epmd" ]; then
  echo "stomp.sh: Debian's rabbitmq-server is not installed" >&2; exit 3
fi
for p in "$port" "$epmd_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "stomp.sh: port $p is taken" >&2; exit 1
  fi
done
d=$(mktemp -d "${TMPDIR:-/tmp}/wsbench-rabbitmq.XXXXXX")
pids=()
stop() {
  trap - EXIT TERM INT
  # The broker's script runs beam as its child: stop the children first.
  for p in "${pids[@]}"; do
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$d"
  exit 0
}
trap stop EXIT TERM INT
echo '[rabbitmq_web_stomp].' >"$d/enabled_plugins"
cat >"$d/rabbitmq.conf" <<CONF
listeners.tcp = none
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = $port
CONF
export HOME=$d RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log \
  RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf \
  RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config RABBITMQ_NODENAME=wsbench$$@localhost \
  RABBITMQ_DIST_PORT=$dist_port ERL_EPMD_PORT=$epmd_port
"$epmd" -port "$epmd_port" -address 127.0.0.1 >"$d/epmd.log" 2>&1 &
pids+=($!)
"$server" >"$d/server.log" 2>&1 </dev/null &
pids+=($!)
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  if ! kill -0 "${pids[1]}" 2>/dev/null; then
    echo "stomp.sh: rabbitmq-server exited:" >&2; tail -20 "$d/server.log" >&2; exit 1
  fi
  sleep 0.2
done
echo "listening on 127.0.0.1:$port"
cat >/dev/null || true # until stdin closes
