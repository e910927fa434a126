#!/bin/sh
# The test "manager_netns": a Manager across two hosts, for real on one
# Linux machine.  scripts/netns.sh makes two network namespaces joined by a
# veth pair (10.77.0.1 and 10.77.0.2, nothing outside them); netns_peer
# serves in the first and its clients run in the second (see
# netns_peer.c for what they check).  The pair is removed on every exit
# (a trap), and pairs left by killed runs are reaped first.
#
#   sh netns_manager.sh <netns_peer binary> <scripts/netns.sh>
#
# Exit 77 (ctest: skipped) with the reason when this machine cannot make
# namespaces (not root, no CAP_NET_ADMIN) - unless MPROC_REQUIRE_NETNS=1
# (scripts/test.sh sets it when run as root): then that is a failure.
set -u
peer="$1"
netns="$2"
name="mproc-t$$"
addr=10.77.0.1:50000
key="netns-test-key"

if ! why="$(sh "$netns" check 2>&1)"; then
  if [ "${MPROC_REQUIRE_NETNS:-0}" = 1 ]; then
    echo "FAILED: manager_netns cannot run, and MPROC_REQUIRE_NETNS=1: $why"
    exit 1
  fi
  echo "SKIPPED: manager_netns needs network namespaces: $why"
  exit 77
fi

server=""
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null
  sh "$netns" down "$name"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

sh "$netns" reap mproc-t
sh "$netns" up "$name" || { echo "FAILED: netns.sh up $name"; exit 1; }
out="${TMPDIR:-/tmp}/$name.server.log"

# Run: a server in NAME-a, netns_peer MODE in NAME-b; the server's output
# is shown after the client's.
run() {
  mode="$1"
  sh "$netns" exec "$name" a "$peer" server "$addr" "$key" >"$out" 2>&1 &
  server=$!
  rc=0
  sh "$netns" exec "$name" b "$peer" "$mode" "$addr" "$key" || rc=$?
  sleep 0.2
  echo "---- server output ($mode) ----"
  cat "$out"
  rm -f "$out"
  if [ "$rc" != 0 ]; then
    echo "FAILED: netns_peer $mode exited with $rc"
    exit 1
  fi
}

# 1. Use, wrong key, the server killed (the client kills it).
run client
if kill -0 "$server" 2>/dev/null; then
  echo "FAILED: the server still runs after the client killed it"
  exit 1
fi
# 2. The network cut under a blocked call (short keepalive: 1 s idle,
#    1 s between 2 probes), on both ends.
MPROC_TCP_KEEPALIVE=1,1,2 run partition
echo "PASS: manager across two network namespaces"
