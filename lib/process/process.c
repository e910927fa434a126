/*
 * process.c - Process objects and the parent's half of the spawn protocol.
 *
 * Start: the target becomes (module, offset); the arguments are encoded
 * with a spawn context that turns each OS object into a plain value naming
 * the handles it needs; the platform starts the executable again with
 * exactly those handles; then a short exchange on the bootstrap channel:
 *
 *   child  -> parent   "mproc-hello/1"          (it reached mproc_init)
 *   parent -> child    the bootstrap dict        (target, args, identity)
 *   child  -> parent   "ok" | "error: <detail>"  (it can run the target)
 *
 * so start() reports every failure to bootstrap (a crash, a forgotten
 * mproc_init, a target the child cannot find) as MPROC_ESPAWN with the
 * reason, and never waits forever for a child that does not answer.
 * After that the channel carries nothing: each side's end is the other's
 * sentinel (POSIX), or the process handles are (Win32).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"
#include "spawnctx.h"

enum { ST_NEW, ST_STARTED, ST_DONE, ST_CLOSED };
enum { KIND_CHILD, KIND_SELF, KIND_PARENT };

struct mproc_process {
  mproc_waitable w; /* first: mproc_process_sentinel() casts */
  int kind;
  int state;
  mproc_target target;
  mproc_run run;
  unsigned char *self;
  size_t self_size;
  mproc_value *args;
  char *name;
  int daemon;
  int64_t *ident;
  size_t nident;
  mproc__child child;
  long pid;
  int exitcode;
  int detached;
  int internal; /* mproc__process_start_internal */
  int nointr;   /* mproc__process_set_nointr */
  mproc__waititem psentinel; /* KIND_PARENT */
};

/* The table of started children (at the end of this file). */
static int table_add(mproc_process *p);
static void table_remove(mproc_process *p);

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static char *ident_name(const int64_t *v, size_t n) {
  char *s = malloc(16 + n * 21);
  size_t i, len;
  if (!s)
    return NULL;
  len = (size_t)sprintf(s, "Process-");
  for (i = 0; i < n; i++)
    len += (size_t)sprintf(s + len, i ? ":%lld" : "%lld", (long long)v[i]);
  return s;
}

static int make(mproc_process **out, mproc_target target, mproc_run run,
                const void *self, size_t size, mproc_value *args,
                const mproc_process_opts *opts) {
  const mproc__ident *me;
  mproc_process *p;
  if (!out) {
    mproc_value_free(args);
    return mproc__err(MPROC_EINVAL, "mproc_process_new: NULL output");
  }
  *out = NULL;
  if (!target && !run) {
    mproc_value_free(args);
    return mproc__err(MPROC_EINVAL, "mproc_process_new: NULL target");
  }
  if (args && mproc_value_type(args) != MPROC_T_LIST) {
    mproc_value_free(args);
    return mproc__err(MPROC_ETYPE, "mproc_process_new: args must be a list");
  }
  {
    int rc = mproc__ensure_runtime();
    if (rc) {
      mproc_value_free(args);
      return rc;
    }
  }
  p = calloc(1, sizeof *p);
  if (!p) {
    mproc_value_free(args);
    return mproc__err(MPROC_ENOMEM, "process");
  }
  p->w.kind = MPROC__WAIT_PROC;
  p->kind = KIND_CHILD;
  p->state = ST_NEW;
  p->target = target;
  p->run = run;
  p->args = args;
  p->child.boot = p->child.proc = MPROC__NOHANDLE;
  me = mproc__self_ident();
  p->nident = me->n + 1;
  p->ident = malloc(p->nident * sizeof *p->ident);
  if (p->ident) {
    if (me->n)
      memcpy(p->ident, me->v, me->n * sizeof *p->ident);
    p->ident[me->n] = mproc__next_child_number();
  }
  if (size) {
    p->self = malloc(size);
    if (p->self)
      memcpy(p->self, self, size);
    p->self_size = size;
  }
  p->name = opts && opts->name ? dupstr(opts->name)
                               : (p->ident ? ident_name(p->ident, p->nident)
                                           : NULL);
  p->daemon = opts && opts->daemon >= 0 ? opts->daemon != 0
                                        : mproc__self_daemon();
  if (!p->ident || !p->name || (size && !p->self)) {
    mproc_process_free(p);
    return mproc__err(MPROC_ENOMEM, "process");
  }
  *out = p;
  return 0;
}

