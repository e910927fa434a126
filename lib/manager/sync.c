/*
 * sync.c - the Manager's types whose methods block: Queue, JoinableQueue,
 * Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
 * (Python's SyncManager registers the threading and queue classes).
 *
 * Map: argument and timeout helpers, the lock (Lock/RLock, and the lock of
 * a Condition), Semaphore, Event, Condition, Barrier, Queue, the table.
 *
 * Each is a C struct guarded by the server's lock; a call that must wait
 * does so in mproc__mcall_wait (server.c), which lets the lock go, wakes
 * on any change or every 100 ms, and gives up with MPROC_EEOF when the
 * caller's connection has gone (so a killed client never takes an item or
 * a lock it cannot use).  Arguments are Python's positional ones:
 * acquire(blocking=True, timeout=-1), put(item, block=True, timeout=None),
 * get(block=True, timeout=None), wait(timeout=None), notify(n=1).
 *
 * Owners: a Lock or RLock records the session (client process) and thread
 * that holds it.  When a client process ends holding one, the server
 * releases it and the next acquirer gets it with MPROC_EOWNERDEAD (Python
 * would deadlock).  An RLock (and a Condition's lock) is released only by
 * its owner thread (MPROC_ENOTOWNER); a Lock by anyone, as Python's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgr_int.h"

/* ---- helpers --------------------------------------------------------------- */

static size_t nargs(const mproc_value *a) {
  return a && (a->type == MPROC_T_LIST || a->type == MPROC_T_TUPLE)
             ? a->u.list.n
             : 0;
}

static mproc_value *arg(const mproc_value *a, size_t i) {
  return i < nargs(a) ? a->u.list.items[i] : NULL;
}

static int want_args(const char *m, const mproc_value *a, size_t lo,
                     size_t hi) {
  size_t n = nargs(a);
  if (n < lo || n > hi)
    return mproc__err(MPROC_ETYPE, "%s() takes %lu to %lu arguments (%lu "
                                   "given)",
                      m, (unsigned long)lo, (unsigned long)hi,
                      (unsigned long)n);
  return 0;
}

static int truth(const mproc_value *v, int dflt) {
  if (!v)
    return dflt;
  switch (v->type) {
  case MPROC_T_NONE: return 0;
  case MPROC_T_BOOL:
  case MPROC_T_INT: return v->u.i != 0;
  case MPROC_T_FLOAT: return v->u.f != 0;
  default: return 1;
  }
}

/* A timeout argument: None (or absent) -> -1 (forever), else seconds. */
static int seconds(const mproc_value *v, double *t) {
  if (!v || v->type == MPROC_T_NONE) {
    *t = -1;
    return 0;
  }
  if (v->type == MPROC_T_INT || v->type == MPROC_T_BOOL)
    *t = (double)v->u.i;
  else if (v->type == MPROC_T_FLOAT)
    *t = v->u.f;
  else
    return mproc__err(MPROC_ETYPE, "a timeout must be a number or None");
  if (*t != *t)
    return mproc__err(MPROC_EINVAL, "a timeout must not be NaN");
  return 0;
}

/* The deadline of t seconds (< 0: none; 0: already passed = a poll). */
static double deadline_of(double t) {
  return t < 0 ? -1 : mproc__plat_monotonic() + t;
}

static int ret(mproc_value **res, mproc_value *v) {
  if (!v)
    return MPROC_ENOMEM;
  *res = v;
  return 0;
}

static int no_method(const char *type, const char *m) {
  return mproc__err(MPROC_ENOTSUP, "'%s' proxy has no method '%s'", type, m);
}

static int strdup_out(const char *s, char **out) {
  *out = malloc(strlen(s) + 1);
  if (!*out)
    return mproc__err(MPROC_ENOMEM, "repr");
  strcpy(*out, s);
  return 0;
}

/* ---- the lock ---------------------------------------------------------------- */

