/*
 * engine.c - the pool engine: worker processes, one handler thread in the
 * parent, calls (mproc_async) and their tasks.  Pool (pool.c) and the
 * futures face (futures.c) are two faces of this one engine.
 *
 * Map:
 *  - calls: a call holds n tasks; its arguments are encoded once at
 *    submit, as one run of items (an OS object in one is MPROC_EINHERIT
 *    there, in the caller); results (a map's: the items of the list it
 *    returns, filled as replies come), codes, messages and pids per task;
 *    AsyncResult's functions.
 *  - chunks: a run of a call's tasks sent to a worker as one message
 *    (engine.h has the wire).  A worker holds at most NSLOT (its slots;
 *    a backend's may hold more, mproc__pool_backend.slots) so it never
 *    idles, those after the first only while they fit in the
 *    pipe's buffer (the handler's write never waits for a busy worker).
 *  - workers: mproc processes (daemons) running mproc__pool_worker_main
 *    (worker.c), each with its own duplex Pipe and a progress block (a
 *    RawArray: the chunk and task it runs, and since when).
 *  - the handler thread owns every worker's I/O.  It waits in one
 *    mproc_wait on the wake-up pipe, every worker's connection and every
 *    worker's sentinel, with the nearest hard deadline as its timeout;
 *    dispatches chunks, stores results, runs callbacks, fails and
 *    re-dispatches tasks when a worker dies, kills a worker over its time
 *    limit, and replaces workers.
 *  - user threads touch a call only under the pool's mutex; they submit
 *    through a list plus one byte on the wake-up pipe and wait on the
 *    pool's condition variable.
 *  - the direct path: a synchronous apply that finds an idle worker (the
 *    handler offers them before its wait) borrows it under the mutex and
 *    runs the round trip on the calling thread; any fault hands the task
 *    back to the handler, which settles it as any other.
 *  - teardown: close/terminate/join/free, and an atexit hook that
 *    terminates every pool still alive (no orphans, no hang at exit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "engine.h"

/* ---- small helpers ----------------------------------------------------------- */


/* Wait on the pool's condition variable until deadline (< 0: forever),
 * mutex held: 0 after a wake-up, MPROC_ETIMEDOUT once it has passed. */