int mproc_process_new(mproc_process **p, mproc_target target,
                      mproc_value *args, const mproc_process_opts *opts) {
  return make(p, target, NULL, NULL, 0, args, opts);
}

int mproc_process_new_struct(mproc_process **p, mproc_run run,
                             const void *self, size_t size, mproc_value *args,
                             const mproc_process_opts *opts) {
  if (!run || (!self && size)) {
    mproc_value_free(args);
    if (p)
      *p = NULL;
    return mproc__err(MPROC_EINVAL, "mproc_process_new_struct: %s",
                      run ? "NULL self" : "NULL run function");
  }
  return make(p, NULL, run, self, size, args, opts);
}

/* ---- state checks -------------------------------------------------------- */

static int usable(mproc_process *p, const char *what) {
  if (!p)
    return mproc__err(MPROC_EINVAL, "%s: NULL process", what);
  if (p->state == ST_CLOSED)
    return mproc__err(MPROC_ECLOSED, "%s: process object is closed", what);
  return 0;
}

static int started_child(mproc_process *p, const char *what) {
  int rc = usable(p, what);
  if (rc)
    return rc;
  if (p->kind != KIND_CHILD)
    return mproc__err(MPROC_ENOTCHILD,
                      "%s: only a child process of this one applies", what);
  if (p->state == ST_NEW)
    return mproc__err(MPROC_ENOTSTARTED, "%s: the process was never started",
                      what);
  return 0;
}

/* Collect the exit status if the child has ended (or wait for it). */
static int reap(mproc_process *p, int block) {
  int code, rc;
  if (p->state != ST_STARTED)
    return 0;
  rc = mproc__plat_proc_reap(&p->child, block, &code);
  if (rc)
    return rc;
  p->exitcode = code;
  p->state = ST_DONE;
  mproc__plat_proc_release(&p->child);
  return 0;
}

/* ---- start ---------------------------------------------------------------- */

/*
 * After a failed handshake: make sure the child is gone, say why.  A child
 * that closed the channel is ending: it gets until the deadline to do so
 * (so its exit code is its own); one that did not is killed at once.
 */
static int abandon(mproc_process *p, int rc, const char *why,
                   double deadline) {
  int code = 0, r;
  char detail[sizeof(((mproc__errrec *)0)->detail)];
  snprintf(detail, sizeof detail, "%s", mproc_last_error());
  for (;;) {
    r = mproc__plat_proc_reap(&p->child, 0, &code);
    if (r != MPROC_ETIMEDOUT || rc != MPROC_EEOF ||
        mproc__plat_monotonic() >= deadline)
      break;
    mproc__plat_sleep(0.002);
  }
  if (r == MPROC_ETIMEDOUT) {
    mproc__plat_proc_signal(&p->child, 1);
    mproc__plat_proc_reap(&p->child, 1, &code);
  }
  mproc__plat_proc_release(&p->child);
  if (rc == MPROC_EEOF)
    return mproc__err(MPROC_ESPAWN,
                      "mproc_process_start: the child (pid %ld) exited with "
                      "code %d %s",
                      p->child.pid, code, why);
  return mproc__err(MPROC_ESPAWN, "mproc_process_start: %s (%s)", why,
                    detail);
}

/* A reply of the child's that is "error: <why>": the whole failure.  It
 * exits right after saying so: wait for that, as for EOF. */