typedef struct mlock {
  uint64_t sess, tid; /* the holder (sess 0: free) */
  uint32_t count;
  int recursive;
  int dead; /* its holder died: the next acquirer hears of it */
} mlock;

/* 0 acquired, MPROC_EOWNERDEAD acquired from a dead holder, ETIMEDOUT,
 * EEOF (caller gone). */
static int lk_acquire(mproc__mcall *k, mlock *l, double deadline) {
  for (;;) {
    int rc;
    if (l->count == 0) {
      l->sess = k->sess;
      l->tid = k->tid;
      l->count = 1;
      if (l->dead) {
        l->dead = 0;
        return mproc__err(MPROC_EOWNERDEAD, "the previous owner died "
                                            "holding the lock");
      }
      return 0;
    }
    if (l->recursive && l->sess == k->sess && l->tid == k->tid) {
      l->count++;
      return 0;
    }
    if ((rc = mproc__mcall_wait(k, deadline)) != 0)
      return rc;
  }
}

static int lk_mine(mproc__mcall *k, const mlock *l) {
  return l->count && l->sess == k->sess && l->tid == k->tid;
}

static int lk_release(mproc__mcall *k, mlock *l) {
  if (l->count == 0)
    return mproc__err(l->recursive ? MPROC_ENOTOWNER : MPROC_EINVAL,
                      l->recursive ? "cannot release un-acquired lock"
                                   : "release unlocked lock");
  if (l->recursive && !lk_mine(k, l))
    return mproc__err(MPROC_ENOTOWNER, "cannot release un-acquired lock");
  if (--l->count == 0)
    l->sess = l->tid = 0;
  mproc__mcall_wake(k);
  return 0;
}

static void lk_dead(mlock *l, uint64_t sess) {
  if (l->count && l->sess == sess) {
    l->count = 0;
    l->sess = l->tid = 0;
    l->dead = 1;
  }
}

/* acquire(blocking=True, timeout=-1) -> True / False. */
static int acquire_call(mproc__mcall *k, mlock *l, mproc_value *a,
                        mproc_value **res) {
  double t = -1;
  int rc, blocking = truth(arg(a, 0), 1);
  if (want_args("acquire", a, 0, 2) || (rc = seconds(arg(a, 1), &t)) != 0)
    return MPROC_ETYPE;
  if (!blocking && t != -1)
    return mproc__err(MPROC_EINVAL, "can't specify a timeout for a "
                                    "non-blocking call");
  if (t < 0 && t != -1)
    return mproc__err(MPROC_EINVAL, "timeout value must be a non-negative "
                                    "number");
  rc = lk_acquire(k, l, blocking ? deadline_of(t) : deadline_of(0));
  if (rc == MPROC_ETIMEDOUT)
    return ret(res, mproc_bool(0));
  return rc ? rc : ret(res, mproc_bool(1));
}

static int lock_create(int recursive, mproc_value *a, void **c) {
  mlock *l;
  if (nargs(a))
    return mproc__err(MPROC_ETYPE, "Lock() takes no arguments");
  if (!(l = calloc(1, sizeof *l)))
    return mproc__err(MPROC_ENOMEM, "lock");
  l->recursive = recursive;
  *c = l;
  return 0;
}
static int lock_new(mproc_value *a, void **c) { return lock_create(0, a, c); }
static int rlock_new(mproc_value *a, void **c) { return lock_create(1, a, c); }

static int lock_call(mproc__mcall *k, void *c, const char *m, mproc_value *a,
                     mproc_value **res) {
  mlock *l = (mlock *)c;
  if (!strcmp(m, "acquire") || !strcmp(m, "__enter__"))
    return acquire_call(k, l, a, res);
  if (!strcmp(m, "release") || !strcmp(m, "__exit__")) {
    int rc = lk_release(k, l);
    return rc ? rc : ret(res, mproc_none());
  }
  if (!strcmp(m, "locked"))
    return ret(res, mproc_bool(l->count != 0));
  return no_method(l->recursive ? "RLock" : "Lock", m);
}

