/*
 * shared.c - Value, Array, RawValue, RawArray: typed items in a shared
 * block, with an optional lock.
 *
 * One block holds everything: a small descriptor, the lock word of the
 * object's own RLock (Python's default lock), and the items at a 16-byte
 * aligned offset.  A lock given by the user instead lives in its own block
 * and is referenced.  get_lock() returns a Lock object that views the
 * same memory, so passing the Value, its lock, or both to a child all
 * work and all mean the same lock.
 */
#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "mproc_int.h"
#include "spawnctx.h"

enum { KIND_SHARED = 0x53484152u /* "SHAR" */ };

#define LOCK_OFF 64
#define DATA_OFF 128

typedef struct shdesc {
  uint32_t typecode;
  uint32_t itemsize;
  uint64_t length;
  uint32_t is_value; /* made as a Value (one item), not an Array */
  uint32_t has_lock; /* a lock (own or given) goes with it */
} shdesc;

struct mproc_shared {
  mproc__sobj o;
  shdesc *d;
  unsigned char *data;
  mproc_lock *lock; /* NULL for Raw */
};

extern const mproc__objtype mproc__value_type, mproc__array_type,
    mproc__rawvalue_type, mproc__rawarray_type;

static const mproc__objtype *type_for(int is_value, int has_lock) {
  if (is_value)
    return has_lock ? &mproc__value_type : &mproc__rawvalue_type;
  return has_lock ? &mproc__array_type : &mproc__rawarray_type;
}

/* The C type behind a typecode: its size, and its range as int64/double. */
static size_t item_size(char tc) {
  switch (tc) {
  case 'b': case 'B': case 'c': return 1;
  case 'h': case 'H': return sizeof(short);
  case 'i': case 'I': return sizeof(int);
  case 'l': case 'L': return sizeof(long);
  case 'q': case 'Q': return sizeof(long long);
  case 'f': return sizeof(float);
  case 'd': return sizeof(double);
  default: return 0;
  }
}

