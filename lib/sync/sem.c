/*
 * sem.c - Semaphore, BoundedSemaphore and Event: one counter or flag in
 * a shared block, changed by CAS, slept on by word_wait.
 *
 * A semaphore has no owner, so a process that dies after acquire leaves
 * the count one lower for good (as POSIX, Win32 and Python semaphores do);
 * get_value is a plain load and works on every OS.  An Event is a flag:
 * set wakes every sleeper.
 */
#include <limits.h>
#include <stdlib.h>

#include "atomics.h"
#include "mproc_int.h"

enum { KIND_SEM = 0x53454d41u /* "SEMA" */, KIND_EVENT = 0x45564e54u };

typedef struct semword {
  uint32_t value;
  uint32_t sleepers;
  uint32_t bounded;
  uint32_t max;
} semword;

struct mproc_sem {
  mproc__sobj o;
  semword *w;
};

typedef struct eventword {
  uint32_t flag;
  uint32_t sleepers;
} eventword;

struct mproc_event {
  mproc__sobj o;
  eventword *w;
};

extern const mproc__objtype mproc__sem_type, mproc__bsem_type,
    mproc__event_type;

/* ---- Semaphore -------------------------------------------------------------- */

static int sem_make(mproc_sem **out, int value, int bounded,
                    const char *what) {
  mproc_sem *s;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "%s: NULL output", what);
  *out = NULL;
  if (value < 0)
    return mproc__err(MPROC_EINVAL, "%s: semaphore initial value must be "
                                    ">= 0",
                      what);
  rc = mproc__sobj_new(sizeof *s,
                       bounded ? &mproc__bsem_type : &mproc__sem_type,
                       KIND_SEM, sizeof(semword), 1, (void **)&s);
  if (rc)
    return rc;
  s->w = mproc__sobj_state(&s->o);
  s->w->value = (uint32_t)value;
  s->w->bounded = (uint32_t)bounded;
  s->w->max = (uint32_t)value;
  *out = s;
  return 0;
}

int mproc_sem_new(mproc_sem **s, int value) {
  return sem_make(s, value, 0, "mproc_sem_new");
}

int mproc_bsem_new(mproc_sem **s, int value) {
  return sem_make(s, value, 1, "mproc_bsem_new");
}

int mproc_sem_acquire(mproc_sem *s, double timeout) {
  double deadline, left;
  uint32_t v;
  int rc;
  if (!s)
    return mproc__err(MPROC_EINVAL, "mproc_sem_acquire: NULL semaphore");
  if ((rc = mproc__timeout(&timeout, "mproc_sem_acquire")) != 0)
    return rc;
  v = mproc__ld32(&s->w->value);
  if (v > 0 && mproc__cas32(&s->w->value, &v, v - 1))
    return 0;
  deadline = mproc__deadline(timeout);
  for (;;) {
    v = mproc__ld32(&s->w->value);
    if (v > 0) {
      if (mproc__cas32(&s->w->value, &v, v - 1))
        return 0;
      continue;
    }
    left = mproc__left(deadline);
    if (left == 0)
      return mproc__err(MPROC_ETIMEDOUT, "mproc_sem_acquire: timed out "
                                         "after %g s",
                        timeout);
    rc = mproc__plat_word_wait(s->o.blk->park[0], &s->w->value, 0,
                               &s->w->sleepers, left);
    if (rc < 0 && rc != MPROC_ETIMEDOUT)
      return rc;
  }
}

int mproc_sem_release(mproc_sem *s) {
  uint32_t v;
  if (!s)
    return mproc__err(MPROC_EINVAL, "mproc_sem_release: NULL semaphore");
  v = mproc__ld32(&s->w->value);
  do {
    if (s->w->bounded && v >= s->w->max)
      return mproc__err(MPROC_EINVAL,
                        "semaphore or lock released too many times");
    if (v >= (uint32_t)INT_MAX)
      return mproc__err(MPROC_EINVAL, "semaphore value would exceed %d",
                        INT_MAX);
  } while (!mproc__cas32(&s->w->value, &v, v + 1));
  return mproc__plat_word_wake(s->o.blk->park[0], &s->w->value,
                               &s->w->sleepers, 1);
}

int mproc_sem_get_value(const mproc_sem *s) {
  if (!s)
    return mproc__err(MPROC_EINVAL, "mproc_sem_get_value: NULL semaphore");
  return (int)mproc__ld32(&s->w->value);
}

MPROC__SOBJ_REFS(sem, MPROC__NO_FINI)

