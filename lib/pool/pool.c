/*
 * pool.c - Python's multiprocessing.Pool face of the pool engine
 * (engine.c): apply, apply_async, map, map_async, starmap,
 * starmap_async.  The blocking forms are the async ones plus a wait.
 */
#include "engine.h"

int mproc_pool_apply_async(mproc_pool *pool, mproc_task_fn fn,
                           const mproc_value *arg,
                           const mproc_call_opts *opts, mproc_async **r) {
  return mproc__pool_submit(pool, J_APPLY, fn, arg, 0, opts, r);
}

int mproc_pool_apply(mproc_pool *pool, mproc_task_fn fn,
                     const mproc_value *arg, mproc_value **result) {
  if (!result)
    return mproc__err(MPROC_EINVAL, "mproc_pool_apply: NULL result");
  *result = NULL;
  return mproc__pool_apply(pool, fn, arg, result);
}

static int map_sync(mproc_pool *pool, mproc_task_fn fn,
                    const mproc_value *list, size_t chunksize, int star,
                    mproc_value **results) {
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  mproc_async *r;
  int rc;
  if (!results)
    return mproc__err(MPROC_EINVAL, "mproc_pool_map: NULL results");
  *results = NULL;
  o.chunksize = chunksize;
  if ((rc = mproc__pool_submit(pool, J_MAP, fn, list, star, &o, &r)) != 0)
    return rc;
  return mproc__async_take(r, results);
}

int mproc_pool_map(mproc_pool *pool, mproc_task_fn fn,
                   const mproc_value *list, size_t chunksize,
                   mproc_value **results) {
  return map_sync(pool, fn, list, chunksize, 0, results);
}

int mproc_pool_starmap(mproc_pool *pool, mproc_task_fn fn,
                       const mproc_value *list, size_t chunksize,
                       mproc_value **results) {
  return map_sync(pool, fn, list, chunksize, 1, results);
}

int mproc_pool_map_async(mproc_pool *pool, mproc_task_fn fn,
                         const mproc_value *list, const mproc_call_opts *opts,
                         mproc_async **r) {
  return mproc__pool_submit(pool, J_MAP, fn, list, 0, opts, r);
}

int mproc_pool_starmap_async(mproc_pool *pool, mproc_task_fn fn,
                             const mproc_value *list,
                             const mproc_call_opts *opts, mproc_async **r) {
  return mproc__pool_submit(pool, J_MAP, fn, list, 1, opts, r);
}

int mproc_pool_imap(mproc_pool *pool, mproc_task_fn fn,
                    const mproc_value *list, size_t chunksize,
                    mproc_async **it) {
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  o.chunksize = chunksize;
  return mproc__pool_submit(pool, J_IMAP, fn, list, 0, &o, it);
}

int mproc_pool_imap_unordered(mproc_pool *pool, mproc_task_fn fn,
                              const mproc_value *list, size_t chunksize,
                              mproc_async **it) {
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  o.chunksize = chunksize;
  return mproc__pool_submit(pool, J_IMAP_UNORDERED, fn, list, 0, &o, it);
}
