#!/usr/bin/env bash
# `make e2e-kube`: wsbench's Indexed Job on a real Kubernetes control plane,
# on this machine, with no container runtime. Opt-in (root, slow the first
# time); not part of `make test`.
#
#   etcd                     Debian's etcd-server (apt-get install etcd-server)
#   kube-apiserver           built from the Go module proxy (kube/e2e/cp, a
#   kube-controller-manager  wrapper module: k8s.io/kubernetes v1.37.2 with its
#                            staging modules replaced by their v0.37.2),
#                            cached in $WSBENCH_E2E_CACHE (~/.cache/wsbench-e2e)
#   kubelet                  kube/e2e/standin: runs each pod as local
#                            processes, each pod in its own network namespace
#                            (198.19.0.0/16, gateway 198.19.0.1)
#
# all on loopback with certificates and tokens made for the run, then
# `go test -tags e2ekube ./kube/e2e` (a plain Indexed Job of shell pods,
# `wsbench kube run` to a merged result, a Job whose shard misses its
# start, Ctrl-C during a run). Everything is stopped and removed at the end, on every path.
# KEEP=1 keeps the work folder (logs of every component) for a look;
# RUN=REGEXP runs only those tests; HOLD=1 starts the cluster and waits
# (no tests) for trying things by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
K8S_VERSION=v1.37.2
cache=${WSBENCH_E2E_CACHE:-$HOME/.cache/wsbench-e2e}
bin=$cache/$K8S_VERSION
t0=$(date +%s)
say() { printf '[e2e-kube %4ss] %s\n' $(($(date +%s) - t0)) "$*"; }

[ "$(id -u)" = 0 ] || { echo "e2e-kube: needs root (network namespaces, veth, mounts)" >&2; exit 2; }
for tool in ip openssl curl; do
  command -v "$tool" >/dev/null || { echo "e2e-kube: needs $tool" >&2; exit 2; }
done
ETCD=${ETCD:-$(command -v etcd || true)}
[ -n "$ETCD" ] || { echo "e2e-kube: needs etcd: apt-get install -y etcd-server (Debian), or ETCD=/path/to/etcd" >&2; exit 2; }