static int cv_wait(mproc_pool *p, double deadline);

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static char *fmtstr(const char *fmt, ...) {
  char buf[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return dupstr(buf);
}

static int fn_ref(const void *addr, char *module, size_t cap,
                  uint64_t *offset) {
  return mproc__plat_addr_to_ref(addr, module, cap, offset);
}

/* The bytes a busy worker's queued chunks may take in its pipe
 * (dispatch). */
static size_t pipe_qmax(mproc_conn *c);

/* The live pools, for the atexit hook. */
static mproc_pool *live_pools;
static int atexit_done;
static void pools_at_exit(void);

/* ---- calls --------------------------------------------------------------------- */

static void job_destroy(mproc_async *j) {
  size_t i;
  if (j->list) {
    mproc_value_free(j->list);
  } else if (j->vals) {
    /* only a finished task's value was ever set */
    for (i = 0; i < j->n; i++)
      if (j->tstate[i] == T_DONE)
        mproc_value_free(j->vals[i]);
  }
  if (j->rlist) {
    j->rlist->u.list.n = 0; /* its items were freed above */
    mproc_value_free(j->rlist);
  }
  if (j->msgs)
    for (i = 0; i < j->n; i++)
      free(j->msgs[i]);
  free(j->msgs);
  free(j->argoff); /* the block of argoff, vals, pids, codes, tstate */
  free(j->order);
  while (j->dcbs) {
    donecb *d = j->dcbs;
    j->dcbs = d->next;
    free(d);
  }
  mproc__buf_free(&j->args);
  free(j);
}

static void pool_destroy(mproc_pool *p);

/* Each call holds a reference to its pool's core (mutex, condition
 * variable), so a result stays usable after mproc_pool_free. */
static void pool_decref(mproc_pool *p) {
  if (mproc__add32(&p->prefs, (uint32_t)-1) == 0)
    pool_destroy(p);
}

/* Drop one reference to a call (mutex not held). */
static void job_release(mproc_async *j) {
  mproc_pool *p = j->pool;
  int last;
  LOCK(p);
  last = --j->refs == 0;
  UNLOCK(p);
  if (last) {
    job_destroy(j);
    pool_decref(p);
  }
}

/* An extra reference while the handler walks a call's tasks (finishing
 * the last one may drop the others). */
static void job_hold(mproc_async *j) {
  LOCK(j->pool);
  j->refs++;
  UNLOCK(j->pool);
}

static mproc_async *job_new(mproc_pool *p, int kind, size_t n) {
  mproc_async *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->pool = p;
  mproc__add32(&p->prefs, 1);
  j->kind = kind;
  j->n = n;
  j->refs = 2;
  j->first_fail = (size_t)-1;
  /* One block for the per-task arrays (one allocation per call); only
   * the task states start zeroed (the rest is written before it is read:
   * a value, code and pid when its task finishes). */
  {
    size_t m = n ? n : 1, per = sizeof(size_t) + sizeof(mproc_value *) +
                                   sizeof(long) + sizeof(int) + 1;
    char *b = m < ((size_t)-1) / per - 1
                  ? malloc((m + 1) * sizeof(size_t) + m * (per - sizeof(size_t)))
                  : NULL;
    if (!b) {
      free(j);
      pool_decref(p);
      return NULL;
    }
    j->argoff = (size_t *)(void *)b;
    j->vals = (mproc_value **)(void *)(j->argoff + m + 1);
    j->pids = (long *)(void *)(j->vals + m);
    j->codes = (int *)(void *)(j->pids + m);
    j->tstate = (unsigned char *)(j->codes + m);
    memset(j->tstate, 0, m);
    j->vals[0] = NULL; /* an empty call's */
  }
  /* A map's results go straight into the items of the list it returns. */
  if (kind == J_MAP && n) {
    j->rlist = mproc__seq_new(MPROC_T_LIST, n);
    if (!j->rlist) {
      job_destroy(j);
      pool_decref(p);
      return NULL;
    }
    j->vals = j->rlist->u.list.items;
  }
  /* msgs: made at the first message (most calls have none); order: only
   * imap_unordered reads it.  Fewer fresh pages to fault in per call. */
  if (kind == J_IMAP_UNORDERED)
    j->order = calloc(n ? n : 1, sizeof *j->order);
  if (kind == J_IMAP_UNORDERED && !j->order) {
    job_destroy(j);
    pool_decref(p);
    return NULL;
  }
  return j;
}

/* ---- the wake-up pipe ------------------------------------------------------------ */

/* Pool mutex held. */
static void wake_locked(mproc_pool *p) {
  if (!p->wake_pending && p->wake_w) {
    p->wake_pending = 1;
    mproc_conn_send_bytes(p->wake_w, "", 0);
  }
}

/* ---- finishing tasks and calls (handler thread) ---------------------------------- */

/* Run the callbacks of a call after a task finished (mutex not held). */
static void result_callbacks(mproc_async *j);

static void run_callbacks(mproc_async *j, int finished, size_t done) {
  if (j->o.progress)
    j->o.progress(j, done, j->n, j->o.ctx);
  if (finished)
    result_callbacks(j);
}

/* callback or error_callback of a complete call. */
static void result_callbacks(mproc_async *j) {
  if (j->first_fail == (size_t)-1) {
    if (j->o.callback) {
      const mproc_value *v =
          j->kind == J_APPLY || j->kind == J_FUTURE ? j->vals[0] : j->list;
      j->o.callback(j, v, j->o.ctx);
    }
  } else if (j->o.error_callback) {
    j->o.error_callback(j, j->codes[j->first_fail],
                        mproc__async_msg(j, j->first_fail),
                        j->o.ctx);
  }
}

/*
 * Record task i of j (pool mutex held): value v (stolen) or a failure
 * (code, msg stolen).  Returns 1 if the call is now complete.
 */
static int job_filled_locked(mproc_async *j);

static int task_done_locked(mproc_async *j, size_t i, int code,
                            mproc_value *v, char *msg, long pid) {
  if (j->tstate[i] == T_DONE) {
    mproc_value_free(v);
    free(msg);
    return 0;
  }
  if (msg && !j->msgs && !(j->msgs = calloc(j->n, sizeof *j->msgs))) {
    free(msg); /* out of memory: the code alone tells */
    msg = NULL;
  }
  j->tstate[i] = T_DONE;
  j->codes[i] = code;
  j->vals[i] = v;
  if (msg)
    j->msgs[i] = msg;
  j->pids[i] = pid;
  if (j->order)
    j->order[j->norder] = i;
  j->norder++;
  j->done++;
  if (code && (j->first_fail == (size_t)-1 || i < j->first_fail))
    j->first_fail = i;
  return job_filled_locked(j);
}

/*
 * Tasks first .. first+n-1 of j all succeeded, their values set already
 * (pool mutex held; none of them was done).  Returns 1 if the call is now
 * complete.
 */
static int run_done_locked(mproc_async *j, size_t first, size_t n,
                           long pid) {
  size_t k;
  memset(j->tstate + first, T_DONE, n);
  memset(j->codes + first, 0, n * sizeof *j->codes);
  for (k = 0; k < n; k++)
    j->pids[first + k] = pid;
  if (j->order)
    for (k = 0; k < n; k++)
      j->order[j->norder + k] = first + k;
  j->norder += n;
  j->done += n;
  return job_filled_locked(j);
}

/* After tasks were recorded: 1 if that completed the call (a map's list
 * is then made whole). */
static int job_filled_locked(mproc_async *j) {
  if (j->done < j->n)
    return 0;
  if (j->kind == J_MAP) {
    /* The values are the list's items already: None where none came. */
    size_t k;
    for (k = 0; k < j->n; k++)
      if (!j->vals[k])
        j->vals[k] = mproc_none();
    j->rlist->u.list.n = j->n;
    j->list = j->rlist;
    j->rlist = NULL;
  }
  return 1;
}

static void complete_job(mproc_pool *p, mproc_async *j, int holds);

/*
 * Whether a finished task (not the call) can end someone's wait: only
 * imap's next waits for single tasks; every other wait is for the whole
 * call (complete_job wakes those).  A wake-up per chunk would cost the
 * waiter a futex round trip for nothing.
 */
static int partial_waiters(const mproc_async *j) {
  return j->kind == J_IMAP || j->kind == J_IMAP_UNORDERED;
}

/*
 * Finish task i outside the mutex: record, callbacks, then (for the last
 * task) ready - as Python, whose get() returns after the callback ran.
 */
static void finish_task(mproc_pool *p, mproc_async *j, size_t i, int code,
                        mproc_value *v, char *msg, long pid) {
  int fin;
  size_t done;
  LOCK(p);
  fin = task_done_locked(j, i, code, v, msg, pid);
  done = j->done;
  if (partial_waiters(j))
    apr_thread_cond_broadcast(p->cv);
  UNLOCK(p);
  if (j->o.progress || fin)
    run_callbacks(j, fin, done);
  if (fin)
    complete_job(p, j, 0);
}

/*
 * The last task is done and the callbacks ran: ready, done callbacks, and
 * the engine's reference goes, with the caller's `holds` extra references
 * (job_hold), in the same lock hold when there are no done callbacks.  The
 * waiters are woken after the unlock (so a woken waiter does not block on
 * the mutex the handler still holds); a reference to the pool's core keeps
 * the condition variable alive for that broadcast.
 */
static void complete_job(mproc_pool *p, mproc_async *j, int holds) {
  donecb *d, *nx;
  int last = 0, wake;
  LOCK(p);
  j->ready = 1;
  /* Only when someone waits for it (10 000 apply_async whose results are
   * taken later cost no wake-up each). */
  wake = j->waiting || p->gwaiters || partial_waiters(j);
  d = j->dcbs;
  j->dcbs = NULL;
  if (!d) {
    j->refs -= 1 + holds;
    last = j->refs == 0;
  }
  mproc__add32(&p->prefs, 1);
  UNLOCK(p);
  if (wake)
    apr_thread_cond_broadcast(p->cv);
  if (d) {
    for (; d; d = nx) {
      nx = d->next;
      d->fn(j, d->ctx);
      free(d);
    }
    for (; holds >= 0; holds--)
      job_release(j);
  } else if (last) {
    job_destroy(j);
    pool_decref(p);
  }
  pool_decref(p);
}

static size_t chunk_task(const chunk *c, size_t k) {
  return c->idx ? c->idx[k] : c->first + k;
}

static void unbatch(mproc_pool *p, chunk *c, int front);

static void chunk_free(chunk *c) {
  if (c) {
    free(c->idx);
    free(c->mem);
    free(c);
  }
}

/* Fail every task of c that is not done with code and a message. */
static void fail_chunk(mproc_pool *p, chunk *c, int code, const char *msg) {
  mproc_async *j = c->job;
  size_t k;
  if (c->mem) {
    for (k = 0; k < c->n; k++)
      if (c->mem[k])
        fail_chunk(p, c->mem[k], code, msg);
    chunk_free(c);
    return;
  }
  job_hold(j);
  for (k = 0; k < c->n; k++) {
    size_t i = chunk_task(c, k);
    if (j->tstate[i] != T_DONE)
      finish_task(p, j, i, code, NULL, dupstr(msg), 0);
  }
  chunk_free(c);
  job_release(j);
}

/* ---- the pending queue (handler thread) ------------------------------------------- */

static void pend_push_back(mproc_pool *p, chunk *c) {
  c->next = NULL;
  if (p->pend_tail)
    p->pend_tail->next = c;
  else
    p->pend_head = c;
  p->pend_tail = c;
}

static void pend_push_front(mproc_pool *p, chunk *c) {
  c->next = p->pend_head;
  p->pend_head = c;
  if (!p->pend_tail)
    p->pend_tail = c;
}

static chunk *pend_pop(mproc_pool *p) {
  chunk *c = p->pend_head;
  if (c) {
    p->pend_head = c->next;
    if (!p->pend_head)
      p->pend_tail = NULL;
    c->next = NULL;
  }
  return c;
}

/* Split a call into chunks and queue them. */
static int queue_job(mproc_pool *p, mproc_async *j) {
  size_t cs = j->o.chunksize ? j->o.chunksize : 1, first;
  for (first = 0; first < j->n; first += cs) {
    chunk *c = calloc(1, sizeof *c);
    if (!c)
      return MPROC_ENOMEM;
    c->job = j;
    c->first = first;
    c->n = j->n - first < cs ? j->n - first : cs;
    pend_push_back(p, c);
  }
  return 0;
}

/* ---- a worker's process, or a backend's stand-in (engine.h) ----------------------- */

static void wk_kill(mproc_pool *p, worker *w) {
  if (p->be)
    p->be->kill(w);
  else
    mproc_process_kill(w->proc);
}

static void wk_terminate(mproc_pool *p, worker *w) {
  if (p->be)
    p->be->kill(w);
  else
    mproc_process_terminate(w->proc);
}

static mproc_waitable *wk_sentinel(mproc_pool *p, worker *w) {
  return p->be ? p->be->sentinel(w) : mproc_process_sentinel(w->proc);
}

static int wk_alive(mproc_pool *p, worker *w) {
  return p->be ? p->be->alive(w) : mproc_process_is_alive(w->proc);
}

/* Wait for its end (5 s, then kill it); its exit code. */
static int wk_reap(mproc_pool *p, worker *w) {
  int ec = 0;
  if (p->be)
    return p->be->reap(w, 5.0);
  mproc_process_join(w->proc, 5.0);
  if (mproc_process_is_alive(w->proc) == 1) {
    mproc_process_kill(w->proc);
    mproc_process_join(w->proc, MPROC_FOREVER);
  }
  mproc_process_exitcode(w->proc, &ec);
  return ec;
}

/* ---- workers (handler thread, and mproc_pool_new) ---------------------------------- */

static int spawn_worker(mproc_pool *p, worker *w) {
  mproc_conn *a = NULL, *b = NULL;
  mproc_shared *blk = NULL;
  mproc_process *proc = NULL;
  mproc_value *args;
  mproc_process_opts po = MPROC_PROCESS_OPTS_INIT;
  int rc;
  memset(w, 0, sizeof *w);
  if (p->be)
    return p->be->start(p, w);
  if ((rc = mproc_pipe(&a, &b, 1)) != 0)
    return rc;
  if ((rc = mproc_shared_rawarray(&blk, 'Q', W_NWORDS, NULL)) != 0)
    goto fail;
  args = mproc_list();
  if (args) {
    mproc_list_append(args, mproc_conn_ref(b));
    mproc_list_append(args, mproc_shared_ref(blk));
    if (p->opts.initializer) {
      mproc_list_append(args, mproc_str(p->init_module));
      mproc_list_append(args, mproc_int((int64_t)p->init_offset));
      mproc_list_append(args, p->initargs ? mproc_value_copy(p->initargs)
                                          : mproc_list());
    } else {
      mproc_list_append(args, mproc_none());
      mproc_list_append(args, mproc_int(0));
      mproc_list_append(args, mproc_none());
    }
    mproc_list_append(args, mproc_int(p->opts.maxtasksperchild));
    mproc_list_append(args, mproc_int((int64_t)p->opts.memory_limit));
  }
  if (!args || mproc_list_len(args) != 7) {
    mproc_value_free(args);
    rc = mproc__err(MPROC_ENOMEM, "pool worker arguments");
    goto fail;
  }
  po.daemon = 1;
  po.name = "PoolWorker";
  if ((rc = mproc_process_new(&proc, mproc__pool_worker_main, args, &po)))
    goto fail;
  mproc__process_set_nointr(proc); /* no Ctrl-C window at its start */
  if ((rc = mproc_process_start(proc)) != 0)
    goto fail;
  mproc_conn_free(b);
  w->proc = proc;
  w->conn = a;
  w->qmax = pipe_qmax(a);
  w->blk = blk;
  w->w = mproc_shared_data(blk);
  w->pid = mproc_process_pid(proc);
  w->live = 1;
  /* Without an initializer it can take a chunk at once (its READY still
   * comes, first in its pipe). */
  w->ready = !p->opts.initializer;
  LOCK(p);
  p->pids[w - p->wk] = w->pid;
  UNLOCK(p);
  return 0;
fail:
  if (proc)
    mproc_process_free(proc);
  mproc_shared_free(blk);
  mproc_conn_free(a);
  mproc_conn_free(b);
  return rc;
}

static void worker_release(mproc_pool *p, worker *w) {
  LOCK(p);
  p->pids[w - p->wk] = 0;
  UNLOCK(p);
  if (w->be) {
    wk_reap(p, w);
    p->be->release(w);
  }
  if (w->proc) {
    mproc_process_join(w->proc, 5.0);
    if (mproc_process_is_alive(w->proc) == 1) {
      mproc_process_kill(w->proc);
      mproc_process_join(w->proc, MPROC_FOREVER);
    }
    mproc_process_free(w->proc);
  }
  mproc_conn_free(w->conn);
  mproc_shared_free(w->blk);
  free(w->initmsg);
  memset(w, 0, sizeof *w);
}

/* Mark the pool broken: the initializer keeps failing (handler thread). */
static void break_pool(mproc_pool *p) {
  chunk *c;
  char msg[400];
  snprintf(msg, sizeof msg,
           "pool is broken: %s in %d worker starts in a row (last: %s)",
           p->opts.initializer ? "the initializer failed"
                               : "the worker failed to start",
           p->streak, p->last_initmsg);
  LOCK(p);
  p->broken = 1;
  snprintf(p->broken_msg, sizeof p->broken_msg, "%s", msg);
  UNLOCK(p);
  while ((c = pend_pop(p)) != NULL)
    fail_chunk(p, c, MPROC_ESPAWN, msg);
}

static void init_failed(mproc_pool *p, const char *why) {
  snprintf(p->last_initmsg, sizeof p->last_initmsg, "%s", why);
  if (++p->streak >= 2 * p->nw)
    break_pool(p);
}

/*
 * A worker that died running no task, not killed by the pool and not by a
 * clean exit (a retirement), may have died of the chunks it held (one it
 * cannot receive: a memory limit) or be killed from outside again and
 * again: each held chunk counts it, and one counted RESEND_MAX times fails
 * (MPROC_EWORKERDIED) instead of going to the next worker for ever.  1:
 * c was failed (and freed).
 */
static int resend_limit(mproc_pool *p, worker *w, chunk *c, const char *how) {
  char msg[400];
  if (++c->deaths < RESEND_MAX)
    return 0;
  snprintf(msg, sizeof msg,
           "given up: %d workers died holding the task before it started, "
           "running no task (last: worker %ld, %s)%s",
           c->deaths, w->pid, how,
           p->opts.memory_limit ? "; it may not fit the memory limit" : "");
  fail_chunk(p, c, MPROC_EWORKERDIED, msg);
  return 1;
}

/* A worker has ended (or we gave up on it): settle its chunks. */
static void worker_died(mproc_pool *p, worker *w) {
  int ec = 0, s, blame;
  char how[64], msg[400];
  uint64_t run, task;
  ec = wk_reap(p, w);
  /* Youngest first: each goes back to the queue's front, so they run
   * again in the order they were sent. */
  for (s = 1; s < NSLOT_MAX; s++) {
    int t;
    for (t = s; t > 0 && (!w->fl[t - 1] || (w->fl[t] &&
                                            w->fl[t]->sent >
                                                w->fl[t - 1]->sent));
         t--) {
      chunk *x = w->fl[t];
      w->fl[t] = w->fl[t - 1];
      w->fl[t - 1] = x;
    }
  }
  if (ec < 0)
    snprintf(how, sizeof how, "signal %d", -ec);
  else if (ec == WX_MEMORY && p->opts.memory_limit)
    snprintf(how, sizeof how, "exit code %d: over its memory limit", ec);
  else
    snprintf(how, sizeof how, "exit code %d", ec);
  run = mproc__ld64(&w->w[W_RUN]);
  task = mproc__ld64(&w->w[W_TASK]);
  /* Its death counts against the chunks it held if it ran none of them,
   * was not killed by the pool and did not exit cleanly (resend_limit). */
  blame = ec != 0 && !w->kill_code;
  for (s = 0; s < NSLOT_MAX; s++)
    if (w->fl[s] && w->fl[s]->id == run && task >= 1 && task <= w->fl[s]->n)
      blame = 0;
  /* A worker that could not take a chunk (a huge one under a memory
   * limit) dies with the rest of it unread, and its READY may be lost with
   * the connection (a socket closed with unread data resets its peer):
   * its exit code says it was past READY, so it is no failed start. */
  if (!w->said_ready && (ec == WX_NORECV || ec == WX_GARBLED))
    w->said_ready = 1;
  if (!w->said_ready) {
    if (w->initfail)
      init_failed(p, w->initmsg ? w->initmsg : "initializer failed");
    else {
      char why[200];
      snprintf(why, sizeof why, "worker %ld died %s (%s)", w->pid,
               p->opts.initializer ? "in the initializer"
                                   : "before it was ready",
               how);
      init_failed(p, why);
    }
  }
  for (s = 0; s < NSLOT_MAX; s++) {
    chunk *c = w->fl[s];
    size_t k, keep = 0;
    w->fl[s] = NULL;
    if (!c)
      continue;
    if (c->mem) {
      /* A batch: the running task fails, the others run again. */
      chunk *bad = NULL;
      if (run == c->id && task >= 1 && task <= c->n) {
        bad = c->mem[task - 1];
        c->mem[task - 1] = NULL;
      }
      if (bad) {
        int code = w->kill_code ? w->kill_code : MPROC_EWORKERDIED;
        if (code == MPROC_ETIMEDOUT)
          snprintf(msg, sizeof msg,
                   "task 0 timed out: worker %ld killed after the time "
                   "limit of %g s",
                   w->pid, bad->job->time_limit);
        else if (code == MPROC_ECLOSED)
          snprintf(msg, sizeof msg, "task 0 cancelled: worker %ld killed",
                   w->pid);
        else if (p->opts.memory_limit)
          snprintf(msg, sizeof msg,
                   "worker %ld died (%s) while running task 0 (memory "
                   "limit %zu bytes)",
                   w->pid, how, p->opts.memory_limit);
        else
          snprintf(msg, sizeof msg,
                   "worker %ld died (%s) while running task 0", w->pid, how);
      }
      if (blame)
        for (k = 0; k < c->n; k++)
          if (c->mem[k] && resend_limit(p, w, c->mem[k], how))
            c->mem[k] = NULL;
      unbatch(p, c, 1);
      if (bad) {
        finish_task(p, bad->job, 0,
                    w->kill_code ? w->kill_code : MPROC_EWORKERDIED, NULL,
                    dupstr(msg), w->pid);
        chunk_free(bad);
      }
      continue;
    }
    if (run == c->id && task >= 1 && task <= c->n) {
      size_t bad = chunk_task(c, (size_t)task - 1);
      int code = w->kill_code ? w->kill_code : MPROC_EWORKERDIED;
      if (code == MPROC_ETIMEDOUT)
        snprintf(msg, sizeof msg,
                 "task %zu timed out: worker %ld killed after the time "
                 "limit of %g s",
                 bad, w->pid, c->job->time_limit);
      else if (code == MPROC_ECLOSED)
        snprintf(msg, sizeof msg, "task %zu cancelled: worker %ld killed",
                 bad, w->pid);
      else if (p->opts.memory_limit)
        snprintf(msg, sizeof msg,
                 "worker %ld died (%s) while running task %zu (memory "
                 "limit %zu bytes)",
                 w->pid, how, bad, p->opts.memory_limit);
      else
        snprintf(msg, sizeof msg, "worker %ld died (%s) while running task %zu",
                 w->pid, how, bad);
      /* The rest of the chunk (done ones whose results died with the
       * worker, and those not started) runs again. */
      for (k = 0; k < c->n; k++) {
        size_t i = chunk_task(c, k);
        if (i != bad && c->job->tstate[i] != T_DONE)
          keep++;
      }
      if (keep) {
        chunk *r = calloc(1, sizeof *r);
        size_t *idx = malloc(keep * sizeof *idx);
        if (r && idx) {
          size_t m = 0;
          for (k = 0; k < c->n; k++) {
            size_t i = chunk_task(c, k);
            if (i != bad && c->job->tstate[i] != T_DONE)
              idx[m++] = i;
          }
          r->job = c->job;
          r->idx = idx;
          r->n = keep;
          pend_push_front(p, r);
        } else {
          free(r);
          free(idx);
          for (k = 0; k < c->n; k++) {
            size_t i = chunk_task(c, k);
            if (i != bad && c->job->tstate[i] != T_DONE)
              finish_task(p, c->job, i, MPROC_ENOMEM, NULL,
                          dupstr("out of memory re-dispatching a task"), 0);
          }
        }
      }
      finish_task(p, c->job, bad, code, NULL, dupstr(msg), w->pid);
      chunk_free(c);
    } else if (!blame || !resend_limit(p, w, c, how)) {
      /* Nothing of it was running: all of it runs again. */
      c->slot = 0;
      pend_push_front(p, c);
    }
  }
  if (p->broken) {
    chunk *c;
    while ((c = pend_pop(p)) != NULL)
      fail_chunk(p, c, MPROC_ESPAWN, p->broken_msg);
  }
  worker_release(p, w);
}

/* ---- dispatch (handler thread) --------------------------------------------------- */


static int encode_chunk(chunk *c, mproc__buf *b) {
  mproc_async *j = c->job;
  size_t k, ml = strlen(j->module);
  double soft = j->soft_limit;
  b->len = 0;
  if (mproc__buf_reserve(b, 48 + ml) != 0)
    return MPROC_ENOMEM;
  mproc__put32(b, M_CHUNK);
  /* bit 8: the worker stamps each task's start (a time limit is set) */
  mproc__put32(b, (uint32_t)c->slot |
               (j->time_limit > 0 || soft > 0 ? 0x100u : 0u) |
               (c->mem ? 0x200u : 0u));
  mproc__put64(b, c->id);
  mproc__put32(b, (uint32_t)c->n);
  mproc__put32(b, (uint32_t)ml);
  mproc__put64(b, j->offset);
  mproc__buf_append(b, &soft, 8);
  mproc__buf_append(b, j->module, ml);
  if (!c->mem && !c->idx) { /* a run of a call: one slice of it */
    size_t ci = c->first / (j->o.chunksize ? j->o.chunksize : 1);
    return mproc__buf_append(b, j->args.p + j->argoff[ci],
                             j->argoff[ci + 1] - j->argoff[ci]);
  }
  if (c->mem) { /* a batch: each call's one argument */
    for (k = 0; k < c->n; k++) {
      mproc_async *jk = c->mem[k]->job;
      if (mproc__buf_append(b, jk->args.p + jk->argoff[0],
                            jk->argoff[1] - jk->argoff[0]) != 0)
        return MPROC_ENOMEM;
    }
    return 0;
  }
  {
    /* Tasks taken out of a chunk (its worker died): each found by
     * walking its chunk's run from the last one (they are in order). */
    size_t cs = j->o.chunksize ? j->o.chunksize : 1, at = (size_t)-1;
    size_t off = 0, len = 0;
    for (k = 0; k < c->n; k++) {
      size_t i = chunk_task(c, k), end;
      if (at == (size_t)-1 || i < at || i / cs != at / cs) {
        at = i / cs * cs;
        off = j->argoff[at / cs];
      }
      end = j->argoff[at / cs + 1];
      for (;;) {
        if (mproc__item_skip(j->args.p + off, end - off, &len) != 0)
          return MPROC_EBADMSG;
        if (at == i)
          break;
        off += len;
        at++;
      }
      if (mproc__buf_append(b, j->args.p + off, len) != 0)
        return MPROC_ENOMEM;
    }
  }
  return 0;
}

static void cancel_chunk(mproc_pool *p, chunk *c) {
  mproc_async *j = c->job;
  size_t k;
  if (c->mem) {
    for (k = 0; k < c->n; k++)
      if (c->mem[k])
        cancel_chunk(p, c->mem[k]);
    chunk_free(c);
    return;
  }
  job_hold(j);
  for (k = 0; k < c->n; k++) {
    size_t t = chunk_task(c, k);
    if (j->tstate[t] != T_DONE) {
      j->cancelled_n++;
      finish_task(p, j, t, MPROC_ECLOSED, NULL, dupstr("task cancelled"), 0);
    }
  }
  chunk_free(c);
  job_release(j);
}

/* The first queued chunk of a call not cancelled (others are dropped). */
static chunk *skip_cancelled(mproc_pool *p) {
  while (p->pend_head && p->pend_head->job->h_cancel)
    cancel_chunk(p, pend_pop(p));
  return p->pend_head;
}

/* A busy worker's further chunks go only while the messages in flight to
 * it, but its oldest (read already, or being read: the worker runs its
 * chunks in order), stay within w->qmax bytes (each counted with
 * MSG_OVERHEAD for the wire's framing): they fit the pipe's buffer, so
 * the handler's write never waits for a busy worker, whose reply may
 * itself be waiting for the handler.  qmax is three quarters of the
 * buffer the OS reports for the pipe (64 KiB on Windows, about 100 KiB
 * on Linux), at most INFLIGHT_MAX; SMALL_QMAX when the OS does not say. */
#define INFLIGHT_MAX 49152
#define SMALL_QMAX 16384
#define MSG_OVERHEAD 16

static size_t pipe_qmax(mproc_conn *c) {
  size_t b = mproc__plat_stream_bufsize(mproc__conn_handle(c)) / 4 * 3;
  return b == 0 ? SMALL_QMAX : b < INFLIGHT_MAX ? b : INFLIGHT_MAX;
}

/* Chunks in flight in worker w. */
static int wk_nfl(const worker *w) {
  int s, n = 0;
  for (s = 0; s < NSLOT_MAX; s++)
    n += w->fl[s] != NULL;
  return n;
}

/* The bytes that may sit unread in w's pipe: its chunks' messages but
 * the oldest's. */
static size_t wk_queued(const worker *w) {
  size_t sum = 0, old = 0;
  uint64_t first = 0;
  int s, any = 0;
  for (s = 0; s < NSLOT_MAX; s++) {
    const chunk *c = w->fl[s];
    if (!c)
      continue;
    sum += c->bytes;
    if (!any || c->sent < first) {
      first = c->sent;
      old = c->bytes;
      any = 1;
    }
  }
  return sum - old;
}

/* A batch's members go back to the queue (front or back, in order); a
 * member settled already (cancelled, taken back) is NULL. */
static void unbatch(mproc_pool *p, chunk *c, int front) {
  size_t k;
  for (k = 0; k < c->n; k++) {
    chunk *m = c->mem[front ? c->n - 1 - k : k];
    if (!m)
      continue; /* settled already (cancelled, taken back) */
    m->slot = 0;
    if (front)
      pend_push_front(p, m);
    else
      pend_push_back(p, m);
  }
  chunk_free(c);
}

/* A single-task chunk of an apply or a submit that may share a message. */
static int batchable(const mproc_pool *p, const chunk *c) {
  return c->n == 1 && !c->idx && !c->mem && !c->job->h_cancel &&
         (c->job->kind == J_APPLY || c->job->kind == J_FUTURE) &&
         p->opts.maxtasksperchild == 0;
}

/*
 * Several queued apply/submit tasks of the same function and limits go
 * to a worker in one message (a batch), up to BATCH_MAX and `cap` (the
 * worker's share of the queue), so one send and one reply serve many.
 * Each task keeps its own claim word, so cancel still stops any task of
 * the batch that has not started.  Replaces the queue's head.
 */
static void make_batch(mproc_pool *p, size_t cap) {
  chunk *h = p->pend_head, *c, *b;
  size_t n = 0;
  if (!h || !batchable(p, h) || cap < 2)
    return;
  for (c = h; c && n < BATCH_MAX && n < cap && batchable(p, c) &&
              c->job->offset == h->job->offset &&
              c->job->time_limit == h->job->time_limit &&
              c->job->soft_limit == h->job->soft_limit &&
              strcmp(c->job->module, h->job->module) == 0;
       c = c->next)
    n++;
  if (n < 2)
    return;
  b = calloc(1, sizeof *b);
  if (b)
    b->mem = malloc(n * sizeof *b->mem);
  if (!b || !b->mem) {
    free(b);
    return; /* out of memory: one by one */
  }
  b->job = h->job;
  b->n = n;
  for (n = 0; n < b->n; n++)
    b->mem[n] = pend_pop(p);
  pend_push_front(p, b);
}

/*
 * Take back the tasks of batch c (in worker w, slot s) that have not
 * started, with the same compare-and-swap as the worker's claim: those
 * whose call is cancelled (or all of them: `all`) are cancelled; with
 * `steal`, up to `steal` of them (from the end) go back to the queue for
 * an idle worker.  A task taken back is NULL in the batch; its reply from
 * the worker ("task cancelled") is dropped.
 */
static int batch_take_back(mproc_pool *p, worker *w, int s, chunk *c,
                           int all, size_t steal) {
  size_t k, taken = 0;
  uint64_t run = mproc__ld64(&w->w[W_RUN]), task = mproc__ld64(&w->w[W_TASK]);
  for (k = c->n; k-- > 0;) {
    chunk *m = c->mem[k];
    uint64_t want = (c->id << 2) | SL_SENT;
    int cancel;
    if (!m)
      continue;
    cancel = all || m->job->h_cancel;
    if (!cancel && taken >= steal)
      continue;
    if (mproc__cas64(&w->w[W_MEM0 + s * BATCH_MAX + k], &want,
                     (c->id << 2) | SL_CANCELLED)) {
      c->mem[k] = NULL;
      if (cancel) {
        cancel_chunk(p, m);
      } else {
        m->slot = 0;
        pend_push_back(p, m);
        taken++;
      }
    } else if (cancel && !all && m->job->cancel_kill && !w->kill_code &&
               run == c->id && task == k + 1) {
      w->kill_code = MPROC_ECLOSED;
      wk_kill(p, w);
    }
  }
  return (int)taken;
}

/*
 * An idle worker and nothing queued: take back a chunk that waits behind
 * a running one in a busy worker (the same compare-and-swap as cancel),
 * so a long task never holds up a short one while a worker idles.
 */
static void steal_for_idle(mproc_pool *p) {
  int i, s, y, idle = 0, busy = 0;
  for (i = 0; i < p->nw; i++) {
    worker *w = &p->wk[i];
    idle += w->live && w->ready && !w->retiring && !w->h_lent && !wk_nfl(w);
  }
  for (i = 0; i < p->nw && idle > 0; i++) {
    worker *w = &p->wk[i];
    uint64_t run;
    if (!w->live || wk_nfl(w) < 2)
      continue;
    run = mproc__ld64(&w->w[W_RUN]);
    /* its youngest chunk (the last it would run) */
    for (y = -1, s = 0; s < NSLOT_MAX; s++)
      if (w->fl[s] && w->fl[s]->id != run &&
          (y < 0 || w->fl[s]->sent > w->fl[y]->sent))
        y = s;
    if (y >= 0) {
      chunk *c = w->fl[y];
      uint64_t want = (c->id << 2) | SL_SENT;
      if (mproc__cas64(&w->w[W_SLOT0 + y], &want,
                       (c->id << 2) | SL_CANCELLED)) {
        w->fl[y] = NULL;
        if (c->mem) {
          unbatch(p, c, 0);
        } else {
          c->slot = 0;
          pend_push_back(p, c);
        }
        idle--;
      }
    }
  }
  /* Still idle: half (rounded up) of a busy worker's batch tasks not
   * started. */
  for (i = 0; i < p->nw; i++)
    busy += p->wk[i].live && wk_nfl(&p->wk[i]);
  for (i = 0; i < p->nw && idle > 0 && busy > 0; i++) {
    worker *w = &p->wk[i];
    if (!w->live || w->kill_code)
      continue;
    for (s = 0; s < NSLOT_MAX && idle > 0; s++) {
      chunk *c = w->fl[s];
      size_t k, left = 0;
      if (!c || !c->mem)
        continue;
      for (k = 0; k < c->n; k++)
        left += c->mem[k] && (mproc__ld64(&w->w[W_MEM0 + s * BATCH_MAX + k]) &
                              3) == SL_SENT;
      if (left >= 1 && batch_take_back(p, w, s, c, 0, (left + 1) / 2) > 0)
        idle--;
    }
  }
}

/* A batch's size: the queued batchable tasks shared among the workers
 * that can take work (so a batch never takes another worker's share). */
static size_t batch_cap(mproc_pool *p) {
  size_t queued = 0, takers = 0, lim = (size_t)BATCH_MAX * (size_t)p->nw;
  chunk *c;
  int i;
  for (c = p->pend_head; c && queued < lim && batchable(p, c); c = c->next)
    queued++;
  for (i = 0; i < p->nw; i++)
    takers += p->wk[i].live && p->wk[i].ready && !p->wk[i].retiring &&
              !p->wk[i].h_lent;
  return takers ? queued / takers : 0;
}

/* Send chunks: first to idle workers, then one more at a time to busy
 * workers, up to NSLOT each within w->qmax (so a worker never waits
 * for its next chunk, even while the handler is off the CPU). */
static void dispatch(mproc_pool *p, mproc__buf *b) {
  int i, pass, slots = p->be && p->be->slots ? p->be->slots : NSLOT;
  if (!p->pend_head)
    steal_for_idle(p);
  for (pass = 0; pass < slots; pass++) {
    int progress = 1;
    while (progress && skip_cancelled(p)) {
      progress = 0;
      for (i = 0; i < p->nw && skip_cancelled(p); i++) {
        worker *w = &p->wk[i];
        int slot, rc, busy = wk_nfl(w);
        chunk *c = p->pend_head;
        size_t k;
        if (!w->live || !w->ready || w->retiring || w->h_lent || busy != pass)
          continue;
        for (slot = 0; w->fl[slot]; slot++)
          ;
        make_batch(p, batch_cap(p));
        c = p->pend_head;
        c->id = ++p->next_id;
        c->slot = slot;
        rc = encode_chunk(c, b);
        if (rc != 0 ||
            (busy && !(p->be && p->be->drains) &&
             wk_queued(w) + b->len + MSG_OVERHEAD > w->qmax)) {
          if (c->mem)
            unbatch(p, pend_pop(p), 1);
          if (rc != 0)
            return;
          continue; /* only into an idle worker */
        }
        pend_pop(p);
        c->bytes = b->len + MSG_OVERHEAD;
        c->sent = c->id;
        mproc__st64_release(&w->w[W_SLOT0 + slot], (c->id << 2) | SL_SENT);
        w->fl[slot] = c;
        if (!c->mem && !c->idx) /* a slice of a call */
          memset(c->job->tstate + c->first, T_SENT, c->n);
        for (k = 0; (c->mem || c->idx) && k < c->n; k++) {
          if (c->mem) {
            mproc__st64_release(&w->w[W_MEM0 + slot * BATCH_MAX + k],
                                (c->id << 2) | SL_SENT);
            c->mem[k]->job->tstate[0] = T_SENT;
          } else {
            c->job->tstate[chunk_task(c, k)] = T_SENT;
          }
        }
        rc = mproc_conn_send_bytes(w->conn, b->p, b->len);
        if (rc) {
          /* It died: its EOF or sentinel settles its chunks. */
          w->retiring = 1;
          continue;
        }
        w->chunks++;
        if (p->opts.maxtasksperchild > 0 &&
            w->chunks >= p->opts.maxtasksperchild)
          w->retiring = 1;
        if (!pass)
          progress = 1; /* busy now: it waits for pass 1 */
      }
    }
  }
}

/* ---- results (handler thread) -------------------------------------------------------- */



/* A chunk's results: parsed first, then recorded under one lock hold
 * with one wake-up (not one per task). */
#define SMALL_N 16

/*
 * The next result of a run from worker w: a value (*v; NULL for None) or
 * a failure (*code, *msg).  0; 1 when the run cannot be read on: *code
 * says why (this task and the rest fail with it), or is 0 for a garbled
 * message.
 */
static int read_result(mproc__itemdec *d, const worker *w, int *code,
                       mproc_value **v, char **msg) {
  int rc;
  *code = 0;
  *v = NULL;
  *msg = NULL;
  if (d->p >= d->end)
    return 1;
  if (*d->p == RES_FAIL) {
    int32_t c;
    uint32_t len;
    if (d->end - d->p < 9)
      return 1;
    memcpy(&c, d->p + 1, 4);
    memcpy(&len, d->p + 5, 4);
    if ((size_t)(d->end - d->p) - 9 < len || c >= 0)
      return 1;
    *code = c;
    *msg = fmtstr("task failed in worker %ld: %.*s", w->pid, (int)len,
                  (const char *)d->p + 9);
    d->p += 9 + (size_t)len;
    if (d->left)
      d->left--;
    return 0;
  }
  rc = mproc__itemdec_next(d, v);
  if (rc) {
    *code = rc;
    *msg = fmtstr("task failed in worker %ld: result: %s", w->pid,
                  mproc_last_error());
    return 1;
  }
  if ((*v)->type == MPROC_T_NONE) {
    mproc_value_free(*v);
    *v = NULL;
  }
  return 0;
}

/* A failed task of a chunk (k: its place in the chunk). */
typedef struct rfail {
  size_t k;
  int code;
  char *msg;
} rfail;

static void handle_results(mproc_pool *p, worker *w, mproc__rd *r,
                           mproc__buf *b) {
  uint32_t n = mproc__get32(r), k;
  uint64_t id = mproc__get64(r);
  chunk *c = NULL;
  mproc_async *j;
  int s, fin = 0, lost = 0, garbled = 0, oom = 0, fast;
  mproc__itemdec d;
  rfail s_fails[SMALL_N], *fails = s_fails;
  size_t nf = 0, capf = SMALL_N, done, f;
  char *lostmsg = NULL;
  for (s = 0; s < NSLOT_MAX; s++)
    if (w->fl[s] && w->fl[s]->id == id) {
      c = w->fl[s];
      w->fl[s] = NULL;
      break;
    }
  if (!c || n != c->n) {
    if (c && c->mem)
      unbatch(p, c, 1);
    else if (c)
      pend_push_front(p, c);
    return;
  }
  /* The worker's next chunk goes out before these results are read (it
   * would idle meanwhile: a big chunk has no other slot). */
  dispatch(p, b);
  j = c->job;
  d.p = r->p;
  d.end = r->end;
  d.left = n;
  d.slab = NULL;
  /* Slab values only where they all end in one list (a map's; a batch's
   * job may be gone, see chunk_limit). */
  d.noslab = c->mem || j->kind != J_MAP;
  if (c->mem) {
    /* A batch: each task finishes its own call; a task taken back (stolen
     * or cancelled before it started) is NULL here or already done. */
    int codes[BATCH_MAX];
    mproc_value *vals[BATCH_MAX];
    char *msgs[BATCH_MAX];
    for (k = 0; k < n; k++) {
      if (lost) {
        codes[k] = lost;
        vals[k] = NULL;
        msgs[k] = lostmsg ? dupstr(lostmsg) : NULL;
      } else if (read_result(&d, w, &codes[k], &vals[k], &msgs[k])) {
        if (!codes[k]) {
          garbled = 1;
          n = k;
          break;
        }
        lost = codes[k];
        lostmsg = dupstr(msgs[k] ? msgs[k] : "");
      }
    }
    mproc__itemdec_done(&d);
    free(lostmsg);
    if (garbled || (!lost && d.p != d.end)) {
      for (k = 0; k < n; k++) {
        mproc_value_free(vals[k]);
        free(msgs[k]);
      }
      r->bad = 1;
      fail_chunk(p, c, MPROC_EBADMSG, "malformed result message from a worker");
      return;
    }
    for (k = 0; k < n; k++) {
      chunk *m = c->mem[k];
      if (!m) {
        mproc_value_free(vals[k]);
        free(msgs[k]);
        continue;
      }
      finish_task(p, m->job, 0, codes[k], vals[k], msgs[k], w->pid);
      chunk_free(m);
    }
    chunk_free(c);
    return;
  }
  /* A run of one call: each value goes straight to its task's place (a
   * map's: the result list's item); no one reads it before the task is
   * marked done below, and only this thread marks tasks done.  A slice
   * with no task done yet (the rule: a chunk in flight holds none) takes
   * its values in one sweep, stopping at each failure. */
  fast = !c->idx && !memchr(j->tstate + c->first, T_DONE, n);
  for (k = 0; k < n; k++) {
    size_t i = chunk_task(c, k);
    if (fast && !lost) {
      size_t got = 0;
      /* up to the next failure (or an item that does not decode: then
       * read_result below reads it and says why) */
      mproc__itemdec_run(&d, j->vals + i, n - k, &got);
      k += got;
      if (k == n)
        break;
      i = chunk_task(c, k);
    }
    int code = lost;
    mproc_value *v = NULL;
    char *msg = lost && lostmsg ? dupstr(lostmsg) : NULL;
    if (!lost && read_result(&d, w, &code, &v, &msg)) {
      if (!code) {
        garbled = 1;
        n = k;
        break;
      }
      lost = code;
      lostmsg = dupstr(msg ? msg : "");
    }
    if (j->tstate[i] == T_DONE) {
      mproc_value_free(v);
      free(msg);
      continue;
    }
    j->vals[i] = v;
    if (code) {
      if (nf == capf) {
        rfail *g = malloc(n * sizeof *g); /* room for every task */
        if (!g) {
          free(msg);
          oom = 1;
          n = k;
          break;
        }
        memcpy(g, fails, nf * sizeof *g);
        fails = g;
        capf = n;
      }
      fails[nf].k = k;
      fails[nf].code = code;
      fails[nf].msg = msg;
      nf++;
    }
  }
  mproc__itemdec_done(&d);
  free(lostmsg);
  if (garbled || oom || (!lost && d.p != d.end)) {
    /* A garbled message (or no memory to read it): fail the chunk. */
    for (k = 0; k < n; k++) {
      size_t i = chunk_task(c, k);
      if (j->tstate[i] != T_DONE) {
        mproc_value_free(j->vals[i]);
        j->vals[i] = NULL;
      }
    }
    for (f = 0; f < nf; f++)
      free(fails[f].msg);
    if (fails != s_fails)
      free(fails);
    if (oom) {
      fail_chunk(p, c, MPROC_ENOMEM, "out of memory reading results");
      return;
    }
    r->bad = 1;
    fail_chunk(p, c, MPROC_EBADMSG, "malformed result message from a worker");
    return;
  }
  if (fast && j->kind != J_MAP)
    for (k = 0; k < n; k++) /* None is NULL outside a map's list */
      if (j->vals[c->first + k] == mproc_none())
        j->vals[c->first + k] = NULL;
  LOCK(p);
  j->refs++; /* held while its callbacks run */
  done = j->done;
  if (fast && nf == 0)
    n = 0, fin = run_done_locked(j, c->first, c->n, w->pid);
  for (k = 0, f = 0; k < n; k++) {
    size_t i = chunk_task(c, k);
    int code = 0;
    char *msg = NULL;
    if (f < nf && fails[f].k == k) {
      code = fails[f].code;
      msg = fails[f].msg;
      f++;
    }
    if (j->tstate[i] == T_DONE) {
      free(msg); /* settled already (its value was never set) */
      continue;
    }
    fin |= task_done_locked(j, i, code, j->vals[i], msg, w->pid);
  }
  if (partial_waiters(j))
    apr_thread_cond_broadcast(p->cv);
  UNLOCK(p);
  if (fails != s_fails)
    free(fails);
  if (j->o.progress)
    for (k = 0; k < c->n; k++)
      run_callbacks(j, 0, done + k + 1);
  chunk_free(c);
  if (fin) {
    result_callbacks(j);
    complete_job(p, j, 1); /* drops the hold too */
  } else {
    job_release(j);
  }
}

/* Read one message from w; 1 when it has gone (EOF or garbage). */
static int read_worker(mproc_pool *p, worker *w, mproc__buf *b) {
  void *buf = NULL;
  size_t n = 0;
  mproc__rd r;
  int rc = mproc_conn_recv_bytes(w->conn, &buf, &n);
  if (rc)
    return 1;
  r.p = buf;
  r.end = r.p + n;
  r.bad = 0;
  switch (mproc__get32(&r)) {
  case M_READY:
    w->ready = 1;
    w->said_ready = 1;
    p->streak = 0;
    p->starts = 0;
    break;
  case M_INITFAIL: {
    int32_t code = (int32_t)mproc__get32(&r);
    w->initfail = 1;
    free(w->initmsg);
    w->initmsg = fmtstr("initializer failed in worker %ld: %s: %.*s", w->pid,
                        mproc_errname(code), (int)(r.end - r.p),
                        (const char *)r.p);
    break;
  }
  case M_RESULTS:
    handle_results(p, w, &r, b);
    break;
  default:
    r.bad = 1;
  }
  mproc_free(buf);
  if (r.bad) {
    wk_kill(p, w);
    return 1;
  }
  return 0;
}

/* ---- time limits and cancel (handler thread) -------------------------------------- */

static chunk *running_chunk(worker *w, uint64_t *task) {
  uint64_t run = mproc__ld64(&w->w[W_RUN]);
  int s;
  *task = mproc__ld64(&w->w[W_TASK]);
  for (s = 0; s < NSLOT_MAX; s++)
    if (w->fl[s] && w->fl[s]->id == run)
      return w->fl[s];
  return NULL;
}

/* A chunk's hard limit (0: none).  A batch's tasks share theirs; its
 * first task (c->job) may have been taken back, its call done and freed
 * since, so a task still in it tells (none left: no limit to keep). */
static double chunk_limit(const chunk *c) {
  size_t k;
  if (!c->mem)
    return c->job->time_limit;
  for (k = 0; k < c->n; k++)
    if (c->mem[k])
      return c->mem[k]->job->time_limit;
  return 0;
}

/* Kill workers over a hard limit; the seconds to the next deadline. */
static double check_limits(mproc_pool *p) {
  double next = -1.0, now = mproc__plat_monotonic();
  int i;
  for (i = 0; i < p->nw; i++) {
    worker *w = &p->wk[i];
    uint64_t task;
    chunk *c;
    double lim, start, left;
    if (!w->live || w->kill_code || !wk_nfl(w))
      continue;
    c = running_chunk(w, &task);
    if (c && task) {
      lim = chunk_limit(c);
      if (lim <= 0)
        continue;
      start = (double)mproc__ld64(&w->w[W_START]) * 1e-9;
      left = start + lim - now;
      if (left <= 0) {
        w->kill_code = MPROC_ETIMEDOUT;
        wk_kill(p, w);
        continue;
      }
    } else {
      /* About to start one: at most the shortest limit of its chunks. */
      int s;
      left = -1.0;
      for (s = 0; s < NSLOT_MAX; s++)
        if (w->fl[s] && chunk_limit(w->fl[s]) > 0 &&
            (left < 0 || chunk_limit(w->fl[s]) < left))
          left = chunk_limit(w->fl[s]);
      if (left < 0)
        continue;
    }
    if (next < 0 || left < next)
      next = left;
  }
  return next;
}

/* Cancel requests taken from the pool (handler thread). */
static void do_cancels(mproc_pool *p, mproc_async **list, size_t n) {
  chunk **pp, *c;
  size_t m;
  int i, s;
  if (!n)
    return;
  /* Queued chunks of cancelled calls never run. */
  pp = &p->pend_head;
  p->pend_tail = NULL;
  while ((c = *pp) != NULL) {
    if (c->job->h_cancel) {
      *pp = c->next;
      cancel_chunk(p, c);
      continue;
    }
    p->pend_tail = c;
    pp = &c->next;
  }
  /* Chunks sent but not started: the slot word decides (the worker
   * claims a chunk with the same compare-and-swap). */
  for (i = 0; i < p->nw; i++) {
    worker *w = &p->wk[i];
    if (!w->live)
      continue;
    for (s = 0; s < NSLOT_MAX; s++) {
      uint64_t want;
      c = w->fl[s];
      if (c && c->mem) {
        batch_take_back(p, w, s, c, 0, 0); /* its cancelled tasks */
        continue;
      }
      if (!c || !c->job->h_cancel)
        continue;
      want = (c->id << 2) | SL_SENT;
      if (mproc__cas64(&w->w[W_SLOT0 + s], &want,
                       (c->id << 2) | SL_CANCELLED)) {
        w->fl[s] = NULL;
        cancel_chunk(p, c);
      } else if (c->job->cancel_kill && !w->kill_code) {
        w->kill_code = MPROC_ECLOSED;
        wk_kill(p, w);
      }
    }
  }
  LOCK(p);
  for (m = 0; m < n; m++)
    list[m]->cancel_done = 1;
  apr_thread_cond_broadcast(p->cv);
  UNLOCK(p);
  for (m = 0; m < n; m++)
    job_release(list[m]);
}

/* shutdown(cancel_futures): every queued task and every chunk sent but
 * not started is cancelled; running ones finish. */
static void do_cancel_all(mproc_pool *p) {
  chunk *c;
  int i, s;
  while ((c = pend_pop(p)) != NULL)
    cancel_chunk(p, c);
  for (i = 0; i < p->nw; i++) {
    worker *w = &p->wk[i];
    if (!w->live)
      continue;
    for (s = 0; s < NSLOT_MAX; s++) {
      uint64_t want;
      c = w->fl[s];
      if (c && c->mem) {
        batch_take_back(p, w, s, c, 1, 0); /* every task not started */
        continue;
      }
      if (!c)
        continue;
      want = (c->id << 2) | SL_SENT;
      if (mproc__cas64(&w->w[W_SLOT0 + s], &want,
                       (c->id << 2) | SL_CANCELLED)) {
        w->fl[s] = NULL;
        cancel_chunk(p, c);
      }
    }
  }
}

void mproc__pool_cancel_all(mproc_pool *p) {
  LOCK(p);
  p->cancel_all = 1;
  wake_locked(p);
  UNLOCK(p);
}

/* ---- the handler thread ------------------------------------------------------------- */

static int pending_or_inflight(mproc_pool *p) {
  int i;
  if (p->pend_head)
    return 1;
  for (i = 0; i < p->nw; i++)
    if (p->wk[i].live &&
        (wk_nfl(&p->wk[i]) || p->wk[i].h_lent))
      return 1;
  return 0;
}

/*
 * The direct path's hand-over (pool mutex held).  reclaim: the idle
 * workers published to calling threads come back to the handler (so it
 * may dispatch to them), it notes which are lent (it keeps off those),
 * takes over the tasks handed back (`adopt`: in flight in slot 0) and
 * counts the chunks sent directly.  publish (just before the handler's
 * wait): the workers idle with nothing queued become lendable; a worker
 * coming back must wake the handler when it waits without that worker
 * (lent now), or has work queued, or the pool is closing.
 */
static void reclaim_locked(mproc_pool *p) {
  int i;
  for (i = 0; i < p->nw; i++) {
    worker *w = &p->wk[i];
    wlend *x = &p->lw[i];
    x->avail = 0;
    w->h_lent = x->lent;
    if (x->adopt) {
      x->adopt->sent = 0; /* sent before any the handler sends */
      x->adopt->bytes = 0;
      w->fl[x->adopt->slot] = x->adopt;
      x->adopt = NULL;
    }
    if (x->said) {
      /* its READY, read by the direct path (as read_worker does) */
      x->said = 0;
      w->ready = 1;
      w->said_ready = 1;
      p->streak = 0;
      p->starts = 0;
    }
    if (x->dsent) {
      w->chunks += x->dsent;
      x->dsent = 0;
      if (p->opts.maxtasksperchild > 0 &&
          w->chunks >= p->opts.maxtasksperchild)
        w->retiring = 1;
    }
  }
}

static void publish_locked(mproc_pool *p, int state) {
  int i, lent = 0;
  reclaim_locked(p);
  for (i = 0; i < p->nw; i++) {
    worker *w = &p->wk[i];
    lent |= w->h_lent;
    w->h_avail = !w->h_lent && state == P_RUN && !p->broken &&
                 !p->pend_head && w->live && w->ready && w->said_ready &&
                 !w->retiring && !w->kill_code && !wk_nfl(w);
    p->lw[i].avail = w->h_avail;
  }
  p->lent_wake = lent || p->pend_head || state != P_RUN || p->broken;
}

static void fail_everything(mproc_pool *p, int code, const char *msg) {
  chunk *c;
  int i, s;
  while ((c = pend_pop(p)) != NULL)
    fail_chunk(p, c, code, msg);
  for (i = 0; i < p->nw; i++)
    for (s = 0; s < NSLOT_MAX; s++)
      if (p->wk[i].fl[s]) {
        c = p->wk[i].fl[s];
        p->wk[i].fl[s] = NULL;
        fail_chunk(p, c, code, msg);
      }
}

static void join_first(mproc_pool *p);

static int handler_main(void *arg) {
  mproc_pool *p = arg;
  mproc__buf b = MPROC__BUF_INIT;
  mproc_waitable **ws = calloc((size_t)(2 * p->nw + 1), sizeof *ws);
  int *ready = calloc((size_t)(2 * p->nw + 1), sizeof *ready);
  int *who = calloc((size_t)(2 * p->nw + 1), sizeof *who);
  mproc_async **cans = NULL;
  size_t ncans = 0;
  int state = P_RUN, i, cancel_all;
  LOCK(p);
  p->handler_tid = mproc_thread_ident();
  UNLOCK(p);
  join_first(p);
  if (!ws || !ready || !who) {
    free(ws);
    free(ready);
    free(who);
    LOCK(p);
    p->handler_done = 1;
    apr_thread_cond_broadcast(p->cv);
    UNLOCK(p);
    return MPROC_ENOMEM;
  }
  for (;;) {
    mproc_async *sub;
    size_t nws = 0;
    double timeout;
    int rc;
    /* New calls and requests. */
    LOCK(p);
    sub = p->sub_head;
    p->sub_head = p->sub_tail = NULL;
    state = p->state;
    p->wake_pending = 0;
    cans = p->cans;
    ncans = p->ncans;
    p->cans = NULL;
    p->ncans = p->capcans = 0;
    for (i = 0; i < (int)ncans; i++)
      cans[i]->h_cancel = 1;
    cancel_all = p->cancel_all;
    p->cancel_all = 0;
    reclaim_locked(p);
    UNLOCK(p);
    while (sub) {
      mproc_async *nx = sub->next_sub;
      sub->next_sub = NULL;
      job_hold(sub);
      if (p->broken || state == P_TERMINATE) {
        size_t k;
        for (k = 0; k < sub->n; k++)
          finish_task(p, sub, k, p->broken ? MPROC_ESPAWN : MPROC_ECLOSED,
                      NULL,
                      dupstr(p->broken ? p->broken_msg : "pool terminated"),
                      0);
      } else if (queue_job(p, sub) != 0) {
        size_t k;
        for (k = 0; k < sub->n; k++)
          finish_task(p, sub, k, MPROC_ENOMEM, NULL,
                      dupstr("out of memory queueing the task"), 0);
      }
      job_release(sub);
      sub = nx;
    }
    if (cancel_all)
      do_cancel_all(p);
    do_cancels(p, cans, ncans);
    free(cans);
    cans = NULL;
    ncans = 0;
    if (state == P_TERMINATE)
      break;
    /* Replace workers that have gone. */
    if (!p->broken && (state == P_RUN || pending_or_inflight(p)))
      for (i = 0; i < p->nw && !p->broken; i++)
        if (!p->wk[i].live && p->starts < 2 * p->nw) {
          p->starts++;
          if (spawn_worker(p, &p->wk[i]) != 0) {
            char why[300];
            snprintf(why, sizeof why, "worker start failed: %s",
                     mproc_last_error());
            init_failed(p, why);
          }
        }
    if (p->broken && !pending_or_inflight(p)) {
      int any = 0;
      for (i = 0; i < p->nw; i++)
        any |= p->wk[i].live;
      if (!any && state != P_RUN)
        break;
    }
    dispatch(p, &b);
    if (state == P_CLOSE && !pending_or_inflight(p))
      break;
    /* Wait on everything at once: a lendable worker by its sentinel
     * alone (a calling thread may be reading its connection), a lent one
     * not at all (its coming back wakes us).  who: worker * 2, + 1 for
     * a sentinel. */
    LOCK(p);
    publish_locked(p, state);
    UNLOCK(p);
    ws[nws] = mproc_conn_waitable(p->wake_r);
    who[nws++] = -1;
    for (i = 0; i < p->nw; i++)
      if (p->wk[i].live && !p->wk[i].h_lent) {
        if (!p->wk[i].h_avail) {
          ws[nws] = mproc_conn_waitable(p->wk[i].conn);
          who[nws++] = 2 * i;
        }
        ws[nws] = wk_sentinel(p, &p->wk[i]);
        who[nws++] = 2 * i + 1;
      }
    timeout = check_limits(p);
    if (timeout < 0)
      timeout = MPROC_FOREVER;
    rc = mproc_wait(ws, nws, timeout, ready);
    LOCK(p);
    reclaim_locked(p); /* lent since the publish: not ours to read */
    UNLOCK(p);
    if (rc < 0) {
      mproc_sleep(0.01); /* should not happen; never spin */
      continue;
    }
    for (i = 0; i < (int)nws; i++) {
      worker *w;
      if (!ready[i])
        continue;
      if (who[i] < 0) {
        /* ready: read one, then any more (one poll fewer per wake) */
        do {
          void *bb = NULL;
          size_t bn = 0;
          if (mproc_conn_recv_bytes(p->wake_r, &bb, &bn) != 0)
            break;
          mproc_free(bb);
        } while (mproc_conn_poll(p->wake_r, 0) == 1);
        continue;
      }
      w = &p->wk[who[i] / 2];
      if (!w->live || w->h_lent)
        continue;
      if ((who[i] & 1) == 0) {
        /* its connection */
        /* One message: more are seen by the next wait, after this
         * worker got its next chunk (no poll per message). */
        if (read_worker(p, w, &b)) {
          worker_died(p, w);
          continue;
        }
      } else {
        /* its sentinel: read what it sent before it ended */
        while (mproc_conn_poll(w->conn, 0) == 1)
          if (read_worker(p, w, &b))
            break;
        worker_died(p, w);
      }
    }
    /* retired workers that have nothing in flight: let them go */
    for (i = 0; i < p->nw; i++) {
      worker *w = &p->wk[i];
      if (w->live && w->retiring && !w->h_lent && !wk_nfl(w) &&
          wk_alive(p, w) == 0)
        worker_died(p, w);
    }
  }
  /* Stop the workers: close (EOF) or terminate. */
  if (state == P_TERMINATE) {
    int lent = 1;
    double t0 = mproc__plat_monotonic();
    for (i = 0; i < p->nw; i++)
      if (p->wk[i].live)
        wk_terminate(p, &p->wk[i]);
    /* Workers lent to calling threads come back (their task done, or
     * handed back as the worker ended) before anything is released. */
    LOCK(p);
    p->lent_wake = 1;
    while (lent) {
      lent = 0;
      for (i = 0; i < p->nw; i++)
        lent |= p->lw[i].lent;
      if (lent)
        apr_thread_cond_timedwait(p->cv, p->mu, 5000000);
      if (lent && mproc__plat_monotonic() - t0 >= 5.0) {
        for (i = 0; i < p->nw; i++)
          if (p->lw[i].lent) /* it ignored the terminate (as join's 5 s) */
            wk_kill(p, &p->wk[i]);
        t0 = mproc__plat_monotonic();
      }
    }
    reclaim_locked(p);
    UNLOCK(p);
    fail_everything(p, MPROC_ECLOSED, "pool terminated");
  }
  for (i = 0; i < p->nw; i++)
    if (p->wk[i].live)
      mproc_conn_close(p->wk[i].conn);
  for (i = 0; i < p->nw; i++)
    if (p->wk[i].live)
      worker_release(p, &p->wk[i]);
  fail_everything(p, MPROC_ECLOSED, "pool terminated");
  /* calls submitted after the last look */
  LOCK(p);
  {
    mproc_async *s = p->sub_head;
    p->sub_head = p->sub_tail = NULL;
    UNLOCK(p);
    while (s) {
      mproc_async *nx = s->next_sub;
      size_t k;
      job_hold(s);
      for (k = 0; k < s->n; k++)
        finish_task(p, s, k, MPROC_ECLOSED, NULL, dupstr("pool terminated"),
                    0);
      job_release(s);
      s = nx;
    }
  }
  LOCK(p);
  cans = p->cans;
  ncans = p->ncans;
  p->cans = NULL;
  p->ncans = p->capcans = 0;
  for (i = 0; i < (int)ncans; i++)
    cans[i]->cancel_done = 1;
  p->handler_done = 1;
  apr_thread_cond_broadcast(p->cv);
  UNLOCK(p);
  for (i = 0; i < (int)ncans; i++)
    job_release(cans[i]);
  free(cans);
  free(ws);
  free(ready);
  free(who);
  mproc__buf_free(&b);
  return 0;
}

/* ---- the pool ------------------------------------------------------------------------ */

/*
 * The first workers start at the same time: each start is a spawn plus a
 * handshake with the new process (most of it waiting for the child), so
 * workers 1.. start on short-lived threads while this thread starts
 * worker 0.  The first error is returned (the caller frees what started).
 */
typedef struct spawn_job {
  mproc_pool *p;
  int i, rc;
  mproc_thread *th;
  char err[300];
} spawn_job;

static int spawn_thread(void *arg) {
  spawn_job *s = arg;
  s->rc = spawn_worker(s->p, &s->p->wk[s->i]);
  if (s->rc)
    snprintf(s->err, sizeof s->err, "%s", mproc_last_error());
  return 0;
}

static int spawn_first(mproc_pool *p) {
  spawn_job *js = calloc((size_t)p->nw, sizeof *js);
  int i, rc;
  if (!js) {
    for (i = 0; i < p->nw; i++)
      if ((rc = spawn_worker(p, &p->wk[i])) != 0)
        return rc;
    p->starts = p->nw;
    return 0;
  }
  for (i = 1; i < p->nw; i++) {
    js[i].p = p;
    js[i].i = i;
    if (mproc_thread_start(&js[i].th, spawn_thread, &js[i]) != 0)
      js[i].th = NULL; /* started below, on this thread */
  }
  rc = spawn_worker(p, &p->wk[0]);
  p->starts = p->nw;
  if (rc == 0 && p->nw > 1) {
    /* Worker 0 is up: the first task can go.  The others finish their
     * start in the background; the handler joins them first of all (a
     * start that failed there counts as a failed restart). */
    for (i = 1; i < p->nw; i++)
      if (!js[i].th)
        spawn_thread(&js[i]);
    p->spawning = js;
    p->starting = 1;
    return 0;
  }
  for (i = 1; i < p->nw; i++) {
    if (js[i].th)
      mproc_thread_join(js[i].th, NULL);
    else
      spawn_thread(&js[i]);
    if (js[i].rc && !rc) {
      rc = js[i].rc;
      mproc__err(rc, "%s", js[i].err);
    }
  }
  free(js);
  return rc;
}

/* The handler (or a failed mproc_pool_new) joins the start threads of
 * workers 1..; mproc_pool_pids waits for them. */
static void join_first(mproc_pool *p) {
  spawn_job *js = p->spawning;
  int i;
  if (!js)
    return;
  for (i = 1; i < p->nw; i++) {
    if (js[i].th)
      mproc_thread_join(js[i].th, NULL);
    if (js[i].rc) {
      char why[300];
      snprintf(why, sizeof why, "worker start failed: %.250s", js[i].err);
      init_failed(p, why);
    }
  }
  free(js);
  LOCK(p);
  p->spawning = NULL;
  p->starting = 0;
  UNLOCK(p);
  apr_thread_cond_broadcast(p->cv);
}

int mproc_pool_new(mproc_pool **out, const mproc_pool_opts *opts) {
  mproc_pool *p;
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  const mproc__pool_backend *be = NULL;
  int rc, i;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_pool_new: NULL pool");
  *out = NULL;
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  if (opts)
    o = *opts;
  if (o.processes < 0)
    return mproc__err(MPROC_EINVAL,
                      "mproc_pool_new: Number of processes must be at least "
                      "1");
  if (o.backend != MPROC_POOL_LOCAL &&
      (rc = mproc__pool_backend_open(&o, &be)) != 0)
    return rc;
  if (o.processes == 0)
    o.processes = mproc_cpu_count();
  if (o.maxtasksperchild < 0)
    return mproc__err(MPROC_EINVAL, "mproc_pool_new: maxtasksperchild must "
                                    "be a positive int or 0 (None)");
  if (!(o.time_limit >= 0) || !(o.soft_time_limit >= 0))
    return mproc__err(MPROC_EINVAL,
                      "mproc_pool_new: time limits are seconds >= 0");
  if (o.initargs && mproc_value_type(o.initargs) != MPROC_T_LIST)
    return mproc__err(MPROC_ETYPE, "mproc_pool_new: initargs is a list");
  p = calloc(1, sizeof *p);
  if (!p)
    return mproc__err(MPROC_ENOMEM, "pool");
  p->opts = o;
  p->be = be;
  p->prefs = 1;
  p->nw = o.processes;
  p->wk = calloc((size_t)p->nw, sizeof *p->wk);
  p->pids = calloc((size_t)p->nw, sizeof *p->pids);
  p->lw = calloc((size_t)p->nw, sizeof *p->lw);
  if (!p->wk || !p->pids || !p->lw) {
    free(p->wk);
    free(p->pids);
    free(p->lw);
    free(p);
    return mproc__err(MPROC_ENOMEM, "pool");
  }
  if (o.initializer) {
    const void *addr;
    mproc_pool_init_fn f = o.initializer;
    memcpy(&addr, &f, sizeof addr);
    if ((rc = fn_ref(addr, p->init_module, sizeof p->init_module,
                     &p->init_offset)) != 0)
      goto fail;
  }
  if (o.initargs && !(p->initargs = mproc_value_copy(o.initargs))) {
    rc = mproc__err(MPROC_ENOMEM, "pool initargs");
    goto fail;
  }
  p->opts.initargs = NULL;
  if (apr_pool_create_unmanaged_ex(&p->ap, NULL, NULL) != APR_SUCCESS ||
      apr_thread_mutex_create(&p->mu, APR_THREAD_MUTEX_DEFAULT, p->ap) !=
          APR_SUCCESS ||
      apr_thread_cond_create(&p->cv, p->ap) != APR_SUCCESS) {
    rc = mproc__err(MPROC_EOS, "pool: mutex or condition variable");
    goto fail;
  }
  if ((rc = mproc_pipe(&p->wake_r, &p->wake_w, 0)) != 0)
    goto fail;
  /* The first workers start here, so a start failure of worker 0 (of
   * every worker, when the binary cannot start at all) is reported now. */
  if ((rc = spawn_first(p)) != 0)
    goto fail;
  /* Worker 0 is lendable at once (its READY, first in its pipe, is read
   * by the direct path), until the handler has looked at it.  Not a
   * backend's: a bridge may not have its session yet (mpi.c drops what
   * comes before it), so the handler reads its READY first. */
  if (!o.initializer && !p->be)
    p->lw[0].avail = 1;
  if ((rc = mproc_thread_start(&p->th, handler_main, p)) != 0)
    goto fail;
  mproc__runtime_lock();
  p->next_live = live_pools;
  live_pools = p;
  if (!atexit_done) {
    atexit_done = 1;
    mproc__plat_atexit(pools_at_exit); /* not atexit: see there */
  }
  mproc__runtime_unlock();
  *out = p;
  return 0;
fail:
  join_first(p);
  for (i = 0; i < p->nw; i++)
    if (p->wk[i].live) {
      wk_kill(p, &p->wk[i]);
      worker_release(p, &p->wk[i]);
    }
  mproc_conn_free(p->wake_r);
  mproc_conn_free(p->wake_w);
  if (p->ap)
    apr_pool_destroy(p->ap);
  mproc_value_free(p->initargs);
  free(p->wk);
  free(p->pids);
  free(p->lw);
  free(p);
  return rc;
}

/* The direct path's borrowed worker (see "the direct path" below). */
typedef struct lend {
  worker *w;
  uint64_t id;
} lend;
static void borrow_locked(mproc_pool *p, lend *l);

/* Submit a call; with `l` (a synchronous apply) borrow an idle worker
 * instead when there is one: then the call is the caller's to run. */
static int submit(mproc_pool *p, int kind, mproc_task_fn fn,
                  const mproc_value *arg, int star,
                  const mproc_call_opts *opts, mproc_async **out, lend *l) {
  mproc_async *j;
  size_t n, i;
  int rc;
  const void *addr;
  char module[1024];
  uint64_t offset;
  const char *what = kind == J_APPLY ? "apply" : "map";
  int wake;
  if (out)
    *out = NULL;
  if (!p || !fn || !arg || !out)
    return mproc__err(MPROC_EINVAL, "pool %s: NULL argument", what);
  if (opts && (!(opts->time_limit >= 0) || !(opts->soft_time_limit >= 0)))
    return mproc__err(MPROC_EINVAL, "pool %s: time limits are seconds >= 0",
                      what);
  {
    mproc_task_fn f = fn;
    memcpy(&addr, &f, sizeof addr);
  }
  if ((rc = fn_ref(addr, module, sizeof module, &offset)) != 0)
    return rc;
  if (kind == J_APPLY || kind == J_FUTURE) {
    n = 1;
  } else {
    if (mproc_value_type(arg) != MPROC_T_LIST)
      return mproc__err(MPROC_ETYPE, "pool %s: the iterable is a list", what);
    n = mproc_list_len(arg);
  }
  j = job_new(p, kind, n);
  if (!j)
    return mproc__err(MPROC_ENOMEM, "pool %s", what);
  memcpy(j->module, module, sizeof module);
  j->offset = offset;
  if (opts)
    j->o = *opts;
  j->time_limit = j->o.time_limit > 0 ? j->o.time_limit : p->opts.time_limit;
  j->soft_limit =
      j->o.soft_time_limit > 0 ? j->o.soft_time_limit : p->opts.soft_time_limit;
  if (kind == J_MAP || kind == J_IMAP || kind == J_IMAP_UNORDERED) {
    if (!j->o.chunksize) {
      /* Python: chunksize, extra = divmod(n, processes * 4) */
      size_t d = (size_t)p->nw * 4;
      j->o.chunksize = n / d + (n % d ? 1 : 0);
      if (kind != J_MAP)
        j->o.chunksize = 1; /* imap's default is 1, as Python */
    }
  } else {
    j->o.chunksize = 1;
  }
  for (i = 0; star && i < n; i++)
    if (mproc_value_type(mproc_list_get(arg, i)) != MPROC_T_LIST) {
      rc = mproc__err(MPROC_ETYPE, "starmap: item %zu is not a list", i);
      goto fail;
    }
  /* One bare item each, in one run (a map's chunks are slices of it;
   * argoff: where each chunk starts).  No spawn context: an OS object is
   * MPROC_EINHERIT with Python's text (a Manager proxy travels: it is an
   * address, not a handle). */
  if (kind == J_APPLY || kind == J_FUTURE)
    rc = mproc__encode_run(&arg, 1, &j->args, j->argoff, 1);
  else if ((rc = mproc__buf_reserve(&j->args, n < 4096 ? 64 : 3 * n)) == 0)
    rc = mproc__encode_run((const mproc_value *const *)arg->u.list.items, n,
                           &j->args, j->argoff,
                           j->o.chunksize ? j->o.chunksize : 1);
  if (rc != 0)
    goto fail;
  LOCK(p);
  if (p->state != P_RUN) {
    UNLOCK(p);
    rc = mproc__err(MPROC_ECLOSED, "Pool not running");
    goto fail;
  }
  if (p->broken) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", p->broken_msg);
    UNLOCK(p);
    rc = mproc__err(MPROC_ESPAWN, "%s", msg);
    goto fail;
  }
  if (l && (borrow_locked(p, l), l->w)) {
    j->tstate[0] = T_SENT;
    UNLOCK(p);
    *out = j;
    return 0;
  }
  if (n == 0) {
    /* Nothing to run: ready at once (the engine's reference goes). */
    if (kind == J_MAP)
      j->list = mproc_list();
    j->ready = 1;
    j->refs = 1;
    UNLOCK(p);
    if (j->o.callback)
      j->o.callback(j, j->list, j->o.ctx);
    *out = j;
    return 0;
  }
  if (p->sub_tail)
    p->sub_tail->next_sub = j;
  else
    p->sub_head = j;
  p->sub_tail = j;
  /* The wake-up byte goes after the unlock, so the handler it wakes does
   * not block on the mutex this thread still holds. */
  wake = !p->wake_pending;
  p->wake_pending = 1;
  UNLOCK(p);
  if (wake)
    mproc_conn_send_bytes(p->wake_w, "", 0);
  *out = j;
  return 0;
fail:
  job_destroy(j);
  pool_decref(p);
  return rc;
}