static int child_said_error(mproc_process *p, const unsigned char *reply,
                            size_t n, double deadline) {
  char why[MPROC__BOOT_SMALL + 64];
  size_t k = strlen(MPROC__BOOT_ERROR);
  snprintf(why, sizeof why, "after saying it could not bootstrap: %.*s",
           (int)(n - k), (const char *)reply + k);
  return abandon(p, MPROC_EEOF, why, deadline);
}

static int is_error_reply(const unsigned char *r, size_t n) {
  size_t k = strlen(MPROC__BOOT_ERROR);
  return n >= k && memcmp(r, MPROC__BOOT_ERROR, k) == 0;
}

static int handshake(mproc_process *p, const char *module, uint64_t offset,
                     const mproc__buf *args, const mproc__handle *values,
                     size_t nvalues, int tracker, double limit,
                     double deadline) {
  mproc__handle h = p->child.boot;
  mproc_value *msg = NULL, *hl;
  mproc__buf enc = MPROC__BUF_INIT;
  unsigned char *reply = NULL;
  char why[200];
  size_t n, i;
  int rc;

  rc = mproc__boot_recv(h, MPROC__BOOT_SMALL, deadline, &reply, &n);
  if (rc == MPROC_ETIMEDOUT) {
    snprintf(why, sizeof why,
             "the child did not start within %g s; does its main() call "
             "mproc_init(argc, argv) first?",
             limit);
    return abandon(p, rc, why, deadline);
  }
  if (rc == MPROC_EEOF)
    return abandon(p, rc,
                   "before reading its bootstrap message (did its main() "
                   "call mproc_init(argc, argv) first?)",
                   deadline);
  if (rc)
    return abandon(p, MPROC_EBADMSG,
                   "the child did not send its hello (a program that writes "
                   "to its inherited handles before mproc_init?)",
                   deadline);
  if (is_error_reply(reply, n)) {
    rc = child_said_error(p, reply, n, deadline);
    free(reply);
    return rc;
  }
  rc = n == strlen(MPROC__HELLO) && memcmp(reply, MPROC__HELLO, n) == 0
           ? 0
           : mproc__err(MPROC_EBADMSG, "unexpected hello from the child");
  free(reply);
  reply = NULL;
  if (rc)
    return abandon(p, rc, "the child speaks another protocol", deadline);

  hl = mproc_list();
  for (i = 0; hl && i < nvalues; i++)
    if (mproc_list_append(hl, mproc_int((int64_t)values[i])) != 0)
      break;
  msg = mproc_build("{s:i s:s s:L s:b s:y s:y s:O s:s s:b s:L s:s s:y}",
                    "proto", MPROC__PROTO, "module", module, "offset",
                    (int64_t)offset, "struct", p->run != NULL, "self",
                    p->self ? (const void *)p->self : (const void *)"",
                    p->self_size, "args", (const void *)args->p, args->len,
                    "handles", hl, "name", p->name, "daemon", p->daemon,
                    "ppid", (int64_t)mproc__plat_getpid(), "pname",
                    mproc__self_name(), "authkey",
                    (const void *)mproc__authkey(), (size_t)32);
  if (!msg)
    return abandon(p, MPROC_ENOMEM, "cannot build the bootstrap message",
                   deadline);
  /* The identity travels as a list. */
  {
    mproc_value *id = mproc_list();
    for (i = 0; id && i < p->nident; i++)
      if (mproc_list_append(id, mproc_int(p->ident[i])) != 0)
        break;
    rc = mproc_dict_set_str(msg, "ident", id);
  }
  if (!rc && tracker >= 0)
    rc = mproc_dict_set_str(msg, "tracker", mproc_int(tracker));
  if (!rc)
    rc = mproc__encode(msg, &enc, NULL);
  mproc_value_free(msg);
  if (!rc)
    rc = mproc__boot_send(h, enc.p, enc.len, deadline);
  mproc__buf_free(&enc);
  if (rc == MPROC_ETIMEDOUT) {
    snprintf(why, sizeof why,
             "the child did not read its bootstrap message within %g s",
             limit);
    return abandon(p, rc, why, deadline);
  }
  if (rc)
    return abandon(p, rc, "while its bootstrap message was being sent",
                   deadline);
  rc = mproc__boot_recv(h, MPROC__BOOT_SMALL, deadline, &reply, &n);
  if (rc == MPROC_ETIMEDOUT) {
    snprintf(why, sizeof why,
             "the child did not answer its bootstrap message within %g s",
             limit);
    return abandon(p, rc, why, deadline);
  }
  if (rc == MPROC_EEOF)
    return abandon(p, rc, "while reading its bootstrap message", deadline);
  if (rc)
    return abandon(p, MPROC_EBADMSG, "the child's reply is malformed",
                   deadline);
  if (n == 2 && memcmp(reply, "ok", 2) == 0) {
    free(reply);
    return 0;
  }
  if (is_error_reply(reply, n)) {
    rc = child_said_error(p, reply, n, deadline);
    free(reply);
    return rc;
  }
  free(reply);
  mproc__err(MPROC_EBADMSG, "unexpected reply from the child");
  return abandon(p, MPROC_EBADMSG, "the child speaks another protocol",
                 deadline);
}