static int make(mproc_shared **out, char tc, size_t length, const void *init,
                int is_value, int with_lock, mproc_lock *lock,
                const char *what) {
  size_t isz = item_size(tc), need;
  mproc__blk *blk;
  mproc_shared *s;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "%s: NULL output", what);
  *out = NULL;
  if (!isz)
    return mproc__err(MPROC_EINVAL, "%s: unknown typecode '%c' (one of "
                                    "b B h H i I l L q Q f d c)",
                      what, tc ? tc : '?');
  if (length == 0 && is_value)
    return mproc__err(MPROC_EINVAL, "%s: no items", what);
  if (length > (SIZE_MAX - DATA_OFF) / isz / 2)
    return mproc__err(MPROC_EINVAL, "%s: %zu items are too many", what,
                      length);
  mproc__ensure_runtime();
  need = DATA_OFF + (length ? length * isz : 1);
  s = calloc(1, sizeof *s);
  if (!s)
    return mproc__err(MPROC_ENOMEM, "%s", what);
  rc = mproc__blk_new(need, KIND_SHARED, 1, &blk);
  if (rc) {
    free(s);
    return rc;
  }
  s->d = (shdesc *)(blk->addr + MPROC__BLK_HDR);
  s->data = blk->addr + DATA_OFF;
  s->d->typecode = (uint32_t)(unsigned char)tc;
  s->d->itemsize = (uint32_t)isz;
  s->d->length = length;
  s->d->is_value = (uint32_t)is_value;
  s->d->has_lock = (uint32_t)with_lock;
  if (init && length)
    memcpy(s->data, init, length * isz);
  if (with_lock && lock) {
    s->lock = mproc_lock_incref(lock);
  } else if (with_lock) {
    ((mproc__lockword *)(blk->addr + LOCK_OFF))->recursive = 1;
    rc = mproc__lock_view(blk, LOCK_OFF, 0, &s->lock);
  }
  mproc__sobj_init(&s->o, type_for(is_value, with_lock), blk);
  if (rc) {
    mproc_shared_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int mproc_shared_value(mproc_shared **v, char typecode, const void *init,
                       mproc_lock *lock) {
  return make(v, typecode, 1, init, 1, 1, lock, "mproc_shared_value");
}

int mproc_shared_rawvalue(mproc_shared **v, char typecode, const void *init) {
  return make(v, typecode, 1, init, 1, 0, NULL, "mproc_shared_rawvalue");
}

int mproc_shared_array(mproc_shared **a, char typecode, size_t length,
                       const void *init, mproc_lock *lock) {
  return make(a, typecode, length, init, 0, 1, lock, "mproc_shared_array");
}

int mproc_shared_rawarray(mproc_shared **a, char typecode, size_t length,
                          const void *init) {
  return make(a, typecode, length, init, 0, 0, NULL, "mproc_shared_rawarray");
}

void *mproc_shared_data(mproc_shared *s) { return s ? s->data : NULL; }

size_t mproc_shared_len(const mproc_shared *s) {
  return s ? (size_t)s->d->length : 0;
}

size_t mproc_shared_itemsize(const mproc_shared *s) {
  return s ? s->d->itemsize : 0;
}

char mproc_shared_typecode(const mproc_shared *s) {
  return s ? (char)s->d->typecode : '\0';
}

mproc_lock *mproc_shared_get_lock(mproc_shared *s) {
  return s ? s->lock : NULL;
}

static int has_lock(mproc_shared *s, const char *what) {
  if (!s)
    return mproc__err(MPROC_EINVAL, "%s: NULL object", what);
  if (!s->lock)
    return mproc__err(MPROC_EINVAL, "%s: a %s has no lock", what,
                      s->o.type->name);
  return 0;
}

int mproc_shared_acquire(mproc_shared *s, double timeout) {
  int rc = has_lock(s, "mproc_shared_acquire");
  return rc ? rc : mproc_lock_acquire(s->lock, timeout);
}

int mproc_shared_release(mproc_shared *s) {
  int rc = has_lock(s, "mproc_shared_release");
  return rc ? rc : mproc_lock_release(s->lock);
}

/* ---- items as int64 / double ---------------------------------------------- */

static int item(mproc_shared *s, size_t i, void **p, const char *what) {
  if (!s)
    return mproc__err(MPROC_EINVAL, "%s: NULL object", what);
  if (i >= s->d->length)
    return mproc__err(MPROC_ERANGE, "%s: index %zu, length %llu", what, i,
                      (unsigned long long)s->d->length);
  *p = s->data + i * s->d->itemsize;
  return 0;
}

int mproc_shared_get_int(mproc_shared *s, size_t i, int64_t *out) {
  void *p = NULL;
  int rc = item(s, i, &p, "mproc_shared_get_int");
  if (rc)
    return rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_shared_get_int: NULL output");
  switch ((char)s->d->typecode) {
  case 'b': *out = *(signed char *)p; break;
  case 'B': *out = *(unsigned char *)p; break;
  case 'c': *out = *(char *)p; break;
  case 'h': *out = *(short *)p; break;
  case 'H': *out = *(unsigned short *)p; break;
  case 'i': *out = *(int *)p; break;
  case 'I': *out = *(unsigned int *)p; break;
  case 'l': *out = *(long *)p; break;
  case 'L': *out = (int64_t) * (unsigned long *)p; break;
  case 'q': *out = *(long long *)p; break;
  case 'Q': *out = (int64_t) * (unsigned long long *)p; break;
  case 'f': *out = (int64_t) * (float *)p; break;
  default: *out = (int64_t) * (double *)p; break;
  }
  return 0;
}

/* 1 if v fits the integer typecode tc. */
static int fits(char tc, int64_t v) {
  switch (tc) {
  case 'b': return v >= SCHAR_MIN && v <= SCHAR_MAX;
  case 'B': return v >= 0 && v <= UCHAR_MAX;
  case 'c': return v >= CHAR_MIN && v <= CHAR_MAX;
  case 'h': return v >= SHRT_MIN && v <= SHRT_MAX;
  case 'H': return v >= 0 && v <= USHRT_MAX;
  case 'i': return v >= INT_MIN && v <= INT_MAX;
  case 'I': return v >= 0 && (uint64_t)v <= UINT_MAX;
  case 'l': return v >= LONG_MIN && v <= LONG_MAX;
  case 'L': return v >= 0 && (uint64_t)v <= ULONG_MAX;
  case 'q': return 1;
  case 'Q': return v >= 0;
  default: return 1;
  }
}

int mproc_shared_set_int(mproc_shared *s, size_t i, int64_t v) {
  void *p = NULL;
  int rc = item(s, i, &p, "mproc_shared_set_int");
  char tc;
  if (rc)
    return rc;
  tc = (char)s->d->typecode;
  if (!fits(tc, v))
    return mproc__err(MPROC_EINVAL, "mproc_shared_set_int: %lld does not "
                                    "fit typecode '%c'",
                      (long long)v, tc);
  switch (tc) {
  case 'b': *(signed char *)p = (signed char)v; break;
  case 'B': *(unsigned char *)p = (unsigned char)v; break;
  case 'c': *(char *)p = (char)v; break;
  case 'h': *(short *)p = (short)v; break;
  case 'H': *(unsigned short *)p = (unsigned short)v; break;
  case 'i': *(int *)p = (int)v; break;
  case 'I': *(unsigned int *)p = (unsigned int)v; break;
  case 'l': *(long *)p = (long)v; break;
  case 'L': *(unsigned long *)p = (unsigned long)v; break;
  case 'q': *(long long *)p = (long long)v; break;
  case 'Q': *(unsigned long long *)p = (unsigned long long)v; break;
  case 'f': *(float *)p = (float)v; break;
  default: *(double *)p = (double)v; break;
  }
  return 0;
}

int mproc_shared_get_float(mproc_shared *s, size_t i, double *out) {
  int64_t v;
  void *p = NULL;
  int rc = item(s, i, &p, "mproc_shared_get_float");
  if (rc)
    return rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_shared_get_float: NULL output");
  if (s->d->typecode == 'f') {
    *out = *(float *)p;
  } else if (s->d->typecode == 'd') {
    *out = *(double *)p;
  } else if (s->d->typecode == 'Q' || s->d->typecode == 'L') {
    unsigned long long u = s->d->typecode == 'Q' ? *(unsigned long long *)p
                                                 : *(unsigned long *)p;
    *out = (double)u;
  } else {
    rc = mproc_shared_get_int(s, i, &v);
    *out = (double)v;
  }
  return rc;
}

int mproc_shared_set_float(mproc_shared *s, size_t i, double v) {
  void *p = NULL;
  int rc = item(s, i, &p, "mproc_shared_set_float");
  if (rc)
    return rc;
  if (s->d->typecode == 'd') {
    *(double *)p = v;
    return 0;
  }
  if (s->d->typecode == 'f') {
    if (v == v && (v > FLT_MAX || v < -FLT_MAX) && v - v == 0)
      return mproc__err(MPROC_EINVAL, "mproc_shared_set_float: %g does not "
                                      "fit a float",
                        v);
    *(float *)p = (float)v;
    return 0;
  }
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) ||
      v != (double)(int64_t)v)
    return mproc__err(MPROC_EINVAL, "mproc_shared_set_float: %g is not an "
                                    "integer of typecode '%c'",
                      v, (char)s->d->typecode);
  return mproc_shared_set_int(s, i, (int64_t)v);
}