int mproc__pool_submit(mproc_pool *p, int kind, mproc_task_fn fn,
                       const mproc_value *arg, int star,
                       const mproc_call_opts *opts, mproc_async **out) {
  return submit(p, kind, fn, arg, star, opts, out, NULL);
}

/* ---- the direct path: a synchronous apply on the calling thread --------------------- */

/*
 * mproc_pool_apply with an idle worker and nothing queued: the calling
 * thread borrows the worker (`lent`, under the mutex; the handler keeps
 * off it), sends the task, waits in one mproc_wait on that worker's
 * connection and sentinel and reads the answer itself: no thread hop.
 * The handler publishes its idle workers (`avail`) just before its own
 * wait and waits on their sentinels only, never their connections, so it
 * neither reads the answer nor wakes for it; a lent worker it waits on
 * not at all.  A garbled answer fails the task with MPROC_EBADMSG and
 * kills the worker, as the handler does (never a second run: the task
 * may have run).  No answer - the worker died (EOF, sentinel), the hard
 * time limit passed (the wait's timeout) - hands the task back (`adopt`): the handler takes it as in flight in slot 0
 * of that worker and settles it exactly as any other (worker_died,
 * check_limits, terminate), while the caller waits as apply_async + get.
 * A sync apply has no callbacks and no handle to cancel; terminate waits
 * for lent workers to come back (it terminates them first).
 */
