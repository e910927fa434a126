/*
 * runtime.c - mproc_init, the child's half of the spawn protocol, the
 * table of started children, and who the current process is.
 *
 * Map: mproc_init -> runtime_setup (APR, identity, authkey) and, in a
 * spawned child, child_main (hello, bootstrap, ack, run the target, exit);
 * the process table (APR mutex) with at_exit, which terminates daemonic
 * children and joins the others as Python does at interpreter exit.
 *
 * A failed set-up is final: APR counts apr_initialize calls and a second
 * one "succeeds" with nothing set up, so it is never tried again; every
 * later call that needs the runtime returns the first failure's code
 * (mproc__ensure_runtime).  A spawned child whose set-up or handshake
 * fails never returns from mproc_init: it says why in one line on stderr
 * (and to the parent, when the channel still works) and exits with
 * MPROC__EXIT_BOOT.
 */
#include <stdarg.h>
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
  apr_thread_mutex_t *mu;
  apr_thread_mutex_t *tracker_mu; /* tracker.c's, taken before mu */
  mproc__ident ident;
  int64_t counter;
  int daemon;
  unsigned char authkey[32];
  mproc_process *self;
  mproc_process *parent;
  mproc_process **children;
  size_t nchildren, capchildren;
} rt;

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

static void lock(void) {
  if (rt.mu)
    apr_thread_mutex_lock(rt.mu);
}

