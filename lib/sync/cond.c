/*
 * cond.c - Condition and Barrier.
 *
 * Condition: a table of waiter slots in the shared block.  wait (lock
 * held) claims a free slot, stamps it with an arrival ticket and its
 * process, releases the lock, and sleeps on its slot's state word until
 * that says NOTIFIED or its time is up (a timed-out waiter frees its slot
 * with a CAS, so a notify racing with the timeout is either taken or not
 * counted, never lost).  notify(n) (lock held) marks the n waiting slots
 * with the oldest tickets NOTIFIED and wakes them: exactly the waiters
 * present at the notify, oldest first (as threading.Condition), and a
 * waiter that arrives later - or waits again right after waking - cannot
 * take their wake-up.  A slot whose process has died is freed, not
 * notified, so a dead waiter costs nobody a wake-up, and notify never
 * waits for the woken (CPython's can hang on a dead waiter).  On Linux
 * each slot's word is its own futex; Win32 parks all of a Condition's
 * sleepers on one semaphore and wakes them all (each re-checks its slot).
 *
 * Barrier: threading.Barrier's algorithm (as multiprocessing uses it)
 * with its own word lock and a generation word in one block: "wait on the
 * condition" is "note the generation, unlock, sleep while it is the same,
 * lock"; notify_all bumps it.  A party dying inside the internal lock
 * breaks the barrier (its count can no longer be trusted).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "mproc_int.h"
#include "spawnctx.h"

enum { KIND_COND = 0x434f4e44u /* "COND" */, KIND_BARRIER = 0x42415252u };

/* Waiters one Condition can hold at once. */
#define NSLOTS 1024
enum { S_FREE = 0, S_WAITING = 1, S_NOTIFIED = 2 };

typedef struct condslot {
  uint32_t state;
  uint32_t pid, tag;
  uint32_t pad;
  uint64_t ticket;
} condslot;

typedef struct condword {
  uint64_t next_ticket; /* under the lock */
  uint32_t sleepers;
  uint32_t hi; /* slots [0, hi) have been used */
  condslot slot[NSLOTS];
} condword;

struct mproc_cond {
  mproc__sobj o;
  condword *w;
  mproc_lock *lock;
};

extern const mproc__objtype mproc__cond_type, mproc__barrier_type;

/* ---- Condition -------------------------------------------------------------- */

static mproc__handle lock_park(mproc_lock *l) {
  return l->o.blk->park[l->slot];
}

int mproc_cond_new(mproc_cond **out, mproc_lock *lock) {
  mproc__blk *blk;
  mproc_cond *c;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_cond_new: NULL output");
  *out = NULL;
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  c = calloc(1, sizeof *c);
  if (!c)
    return mproc__err(MPROC_ENOMEM, "condition");
  if (lock) {
    c->lock = mproc_lock_incref(lock);
  } else if ((rc = mproc_rlock_new(&c->lock)) != 0) {
    free(c);
    return rc;
  }
  rc = mproc__blk_new(MPROC__BLK_HDR + sizeof(condword), KIND_COND, 1, &blk);
  if (rc) {
    mproc_lock_free(c->lock);
    free(c);
    return rc;
  }
  c->w = (condword *)(blk->addr + MPROC__BLK_HDR);
  mproc__sobj_init(&c->o, &mproc__cond_type, blk);
  *out = c;
  return 0;
}

mproc_lock *mproc_cond_lock(mproc_cond *c) { return c ? c->lock : NULL; }

int mproc_cond_acquire(mproc_cond *c, double timeout) {
  if (!c)
    return mproc__err(MPROC_EINVAL, "mproc_cond_acquire: NULL condition");
  return mproc_lock_acquire(c->lock, timeout);
}

int mproc_cond_release(mproc_cond *c) {
  if (!c)
    return mproc__err(MPROC_EINVAL, "mproc_cond_release: NULL condition");
  return mproc_lock_release(c->lock);
}

/* Wake the sleeper of one slot (Win32: every sleeper re-checks). */
static int wake_slot(mproc_cond *c, condslot *sl) {
  return mproc__plat_word_wake(c->o.blk->park[0], &sl->state,
                               &c->w->sleepers,
                               mproc__plat_park_needed() ? INT_MAX : 1);
}

