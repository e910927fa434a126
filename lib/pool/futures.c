/*
 * futures.c - the concurrent.futures face of the pool engine (engine.c):
 * submit -> a future (a call of one task), result/exception with a
 * timeout, done, running, cancel, add_done_callback, wait (FIRST_COMPLETED,
 * FIRST_EXCEPTION, ALL_COMPLETED), as_completed and shutdown.  Waiting
 * uses the pool's condition variable, so the futures of one wait belong
 * to one pool.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int mproc_pool_submit(mproc_pool *pool, mproc_task_fn fn,
                      const mproc_value *arg, mproc_future **f) {
  return mproc__pool_submit(pool, J_FUTURE, fn, arg, 0, NULL, f);
}

int mproc_pool_shutdown(mproc_pool *pool, int wait, int cancel_futures) {
  int rc;
  if (!pool)
    return mproc__err(MPROC_EINVAL, "mproc_pool_shutdown: NULL pool");
  if (cancel_futures)
    mproc__pool_cancel_all(pool);
  if ((rc = mproc_pool_close(pool)) != 0)
    return rc;
  return wait ? mproc_pool_join(pool, MPROC_FOREVER) : 0;
}

static int is_cancelled(const mproc_future *f) {
  return f->ready && f->cancelled_n > 0;
}

/* Wait (mutex held) and tell why not: 0 ready, else an error code. */
static int wait_done(mproc_future *f, double timeout, const char *what) {
  int rc;
  if (!f)
    return mproc__err(MPROC_EINVAL, "%s: NULL future", what);
  if ((rc = mproc__timeout(&timeout, what)) != 0)
    return rc;
  LOCK(f->pool);
  rc = mproc__wait_ready_locked(f, mproc__deadline(timeout));
  UNLOCK(f->pool);
  if (rc)
    return mproc__err(MPROC_ETIMEDOUT, "%s", what);
  if (is_cancelled(f))
    return mproc__err(MPROC_ECLOSED, "%s: the future was cancelled", what);
  return 0;
}

int mproc_future_result(mproc_future *f, double timeout,
                        const mproc_value **out) {
  int rc;
  if (out)
    *out = NULL;
  if ((rc = wait_done(f, timeout, "mproc_future_result")) != 0)
    return rc;
  return mproc_async_get(f, 0, out);
}

int mproc_future_exception(mproc_future *f, double timeout,
                           const char **message) {
  int rc;
  if (message)
    *message = NULL;
  if ((rc = wait_done(f, timeout, "mproc_future_exception")) != 0)
    return rc;
  if (message)
    *message = mproc__async_msg(f, 0);
  return f->codes[0];
}

int mproc_future_done(mproc_future *f) { return mproc_async_ready(f); }

int mproc_future_running(mproc_future *f) {
  int v;
  if (!f)
    return mproc__err(MPROC_EINVAL, "mproc_future_running: NULL future");
  LOCK(f->pool);
  v = !f->ready && f->tstate[0] != 0;
  UNLOCK(f->pool);
  return v;
}

int mproc_future_cancel(mproc_future *f) {
  int n = mproc_async_cancel(f, 0);
  return n < 0 ? n : n > 0;
}

int mproc_future_cancelled(mproc_future *f) {
  int v;
  if (!f)
    return mproc__err(MPROC_EINVAL, "mproc_future_cancelled: NULL future");
  LOCK(f->pool);
  v = is_cancelled(f);
  UNLOCK(f->pool);
  return v;
}

int mproc_future_add_done_callback(mproc_future *f,
                                   void (*fn)(mproc_future *f, void *ctx),
                                   void *ctx) {
  donecb *d, **pp;
  if (!f || !fn)
    return mproc__err(MPROC_EINVAL, "mproc_future_add_done_callback: NULL");
  d = calloc(1, sizeof *d);
  if (!d)
    return mproc__err(MPROC_ENOMEM, "mproc_future_add_done_callback");
  d->fn = fn;
  d->ctx = ctx;
  LOCK(f->pool);
  if (!f->ready) {
    /* in the order added, as Python */
    for (pp = &f->dcbs; *pp; pp = &(*pp)->next)
      ;
    *pp = d;
    UNLOCK(f->pool);
    return 0;
  }
  UNLOCK(f->pool);
  free(d);
  fn(f, ctx);
  return 0;
}

void mproc_future_free(mproc_future *f) { mproc_async_free(f); }