int mproc_process_start(mproc_process *p) {
  char module[1024];
  uint64_t offset;
  void *addr;
  mproc__spawn sp;
  mproc__buf args = MPROC__BUF_INIT;
  mproc__handle *values = NULL;
  int tracker = -1;
  int rc = usable(p, "mproc_process_start");
  if (rc)
    return rc;
  if (p->kind != KIND_CHILD)
    return mproc__err(MPROC_EINVAL, "mproc_process_start: not a new process");
  if (p->state != ST_NEW)
    return mproc__err(MPROC_ESTARTED,
                      "mproc_process_start: cannot start a process twice");
  if (!mproc__initialised())
    return mproc__err(MPROC_ENOTINIT,
                      "mproc_process_start: call mproc_init(argc, argv) at "
                      "the top of main() first");
  if (mproc__self_daemon() && !p->internal)
    return mproc__err(MPROC_ENOTSUP, "mproc_process_start: daemonic "
                                     "processes are not allowed to have "
                                     "children");
  if (p->run) {
    mproc_run fn = p->run;
    memcpy(&addr, &fn, sizeof addr);
  } else {
    mproc_target fn = p->target;
    memcpy(&addr, &fn, sizeof addr);
  }
  rc = mproc__plat_addr_to_ref(addr, module, sizeof module, &offset);
  if (rc)
    return rc;

  /* As Python does: buffered output is written once, not by both. */
  fflush(NULL);
  mproc__spawn_init_parent(&sp);
  if (p->args) {
    rc = mproc__encode(p->args, &args, &sp.codec);
  } else {
    mproc_value *empty = mproc_list();
    rc = mproc__encode(empty, &args, &sp.codec);
    mproc_value_free(empty);
  }
  if (!rc && !p->internal) {
    /* Every child gets the resource tracker's write end, if there is one. */
    mproc__handle th = mproc__tracker_handle();
    if (th != MPROC__NOHANDLE &&
        (tracker = mproc__spawn_add_handle(&sp, th)) < 0)
      rc = tracker;
  }
  if (!rc && sp.n) {
    values = malloc(sp.n * sizeof *values);
    if (!values)
      rc = mproc__err(MPROC_ENOMEM, "handle table");
  }
  if (!rc)
    rc = mproc__plat_spawn_self(sp.h, sp.n, values,
                                (p->daemon ? MPROC__SPAWN_DAEMON : 0) |
                                    (p->nointr ? MPROC__SPAWN_NOINTR : 0),
                                &p->child);
  if (!rc) {
    /* One deadline for the whole handshake. */
    double limit = mproc__start_timeout();
    rc = handshake(p, module, offset, &args, values, sp.n, tracker, limit,
                   mproc__plat_monotonic() + limit);
  }
  mproc__spawn_free(&sp);
  mproc__buf_free(&args);
  free(values);
  if (rc)
    return rc;
  p->pid = p->child.pid;
  p->state = ST_STARTED;
  if (p->internal)
    return 0;
  rc = table_add(p);
  if (rc) {
    mproc__plat_proc_signal(&p->child, 1);
    reap(p, 1);
    return rc;
  }
  return 0;
}