int mproc_cond_wait(mproc_cond *c, double timeout) {
  condword *w;
  condslot *sl = NULL;
  double deadline, left;
  uint32_t depth, st, i, hi, me_pid, me_tag;
  uint64_t me;
  int notified = 0, rc, rc2;
  if (!c)
    return mproc__err(MPROC_EINVAL, "mproc_cond_wait: NULL condition");
  if ((rc = mproc__timeout(&timeout, "mproc_cond_wait")) != 0)
    return rc;
  if (!mproc__lk_is_mine(c->lock->w))
    return mproc__err(MPROC_ENOTOWNER, "cannot wait on un-acquired lock");
  w = c->w;
  deadline = mproc__deadline(timeout);
  /* Claim a slot; slots are only claimed under the lock. */
  hi = mproc__ld32(&w->hi);
  for (i = 0; i < NSLOTS && !sl; i++) {
    st = S_FREE;
    if (mproc__cas32(&w->slot[i].state, &st, S_WAITING))
      sl = &w->slot[i];
  }
  if (!sl)
    return mproc__err(MPROC_ENOMEM, "mproc_cond_wait: more than %d waiters "
                                    "on one Condition",
                      NSLOTS);
  if ((uint32_t)(sl - w->slot) + 1 > hi)
    mproc__st32(&w->hi, (uint32_t)(sl - w->slot) + 1);
  me = mproc__self_owner();
  me_pid = (uint32_t)me;
  me_tag = (uint32_t)(me >> 32);
  sl->pid = me_pid;
  sl->tag = me_tag;
  sl->ticket = w->next_ticket++;
  rc = mproc__lk_release_all(c->lock->w, lock_park(c->lock), &depth);
  if (rc) {
    mproc__st32(&sl->state, S_FREE);
    return rc;
  }
  for (;;) {
    st = mproc__ld32(&sl->state);
    if (st == S_NOTIFIED) {
      notified = 1;
      break;
    }
    left = mproc__left(deadline);
    if (left == 0 || rc < 0) {
      st = S_WAITING;
      if (mproc__cas32(&sl->state, &st, S_FREE))
        break; /* timed out (or failed): nobody chose this slot */
      notified = 1; /* notified at the last moment: take it */
      break;
    }
    rc = mproc__plat_word_wait(c->o.blk->park[0], &sl->state, S_WAITING,
                               &w->sleepers, left);
    if (rc == MPROC_ETIMEDOUT)
      rc = 0;
  }
  if (notified)
    mproc__st32(&sl->state, S_FREE);
  rc2 = mproc__lk_restore(c->lock->w, lock_park(c->lock), depth);
  if (rc2)
    return rc2; /* MPROC_EOWNERDEAD (held) or a failure, detail recorded */
  if (rc < 0)
    return rc;
  return notified ? 0
                  : mproc__err(MPROC_ETIMEDOUT, "mproc_cond_wait: timed out "
                                                "after %g s",
                               timeout);
}

int mproc_cond_wait_for(mproc_cond *c, int (*pred)(void *ctx), void *ctx,
                        double timeout) {
  double deadline, left;
  int rc;
  if (!c || !pred)
    return mproc__err(MPROC_EINVAL, "mproc_cond_wait_for: NULL %s",
                      c ? "predicate" : "condition");
  if ((rc = mproc__timeout(&timeout, "mproc_cond_wait_for")) != 0)
    return rc;
  deadline = mproc__deadline(timeout);
  while (!pred(ctx)) {
    left = mproc__left(deadline);
    if (left == 0)
      return mproc__err(MPROC_ETIMEDOUT, "mproc_cond_wait_for: the predicate "
                                         "was still false after %g s",
                        timeout);
    rc = mproc_cond_wait(c, left);
    if (rc < 0 && rc != MPROC_ETIMEDOUT)
      return rc;
  }
  return 0;
}