static int same_pool(mproc_future *const *fs, size_t n, const char *what) {
  size_t i;
  if (n && !fs)
    return mproc__err(MPROC_EINVAL, "%s: NULL array", what);
  for (i = 0; i < n; i++) {
    if (!fs[i])
      return mproc__err(MPROC_EINVAL, "%s: future %zu is NULL", what, i);
    if (fs[i]->pool != fs[0]->pool)
      return mproc__err(MPROC_EINVAL, "%s: the futures belong to different "
                                      "pools", what);
  }
  return 0;
}

int mproc_futures_wait(mproc_future *const *fs, size_t n, double timeout,
                       int return_when, int *done) {
  mproc_pool *p;
  double deadline;
  size_t i;
  int rc, count;
  if ((rc = same_pool(fs, n, "mproc_futures_wait")) != 0)
    return rc;
  if (n && !done)
    return mproc__err(MPROC_EINVAL, "mproc_futures_wait: NULL done");
  if (return_when < MPROC_FIRST_COMPLETED ||
      return_when > MPROC_ALL_COMPLETED)
    return mproc__err(MPROC_EINVAL, "mproc_futures_wait: Invalid "
                                    "return condition: %d", return_when);
  if ((rc = mproc__timeout(&timeout, "mproc_futures_wait")) != 0)
    return rc;
  if (n == 0)
    return 0;
  deadline = mproc__deadline(timeout);
  p = fs[0]->pool;
  LOCK(p);
  for (;;) {
    int failed = 0;
    count = 0;
    for (i = 0; i < n; i++) {
      done[i] = fs[i]->ready;
      count += done[i];
      if (done[i] && !is_cancelled(fs[i]) && fs[i]->first_fail != (size_t)-1)
        failed = 1;
    }
    if ((size_t)count == n || (return_when == MPROC_FIRST_COMPLETED && count) ||
        (return_when == MPROC_FIRST_EXCEPTION && failed))
      break;
    if (mproc__pool_cv_wait(p, deadline))
      break;
  }
  UNLOCK(p);
  return count;
}

struct mproc_completed {
  mproc_future **fs;
  size_t n;
  unsigned char *given;
  size_t ngiven;
  double deadline;
};

int mproc_as_completed(mproc_completed **out, mproc_future *const *fs,
                       size_t n, double timeout) {
  mproc_completed *it;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_as_completed: NULL iterator");
  *out = NULL;
  if ((rc = same_pool(fs, n, "mproc_as_completed")) != 0)
    return rc;
  if ((rc = mproc__timeout(&timeout, "mproc_as_completed")) != 0)
    return rc;
  it = calloc(1, sizeof *it);
  if (!it || !(it->fs = malloc((n ? n : 1) * sizeof *fs)) ||
      !(it->given = calloc(n ? n : 1, 1))) {
    if (it)
      free(it->fs);
    free(it);
    return mproc__err(MPROC_ENOMEM, "mproc_as_completed");
  }
  if (n)
    memcpy(it->fs, fs, n * sizeof *fs);
  it->n = n;
  /* The timeout counts from this call, as Python's. */
  it->deadline = mproc__deadline(timeout);
  *out = it;
  return 0;
}

int mproc_completed_next(mproc_completed *it, mproc_future **f,
                         size_t *index) {
  mproc_pool *p;
  size_t i;
  if (f)
    *f = NULL;
  if (!it)
    return mproc__err(MPROC_EINVAL, "mproc_completed_next: NULL iterator");
  if (it->ngiven == it->n)
    return mproc__err(MPROC_EEOF, "mproc_completed_next: no more futures");
  p = it->fs[0]->pool;
  LOCK(p);
  for (;;) {
    for (i = 0; i < it->n; i++)
      if (!it->given[i] && it->fs[i]->ready) {
        it->given[i] = 1;
        it->ngiven++;
        UNLOCK(p);
        if (f)
          *f = it->fs[i];
        if (index)
          *index = i;
        return 0;
      }
    if (mproc__pool_cv_wait(p, it->deadline)) {
      UNLOCK(p);
      return mproc__err(MPROC_ETIMEDOUT,
                        "mproc_completed_next: %zu (of %zu) futures "
                        "unfinished",
                        it->n - it->ngiven, it->n);
    }
  }
}

void mproc_completed_free(mproc_completed *it) {
  if (it) {
    free(it->fs);
    free(it->given);
    free(it);
  }
}