static void borrow_locked(mproc_pool *p, lend *l) {
  long max = p->opts.maxtasksperchild;
  int i;
  l->w = NULL;
  /* Nothing queued ahead (the handler's queue is empty when it publishes
   * a worker); never on the result thread (it never finds one anyway). */
  if (p->sub_head || p->handler_tid == mproc_thread_ident())
    return;
  for (i = 0; i < p->nw; i++) {
    worker *w = &p->wk[i];
    wlend *x = &p->lw[i];
    /* While lendable, the handler's fields of w do not change. */
    if (x->avail && !x->lent && (max <= 0 || w->chunks + x->dsent < max)) {
      x->avail = 0;
      x->lent = 1;
      l->w = w;
      l->id = ((uint64_t)1 << 60) | ++p->dnext; /* apart from next_id's */
      p->ndirect++;
      return;
    }
  }
}

/* The one answer of a direct task (its M_RESULTS, one result read by
 * read_result as the handler reads a run): 1 when well-formed (code,
 * value or message set), 0 when not. */
static int direct_parse(worker *w, uint64_t id, const void *buf, size_t n,
                        int *code, mproc_value **v, char **msg) {
  mproc__rd r;
  mproc__itemdec d;
  int rc;
  r.p = buf;
  r.end = r.p + n;
  r.bad = 0;
  if (mproc__get32(&r) != M_RESULTS || mproc__get32(&r) != 1 ||
      mproc__get64(&r) != id || r.bad)
    return 0;
  d.p = r.p;
  d.end = r.end;
  d.left = 1;
  d.noslab = 1; /* one value, the caller's alone */
  d.slab = NULL;
  rc = read_result(&d, w, code, v, msg);
  mproc__itemdec_done(&d);
  if (rc ? *code != 0 : d.p == d.end)
    return 1; /* a value, a failure record, or a result that cannot be
                 decoded (it fails the task, as in a run) */
  mproc_value_free(*v);
  *v = NULL;
  free(*msg);
  *msg = NULL;
  *code = 0;
  return 0;
}

