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
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
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

/* ---- items as int64 / uint64 / double ---------------------------------------
 *
 * Integers never silently become something else: a value outside the
 * typecode's range is refused (MPROC_EINVAL), an item the output type
 * cannot hold is MPROC_ERANGE (a 'Q' above INT64_MAX through get_int, a
 * negative one through get_uint), and a float never becomes an integer
 * (MPROC_ETYPE, Python's TypeError); an integer into 'f' or 'd' is fine,
 * as in Python.  'c' is Python's bytes of length 1: 0..255.
 */

static int item(mproc_shared *s, size_t i, void **p, const char *what) {
  if (!s)
    return mproc__err(MPROC_EINVAL, "%s: NULL object", what);
  if (i >= s->d->length)
    return mproc__err(MPROC_ERANGE, "%s: index %zu, length %llu", what, i,
                      (unsigned long long)s->d->length);
  *p = s->data + i * s->d->itemsize;
  return 0;
}

static int is_float(char tc) { return tc == 'f' || tc == 'd'; }

/* An integer typecode's range: 1 if signed (min..max), 0 if not (0..max). */
static int range_of(char tc, int64_t *min, uint64_t *max) {
  *min = 0;
  switch (tc) {
  case 'b': *min = SCHAR_MIN; *max = SCHAR_MAX; return 1;
  case 'B': case 'c': *max = UCHAR_MAX; return 0;
  case 'h': *min = SHRT_MIN; *max = SHRT_MAX; return 1;
  case 'H': *max = USHRT_MAX; return 0;
  case 'i': *min = INT_MIN; *max = INT_MAX; return 1;
  case 'I': *max = UINT_MAX; return 0;
  case 'l': *min = LONG_MIN; *max = LONG_MAX; return 1;
  case 'L': *max = ULONG_MAX; return 0;
  case 'q': *min = LLONG_MIN; *max = LLONG_MAX; return 1;
  default: *max = ULLONG_MAX; return 0; /* 'Q' */
  }
}

/* An integer item: 1 and *sv if its type is signed, 0 and *uv if not. */
static int load(char tc, const void *p, int64_t *sv, uint64_t *uv) {
  switch (tc) {
  case 'b': *sv = *(const signed char *)p; return 1;
  case 'h': *sv = *(const short *)p; return 1;
  case 'i': *sv = *(const int *)p; return 1;
  case 'l': *sv = *(const long *)p; return 1;
  case 'q': *sv = *(const long long *)p; return 1;
  case 'B': case 'c': *uv = *(const unsigned char *)p; return 0;
  case 'H': *uv = *(const unsigned short *)p; return 0;
  case 'I': *uv = *(const unsigned int *)p; return 0;
  case 'L': *uv = *(const unsigned long *)p; return 0;
  default: *uv = *(const unsigned long long *)p; return 0; /* 'Q' */
  }
}

/*
 * Store an integer given as (neg, sv) when neg, else as uv (>= 0), into
 * item p of typecode tc after the range check; what names the caller.
 */
static int store(char tc, void *p, int neg, int64_t sv, uint64_t uv,
                 const char *what) {
  int64_t min;
  uint64_t max;
  int sgn;
  if (tc == 'f') {
    *(float *)p = neg ? (float)sv : (float)uv;
    return 0;
  }
  if (tc == 'd') {
    *(double *)p = neg ? (double)sv : (double)uv;
    return 0;
  }
  sgn = range_of(tc, &min, &max);
  if (neg ? sv < min : uv > max) {
    if (neg)
      return mproc__err(MPROC_EINVAL, "%s: %lld does not fit typecode "
                                      "'%c' (%lld..%llu)",
                        what, (long long)sv, tc, (long long)min,
                        (unsigned long long)max);
    return mproc__err(MPROC_EINVAL, "%s: %llu does not fit typecode '%c' "
                                    "(%lld..%llu)%s",
                      what, (unsigned long long)uv, tc, (long long)min,
                      (unsigned long long)max,
                      tc == 'c' ? ": a byte, as Python's bytes of length 1"
                                : "");
  }
  if (sgn) {
    int64_t v = neg ? sv : (int64_t)uv; /* uv <= max <= INT64_MAX */
    switch (tc) {
    case 'b': *(signed char *)p = (signed char)v; break;
    case 'h': *(short *)p = (short)v; break;
    case 'i': *(int *)p = (int)v; break;
    case 'l': *(long *)p = (long)v; break;
    default: *(long long *)p = (long long)v; break;
    }
  } else {
    switch (tc) {
    case 'B': case 'c': *(unsigned char *)p = (unsigned char)uv; break;
    case 'H': *(unsigned short *)p = (unsigned short)uv; break;
    case 'I': *(unsigned int *)p = (unsigned int)uv; break;
    case 'L': *(unsigned long *)p = (unsigned long)uv; break;
    default: *(unsigned long long *)p = (unsigned long long)uv; break;
    }
  }
  return 0;
}

