/*
 * test_sync.c - Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition
 * and Barrier between processes and threads: Python's rules, timeouts,
 * owner death, stress, and objects that may travel only at spawn
 * (docs/sync.md section 8).
 *
 * Children are this binary re-executed and never use check's macros: a
 * child's exit code is its report.  0 is success; 1..31 is the negated
 * mproc error code of the call that went wrong (26 is MPROC_ENOTOWNER...);
 * 50 + i is a barrier arrival index i; 100 and up is a wrong value.  The
 * parent asserts.  Test children are daemons, so a failed assertion (which
 * leaves a CK_NOFORK test early) does not keep the binary waiting for
 * them at exit.
 *
 * Timed assertions only bound a timeout from below (and generously from
 * above); none asserts speed.
 */
#include <math.h>
#include <stdio.h>

#include "children.h"

/* ---- helpers for the parent --------------------------------------------- */

static void expect_word(mproc_conn *c, const char *word) {
  mproc_value *v = NULL;
  ck_assert_msg(mproc_conn_poll(c, 60) == 1, "no '%s' from the child in 60 s",
                word);
  ck_mproc_ok(mproc_conn_recv(c, &v));
  ck_assert_pstr_eq(mproc_value_str(v), word);
  mproc_value_free(v);
}

/* ck_assert that elapsed seconds lie in [lo, hi). */
#define ck_elapsed(t0, lo, hi)                                                 \
  do {                                                                         \
    double ck_el_ = now() - (t0);                                              \
    ck_assert_msg(ck_el_ >= (lo) && ck_el_ < (hi),                             \
                  "took %.3f s, wanted [%.3f, %.3f)", ck_el_, (double)(lo),    \
                  (double)(hi));                                               \
  } while (0)

/* ---- lock-like objects: a Lock, an RLock, a Value's lock, a Condition's - */

enum { K_LOCK, K_RLOCK, K_VALUE, K_COND, K_NKINDS };

typedef struct lockish {
  int kind;
  mproc_lock *l;   /* K_LOCK, K_RLOCK */
  mproc_shared *v; /* K_VALUE: a 'q' Value with its default RLock */
  mproc_cond *c;   /* K_COND: a Condition with its default RLock */
} lockish;

static int take(const lockish *o, double timeout) {
  switch (o->kind) {
  case K_VALUE:
    return mproc_shared_acquire(o->v, timeout);
  case K_COND:
    return mproc_cond_acquire(o->c, timeout);
  default:
    return mproc_lock_acquire(o->l, timeout);
  }
}

static int give(const lockish *o) {
  switch (o->kind) {
  case K_VALUE:
    return mproc_shared_release(o->v);
  case K_COND:
    return mproc_cond_release(o->c);
  default:
    return mproc_lock_release(o->l);
  }
}

static mproc_lock *lock_of(const lockish *o) {
  switch (o->kind) {
  case K_VALUE:
    return mproc_shared_get_lock(o->v);
  case K_COND:
    return mproc_cond_lock(o->c);
  default:
    return o->l;
  }
}

static void lockish_new(lockish *o, int kind) {
  memset(o, 0, sizeof *o);
  o->kind = kind;
  switch (kind) {
  case K_LOCK:
    ck_mproc_ok(mproc_lock_new(&o->l));
    break;
  case K_RLOCK:
    ck_mproc_ok(mproc_rlock_new(&o->l));
    break;
  case K_VALUE:
    ck_mproc_ok(mproc_shared_value(&o->v, 'q', NULL, NULL));
    break;
  default:
    ck_mproc_ok(mproc_cond_new(&o->c, NULL));
    break;
  }
}

static mproc_value *lockish_ref(const lockish *o) {
  switch (o->kind) {
  case K_VALUE:
    return mproc_shared_ref(o->v);
  case K_COND:
    return mproc_cond_ref(o->c);
  default:
    return mproc_lock_ref(o->l);
  }
}

static void lockish_free(lockish *o) {
  mproc_lock_free(o->l);
  mproc_shared_free(o->v);
  mproc_cond_free(o->c);
}

/* In a child: the object of kind in argument i (borrowed). */
static int lockish_arg(lockish *o, int kind, mproc_value *args, size_t i) {
  memset(o, 0, sizeof *o);
  o->kind = kind;
  switch (kind) {
  case K_VALUE:
    o->v = arg_shared(args, i);
    return o->v ? 0 : -1;
  case K_COND:
    o->c = arg_cond(args, i);
    return o->c ? 0 : -1;
  default:
    o->l = arg_lock(args, i);
    return o->l ? 0 : -1;
  }
}

/*
 * args [kind, object, conn, hold seconds, depth]: takes the object depth
 * times (a Value's data is then set to 7, a half-done update), says
 * "held", holds it for the given time, releases every level.
 */
static int holder(mproc_value *args) {
  lockish o;
  int depth = (int)arg_i64(args, 4), i;
  if (lockish_arg(&o, (int)arg_i64(args, 0), args, 1) != 0)
    return 101;
  for (i = 0; i < depth; i++)
    CHILD_CK(take(&o, 30), 0);
  if (o.kind == K_VALUE)
    *(volatile int64_t *)mproc_shared_data(o.v) = 7;
  CHILD_CK(say(arg_conn(args, 2), "held"), 0);
  mproc_sleep(arg_f(args, 3));
  for (i = 0; i < depth; i++)
    CHILD_CK(give(&o), 0);
  return 0;
}

typedef struct holding {
  mproc_process *p;
  mproc_conn *a, *b;
} holding;

/* Start a holder child and wait until it holds o. */
static void holding_start(holding *h, const lockish *o, double hold,
                          int depth) {
  ck_mproc_ok(mproc_pipe(&h->a, &h->b, 1));
  h->p = start(holder, mproc_build("[i O C f i]", o->kind, lockish_ref(o), h->b,
                                   hold, depth));
  expect_word(h->a, "held");
}

static void holding_close(holding *h) {
  mproc_conn_free(h->a);
  mproc_conn_free(h->b);
}

/* SIGKILL / TerminateProcess the holder and reap it. */
static void holding_kill(holding *h) {
  ck_mproc_ok(mproc_process_kill(h->p));
  ck_exit(h->p, -9);
  holding_close(h);
}

/* ---- other children ----------------------------------------------------- */

/*
 * args [op, object, delay]: sleeps delay seconds, then does op once and
 * exits with its code: "release" (Lock/RLock), "acquire0" (Lock/RLock,
 * timeout 0), "sem_release", "event_set".
 */
static int later(mproc_value *args) {
  const char *op = mproc_value_str(mproc_list_get(args, 0));
  mproc_sleep(arg_f(args, 2));
  if (!op)
    return 101;
  if (strcmp(op, "release") == 0)
    return code_of(mproc_lock_release(arg_lock(args, 1)));
  if (strcmp(op, "acquire0") == 0)
    return code_of(mproc_lock_acquire(arg_lock(args, 1), 0));
  if (strcmp(op, "sem_release") == 0)
    return code_of(mproc_sem_release(arg_sem(args, 1)));
  if (strcmp(op, "event_set") == 0)
    return code_of(mproc_event_set(arg_event(args, 1)));
  return 102;
}

static mproc_process *start_later(const char *op, mproc_value *obj,
                                  double delay) {
  return start(later, mproc_build("[s O f]", op, obj, delay));
}

/* args [barrier, timeout]: 50 + the arrival index, or the error. */
static int barrier_waiter(mproc_value *args) {
  int rc = mproc_barrier_wait(arg_barrier(args, 0), arg_f(args, 1));
  return rc >= 0 ? 50 + rc : -rc;
}

static mproc_process *start_barrier_waiter(mproc_barrier *b, double t) {
  return start(barrier_waiter, mproc_build("[O f]", mproc_barrier_ref(b), t));
}

/* Wait (at most 60 s) until n parties wait at b. */
static void await_n_waiting(mproc_barrier *b, int n) {
  double t0 = now();
  while (mproc_barrier_n_waiting(b) != n && now() - t0 < 60)
    mproc_sleep(0.005);
  ck_assert_int_eq(mproc_barrier_n_waiting(b), n);
}

/* ---- threads ------------------------------------------------------------ */

typedef struct thread_op {
  const lockish *o;
  mproc_event *done;
  int acquire_rc, release_rc, mine, release_first;
} thread_op;

/* release_first: release (must fail) and try acquire(0), for rule tests.
 * Else acquire FOREVER, note whether held, release, set done. */
static int thread_body(void *arg) {
  thread_op *t = arg;
  if (t->release_first) {
    t->release_rc = give(t->o);
    t->mine = mproc_lock_is_mine(lock_of(t->o));
    t->acquire_rc = take(t->o, 0);
    if (t->acquire_rc == 0)
      give(t->o);
    return 0;
  }
  t->acquire_rc = take(t->o, MPROC_FOREVER);
  t->mine = mproc_lock_is_mine(lock_of(t->o));
  if (t->acquire_rc == 0 || t->acquire_rc == MPROC_EOWNERDEAD)
    t->release_rc = give(t->o);
  if (t->done)
    mproc_event_set(t->done);
  return 0;
}

static void run_thread(thread_op *op) {
  mproc_thread *t;
  int result = -1;
  ck_mproc_ok(mproc_thread_start(&t, thread_body, op));
  ck_mproc_ok(mproc_thread_join(t, &result));
  ck_assert_int_eq(result, 0);
}

/* ======================================================================== */
/* Rules                                                                    */
/* ======================================================================== */

