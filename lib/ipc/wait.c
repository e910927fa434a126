/*
 * wait.c - mproc_wait: Python's multiprocessing.connection.wait() over
 * Connections and process sentinels.
 */
#include <stdlib.h>

#include "mproc_int.h"

int mproc_wait(mproc_waitable *const *objs, size_t n, double timeout,
               int *ready) {
  /* Up to 16 objects (the common case) need no allocation at all. */
  size_t map_small[16]; /* item i waits for objs[map[i]] */
  size_t *map = map_small;
  mproc__waititem items_small[16];
  mproc__waititem *items = items_small;
  int pready_small[16];
  int *pready = pready_small;
  size_t i, m = 0;
  int count = 0, rc = 0;

  if (n && (!objs || !ready))
    return mproc__err(MPROC_EINVAL, "mproc_wait: NULL array");
  rc = mproc__timeout(&timeout, "mproc_wait");
  if (rc)
    return rc;
  for (i = 0; i < n; i++)
    if (!objs[i])
      return mproc__err(MPROC_EINVAL, "mproc_wait: object %zu is NULL", i);
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  if (n > sizeof map_small / sizeof map_small[0]) {
    /* One block for the three arrays. */
    unsigned char *block =
        malloc(n * (sizeof *map + sizeof *items + sizeof *pready));
    if (!block)
      return mproc__err(MPROC_ENOMEM, "mproc_wait: %zu objects", n);
    map = (size_t *)block;
    items = (mproc__waititem *)(block + n * sizeof *map);
    pready = (int *)(block + n * (sizeof *map + sizeof *items));
  }
  /* Objects ready without waiting (buffered header, a reaped process). */
  for (i = 0; i < n; i++) {
    int r = objs[i]->kind == MPROC__WAIT_CONN
                ? mproc__conn_wait_item((mproc_conn *)objs[i], &items[m])
                : mproc__process_wait_item((mproc_process *)objs[i],
                                           &items[m]);
    if (r < 0) {
      rc = r;
      goto out;
    }
    ready[i] = r;
    count += r;
    if (r == 0)
      map[m++] = i;
  }
  rc = mproc__plat_wait(items, m, count ? 0 : timeout, pready);
  if (rc < 0)
    goto out;
  for (i = 0; i < m; i++)
    if (pready[i]) {
      ready[map[i]] = 1;
      count++;
    }
  rc = count;
out:
  if (map != map_small)
    free(map);
  return rc;
}
