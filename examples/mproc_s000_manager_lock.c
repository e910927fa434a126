/*
 * mproc_s000_manager_lock - seed 000: a Manager Lock and a Manager Queue
 * shared with Pool tasks.
 *
 *   def write(q, lock):
 *       lock.acquire()
 *       for value in ['A', 'B', 'C']:
 *           print 'Put %s to queue...' % value
 *           q.put(value)
 *       lock.release()
 *   manager = multiprocessing.Manager()
 *   q = manager.Queue(); lock = manager.Lock()
 *   p = Pool()
 *   pw = p.apply_async(write, args=(q, lock))
 *   pr = p.apply_async(read, args=(q,))
 *   p.close(); p.join()
 *
 * What it teaches: the manager's lock, like its queue, is a proxy that may
 * travel in a task's argument; while a writer holds it, no other writer
 * puts.  The seed's reader stops at the first moment the queue looks empty
 * (and may read nothing if it runs first); this twin's reader takes the
 * three letters with a blocking get, so every run shows all of them.
 */
#include <stdio.h>

#include "example.h"

static mproc_proxy *arg_proxy(const mproc_value *arg, size_t i) {
  mproc_proxy *p = NULL;
  mproc_value_get_proxy(mproc_list_get(arg, i), &p);
  return p;
}

static int write_task(const mproc_value *arg, mproc_value **result) {
  const char *letters[] = {"A", "B", "C"};
  mproc_proxy *q = arg_proxy(arg, 0), *lock = arg_proxy(arg, 1);
  int i, rc;
  (void)result;
  rc = mproc_proxy_call(lock, "acquire", NULL, NULL);
  for (i = 0; rc == 0 && i < 3; i++) {
    printf("Put %s to queue...\n", letters[i]);
    fflush(stdout);
    rc = mproc_proxy_call(q, "put", mproc_build("[s]", letters[i]), NULL);
  }
  if (mproc_proxy_call(lock, "release", NULL, NULL) != 0 && rc == 0)
    rc = MPROC_EINVAL;
  return rc;
}

static int read_task(const mproc_value *arg, mproc_value **result) {
  mproc_proxy *q = arg_proxy(arg, 0);
  mproc_value *v = NULL;
  int i, rc;
  (void)result;
  for (i = 0; i < 3; i++) {
    rc = mproc_proxy_call(q, "get", mproc_build("[bf]", 1, 60.0), &v);
    if (rc)
      return rc;
    printf("Get %s from queue.\n", mproc_value_str(v));
    fflush(stdout);
    mproc_value_free(v);
  }
  return 0;
}

int main(int argc, char **argv) {
  mproc_manager *manager;
  mproc_proxy *q, *lock;
  mproc_pool *p;
  mproc_value *wargs, *rargs;
  mproc_async *pw, *pr;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_manager_start(&manager, NULL));
  CHECK(mproc_manager_queue(manager, 0, &q));
  CHECK(mproc_manager_lock(manager, &lock));
  CHECK(mproc_pool_new(&p, NULL));
  wargs = mproc_build("[OO]", mproc_proxy_ref(q), mproc_proxy_ref(lock));
  rargs = mproc_build("[O]", mproc_proxy_ref(q));
  CHECK(mproc_pool_apply_async(p, write_task, wargs, NULL, &pw));
  CHECK(mproc_pool_apply_async(p, read_task, rargs, NULL, &pr));
  CHECK(mproc_pool_close(p));
  CHECK(mproc_pool_join(p, MPROC_FOREVER));
  CHECK(mproc_async_get(pw, 0, NULL));
  CHECK(mproc_async_get(pr, 0, NULL));
  printf("\n所有数据都写入并且读完\n");
  mproc_async_free(pw);
  mproc_async_free(pr);
  mproc_value_free(wargs);
  mproc_value_free(rargs);
  mproc_pool_free(p);
  mproc_proxy_free(q);
  mproc_proxy_free(lock);
  mproc_manager_free(manager);
  return 0;
}
