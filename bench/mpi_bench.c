/*
 * mpi_bench.c - the pool's MPI backend beside the local pool (bench/run.sh
 * --only mpi; docs/mpi.md has the table).  Two workloads on 2 workers:
 *
 *   map of 100 000 tiny tasks (x*x), chunksize 1000  -> Mtasks/s
 *   1 000 tasks of 1 ms (a spin on the monotonic clock), chunksize 1
 *                                                    -> time / ideal
 *                                                       (1000 x 1 ms / 2),
 *       and the parent's own CPU meanwhile (% of one core: what it takes
 *       from the workers)
 *   1 000 tasks sleeping 1 ms, chunksize 1           -> time / ideal, the
 *       ideal from the tasks' own measured times (sum / 2): the pool's
 *       overhead alone, whatever the machine's load does to the sleeps
 *
 *   mpiexec -n 3 ./mpi_bench mpi [reps] [tiny]   workers on ranks 1 and 2
 *   ./mpi_bench local [reps] [tiny]              2 local worker processes
 *   (tiny: the map only, e.g. under perf)
 * and, after them, the pool's start to its first result (ms) and an
 * apply's round trip (us, median of 2000).
 *
 * py_mpi_bench.py is the same under mpi4py.futures.MPIPoolExecutor.
 * RESULT lines (median of reps) as the other benchmarks print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mproc.h"

#include "result.h"

#define N_MAP 100000
#define N_MS 1000
#define MAP_WARM 20 /* untimed maps first (pool_bench.c says why) */

static int t_square(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  mproc_value_get_int(arg, &x);
  *result = mproc_int(x * x);
  return 0;
}

static int t_ms(const mproc_value *arg, mproc_value **result) {
  double end = mproc_monotonic() + 1e-3;
  (void)arg;
  while (mproc_monotonic() < end)
    ;
  *result = mproc_none();
  return 0;
}

static int t_sleep_ms(const mproc_value *arg, mproc_value **result) {
  double t0 = mproc_monotonic();
  (void)arg;
  mproc_sleep(1e-3);
  *result = mproc_float(mproc_monotonic() - t0);
  return 0;
}

static void die(const char *what) {
  fprintf(stderr, "mpi_bench: %s: %s\n", what, mproc_last_error());
  exit(1);
}

int main(int argc, char **argv) {
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  mproc_value *list = mproc_list(), *ms = mproc_list(), *res;
  mproc_pool *p;
  const char *impl;
  double v[64], cpu[64], t0;
  int reps = 5, r;
  int64_t i;
  if (mproc_init(argc, argv))
    die("mproc_init");
  if (argc < 2 || (strcmp(argv[1], "mpi") && strcmp(argv[1], "local"))) {
    fprintf(stderr, "usage: mpiexec -n 3 mpi_bench mpi [reps] | "
                    "mpi_bench local [reps]\n");
    return 2;
  }
  if (argc > 2)
    reps = atoi(argv[2]);
  if (reps < 1 || reps > 64)
    reps = 5;
  o.processes = 2;
  o.backend = strcmp(argv[1], "mpi") == 0 ? MPROC_POOL_MPI : MPROC_POOL_LOCAL;
  impl = o.backend == MPROC_POOL_MPI ? "mproc_mpi" : "mproc_local";
  for (i = 0; i < N_MAP; i++)
    mproc_list_append(list, mproc_int(i));
  for (i = 0; i < N_MS; i++)
    mproc_list_append(ms, mproc_int(i));
  t0 = mproc_monotonic();
  if (mproc_pool_new(&p, &o))
    die("pool");
  for (r = 0; r < MAP_WARM; r++) { /* warm-up, as pool_bench.c */
    if (mproc_pool_map(p, t_square, list, 1000, &res))
      die("map");
    mproc_value_free(res);
  }
  for (r = 0; r < reps; r++) {
    t0 = mproc_monotonic();
    if (mproc_pool_map(p, t_square, list, 1000, &res))
      die("map");
    v[r] = N_MAP / (mproc_monotonic() - t0) / 1e6;
    mproc_value_free(res);
  }
  bench_result("mpi_map_tiny", impl, v, reps, "Mtasks/s");
  if (argc > 3 && strcmp(argv[3], "tiny") == 0)
    reps = 0;
  for (r = 0; r < reps; r++) {
    clock_t c0 = clock();
    t0 = mproc_monotonic();
    if (mproc_pool_map(p, t_ms, ms, 1, &res))
      die("map");
    v[r] = (mproc_monotonic() - t0) / (N_MS * 1e-3 / 2);
    cpu[r] = (double)(clock() - c0) / CLOCKS_PER_SEC /
             (mproc_monotonic() - t0) * 100;
    mproc_value_free(res);
  }
  if (reps) {
    bench_result("mpi_1ms_vs_ideal", impl, v, reps, "x");
    /* the parent's (rank 0's) own CPU while it runs: what it takes from
     * the workers on a shared node */
    bench_result("mpi_1ms_parent_cpu", impl, cpu, reps, "%");
  }
  for (r = 0; r < reps; r++) {
    double sum = 0, d;
    size_t k;
    t0 = mproc_monotonic();
    if (mproc_pool_map(p, t_sleep_ms, ms, 1, &res))
      die("map");
    d = mproc_monotonic() - t0;
    for (k = 0; k < N_MS; k++) {
      double x = 0;
      mproc_value_get_float(mproc_list_get(res, k), &x);
      sum += x;
    }
    v[r] = d / (sum / 2);
    mproc_value_free(res);
  }
  if (reps)
    bench_result("mpi_sleep1ms_vs_ideal", impl, v, reps, "x");
  if (reps) {
    static double rt[2000];
    mproc_value *one = mproc_int(3);
    int k;
    for (k = 0; k < 2000; k++) {
      t0 = mproc_monotonic();
      if (mproc_pool_apply(p, t_square, one, &res))
        die("apply");
      rt[k] = (mproc_monotonic() - t0) * 1e6;
      mproc_value_free(res);
    }
    bench_result("mpi_apply_rtt", impl, rt, 2000, "us");
    mproc_pool_free(p);
    p = NULL;
    for (r = 0; r < reps; r++) {
      t0 = mproc_monotonic();
      if (mproc_pool_new(&p, &o) || mproc_pool_apply(p, t_square, one, &res))
        die("start");
      v[r] = (mproc_monotonic() - t0) * 1e3;
      mproc_value_free(res);
      mproc_pool_free(p);
      p = NULL;
    }
    bench_result("mpi_pool_start", impl, v, reps, "ms");
    mproc_value_free(one);
  }
  mproc_pool_free(p);
  mproc_value_free(list);
  mproc_value_free(ms);
  return 0;
}
