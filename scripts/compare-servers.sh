#!/usr/bin/env bash
# The server comparison of issue 17 in one command: installs what the kit's
# servers need (Node's ws and Bun from kit/servers/node's lock file; Debian's
# nginx and haproxy, as .ci/run pins them, when run as root), then runs
# kit/compare, which builds wsbench and the Go servers, checks each server's
# conformance, runs the case matrix and writes results/DATE-MACHINE/
# (raw/, summary.md, index.html, html/, env.json). See kit/README.md.
#
#   scripts/compare-servers.sh                 # every server, the full matrix, 4 trials (hours)
#   scripts/compare-servers.sh --quick         # 2 servers, 2 trials, tiny cases (about a minute)
#   scripts/compare-servers.sh --servers gorilla,nginx --cases echo,bcast --trials 6
#
# Run it on a quiet machine: anything else running shares the CPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x kit/servers/node/node_modules/.bin/bun ] || [ kit/servers/node/package-lock.json -nt kit/servers/node/node_modules ]; then
  command -v npm >/dev/null || { echo "compare-servers: npm not found (apt-get install nodejs npm)" >&2; exit 1; }
  (cd kit/servers/node && npm ci --no-audit --no-fund --loglevel=error)
fi
need=()
[ -x /usr/sbin/nginx ] || need+=('nginx=1.22.1-*')
[ -x /usr/sbin/haproxy ] || need+=('haproxy=2.6.12-*')
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}"
  else
    echo "compare-servers: install ${need[*]} (Debian) for the proxy servers, or leave them out with --servers" >&2
  fi
fi
exec go run ./kit/compare "$@"