/* Run call j (one task) on the borrowed worker, then give it back. */
static int direct_run(mproc_pool *p, lend *l, mproc_async *j,
                      mproc_value **result) {
  worker *w = l->w;
  wlend *x = &p->lw[w - p->wk];
  mproc__buf b = MPROC__BUF_INIT;
  chunk *c = calloc(1, sizeof *c);
  mproc_value *v = NULL;
  char *msg = NULL;
  int code = 0, sent = 0, back = 1, bcast, said = 0, garbled = 0;
  long max = p->opts.maxtasksperchild;
  if (c) {
    c->job = j;
    c->n = 1;
    c->id = l->id;
  }
  if (!c || encode_chunk(c, &b) != 0) {
    /* nothing sent: the worker goes back as it was */
    code = MPROC_ENOMEM;
    msg = dupstr("out of memory sending the task");
    back = 0;
  } else {
    mproc__st64_release(&w->w[W_SLOT0], (l->id << 2) | SL_SENT);
    sent = 1;
    if (mproc_conn_send_bytes(w->conn, b.p, b.len) == 0) {
      mproc_waitable *ws[2];
      int rd[2] = {0, 0};
      void *buf = NULL;
      size_t n = 0;
      uint32_t ready = M_READY;
      ws[0] = mproc_conn_waitable(w->conn);
      ws[1] = wk_sentinel(p, w);
      /* Past the hard limit the handler takes over (and kills). */
      while (mproc_wait(ws, 2,
                        j->time_limit > 0 ? j->time_limit : MPROC_FOREVER,
                        rd) > 0 &&
             rd[0] && mproc_conn_recv_bytes(w->conn, &buf, &n) == 0) {
        if (!said && n == 4 && memcmp(buf, &ready, 4) == 0) {
          said = 1; /* a new worker's READY (worker 0 of a new pool) */
          mproc_free(buf);
          buf = NULL;
          continue;
        }
        back = 0;
        if (!direct_parse(w, l->id, buf, n, &code, &v, &msg)) {
          /* It ran (or may have): fail it, never run it again; the
           * handler replaces the worker it finds dead. */
          wk_kill(p, w);
          garbled = 1;
          code = MPROC_EBADMSG;
          msg = dupstr("malformed result message from a worker");
        }
        mproc_free(buf);
        break;
      }
    }
  }
  mproc__buf_free(&b);
  LOCK(p);
  x->lent = 0;
  x->dsent += sent;
  x->said |= said;
  bcast = p->lent_wake;
  if (back) {
    x->adopt = c; /* in flight in slot 0: the handler's now */
    p->nadopt++;
    wake_locked(p);
    UNLOCK(p);
    apr_thread_cond_broadcast(p->cv); /* a terminate waits for it */
    return mproc__async_take(j, result);
  }
  if (bcast || garbled || (max > 0 && w->chunks + x->dsent >= max))
    wake_locked(p); /* the handler waits without it, or it retires or
                       was killed */
  else
    x->avail = 1; /* lendable again: nothing changed for the handler */
  task_done_locked(j, 0, code, v, msg, sent ? w->pid : 0);
  j->ready = 1;
  j->refs--; /* the engine's reference, which the direct path held */
  UNLOCK(p);
  if (bcast)
    apr_thread_cond_broadcast(p->cv);
  chunk_free(c);
  return mproc__async_take(j, result);
}

