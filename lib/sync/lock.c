/*
 * lock.c - Lock and RLock: a word lock in shared memory that knows its
 * owner, so a dead owner is detected instead of deadlocking.
 *
 * The word: 0 when free, else (tag << 32) | pid | WAITERS.  (pid, tag) is
 * the owning process (tag tells it from a later process with the same pid)
 * and is written by the same compare-and-swap that takes the lock, so
 * there is no moment when a taken lock names no owner.  WAITERS says a
 * process may sleep on the word (the low 32 bits: a futex on Linux, a park
 * semaphore on Win32); release wakes one sleeper only then.  As in
 * Python, any process or thread may release a Lock; an RLock also keeps
 * the owning thread and its depth, and only that thread releases it.
 *
 * Owner death: a caller that cannot take the lock asks the OS whether the
 * owner (pid, tag) still runs - at once when it polls (timeout 0), after
 * each 50 ms slice of sleep, and at its deadline.  If not, it takes the
 * word over with a CAS (so of several such callers exactly one wins) and
 * gets MPROC_EOWNERDEAD with the lock held.
 *
 * The fast paths are one CAS (acquire) and one exchange (release), no
 * system call; the lock is not fair (like glibc's mutexes and Python's
 * semaphores): a running releaser may take it again before a woken one.
 */
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "mproc_int.h"
#include "spawnctx.h"

#define WAITERS 0x80000000u
/* Sleep slice between owner checks of a blocked acquirer. */
#define OWNER_CHECK 0.05
/* Attempts to re-take a just-released lock before sleeping. */
#define SPINS 64

enum { KIND_LOCK = 0x4c4f434bu /* "LOCK" */ };

/* ---- identity and time ----------------------------------------------------- */

uint64_t mproc__self_owner(void) {
  static uint64_t me; /* constant for the process: a benign race */
  uint64_t m = me;
  if (!m) {
    uint32_t pid = (uint32_t)mproc__plat_getpid(), tag = 1;
    mproc__plat_proc_identity(&pid, &tag); /* never fails: tag 1 at worst */
    m = ((uint64_t)tag << 32) | pid;
    me = m;
  }
  return m;
}

volatile uint32_t *mproc__low_half(volatile uint64_t *w) {
  static const union {
    uint64_t u;
    unsigned char b[8];
  } probe = {1};
  return (volatile uint32_t *)w + (probe.b[0] ? 0 : 1);
}

int mproc__timeout(double *timeout, const char *what) {
  double t = *timeout;
  if (t != t)
    return mproc__err(MPROC_EINVAL, "%s: timeout is NaN", what);
  if (t == MPROC_FOREVER || t > 1e300)
    *timeout = MPROC_FOREVER;
  else if (t < 0)
    *timeout = 0.0; /* a deadline that has passed: poll, as Python */
  return 0;
}

double mproc__deadline(double timeout) {
  return timeout < 0 ? -1.0 : mproc__plat_monotonic() + timeout;
}

double mproc__left(double deadline) {
  double left;
  if (deadline < 0)
    return -1.0;
  left = deadline - mproc__plat_monotonic();
  return left > 0 ? left : 0.0;
}

/* ---- the word lock ---------------------------------------------------------- */

static uint64_t owner_of(uint64_t word) {
  return word & ~(uint64_t)WAITERS;
}

/* 1 if the owner recorded in word has ended. */
static int owner_dead(uint64_t word) {
  uint64_t o = owner_of(word);
  if (o == mproc__self_owner())
    return 0;
  return mproc__plat_proc_alive((uint32_t)o, (uint32_t)(o >> 32)) == 0;
}

/*
 * tid and count are read only by threads of the owning process to ask
 * "is it mine?": a thread sees its own writes, and another thread can see
 * 0 or the owner's id but never its own, so plain stores are enough (the
 * CAS and exchange on own order them against other processes).
 */
static void took(mproc__lockword *w) {
  mproc__st32_relaxed(&w->tid, mproc__plat_thread_id());
  if (w->recursive)
    mproc__st32_relaxed(&w->count, 1);
}

int mproc__lk_is_mine(mproc__lockword *w) {
  return owner_of(mproc__ld64(&w->own)) == mproc__self_owner() &&
         mproc__ld32_relaxed(&w->tid) == mproc__plat_thread_id();
}

/* Take the lock from its dead owner; 1 if this caller won it. */
static int take_over(mproc__lockword *w, uint64_t seen, uint64_t me) {
  if (!mproc__cas64(&w->own, &seen, me | WAITERS))
    return 0;
  took(w);
  return 1;
}

