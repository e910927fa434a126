/*
 * netns_mpi_ping.c - the MPI program of the test "netns_mpi_agent"
 * (netns_mpi.sh): ranks 0 and 1, started in two network namespaces through
 * scripts/netns-agent.sh, send 1 MiB back and forth four times over TCP
 * and check every byte they get; each prints "rank R of N: ok".
 * Built by netns_mpi.sh with mpicc (plain MPI, no mproc).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  int rank, size, i, n = 1 << 20, ok = 1;
  char *buf;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  buf = malloc(n);
  for (i = 0; i < 4; i++) {
    if (rank == 0) {
      memset(buf, i + 1, n);
      MPI_Send(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      ok &= buf[0] == i + 2 && buf[n - 1] == i + 2;
    } else if (rank == 1) {
      MPI_Recv(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      ok &= buf[0] == i + 1 && buf[n - 1] == i + 1;
      memset(buf, i + 2, n);
      MPI_Send(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD);
    }
  }
  printf("rank %d of %d: %s\n", rank, size, ok ? "ok" : "BAD");
  free(buf);
  MPI_Finalize();
  return ok ? 0 : 1;
}