unsigned long mproc__pool_ndirect(mproc_pool *p, unsigned long *adopted) {
  unsigned long n;
  LOCK(p);
  n = p->ndirect;
  if (adopted)
    *adopted = p->nadopt;
  UNLOCK(p);
  return n;
}

int mproc__pool_apply(mproc_pool *p, mproc_task_fn fn, const mproc_value *arg,
                      mproc_value **result) {
  mproc_async *j;
  lend l;
  int rc;
  l.w = NULL;
  if ((rc = submit(p, J_APPLY, fn, arg, 0, NULL, &j, &l)) != 0)
    return rc;
  if (!l.w)
    return mproc__async_take(j, result);
  return direct_run(p, &l, j, result);
}

int mproc_pool_close(mproc_pool *p) {
  if (!p)
    return mproc__err(MPROC_EINVAL, "mproc_pool_close: NULL pool");
  LOCK(p);
  if (p->state == P_RUN)
    p->state = P_CLOSE;
  wake_locked(p);
  UNLOCK(p);
  return 0;
}

int mproc_pool_terminate(mproc_pool *p) {
  int in_callback;
  if (!p)
    return mproc__err(MPROC_EINVAL, "mproc_pool_terminate: NULL pool");
  LOCK(p);
  p->state = P_TERMINATE;
  wake_locked(p);
  in_callback = p->handler_tid == mproc_thread_ident();
  UNLOCK(p);
  /* From a callback it takes effect when the callback returns. */
  return in_callback ? 0 : mproc_pool_join(p, MPROC_FOREVER);
}