/* ---- join, is_alive, signals ---------------------------------------------- */

int mproc_process_join(mproc_process *p, double timeout) {
  int rc, ready = 0;
  double deadline;
  if ((rc = mproc__timeout(&timeout, "mproc_process_join")) != 0)
    return rc;
  if (p && p->kind == KIND_PARENT) {
    rc = mproc__plat_wait(&p->psentinel, 1, timeout, &ready);
    if (rc < 0)
      return rc;
    return ready ? 0
                 : mproc__err(MPROC_ETIMEDOUT, "mproc_process_join: timed out");
  }
  rc = started_child(p, "mproc_process_join");
  if (rc)
    return rc;
  if (p->state == ST_DONE)
    return 0;
  deadline = mproc__plat_monotonic() + timeout;
  rc = mproc__plat_wait(&p->child.sentinel, 1, timeout, &ready);
  if (rc < 0)
    return rc;
  if (!ready)
    return mproc__err(MPROC_ETIMEDOUT,
                      "mproc_process_join: %s still running after %g s",
                      p->name, timeout);
  /* The sentinel says it ended; the exit status follows at once, unless
   * the child closed its end on purpose: then poll until the deadline. */
  for (;;) {
    rc = reap(p, timeout < 0);
    if (rc != MPROC_ETIMEDOUT)
      break;
    if (mproc__plat_monotonic() >= deadline)
      return mproc__err(MPROC_ETIMEDOUT,
                        "mproc_process_join: %s still running after %g s",
                        p->name, timeout);
    mproc__plat_sleep(0.001);
  }
  if (rc)
    return rc;
  table_remove(p);
  return 0;
}

int mproc_process_is_alive(mproc_process *p) {
  int rc = usable(p, "mproc_process_is_alive");
  if (rc)
    return rc;
  if (p->kind == KIND_SELF)
    return 1;
  if (p->kind == KIND_PARENT) {
    int ready = 0;
    rc = mproc__plat_wait(&p->psentinel, 1, 0, &ready);
    return rc < 0 ? rc : !ready;
  }
  if (p->state != ST_STARTED)
    return 0;
  rc = reap(p, 0);
  if (rc == MPROC_ETIMEDOUT)
    return 1;
  return rc < 0 ? rc : 0;
}

static int do_signal(mproc_process *p, int hard, const char *what) {
  int rc = started_child(p, what);
  if (rc)
    return rc;
  if (p->state == ST_DONE)
    return 0;
  return mproc__plat_proc_signal(&p->child, hard);
}

int mproc_process_terminate(mproc_process *p) {
  return do_signal(p, 0, "mproc_process_terminate");
}

int mproc_process_kill(mproc_process *p) {
  return do_signal(p, 1, "mproc_process_kill");
}

int mproc_process_exitcode(mproc_process *p, int *code) {
  int rc;
  /* The current process is running: no exit code yet (Python: None). */
  if (p && p->kind == KIND_SELF && p->state != ST_CLOSED)
    return mproc__err(MPROC_ERUNNING, "mproc_process_exitcode: %s is the "
                                      "current process, still running",
                      p->name);
  rc = started_child(p, "mproc_process_exitcode");
  if (rc)
    return rc;
  if (!code)
    return mproc__err(MPROC_EINVAL, "mproc_process_exitcode: NULL output");
  rc = reap(p, 0);
  if (rc == MPROC_ETIMEDOUT)
    return mproc__err(MPROC_ERUNNING, "mproc_process_exitcode: %s is still "
                                      "running",
                      p->name);
  if (rc)
    return rc;
  *code = p->exitcode;
  return 0;
}