static void unlock(void) {
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

/* ---- identity --------------------------------------------------------- */

const mproc__ident *mproc__self_ident(void) { return &rt.ident; }

int64_t mproc__next_child_number(void) {
  int64_t n;
  lock();
  n = ++rt.counter;
  unlock();
  return n;
}

int mproc__self_daemon(void) { return rt.daemon; }

const char *mproc__self_name(void) {
  return rt.self ? mproc_process_name(rt.self) : "MainProcess";
}

const unsigned char *mproc__authkey(void) { return rt.authkey; }

mproc_process *mproc_current_process(void) {
  (void)mproc__ensure_runtime(); /* no APR needed below */
  if (!rt.self)
    rt.self = mproc__process_new_self("MainProcess", mproc__plat_getpid(), 0);
  return rt.self;
}

mproc_process *mproc_parent_process(void) {
  (void)mproc__ensure_runtime();
  return rt.parent;
}

int mproc_cpu_count(void) { return mproc__plat_cpu_count(); }

void mproc_sleep(double seconds) { mproc__plat_sleep(seconds); }

void mproc_free(void *p) { free(p); }

/* ---- the table of started children --------------------------------------- */

int mproc__table_add(mproc_process *p) {
  int rc = 0;
  lock();
  if (rt.nchildren == rt.capchildren) {
    size_t cap = rt.capchildren ? rt.capchildren * 2 : 16;
    mproc_process **c = realloc(rt.children, cap * sizeof *c);
    if (c) {
      rt.children = c;
      rt.capchildren = cap;
    } else {
      rc = mproc__err(MPROC_ENOMEM, "process table");
    }
  }
  if (!rc)
    rt.children[rt.nchildren++] = p;
  unlock();
  return rc;
}

void mproc__table_remove(mproc_process *p) {
  size_t i;
  lock();
  for (i = 0; i < rt.nchildren; i++)
    if (rt.children[i] == p) {
      rt.children[i] = rt.children[--rt.nchildren];
      break;
    }
  unlock();
}

int mproc_active_children(mproc_process **out, size_t cap) {
  size_t i = 0, count = 0;
  int rc;
  if (!out && cap)
    return mproc__err(MPROC_EINVAL, "mproc_active_children: NULL output");
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  lock();
  while (i < rt.nchildren) {
    mproc_process *p = rt.children[i];
    if (mproc__process_reap_nowait(p) == 1) {
      if (count < cap)
        out[count] = p;
      count++;
      i++;
      continue;
    }
    /* Ended: reaped now, as Python's active_children() does. */
    rt.children[i] = rt.children[--rt.nchildren];
    if (mproc__process_detached(p))
      mproc__process_destroy(p);
  }
  unlock();
  return (int)count;
}

/* At normal exit: terminate daemonic children, then join every child. */
static void at_exit(void) {
  mproc_process **list;
  size_t n, i;
  /* What this process printed comes before what its children print while
   * it waits for them. */
  fflush(NULL);
  lock();
  n = rt.nchildren;
  list = n ? malloc(n * sizeof *list) : NULL;
  if (list)
    memcpy(list, rt.children, n * sizeof *list);
  unlock();
  if (!list)
    return;
  for (i = 0; i < n; i++)
    if (mproc_process_daemon(list[i]) && mproc_process_is_alive(list[i]) == 1)
      mproc_process_terminate(list[i]);
  for (i = 0; i < n; i++) {
    mproc_process_join(list[i], MPROC_FOREVER);
    if (mproc__process_detached(list[i])) {
      mproc__table_remove(list[i]);
      mproc__process_destroy(list[i]);
    }
  }
  free(list);
}

/* ---- the child's half of the spawn protocol -------------------------------- */

static int get_str(const mproc_value *d, const char *k, const char **s) {
  if (mproc_value_get_str(mproc_dict_get_str(d, k), s, NULL) != 0)
    return mproc__err(MPROC_EBADMSG, "bootstrap: '%s' missing", k);
  return 0;
}

static int get_int(const mproc_value *d, const char *k, int64_t *v) {
  if (mproc_value_get_int(mproc_dict_get_str(d, k), v) != 0)
    return mproc__err(MPROC_EBADMSG, "bootstrap: '%s' missing", k);
  return 0;
}

static int get_bytes(const mproc_value *d, const char *k, const void **p,
                     size_t *n) {
  if (mproc_value_get_bytes(mproc_dict_get_str(d, k), p, n) != 0)
    return mproc__err(MPROC_EBADMSG, "bootstrap: '%s' missing", k);
  return 0;
}

typedef struct boot_state {
  mproc_value *msg;
  mproc_value *args;
  void *fn;
  int is_struct;
  void *self;
  int64_t ppid;
  mproc__spawn sp;
} boot_state;

/* Check the bootstrap dict (bytes p, n); rebuild identity and arguments. */
static int read_bootstrap(const unsigned char *p, size_t n,
                          mproc__waititem parent, boot_state *bs) {
  const char *module, *name, *pname;
  const void *argp, *selfp, *key;
  size_t argn, selfn, keyn, i;
  int64_t proto, offset;
  int daemon;
  const mproc_value *id;
  int rc;

  rc = mproc__decode(p, n, &bs->msg, NULL);
  if (rc)
    return rc;
  if (mproc_value_type(bs->msg) != MPROC_T_DICT)
    return mproc__err(MPROC_EBADMSG, "bootstrap: not a dict");
  if ((rc = get_int(bs->msg, "proto", &proto)) != 0)
    return rc;
  if (proto != MPROC__PROTO)
    return mproc__err(MPROC_EBADMSG, "bootstrap protocol %lld, expected %d",
                      (long long)proto, MPROC__PROTO);
  if ((rc = get_str(bs->msg, "module", &module)) ||
      (rc = get_int(bs->msg, "offset", &offset)) ||
      (rc = get_bytes(bs->msg, "args", &argp, &argn)) ||
      (rc = get_bytes(bs->msg, "self", &selfp, &selfn)) ||
      (rc = get_bytes(bs->msg, "authkey", &key, &keyn)) ||
      (rc = get_str(bs->msg, "name", &name)) ||
      (rc = get_str(bs->msg, "pname", &pname)) ||
      (rc = get_int(bs->msg, "ppid", &bs->ppid)))
    return rc;
  if (mproc_value_get_bool(mproc_dict_get_str(bs->msg, "struct"),
                           &bs->is_struct) != 0 ||
      mproc_value_get_bool(mproc_dict_get_str(bs->msg, "daemon"), &daemon) !=
          0)
    return mproc__err(MPROC_EBADMSG, "bootstrap: 'struct' or 'daemon' "
                                     "missing");
  if (keyn != sizeof rt.authkey)
    return mproc__err(MPROC_EBADMSG, "bootstrap: bad authkey");
  id = mproc_dict_get_str(bs->msg, "ident");
  if (mproc_value_type(id) != MPROC_T_LIST || mproc_list_len(id) == 0)
    return mproc__err(MPROC_EBADMSG, "bootstrap: 'ident' missing");

  rc = mproc__plat_ref_to_addr(module, (uint64_t)offset, &bs->fn);
  if (rc)
    return rc;
  if (bs->is_struct) {
    bs->self = malloc(selfn ? selfn : 1);
    if (!bs->self)
      return mproc__err(MPROC_ENOMEM, "struct of %zu bytes", selfn);
    memcpy(bs->self, selfp, selfn);
  }
  mproc__spawn_init_child(&bs->sp, mproc_dict_get_str(bs->msg, "handles"));
  rc = mproc__decode(argp, argn, &bs->args, &bs->sp.codec);
  if (rc)
    return rc;
  {
    const mproc_value *tv = mproc_dict_get_str(bs->msg, "tracker");
    int64_t ti;
    mproc__handle th;
    if (tv && (mproc_value_get_int(tv, &ti) != 0 ||
               (rc = mproc__spawn_get_handle(&bs->sp, ti, &th)) != 0 ||
               (rc = mproc__tracker_adopt(th)) != 0))
      return rc ? rc : mproc__err(MPROC_EBADMSG, "bootstrap: bad 'tracker'");
  }

  /* Who we are now. */
  memcpy(rt.authkey, key, keyn);
  rt.daemon = daemon;
  rt.ident.n = mproc_list_len(id);
  rt.ident.v = malloc(rt.ident.n * sizeof *rt.ident.v);
  if (!rt.ident.v)
    return mproc__err(MPROC_ENOMEM, "identity");
  for (i = 0; i < rt.ident.n; i++)
    if (mproc_value_get_int(mproc_list_get(id, i), &rt.ident.v[i]) != 0)
      return mproc__err(MPROC_EBADMSG, "bootstrap: bad 'ident'");
  rt.self = mproc__process_new_self(name, mproc__plat_getpid(), rt.daemon);
  rt.parent = mproc__process_new_parent(pname, (long)bs->ppid, parent);
  if (!rt.self || !rt.parent)
    return mproc__err(MPROC_ENOMEM, "process objects");
  return 0;
}

/* The child cannot go on: say why on stderr (one line) and, if the
 * channel works, to the parent; exit.  Needs no memory. */
static void child_fail(mproc__handle boot, double deadline, const char *fmt,
                       ...) {
  char why[400], line[480];
  va_list ap;
  size_t k = strlen(MPROC__BOOT_ERROR), i;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  for (i = 0; why[i]; i++)
    if (why[i] == '\n' || why[i] == '\r')
      why[i] = ' ';
  snprintf(line, sizeof line, "mproc: child process %ld could not start: "
                              "%s\n",
           mproc__plat_getpid(), why);
  fputs(line, stderr);
  fflush(stderr);
  if (boot != MPROC__NOHANDLE) {
    memcpy(line, MPROC__BOOT_ERROR, k);
    snprintf(line + k, sizeof line - k, "%s", why);
    /* A peer that does not read is no reason to wait long. */
    if (deadline > mproc__plat_monotonic() + 2)
      deadline = mproc__plat_monotonic() + 2;
    mproc__boot_send(boot, line, strlen(line), deadline);
  }
  mproc__plat_exit(MPROC__EXIT_BOOT);
}

static void child_main(mproc__handle boot, mproc__waititem parent) {
  boot_state bs;
  const char *fault = getenv("MPROC_TEST_FAULT");
  double limit = mproc__start_timeout();
  double deadline = mproc__plat_monotonic() + limit;
  unsigned char *raw = NULL;
  size_t n;
  int rc, code;

  memset(&bs, 0, sizeof bs);
  if (!fault)
    fault = "";
  /* Fault injection for the test suite: die before the bootstrap. */
  if (strcmp(fault, "crash-before-bootstrap") == 0)
    abort();
  if (mproc__plat_adopt(boot) != 0)
    child_fail(MPROC__NOHANDLE, 0, "its bootstrap channel is not valid: %s",
               mproc_last_error());
  if (strcmp(fault, "garbage-hello") == 0) {
    /* A program that writes to its inherited handles first. */
    static const char junk[] = "ffffffff this is not a hello at all";
    mproc__plat_boot_write(boot, junk, sizeof junk - 1, limit);
  } else {
    if (mproc__boot_send(boot, MPROC__HELLO, strlen(MPROC__HELLO),
                         deadline) != 0)
      child_fail(MPROC__NOHANDLE, 0, "cannot say hello to the parent: %s",
                 mproc_last_error());
    if (strcmp(fault, "stall-after-hello") == 0) {
      mproc__plat_sleep(600);
      mproc__plat_exit(MPROC__EXIT_BOOT);
    }
  }
  rc = mproc__boot_recv(boot, MPROC__BOOT_BIG, deadline, &raw, &n);
  if (rc == MPROC_ETIMEDOUT)
    child_fail(boot, deadline, "no complete bootstrap message from the "
                               "parent within %g s (%s)",
               limit, mproc_last_error());
  if (rc == MPROC_EEOF)
    child_fail(MPROC__NOHANDLE, 0, "the parent closed the bootstrap channel "
                                   "before sending the bootstrap message");
  if (rc) /* the other direction is still in step: tell the parent */
    child_fail(boot, deadline, "bad bootstrap message: %s: %s",
               mproc_errname(rc), mproc_last_error());
  bs.sp.reserved[0] = boot;
  bs.sp.reserved[1] = parent.h;
  rc = read_bootstrap(raw, n, parent, &bs);
  free(raw);
  if (rc)
    child_fail(boot, deadline, "bad bootstrap message: %s: %s",
               mproc_errname(rc), mproc_last_error());
  if (mproc__boot_send(boot, "ok", 2, deadline) != 0)
    child_fail(MPROC__NOHANDLE, 0, "cannot answer the parent: %s",
               mproc_last_error());
  /* The channel stays open: it is how each side sees the other end. */
  mproc_value_free(bs.msg);
  bs.msg = NULL;
  if (mproc__plat_child_setup(parent, rt.daemon) != 0)
    child_fail(MPROC__NOHANDLE, 0, "%s", mproc_last_error());

  atexit(at_exit);
  if (bs.is_struct) {
    mproc_run run;
    memcpy(&run, &bs.fn, sizeof run);
    code = run(bs.self, bs.args);
  } else {
    mproc_target target;
    memcpy(&target, &bs.fn, sizeof target);
    code = target(bs.args);
  }
  mproc_value_free(bs.args);
  mproc__spawn_free(&bs.sp);
  free(bs.self);
  fflush(NULL);
  /* Exit codes are 0..255 on both OSes: POSIX keeps only the low byte,
   * and on Windows a negative code would read as a signal. */
  exit(code & 0xFF);
}

int mproc_init(int argc, char **argv) {
  mproc__handle boot;
  mproc__waititem parent;
  int rc, child;
  if (rt.init_called)
    return 0;
  if (rt.failed)
    return runtime_setup(); /* the same failure again */
  rt.checked = 1; /* mproc_init is the bootstrap: no "forgot" check */
  child = argv && mproc__plat_child_args(argc, argv, &boot, &parent);
  rc = runtime_setup();
  if (rc && child) /* never back into main()'s parent path */
    child_fail(boot, mproc__plat_monotonic() + mproc__start_timeout(),
               "mproc_init failed: %s", mproc_last_error());
  if (rc)
    return rc;
  rt.init_called = 1;
  if (child)
    child_main(boot, parent); /* never returns */
  rc = mproc__plat_random(rt.authkey, sizeof rt.authkey);
  if (rc)
    return rc;
  atexit(at_exit);
  return 0;
}
