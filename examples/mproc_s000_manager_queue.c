/*
 * mproc_s000_manager_queue - seed 000: a Manager queue handed to Pool tasks
 * (the seed's cure for "Queue objects should only be shared between
 * processes through inheritance").
 *
 *   manager = multiprocessing.Manager()
 *   q = manager.Queue()
 *   p = Pool()
 *   pw = p.apply_async(write, args=(q,))
 *   time.sleep(0.5)
 *   pr = p.apply_async(read, args=(q,))
 *   p.close(); p.join()
 *
 * What it teaches: a Manager's queue is a proxy - an address and an id, no
 * OS handle - so unlike a plain Queue it may go anywhere, a Pool task's
 * argument included.  The reader runs after the writer: where the seed
 * sleeps 0.5 s and hopes, this twin waits for the writer's result.
 */
#include <stdio.h>

#include "example.h"

static mproc_proxy *arg_proxy(const mproc_value *arg) {
  mproc_proxy *q = NULL;
  mproc_value_get_proxy(mproc_list_get(arg, 0), &q);
  return q;
}

static int write_task(const mproc_value *arg, mproc_value **result) {
  const char *letters[] = {"A", "B", "C"};
  mproc_proxy *q = arg_proxy(arg);
  int i, rc;
  (void)result;
  for (i = 0; i < 3; i++) {
    printf("Put %s to queue...\n", letters[i]);
    fflush(stdout);
    rc = mproc_proxy_call(q, "put", mproc_build("[s]", letters[i]), NULL);
    if (rc)
      return rc;
  }
  return 0;
}

static int read_task(const mproc_value *arg, mproc_value **result) {
  mproc_proxy *q = arg_proxy(arg);
  mproc_value *empty = NULL, *v = NULL;
  int rc, is_empty = 1;
  (void)result;
  for (;;) { /* while not q.empty(): print q.get(False) */
    rc = mproc_proxy_call(q, "empty", NULL, &empty);
    if (rc == 0)
      rc = mproc_value_get_bool(empty, &is_empty);
    mproc_value_free(empty);
    if (rc || is_empty)
      return rc;
    rc = mproc_proxy_call(q, "get", mproc_build("[b]", 0), &v);
    if (rc)
      return rc;
    printf("Get %s from queue.\n", mproc_value_str(v));
    fflush(stdout);
    mproc_value_free(v);
  }
}

int main(int argc, char **argv) {
  mproc_manager *manager;
  mproc_proxy *q;
  mproc_pool *p;
  mproc_value *args;
  mproc_async *pw, *pr;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_manager_start(&manager, NULL));
  CHECK(mproc_manager_queue(manager, 0, &q));
  CHECK(mproc_pool_new(&p, NULL));
  args = mproc_build("[O]", mproc_proxy_ref(q));
  CHECK(mproc_pool_apply_async(p, write_task, args, NULL, &pw));
  CHECK(mproc_async_wait(pw, MPROC_FOREVER)); /* the seed: sleep(0.5) */
  CHECK(mproc_pool_apply_async(p, read_task, args, NULL, &pr));
  CHECK(mproc_pool_close(p));
  CHECK(mproc_pool_join(p, MPROC_FOREVER));
  CHECK(mproc_async_get(pw, 0, NULL));
  CHECK(mproc_async_get(pr, 0, NULL));
  printf("\n所有数据都写入并且读完\n");
  mproc_async_free(pw);
  mproc_async_free(pr);
  mproc_value_free(args);
  mproc_pool_free(p);
  mproc_proxy_free(q);
  mproc_manager_free(manager);
  return 0;
}