int mproc_process_close(mproc_process *p) {
  int rc;
  if (p && p->state == ST_CLOSED)
    return 0; /* closing twice is a no-op, as in Python */
  rc = usable(p, "mproc_process_close");
  if (rc)
    return rc;
  if (p->kind != KIND_CHILD)
    return mproc__err(MPROC_ENOTCHILD, "mproc_process_close: not a child");
  if (p->state == ST_STARTED) {
    rc = reap(p, 0);
    if (rc == MPROC_ETIMEDOUT)
      return mproc__err(MPROC_ERUNNING,
                        "mproc_process_close: cannot close a process while "
                        "it is still running; join() or terminate() it "
                        "first");
    if (rc)
      return rc;
  }
  table_remove(p);
  mproc_value_free(p->args);
  p->args = NULL;
  p->state = ST_CLOSED;
  return 0;
}

static void destroy(mproc_process *p) {
  mproc_value_free(p->args);
  free(p->self);
  free(p->name);
  free(p->ident);
  free(p);
}

void mproc__process_set_nointr(mproc_process *p) {
  if (p && p->kind == KIND_CHILD)
    p->nointr = 1;
}

int mproc__process_start_internal(mproc_target target, mproc_value *args,
                                  const char *name) {
  mproc_process_opts opts = MPROC_PROCESS_OPTS_INIT;
  mproc_process *p;
  int rc;
  opts.name = name;
  opts.daemon = 0;
  rc = mproc_process_new(&p, target, args, &opts);
  if (rc)
    return rc;
  p->internal = 1;
  rc = mproc_process_start(p);
  if (rc == 0)
    mproc__plat_proc_release(&p->child); /* never joined */
  destroy(p);
  return rc;
}

void mproc_process_free(mproc_process *p) {
  if (!p || p->kind != KIND_CHILD)
    return;
  if (p->state == ST_STARTED && reap(p, 0) == MPROC_ETIMEDOUT) {
    /* Still running: the table keeps it and joins it at exit. */
    p->detached = 1;
    return;
  }
  table_remove(p);
  destroy(p);
}

/* ---- attributes ------------------------------------------------------------ */

long mproc_process_pid(const mproc_process *p) { return p ? p->pid : 0; }

const char *mproc_process_name(const mproc_process *p) {
  return p ? p->name : NULL;
}

int mproc_process_set_name(mproc_process *p, const char *name) {
  char *n;
  int rc = usable(p, "mproc_process_set_name");
  if (rc)
    return rc;
  if (!name)
    return mproc__err(MPROC_EINVAL, "mproc_process_set_name: NULL name");
  n = dupstr(name);
  if (!n)
    return mproc__err(MPROC_ENOMEM, "name");
  free(p->name);
  p->name = n;
  return 0;
}

int mproc_process_daemon(const mproc_process *p) { return p && p->daemon; }

int mproc_process_set_daemon(mproc_process *p, int daemon) {
  int rc = usable(p, "mproc_process_set_daemon");
  if (rc)
    return rc;
  if (p->kind != KIND_CHILD || p->state != ST_NEW)
    return mproc__err(MPROC_ESTARTED, "mproc_process_set_daemon: process "
                                      "has already started");
  p->daemon = daemon != 0;
  return 0;
}

mproc_waitable *mproc_process_sentinel(mproc_process *p) {
  return p ? &p->w : NULL;
}

int mproc__process_wait_item(mproc_process *p, mproc__waititem *item) {
  if (p->kind == KIND_PARENT) {
    *item = p->psentinel;
    return 0;
  }
  {
    int rc = started_child(p, "mproc_wait");
    if (rc)
      return rc;
  }
  if (p->state == ST_DONE)
    return 1;
  *item = p->child.sentinel;
  return 0;
}

/* ---- the table's view ------------------------------------------------------ */

static int reap_nowait(mproc_process *p) {
  int rc = reap(p, 0);
  if (rc == MPROC_ETIMEDOUT)
    return 1;
  return rc < 0 ? rc : 0;
}


