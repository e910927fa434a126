/*
 * thread.c - threads for programs that mix threads and processes (the
 * seeds print from threads and processes under one Lock), on APR threads.
 *
 * Each thread gets its own APR pool (APR pools are not thread-safe), made
 * unmanaged so it does not hang off a global pool; join destroys it.
 */
#include <stdlib.h>

#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "mproc_int.h"

struct mproc_thread {
  apr_pool_t *pool;
  apr_thread_t *th;
  int (*fn)(void *arg);
  void *arg;
  int result;
};

static void *APR_THREAD_FUNC trampoline(apr_thread_t *th, void *data) {
  mproc_thread *t = data;
  t->result = t->fn(t->arg);
  apr_thread_exit(th, APR_SUCCESS);
  return NULL;
}

int mproc_thread_start(mproc_thread **out, int (*fn)(void *arg), void *arg) {
  mproc_thread *t;
  apr_status_t st;
  if (!out || !fn)
    return mproc__err(MPROC_EINVAL, "mproc_thread_start: NULL %s",
                      out ? "function" : "output");
  *out = NULL;
  {
    int rc = mproc__ensure_runtime(); /* a failed mproc_init */
    if (rc)
      return rc;
  }
  t = calloc(1, sizeof *t);
  if (!t)
    return mproc__err(MPROC_ENOMEM, "thread");
  t->fn = fn;
  t->arg = arg;
  st = apr_pool_create_unmanaged_ex(&t->pool, NULL, NULL);
  if (st == APR_SUCCESS)
    st = apr_thread_create(&t->th, NULL, trampoline, t, t->pool);
  if (st != APR_SUCCESS) {
    if (t->pool)
      apr_pool_destroy(t->pool);
    free(t);
    return mproc__err_os(MPROC_EOS, (long)st, "apr_thread_create");
  }
  *out = t;
  return 0;
}

int mproc_thread_join(mproc_thread *t, int *result) {
  apr_status_t st, rv;
  if (!t)
    return mproc__err(MPROC_EINVAL, "mproc_thread_join: NULL thread");
  rv = apr_thread_join(&st, t->th);
  if (rv != APR_SUCCESS)
    return mproc__err_os(MPROC_EOS, (long)rv, "apr_thread_join");
  if (result)
    *result = t->result;
  apr_pool_destroy(t->pool);
  free(t);
  return 0;
}

unsigned long mproc_thread_ident(void) {
  return (unsigned long)mproc__plat_thread_id();
}