# --- the control plane's binaries, built once and cached -----------------
if [ ! -x "$bin/kube-apiserver" ] || [ ! -x "$bin/kube-controller-manager" ]; then
  say "building kube-apiserver and kube-controller-manager $K8S_VERSION from the module proxy into $bin (slow the first time)"
  mkdir -p "$bin"
  s=$(date +%s)
  (cd kube/e2e/cp && $GO build -trimpath -o "$bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
  say "control plane built in $(($(date +%s) - s)) s"
fi

work=$(mktemp -d /tmp/wsbench-e2e.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  set +e
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "${pids[i]}" 2>/dev/null
  done
  wait 2>/dev/null
  if [ $rc -ne 0 ]; then
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- last lines of $f"; tail -n 25 "$f"; }; done
  fi
  if [ "${KEEP:-}" = 1 ]; then echo "e2e-kube: kept $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

s=$(date +%s)
$GO build -o "$work/wsbench" ./cmd/wsbench
$GO build -o "$work/standin" ./kube/e2e/standin
say "wsbench and the stand-in built in $(($(date +%s) - s)) s"

free_port() { # a port nothing listens on, from a range the other tests do not use
  local p
  while :; do
    p=$((31000 + RANDOM % 2000))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
ETCD_PORT=$(free_port); PEER_PORT=$(free_port); API_PORT=$(free_port); KUBELET_PORT=$(free_port); SERVE_PORT=$(free_port)

# --- certificates and tokens for this run only -----------------------------
pki=$work/pki; mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=wsbench-e2e-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' > "$pki/ext"
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
  -extfile "$pki/ext" -out "$pki/apiserver.crt" 2>/dev/null
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
token=$(openssl rand -hex 24)
echo "$token,wsbench-e2e-admin,wsbench-e2e-admin,system:masters" > "$pki/tokens.csv"
kubeconfig=$work/kubeconfig
cat > "$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$pki/ca.crt"}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
EOF
chmod 600 "$kubeconfig" "$pki/tokens.csv"

wait_for() { # seconds, what, command...
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "e2e-kube: $what not up after ${secs}s" >&2
  return 1
}
api() { curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$API_PORT$1"; }

# --- etcd ------------------------------------------------------------------
s=$(date +%s)
"$ETCD" --name e2e --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "e2e=http://127.0.0.1:$PEER_PORT" --log-level warn >"$work/etcd.log" 2>&1 &
pids+=($!)
wait_for 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
say "etcd $("$ETCD" --version | head -1 | awk '{print $3}') up in $(($(date +%s) - s)) s (127.0.0.1:$ETCD_PORT)"

# --- kube-apiserver --------------------------------------------------------
s=$(date +%s)
"$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
  --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
  --kubelet-preferred-address-types InternalIP \
  --enable-priority-and-fairness=false \
  --cert-dir "$work/apiserver-certs" >"$work/kube-apiserver.log" 2>&1 &
pids+=($!)
wait_for 120 kube-apiserver api /readyz
say "kube-apiserver up in $(($(date +%s) - s)) s (https://127.0.0.1:$API_PORT)"

# --- kube-controller-manager -----------------------------------------------
s=$(date +%s)
"$bin/kube-controller-manager" \
  --kubeconfig "$kubeconfig" --leader-elect=false --secure-port 0 \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --use-service-account-credentials=false \
  --controllers 'job-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller,node-lifecycle-controller,pod-garbage-collector-controller,ttl-after-finished-controller,root-ca-certificate-publisher-controller' \
  >"$work/kube-controller-manager.log" 2>&1 &
pids+=($!)
wait_for 60 "the default service account" api /api/v1/namespaces/default/serviceaccounts/default
wait_for 60 "the kube-root-ca.crt ConfigMap" api /api/v1/namespaces/default/configmaps/kube-root-ca.crt
say "kube-controller-manager up in $(($(date +%s) - s)) s"

# --- the kubelet stand-in --------------------------------------------------
s=$(date +%s)
"$work/standin" --kubeconfig "$kubeconfig" --node-name e2e-node-0 --listen "127.0.0.1:$KUBELET_PORT" \
  --work-dir "$work/node" --image "wsbench:e2e=$work/wsbench" \
  --delay-start "wsbench-e2e-missed/1=15s" >"$work/standin.log" 2>&1 &
pids+=($!)
node_ready() { api /api/v1/nodes/e2e-node-0; }
wait_for 60 "the stand-in's node" node_ready
say "stand-in node Ready in $(($(date +%s) - s)) s (kubelet endpoint 127.0.0.1:$KUBELET_PORT)"

# --- the server the shards load: on the gateway, reachable from every pod --
"$work/wsbench" serve --addr "198.19.0.1:$SERVE_PORT" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_for 20 "wsbench serve" bash -c "exec 3<>/dev/tcp/198.19.0.1/$SERVE_PORT"

if [ "${HOLD:-}" = 1 ]; then # a cluster to try things on by hand
  say "cluster up: export KUBECONFIG=$kubeconfig; server ws://198.19.0.1:$SERVE_PORT/; image wsbench:e2e; Ctrl-C ends it"
  echo "$kubeconfig ws://198.19.0.1:$SERVE_PORT/" > "${HOLD_INFO:-/dev/null}"
  while :; do sleep 1; done
fi

# --- the test ------------------------------------------------------------
s=$(date +%s)
set +e
KUBECONFIG=$kubeconfig WSBENCH_E2E_BIN=$work/wsbench WSBENCH_E2E_IMAGE=wsbench:e2e \
  WSBENCH_E2E_TARGET="ws://198.19.0.1:$SERVE_PORT/" WSBENCH_E2E_WORK=$work \
  $GO test -tags e2ekube -count=1 -v -timeout 10m ${RUN:+-run "$RUN"} ./kube/e2e 2>&1 | tee "$work/test.log"
rc=${PIPESTATUS[0]}
set -e
say "tests took $(($(date +%s) - s)) s, exit $rc; whole run $(($(date +%s) - t0)) s"
exit "$rc"