int mproc_value_get_sem(const mproc_value *v, mproc_sem **out) {
  static const mproc__objtype *const types[] = {&mproc__sem_type,
                                                &mproc__bsem_type};
  return mproc__sobj_get(v, types, 2, "mproc_value_get_sem", (void **)out);
}

/* ---- Event ------------------------------------------------------------------ */

int mproc_event_new(mproc_event **out) {
  mproc_event *e;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_event_new: NULL output");
  *out = NULL;
  rc = mproc__sobj_new(sizeof *e, &mproc__event_type, KIND_EVENT,
                       sizeof(eventword), 1, (void **)&e);
  if (rc)
    return rc;
  e->w = mproc__sobj_state(&e->o);
  *out = e;
  return 0;
}

int mproc_event_set(mproc_event *e) {
  if (!e)
    return mproc__err(MPROC_EINVAL, "mproc_event_set: NULL event");
  if (mproc__xchg32(&e->w->flag, 1) == 1)
    return 0;
  return mproc__plat_word_wake(e->o.blk->park[0], &e->w->flag,
                               &e->w->sleepers, INT_MAX);
}

int mproc_event_clear(mproc_event *e) {
  if (!e)
    return mproc__err(MPROC_EINVAL, "mproc_event_clear: NULL event");
  mproc__st32(&e->w->flag, 0);
  return 0;
}

int mproc_event_is_set(const mproc_event *e) {
  return e ? (int)mproc__ld32(&e->w->flag) : 0;
}

int mproc_event_wait(mproc_event *e, double timeout) {
  double deadline, left;
  int rc;
  if (!e)
    return mproc__err(MPROC_EINVAL, "mproc_event_wait: NULL event");
  if ((rc = mproc__timeout(&timeout, "mproc_event_wait")) != 0)
    return rc;
  if (mproc__ld32(&e->w->flag))
    return 0;
  deadline = mproc__deadline(timeout);
  for (;;) {
    if (mproc__ld32(&e->w->flag))
      return 0;
    left = mproc__left(deadline);
    if (left == 0)
      return mproc__err(MPROC_ETIMEDOUT, "mproc_event_wait: timed out "
                                         "after %g s",
                        timeout);
    rc = mproc__plat_word_wait(e->o.blk->park[0], &e->w->flag, 0,
                               &e->w->sleepers, left);
    if (rc < 0 && rc != MPROC_ETIMEDOUT)
      return rc;
  }
}

MPROC__SOBJ_REFS(event, MPROC__NO_FINI)

int mproc_value_get_event(const mproc_value *v, mproc_event **out) {
  static const mproc__objtype *const types[] = {&mproc__event_type};
  return mproc__sobj_get(v, types, 1, "mproc_value_get_event", (void **)out);
}

/* ---- travelling at spawn: the block alone ---------------------------------- */

static int blk_export_obj(void *obj, mproc__spawn *sp, mproc_value **plain) {
  return mproc__blk_export(((mproc__sobj *)obj)->blk, sp, plain);
}

static int sem_import_obj(mproc__spawn *sp, const mproc_value *plain,
                          void **obj) {
  mproc_sem *s;
  int rc = mproc__sobj_import(sp, plain, sizeof *s, &mproc__sem_type,
                              KIND_SEM, sizeof(semword), 1, (void **)&s);
  if (rc)
    return rc;
  s->w = mproc__sobj_state(&s->o);
  if (s->w->bounded)
    s->o.type = &mproc__bsem_type;
  *obj = s;
  return 0;
}

static int event_import_obj(mproc__spawn *sp, const mproc_value *plain,
                            void **obj) {
  mproc_event *e;
  int rc = mproc__sobj_import(sp, plain, sizeof *e, &mproc__event_type,
                              KIND_EVENT, sizeof(eventword), 1, (void **)&e);
  if (rc)
    return rc;
  e->w = mproc__sobj_state(&e->o);
  *obj = e;
  return 0;
}

static void sem_release_obj(void *obj) { mproc_sem_free(obj); }
static void event_release_obj(void *obj) { mproc_event_free(obj); }

const mproc__objtype mproc__sem_type = {"Semaphore", sem_release_obj,
                                        blk_export_obj, sem_import_obj};
const mproc__objtype mproc__bsem_type = {"BoundedSemaphore", sem_release_obj,
                                         blk_export_obj, sem_import_obj};
const mproc__objtype mproc__event_type = {"Event", event_release_obj,
                                          blk_export_obj, event_import_obj};