/* The integer item i of s: signedness as load(); MPROC_ETYPE for floats. */
static int get_integer(mproc_shared *s, size_t i, const void *out,
                       int64_t *sv, uint64_t *uv, const char *what,
                       int *sgn) {
  void *p = NULL;
  int rc = item(s, i, &p, what);
  char tc;
  if (rc)
    return rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "%s: NULL output", what);
  tc = (char)s->d->typecode;
  if (is_float(tc))
    return mproc__err(MPROC_ETYPE, "%s: typecode '%c' holds floats: use "
                                   "mproc_shared_get_float",
                      what, tc);
  *sgn = load(tc, p, sv, uv);
  return 0;
}

int mproc_shared_get_int(mproc_shared *s, size_t i, int64_t *out) {
  static const char what[] = "mproc_shared_get_int";
  int64_t sv = 0;
  uint64_t uv = 0;
  int sgn = 0, rc = get_integer(s, i, out, &sv, &uv, what, &sgn);
  if (rc)
    return rc;
  if (!sgn && uv > (uint64_t)INT64_MAX)
    return mproc__err(MPROC_ERANGE, "%s: %llu (typecode '%c') does not fit "
                                    "int64_t: use mproc_shared_get_uint",
                      what, (unsigned long long)uv, (char)s->d->typecode);
  *out = sgn ? sv : (int64_t)uv;
  return 0;
}

int mproc_shared_get_uint(mproc_shared *s, size_t i, uint64_t *out) {
  static const char what[] = "mproc_shared_get_uint";
  int64_t sv = 0;
  uint64_t uv = 0;
  int sgn = 0, rc = get_integer(s, i, out, &sv, &uv, what, &sgn);
  if (rc)
    return rc;
  if (sgn && sv < 0)
    return mproc__err(MPROC_ERANGE, "%s: %lld (typecode '%c') is negative: "
                                    "use mproc_shared_get_int",
                      what, (long long)sv, (char)s->d->typecode);
  *out = sgn ? (uint64_t)sv : uv;
  return 0;
}

int mproc_shared_set_int(mproc_shared *s, size_t i, int64_t v) {
  static const char what[] = "mproc_shared_set_int";
  void *p = NULL;
  int rc = item(s, i, &p, what);
  if (rc)
    return rc;
  return store((char)s->d->typecode, p, v < 0, v, (uint64_t)(v < 0 ? 0 : v),
               what);
}

int mproc_shared_set_uint(mproc_shared *s, size_t i, uint64_t v) {
  static const char what[] = "mproc_shared_set_uint";
  void *p = NULL;
  int rc = item(s, i, &p, what);
  if (rc)
    return rc;
  return store((char)s->d->typecode, p, 0, 0, v, what);
}

int mproc_shared_get_float(mproc_shared *s, size_t i, double *out) {
  int64_t sv = 0;
  uint64_t uv = 0;
  void *p = NULL;
  char tc;
  int rc = item(s, i, &p, "mproc_shared_get_float");
  if (rc)
    return rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_shared_get_float: NULL output");
  tc = (char)s->d->typecode;
  if (tc == 'f')
    *out = *(float *)p;
  else if (tc == 'd')
    *out = *(double *)p;
  else if (load(tc, p, &sv, &uv))
    *out = (double)sv;
  else
    *out = (double)uv;
  return 0;
}

int mproc_shared_set_float(mproc_shared *s, size_t i, double v) {
  void *p = NULL;
  int rc = item(s, i, &p, "mproc_shared_set_float");
  char tc;
  if (rc)
    return rc;
  tc = (char)s->d->typecode;
  if (tc == 'd') {
    *(double *)p = v;
    return 0;
  }
  if (tc == 'f') {
    if (v == v && (v > FLT_MAX || v < -FLT_MAX) && v - v == 0)
      return mproc__err(MPROC_EINVAL, "mproc_shared_set_float: %g does not "
                                      "fit a float",
                        v);
    *(float *)p = (float)v;
    return 0;
  }
  return mproc__err(MPROC_ETYPE, "mproc_shared_set_float: typecode '%c' "
                                 "holds integers: use mproc_shared_set_int "
                                 "(Python: TypeError)",
                    tc);
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
