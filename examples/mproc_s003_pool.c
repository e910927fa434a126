/*
 * mproc_s003_pool - seed 003, "例7.1：使用进程池": Pool(3), four
 * apply_async, close, join.
 *
 *   def func(msg):
 *       print "msg:", msg; time.sleep(3); print "end"
 *   pool = multiprocessing.Pool(processes = 3)
 *   for i in xrange(4):
 *       pool.apply_async(func, ("hello %d" % i, ))
 *   print "Mark~ Mark~ Mark~~~~~~~~~~~~~~~~~~~~~~"
 *   pool.close(); pool.join()
 *   print "Sub-process(es) done."
 *
 * What it teaches: apply_async returns at once (Mark~ comes first); three
 * tasks run together and the fourth starts when a worker is free; join()
 * is only allowed after close() (else MPROC_EINVAL, Python's ValueError).
 * The seed sleeps 3 s; this sleeps 0.5 s.
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
  opts.processes = 3;
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