/* ---- references and travel --------------------------------------------------- */

static void shared_fini(mproc_shared *s) { mproc_lock_free(s->lock); }

MPROC__SOBJ_REFS(shared, shared_fini)

int mproc_value_get_shared(const mproc_value *v, mproc_shared **out) {
  static const mproc__objtype *const types[] = {
      &mproc__value_type, &mproc__array_type, &mproc__rawvalue_type,
      &mproc__rawarray_type};
  return mproc__sobj_get(v, types, 4, "mproc_value_get_shared", (void **)out);
}

/* At spawn: [block, lock description or None]. */
static int shared_export_obj(void *obj, mproc__spawn *sp,
                             mproc_value **plain) {
  mproc_shared *s = obj;
  mproc_value *blk = NULL, *lock = NULL;
  int rc = mproc__blk_export(s->o.blk, sp, &blk);
  if (rc == 0)
    rc = s->lock ? mproc__lock_export(s->lock, sp, &lock)
                 : ((lock = mproc_none()) ? 0 : MPROC_ENOMEM);
  if (rc) {
    mproc_value_free(blk);
    return rc;
  }
  *plain = mproc_build("[OO]", blk, lock);
  return *plain ? 0 : MPROC_ENOMEM;
}

static int shared_import_obj(mproc__spawn *sp, const mproc_value *plain,
                             void **obj) {
  const mproc_value *lockplain = mproc_list_get(plain, 1);
  mproc__blk *blk = NULL;
  mproc_shared *s;
  shdesc *d;
  size_t isz;
  int rc;
  if (mproc_list_len(plain) != 2)
    return mproc__err(MPROC_EBADMSG, "malformed Value in bootstrap");
  rc = mproc__blk_import(sp, mproc_list_get(plain, 0), KIND_SHARED,
                         MPROC__BLK_HDR, DATA_OFF - MPROC__BLK_HDR, &blk);
  if (rc)
    return rc;
  d = (shdesc *)(blk->addr + MPROC__BLK_HDR);
  isz = item_size((char)d->typecode);
  if (!isz || isz != d->itemsize ||
      d->length > (blk->size - DATA_OFF) / isz ||
      (mproc_value_type(lockplain) == MPROC_T_NONE) == (d->has_lock != 0)) {
    mproc__blk_decref(blk);
    return mproc__err(MPROC_EBADMSG, "malformed Value in bootstrap");
  }
  s = calloc(1, sizeof *s);
  if (!s) {
    mproc__blk_decref(blk);
    return mproc__err(MPROC_ENOMEM, "Value");
  }
  s->d = d;
  s->data = blk->addr + DATA_OFF;
  mproc__sobj_init(&s->o, type_for((int)d->is_value, (int)d->has_lock), blk);
  if (d->has_lock) {
    rc = mproc__lock_import(sp, lockplain, &s->lock);
    if (rc) {
      mproc_shared_free(s);
      return rc;
    }
  }
  *obj = s;
  return 0;
}

static void shared_release_obj(void *obj) { mproc_shared_free(obj); }

const mproc__objtype mproc__value_type = {"Value", shared_release_obj,
                                          shared_export_obj,
                                          shared_import_obj};
const mproc__objtype mproc__array_type = {"Array", shared_release_obj,
                                          shared_export_obj,
                                          shared_import_obj};
const mproc__objtype mproc__rawvalue_type = {"RawValue", shared_release_obj,
                                             shared_export_obj,
                                             shared_import_obj};
const mproc__objtype mproc__rawarray_type = {"RawArray", shared_release_obj,
                                             shared_export_obj,
                                             shared_import_obj};
