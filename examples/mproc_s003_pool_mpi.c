/*
 * mproc_s003_pool_mpi - seed 003's pool example (mproc_s003_pool.c) with
 * the workers on MPI ranks: run it as
 *
 *   mpiexec -n 3 ./mproc_s003_pool_mpi
 *
 * Rank 0 runs main(); ranks 1 and 2 become the pool's workers inside
 * mproc_init and never return (docs/mpi.md).  The only change from the
 * local example is opts.backend (and processes 0: every worker rank).  It
 * prints the same lines: the tasks' "msg:" and "end" come from the ranks,
 * through mpiexec's output forwarding.
 */
#include <stdio.h>

#include "example.h"

static int func(const mproc_value *arg, mproc_value **result) {
  (void)result;
  printf("msg: %s\n", mproc_value_str(arg));
  fflush(stdout);
  mproc_sleep(0.5);
  printf("end\n");
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  mproc_pool *pool;
  mproc_pool_opts opts = MPROC_POOL_OPTS_INIT;
  int i;
  CHECK(mproc_init(argc, argv));
  opts.backend = MPROC_POOL_MPI; /* processes 0: every worker rank */
  CHECK(mproc_pool_new(&pool, &opts));
  for (i = 0; i < 4; i++) {
    char msg[32];
    mproc_value *arg;
    mproc_async *r;
    snprintf(msg, sizeof msg, "hello %d", i);
    arg = mproc_str(msg);
    CHECK(mproc_pool_apply_async(pool, func, arg, NULL, &r));
    mproc_async_free(r);
    mproc_value_free(arg);
  }
  printf("Mark~ Mark~ Mark~~~~~~~~~~~~~~~~~~~~~~\n");
  fflush(stdout);
  CHECK(mproc_pool_close(pool));
  CHECK(mproc_pool_join(pool, MPROC_FOREVER));
  printf("Sub-process(es) done.\n");
  mproc_pool_free(pool);
  return 0;
}
