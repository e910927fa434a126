/*
 * runtime.c - the process-wide state every other file of lib/ stands on:
 * set-up (APR), whether mproc_init ran, who this process is (identity,
 * daemon flag, authkey, child counter) and the two runtime mutexes (the
 * process table's and the resource tracker's, with the tracker's handle).
 *
 * The bottom of the spawn core's layering: runtime.c calls no other file
 * of lib/ but error.c; spawn.c and the objects (conn.c, shblock.c, ...)
 * stand on it, process.c (Process objects, the parent's half of a spawn,
 * the table of children) on those, tracker.c on process.c, and child.c
 * (mproc_init and the child's half) on everything.
 *
 * A failed set-up is final: APR counts apr_initialize calls and a second
 * one "succeeds" with nothing set up, so it is never tried again; every
 * later call that needs the runtime returns the first failure's code
 * (mproc__ensure_runtime).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_mutex.h>

#include "mproc_int.h"
#include "spawnctx.h"

static struct runtime {
  int ready;       /* runtime_setup done */
  int failed;      /* runtime_setup failed (its code): final */
  char why[200];   /* ... and why */
  int init_called; /* mproc_init ran: children can be started */
  int checked;     /* the "marked but never bootstrapped" check ran */
  apr_pool_t *pool;
  apr_thread_mutex_t *mu;         /* the process table's */
  apr_thread_mutex_t *tracker_mu; /* tracker.c's, taken before mu */
  mproc__handle tracker_h;        /* under tracker_mu */
  mproc__ident ident;
  int64_t counter;
  int daemon;
  unsigned char authkey[32];
} rt = {0, 0, "", 0, 0, NULL, NULL, NULL, MPROC__NOHANDLE, {NULL, 0}, 0,
        0, {0}};

static int setup_failed(int code) {
  rt.failed = code;
  snprintf(rt.why, sizeof rt.why, "%s", mproc_last_error());
  return code;
}

static int runtime_setup(void) {
  const char *fault;
  if (rt.ready)
    return 0;
  if (rt.failed)
    return mproc__err(rt.failed, "mproc could not initialise in this "
                                 "process (%s); no mproc call can work",
                      rt.why);
  /* Fault injection for the test suite where no real failure can be made
   * (Win32 has no RLIMIT_AS): apr_initialize runs, then "fails". */
  fault = getenv("MPROC_TEST_FAULT");
  if (apr_initialize() != APR_SUCCESS ||
      (fault && strcmp(fault, "init-fails") == 0))
    return setup_failed(mproc__err(MPROC_EOS, "apr_initialize failed"));
  if (apr_pool_create(&rt.pool, NULL) != APR_SUCCESS ||
      apr_thread_mutex_create(&rt.mu, APR_THREAD_MUTEX_DEFAULT, rt.pool) !=
          APR_SUCCESS ||
      apr_thread_mutex_create(&rt.tracker_mu, APR_THREAD_MUTEX_DEFAULT,
                              rt.pool) != APR_SUCCESS) {
    rt.mu = rt.tracker_mu = NULL;
    return setup_failed(mproc__err(MPROC_ENOMEM, "runtime mutex"));
  }
  rt.ready = 1;
  return 0;
}

void mproc__runtime_lock(void) {
  if (rt.mu)
    apr_thread_mutex_lock(rt.mu);
}

void mproc__runtime_unlock(void) {
  if (rt.mu)
    apr_thread_mutex_unlock(rt.mu);
}

int mproc__tracker_lock(void) {
  int rc = mproc__ensure_runtime();
  if (rc)
    return rc;
  apr_thread_mutex_lock(rt.tracker_mu);
  return 0;
}

void mproc__tracker_unlock(void) { apr_thread_mutex_unlock(rt.tracker_mu); }

void mproc__tracker_set_handle(mproc__handle h) { rt.tracker_h = h; }

mproc__handle mproc__tracker_handle(void) {
  mproc__handle h;
  if (mproc__tracker_lock() != 0)
    return MPROC__NOHANDLE;
  h = rt.tracker_h;
  mproc__tracker_unlock();
  return h;
}

int mproc__initialised(void) { return rt.init_called; }

int mproc__ensure_runtime(void) {
  if (rt.ready)
    return 0;
  if (!rt.checked) {
    rt.checked = 1;
    if (mproc__plat_marked_child()) {
      fputs("mproc: this process was started by mproc as a child process, "
            "but its main() did not call mproc_init(argc, argv) before "
            "other mproc calls; stopping here so that it cannot start "
            "children of its own (a spawn bomb).\n",
            stderr);
      fflush(stderr);
      mproc__plat_exit(MPROC__EXIT_BOOT);
    }
  }
  return runtime_setup();
}

int mproc__runtime_init(void) {
  rt.checked = 1; /* mproc_init is the bootstrap: no "forgot" check */
  return runtime_setup();
}

void mproc__runtime_set_initialised(void) { rt.init_called = 1; }

/* ---- identity --------------------------------------------------------- */

const mproc__ident *mproc__self_ident(void) { return &rt.ident; }

int64_t mproc__next_child_number(void) {
  int64_t n;
  mproc__runtime_lock();
  n = ++rt.counter;
  mproc__runtime_unlock();
  return n;
}

int mproc__self_daemon(void) { return rt.daemon; }

const unsigned char *mproc__authkey(void) { return rt.authkey; }

int mproc__runtime_new_authkey(void) {
  return mproc__plat_random(rt.authkey, sizeof rt.authkey);
}

void mproc__runtime_become(mproc__ident ident, int daemon,
                           const unsigned char *authkey) {
  free(rt.ident.v);
  rt.ident = ident;
  rt.daemon = daemon;
  memcpy(rt.authkey, authkey, sizeof rt.authkey);
}

int mproc_cpu_count(void) { return mproc__plat_cpu_count(); }

void mproc_sleep(double seconds) { mproc__plat_sleep(seconds); }

double mproc_monotonic(void) { return mproc__plat_monotonic(); }

void mproc_free(void *p) { free(p); }
