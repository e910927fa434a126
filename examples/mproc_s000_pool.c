/*
 * mproc_s000_pool - seed 000, the Pool example: a pool of cpu_count()
 * workers runs 5 tasks; close() then join() waits for all of them.
 *
 *   def long_time_task(name):
 *       print 'Run task %s (%s)...' % (name, os.getpid())
 *       start = time.time(); time.sleep(3); end = time.time()
 *       print 'Task %s runs %0.2f seconds.' % (name, (end - start))
 *   p = Pool()
 *   for i in range(5):
 *       p.apply_async(long_time_task, args=(i,))
 *   print 'Waiting for all subprocesses done...'
 *   p.close(); p.join()
 *   print 'All subprocesses done.'
 *
 * What it teaches: a pool runs as many tasks at once as it has workers
 * (the 5th waits for a free one on a 4-CPU machine); close() says no more
 * tasks, join() waits for the ones given.  A task is a plain C function of
 * a value.  The seed sleeps 3 s; this sleeps 0.5 s (same lesson).
 */
#include <stdio.h>

#include "example.h"

static int long_time_task(const mproc_value *arg, mproc_value **result) {
  int64_t name = 0;
  double start, end;
  (void)result;
  mproc_value_get_int(arg, &name);
  printf("Run task %d (%ld)...\n", (int)name,
         mproc_process_pid(mproc_current_process()));
  fflush(stdout);
  start = mproc_monotonic();
  mproc_sleep(0.5);
  end = mproc_monotonic();
  printf("Task %d runs %0.2f seconds.\n", (int)name, end - start);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  mproc_pool *p;
  int i;
  CHECK(mproc_init(argc, argv));
  printf("Parent process %ld.\n", mproc_process_pid(mproc_current_process()));
  CHECK(mproc_pool_new(&p, NULL)); /* Pool(): cpu_count() workers */
  for (i = 0; i < 5; i++) {
    mproc_value *arg = mproc_int(i);
    mproc_async *r;
    CHECK(mproc_pool_apply_async(p, long_time_task, arg, NULL, &r));
    mproc_async_free(r); /* the pool still runs it, as Python's */
    mproc_value_free(arg);
  }
  printf("Waiting for all subprocesses done...\n");
  fflush(stdout);
  CHECK(mproc_pool_close(p));
  CHECK(mproc_pool_join(p, MPROC_FOREVER));
  printf("All subprocesses done.\n");
  mproc_pool_free(p);
  return 0;
}