int mproc_cond_notify(mproc_cond *c, unsigned n) {
  condword *w;
  uint64_t me;
  uint32_t i, hi, st;
  unsigned done = 0;
  int rc = 0, r;
  if (!c)
    return mproc__err(MPROC_EINVAL, "mproc_cond_notify: NULL condition");
  if (!mproc__lk_is_mine(c->lock->w))
    return mproc__err(MPROC_ENOTOWNER, "lock is not owned");
  w = c->w;
  me = mproc__self_owner();
  hi = mproc__ld32(&w->hi);
  while (done < n) {
    condslot *best = NULL;
    /* The oldest waiting slot (tickets are written under the lock). */
    for (i = 0; i < hi; i++)
      if (mproc__ld32(&w->slot[i].state) == S_WAITING &&
          (!best || w->slot[i].ticket < best->ticket))
        best = &w->slot[i];
    if (!best)
      break;
    if ((best->pid != (uint32_t)me || best->tag != (uint32_t)(me >> 32)) &&
        mproc__plat_proc_alive(best->pid, best->tag) == 0) {
      st = S_WAITING; /* its process died waiting: free, do not count */
      mproc__cas32(&best->state, &st, S_FREE);
      continue;
    }
    st = S_WAITING;
    if (!mproc__cas32(&best->state, &st, S_NOTIFIED))
      continue; /* it timed out just now: choose again */
    done++;
    r = wake_slot(c, best);
    if (r && !rc)
      rc = r;
  }
  return rc;
}

int mproc_cond_notify_all(mproc_cond *c) {
  return mproc_cond_notify(c, UINT_MAX);
}

/* What a Condition holds besides its block: a reference to its lock. */
static void cond_fini(mproc_cond *c) { mproc_lock_free(c->lock); }

MPROC__SOBJ_REFS(cond, cond_fini)

int mproc_value_get_cond(const mproc_value *v, mproc_cond **out) {
  static const mproc__objtype *const types[] = {&mproc__cond_type};
  return mproc__sobj_get(v, types, 1, "mproc_value_get_cond", (void **)out);
}

/* At spawn: [block, lock description]. */
static int cond_export_obj(void *obj, mproc__spawn *sp, mproc_value **plain) {
  mproc_cond *c = obj;
  mproc_value *blk = NULL, *lock = NULL;
  int rc = mproc__blk_export(c->o.blk, sp, &blk);
  if (rc == 0)
    rc = mproc__lock_export(c->lock, sp, &lock);
  if (rc) {
    mproc_value_free(blk);
    return rc;
  }
  *plain = mproc_build("[OO]", blk, lock);
  return *plain ? 0 : MPROC_ENOMEM;
}

static int cond_import_obj(mproc__spawn *sp, const mproc_value *plain,
                           void **obj) {
  mproc__blk *blk;
  mproc_cond *c;
  int rc;
  if (mproc_list_len(plain) != 2)
    return mproc__err(MPROC_EBADMSG, "malformed Condition in bootstrap");
  c = calloc(1, sizeof *c);
  if (!c)
    return mproc__err(MPROC_ENOMEM, "condition");
  rc = mproc__lock_import(sp, mproc_list_get(plain, 1), &c->lock);
  if (rc == 0)
    rc = mproc__blk_import(sp, mproc_list_get(plain, 0), KIND_COND,
                           MPROC__BLK_HDR, sizeof(condword), &blk);
  if (rc) {
    mproc_lock_free(c->lock);
    free(c);
    return rc;
  }
  c->w = (condword *)(blk->addr + MPROC__BLK_HDR);
  mproc__sobj_init(&c->o, &mproc__cond_type, blk);
  *obj = c;
  return 0;
}

static void cond_release_obj(void *obj) { mproc_cond_free(obj); }

const mproc__objtype mproc__cond_type = {"Condition", cond_release_obj,
                                         cond_export_obj, cond_import_obj};

/* ---- Barrier ---------------------------------------------------------------- */

enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2 };
#define MODULE_MAX 512

typedef struct barrierword {
  mproc__lockword lock; /* park 0 */
  uint32_t gen;         /* park 1 */
  uint32_t gsleepers;
  int32_t state; /* all below: only under lock */
  uint32_t count;
  uint32_t parties;
  uint32_t has_action;
  uint64_t action_off;
  double timeout;
  char action_module[MODULE_MAX];
} barrierword;

struct mproc_barrier {
  mproc__sobj o;
  barrierword *w;
};