static void lock_dead(mproc__mcall *k, void *c, uint64_t sess) {
  (void)k;
  lk_dead((mlock *)c, sess);
}

static int lock_repr(void *c, char **out) {
  mlock *l = (mlock *)c;
  char buf[96];
  if (l->recursive)
    snprintf(buf, sizeof buf, "<%s _thread.RLock object owner=%llu count=%u>",
             l->count ? "locked" : "unlocked", (unsigned long long)l->tid,
             (unsigned)l->count);
  else
    snprintf(buf, sizeof buf, "<%s _thread.lock object>",
             l->count ? "locked" : "unlocked");
  return strdup_out(buf, out);
}

/* ---- Semaphore -------------------------------------------------------------------- */

typedef struct msem {
  int64_t value, bound; /* bound < 0: unbounded */
} msem;

static int sem_create(int bounded, mproc_value *a, void **c) {
  msem *s;
  int64_t v = 1;
  if (nargs(a) > 1)
    return mproc__err(MPROC_ETYPE, "Semaphore() takes at most 1 argument");
  if (nargs(a) == 1) {
    if (arg(a, 0)->type != MPROC_T_INT)
      return mproc__err(MPROC_ETYPE, "the semaphore value must be an int");
    v = arg(a, 0)->u.i;
  }
  if (v < 0)
    return mproc__err(MPROC_EINVAL, "semaphore initial value must be >= 0");
  if (!(s = calloc(1, sizeof *s)))
    return mproc__err(MPROC_ENOMEM, "semaphore");
  s->value = v;
  s->bound = bounded ? v : -1;
  *c = s;
  return 0;
}
static int sem_new(mproc_value *a, void **c) { return sem_create(0, a, c); }
static int bsem_new(mproc_value *a, void **c) { return sem_create(1, a, c); }

static int sem_call(mproc__mcall *k, void *c, const char *m, mproc_value *a,
                    mproc_value **res) {
  msem *s = (msem *)c;
  if (!strcmp(m, "acquire") || !strcmp(m, "__enter__")) {
    double t = -1, dl;
    int rc, blocking = truth(arg(a, 0), 1);
    if (want_args(m, a, 0, 2) || (rc = seconds(arg(a, 1), &t)) != 0)
      return MPROC_ETYPE;
    if (!blocking && t != -1)
      return mproc__err(MPROC_EINVAL, "can't specify timeout for "
                                      "non-blocking acquire");
    dl = blocking ? deadline_of(t) : deadline_of(0);
    while (s->value == 0) {
      rc = mproc__mcall_wait(k, dl);
      if (rc == MPROC_ETIMEDOUT)
        return ret(res, mproc_bool(0));
      if (rc)
        return rc;
    }
    s->value--;
    return ret(res, mproc_bool(1));
  }
  if (!strcmp(m, "release") || !strcmp(m, "__exit__")) {
    if (s->bound >= 0 && s->value >= s->bound)
      return mproc__err(MPROC_EINVAL, "Semaphore released too many times");
    s->value++;
    mproc__mcall_wake(k);
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "get_value"))
    return ret(res, mproc_int(s->value));
  return no_method(s->bound >= 0 ? "BoundedSemaphore" : "Semaphore", m);
}

static int sem_repr(void *c, char **out) {
  char buf[64];
  snprintf(buf, sizeof buf, "<Semaphore value=%lld>",
           (long long)((msem *)c)->value);
  return strdup_out(buf, out);
}

/* ---- Event ------------------------------------------------------------------------ */

typedef struct mevent {
  int flag;
} mevent;

static int event_new(mproc_value *a, void **c) {
  if (nargs(a))
    return mproc__err(MPROC_ETYPE, "Event() takes no arguments");
  if (!(*c = calloc(1, sizeof(mevent))))
    return mproc__err(MPROC_ENOMEM, "event");
  return 0;
}