int mproc__lk_acquire(mproc__lockword *w, mproc__handle park, double timeout) {
  uint64_t me = mproc__self_owner(), cur = 0;
  volatile uint32_t *low = mproc__low_half(&w->own);
  double deadline, left, slice;
  int spins = 0, rc;

  if (w->recursive && mproc__lk_is_mine(w)) {
    uint32_t n = mproc__ld32_relaxed(&w->count);
    if (n == UINT32_MAX)
      return mproc__err(MPROC_EINVAL, "RLock: recursion too deep");
    mproc__st32_relaxed(&w->count, n + 1);
    return 0;
  }
  if (mproc__cas64(&w->own, &cur, me)) {
    took(w);
    return 0;
  }
  deadline = mproc__deadline(timeout);
  for (;;) {
    cur = mproc__ld64(&w->own);
    if (cur == 0) {
      /* Sleepers we cannot count may remain: keep WAITERS set. */
      if (mproc__cas64(&w->own, &cur, spins < SPINS ? me : me | WAITERS)) {
        took(w);
        return 0;
      }
      continue;
    }
    if (timeout != 0 && spins < SPINS) {
      spins++;
      mproc__cpu_relax();
      continue;
    }
    left = mproc__left(deadline);
    if (left == 0) {
      if (owner_dead(cur) && take_over(w, cur, me))
        return mproc__err(MPROC_EOWNERDEAD, "the process that held the lock "
                                            "died; it is now yours");
      if (mproc__ld64(&w->own) == 0)
        continue; /* released meanwhile: one more try */
      return MPROC_ETIMEDOUT;
    }
    if (!(cur & WAITERS)) {
      uint64_t want = cur | WAITERS;
      if (!mproc__cas64(&w->own, &cur, want))
        continue;
      cur = want;
    }
    slice = left < 0 || left > OWNER_CHECK ? OWNER_CHECK : left;
    rc = mproc__plat_word_wait(park, low, (uint32_t)cur, &w->sleepers, slice);
    if (rc == MPROC_ETIMEDOUT) {
      cur = mproc__ld64(&w->own);
      if (cur && owner_dead(cur) && take_over(w, cur, me))
        return mproc__err(MPROC_EOWNERDEAD, "the process that held the lock "
                                            "died; it is now yours");
    } else if (rc < 0) {
      return rc;
    }
  }
}

int mproc__lk_release(mproc__lockword *w, mproc__handle park) {
  uint64_t old;
  if (w->recursive) {
    if (!mproc__lk_is_mine(w))
      return mproc__err(MPROC_ENOTOWNER, "attempt to release recursive lock "
                                         "not owned by thread");
    uint32_t n = mproc__ld32_relaxed(&w->count) - 1;
    mproc__st32_relaxed(&w->count, n);
    if (n > 0)
      return 0;
  }
  mproc__st32_relaxed(&w->tid, 0);
  old = mproc__xchg64(&w->own, 0);
  if (old == 0)
    return mproc__err(MPROC_EINVAL,
                      "semaphore or lock released too many times");
  if ((uint32_t)old & WAITERS)
    return mproc__plat_word_wake(park, mproc__low_half(&w->own), &w->sleepers,
                                 1);
  return 0;
}

int mproc__lk_release_all(mproc__lockword *w, mproc__handle park,
                          uint32_t *depth) {
  *depth = w->recursive ? mproc__ld32_relaxed(&w->count) : 1;
  if (w->recursive)
    mproc__st32_relaxed(&w->count, 1);
  return mproc__lk_release(w, park);
}

int mproc__lk_restore(mproc__lockword *w, mproc__handle park,
                      uint32_t depth) {
  int rc = mproc__lk_acquire(w, park, MPROC_FOREVER);
  if ((rc == 0 || rc == MPROC_EOWNERDEAD) && w->recursive)
    mproc__st32_relaxed(&w->count, depth);
  return rc;
}

/* ---- Lock and RLock objects ---------------------------------------------- */

static mproc__handle park_of(mproc_lock *l) {
  return l->o.blk->park[l->slot];
}

int mproc__lock_view(mproc__blk *blk, size_t off, int slot,
                     mproc_lock **out) {
  mproc_lock *l = calloc(1, sizeof *l);
  if (!l)
    return mproc__err(MPROC_ENOMEM, "lock");
  l->w = (mproc__lockword *)(blk->addr + off);
  l->off = off;
  l->slot = slot;
  mproc__sobj_init(&l->o, l->w->recursive ? &mproc__rlock_type
                                          : &mproc__lock_type,
                   mproc__blk_incref(blk));
  *out = l;
  return 0;
}