START_TEST(lock_release_unlocked) {
  mproc_lock *l;
  ck_mproc_ok(mproc_lock_new(&l));
  ck_assert_int_eq(mproc_lock_is_recursive(l), 0);
  ck_mproc(mproc_lock_release(l), MPROC_EINVAL);
  ck_assert_ptr_nonnull(strstr(mproc_last_error(), "released too many times"));
  ck_mproc_ok(mproc_lock_acquire(l, 0));
  ck_assert_int_eq(mproc_lock_is_mine(l), 1);
  /* Not recursive: the owner waits like anyone else (as Python). */
  ck_mproc(mproc_lock_acquire(l, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_lock_release(l));
  ck_assert_int_eq(mproc_lock_is_mine(l), 0);
  ck_mproc(mproc_lock_release(l), MPROC_EINVAL);
  ck_assert_ptr_nonnull(strstr(mproc_last_error(), "released too many times"));
  mproc_lock_free(l);
}
END_TEST

START_TEST(lock_released_by_other_process_and_thread) {
  lockish o;
  thread_op op;
  lockish_new(&o, K_LOCK);
  ck_mproc_ok(mproc_lock_acquire(o.l, 0));
  /* Any process may release a Lock (Python's rule). */
  ck_exit(start_later("release", mproc_lock_ref(o.l), 0), 0);
  ck_assert_int_eq(mproc_lock_is_mine(o.l), 0);
  ck_mproc_ok(mproc_lock_acquire(o.l, 0));
  /* ...and any thread. */
  memset(&op, 0, sizeof op);
  op.o = &o;
  op.release_first = 1;
  run_thread(&op);
  ck_mproc_ok(op.release_rc);
  ck_mproc_ok(op.acquire_rc); /* it was free, the thread took and gave it */
  ck_mproc_ok(mproc_lock_acquire(o.l, 0));
  ck_mproc_ok(mproc_lock_release(o.l));
  /* Released by the child when nobody holds it: the Lock rule there too. */
  ck_exit(start_later("release", mproc_lock_ref(o.l), 0),
          EXIT_FOR(MPROC_EINVAL));
  lockish_free(&o);
}
END_TEST

START_TEST(rlock_recursion_and_owner) {
  lockish o;
  thread_op op;
  lockish_new(&o, K_RLOCK);
  ck_assert_int_eq(mproc_lock_is_recursive(o.l), 1);
  ck_mproc(mproc_lock_release(o.l), MPROC_ENOTOWNER);
  ck_mproc_ok(mproc_lock_acquire(o.l, 0));
  ck_mproc_ok(mproc_lock_acquire(o.l, 0));
  ck_mproc_ok(mproc_lock_acquire(o.l, MPROC_FOREVER));
  ck_assert_int_eq(mproc_lock_is_mine(o.l), 1);

  /* Another thread may neither release nor take it. */
  memset(&op, 0, sizeof op);
  op.o = &o;
  op.release_first = 1;
  run_thread(&op);
  ck_mproc(op.release_rc, MPROC_ENOTOWNER);
  ck_assert_int_eq(op.mine, 0);
  ck_mproc(op.acquire_rc, MPROC_ETIMEDOUT);

  /* Nor another process. */
  ck_exit(start_later("release", mproc_lock_ref(o.l), 0),
          EXIT_FOR(MPROC_ENOTOWNER));
  ck_exit(start_later("acquire0", mproc_lock_ref(o.l), 0),
          EXIT_FOR(MPROC_ETIMEDOUT));

  /* Depth 3: three releases, and the lock is free; a 4th is an error. */
  ck_mproc_ok(mproc_lock_release(o.l));
  ck_mproc_ok(mproc_lock_release(o.l));
  ck_assert_int_eq(mproc_lock_is_mine(o.l), 1);
  ck_exit(start_later("acquire0", mproc_lock_ref(o.l), 0),
          EXIT_FOR(MPROC_ETIMEDOUT));
  ck_mproc_ok(mproc_lock_release(o.l));
  ck_assert_int_eq(mproc_lock_is_mine(o.l), 0);
  ck_mproc(mproc_lock_release(o.l), MPROC_ENOTOWNER);
  /* Free for others now: a child takes it (and exits holding it; a thread
   * or process that ends holding an RLock is not owner death until the
   * process is gone - here it is, so the next acquirer is told). */
  ck_exit(start_later("acquire0", mproc_lock_ref(o.l), 0), 0);
  ck_mproc(mproc_lock_acquire(o.l, 5), MPROC_EOWNERDEAD);
  ck_mproc_ok(mproc_lock_release(o.l));
  lockish_free(&o);
}
END_TEST

START_TEST(semaphore_rules) {
  mproc_sem *s, *bs;
  int i;
  ck_mproc(mproc_sem_new(&s, -1), MPROC_EINVAL);
  ck_mproc(mproc_bsem_new(&s, -1), MPROC_EINVAL);

  ck_mproc_ok(mproc_sem_new(&s, 0));
  ck_assert_int_eq(mproc_sem_get_value(s), 0);
  ck_mproc(mproc_sem_acquire(s, 0), MPROC_ETIMEDOUT);
  for (i = 1; i <= 5; i++) {
    ck_mproc_ok(mproc_sem_release(s));
    ck_assert_int_eq(mproc_sem_get_value(s), i);
  }
  /* A child's release counts in the parent. */
  ck_exit(start_later("sem_release", mproc_sem_ref(s), 0), 0);
  ck_assert_int_eq(mproc_sem_get_value(s), 6);
  for (i = 0; i < 6; i++)
    ck_mproc_ok(mproc_sem_acquire(s, 0));
  ck_mproc(mproc_sem_acquire(s, 0), MPROC_ETIMEDOUT);
  ck_assert_int_eq(mproc_sem_get_value(s), 0);
  mproc_sem_free(s);

  ck_mproc_ok(mproc_bsem_new(&bs, 2));
  ck_assert_int_eq(mproc_sem_get_value(bs), 2);
  ck_mproc(mproc_sem_release(bs), MPROC_EINVAL);
  ck_assert_str_eq(mproc_last_error(),
                   "semaphore or lock released too many times");
  ck_assert_int_eq(mproc_sem_get_value(bs), 2);
  ck_mproc_ok(mproc_sem_acquire(bs, 0));
  ck_mproc_ok(mproc_sem_acquire(bs, 0));
  ck_mproc(mproc_sem_acquire(bs, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_sem_release(bs));
  ck_exit(start_later("sem_release", mproc_sem_ref(bs), 0), 0);
  ck_assert_int_eq(mproc_sem_get_value(bs), 2);
  /* Over-release in a child: the same error there. */
  ck_exit(start_later("sem_release", mproc_sem_ref(bs), 0),
          EXIT_FOR(MPROC_EINVAL));
  ck_assert_int_eq(mproc_sem_get_value(bs), 2);
  mproc_sem_free(bs);
}
END_TEST

START_TEST(event_rules) {
  mproc_event *e;
  double t0;
  ck_mproc_ok(mproc_event_new(&e));
  ck_assert_int_eq(mproc_event_is_set(e), 0);
  ck_mproc(mproc_event_wait(e, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_event_set(e));
  ck_assert_int_eq(mproc_event_is_set(e), 1);
  ck_mproc_ok(mproc_event_set(e)); /* setting twice is harmless */
  ck_mproc_ok(mproc_event_wait(e, 0));
  ck_mproc_ok(mproc_event_wait(e, MPROC_FOREVER));
  ck_mproc_ok(mproc_event_clear(e));
  ck_assert_int_eq(mproc_event_is_set(e), 0);
  /* Set by a child 0.3 s after it starts: a FOREVER wait wakes. */
  t0 = now();
  {
    mproc_process *p = start_later("event_set", mproc_event_ref(e), 0.3);
    ck_mproc_ok(mproc_event_wait(e, MPROC_FOREVER));
    ck_elapsed(t0, 0.29, 60);
    ck_assert_int_eq(mproc_event_is_set(e), 1);
    ck_exit(p, 0);
  }
  mproc_event_free(e);
}
END_TEST

START_TEST(condition_rules) {
  mproc_cond *c;
  mproc_lock *l;
  lockish o;
  thread_op op;
  double t0;
  /* Default lock: an RLock of its own. */
  ck_mproc_ok(mproc_cond_new(&c, NULL));
  ck_assert_ptr_nonnull(mproc_cond_lock(c));
  ck_assert_int_eq(mproc_lock_is_recursive(mproc_cond_lock(c)), 1);
  ck_mproc(mproc_cond_notify(c, 1), MPROC_ENOTOWNER);
  ck_mproc(mproc_cond_notify_all(c), MPROC_ENOTOWNER);
  ck_mproc(mproc_cond_wait(c, 0), MPROC_ENOTOWNER);
  ck_mproc_ok(mproc_cond_acquire(c, 0));
  ck_mproc_ok(mproc_cond_notify(c, 1)); /* nobody waits: fine */
  ck_mproc_ok(mproc_cond_notify_all(c));
  /* Another thread does not hold it: ENOTOWNER there. */
  memset(&o, 0, sizeof o);
  o.kind = K_COND;
  o.c = c;
  memset(&op, 0, sizeof op);
  op.o = &o;
  op.release_first = 1;
  run_thread(&op);
  ck_mproc(op.release_rc, MPROC_ENOTOWNER);
  ck_mproc(op.acquire_rc, MPROC_ETIMEDOUT);
  /* wait releases every level of the RLock and restores them. */
  ck_mproc_ok(mproc_cond_acquire(c, 0)); /* depth 2 */
  t0 = now();
  ck_mproc(mproc_cond_wait(c, 0.1), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0.09, 5);
  ck_assert_int_eq(mproc_lock_is_mine(mproc_cond_lock(c)), 1);
  ck_mproc_ok(mproc_cond_release(c));
  ck_mproc_ok(mproc_cond_release(c));
  ck_mproc(mproc_cond_release(c), MPROC_ENOTOWNER);
  mproc_cond_free(c);

  /* A given Lock is the Condition's lock. */
  ck_mproc_ok(mproc_lock_new(&l));
  ck_mproc_ok(mproc_cond_new(&c, l));
  ck_assert_int_eq(mproc_lock_is_recursive(mproc_cond_lock(c)), 0);
  ck_mproc_ok(mproc_lock_acquire(l, 0));
  ck_mproc(mproc_cond_acquire(c, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_cond_notify(c, 1));
  ck_mproc(mproc_cond_wait(c, 0.05), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_cond_release(c));
  ck_mproc(mproc_lock_release(l), MPROC_EINVAL);
  /* The Condition keeps its own reference to the lock. */
  mproc_lock_free(l);
  ck_mproc_ok(mproc_cond_acquire(c, 0));
  ck_mproc_ok(mproc_cond_release(c));
  mproc_cond_free(c);
}
END_TEST

/*
 * args [cond, counters]: counters is a RawArray 'i' {arrived, woken},
 * changed under the Condition's lock.  Arrives, waits (60 s at most),
 * counts the wake-up.
 */
static int cond_waiter(mproc_value *args) {
  mproc_cond *c = arg_cond(args, 0);
  volatile int *n = mproc_shared_data(arg_shared(args, 1));
  int rc;
  CHILD_CK(mproc_cond_acquire(c, 30), 0);
  n[0]++;
  rc = mproc_cond_wait(c, 60);
  if (rc == 0)
    n[1]++;
  CHILD_CK(mproc_cond_release(c), 0);
  return code_of(rc);
}

/* Read counter i under the Condition's lock. */
static int counter(mproc_cond *c, volatile int *n, int i) {
  int v;
  ck_mproc_ok(mproc_cond_acquire(c, 30));
  v = n[i];
  ck_mproc_ok(mproc_cond_release(c));
  return v;
}

START_TEST(condition_notify_one_then_all) {
  mproc_cond *c;
  mproc_shared *a;
  mproc_process *p[3];
  volatile int *n;
  double t0;
  int i;
  ck_mproc_ok(mproc_cond_new(&c, NULL));
  ck_mproc_ok(mproc_shared_rawarray(&a, 'i', 2, NULL));
  n = mproc_shared_data(a);
  for (i = 0; i < 3; i++)
    p[i] = start(cond_waiter,
                 mproc_build("[O O]", mproc_cond_ref(c), mproc_shared_ref(a)));
  /* A waiter counts itself under the lock and wait() releases it, so once
   * we hold the lock and see 3, all three are inside wait(). */
  t0 = now();
  while (counter(c, n, 0) < 3 && now() - t0 < 60)
    mproc_sleep(0.01);
  ck_mproc_ok(mproc_cond_acquire(c, 30));
  ck_assert_int_eq(n[0], 3);
  ck_mproc_ok(mproc_cond_notify(c, 1));
  ck_mproc_ok(mproc_cond_release(c));
  t0 = now();
  while (counter(c, n, 1) < 1 && now() - t0 < 60)
    mproc_sleep(0.01);
  /* Give a wrongly woken second waiter time to show itself. */
  mproc_sleep(0.5);
  ck_assert_int_eq(counter(c, n, 1), 1);
  ck_mproc_ok(mproc_cond_acquire(c, 30));
  ck_mproc_ok(mproc_cond_notify_all(c));
  ck_mproc_ok(mproc_cond_release(c));
  for (i = 0; i < 3; i++)
    ck_exit(p[i], 0);
  ck_assert_int_eq(n[1], 3);
  mproc_shared_free(a);
  mproc_cond_free(c);
}
END_TEST

/*
 * notify_all wakes the waiters there are when it is called, and only
 * them: a wait that starts afterwards (here in this process, at once,
 * before the woken child has even run) must not take the child's
 * wake-up; it times out, and the child wakes.  (Python: notify_all
 * releases exactly the waiters present, and the notifier holds the lock
 * until they have woken.)
 */
START_TEST(condition_late_waiter_does_not_take_wakeup) {
  mproc_cond *c;
  mproc_shared *a;
  mproc_process *p;
  volatile int *n;
  double t0;
  ck_mproc_ok(mproc_cond_new(&c, NULL));
  ck_mproc_ok(mproc_shared_rawarray(&a, 'i', 2, NULL));
  n = mproc_shared_data(a);
  p = start(cond_waiter,
            mproc_build("[O O]", mproc_cond_ref(c), mproc_shared_ref(a)));
  t0 = now();
  while (counter(c, n, 0) < 1 && now() - t0 < 60)
    mproc_sleep(0.01);
  ck_mproc_ok(mproc_cond_acquire(c, 30));
  ck_assert_int_eq(n[0], 1);
  ck_mproc_ok(mproc_cond_notify_all(c));
  ck_mproc(mproc_cond_wait(c, 0.2), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_cond_release(c));
  ck_exit(p, 0);
  ck_assert_int_eq(n[1], 1);
  mproc_shared_free(a);
  mproc_cond_free(c);
}
END_TEST

static int at_least_3(void *ctx) { return *(volatile int64_t *)ctx >= 3; }

/* args [cond, RawArray 'q' {value, seen}]: wait_for(value >= 3), note the
 * value seen on return. */
static int cond_wait_for_child(mproc_value *args) {
  mproc_cond *c = arg_cond(args, 0);
  volatile int64_t *v = mproc_shared_data(arg_shared(args, 1));
  int rc;
  CHILD_CK(mproc_cond_acquire(c, 30), 0);
  rc = mproc_cond_wait_for(c, at_least_3, (void *)v, 60);
  if (rc == 0 && !mproc_lock_is_mine(mproc_cond_lock(c)))
    return 103;
  v[1] = v[0];
  CHILD_CK(mproc_cond_release(c), 0);
  return code_of(rc);
}

START_TEST(condition_wait_for) {
  mproc_cond *c;
  mproc_shared *a;
  mproc_process *p;
  volatile int64_t *v;
  double t0;
  int k;
  ck_mproc_ok(mproc_cond_new(&c, NULL));
  ck_mproc_ok(mproc_shared_rawarray(&a, 'q', 2, NULL));
  v = mproc_shared_data(a);
  /* In this process: false until the timeout, lock held afterwards. */
  ck_mproc(mproc_cond_wait_for(c, at_least_3, (void *)v, 0.1), MPROC_ENOTOWNER);
  ck_mproc_ok(mproc_cond_acquire(c, 0));
  t0 = now();
  ck_mproc(mproc_cond_wait_for(c, at_least_3, (void *)v, 0.1), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0.09, 5);
  ck_assert_int_eq(mproc_lock_is_mine(mproc_cond_lock(c)), 1);
  ck_mproc_ok(mproc_cond_release(c));
  /* A child waits for the value to reach 3, raised one step at a time. */
  p = start(cond_wait_for_child,
            mproc_build("[O O]", mproc_cond_ref(c), mproc_shared_ref(a)));
  for (k = 1; k <= 3; k++) {
    mproc_sleep(0.05);
    ck_mproc_ok(mproc_cond_acquire(c, 30));
    v[0] = k;
    ck_mproc_ok(mproc_cond_notify_all(c));
    ck_mproc_ok(mproc_cond_release(c));
  }
  ck_exit(p, 0);
  ck_assert_int_eq((int)v[1], 3);
  /* Already true: returns 0 at once, even with timeout 0. */
  ck_mproc_ok(mproc_cond_acquire(c, 0));
  ck_mproc_ok(mproc_cond_wait_for(c, at_least_3, (void *)v, 0));
  ck_mproc_ok(mproc_cond_release(c));
  mproc_shared_free(a);
  mproc_cond_free(c);
}
END_TEST

static volatile int *g_action_count; /* where a Barrier action counts */
static int g_local_count;

static int count_action(void) {
  if (g_action_count)
    (*g_action_count)++;
  else
    g_local_count++;
  return 0;
}

static int failing_action(void) { return 1; }

START_TEST(barrier_rules) {
  mproc_barrier *b;
  ck_mproc(mproc_barrier_new(&b, 0, NULL, MPROC_FOREVER), MPROC_EINVAL);
  ck_mproc(mproc_barrier_new(&b, -1, NULL, MPROC_FOREVER), MPROC_EINVAL);
  /* Barrier(1): every wait returns index 0 and runs the action. */
  g_action_count = NULL;
  g_local_count = 0;
  ck_mproc_ok(mproc_barrier_new(&b, 1, count_action, MPROC_FOREVER));
  ck_assert_int_eq(mproc_barrier_parties(b), 1);
  ck_assert_int_eq(mproc_barrier_n_waiting(b), 0);
  ck_assert_int_eq(mproc_barrier_broken(b), 0);
  ck_assert_int_eq(mproc_barrier_wait(b, MPROC_DEFAULT_TIMEOUT), 0);
  ck_assert_int_eq(mproc_barrier_wait(b, 1), 0);
  ck_assert_int_eq(g_local_count, 2);
  mproc_barrier_free(b);
  /* An action that fails breaks the barrier. */
  ck_mproc_ok(mproc_barrier_new(&b, 1, failing_action, MPROC_FOREVER));
  ck_mproc(mproc_barrier_wait(b, 1), MPROC_EBROKEN);
  ck_assert_int_eq(mproc_barrier_broken(b), 1);
  ck_mproc(mproc_barrier_wait(b, 1), MPROC_EBROKEN);
  ck_mproc_ok(mproc_barrier_reset(b));
  ck_assert_int_eq(mproc_barrier_broken(b), 0);
  mproc_barrier_free(b);
}
END_TEST

START_TEST(barrier_abort_and_reset) {
  mproc_barrier *b;
  mproc_process *p[2];
  int i, seen = 0, r;
  ck_mproc_ok(mproc_barrier_new(&b, 3, NULL, MPROC_FOREVER));
  for (i = 0; i < 2; i++)
    p[i] = start_barrier_waiter(b, 60);
  await_n_waiting(b, 2);
  ck_mproc_ok(mproc_barrier_abort(b));
  for (i = 0; i < 2; i++)
    ck_exit(p[i], EXIT_FOR(MPROC_EBROKEN));
  ck_assert_int_eq(mproc_barrier_broken(b), 1);
  ck_mproc(mproc_barrier_wait(b, 1), MPROC_EBROKEN);
  /* Reset: usable again, by three parties. */
  ck_mproc_ok(mproc_barrier_reset(b));
  ck_assert_int_eq(mproc_barrier_broken(b), 0);
  ck_assert_int_eq(mproc_barrier_n_waiting(b), 0);
  for (i = 0; i < 2; i++)
    p[i] = start_barrier_waiter(b, 60);
  r = mproc_barrier_wait(b, 60);
  ck_assert_msg(r >= 0 && r < 3, "barrier_wait returned %d", r);
  seen |= 1 << r;
  for (i = 0; i < 2; i++) {
    int code = finish(p[i]);
    ck_assert_msg(code >= 50 && code < 53, "child exited %d (%s)", code,
                  explain(code));
    seen |= 1 << (code - 50);
  }
  ck_assert_int_eq(seen, 7); /* indices 0, 1, 2 each once */
  /* A reset while a party waits breaks that wait, not the barrier. */
  p[0] = start_barrier_waiter(b, 60);
  await_n_waiting(b, 1);
  ck_mproc_ok(mproc_barrier_reset(b));
  ck_exit(p[0], EXIT_FOR(MPROC_EBROKEN));
  ck_assert_int_eq(mproc_barrier_broken(b), 0);
  ck_assert_int_eq(mproc_barrier_n_waiting(b), 0);
  mproc_barrier_free(b);
}
END_TEST

START_TEST(barrier_timeout_breaks_it_for_all) {
  mproc_barrier *b;
  mproc_process *p;
  double t0;
  /* The default timeout (0.2 s) is used by MPROC_DEFAULT_TIMEOUT. */
  ck_mproc_ok(mproc_barrier_new(&b, 3, NULL, 0.2));
  p = start_barrier_waiter(b, 60);
  await_n_waiting(b, 1);
  t0 = now();
  ck_mproc(mproc_barrier_wait(b, MPROC_DEFAULT_TIMEOUT), MPROC_EBROKEN);
  ck_elapsed(t0, 0.19, 30);
  ck_exit(p, EXIT_FOR(MPROC_EBROKEN));
  ck_assert_int_eq(mproc_barrier_broken(b), 1);
  mproc_barrier_free(b);
}
END_TEST

START_TEST(barrier_failing_action_breaks_it_for_all) {
  mproc_barrier *b;
  mproc_process *p;
  ck_mproc_ok(mproc_barrier_new(&b, 2, failing_action, MPROC_FOREVER));
  p = start_barrier_waiter(b, 60);
  ck_mproc(mproc_barrier_wait(b, 60), MPROC_EBROKEN);
  ck_exit(p, EXIT_FOR(MPROC_EBROKEN));
  ck_assert_int_eq(mproc_barrier_broken(b), 1);
  mproc_barrier_free(b);
}
END_TEST

START_TEST(null_objects) {
  mproc_value *v;
  mproc_lock *l = NULL;
  mproc_sem *s = NULL;
  ck_mproc(mproc_lock_new(NULL), MPROC_EINVAL);
  ck_mproc(mproc_rlock_new(NULL), MPROC_EINVAL);
  ck_mproc(mproc_sem_new(NULL, 1), MPROC_EINVAL);
  ck_mproc(mproc_bsem_new(NULL, 1), MPROC_EINVAL);
  ck_mproc(mproc_event_new(NULL), MPROC_EINVAL);
  ck_mproc(mproc_cond_new(NULL, NULL), MPROC_EINVAL);
  ck_mproc(mproc_barrier_new(NULL, 2, NULL, MPROC_FOREVER), MPROC_EINVAL);

  ck_mproc(mproc_lock_acquire(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_lock_release(NULL), MPROC_EINVAL);
  ck_assert_int_le(mproc_lock_is_recursive(NULL), 0);
  ck_assert_int_le(mproc_lock_is_mine(NULL), 0);
  ck_mproc(mproc_sem_acquire(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_sem_release(NULL), MPROC_EINVAL);
  ck_mproc(mproc_sem_get_value(NULL), MPROC_EINVAL);
  ck_mproc(mproc_event_set(NULL), MPROC_EINVAL);
  ck_mproc(mproc_event_clear(NULL), MPROC_EINVAL);
  ck_mproc(mproc_event_wait(NULL, 0), MPROC_EINVAL);
  ck_assert_int_le(mproc_event_is_set(NULL), 0);
  ck_assert_ptr_null(mproc_cond_lock(NULL));
  ck_mproc(mproc_cond_acquire(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_cond_release(NULL), MPROC_EINVAL);
  ck_mproc(mproc_cond_wait(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_cond_wait_for(NULL, at_least_3, NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_cond_notify(NULL, 1), MPROC_EINVAL);
  ck_mproc(mproc_cond_notify_all(NULL), MPROC_EINVAL);
  ck_mproc(mproc_barrier_wait(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_barrier_abort(NULL), MPROC_EINVAL);
  ck_mproc(mproc_barrier_reset(NULL), MPROC_EINVAL);
  ck_mproc(mproc_barrier_broken(NULL), MPROC_EINVAL);
  ck_mproc(mproc_barrier_n_waiting(NULL), MPROC_EINVAL);
  ck_mproc(mproc_barrier_parties(NULL), MPROC_EINVAL);
  /* Freeing or referencing nothing is harmless. */
  ck_assert_ptr_null(mproc_lock_incref(NULL));
  ck_assert_ptr_null(mproc_sem_incref(NULL));
  ck_assert_ptr_null(mproc_event_incref(NULL));
  ck_assert_ptr_null(mproc_cond_incref(NULL));
  ck_assert_ptr_null(mproc_barrier_incref(NULL));
  mproc_lock_free(NULL);
  mproc_sem_free(NULL);
  mproc_event_free(NULL);
  mproc_cond_free(NULL);
  mproc_barrier_free(NULL);
  ck_assert_ptr_null(mproc_lock_ref(NULL));

  /* wait_for needs a predicate. */
  {
    mproc_cond *c;
    ck_mproc_ok(mproc_cond_new(&c, NULL));
    ck_mproc_ok(mproc_cond_acquire(c, 0));
    ck_mproc(mproc_cond_wait_for(c, NULL, NULL, 0), MPROC_EINVAL);
    ck_mproc_ok(mproc_cond_release(c));
    mproc_cond_free(c);
  }
  /* Typed getters: NULL and wrong types. */
  ck_mproc(mproc_value_get_lock(NULL, &l), MPROC_EINVAL);
  v = mproc_int(1);
  ck_mproc(mproc_value_get_lock(v, &l), MPROC_ETYPE);
  ck_mproc(mproc_value_get_barrier(v, NULL), MPROC_EINVAL);
  mproc_value_free(v);
  ck_mproc_ok(mproc_sem_new(&s, 1));
  v = mproc_sem_ref(s);
  ck_mproc(mproc_value_get_lock(v, &l), MPROC_ETYPE);
  ck_mproc(mproc_value_get_event(v, NULL), MPROC_EINVAL);
  mproc_value_free(v);
  mproc_sem_free(s);
  ck_assert_ptr_null(l);
}
END_TEST

/* ======================================================================== */
/* Timeouts                                                                 */
/* ======================================================================== */

START_TEST(timeouts_on_held_objects) {
  mproc_lock *l, *r;
  mproc_sem *s;
  mproc_event *e;
  lockish o;
  thread_op op;
  double t0;
  ck_mproc_ok(mproc_lock_new(&l));
  ck_mproc_ok(mproc_lock_acquire(l, 0));
  t0 = now();
  ck_mproc(mproc_lock_acquire(l, 0), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0, 2);
  t0 = now();
  ck_mproc(mproc_lock_acquire(l, 0.1), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0.09, 5);
  ck_mproc_ok(mproc_lock_release(l));
  mproc_lock_free(l);

  /* An RLock held by this thread, tried from another. */
  ck_mproc_ok(mproc_rlock_new(&r));
  ck_mproc_ok(mproc_lock_acquire(r, 0));
  memset(&o, 0, sizeof o);
  o.kind = K_RLOCK;
  o.l = r;
  memset(&op, 0, sizeof op);
  op.o = &o;
  op.release_first = 1;
  t0 = now();
  run_thread(&op);
  ck_mproc(op.acquire_rc, MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0, 5);
  ck_mproc_ok(mproc_lock_release(r));
  mproc_lock_free(r);

  ck_mproc_ok(mproc_sem_new(&s, 0));
  t0 = now();
  ck_mproc(mproc_sem_acquire(s, 0), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0, 2);
  t0 = now();
  ck_mproc(mproc_sem_acquire(s, 0.1), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0.09, 5);
  mproc_sem_free(s);

  ck_mproc_ok(mproc_event_new(&e));
  t0 = now();
  ck_mproc(mproc_event_wait(e, 0.1), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0.09, 5);
  mproc_event_free(e);
}
END_TEST

START_TEST(forever_wakes_on_release_by_other_process) {
  lockish o;
  holding h;
  mproc_sem *s;
  mproc_process *p;
  double t0;
  lockish_new(&o, K_LOCK);
  /* The child holds the Lock 0.3 s after saying so. */
  holding_start(&h, &o, 0.3, 1);
  t0 = now();
  ck_mproc(mproc_lock_acquire(o.l, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_lock_acquire(o.l, MPROC_FOREVER));
  ck_elapsed(t0, 0.2, 60);
  ck_exit(h.p, 0);
  holding_close(&h);
  ck_mproc_ok(mproc_lock_release(o.l));
  lockish_free(&o);

  /* A Semaphore released by a child 0.3 s after it starts. */
  ck_mproc_ok(mproc_sem_new(&s, 0));
  t0 = now();
  p = start_later("sem_release", mproc_sem_ref(s), 0.3);
  ck_mproc_ok(mproc_sem_acquire(s, MPROC_FOREVER));
  ck_elapsed(t0, 0.29, 60);
  ck_exit(p, 0);
  ck_assert_int_eq(mproc_sem_get_value(s), 0);
  mproc_sem_free(s);
}
END_TEST

/*
 * Negative timeouts (issue 8): only MPROC_FOREVER (and +inf) block; any
 * other negative timeout - a deadline computed as deadline - now that
 * has passed - polls, as in Python; NaN is MPROC_EINVAL.  Each call runs
 * in a thread the test waits for at most 60 s, so a call that blocks
 * makes the test fail instead of hanging the suite.
 */
enum {
  C_TAKE,         /* take(lockish, t); released again when taken */
  C_SEM,          /* mproc_sem_acquire */
  C_EVENT,        /* mproc_event_wait */
  C_COND_WAIT,    /* acquire the Condition, wait(t), check held, release */
  C_WAIT_FOR,     /* the same with wait_for(flag != 0) */
  C_BARRIER       /* mproc_barrier_wait */
};

typedef struct tcall {
  int op;
  const lockish *o;
  mproc_sem *s;
  mproc_event *e;
  mproc_cond *c;
  mproc_barrier *b;
  volatile int64_t flag; /* C_WAIT_FOR's predicate */
  double timeout;
  int rc, still_mine;
  mproc_event *done;
  mproc_thread *t;
} tcall;

static int flag_set(void *ctx) { return *(volatile int64_t *)ctx != 0; }

static int tcall_body(void *arg) {
  tcall *c = arg;
  switch (c->op) {
  case C_TAKE:
    c->rc = take(c->o, c->timeout);
    if (c->rc == 0)
      give(c->o);
    break;
  case C_SEM:
    c->rc = mproc_sem_acquire(c->s, c->timeout);
    break;
  case C_EVENT:
    c->rc = mproc_event_wait(c->e, c->timeout);
    break;
  case C_COND_WAIT:
  case C_WAIT_FOR:
    c->rc = mproc_cond_acquire(c->c, MPROC_FOREVER);
    if (c->rc)
      break;
    c->rc = c->op == C_COND_WAIT
                ? mproc_cond_wait(c->c, c->timeout)
                : mproc_cond_wait_for(c->c, flag_set, (void *)&c->flag,
                                      c->timeout);
    c->still_mine = mproc_lock_is_mine(mproc_cond_lock(c->c));
    mproc_cond_release(c->c);
    break;
  default:
    c->rc = mproc_barrier_wait(c->b, c->timeout);
    break;
  }
  mproc_event_set(c->done);
  return 0;
}

static void tcall_start(tcall *c, double timeout) {
  c->timeout = timeout;
  c->rc = 12345;
  c->still_mine = -1;
  ck_mproc_ok(mproc_event_new(&c->done));
  ck_mproc_ok(mproc_thread_start(&c->t, tcall_body, c));
}

/* The call's result; it must have returned within 60 s. */
static int tcall_finish(tcall *c) {
  int rc = mproc_event_wait(c->done, 60);
  ck_assert_msg(rc == 0, "call %d with timeout %g still blocks after 60 s",
                c->op, c->timeout);
  ck_mproc_ok(mproc_thread_join(c->t, NULL));
  mproc_event_free(c->done);
  return c->rc;
}

static int tcall_run(tcall *c, double timeout) {
  tcall_start(c, timeout);
  return tcall_finish(c);
}

/* The call started with MPROC_FOREVER (or +inf) is still blocked. */
static void tcall_blocks(tcall *c, double timeout) {
  tcall_start(c, timeout);
  mproc_sleep(0.2);
  ck_assert_msg(!mproc_event_is_set(c->done),
                "call %d with timeout %g returned %d at once", c->op,
                timeout, c->rc);
}

static const double negatives[] = {-0.5, -1e-9, -2.0, -1e300};
#define NNEG (sizeof negatives / sizeof negatives[0])

/* _i: the four lock kinds.  Held by this thread, tried from another. */
START_TEST(negative_timeout_lockish) {
  lockish o;
  tcall c;
  size_t k;
  const double nan = NAN;
  lockish_new(&o, _i);
  memset(&c, 0, sizeof c);
  c.op = C_TAKE;
  c.o = &o;
  /* Free: a negative timeout takes it. */
  for (k = 0; k < NNEG; k++)
    ck_mproc_ok(tcall_run(&c, negatives[k]));
  ck_mproc_ok(tcall_run(&c, -HUGE_VAL));
  /* NaN is an error, free or not, and takes nothing. */
  ck_mproc(take(&o, nan), MPROC_EINVAL);
  ck_assert_int_eq(mproc_lock_is_mine(lock_of(&o)), 0);
  ck_mproc_ok(take(&o, 0));
  /* Held: a negative timeout polls. */
  for (k = 0; k < NNEG; k++)
    ck_mproc(tcall_run(&c, negatives[k]), MPROC_ETIMEDOUT);
  ck_mproc(tcall_run(&c, -HUGE_VAL), MPROC_ETIMEDOUT);
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  ck_assert_int_eq(mproc_lock_is_mine(lock_of(&o)), 1);
  /* MPROC_FOREVER and +inf block until the holder releases. */
  tcall_blocks(&c, MPROC_FOREVER);
  ck_mproc_ok(give(&o));
  ck_mproc_ok(tcall_finish(&c));
  ck_mproc_ok(take(&o, 0));
  tcall_blocks(&c, HUGE_VAL);
  ck_mproc_ok(give(&o));
  ck_mproc_ok(tcall_finish(&c));
  lockish_free(&o);
}
END_TEST

START_TEST(negative_timeout_sem_event) {
  tcall c;
  size_t k;
  const double nan = NAN;
  memset(&c, 0, sizeof c);
  /* Semaphore at 0: polls; at 1: taken. */
  c.op = C_SEM;
  ck_mproc_ok(mproc_sem_new(&c.s, 0));
  for (k = 0; k < NNEG; k++)
    ck_mproc(tcall_run(&c, negatives[k]), MPROC_ETIMEDOUT);
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  ck_mproc_ok(mproc_sem_release(c.s));
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  ck_assert_int_eq(mproc_sem_get_value(c.s), 1);
  ck_mproc_ok(tcall_run(&c, -0.5));
  ck_assert_int_eq(mproc_sem_get_value(c.s), 0);
  ck_mproc_ok(mproc_sem_release(c.s));
  ck_mproc_ok(tcall_run(&c, -1e-9));
  tcall_blocks(&c, MPROC_FOREVER);
  ck_mproc_ok(mproc_sem_release(c.s));
  ck_mproc_ok(tcall_finish(&c));
  ck_assert_int_eq(mproc_sem_get_value(c.s), 0);
  mproc_sem_free(c.s);
  /* Event clear: polls; set: returns 0. */
  c.op = C_EVENT;
  ck_mproc_ok(mproc_event_new(&c.e));
  for (k = 0; k < NNEG; k++)
    ck_mproc(tcall_run(&c, negatives[k]), MPROC_ETIMEDOUT);
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  tcall_blocks(&c, MPROC_FOREVER);
  ck_mproc_ok(mproc_event_set(c.e));
  ck_mproc_ok(tcall_finish(&c));
  for (k = 0; k < NNEG; k++)
    ck_mproc_ok(tcall_run(&c, negatives[k]));
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  mproc_event_free(c.e);
}
END_TEST

START_TEST(negative_timeout_condition) {
  tcall c;
  size_t k;
  const double nan = NAN;
  memset(&c, 0, sizeof c);
  ck_mproc_ok(mproc_cond_new(&c.c, NULL));
  /* wait: nobody notifies, so a negative timeout polls; the lock is
   * held again afterwards. */
  c.op = C_COND_WAIT;
  for (k = 0; k < NNEG; k++) {
    ck_mproc(tcall_run(&c, negatives[k]), MPROC_ETIMEDOUT);
    ck_assert_int_eq(c.still_mine, 1);
  }
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  ck_assert_int_eq(c.still_mine, 1);
  /* FOREVER waits for a notify. */
  tcall_blocks(&c, MPROC_FOREVER);
  ck_mproc_ok(mproc_cond_acquire(c.c, 60));
  ck_mproc_ok(mproc_cond_notify(c.c, 1));
  ck_mproc_ok(mproc_cond_release(c.c));
  ck_mproc_ok(tcall_finish(&c));
  ck_assert_int_eq(c.still_mine, 1);
  /* wait_for: a false predicate polls, a true one returns 0. */
  c.op = C_WAIT_FOR;
  c.flag = 0;
  for (k = 0; k < NNEG; k++) {
    ck_mproc(tcall_run(&c, negatives[k]), MPROC_ETIMEDOUT);
    ck_assert_int_eq(c.still_mine, 1);
  }
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  tcall_blocks(&c, MPROC_FOREVER);
  ck_mproc_ok(mproc_cond_acquire(c.c, 60));
  c.flag = 1;
  ck_mproc_ok(mproc_cond_notify_all(c.c));
  ck_mproc_ok(mproc_cond_release(c.c));
  ck_mproc_ok(tcall_finish(&c));
  for (k = 0; k < NNEG; k++)
    ck_mproc_ok(tcall_run(&c, negatives[k]));
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  mproc_cond_free(c.c);
}
END_TEST

START_TEST(negative_timeout_barrier) {
  tcall c;
  size_t k;
  const double nan = NAN;
  memset(&c, 0, sizeof c);
  c.op = C_BARRIER;
  /* Alone at a Barrier(2): a negative timeout breaks it at once (as
   * Python's BrokenBarrierError). */
  ck_mproc_ok(mproc_barrier_new(&c.b, 2, NULL, MPROC_FOREVER));
  for (k = 0; k < NNEG; k++) {
    if (negatives[k] == MPROC_DEFAULT_TIMEOUT)
      continue;
    ck_mproc(tcall_run(&c, negatives[k]), MPROC_EBROKEN);
    ck_assert_int_eq(mproc_barrier_broken(c.b), 1);
    ck_mproc_ok(mproc_barrier_reset(c.b));
  }
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  ck_assert_int_eq(mproc_barrier_broken(c.b), 0);
  ck_assert_int_eq(mproc_barrier_n_waiting(c.b), 0);
  /* FOREVER (also as the default) waits for the other party; the last
   * party to arrive does not wait, so its negative timeout succeeds. */
  tcall_blocks(&c, MPROC_FOREVER);
  await_n_waiting(c.b, 1);
  ck_assert_int_eq(mproc_barrier_wait(c.b, -0.5), 1);
  ck_assert_int_eq(tcall_finish(&c), 0);
  tcall_blocks(&c, MPROC_DEFAULT_TIMEOUT);
  await_n_waiting(c.b, 1);
  ck_assert_int_eq(mproc_barrier_wait(c.b, -1e-9), 1);
  ck_assert_int_eq(tcall_finish(&c), 0);
  ck_assert_int_eq(mproc_barrier_broken(c.b), 0);
  mproc_barrier_free(c.b);
  /* A Barrier(1) never waits. */
  ck_mproc_ok(mproc_barrier_new(&c.b, 1, NULL, -0.5));
  for (k = 0; k < NNEG; k++)
    ck_assert_int_eq(tcall_run(&c, negatives[k]), 0);
  ck_mproc(tcall_run(&c, nan), MPROC_EINVAL);
  mproc_barrier_free(c.b);
  /* A negative default timeout polls too (Python's Barrier(2, timeout=-1)
   * breaks at the first wait); NaN, or MPROC_DEFAULT_TIMEOUT, is no
   * default. */
  ck_mproc_ok(mproc_barrier_new(&c.b, 2, NULL, -0.5));
  ck_mproc(tcall_run(&c, MPROC_DEFAULT_TIMEOUT), MPROC_EBROKEN);
  ck_assert_int_eq(mproc_barrier_broken(c.b), 1);
  mproc_barrier_free(c.b);
  ck_mproc(mproc_barrier_new(&c.b, 2, NULL, nan), MPROC_EINVAL);
  ck_assert_ptr_null(c.b);
  ck_mproc(mproc_barrier_new(&c.b, 2, NULL, MPROC_DEFAULT_TIMEOUT),
           MPROC_EINVAL);
  ck_assert_ptr_null(c.b);
}
END_TEST

/* ======================================================================== */
/* Owner death (looped over Lock, RLock at depth 2, Value, Condition)       */
/* ======================================================================== */

/* After EOWNERDEAD: the caller holds o at depth 1. */
static void check_taken_over(const lockish *o) {
  ck_assert_int_eq(mproc_lock_is_mine(lock_of(o)), 1);
  if (o->kind == K_VALUE)
    ck_assert_int_eq((int)*(volatile int64_t *)mproc_shared_data(o->v), 7);
  if (o->kind == K_LOCK) {
    ck_mproc(take(o, 0), MPROC_ETIMEDOUT);
    ck_mproc_ok(give(o));
    ck_mproc(give(o), MPROC_EINVAL);
  } else {
    /* An RLock: depth 1, whatever depth the dead owner had. */
    ck_mproc_ok(give(o));
    ck_mproc(give(o), MPROC_ENOTOWNER);
  }
  ck_assert_int_eq(mproc_lock_is_mine(lock_of(o)), 0);
  /* Free again, nobody dead in it. */
  ck_mproc_ok(take(o, 0));
  ck_mproc_ok(give(o));
}

START_TEST(owner_death_blocking_acquire) {
  lockish o;
  holding h;
  double t0;
  lockish_new(&o, _i);
  holding_start(&h, &o, 60, _i == K_RLOCK ? 2 : 1);
  ck_mproc(take(&o, 0), MPROC_ETIMEDOUT);
  holding_kill(&h);
  t0 = now();
  ck_mproc(take(&o, MPROC_FOREVER), MPROC_EOWNERDEAD);
  ck_elapsed(t0, 0, 5);
  check_taken_over(&o);
  lockish_free(&o);
}
END_TEST

START_TEST(owner_death_poll) {
  lockish o;
  holding h;
  lockish_new(&o, _i);
  holding_start(&h, &o, 60, _i == K_RLOCK ? 2 : 1);
  holding_kill(&h);
  ck_mproc(take(&o, 0), MPROC_EOWNERDEAD);
  check_taken_over(&o);
  lockish_free(&o);
}
END_TEST

START_TEST(owner_death_wakes_blocked_thread) {
  lockish o;
  holding h;
  thread_op op;
  mproc_thread *t;
  int result = -1;
  lockish_new(&o, _i);
  holding_start(&h, &o, 60, _i == K_RLOCK ? 2 : 1);
  memset(&op, 0, sizeof op);
  op.o = &o;
  op.release_rc = 1000;
  ck_mproc_ok(mproc_event_new(&op.done));
  ck_mproc_ok(mproc_thread_start(&t, thread_body, &op));
  /* The thread is blocked while the child lives. */
  ck_mproc(mproc_event_wait(op.done, 0.3), MPROC_ETIMEDOUT);
  holding_kill(&h);
  ck_mproc_ok(mproc_event_wait(op.done, 10));
  ck_mproc_ok(mproc_thread_join(t, &result));
  ck_mproc(op.acquire_rc, MPROC_EOWNERDEAD);
  ck_assert_int_eq(op.mine, 1);
  ck_mproc_ok(op.release_rc); /* depth 1: one release frees it */
  ck_mproc_ok(take(&o, 0));
  ck_mproc_ok(give(&o));
  mproc_event_free(op.done);
  lockish_free(&o);
}
END_TEST

/* args [conn]: sends its (pid, tag), then waits for EOF. */
static int identity_child(mproc_value *args) {
  uint32_t pid = 0, tag = 0;
  mproc_value *v;
  int rc;
  CHILD_CK(mproc__plat_proc_identity(&pid, &tag), 0);
  v = mproc_build("[L L]", (int64_t)pid, (int64_t)tag);
  rc = mproc_conn_send(arg_conn(args, 0), v);
  mproc_value_free(v);
  CHILD_CK(rc, 0);
  mproc_conn_recv(arg_conn(args, 0), &v); /* EOF: the parent closed */
  return 0;
}

/* How owners are told apart: (pid, start-time tag); a live pid with
 * another tag is a reused pid, so its owner is dead. */
START_TEST(owner_identity_and_liveness) {
  uint32_t pid = 0, tag = 0, pid2 = 0, tag2 = 0;
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *v;
  int64_t cpid = 0, ctag = 0;
  ck_mproc_ok(mproc__plat_proc_identity(&pid, &tag));
  ck_mproc_ok(mproc__plat_proc_identity(&pid2, &tag2));
  ck_assert_uint_eq(pid, (uint32_t)mproc_process_pid(mproc_current_process()));
  ck_assert_uint_ne(tag, 0);
  ck_assert_uint_eq(pid2, pid);
  ck_assert_uint_eq(tag2, tag);
  ck_assert_int_eq(mproc__plat_proc_alive(pid, tag), 1);
  ck_assert_int_eq(mproc__plat_proc_alive(pid, tag ^ 0x100u), 0);
  ck_assert_int_eq(mproc__plat_proc_alive(0, tag), 0);
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  p = start(identity_child, mproc_build("[C]", b));
  ck_assert_int_eq(mproc_conn_poll(a, 60), 1);
  ck_mproc_ok(mproc_conn_recv(a, &v));
  ck_mproc_ok(mproc_value_get_int(mproc_list_get(v, 0), &cpid));
  ck_mproc_ok(mproc_value_get_int(mproc_list_get(v, 1), &ctag));
  mproc_value_free(v);
  ck_assert_int_eq(cpid, mproc_process_pid(p));
  ck_assert_int_eq(mproc__plat_proc_alive((uint32_t)cpid, (uint32_t)ctag), 1);
  ck_assert_int_eq(
      mproc__plat_proc_alive((uint32_t)cpid, (uint32_t)ctag ^ 0x100u), 0);
  ck_mproc_ok(mproc_conn_close(a));
  ck_exit(p, 0);
  /* Ended (and reaped): dead. */
  ck_assert_int_eq(mproc__plat_proc_alive((uint32_t)cpid, (uint32_t)ctag), 0);
  ck_assert_uint_ne(mproc_thread_ident(), 0);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* args [barrier, conn]: says "ready", never arrives (until killed). */
static int absent_party(mproc_value *args) {
  CHILD_CK(say(arg_conn(args, 1), "ready"), 0);
  mproc_sleep(60);
  return mproc_barrier_parties(arg_barrier(args, 0)) == 3 ? 0 : 100;
}

START_TEST(barrier_party_dies) {
  mproc_barrier *b;
  mproc_process *w, *d;
  mproc_conn *a, *c;
  double t0;
  ck_mproc_ok(mproc_barrier_new(&b, 3, NULL, MPROC_FOREVER));
  ck_mproc_ok(mproc_pipe(&a, &c, 1));
  d = start(absent_party, mproc_build("[O C]", mproc_barrier_ref(b), c));
  w = start_barrier_waiter(b, 60);
  expect_word(a, "ready");
  ck_mproc_ok(mproc_process_kill(d));
  ck_exit(d, -9);
  await_n_waiting(b, 1);
  /* The third party is gone: the others time out, which breaks it. */
  t0 = now();
  ck_mproc(mproc_barrier_wait(b, 0.3), MPROC_EBROKEN);
  ck_elapsed(t0, 0.29, 30);
  ck_exit(w, EXIT_FOR(MPROC_EBROKEN));
  ck_assert_int_eq(mproc_barrier_broken(b), 1);
  mproc_conn_free(a);
  mproc_conn_free(c);
  mproc_barrier_free(b);
}
END_TEST

/* ======================================================================== */
/* Stress                                                                   */
/* ======================================================================== */

/*
 * Increments per process.  The fast path is user space on both OSes, so
 * the same count runs under wine.
 */
#define STRESS_N 100000
#define STRESS_PROCS 4

/* args [kind, object, RawValue/Value 'q', n]: n increments under o. */
static int incrementer(mproc_value *args) {
  lockish o;
  volatile int64_t *p = mproc_shared_data(arg_shared(args, 2));
  int64_t n = arg_i64(args, 3), i;
  if (lockish_arg(&o, (int)arg_i64(args, 0), args, 1) != 0 || !p)
    return 101;
  CHILD_CK(pass_gate(args), 0);
  for (i = 0; i < n; i++) {
    CHILD_CK(take(&o, 60), 0);
    *p = *p + 1;
    CHILD_CK(give(&o), 0);
  }
  return 0;
}

/* Lock, RLock, and a Value under its own lock: exact counts. */
START_TEST(stress_counter) {
  lockish o;
  mproc_shared *cnt;
  mproc_process *p[STRESS_PROCS];
  gate g;
  int i;
  gate_new(&g);
  lockish_new(&o, _i);
  if (_i == K_VALUE)
    cnt = mproc_shared_incref(o.v);
  else
    ck_mproc_ok(mproc_shared_rawvalue(&cnt, 'q', NULL));
  for (i = 0; i < STRESS_PROCS; i++)
    p[i] = start(incrementer,
                 gated(&g, mproc_build("[i O O i]", _i, lockish_ref(&o),
                                       mproc_shared_ref(cnt), STRESS_N)));
  gate_open(&g);
  for (i = 0; i < STRESS_PROCS; i++)
    ck_exit(p[i], 0);
  ck_assert_int_eq(*(int64_t *)mproc_shared_data(cnt),
                   (int64_t)STRESS_PROCS * STRESS_N);
  mproc_shared_free(cnt);
  lockish_free(&o);
  gate_free(&g);
}
END_TEST

/* args [sem, lock, RawArray 'i' {holders, max}, n]. */
static int sem_holder(mproc_value *args) {
  mproc_sem *s = arg_sem(args, 0);
  mproc_lock *l = arg_lock(args, 1);
  volatile int *h = mproc_shared_data(arg_shared(args, 2));
  int64_t n = arg_i64(args, 3), i;
  CHILD_CK(pass_gate(args), 0);
  for (i = 0; i < n; i++) {
    CHILD_CK(mproc_sem_acquire(s, 60), 0);
    CHILD_CK(mproc_lock_acquire(l, 60), 0);
    if (++h[0] > h[1])
      h[1] = h[0];
    CHILD_CK(mproc_lock_release(l), 0);
    /* Now and then hold the semaphore a while, so that the second slot is
     * surely taken at some point, however the OS schedules us. */
    if (i % 1000 == 999)
      mproc_sleep(0.002);
    CHILD_CK(mproc_lock_acquire(l, 60), 0);
    h[0]--;
    CHILD_CK(mproc_lock_release(l), 0);
    CHILD_CK(mproc_sem_release(s), 0);
  }
  return 0;
}

START_TEST(stress_semaphore) {
  mproc_sem *s;
  mproc_lock *l;
  mproc_shared *a;
  mproc_process *p[6];
  volatile int *h;
  gate g;
  int i;
  gate_new(&g);
  ck_mproc_ok(mproc_sem_new(&s, 2));
  ck_mproc_ok(mproc_lock_new(&l));
  ck_mproc_ok(mproc_shared_rawarray(&a, 'i', 2, NULL));
  h = mproc_shared_data(a);
  for (i = 0; i < 6; i++)
    p[i] =
        start(sem_holder, gated(&g, mproc_build("[O O O i]", mproc_sem_ref(s),
                                                mproc_lock_ref(l),
                                                mproc_shared_ref(a), 10000)));
  gate_open(&g);
  for (i = 0; i < 6; i++)
    ck_exit(p[i], 0);
  ck_assert_int_eq(h[0], 0);
  ck_assert_int_le(h[1], 2);
  ck_assert_int_eq(h[1], 2);
  ck_assert_int_eq(mproc_sem_get_value(s), 2);
  mproc_shared_free(a);
  mproc_lock_free(l);
  mproc_sem_free(s);
  gate_free(&g);
}
END_TEST

#define BARRIER_PARTIES 8
#define BARRIER_ROUNDS 1000

/*
 * args [barrier, RawArray 'i' indices[round][party], RawValue 'i' action
 * count, me]: every round records the arrival index.  The action (run in
 * the last arrival's process) counts rounds; once released from round r,
 * nobody can have started round r + 1, so the count must be r + 1.
 */
static int barrier_rounds(mproc_value *args) {
  mproc_barrier *b = arg_barrier(args, 0);
  volatile int *idx = mproc_shared_data(arg_shared(args, 1));
  int me = (int)arg_i64(args, 3), r, rc;
  g_action_count = mproc_shared_data(arg_shared(args, 2));
  if (!b || !idx || !g_action_count)
    return 101;
  for (r = 0; r < BARRIER_ROUNDS; r++) {
    rc = mproc_barrier_wait(b, MPROC_DEFAULT_TIMEOUT);
    if (rc < 0)
      return -rc;
    idx[r * BARRIER_PARTIES + me] = rc;
    if (*g_action_count != r + 1)
      return 102;
  }
  return 0;
}

START_TEST(stress_barrier) {
  mproc_barrier *b;
  mproc_shared *idx, *count;
  mproc_process *p[BARRIER_PARTIES];
  int i, r;
  volatile int *ix;
  ck_mproc_ok(mproc_barrier_new(&b, BARRIER_PARTIES, count_action, 60));
  ck_mproc_ok(
      mproc_shared_rawarray(&idx, 'i', BARRIER_PARTIES * BARRIER_ROUNDS, NULL));
  ck_mproc_ok(mproc_shared_rawvalue(&count, 'i', NULL));
  ix = mproc_shared_data(idx);
  for (i = 0; i < BARRIER_PARTIES * BARRIER_ROUNDS; i++)
    ix[i] = -1;
  for (i = 0; i < BARRIER_PARTIES; i++)
    p[i] = start(barrier_rounds, mproc_build("[O O O i]", mproc_barrier_ref(b),
                                             mproc_shared_ref(idx),
                                             mproc_shared_ref(count), i));
  for (i = 0; i < BARRIER_PARTIES; i++)
    ck_exit(p[i], 0);
  ck_assert_int_eq(*(int *)mproc_shared_data(count), BARRIER_ROUNDS);
  for (r = 0; r < BARRIER_ROUNDS; r++) {
    int seen = 0;
    for (i = 0; i < BARRIER_PARTIES; i++) {
      int k = ix[r * BARRIER_PARTIES + i];
      ck_assert_msg(k >= 0 && k < BARRIER_PARTIES, "round %d party %d: %d", r,
                    i, k);
      seen |= 1 << k;
    }
    ck_assert_msg(seen == (1 << BARRIER_PARTIES) - 1,
                  "round %d: indices are not a permutation (mask %x)", r, seen);
  }
  ck_assert_int_eq(mproc_barrier_broken(b), 0);
  mproc_shared_free(idx);
  mproc_shared_free(count);
  mproc_barrier_free(b);
}
END_TEST

/* args [event, ready semaphore]. */
static int event_waiter(mproc_value *args) {
  CHILD_CK(mproc_sem_release(arg_sem(args, 1)), 0);
  return code_of(mproc_event_wait(arg_event(args, 0), 60));
}

START_TEST(stress_event_wakes_all) {
  mproc_event *e;
  mproc_sem *ready;
  mproc_process *p[8];
  int i;
  ck_mproc_ok(mproc_event_new(&e));
  ck_mproc_ok(mproc_sem_new(&ready, 0));
  for (i = 0; i < 8; i++)
    p[i] = start(event_waiter, mproc_build("[O O]", mproc_event_ref(e),
                                           mproc_sem_ref(ready)));
  for (i = 0; i < 8; i++)
    ck_mproc_ok(mproc_sem_acquire(ready, 60));
  mproc_sleep(0.1); /* most of them asleep in wait by now */
  ck_mproc_ok(mproc_event_set(e));
  for (i = 0; i < 8; i++)
    ck_exit(p[i], 0);
  mproc_sem_free(ready);
  mproc_event_free(e);
}
END_TEST

/* Bounded buffer in a RawArray 'q': count, head, tail, sum, ring[CAP],
 * seen[ITEMS]. */
#define PC_CAP 8
#define PC_EACH 1000
#define PC_PROCS 4
#define PC_ITEMS (PC_PROCS * PC_EACH)
enum { PC_COUNT, PC_HEAD, PC_TAIL, PC_SUM, PC_RING };
#define PC_SEEN (PC_RING + PC_CAP)

static int pc_space(void *ctx) {
  return ((volatile int64_t *)ctx)[PC_COUNT] < PC_CAP;
}
static int pc_items(void *ctx) {
  return ((volatile int64_t *)ctx)[PC_COUNT] > 0;
}

/* args [cond, buffer, me]: puts items me*EACH+1 .. (me+1)*EACH. */
static int producer(mproc_value *args) {
  mproc_cond *c = arg_cond(args, 0);
  volatile int64_t *q = mproc_shared_data(arg_shared(args, 1));
  int64_t me = arg_i64(args, 2), i;
  CHILD_CK(pass_gate(args), 0);
  for (i = 0; i < PC_EACH; i++) {
    CHILD_CK(mproc_cond_acquire(c, 30), 0);
    CHILD_CK(mproc_cond_wait_for(c, pc_space, (void *)q, 30), 0);
    q[PC_RING + q[PC_TAIL]] = me * PC_EACH + i + 1;
    q[PC_TAIL] = (q[PC_TAIL] + 1) % PC_CAP;
    q[PC_COUNT]++;
    CHILD_CK(mproc_cond_notify_all(c), 0);
    CHILD_CK(mproc_cond_release(c), 0);
  }
  return 0;
}

/* args [cond, buffer]: takes EACH items. */
static int consumer(mproc_value *args) {
  mproc_cond *c = arg_cond(args, 0);
  volatile int64_t *q = mproc_shared_data(arg_shared(args, 1));
  int i;
  CHILD_CK(pass_gate(args), 0);
  for (i = 0; i < PC_EACH; i++) {
    int64_t v;
    CHILD_CK(mproc_cond_acquire(c, 30), 0);
    CHILD_CK(mproc_cond_wait_for(c, pc_items, (void *)q, 30), 0);
    v = q[PC_RING + q[PC_HEAD]];
    q[PC_HEAD] = (q[PC_HEAD] + 1) % PC_CAP;
    q[PC_COUNT]--;
    if (v < 1 || v > PC_ITEMS)
      return 102;
    q[PC_SEEN + v - 1]++;
    q[PC_SUM] += v;
    CHILD_CK(mproc_cond_notify_all(c), 0);
    CHILD_CK(mproc_cond_release(c), 0);
  }
  return 0;
}

START_TEST(stress_condition_producer_consumer) {
  mproc_cond *c;
  mproc_shared *buf;
  mproc_process *p[2 * PC_PROCS];
  volatile int64_t *q;
  gate g;
  int i;
  gate_new(&g);
  ck_mproc_ok(mproc_cond_new(&c, NULL));
  ck_mproc_ok(mproc_shared_rawarray(&buf, 'q', PC_SEEN + PC_ITEMS, NULL));
  q = mproc_shared_data(buf);
  for (i = 0; i < PC_PROCS; i++) {
    p[i] = start(consumer, gated(&g, mproc_build("[O O]", mproc_cond_ref(c),
                                                 mproc_shared_ref(buf))));
    p[PC_PROCS + i] =
        start(producer, gated(&g, mproc_build("[O O i]", mproc_cond_ref(c),
                                              mproc_shared_ref(buf), i)));
  }
  gate_open(&g);
  /* Every exit code in the message: the first process to fail (a
   * wait_for that timed out: a notify_all that did not wake a waiter)
   * leaves holding the lock, and the others then see EOWNERDEAD. */
  {
    char codes[128] = "";
    int bad = 0;
    for (i = 0; i < 2 * PC_PROCS; i++) {
      int code = finish(p[i]);
      size_t len = strlen(codes);
      snprintf(codes + len, sizeof codes - len, " %s%d",
               i < PC_PROCS ? "c" : "p", code);
      bad |= code != 0;
    }
    ck_assert_msg(!bad,
                  "exit codes (c consumer, p producer):%s; buffer "
                  "count %d",
                  codes, (int)q[PC_COUNT]);
  }
  ck_assert_int_eq(q[PC_COUNT], 0);
  ck_assert_int_eq(q[PC_SUM], (int64_t)PC_ITEMS * (PC_ITEMS + 1) / 2);
  for (i = 0; i < PC_ITEMS; i++)
    ck_assert_msg(q[PC_SEEN + i] == 1, "item %d consumed %d times", i + 1,
                  (int)q[PC_SEEN + i]);
  mproc_shared_free(buf);
  mproc_cond_free(c);
  gate_free(&g);
}
END_TEST

/* ======================================================================== */
/* Objects travel only at spawn                                             */
/* ======================================================================== */

START_TEST(objects_only_travel_at_spawn) {
  mproc_lock *l, *r;
  mproc_sem *s, *bs;
  mproc_event *e;
  mproc_cond *c;
  mproc_barrier *b;
  mproc_conn *a, *z;
  struct {
    const char *name;
    mproc_value *ref;
  } cases[7];
  size_t i;
  ck_mproc_ok(mproc_lock_new(&l));
  ck_mproc_ok(mproc_rlock_new(&r));
  ck_mproc_ok(mproc_sem_new(&s, 1));
  ck_mproc_ok(mproc_bsem_new(&bs, 1));
  ck_mproc_ok(mproc_event_new(&e));
  ck_mproc_ok(mproc_cond_new(&c, NULL));
  ck_mproc_ok(mproc_barrier_new(&b, 2, NULL, MPROC_FOREVER));
  cases[0].name = "Lock";
  cases[0].ref = mproc_lock_ref(l);
  cases[1].name = "RLock";
  cases[1].ref = mproc_lock_ref(r);
  cases[2].name = "Semaphore";
  cases[2].ref = mproc_sem_ref(s);
  cases[3].name = "BoundedSemaphore";
  cases[3].ref = mproc_sem_ref(bs);
  cases[4].name = "Event";
  cases[4].ref = mproc_event_ref(e);
  cases[5].name = "Condition";
  cases[5].ref = mproc_cond_ref(c);
  cases[6].name = "Barrier";
  cases[6].ref = mproc_barrier_ref(b);
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  for (i = 0; i < 7; i++) {
    char want[160];
    void *enc;
    size_t n;
    mproc_value *v = mproc_build("[s O]", "inside", cases[i].ref);
    ck_assert_ptr_nonnull(v);
    snprintf(want, sizeof want,
             "%s objects should only be shared between processes through "
             "inheritance",
             cases[i].name);
    ck_mproc(mproc_conn_send(a, v), MPROC_EINHERIT);
    ck_assert_str_eq(mproc_last_error(), want);
    ck_mproc(mproc_encode(v, &enc, &n), MPROC_EINHERIT);
    ck_assert_str_eq(mproc_last_error(), want);
    mproc_value_free(v);
  }
  /* Nothing was sent, and the objects still work. */
  ck_assert_int_eq(mproc_conn_poll(z, 0), 0);
  ck_mproc_ok(mproc_lock_acquire(l, 0));
  ck_mproc_ok(mproc_lock_release(l));
  ck_mproc_ok(mproc_sem_acquire(s, 0));
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_barrier_free(b);
  mproc_cond_free(c);
  mproc_event_free(e);
  mproc_sem_free(bs);
  mproc_sem_free(s);
  mproc_lock_free(r);
  mproc_lock_free(l);
}
END_TEST

Suite *mproc_suite_sync(void) {
  Suite *s = suite_create("sync");
  TCase *rules = tcase_create("rules");
  TCase *timeouts = tcase_create("timeouts");
  TCase *death = tcase_create("owner_death");
  TCase *stress = tcase_create("stress");
  TCase *prodcons = tcase_create("prodcons");

  tcase_add_test(rules, lock_release_unlocked);
  tcase_add_test(rules, lock_released_by_other_process_and_thread);
  tcase_add_test(rules, rlock_recursion_and_owner);
  tcase_add_test(rules, semaphore_rules);
  tcase_add_test(rules, event_rules);
  tcase_add_test(rules, condition_rules);
  tcase_add_test(rules, condition_notify_one_then_all);
  tcase_add_test(rules, condition_late_waiter_does_not_take_wakeup);
  tcase_add_test(rules, condition_wait_for);
  tcase_add_test(rules, barrier_rules);
  tcase_add_test(rules, barrier_abort_and_reset);
  tcase_add_test(rules, barrier_timeout_breaks_it_for_all);
  tcase_add_test(rules, barrier_failing_action_breaks_it_for_all);
  tcase_add_test(rules, null_objects);
  tcase_add_test(rules, objects_only_travel_at_spawn);
  suite_add_tcase(s, rules);

  tcase_add_test(timeouts, timeouts_on_held_objects);
  tcase_add_test(timeouts, forever_wakes_on_release_by_other_process);
  tcase_add_loop_test(timeouts, negative_timeout_lockish, 0, K_NKINDS);
  tcase_add_test(timeouts, negative_timeout_sem_event);
  tcase_add_test(timeouts, negative_timeout_condition);
  tcase_add_test(timeouts, negative_timeout_barrier);
  suite_add_tcase(s, timeouts);

  /* _i: K_LOCK, K_RLOCK (held at depth 2), K_VALUE, K_COND. */
  tcase_add_loop_test(death, owner_death_blocking_acquire, 0, K_NKINDS);
  tcase_add_loop_test(death, owner_death_poll, 0, K_NKINDS);
  tcase_add_loop_test(death, owner_death_wakes_blocked_thread, 0, K_NKINDS);
  tcase_add_test(death, barrier_party_dies);
  tcase_add_test(death, owner_identity_and_liveness);
  suite_add_tcase(s, death);

  /* _i: K_LOCK, K_RLOCK, K_VALUE. */
  tcase_add_loop_test(stress, stress_counter, 0, K_VALUE + 1);
  tcase_add_test(stress, stress_semaphore);
  tcase_add_test(stress, stress_barrier);
  tcase_add_test(stress, stress_event_wakes_all);
  suite_add_tcase(s, stress);
  tcase_add_test(prodcons, stress_condition_producer_consumer);
  suite_add_tcase(s, prodcons);
  return s;
}
