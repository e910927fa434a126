#!/bin/sh
# The test "netns_mpi_agent": Open MPI starts ranks in two network
# namespaces through scripts/netns-agent.sh (plm_rsh_agent), and the ranks
# talk over the veth pair only (btl tcp,self on 10.77.0.0/30): 4 MiB go
# each way, counted on the veth.  This is the launch the MPI pool uses
# across "hosts" (docs/manager.md, "Two hosts on one machine").  Given the
# MPI pool example too, it then runs it the same way, rank 0 in namespace
# a and the two worker ranks in b: the seed's lines, and its chunks and
# results cross the veth.
#
#   sh netns_mpi.sh <scripts directory> <netns_mpi_ping.c> [<mproc_s003_pool_mpi>]
#
# Exit 77 (skipped) with the reason without namespaces or without Open
# MPI's mpicc/mpiexec - a failure for the first when MPROC_REQUIRE_NETNS=1.
set -u
scripts="$1"
src="$2"
pool_exe="${3:-}"
name="mproc-t$$"

if ! why="$(sh "$scripts/netns.sh" check 2>&1)"; then
  if [ "${MPROC_REQUIRE_NETNS:-0}" = 1 ]; then
    echo "FAILED: netns_mpi_agent cannot run, and MPROC_REQUIRE_NETNS=1: $why"
    exit 1
  fi
  echo "SKIPPED: netns_mpi_agent needs network namespaces: $why"
  exit 77
fi
for tool in mpicc mpiexec; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "SKIPPED: netns_mpi_agent needs Open MPI's $tool"; exit 77; }
done

dir="$(mktemp -d)"
cleanup() {
  sh "$scripts/netns.sh" down "$name"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

mpicc -o "$dir/ping" "$src" || { echo "FAILED: mpicc"; exit 1; }
sh "$scripts/netns.sh" reap mproc-t
sh "$scripts/netns.sh" up "$name" || { echo "FAILED: netns.sh up $name"; exit 1; }
rx() { ip -n "$name-a" -s link show mproc-a | awk 'f { print $1; exit } /RX:/ { f = 1 }'; }
before="$(rx)"
# mpiexec's session directory in this run's own directory (the daemons'
# beside it, one per namespace: netns-agent.sh), apart from any other
# Open MPI run on the machine.
mkdir -m 700 "$dir/tmp" || { echo "FAILED: mkdir $dir/tmp"; exit 1; }
# mpiexec from namespace a, ranks placed by HOSTS (each says its
# namespace on stderr first), the ranks' traffic on the veth only.
across() { # HOSTS N PROGRAM
  TMPDIR="$dir/tmp" sh "$scripts/netns.sh" exec "$name" a timeout 60 mpiexec --allow-run-as-root \
    --oversubscribe ${LSAN_OPTIONS:+-x LSAN_OPTIONS} --mca plm_rsh_agent "$scripts/netns-agent.sh" \
    --mca oob_tcp_if_include 10.77.0.0/30 \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/30 \
    --host "$1" -n "$2" sh -c 'echo "in $(ip netns identify)" >&2; exec "$0"' "$3" 2>&1
}
out="$(across "$name-a,$name-b" 2 "$dir/ping")"
rc=$?
after="$(rx)"
printf '%s\n' "$out"
echo "veth $name-a received $((after - before)) bytes"
case "$out" in
  *"rank 0 of 2: ok"*"rank 1 of 2: ok"*|*"rank 1 of 2: ok"*"rank 0 of 2: ok"*) ;;
  *) echo "FAILED: mpiexec exit $rc, the ranks did not both say ok"; exit 1 ;;
esac
case "$out" in
  *"in $name-a"*) ;; *) echo "FAILED: no rank ran in $name-a"; exit 1 ;;
esac
case "$out" in
  *"in $name-b"*) ;; *) echo "FAILED: no rank ran in $name-b"; exit 1 ;;
esac
if [ "$rc" != 0 ] || [ $((after - before)) -lt 4194304 ]; then
  echo "FAILED: mpiexec exit $rc, $((after - before)) bytes over the veth (want >= 4 MiB)"
  exit 1
fi
if [ -n "$pool_exe" ]; then
  before="$(rx)"
  out="$(across "$name-a:1,$name-b:2" 3 "$pool_exe")"
  rc=$?
  after="$(rx)"
  printf '%s\n' "$out"
  echo "veth $name-a received $((after - before)) bytes (the pool)"
  hellos="$(printf '%s\n' "$out" | grep -c '^msg: hello [0-3]$')"
  ins_b="$(printf '%s\n' "$out" | grep -c "^in $name-b$")"
  case "$out" in
    *"Mark~ Mark~ Mark~~~~~~~~~~~~~~~~~~~~~~"*"Sub-process(es) done."*) ;;
    *) echo "FAILED: the MPI pool example's lines (exit $rc)"; exit 1 ;;
  esac
  if [ "$rc" != 0 ] || [ "$hellos" != 4 ] || [ "$ins_b" != 2 ] || [ $((after - before)) -lt 1000 ]; then
    echo "FAILED: MPI pool across namespaces: exit $rc, $hellos hellos, $ins_b ranks in $name-b, $((after - before)) bytes over the veth"
    exit 1
  fi
  echo "the MPI pool example: rank 0 in $name-a, 2 worker ranks in $name-b, its lines as the seed's"
fi
echo "PASS: MPI ranks in two network namespaces over the veth"
