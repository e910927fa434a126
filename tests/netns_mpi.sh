#!/bin/sh
# The test "netns_mpi_agent": Open MPI starts ranks in two network
# namespaces through scripts/netns-agent.sh (plm_rsh_agent), and the ranks
# talk over the veth pair only (btl tcp,self on 10.77.0.0/30): 4 MiB go
# each way, counted on the veth.  This is the launch the MPI pool uses
# across "hosts" (docs/manager.md, "Two hosts on one machine").
#
#   sh netns_mpi.sh <scripts directory> <netns_mpi_ping.c>
#
# Exit 77 (skipped) with the reason without namespaces or without Open
# MPI's mpicc/mpiexec - a failure for the first when MPROC_REQUIRE_NETNS=1.
set -u
scripts="$1"
src="$2"
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
out="$(TMPDIR="$dir/tmp" sh "$scripts/netns.sh" exec "$name" a timeout 60 mpiexec --allow-run-as-root \
  --mca plm_rsh_agent "$scripts/netns-agent.sh" \
  --mca oob_tcp_if_include 10.77.0.0/30 \
  --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/30 \
  --host "$name-a,$name-b" -n 2 sh -c 'echo "in $(ip netns identify)"; exec "$0"' "$dir/ping" 2>&1)"
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
echo "PASS: MPI ranks in two network namespaces over the veth"
