#!/usr/bin/env bash
# Builds tcpkali (github.com/satori-com/tcpkali), the peer the idle-memory
# and set-up CPU figures are compared with, into DIR (default /tmp/tcpkali):
#
#   scripts/peers/build-tcpkali.sh [DIR]       # then TCPKALI=DIR/src/tcpkali
#
# Needs git, a C compiler, make and autotools (apt-get install autoconf
# automake libtool bison flex). Today's glibc no longer has <sys/sysctl.h>,
# which tcpkali_syslimits.c includes and does not use on Linux: an empty one
# on the include path stands in for it; -fcommon for GCC 10 and later.
#
# tcpkali binds 127.0.0.1 port 0 before it connects and closes first, so each
# run leaves one TIME_WAIT port per connection for 60 s and a busy host's
# ephemeral range can run out (it then retries, at 100% sys, until the
# open-file limit: "Increase ulimit -n"); the bench scripts wait for free
# ports (wait_free_ports in scripts/lib.sh) before each run, and run as root
# they run in a network namespace of their own (NETNS, scripts/lib.sh). Above
# about 10,000 new connections a second it also drops and reopens
# connections over and over, even alone in a namespace, so the scripts hold
# it to --connect-rate 10000 (TCPKALI_RATE).
set -euo pipefail
dir=${1:-/tmp/tcpkali}
rev=3c3175e # the repository's last commit (2021): "Fix link to build status"
[ -d "$dir/.git" ] || git clone -q https://github.com/satori-com/tcpkali "$dir"
cd "$dir"
git checkout -q "$rev"
mkdir -p shim/sys
: >shim/sys/sysctl.h
autoreconf -i >/dev/null 2>&1
./configure >/dev/null
make -j"$(nproc)" CFLAGS="-O2 -I$PWD/shim -fcommon" >/dev/null
echo "built $dir/src/tcpkali: $("$dir/src/tcpkali" --version 2>&1 | head -1)"