static int event_call(mproc__mcall *k, void *c, const char *m, mproc_value *a,
                      mproc_value **res) {
  mevent *e = (mevent *)c;
  if (!strcmp(m, "is_set"))
    return ret(res, mproc_bool(e->flag));
  if (!strcmp(m, "set") || !strcmp(m, "clear")) {
    e->flag = m[0] == 's';
    mproc__mcall_wake(k);
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "wait")) {
    double t = -1, dl;
    int rc;
    if (want_args(m, a, 0, 1) || seconds(arg(a, 0), &t))
      return MPROC_ETYPE;
    dl = deadline_of(t < 0 && arg(a, 0) && arg(a, 0)->type != MPROC_T_NONE
                         ? 0
                         : t);
    while (!e->flag) {
      rc = mproc__mcall_wait(k, dl);
      if (rc == MPROC_ETIMEDOUT)
        return ret(res, mproc_bool(0));
      if (rc)
        return rc;
    }
    return ret(res, mproc_bool(1));
  }
  return no_method("Event", m);
}

static int event_repr(void *c, char **out) {
  return strdup_out(((mevent *)c)->flag ? "<Event set>" : "<Event unset>",
                    out);
}

/* ---- Condition -------------------------------------------------------------------- */

typedef struct mcond {
  mlock lock; /* an RLock, as Python's default Condition() */
  uint64_t waiting, wake;
} mcond;

static int cond_new(mproc_value *a, void **c) {
  mcond *x;
  if (nargs(a) && arg(a, 0)->type != MPROC_T_NONE)
    return mproc__err(MPROC_ENOTSUP, "a manager Condition makes its own "
                                     "RLock (no lock argument)");
  if (!(x = calloc(1, sizeof *x)))
    return mproc__err(MPROC_ENOMEM, "condition");
  x->lock.recursive = 1;
  *c = x;
  return 0;
}

static int cond_call(mproc__mcall *k, void *c, const char *m, mproc_value *a,
                     mproc_value **res) {
  mcond *x = (mcond *)c;
  if (!strcmp(m, "acquire") || !strcmp(m, "__enter__"))
    return acquire_call(k, &x->lock, a, res);
  if (!strcmp(m, "release") || !strcmp(m, "__exit__")) {
    int rc = lk_release(k, &x->lock);
    return rc ? rc : ret(res, mproc_none());
  }
  if (!strcmp(m, "wait")) {
    double t = -1, dl;
    uint32_t depth;
    int rc, woken = 0, rc2;
    if (want_args(m, a, 0, 1) || seconds(arg(a, 0), &t))
      return MPROC_ETYPE;
    if (!lk_mine(k, &x->lock))
      return mproc__err(MPROC_ENOTOWNER, "cannot wait on un-acquired lock");
    dl = deadline_of(t < 0 && arg(a, 0) && arg(a, 0)->type != MPROC_T_NONE
                         ? 0
                         : t);
    depth = x->lock.count; /* let go of every level */
    x->lock.count = 0;
    x->lock.sess = x->lock.tid = 0;
    x->waiting++;
    mproc__mcall_wake(k);
    for (;;) {
      if (x->wake) {
        x->wake--;
        woken = 1;
        break;
      }
      if ((rc = mproc__mcall_wait(k, dl)) != 0)
        break;
    }
    x->waiting--;
    if (!woken && rc == MPROC_EEOF)
      return rc; /* the caller has gone: it takes the lock back never */
    rc2 = lk_acquire(k, &x->lock, -1);
    if (rc2 == 0 || rc2 == MPROC_EOWNERDEAD)
      x->lock.count = depth;
    if (rc2)
      return rc2;
    return ret(res, mproc_bool(woken));
  }
  if (!strcmp(m, "notify") || !strcmp(m, "notify_all")) {
    int64_t n = 1;
    if (!lk_mine(k, &x->lock))
      return mproc__err(MPROC_ENOTOWNER, "cannot notify on un-acquired "
                                         "lock");
    if (m[6] == '_')
      n = (int64_t)x->waiting;
    else if (nargs(a) && arg(a, 0)->type == MPROC_T_INT)
      n = arg(a, 0)->u.i;
    if (n > 0) {
      x->wake += (uint64_t)n;
      if (x->wake > x->waiting)
        x->wake = x->waiting;
    }
    mproc__mcall_wake(k);
    return ret(res, mproc_none());
  }
  return no_method("Condition", m);
}

