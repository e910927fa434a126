/*
 * runtime.c - mproc_init, the child's half of the spawn protocol, the
 * table of started children, and who the current process is.
 *
 * Map: mproc_init -> runtime_setup (APR, identity, authkey) and, in a
 * spawned child, child_main (hello, bootstrap, ack, run the target, exit);
 * the process table (APR mutex) with at_exit, which terminates daemonic
 * children and joins the others as Python does at interpreter exit.
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

static int runtime_setup(void) {
  if (rt.ready)
    return 0;
  if (apr_initialize() != APR_SUCCESS)
    return mproc__err(MPROC_EOS, "apr_initialize failed");
  if (apr_pool_create(&rt.pool, NULL) != APR_SUCCESS ||
      apr_thread_mutex_create(&rt.mu, APR_THREAD_MUTEX_DEFAULT, rt.pool) !=
          APR_SUCCESS ||
      apr_thread_mutex_create(&rt.tracker_mu, APR_THREAD_MUTEX_DEFAULT,
                              rt.pool) != APR_SUCCESS)
    return mproc__err(MPROC_ENOMEM, "runtime mutex");
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

void mproc__tracker_lock(void) {
  mproc__ensure_runtime();
  apr_thread_mutex_lock(rt.tracker_mu);
}

void mproc__tracker_unlock(void) { apr_thread_mutex_unlock(rt.tracker_mu); }

int mproc__initialised(void) { return rt.init_called; }

void mproc__ensure_runtime(void) {
  if (rt.ready)
    return;
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
  if (runtime_setup() != 0) {
    fprintf(stderr, "mproc: cannot initialise: %s\n", mproc_last_error());
    mproc__plat_exit(MPROC__EXIT_BOOT);
  }
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
  mproc__ensure_runtime();
  if (!rt.self)
    rt.self = mproc__process_new_self("MainProcess", mproc__plat_getpid(), 0);
  return rt.self;
}

mproc_process *mproc_parent_process(void) {
  mproc__ensure_runtime();
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
  if (!out && cap)
    return mproc__err(MPROC_EINVAL, "mproc_active_children: NULL output");
  mproc__ensure_runtime();
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

/* Read and check the bootstrap dict; rebuild identity and arguments. */
static int read_bootstrap(mproc_conn *boot, mproc__waititem parent,
                          boot_state *bs) {
  const char *module, *name, *pname;
  const void *argp, *selfp, *key;
  size_t argn, selfn, keyn, i;
  int64_t proto, offset;
  int daemon;
  const mproc_value *id;
  int rc;

  rc = mproc_conn_recv(boot, &bs->msg);
  if (rc)
    return rc;
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

static void child_main(mproc__handle boot_h, mproc__waititem parent) {
  boot_state bs;
  mproc_conn *boot;
  const char *fault = getenv("MPROC_TEST_FAULT");
  int rc, code;

  memset(&bs, 0, sizeof bs);
  /* Fault injection for the test suite: die before the bootstrap. */
  if (fault && strcmp(fault, "crash-before-bootstrap") == 0)
    abort();
  if (mproc__plat_adopt(boot_h) != 0)
    mproc__plat_exit(MPROC__EXIT_BOOT);
  boot = mproc__conn_wrap(boot_h, 1, 1);
  if (!boot ||
      mproc_conn_send_bytes(boot, MPROC__HELLO, strlen(MPROC__HELLO)) != 0)
    mproc__plat_exit(MPROC__EXIT_BOOT);
  rc = read_bootstrap(boot, parent, &bs);
  if (rc) {
    char reply[400];
    snprintf(reply, sizeof reply, "%s: %s", mproc_errname(rc),
             mproc_last_error());
    mproc_conn_send_bytes(boot, reply, strlen(reply));
    mproc__plat_exit(MPROC__EXIT_BOOT);
  }
  if (mproc_conn_send_bytes(boot, "ok", 2) != 0)
    mproc__plat_exit(MPROC__EXIT_BOOT);
  /* The channel stays open: it is how each side sees the other end. */
  mproc__conn_detach(boot);
  mproc_value_free(bs.msg);
  bs.msg = NULL;
  if (mproc__plat_child_setup((long)bs.ppid, rt.daemon) != 0)
    mproc__plat_exit(MPROC__EXIT_BOOT);

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
  int rc;
  if (rt.init_called)
    return 0;
  rt.checked = 1; /* mproc_init is the bootstrap: no "forgot" check */
  rc = runtime_setup();
  if (rc)
    return rc;
  rt.init_called = 1;
  if (argv && mproc__plat_child_args(argc, argv, &boot, &parent)) {
    child_main(boot, parent); /* never returns */
  }
  rc = mproc__plat_random(rt.authkey, sizeof rt.authkey);
  if (rc)
    return rc;
  atexit(at_exit);
  return 0;
}
