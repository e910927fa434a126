#!/bin/sh
# Open MPI's launch agent for "hosts" that are network namespaces on this
# machine (scripts/netns.sh makes them): mpiexec calls it as it would ssh,
#
#   netns-agent.sh [ssh options] HOST COMMAND...
#
# and it runs COMMAND (joined with spaces, through sh -c, as ssh does) in
# the namespace HOST names.  HOST is a namespace name (`ip netns list`,
# e.g. mproc-t123-b), or a name mapped by MPROC_NETNS_HOSTS="host=ns ...".
# The environment is kept (ssh would give a fresh one), but for the
# session directory base: the namespaces share /tmp and the hostname, so
# daemons of several namespaces (and mpiexec's own, and other mpiexec
# runs) would share and remove each other's /tmp/ompi.HOST.UID/jf.N
# ("mkdir ... File exists", orte_session_dir failed).  Each namespace gets
# its own, ${TMPDIR:-/tmp}/mproc-netns.NS (TMPDIR and
# OMPI_MCA_orte_tmpdir_base; Open MPI removes its tree in it at the end).
#
#   mpiexec --allow-run-as-root --mca plm_rsh_agent scripts/netns-agent.sh \
#     --mca oob_tcp_if_include 10.77.0.0/30 --mca btl tcp,self \
#     --mca btl_tcp_if_include 10.77.0.0/30 --host NAME-a,NAME-b -n 2 ./app
#
# (mpiexec itself runs in NAME-a: `scripts/netns.sh exec NAME a mpiexec
# ...`, so that the daemons of both namespaces can reach it.)
set -eu

# Skip ssh's options (those that take a value take the next word too).
while [ $# -gt 0 ]; do
  case "$1" in
    -[BbcDEeFIiJLlmOoPpQRSWw]) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { echo "netns-agent.sh: usage: netns-agent.sh HOST COMMAND..." >&2; exit 255; }
host="$1"
shift

ns=""
for pair in ${MPROC_NETNS_HOSTS:-}; do
  if [ "${pair%%=*}" = "$host" ]; then
    ns="${pair#*=}"
  fi
done
[ -n "$ns" ] || ns="$host"
if ! ip netns list | grep -q "^$ns\\b"; then
  echo "netns-agent.sh: no network namespace '$ns' for host '$host'" >&2
  exit 255
fi
base="${TMPDIR:-/tmp}/mproc-netns.$ns"
mkdir -m 700 "$base" 2>/dev/null || true
if [ ! -d "$base" ] || [ -L "$base" ] || [ ! -O "$base" ]; then
  echo "netns-agent.sh: cannot use '$base' as the session directory base" >&2
  exit 255
fi
TMPDIR="$base"
OMPI_MCA_orte_tmpdir_base="$base"
export TMPDIR OMPI_MCA_orte_tmpdir_base
exec ip netns exec "$ns" sh -c "$*"