static void cond_dead(mproc__mcall *k, void *c, uint64_t sess) {
  (void)k;
  lk_dead(&((mcond *)c)->lock, sess);
}

static int cond_repr(void *c, char **out) {
  char buf[96];
  mcond *x = (mcond *)c;
  snprintf(buf, sizeof buf, "<Condition(<%s _thread.RLock>, %llu)>",
           x->lock.count ? "locked" : "unlocked",
           (unsigned long long)x->waiting);
  return strdup_out(buf, out);
}

/* ---- Barrier ------------------------------------------------------------------------ */

typedef struct mbarrier {
  int64_t parties, count;
  uint64_t gen;
  int broken;
  double timeout; /* the default (< 0: none) */
} mbarrier;

static int barrier_new(mproc_value *a, void **c) {
  mbarrier *b;
  double t = -1;
  if (want_args("Barrier", a, 1, 3) || arg(a, 0)->type != MPROC_T_INT)
    return mproc__err(MPROC_ETYPE, "Barrier(parties, action=None, "
                                   "timeout=None)");
  if (arg(a, 1) && arg(a, 1)->type != MPROC_T_NONE)
    return mproc__err(MPROC_ENOTSUP, "a manager Barrier takes no action "
                                     "(functions do not travel to it)");
  if (seconds(arg(a, 2), &t))
    return MPROC_ETYPE;
  if (arg(a, 0)->u.i < 1)
    return mproc__err(MPROC_EINVAL, "parties must be >= 1");
  if (!(b = calloc(1, sizeof *b)))
    return mproc__err(MPROC_ENOMEM, "barrier");
  b->parties = arg(a, 0)->u.i;
  b->timeout = t;
  *c = b;
  return 0;
}

static int barrier_call(mproc__mcall *k, void *c, const char *m,
                        mproc_value *a, mproc_value **res) {
  mbarrier *b = (mbarrier *)c;
  if (!strcmp(m, "wait")) {
    double t = b->timeout;
    int64_t idx;
    uint64_t gen = b->gen;
    int rc;
    if (want_args(m, a, 0, 1) ||
        (arg(a, 0) && arg(a, 0)->type != MPROC_T_NONE &&
         seconds(arg(a, 0), &t)))
      return MPROC_ETYPE;
    if (b->broken)
      return mproc__err(MPROC_EBROKEN, "BrokenBarrierError");
    idx = b->count++;
    if (b->count == b->parties) {
      b->count = 0;
      b->gen++;
      mproc__mcall_wake(k);
      return ret(res, mproc_int(idx));
    }
    t = deadline_of(t);
    while (b->gen == gen && !b->broken) {
      if ((rc = mproc__mcall_wait(k, t)) != 0) {
        if (b->gen != gen)
          break;
        b->count--;
        b->broken = 1; /* a timeout (or a vanished waiter) breaks it */
        mproc__mcall_wake(k);
        return rc == MPROC_EEOF ? rc
                                : mproc__err(MPROC_EBROKEN,
                                             "BrokenBarrierError");
      }
    }
    if (b->gen == gen)
      return mproc__err(MPROC_EBROKEN, "BrokenBarrierError");
    return ret(res, mproc_int(idx));
  }
  if (!strcmp(m, "abort") || !strcmp(m, "reset")) {
    if (m[0] == 'a') {
      b->broken = 1;
    } else {
      if (b->count) /* current waiters see a broken barrier */
        b->gen++, b->broken = 0;
      b->broken = 0;
      b->count = 0;
    }
    mproc__mcall_wake(k);
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "parties"))
    return ret(res, mproc_int(b->parties));
  if (!strcmp(m, "n_waiting"))
    return ret(res, mproc_int(b->count));
  if (!strcmp(m, "broken"))
    return ret(res, mproc_bool(b->broken));
  return no_method("Barrier", m);
}

