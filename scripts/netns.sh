#!/bin/sh
# Two "hosts" on one Linux machine: two network namespaces joined by a veth
# pair, for tests of mproc across machines (the Manager over TCP, MPI ranks
# started through scripts/netns-agent.sh).
#
#   scripts/netns.sh check            can namespaces be made here? (0, or 77
#                                     with the reason on stderr)
#   scripts/netns.sh up NAME          make NAME-a (10.77.0.1/30 on veth
#                                     mproc-a) and NAME-b (10.77.0.2/30 on
#                                     mproc-b), loopback up in both
#   scripts/netns.sh down NAME        end the processes left in them, remove
#                                     both (the veth goes with them)
#   scripts/netns.sh exec NAME a|b CMD...   run CMD in NAME-a or NAME-b
#   scripts/netns.sh reap [PREFIX]    remove stale pairs PREFIX<pid>-a/-b
#                                     whose <pid> no longer runs
#                                     (PREFIX: mproc-t)
#
# Nothing is made outside the two namespaces: the veth pair is created
# directly inside them and the addresses exist only there, so pairs of
# several runs at once (with their own NAME) never meet.  A caller names
# its pair after its pid (mproc-t$$) and sets a trap that runs `down`;
# `reap` removes what a killed run left.  Needs root (CAP_NET_ADMIN and
# CAP_SYS_ADMIN) and iproute2's `ip`.
set -eu

ADDR_A=10.77.0.1
ADDR_B=10.77.0.2

usage() {
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need_name() {
  [ -n "${1:-}" ] || usage
  case "$1" in
    *[!A-Za-z0-9_.-]*) echo "netns.sh: bad name '$1'" >&2; exit 2 ;;
  esac
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  check)
    if ! command -v ip >/dev/null 2>&1; then
      echo "netns.sh: no 'ip' command (iproute2 is not installed)" >&2
      exit 77
    fi
    probe="mproc-probe$$"
    if ! err="$(ip netns add "$probe" 2>&1)"; then
      who="uid $(id -u)"
      [ "$(id -u)" = 0 ] || who="not root: $who"
      echo "netns.sh: cannot make a network namespace ($who; it needs" \
        "CAP_NET_ADMIN and CAP_SYS_ADMIN): $err" >&2
      exit 77
    fi
    ip netns del "$probe" 2>/dev/null || true
    ;;
  up)
    need_name "${1:-}"
    n="$1"
    if ip netns list | grep -q "^$n-[ab]\b"; then
      echo "netns.sh: $n-a or $n-b exists already" >&2
      exit 1
    fi
    # A half-made pair goes: whatever fails, nothing is left behind.
    ip netns add "$n-a"
    trap 'ip netns del "$n-a" 2>/dev/null; ip netns del "$n-b" 2>/dev/null' EXIT
    ip netns add "$n-b"
    ip link add mproc-a netns "$n-a" type veth peer name mproc-b netns "$n-b"
    ip -n "$n-a" addr add "$ADDR_A/30" dev mproc-a
    ip -n "$n-b" addr add "$ADDR_B/30" dev mproc-b
    for s in a b; do
      ip -n "$n-$s" link set lo up
      ip -n "$n-$s" link set "mproc-$s" up
    done
    trap - EXIT
    ;;
  down)
    need_name "${1:-}"
    rc=0
    for s in a b; do
      if ip netns list | grep -q "^$1-$s\\b"; then
        # A process left inside would live on cut off from everything.
        ip netns pids "$1-$s" | xargs -r kill -9 2>/dev/null || true
        ip netns del "$1-$s" || rc=1
      fi
    done
    exit "$rc"
    ;;
  exec)
    need_name "${1:-}"
    case "${2:-}" in a|b) ;; *) usage ;; esac
    n="$1-$2"
    shift 2
    [ $# -gt 0 ] || usage
    exec ip netns exec "$n" "$@"
    ;;
  reap)
    prefix="${1:-mproc-t}"
    ip netns list | sed -n "s/^\\(${prefix}[0-9][0-9]*\\)-[ab]\\b.*/\\1/p" |
      sort -u | while read -r n; do
        pid="${n#"$prefix"}"
        if ! kill -0 "$pid" 2>/dev/null; then
          sh "$0" down "$n" 2>/dev/null || true
          echo "netns.sh: removed the stale pair $n" >&2
        fi
      done
    ;;
  *) usage ;;
esac
