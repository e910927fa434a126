/*
 * mproc_s000_pool_queue - seed 000, "关于上面代码的几个有趣的问题": a plain
 * Queue handed to Pool tasks as an argument is refused.
 *
 *   q = Queue()
 *   p = Pool()
 *   pw = p.apply_async(write, args=(q,))
 *   pr = p.apply_async(read, args=(q,))
 *   -> RuntimeError: Queue objects should only be shared between
 *      processes through inheritance
 *
 * What it teaches: a Queue reaches other processes only when they start
 * (inheritance).  A pool's workers are already running, so a Queue in a
 * task's argument is refused at once, in the caller, with Python's words
 * (MPROC_EINHERIT) - never a hung or silently dropped task.  The seed's
 * cure is a Manager queue; the other cure, shown here, is Pool's
 * initializer/initargs: the queue goes to every worker as it starts.
 */
#include <stdio.h>

#include "example.h"

static mproc_queue *q; /* in each worker: the queue from initargs */

static int init_worker(const mproc_value *initargs) {
  return mproc_value_get_queue(mproc_list_get(initargs, 0), &q);
}

static int write_task(const mproc_value *arg, mproc_value **result) {
  const char *letters[] = {"A", "B", "C"};
  int i;
  (void)arg;
  (void)result;
  for (i = 0; i < 3; i++) {
    mproc_value *v = mproc_str(letters[i]);
    printf("Put %s to queue...\n", letters[i]);
    fflush(stdout);
    mproc_queue_put(q, v, MPROC_FOREVER);
    mproc_value_free(v);
  }
  return 0;
}

static int read_task(const mproc_value *arg, mproc_value **result) {
  int i;
  (void)arg;
  (void)result;
  for (i = 0; i < 3; i++) {
    mproc_value *v = NULL;
    int rc = mproc_queue_get(q, &v, 60);
    if (rc)
      return rc;
    printf("Get %s from queue.\n", mproc_value_str(v));
    fflush(stdout);
    mproc_value_free(v);
  }
  return 0;
}

int main(int argc, char **argv) {
  mproc_queue *queue;
  mproc_pool *p;
  mproc_pool_opts opts = MPROC_POOL_OPTS_INIT;
  mproc_value *args, *none = mproc_none(), *res = NULL;
  mproc_async *pw = NULL;
  int rc;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_queue_new(&queue, 0));

  /* The seed's way: the queue as a task argument. */
  CHECK(mproc_pool_new(&p, NULL));
  args = mproc_list();
  mproc_list_append(args, mproc_queue_ref(queue));
  rc = mproc_pool_apply_async(p, write_task, args, NULL, &pw);
  if (rc == MPROC_EINHERIT)
    printf("RuntimeError: %s\n", mproc_last_error());
  mproc_value_free(args);
  mproc_pool_free(p);

  /* Inheritance: every worker gets the queue as it starts. */
  args = mproc_list();
  mproc_list_append(args, mproc_queue_ref(queue));
  opts.processes = 2;
  opts.initializer = init_worker;
  opts.initargs = args;
  CHECK(mproc_pool_new(&p, &opts));
  mproc_value_free(args);
  CHECK(mproc_pool_apply_async(p, write_task, none, NULL, &pw));
  CHECK(mproc_pool_apply(p, read_task, none, &res));
  CHECK(mproc_async_get(pw, MPROC_FOREVER, NULL));
  mproc_async_free(pw);
  mproc_pool_close(p);
  mproc_pool_join(p, MPROC_FOREVER);
  mproc_pool_free(p);
  printf("\n所有数据都写入并且读完\n");
  mproc_value_free(none);
  mproc_queue_free(queue);
  return 0;
}
