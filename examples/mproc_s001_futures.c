/*
 * mproc_s001_futures - seed 001's intro, concurrent.futures: the tasks of
 * the seed's first example through the futures face of a pool.
 *
 *   with ProcessPoolExecutor() as executor:
 *       futures = [executor.submit(f, 'alvin %d' % i) for i in range(3)]
 *       for fut in as_completed(futures):
 *           print(fut.result())
 *   print('done')
 *
 * What it teaches: submit() gives a future at once; as_completed() hands
 * each future back as soon as its task has finished (whatever the order);
 * result() is the task's value.  In mproc the pool is the executor.
 */
#include <stdio.h>

#include "example.h"

static int f(const mproc_value *arg, mproc_value **result) {
  char buf[64];
  mproc_sleep(0.2);
  snprintf(buf, sizeof buf, "hello %s", mproc_value_str(arg));
  *result = mproc_str(buf);
  return 0;
}

int main(int argc, char **argv) {
  mproc_pool *executor;
  mproc_pool_opts opts = MPROC_POOL_OPTS_INIT;
  mproc_future *futures[3], *fut;
  mproc_completed *it;
  int i;
  CHECK(mproc_init(argc, argv));
  opts.processes = 3;
  CHECK(mproc_pool_new(&executor, &opts));
  for (i = 0; i < 3; i++) {
    char name[32];
    mproc_value *arg;
    snprintf(name, sizeof name, "alvin %d", i);
    arg = mproc_str(name);
    CHECK(mproc_pool_submit(executor, f, arg, &futures[i]));
    mproc_value_free(arg);
  }
  CHECK(mproc_as_completed(&it, futures, 3, MPROC_FOREVER));
  while (mproc_completed_next(it, &fut, NULL) == 0) {
    const mproc_value *v;
    CHECK(mproc_future_result(fut, MPROC_FOREVER, &v));
    printf("%s\n", mproc_value_str(v));
  }
  mproc_completed_free(it);
  CHECK(mproc_pool_shutdown(executor, 1, 0)); /* the with block's end */
  for (i = 0; i < 3; i++)
    mproc_future_free(futures[i]);
  mproc_pool_free(executor);
  printf("done\n");
  return 0;
}
