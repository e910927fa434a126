/*
 * mproc_s003_pool_results - seed 003, "例7.3：使用进程池，并关注结果":
 * Pool(4), three apply_async whose results are read with get().
 *
 *   def func(msg):
 *       print "msg:", msg; time.sleep(3); print "end"
 *       return "done" + msg
 *   pool = multiprocessing.Pool(processes=4)
 *   result = []
 *   for i in xrange(3):
 *       result.append(pool.apply_async(func, ("hello %d" % i, )))
 *   pool.close(); pool.join()
 *   for res in result:
 *       print ":::", res.get()
 *   print "Sub-process(es) done."
 *
 * What it teaches: apply_async gives an AsyncResult; get() is the value
 * the task returned in its worker, here after join(), in submit order.
 * The seed sleeps 3 s; this sleeps 0.5 s.
 */
#include <stdio.h>
#include <string.h>

#include "example.h"

static int func(const mproc_value *arg, mproc_value **result) {
  char buf[64];
  printf("msg: %s\n", mproc_value_str(arg));
  fflush(stdout);
  mproc_sleep(0.5);
  printf("end\n");
  fflush(stdout);
  snprintf(buf, sizeof buf, "done%s", mproc_value_str(arg));
  *result = mproc_str(buf);
  return 0;
}

int main(int argc, char **argv) {
  mproc_pool *pool;
  mproc_pool_opts opts = MPROC_POOL_OPTS_INIT;
  mproc_async *result[3];
  int i;
  CHECK(mproc_init(argc, argv));
  opts.processes = 4;
  CHECK(mproc_pool_new(&pool, &opts));
  for (i = 0; i < 3; i++) {
    char msg[32];
    mproc_value *arg;
    snprintf(msg, sizeof msg, "hello %d", i);
    arg = mproc_str(msg);
    CHECK(mproc_pool_apply_async(pool, func, arg, NULL, &result[i]));
    mproc_value_free(arg);
  }
  CHECK(mproc_pool_close(pool));
  CHECK(mproc_pool_join(pool, MPROC_FOREVER));
  for (i = 0; i < 3; i++) {
    const mproc_value *v;
    CHECK(mproc_async_get(result[i], MPROC_FOREVER, &v));
    printf("::: %s\n", mproc_value_str(v));
    mproc_async_free(result[i]);
  }
  printf("Sub-process(es) done.\n");
  mproc_pool_free(pool);
  return 0;
}
