/*
 * wait.c - mproc_wait: Python's multiprocessing.connection.wait() over
 * Connections and process sentinels.
 */
#include <stdlib.h>

#include "mproc_int.h"

int mproc_wait(mproc_waitable *const *objs, size_t n, double timeout,
               int *ready) {
  mproc__waititem small[16];
  mproc__waititem *items = small;
  size_t *map = NULL, i, m = 0;
  int *pready = NULL, count = 0, rc = 0;

  if ((n && (!objs || !ready)))
    return mproc__err(MPROC_EINVAL, "mproc_wait: NULL array");
  for (i = 0; i < n; i++)
    if (!objs[i])
      return mproc__err(MPROC_EINVAL, "mproc_wait: object %zu is NULL", i);
  mproc__ensure_runtime();
  if (n > sizeof small / sizeof small[0])
    items = malloc(n * sizeof *items);
  map = malloc((n ? n : 1) * sizeof *map);
  pready = malloc((n ? n : 1) * sizeof *pready);
  if (!items || !map || !pready) {
    rc = mproc__err(MPROC_ENOMEM, "mproc_wait: %zu objects", n);
    goto out;
  }
  /* Objects ready without waiting (buffered data, a reaped process). */
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
  if (items != small)
    free(items);
  free(map);
  free(pready);
  return rc;
}