int mproc_pool_join(mproc_pool *p, double timeout) {
  int rc;
  double deadline;
  if (!p)
    return mproc__err(MPROC_EINVAL, "mproc_pool_join: NULL pool");
  if ((rc = mproc__timeout(&timeout, "mproc_pool_join")) != 0)
    return rc;
  deadline = mproc__deadline(timeout);
  LOCK(p);
  if (p->state == P_RUN) {
    UNLOCK(p);
    return mproc__err(MPROC_EINVAL, "mproc_pool_join: Pool is still running "
                                    "(close or terminate it first)");
  }
  if (p->handler_tid == mproc_thread_ident()) {
    /* In a callback: the result thread cannot wait for itself. */
    UNLOCK(p);
    return mproc__err(MPROC_EINVAL, "mproc_pool_join: called from a "
                                    "callback (the pool's result thread)");
  }
  while (!p->handler_done) {
    if (cv_wait(p, deadline) == MPROC_ETIMEDOUT) {
      UNLOCK(p);
      return mproc__err(MPROC_ETIMEDOUT, "mproc_pool_join");
    }
  }
  if (!p->joined) {
    p->joined = 1;
    UNLOCK(p);
    mproc_thread_join(p->th, NULL);
    return 0;
  }
  UNLOCK(p);
  return 0;
}

