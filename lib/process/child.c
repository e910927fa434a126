/*
 * child.c - mproc_init, and the child's half of the spawn protocol: hello,
 * bootstrap, reply, then the target, and exit.  The top of the spawn
 * core: it stands on runtime.c, spawn.c, the object types (it rebuilds
 * them from the bootstrap), process.c and tracker.c, and nothing calls it
 * but the user's main().
 *
 * A spawned child whose set-up or handshake fails never returns from
 * mproc_init: it says why in one line on stderr (and to the parent, when
 * the channel still works) and exits with MPROC__EXIT_BOOT.  The handshake
 * has one deadline (MPROC_START_TIMEOUT), whatever the parent does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"
#include "spawnctx.h"

/* ---- rebuilding objects (the import half of the spawn context) ------------ */

/* Every type that can travel at spawn. */
extern const mproc__objtype mproc__sem_type, mproc__bsem_type,
    mproc__event_type, mproc__cond_type, mproc__barrier_type,
    mproc__value_type, mproc__array_type, mproc__rawvalue_type,
    mproc__rawarray_type, mproc__shm_type, mproc__queue_type,
    mproc__simplequeue_type, mproc__joinablequeue_type;
static const mproc__objtype *const travel_types[] = {
    &mproc__conn_type,    &mproc__lock_type,     &mproc__rlock_type,
    &mproc__sem_type,     &mproc__bsem_type,     &mproc__event_type,
    &mproc__cond_type,    &mproc__barrier_type,  &mproc__value_type,
    &mproc__array_type,   &mproc__rawvalue_type, &mproc__rawarray_type,
    &mproc__shm_type,     &mproc__queue_type,    &mproc__simplequeue_type,
    &mproc__joinablequeue_type};

static int import_obj(mproc__codec_ctx *ctx, const mproc_value *plain,
                      mproc_value **objval) {
  mproc__spawn *sp = (mproc__spawn *)ctx;
  const mproc__objtype *type = NULL;
  const char *name = mproc_value_str(mproc_list_get(plain, 0));
  void *obj = NULL;
  size_t i;
  int rc;
  for (i = 0; i < sp->nseen; i++)
    if (mproc_value_equal(sp->seen[i].plain, plain)) {
      *objval = mproc__value_object(sp->seen[i].type, sp->seen[i].obj, 0);
      return *objval ? 0 : MPROC_ENOMEM;
    }
  for (i = 0; name && i < sizeof travel_types / sizeof travel_types[0]; i++)
    if (strcmp(travel_types[i]->name, name) == 0)
      type = travel_types[i];
  if (!type || mproc_list_len(plain) != 2)
    return mproc__err(MPROC_EBADMSG, "unknown object '%s' in bootstrap",
                      name ? name : "?");
  if (mproc__array_room(&sp->seen, &sp->capseen, sp->nseen, sizeof *sp->seen,
                        4, "spawn objects") != 0)
    return MPROC_ENOMEM;
  rc = type->spawn_import(sp, mproc_list_get(plain, 1), &obj);
  if (rc)
    return rc;
  *objval = mproc__value_object(type, obj, 1);
  sp->seen[sp->nseen].plain = mproc_value_copy(plain);
  if (!*objval || !sp->seen[sp->nseen].plain) {
    if (*objval)
      mproc_value_free(*objval);
    else
      type->release(obj);
    mproc_value_free(sp->seen[sp->nseen].plain);
    return mproc__err(MPROC_ENOMEM, "spawn objects");
  }
  sp->seen[sp->nseen].type = type;
  sp->seen[sp->nseen].obj = obj;
  sp->nseen++;
  return 0;
}

static void spawn_init_child(mproc__spawn *sp, const mproc_value *values) {
  mproc__handle r0 = sp->reserved[0], r1 = sp->reserved[1];
  mproc__spawn_init_parent(sp);
  sp->codec.import_obj = import_obj;
  sp->values = values;
  sp->reserved[0] = r0;
  sp->reserved[1] = r1;
}

/* ---- the bootstrap ---------------------------------------------------------- */

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
  mproc__ident ident;
  mproc_process *self, *par;
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
  if (keyn != 32)
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
  spawn_init_child(&bs->sp, mproc_dict_get_str(bs->msg, "handles"));
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
  ident.n = mproc_list_len(id);
  ident.v = malloc(ident.n * sizeof *ident.v);
  if (!ident.v)
    return mproc__err(MPROC_ENOMEM, "identity");
  for (i = 0; i < ident.n; i++)
    if (mproc_value_get_int(mproc_list_get(id, i), &ident.v[i]) != 0) {
      free(ident.v);
      return mproc__err(MPROC_EBADMSG, "bootstrap: bad 'ident'");
    }
  mproc__runtime_become(ident, daemon, key);
  self = mproc__process_new_self(name, mproc__plat_getpid(), daemon);
  par = mproc__process_new_parent(pname, (long)bs->ppid, parent);
  if (!self || !par)
    return mproc__err(MPROC_ENOMEM, "process objects");
  mproc__process_set_self(self, par);
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
  if (mproc__plat_child_setup(parent, mproc__self_daemon()) != 0)
    child_fail(MPROC__NOHANDLE, 0, "%s", mproc_last_error());

  mproc__plat_atexit(mproc__process_at_exit);
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
  mproc__blk_release_imports(&bs.sp);
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
  if (mproc__initialised())
    return 0;
  child = argv && mproc__plat_child_args(argc, argv, &boot, &parent);
  rc = mproc__runtime_init(); /* a failure is final: the same again */
  if (rc && child) /* never back into main()'s parent path */
    child_fail(boot, mproc__plat_monotonic() + mproc__start_timeout(),
               "mproc_init failed: %s", mproc_last_error());
  if (rc)
    return rc;
  mproc__runtime_set_initialised();
  if (child)
    child_main(boot, parent); /* never returns */
  rc = mproc__runtime_new_authkey();
  if (rc)
    return rc;
  /* Under mpiexec: ranks 1..N become MPI pool workers here. */
  if ((rc = mproc__pool_mpi_boot()) != 0)
    return rc;
  mproc__plat_atexit(mproc__process_at_exit);
  return 0;
}