static void b_notify_all(mproc_barrier *b) {
  mproc__add32(&b->w->gen, 1);
  mproc__plat_word_wake(b->o.blk->park[1], &b->w->gen, &b->w->gsleepers,
                        INT_MAX);
}

static void b_break(mproc_barrier *b) {
  b->w->state = BROKEN;
  b_notify_all(b);
}

/* Take the internal lock; a dead holder breaks the barrier. */
static int b_lock(mproc_barrier *b) {
  int rc = mproc__lk_acquire(&b->w->lock, b->o.blk->park[0], MPROC_FOREVER);
  if (rc == MPROC_EOWNERDEAD) {
    b_break(b);
    return 0;
  }
  return rc;
}

static void b_unlock(mproc_barrier *b) {
  mproc__lk_release(&b->w->lock, b->o.blk->park[0]);
}

/* Python's cond.wait(): 0 when woken (maybe spuriously), ETIMEDOUT. */
static int b_wait(mproc_barrier *b, double deadline) {
  uint32_t s = mproc__ld32(&b->w->gen);
  double left = mproc__left(deadline);
  int rc, rc2;
  if (left == 0)
    return MPROC_ETIMEDOUT;
  b_unlock(b);
  rc = mproc__plat_word_wait(b->o.blk->park[1], &b->w->gen, s,
                             &b->w->gsleepers, left);
  rc2 = b_lock(b);
  return rc2 ? rc2 : (rc == MPROC_ETIMEDOUT ? 0 : rc);
}

int mproc_barrier_new(mproc_barrier **out, int parties,
                      mproc_barrier_action action, double timeout) {
  mproc_barrier *b;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_new: NULL output");
  *out = NULL;
  if (parties < 1)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_new: parties must be "
                                    ">= 1, not %d",
                      parties);
  /* A barrier has no default of its own to refer to (Python's is None). */
  if (timeout == MPROC_DEFAULT_TIMEOUT)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_new: "
                                    "MPROC_DEFAULT_TIMEOUT is for "
                                    "mproc_barrier_wait; give MPROC_FOREVER "
                                    "or seconds");
  /* A negative default polls, as in Python: waits then break at once. */
  if ((rc = mproc__timeout(&timeout, "mproc_barrier_new")) != 0)
    return rc;
  rc = mproc__sobj_new(sizeof *b, &mproc__barrier_type, KIND_BARRIER,
                       sizeof(barrierword), 2, (void **)&b);
  if (rc)
    return rc;
  b->w = mproc__sobj_state(&b->o);
  b->w->parties = (uint32_t)parties;
  b->w->timeout = timeout;
  if (action) {
    rc = mproc__plat_addr_to_ref((const void *)(uintptr_t)action,
                                 b->w->action_module, MODULE_MAX,
                                 &b->w->action_off);
    if (rc) {
      mproc_barrier_free(b);
      return rc;
    }
    b->w->has_action = 1;
  }
  *out = b;
  return 0;
}

/* The last party runs the action; 0, or MPROC_EBROKEN when it failed. */
static int run_action(mproc_barrier *b) {
  void *addr = NULL;
  int rc;
  if (!b->w->has_action)
    return 0;
  b->w->action_module[MODULE_MAX - 1] = '\0';
  rc = mproc__plat_ref_to_addr(b->w->action_module, b->w->action_off, &addr);
  if (rc)
    return mproc__err(MPROC_EBROKEN, "barrier action not found in this "
                                     "process: %s",
                      mproc_last_error());
  rc = ((mproc_barrier_action)(uintptr_t)addr)();
  if (rc)
    return mproc__err(MPROC_EBROKEN, "barrier action returned %d", rc);
  return 0;
}