static int make(mproc_lock **out, int recursive, const char *what) {
  mproc__blk *blk;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "%s: NULL output", what);
  *out = NULL;
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  rc = mproc__blk_new(MPROC__BLK_HDR + sizeof(mproc__lockword), KIND_LOCK, 1,
                      &blk);
  if (rc)
    return rc;
  ((mproc__lockword *)(blk->addr + MPROC__BLK_HDR))->recursive =
      (uint32_t)recursive;
  rc = mproc__lock_view(blk, MPROC__BLK_HDR, 0, out);
  mproc__blk_decref(blk);
  return rc;
}

int mproc_lock_new(mproc_lock **l) { return make(l, 0, "mproc_lock_new"); }
int mproc_rlock_new(mproc_lock **l) { return make(l, 1, "mproc_rlock_new"); }

int mproc_lock_acquire(mproc_lock *l, double timeout) {
  int rc;
  if (!l)
    return mproc__err(MPROC_EINVAL, "mproc_lock_acquire: NULL lock");
  if ((rc = mproc__timeout(&timeout, "mproc_lock_acquire")) != 0)
    return rc;
  rc = mproc__lk_acquire(l->w, park_of(l), timeout);
  if (rc == MPROC_ETIMEDOUT)
    return mproc__err(rc, "mproc_lock_acquire: timed out after %g s",
                      timeout);
  return rc;
}

int mproc_lock_release(mproc_lock *l) {
  if (!l)
    return mproc__err(MPROC_EINVAL, "mproc_lock_release: NULL lock");
  return mproc__lk_release(l->w, park_of(l));
}

int mproc_lock_is_recursive(const mproc_lock *l) {
  return l && l->w->recursive;
}

int mproc_lock_is_mine(const mproc_lock *l) {
  return l && mproc__lk_is_mine(l->w);
}

MPROC__SOBJ_REFS(lock, MPROC__NO_FINI)

int mproc_value_get_lock(const mproc_value *v, mproc_lock **out) {
  static const mproc__objtype *const types[] = {&mproc__lock_type,
                                                &mproc__rlock_type};
  return mproc__sobj_get(v, types, 2, "mproc_value_get_lock", (void **)out);
}

/* ---- travelling at spawn: [block, offset, park slot] ---------------------- */

int mproc__lock_export(mproc_lock *l, mproc__spawn *sp, mproc_value **plain) {
  mproc_value *blk = NULL;
  int rc = mproc__blk_export(l->o.blk, sp, &blk);
  if (rc)
    return rc;
  *plain = mproc_build("[OLi]", blk, (int64_t)l->off, l->slot);
  return *plain ? 0 : MPROC_ENOMEM;
}

int mproc__lock_import(mproc__spawn *sp, const mproc_value *plain,
                       mproc_lock **out) {
  int64_t off, slot;
  mproc__blk *blk;
  int rc;
  if (mproc_list_len(plain) != 3 ||
      mproc_value_get_int(mproc_list_get(plain, 1), &off) != 0 ||
      mproc_value_get_int(mproc_list_get(plain, 2), &slot) != 0 || off < 0 ||
      off % 8 != 0 || slot < 0 || slot >= MPROC__MAX_PARKS)
    return mproc__err(MPROC_EBADMSG, "malformed Lock in bootstrap");
  rc = mproc__blk_import(sp, mproc_list_get(plain, 0), 0, (size_t)off,
                         sizeof(mproc__lockword), &blk);
  if (rc)
    return rc;
  if (mproc__plat_park_needed() && slot >= blk->nparks)
    rc = mproc__err(MPROC_EBADMSG, "malformed Lock in bootstrap");
  else
    rc = mproc__lock_view(blk, (size_t)off, (int)slot, out);
  mproc__blk_decref(blk);
  return rc;
}

static void lock_release_obj(void *obj) { mproc_lock_free(obj); }

static int lock_export_obj(void *obj, mproc__spawn *sp, mproc_value **plain) {
  return mproc__lock_export(obj, sp, plain);
}

static int lock_import_obj(mproc__spawn *sp, const mproc_value *plain,
                           void **obj) {
  return mproc__lock_import(sp, plain, (mproc_lock **)obj);
}

const mproc__objtype mproc__lock_type = {"Lock", lock_release_obj,
                                         lock_export_obj, lock_import_obj};
const mproc__objtype mproc__rlock_type = {"RLock", lock_release_obj,
                                          lock_export_obj, lock_import_obj};