static void unlink_live(mproc_pool *p) {
  mproc_pool **pp;
  mproc__runtime_lock();
  for (pp = &live_pools; *pp; pp = &(*pp)->next_live)
    if (*pp == p) {
      *pp = p->next_live;
      break;
    }
  mproc__runtime_unlock();
}

static void pool_destroy(mproc_pool *p) {
  apr_pool_destroy(p->ap);
  free(p);
}

void mproc_pool_free(mproc_pool *p) {
  if (!p)
    return;
  LOCK(p);
  if (p->state != P_CLOSE)
    p->state = P_TERMINATE;
  else if (!p->handler_done)
    p->state = P_TERMINATE; /* free does not wait for a closed pool's work */
  wake_locked(p);
  if (p->handler_tid == mproc_thread_ident()) {
    /* In a callback: the pool is terminated, not freed (the result thread
     * cannot free itself); free it from another thread. */
    UNLOCK(p);
    return;
  }
  UNLOCK(p);
  mproc_pool_join(p, MPROC_FOREVER);
  unlink_live(p);
  mproc_conn_free(p->wake_r);
  mproc_conn_free(p->wake_w);
  p->wake_r = p->wake_w = NULL;
  mproc_value_free(p->initargs);
  p->initargs = NULL;
  LOCK(p);
  free(p->wk);
  free(p->pids);
  free(p->lw);
  p->wk = NULL;
  p->pids = NULL;
  p->lw = NULL;
  p->nw = 0;
  UNLOCK(p);
  /* The core (mutex, condition variable) lives while calls hold it. */
  pool_decref(p);
}

static void pools_at_exit(void) {
  for (;;) {
    mproc_pool *p;
    mproc__runtime_lock();
    p = live_pools;
    if (p)
      live_pools = p->next_live;
    mproc__runtime_unlock();
    if (!p)
      break;
    LOCK(p);
    if (p->state == P_RUN)
      p->state = P_TERMINATE;
    wake_locked(p);
    UNLOCK(p);
    mproc_pool_join(p, MPROC_FOREVER);
  }
}

int mproc_pool_pids(mproc_pool *p, long *pids, size_t cap) {
  int i, n = 0;
  if (!p)
    return mproc__err(MPROC_EINVAL, "mproc_pool_pids: NULL pool");
  LOCK(p);
  while (p->starting) /* the first workers' starts end */
    apr_thread_cond_wait(p->cv, p->mu);
  for (i = 0; i < p->nw; i++)
    if (p->pids[i]) {
      if ((size_t)n < cap && pids)
        pids[n] = p->pids[i];
      n++;
    }
  UNLOCK(p);
  return n;
}

/* ---- AsyncResult ------------------------------------------------------------------- */

static int cv_wait(mproc_pool *p, double deadline) {
  if (deadline < 0) {
    apr_thread_cond_wait(p->cv, p->mu);
    return 0;
  } else {
    double left = mproc__left(deadline);
    if (left <= 0)
      return MPROC_ETIMEDOUT;
    apr_thread_cond_timedwait(p->cv, p->mu,
                              (apr_interval_time_t)(left * 1e6) + 1);
    return 0;
  }
}

/* A wait for any call (futures' wait, as_completed): counted, so that
 * complete_job wakes waiters only when someone may want that call. */
int mproc__pool_cv_wait(mproc_pool *p, double deadline) {
  int rc;
  p->gwaiters++;
  rc = cv_wait(p, deadline);
  p->gwaiters--;
  return rc;
}

int mproc__wait_ready_locked(mproc_async *r, double deadline) {
  int rc = 0;
  r->waiting++; /* complete_job wakes us */
  while (!r->ready && rc == 0)
    rc = cv_wait(r->pool, deadline);
  r->waiting--;
  return r->ready ? 0 : MPROC_ETIMEDOUT;
}

int mproc_async_wait(mproc_async *r, double timeout) {
  int rc;
  if (!r)
    return mproc__err(MPROC_EINVAL, "mproc_async_wait: NULL result");
  if ((rc = mproc__timeout(&timeout, "mproc_async_wait")) != 0)
    return rc;
  LOCK(r->pool);
  rc = mproc__wait_ready_locked(r, mproc__deadline(timeout));
  UNLOCK(r->pool);
  if (rc)
    return mproc__err(rc, "mproc_async_wait");
  return 0;
}

static int result_error(mproc_async *r) {
  size_t i = r->first_fail;
  return mproc__err(r->codes[i], "%s",
                    mproc__async_msg(r, i) ? mproc__async_msg(r, i)
                                            : mproc_strerror(r->codes[i]));
}

int mproc_async_get(mproc_async *r, double timeout, const mproc_value **out) {
  int rc;
  if (out)
    *out = NULL;
  if (!r)
    return mproc__err(MPROC_EINVAL, "mproc_async_get: NULL result");
  if (r->kind == J_IMAP || r->kind == J_IMAP_UNORDERED)
    return mproc__err(MPROC_EINVAL,
                      "mproc_async_get: an imap iterator has no get: use "
                      "mproc_async_next");
  if ((rc = mproc__timeout(&timeout, "mproc_async_get")) != 0)
    return rc;
  LOCK(r->pool);
  rc = mproc__wait_ready_locked(r, mproc__deadline(timeout));
  UNLOCK(r->pool);
  if (rc)
    return mproc__err(rc, "mproc_async_get");
  if (out)
    *out = r->kind == J_MAP ? r->list : r->vals[0];
  if (r->first_fail != (size_t)-1)
    return result_error(r);
  return 0;
}

int mproc_async_ready(mproc_async *r) {
  int v;
  if (!r)
    return mproc__err(MPROC_EINVAL, "mproc_async_ready: NULL result");
  LOCK(r->pool);
  v = r->ready;
  UNLOCK(r->pool);
  return v;
}

int mproc_async_successful(mproc_async *r) {
  int v;
  if (!r)
    return mproc__err(MPROC_EINVAL, "mproc_async_successful: NULL result");
  LOCK(r->pool);
  v = r->ready ? r->first_fail == (size_t)-1 : -1;
  UNLOCK(r->pool);
  if (v < 0)
    return mproc__err(MPROC_EINVAL, "mproc_async_successful: result is not "
                                    "ready");
  return v;
}

int mproc_async_task(mproc_async *r, size_t i, const mproc_value **value,
                     const char **message, long *pid) {
  int code;
  if (value)
    *value = NULL;
  if (message)
    *message = NULL;
  if (pid)
    *pid = 0;
  if (!r)
    return mproc__err(MPROC_EINVAL, "mproc_async_task: NULL result");
  if (i >= r->n)
    return mproc__err(MPROC_ERANGE, "mproc_async_task: task %zu of %zu", i,
                      r->n);
  LOCK(r->pool);
  if (r->tstate[i] != T_DONE) {
    UNLOCK(r->pool);
    return mproc__err(MPROC_EINVAL, "mproc_async_task: task %zu is not "
                                    "finished",
                      i);
  }
  code = r->codes[i];
  if (value)
    *value = r->vals[i];
  if (message)
    *message = mproc__async_msg(r, i);
  if (pid)
    *pid = r->pids[i];
  UNLOCK(r->pool);
  return code;
}

int mproc_async_progress(mproc_async *r, size_t *done, size_t *total) {
  if (!r)
    return mproc__err(MPROC_EINVAL, "mproc_async_progress: NULL result");
  LOCK(r->pool);
  if (done)
    *done = r->done;
  if (total)
    *total = r->n;
  UNLOCK(r->pool);
  return 0;
}

int mproc_async_cancel(mproc_async *r, int kill_running) {
  mproc_pool *p;
  int n;
  if (!r)
    return mproc__err(MPROC_EINVAL, "mproc_async_cancel: NULL result");
  p = r->pool;
  LOCK(p);
  if (r->ready || p->handler_done) {
    UNLOCK(p);
    return 0;
  }
  if (p->ncans == p->capcans) {
    size_t nc = p->capcans ? 2 * p->capcans : 4;
    mproc_async **g = realloc(p->cans, nc * sizeof *g);
    if (!g) {
      UNLOCK(p);
      return mproc__err(MPROC_ENOMEM, "mproc_async_cancel");
    }
    p->cans = g;
    p->capcans = nc;
  }
  r->refs++;
  p->cans[p->ncans++] = r;
  r->cancel_req = 1;
  r->cancel_kill = kill_running;
  r->cancel_done = 0;
  r->cancelled_n = 0;
  wake_locked(p);
  if (p->handler_tid == mproc_thread_ident()) {
    /* In a callback: acted on when the callback returns. */
    UNLOCK(p);
    return 0;
  }
  /* The handler answers once it has looked at the call's chunks. */
  while (!r->cancel_done)
    apr_thread_cond_wait(p->cv, p->mu);
  n = r->cancelled_n;
  UNLOCK(p);
  return n;
}

void mproc_async_free(mproc_async *r) {
  if (r)
    job_release(r);
}

/* ---- imap's iterator ---------------------------------------------------------- */

int mproc_async_next(mproc_async *r, double timeout, mproc_value **out) {
  mproc_pool *p;
  double deadline;
  size_t i;
  int rc, code;
  if (out)
    *out = NULL;
  if (!r || !out)
    return mproc__err(MPROC_EINVAL, "mproc_async_next: NULL argument");
  if (r->kind != J_IMAP && r->kind != J_IMAP_UNORDERED)
    return mproc__err(MPROC_EINVAL,
                      "mproc_async_next: not an imap iterator");
  if ((rc = mproc__timeout(&timeout, "mproc_async_next")) != 0)
    return rc;
  deadline = mproc__deadline(timeout);
  p = r->pool;
  LOCK(p);
  for (;;) {
    if (r->next_i >= r->n) {
      UNLOCK(p);
      return mproc__err(MPROC_EEOF, "mproc_async_next: no more results");
    }
    if (r->kind == J_IMAP ? r->tstate[r->next_i] == T_DONE
                          : r->norder > r->next_i)
      break;
    if (cv_wait(p, deadline) == MPROC_ETIMEDOUT) {
      UNLOCK(p);
      return mproc__err(MPROC_ETIMEDOUT, "mproc_async_next");
    }
  }
  i = r->kind == J_IMAP ? r->next_i : r->order[r->next_i];
  r->next_i++;
  code = r->codes[i];
  *out = r->vals[i];
  r->vals[i] = NULL;
  if (code) {
    rc = mproc__err(code, "%s", mproc__async_msg(r, i) ? mproc__async_msg(r, i)
                                      : mproc_strerror(code));
    UNLOCK(p);
    return rc;
  }
  UNLOCK(p);
  if (!*out)
    *out = mproc_none();
  return 0;
}

int mproc__async_take(mproc_async *r, mproc_value **out) {
  int rc;
  const mproc_value *v = NULL;
  *out = NULL;
  rc = mproc_async_get(r, MPROC_FOREVER, &v);
  if (r->kind == J_MAP) {
    *out = r->list;
    r->list = NULL;
    r->vals = NULL; /* they are the list's items: the caller's now */
  } else {
    *out = r->vals[0];
    r->vals[0] = NULL;
  }
  if (rc) {
    /* keep the failure's detail across the free */
    mproc__errrec save = *mproc__plat_errrec();
    mproc_async_free(r);
    *mproc__plat_errrec() = save;
    return rc;
  }
  mproc_async_free(r);
  return 0;
}