static int barrier_repr(void *c, char **out) {
  char buf[96];
  mbarrier *b = (mbarrier *)c;
  snprintf(buf, sizeof buf, "<Barrier parties=%lld n_waiting=%lld broken=%s>",
           (long long)b->parties, (long long)b->count,
           b->broken ? "True" : "False");
  return strdup_out(buf, out);
}

/* ---- Queue ---------------------------------------------------------------------------- */

typedef struct mqueue {
  mproc_value *items; /* a list: head first */
  int64_t maxsize;    /* <= 0: unbounded */
  int64_t unfinished;
  int joinable;
} mqueue;

static int queue_create(int joinable, mproc_value *a, void **c) {
  mqueue *q;
  if (nargs(a) > 1 || (nargs(a) == 1 && arg(a, 0)->type != MPROC_T_INT))
    return mproc__err(MPROC_ETYPE, "Queue(maxsize=0)");
  if (!(q = calloc(1, sizeof *q)) || !(q->items = mproc_list())) {
    free(q);
    return mproc__err(MPROC_ENOMEM, "queue");
  }
  q->maxsize = nargs(a) ? arg(a, 0)->u.i : 0;
  q->joinable = joinable;
  *c = q;
  return 0;
}
static int queue_new(mproc_value *a, void **c) { return queue_create(0, a, c); }
static int jqueue_new(mproc_value *a, void **c) {
  return queue_create(1, a, c);
}

static void queue_free(void *c) {
  mqueue *q = (mqueue *)c;
  mproc_value_free(q->items);
  free(q);
}

/* (block, timeout) at args[i], args[i+1] -> a deadline. */
static int block_deadline(mproc_value *a, size_t i, double *dl) {
  double t = -1;
  if (seconds(arg(a, i + 1), &t))
    return MPROC_ETYPE;
  if (!truth(arg(a, i), 1)) {
    *dl = deadline_of(0);
    return 0;
  }
  if (arg(a, i + 1) && arg(a, i + 1)->type != MPROC_T_NONE && t < 0)
    return mproc__err(MPROC_EINVAL, "'timeout' must be a non-negative "
                                    "number");
  *dl = deadline_of(t);
  return 0;
}

