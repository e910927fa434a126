/*
 * tracker.c - the resource tracker: on systems where a named shared
 * memory block outlives its users (POSIX), it unlinks the names a process
 * tree created and never unlinked, even when every process of that tree
 * was killed with SIGKILL.  CPython has the same; Windows needs none.
 *
 * The tracker is this program again, started as an internal child that
 * leaves the session and process group (so killing the user's group does
 * not kill it) and reads the read end of a pipe.  Every process of the
 * tree holds the write end: the creator from the start, children because
 * the spawn code passes it to each (bootstrap field "tracker").  Messages:
 * "R<name>" before a name is created, "U<name>" after it is unlinked (a
 * multiset: a create that fails with EEXIST sends R then U).  When every
 * write end is closed - normal exit, crash or SIGKILL of the last process
 * - the tracker reads EOF, unlinks what is still registered, says so on
 * stderr and exits.  Residual risk, as in CPython: SIGKILL of the tracker
 * itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"

static mproc_conn *writer; /* under mproc__tracker_lock */

static int tracker_main(mproc_value *args) {
  mproc_conn *c = NULL;
  char **names = NULL, msg[260];
  size_t n = 0, cap = 0, len, i;
  int rc, leaked = 0;
  mproc__plat_tracker_detach();
  if (mproc_value_get_conn(mproc_list_get(args, 0), &c) != 0)
    return 1;
  for (;;) {
    rc = mproc_conn_recv_bytes_into(c, msg, sizeof msg - 1, &len);
    if (rc == MPROC_EBUFSIZE) {
      void *skip;
      size_t sn;
      if (mproc_conn_recv_bytes(c, &skip, &sn) == 0)
        mproc_free(skip); /* not ours: too long for a name */
      continue;
    }
    if (rc)
      break; /* EOF: every process of the tree has gone */
    msg[len] = '\0';
    if (len < 2)
      continue;
    if (msg[0] == 'R') {
      if (n == cap) {
        char **nn = realloc(names, (cap = cap ? cap * 2 : 8) * sizeof *nn);
        if (!nn)
          continue;
        names = nn;
      }
      names[n] = malloc(len);
      if (names[n])
        memcpy(names[n++], msg + 1, len);
    } else if (msg[0] == 'U') {
      for (i = 0; i < n; i++)
        if (strcmp(names[i], msg + 1) == 0) {
          free(names[i]);
          names[i] = names[--n];
          break;
        }
    }
  }
  for (i = 0; i < n; i++) {
    if (mproc__plat_shm_unlink(names[i]) == 0)
      leaked++;
    free(names[i]);
  }
  free(names);
  if (leaked) {
    fprintf(stderr, "mproc: resource_tracker: %d leaked shared_memory "
                    "object%s unlinked at shutdown\n",
            leaked, leaked == 1 ? "" : "s");
    fflush(stderr);
  }
  return 0;
}

/* Start a tracker; the caller holds the tracker lock. */
static int start(void) {
  mproc_conn *r, *w;
  int rc = mproc_pipe(&r, &w, 0);
  if (rc)
    return rc;
  rc = mproc__process_start_internal(tracker_main,
                                     mproc_build("[C]", r),
                                     "mproc-resource-tracker");
  mproc_conn_free(r);
  if (rc) {
    mproc_conn_free(w);
    return rc;
  }
  writer = w;
  mproc__tracker_set_handle(mproc__conn_handle(w));
  return 0;
}

static int notify(char op, const char *name) {
  char msg[260];
  size_t len = strlen(name);
  int rc = 0, attempt;
  if (!mproc__plat_names_persist())
    return 0;
  if (len + 2 > sizeof msg)
    return mproc__err(MPROC_EINVAL, "shared memory name too long");
  msg[0] = op;
  memcpy(msg + 1, name, len + 1);
  if ((rc = mproc__tracker_lock()) != 0)
    return rc;
  for (attempt = 0; attempt < 2; attempt++) {
    if (!writer && (rc = start()) != 0)
      break;
    rc = mproc_conn_send_bytes(writer, msg, len + 1);
    if (rc != MPROC_EEOF)
      break;
    /* The tracker was killed: start another (as CPython does).  The old
     * end stays open: a spawn in another thread may be passing it on. */
    writer = NULL;
    mproc__tracker_set_handle(MPROC__NOHANDLE);
  }
  mproc__tracker_unlock();
  return rc;
}

int mproc__tracker_register(const char *name) { return notify('R', name); }

int mproc__tracker_unregister(const char *name) { return notify('U', name); }

int mproc__tracker_adopt(mproc__handle h) {
  mproc_conn *c = mproc__conn_wrap(h, 0, 1);
  int rc;
  if (!c)
    return MPROC_ENOMEM;
  if ((rc = mproc__tracker_lock()) != 0) {
    mproc__conn_detach(c);
    return rc;
  }
  writer = c;
  mproc__tracker_set_handle(h);
  mproc__tracker_unlock();
  return 0;
}
