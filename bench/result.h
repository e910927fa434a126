/*
 * result.h - the RESULT line the pool and MPI benches print (bench/run.sh
 * reads it, as mproc_bench's): the median of n samples, with min and max.
 * A header of static functions: each bench is one file and links nothing
 * else of bench/.
 */
#ifndef MPROC_BENCH_RESULT_H
#define MPROC_BENCH_RESULT_H

#include <stdio.h>
#include <stdlib.h>

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v (n >= 1 samples) and prints
 * "RESULT <w> <impl> <median> <unit> n=<n> min=<..> max=<..>". */
static void bench_result(const char *w, const char *impl, double *v, int n,
                         const char *unit) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp);
  printf("RESULT %s %s %.3f %s n=%d min=%.3f max=%.3f\n", w, impl,
         n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, unit, n, v[0],
         v[n - 1]);
  fflush(stdout);
}

#endif