static int queue_call(mproc__mcall *k, void *c, const char *m, mproc_value *a,
                      mproc_value **res) {
  mqueue *q = (mqueue *)c;
  size_t n = q->items->u.list.n;
  int rc;
  if (!strcmp(m, "put") || !strcmp(m, "put_nowait")) {
    double dl;
    int nowait = m[3] == '_';
    if (want_args(m, a, 1, nowait ? 1 : 3))
      return MPROC_ETYPE;
    if (nowait)
      dl = deadline_of(0);
    else if ((rc = block_deadline(a, 1, &dl)) != 0)
      return rc;
    while (q->maxsize > 0 && (int64_t)q->items->u.list.n >= q->maxsize) {
      rc = mproc__mcall_wait(k, dl);
      if (rc == MPROC_ETIMEDOUT)
        return mproc__err(MPROC_EFULL, "queue.Full");
      if (rc)
        return rc;
    }
    if ((rc = mproc_list_append(q->items, a->u.list.items[0])) != 0)
      return rc;
    a->u.list.items[0] = mproc_none();
    q->unfinished++;
    mproc__mcall_wake(k);
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "get") || !strcmp(m, "get_nowait")) {
    double dl;
    mproc_value *v;
    if (want_args(m, a, 0, m[3] == '_' ? 0 : 2))
      return MPROC_ETYPE;
    if (m[3] == '_')
      dl = deadline_of(0);
    else if ((rc = block_deadline(a, 0, &dl)) != 0)
      return rc;
    while (q->items->u.list.n == 0) {
      rc = mproc__mcall_wait(k, dl);
      if (rc == MPROC_ETIMEDOUT)
        return mproc__err(MPROC_EEMPTY, "queue.Empty");
      if (rc)
        return rc;
    }
    v = q->items->u.list.items[0];
    memmove(q->items->u.list.items, q->items->u.list.items + 1,
            (q->items->u.list.n - 1) * sizeof *q->items->u.list.items);
    q->items->u.list.n--;
    mproc__mcall_wake(k);
    *res = v;
    return 0;
  }
  if (!strcmp(m, "qsize"))
    return ret(res, mproc_int((int64_t)n));
  if (!strcmp(m, "empty"))
    return ret(res, mproc_bool(n == 0));
  if (!strcmp(m, "full"))
    return ret(res, mproc_bool(q->maxsize > 0 && (int64_t)n >= q->maxsize));
  if (q->joinable && !strcmp(m, "task_done")) {
    if (q->unfinished <= 0)
      return mproc__err(MPROC_EINVAL, "task_done() called too many times");
    q->unfinished--;
    mproc__mcall_wake(k);
    return ret(res, mproc_none());
  }
  if (q->joinable && !strcmp(m, "join")) {
    while (q->unfinished > 0)
      if ((rc = mproc__mcall_wait(k, -1)) != 0)
        return rc;
    return ret(res, mproc_none());
  }
  return no_method(q->joinable ? "JoinableQueue" : "Queue", m);
}

static int queue_repr(void *c, char **out) {
  char buf[64];
  snprintf(buf, sizeof buf, "<queue.Queue qsize=%lu>",
           (unsigned long)((mqueue *)c)->items->u.list.n);
  return strdup_out(buf, out);
}

/* ---- the table ----------------------------------------------------------------------- */

#define SYNC_TYPE(id, proxy, mk, call, fr, dead, repr)                       \
  { id, proxy, NULL, NULL, mk, call, fr, dead, repr, NULL }
static const mproc__mtype sync_types[] = {
    SYNC_TYPE("Queue", "AutoProxy[Queue]", queue_new, queue_call, queue_free,
              NULL, queue_repr),
    SYNC_TYPE("JoinableQueue", "AutoProxy[JoinableQueue]", jqueue_new,
              queue_call, queue_free, NULL, queue_repr),
    SYNC_TYPE("Lock", "AcquirerProxy", lock_new, lock_call, free, lock_dead,
              lock_repr),
    SYNC_TYPE("RLock", "AcquirerProxy", rlock_new, lock_call, free, lock_dead,
              lock_repr),
    SYNC_TYPE("Semaphore", "AcquirerProxy", sem_new, sem_call, free, NULL,
              sem_repr),
    SYNC_TYPE("BoundedSemaphore", "AcquirerProxy", bsem_new, sem_call, free,
              NULL, sem_repr),
    SYNC_TYPE("Event", "EventProxy", event_new, event_call, free, NULL,
              event_repr),
    SYNC_TYPE("Condition", "ConditionProxy", cond_new, cond_call, free,
              cond_dead, cond_repr),
    SYNC_TYPE("Barrier", "BarrierProxy", barrier_new, barrier_call, free, NULL,
              barrier_repr),
};

const mproc__mtype *mproc__msync_find(const char *typeid) {
  size_t i;
  for (i = 0; i < sizeof sync_types / sizeof sync_types[0]; i++)
    if (!strcmp(sync_types[i].typeid, typeid))
      return &sync_types[i];
  return NULL;
}