/* Build the objects that describe the current process and its parent. */
mproc_process *mproc__process_new_self(const char *name, long pid,
                                       int daemon) {
  mproc_process *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->w.kind = MPROC__WAIT_PROC;
  p->kind = KIND_SELF;
  p->state = ST_STARTED;
  p->pid = pid;
  p->daemon = daemon;
  p->name = dupstr(name);
  p->child.boot = p->child.proc = MPROC__NOHANDLE;
  if (!p->name) {
    free(p);
    return NULL;
  }
  return p;
}

mproc_process *mproc__process_new_parent(const char *name, long pid,
                                         mproc__waititem sentinel) {
  mproc_process *p = mproc__process_new_self(name, pid, 0);
  if (p) {
    p->kind = KIND_PARENT;
    p->psentinel = sentinel;
  }
  return p;
}

/* ---- the current process and its parent ------------------------------------ */

static mproc_process *self_p, *parent_p;

mproc_process *mproc_current_process(void) {
  (void)mproc__ensure_runtime(); /* no APR needed below */
  if (!self_p)
    self_p = mproc__process_new_self("MainProcess", mproc__plat_getpid(), 0);
  return self_p;
}

mproc_process *mproc_parent_process(void) {
  (void)mproc__ensure_runtime();
  return parent_p;
}

const char *mproc__self_name(void) {
  return self_p ? self_p->name : "MainProcess";
}

void mproc__process_set_self(mproc_process *self, mproc_process *parent) {
  self_p = self;
  parent_p = parent;
}

/* ---- the table of started children (under the runtime mutex) --------------- */

static struct {
  mproc_process **v;
  size_t n, cap;
} table;

static int table_add(mproc_process *p) {
  int rc = 0;
  mproc__runtime_lock();
  rc = mproc__array_room(&table.v, &table.cap, table.n, sizeof *table.v, 16,
                         "process table");
  if (!rc)
    table.v[table.n++] = p;
  mproc__runtime_unlock();
  return rc;
}

static void table_remove(mproc_process *p) {
  size_t i;
  mproc__runtime_lock();
  for (i = 0; i < table.n; i++)
    if (table.v[i] == p) {
      table.v[i] = table.v[--table.n];
      break;
    }
  mproc__runtime_unlock();
}

int mproc_active_children(mproc_process **out, size_t cap) {
  size_t i = 0, count = 0;
  int rc;
  if (!out && cap)
    return mproc__err(MPROC_EINVAL, "mproc_active_children: NULL output");
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  mproc__runtime_lock();
  while (i < table.n) {
    mproc_process *p = table.v[i];
    if (reap_nowait(p) == 1) {
      if (count < cap)
        out[count] = p;
      count++;
      i++;
      continue;
    }
    /* Ended: reaped now, as Python's active_children() does. */
    table.v[i] = table.v[--table.n];
    if (p->detached)
      destroy(p);
  }
  mproc__runtime_unlock();
  return (int)count;
}

/* At normal exit: terminate daemonic children, then join every child. */
void mproc__process_at_exit(void) {
  mproc_process **list;
  size_t n, i;
  /* What this process printed comes before what its children print while
   * it waits for them. */
  fflush(NULL);
  mproc__runtime_lock();
  n = table.n;
  list = n ? malloc(n * sizeof *list) : NULL;
  if (list)
    memcpy(list, table.v, n * sizeof *list);
  mproc__runtime_unlock();
  if (!list)
    return;
  for (i = 0; i < n; i++)
    if (mproc_process_daemon(list[i]) && mproc_process_is_alive(list[i]) == 1)
      mproc_process_terminate(list[i]);
  for (i = 0; i < n; i++) {
    mproc_process_join(list[i], MPROC_FOREVER);
    if (list[i]->detached) {
      table_remove(list[i]);
      destroy(list[i]);
    }
  }
  free(list);
}