int mproc_barrier_wait(mproc_barrier *b, double timeout) {
  barrierword *w;
  double deadline;
  int rc, index = 0;
  if (!b)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_wait: NULL barrier");
  w = b->w;
  if (timeout == MPROC_DEFAULT_TIMEOUT)
    timeout = w->timeout;
  if ((rc = mproc__timeout(&timeout, "mproc_barrier_wait")) != 0)
    return rc;
  deadline = mproc__deadline(timeout);
  rc = b_lock(b);
  if (rc)
    return rc;
  /* Wait for a previous round to drain or a reset to finish. */
  while (rc == 0 && (w->state == DRAINING || w->state == RESETTING))
    rc = b_wait(b, deadline);
  if (rc == MPROC_ETIMEDOUT)
    rc = mproc__err(MPROC_ETIMEDOUT, "mproc_barrier_wait: the previous "
                                     "round did not finish in %g s",
                    timeout);
  else if (rc == 0 && w->state == BROKEN)
    rc = mproc__err(MPROC_EBROKEN, "barrier is broken");
  if (rc) {
    b_unlock(b);
    return rc;
  }
  index = (int)w->count++;
  if ((uint32_t)index + 1 == w->parties) {
    rc = run_action(b);
    if (rc) {
      b_break(b);
    } else {
      w->state = DRAINING;
      b_notify_all(b);
    }
  } else {
    while (rc == 0 && w->state == FILLING)
      rc = b_wait(b, deadline);
    if (rc == MPROC_ETIMEDOUT) {
      b_break(b);
      rc = mproc__err(MPROC_EBROKEN, "barrier broken: this wait timed out "
                                     "after %g s",
                      timeout);
    } else if (rc == 0 && w->state < 0) {
      rc = mproc__err(MPROC_EBROKEN, "barrier is broken");
    }
  }
  /* Leave; the last one out of a drained or reset round refills it. */
  w->count--;
  if (w->count == 0 && (w->state == DRAINING || w->state == RESETTING)) {
    w->state = FILLING;
    b_notify_all(b);
  }
  b_unlock(b);
  return rc ? rc : index;
}

int mproc_barrier_abort(mproc_barrier *b) {
  int rc;
  if (!b)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_abort: NULL barrier");
  if ((rc = b_lock(b)) != 0)
    return rc;
  b_break(b);
  b_unlock(b);
  return 0;
}

int mproc_barrier_reset(mproc_barrier *b) {
  int rc;
  if (!b)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_reset: NULL barrier");
  if ((rc = b_lock(b)) != 0)
    return rc;
  if (b->w->count > 0) {
    if (b->w->state == FILLING || b->w->state == BROKEN)
      b->w->state = RESETTING;
  } else {
    b->w->state = FILLING;
  }
  b_notify_all(b);
  b_unlock(b);
  return 0;
}

int mproc_barrier_broken(mproc_barrier *b) {
  int rc;
  if (!b)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_broken: NULL barrier");
  if ((rc = b_lock(b)) != 0)
    return rc;
  rc = b->w->state == BROKEN;
  b_unlock(b);
  return rc;
}

int mproc_barrier_n_waiting(mproc_barrier *b) {
  int rc;
  if (!b)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_n_waiting: NULL barrier");
  if ((rc = b_lock(b)) != 0)
    return rc;
  rc = b->w->state == FILLING ? (int)b->w->count : 0;
  b_unlock(b);
  return rc;
}

int mproc_barrier_parties(const mproc_barrier *b) {
  if (!b)
    return mproc__err(MPROC_EINVAL, "mproc_barrier_parties: NULL barrier");
  return (int)b->w->parties;
}

MPROC__SOBJ_REFS(barrier, MPROC__NO_FINI)

int mproc_value_get_barrier(const mproc_value *v, mproc_barrier **out) {
  static const mproc__objtype *const types[] = {&mproc__barrier_type};
  return mproc__sobj_get(v, types, 1, "mproc_value_get_barrier",
                         (void **)out);
}

static int barrier_export_obj(void *obj, mproc__spawn *sp,
                              mproc_value **plain) {
  return mproc__blk_export(((mproc_barrier *)obj)->o.blk, sp, plain);
}

static int barrier_import_obj(mproc__spawn *sp, const mproc_value *plain,
                              void **obj) {
  mproc_barrier *b;
  int rc = mproc__sobj_import(sp, plain, sizeof *b, &mproc__barrier_type,
                              KIND_BARRIER, sizeof(barrierword), 2,
                              (void **)&b);
  if (rc)
    return rc;
  b->w = mproc__sobj_state(&b->o);
  *obj = b;
  return 0;
}

static void barrier_release_obj(void *obj) { mproc_barrier_free(obj); }

const mproc__objtype mproc__barrier_type = {"Barrier", barrier_release_obj,
                                            barrier_export_obj,
                                            barrier_import_obj};
