/*
 * value.c - the value tree: None, bool, int, float, str, bytes, list,
 * tuple, dict, set and references to OS objects.
 *
 * A value owns its children.  A value is 32 bytes; a str or bytes keeps
 * its text in the same allocation, right after it, NUL-terminated (a str
 * is checked to be valid UTF-8 when it is made).  None, True, False, the
 * ints -8..256, '' , b'' and () are shared immutable singletons (flag
 * MPROC__F_STATIC): their constructors allocate nothing, freeing them does
 * nothing, and nothing ever writes to them, so they are safe across
 * threads.  This keeps [None] * n at 8 bytes an item, as in Python.
 *
 * A dict and a set keep their entries in insertion order in an array
 * (the set with no values); past DICT_INDEX_MIN entries they also keep an
 * open-addressing hash index (linear probing, at most half full).  A
 * delete (mproc__table_del, the Manager's del d[k]) is O(1) as in
 * Python: a small table closes the gap (at most 16 entries move); an
 * indexed one leaves a hole in the entries (key NULL) and a "dummy" in
 * the index, which the next resize squeezes out, order kept (so holes
 * exist only in indexed tables; mproc__table_used bounds the entries).  Keys
 * compare with Python's equality (1 == 1.0 == True) and equal keys hash
 * alike.  The hash is SipHash-2-4 (libsodium's crypto_shorthash) under a
 * key of 16 random bytes drawn once per process, so a sender cannot craft
 * keys that collide in the index (hash flooding): a dict of n keys costs
 * O(n) expected time whatever the keys.  Decoded ints and floats may
 * live in slabs (blocks of values; full-size ones are reused when freed),
 * and a pool worker's thread reuses its freed int and float blocks (both
 * below, with their reasons).  Hashable, as in Python: the
 * scalars and tuples of hashables; a tuple becomes frozen (appending to it
 * is refused) once it is a key or a set member.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "atomics.h"
#include "mproc_int.h"

/* A dict builds its hash index when it grows past this many entries. */
#define DICT_INDEX_MIN 16

/* struct mproc_value and its flags are in mproc_int.h (the codec reads
 * the fields directly); only this file makes and changes values. */

/* ---- singletons ---------------------------------------------------------- */

#define SV(t, x) {(uint16_t)(t), MPROC__F_STATIC, 0, {(x)}}
#define SI(n) SV(MPROC_T_INT, (n))
#define SI4(n) SI(n), SI((n) + 1), SI((n) + 2), SI((n) + 3)
#define SI16(n) SI4(n), SI4((n) + 4), SI4((n) + 8), SI4((n) + 12)
#define SI64(n) SI16(n), SI16((n) + 16), SI16((n) + 32), SI16((n) + 48)
#define SMALL_MIN (-8)
#define SMALL_MAX 256
static mproc_value small_ints[] = {SI4(-8),  SI4(-4),   SI64(0), SI64(64),
                                   SI64(128), SI64(192), SI(256)};
static mproc_value none_v = SV(MPROC_T_NONE, 0);
static mproc_value bools[2] = {SV(MPROC_T_BOOL, 0), SV(MPROC_T_BOOL, 1)};
static mproc_value empty_str = {MPROC_T_STR, MPROC__F_STATIC, 0,
                                {.s = {(char *)"", 0}}};
static mproc_value empty_bytes = {MPROC_T_BYTES, MPROC__F_STATIC, 0,
                                  {.s = {(char *)"", 0}}};
static mproc_value empty_tuple = {MPROC_T_TUPLE,
                                  MPROC__F_STATIC | MPROC__F_FROZEN, 0,
                                  {.list = {NULL, 0, 0}}};

/* ---- helpers ----------------------------------------------------------- */

static const char *type_name(const mproc_value *v) {
  static const char *const names[] = {
      "NoneType", "bool", "int",    "float", "str", "bytes",
      "list",     "dict", "object", "tuple", "set"};
  if (!v)
    return "NULL";
  if (v->type == MPROC_T_OBJECT)
    return v->u.obj.type->name;
  return names[v->type];
}

/*
 * A NULL where a value was expected: a constructor has failed and
 * recorded MPROC_ENOMEM or MPROC_EINVAL, so return that code and keep its
 * detail.  Otherwise record MPROC_EINVAL.
 */
static int null_value(const char *fn) {
  int code = mproc__plat_errrec()->code;
  if (code == MPROC_ENOMEM || code == MPROC_EINVAL)
    return code;
  return mproc__err(MPROC_EINVAL, "%s: the value is NULL", fn);
}

static mproc_value *alloc_value(mproc_type t) {
  /* malloc, not calloc: glibc serves small mallocs from its per-thread
   * cache, calloc not. */
  mproc_value *v = (mproc_value *)malloc(sizeof *v);
  if (!v) {
    mproc__err(MPROC_ENOMEM, "out of memory allocating a value");
    return NULL;
  }
  memset(v, 0, sizeof *v);
  v->type = (uint16_t)t;
  return v;
}

static int is_table(const mproc_value *v) {
  return v->type == MPROC_T_DICT || v->type == MPROC_T_SET;
}

/*
 * Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Returns the offset of the first bad byte, or n when all is well.
 */
static size_t utf8_check(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len, k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0)
        lo = 0xA0; /* overlong */
      else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0)
        lo = 0x90; /* overlong */
      else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    } else {
      return i;
    }
    if (n - i < len)
      return i;
    if (s[i + 1] < lo || s[i + 1] > hi)
      return i;
    for (k = 2; k < len; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF)
        return i;
    i += len;
  }
  return n;
}

/* ---- the pool worker's value cache --------------------------------------- */

/*
 * A pool worker runs one task after another on one thread, and each task
 * makes its result (an int: one 32-byte block) that the worker frees as
 * soon as it is encoded: glibc's malloc + free of it cost more than the
 * rest of the task.  The thread that calls mproc__value_cache_own (the
 * worker's) keeps up to VC_MAX freed int and float blocks for its next
 * ones; every other thread (and every other process) uses malloc alone.
 * The blocks stay reachable from here (no leak at exit).
 */
#define VC_MAX 64
static volatile uint32_t vc_owner; /* its thread id, 0: none */
static mproc_value *vc_head;       /* linked through u.obj.obj */
static unsigned vc_n;

void mproc__value_cache_own(void) {
  mproc__st32(&vc_owner, mproc__plat_thread_id());
}

static int vc_mine(void) {
  uint32_t o = mproc__ld32_relaxed(&vc_owner);
  return o != 0 && o == mproc__plat_thread_id();
}

/* A cached block for an int or float, or NULL. */
static mproc_value *vc_take(mproc_type t) {
  mproc_value *v;
  if (!vc_mine() || !vc_head)
    return NULL;
  v = vc_head;
  vc_head = (mproc_value *)v->u.obj.obj;
  vc_n--;
  memset(v, 0, sizeof *v);
  v->type = (uint16_t)t;
  return v;
}

/* ---- constructors ------------------------------------------------------ */

mproc_value *mproc_none(void) { return &none_v; }

mproc_value *mproc_bool(int b) { return &bools[b != 0]; }

mproc_value *mproc_int(int64_t i) {
  mproc_value *v;
  if (i >= SMALL_MIN && i <= SMALL_MAX)
    return &small_ints[i - SMALL_MIN];
  v = vc_take(MPROC_T_INT);
  if (!v)
    v = alloc_value(MPROC_T_INT);
  if (v)
    v->u.i = i;
  return v;
}

mproc_value *mproc_float(double d) {
  mproc_value *v = vc_take(MPROC_T_FLOAT);
  if (!v)
    v = alloc_value(MPROC_T_FLOAT);
  if (v)
    v->u.f = d;
  return v;
}

static mproc_value *make_sb(mproc_type t, const void *p, size_t n) {
  mproc_value *v;
  if (n == 0)
    return t == MPROC_T_STR ? &empty_str : &empty_bytes;
  if (n > (size_t)-1 - sizeof *v - 1) {
    mproc__err(MPROC_ENOMEM, "a string of %lu bytes is too long",
               (unsigned long)n);
    return NULL;
  }
  /* One allocation: the value, then its bytes. */
  v = (mproc_value *)malloc(sizeof *v + n + 1);
  if (!v) {
    mproc__err(MPROC_ENOMEM, "out of memory allocating %lu bytes",
               (unsigned long)n);
    return NULL;
  }
  v->type = (uint16_t)t;
  v->flags = 0;
  v->u.s.p = (char *)(v + 1);
  memcpy(v->u.s.p, p, n);
  v->u.s.p[n] = '\0';
  v->u.s.n = n;
  return v;
}

mproc_value *mproc_str(const char *utf8) {
  if (!utf8) {
    mproc__err(MPROC_EINVAL, "mproc_str: the text is NULL");
    return NULL;
  }
  return mproc_strn(utf8, strlen(utf8));
}

mproc_value *mproc_strn(const char *utf8, size_t n) {
  size_t bad;
  if (!utf8 && n) {
    mproc__err(MPROC_EINVAL, "mproc_strn: the text is NULL");
    return NULL;
  }
  bad = utf8_check((const unsigned char *)utf8, n);
  if (bad != n) {
    mproc__err(MPROC_EINVAL, "invalid UTF-8 at byte %lu of a string",
               (unsigned long)bad);
    return NULL;
  }
  return make_sb(MPROC_T_STR, utf8, n);
}

mproc_value *mproc_bytes(const void *p, size_t n) {
  if (!p && n) {
    mproc__err(MPROC_EINVAL, "mproc_bytes: the pointer is NULL");
    return NULL;
  }
  return make_sb(MPROC_T_BYTES, p, n);
}

mproc_value *mproc_list(void) { return alloc_value(MPROC_T_LIST); }

mproc_value *mproc_tuple(void) { return alloc_value(MPROC_T_TUPLE); }

mproc_value *mproc_dict(void) { return alloc_value(MPROC_T_DICT); }

mproc_value *mproc_set(void) { return alloc_value(MPROC_T_SET); }

mproc_value *mproc__empty_tuple(void) { return &empty_tuple; }

mproc_value *mproc__seq_new(mproc_type t, size_t cap) {
  mproc_value *v = alloc_value(t);
  if (!v || cap == 0)
    return v;
  if (cap > (size_t)-1 / sizeof *v->u.list.items) {
    free(v);
    mproc__err(MPROC_ENOMEM, "a list of %lu items is too long",
               (unsigned long)cap);
    return NULL;
  }
  v->u.list.items = (mproc_value **)malloc(cap * sizeof *v->u.list.items);
  if (!v->u.list.items) {
    free(v);
    mproc__err(MPROC_ENOMEM, "cannot make a list of %lu items",
               (unsigned long)cap);
    return NULL;
  }
  v->u.list.cap = cap;
  return v;
}

size_t mproc__seq_bytes(size_t n) {
  return sizeof(mproc_value) + n * sizeof(mproc_value *);
}

size_t mproc__alloc_bytes(const mproc_value *v) {
  if (v->flags & MPROC__F_STATIC)
    return 0;
  if (v->type == MPROC_T_STR || v->type == MPROC_T_BYTES)
    return sizeof *v + v->u.s.n + 1;
  return sizeof *v;
}

mproc_value *mproc__value_object(const mproc__objtype *type, void *obj,
                                 int owned) {
  mproc_value *v;
  if (!type || !obj) {
    mproc__err(MPROC_EINVAL, "an object value needs a type and an object");
    return NULL;
  }
  v = alloc_value(MPROC_T_OBJECT);
  if (!v)
    return NULL;
  v->u.obj.type = type;
  v->u.obj.obj = obj;
  v->u.obj.owned = owned != 0;
  return v;
}

int mproc__value_objinfo(const mproc_value *v, const mproc__objtype **type,
                         void **obj) {
  if (!v)
    return null_value("mproc__value_objinfo");
  if (v->type != MPROC_T_OBJECT)
    return mproc__err(MPROC_ETYPE, "expected an object, got %s", type_name(v));
  if (type)
    *type = v->u.obj.type;
  if (obj)
    *obj = v->u.obj.obj;
  return 0;
}

mproc_value *mproc_conn_ref(mproc_conn *c) {
  if (!c) {
    mproc__err(MPROC_EINVAL, "mproc_conn_ref: the connection is NULL");
    return NULL;
  }
  return mproc__value_object(&mproc__conn_type, c, 0);
}

/* ---- slabs ---------------------------------------------------------------- */

/* struct mproc__slab is in mproc_int.h (the codec takes values from a
 * slab inline); a slab's values follow it. */
#define SLAB_VALUES(s) ((mproc_value *)((s) + 1))

/*
 * Full-size slabs (SLAB_STD values: bigger requests get this size) are
 * kept when their last value goes, up to SLAB_KEEP of them (4 MiB), for
 * the next decode: a map's results are made, freed and made again, and
 * fresh memory from the OS costs a page fault per 128 values (more than
 * making them).  A spin lock guards the stack (a push or a pop per
 * SLAB_STD values).
 */
#define SLAB_STD 256
#define SLAB_KEEP 512
static mproc__slab *slab_kept; /* linked through their first value */
static size_t slab_nkept;
static volatile uint32_t slab_lock;

static void slab_lock_take(void) {
  while (mproc__xchg32(&slab_lock, 1) != 0)
    mproc__cpu_relax();
}

static void slab_unref(mproc__slab *s) {
  if (--s->live != 0)
    return;
  if (s->cap == SLAB_STD) {
    slab_lock_take();
    if (slab_nkept < SLAB_KEEP) {
      memcpy(SLAB_VALUES(s), &slab_kept, sizeof slab_kept);
      slab_kept = s;
      slab_nkept++;
      s = NULL;
    }
    mproc__st32(&slab_lock, 0);
  }
  free(s);
}

static mproc__slab *slab_reuse(void) {
  mproc__slab *s;
  slab_lock_take();
  s = slab_kept;
  if (s) {
    memcpy(&slab_kept, SLAB_VALUES(s), sizeof slab_kept);
    slab_nkept--;
  }
  mproc__st32(&slab_lock, 0);
  return s;
}

mproc_value *mproc__slab_take(mproc__slab **sp, size_t cap, size_t *charged) {
  mproc__slab *s = *sp;
  mproc_value *v;
  *charged = 0;
  if (!s || s->used == s->cap) {
    if (cap == 0) {
      mproc__err(MPROC_ENOMEM, "a slab of no values");
      return NULL;
    }
    if (cap > SLAB_STD)
      cap = SLAB_STD;
    *charged = sizeof *s + cap * sizeof *v;
    s = cap == SLAB_STD ? slab_reuse() : NULL;
    if (!s)
      s = (mproc__slab *)malloc(*charged);
    if (!s) {
      mproc__err(MPROC_ENOMEM, "out of memory allocating values");
      return NULL;
    }
    s->live = 1;
    s->used = 0;
    s->cap = cap;
    if (*sp)
      slab_unref(*sp);
    *sp = s;
  }
  v = &SLAB_VALUES(s)[s->used];
  v->flags = MPROC__F_SLAB;
  v->slot = (uint32_t)s->used++;
  s->live++;
  return v;
}

void mproc__slab_done(mproc__slab *s) {
  if (s)
    slab_unref(s);
}

/* ---- free, copy, type, equality ---------------------------------------- */

void mproc_value_free(mproc_value *v) {
  size_t i;
  if (!v || (v->flags & MPROC__F_STATIC))
    return;
  if (v->flags & MPROC__F_SLAB) { /* an int or a float: nothing inside */
    slab_unref((mproc__slab *)(void *)(v - v->slot) - 1);
    return;
  }
  switch (v->type) {
  case MPROC_T_LIST:
  case MPROC_T_TUPLE:
    for (i = 0; i < v->u.list.n; i++)
      mproc_value_free(v->u.list.items[i]);
    free(v->u.list.items);
    break;
  case MPROC_T_DICT:
  case MPROC_T_SET:
    for (i = 0; i < mproc__table_used(v); i++) { /* a hole: NULL, NULL */
      mproc_value_free(v->u.dict.e[i].key);
      mproc_value_free(v->u.dict.e[i].val);
    }
    free(v->u.dict.e);
    free(v->u.dict.index);
    break;
  case MPROC_T_OBJECT:
    if (v->u.obj.owned && v->u.obj.type->release)
      v->u.obj.type->release(v->u.obj.obj);
    break;
  case MPROC_T_INT:
  case MPROC_T_FLOAT:
    if (vc_mine() && vc_n < VC_MAX) { /* the pool worker's: kept */
      v->u.obj.obj = vc_head;
      vc_head = v;
      vc_n++;
      return;
    }
    break;
  default: /* a str's or bytes' text lives in the value's own block */
    break;
  }
  free(v);
}

mproc_type mproc_value_type(const mproc_value *v) {
  return v ? (mproc_type)v->type : MPROC_T_NONE;
}

static int seq_push(mproc_value *list, mproc_value *item);
static int table_add(mproc_value *d, mproc_value *key, mproc_value *val,
                     const char *fn);

mproc_value *mproc_value_copy(const mproc_value *v) {
  mproc_value *c;
  size_t i;
  int rc = 0;
  if (!v) {
    null_value("mproc_value_copy");
    return NULL;
  }
  if (v->flags & MPROC__F_STATIC)
    return (mproc_value *)(uintptr_t)v; /* immutable: share it */
  switch (v->type) {
  case MPROC_T_INT:
    return mproc_int(v->u.i);
  case MPROC_T_FLOAT:
    return mproc_float(v->u.f);
  case MPROC_T_STR:
  case MPROC_T_BYTES:
    return make_sb((mproc_type)v->type, v->u.s.p, v->u.s.n);
  case MPROC_T_OBJECT:
    return mproc__value_object(v->u.obj.type, v->u.obj.obj, 0);
  case MPROC_T_LIST:
  case MPROC_T_TUPLE:
    c = mproc__seq_new((mproc_type)v->type, v->u.list.n);
    for (i = 0; c && i < v->u.list.n; i++) {
      mproc_value *item = mproc_value_copy(v->u.list.items[i]);
      if (!item) {
        mproc_value_free(c);
        return NULL;
      }
      c->u.list.items[c->u.list.n++] = item;
    }
    return c;
  case MPROC_T_DICT:
  case MPROC_T_SET:
    c = alloc_value((mproc_type)v->type);
    for (i = 0; c && i < mproc__table_used(v); i++) {
      const mproc__dentry *e = &v->u.dict.e[i];
      mproc_value *val = NULL;
      if (!e->key)
        continue; /* a hole */
      if (e->val && !(val = mproc_value_copy(e->val)))
        rc = null_value("mproc_value_copy");
      else
        rc = table_add(c, mproc_value_copy(e->key), val, "mproc_value_copy");
      if (rc) {
        mproc_value_free(c);
        c = NULL;
      }
    }
    return c;
  default:
    break;
  }
  mproc__err(MPROC_EINVAL, "mproc_value_copy: corrupt value");
  return NULL;
}

static int is_number(const mproc_value *v) {
  return v->type == MPROC_T_BOOL || v->type == MPROC_T_INT ||
         v->type == MPROC_T_FLOAT;
}

/* 1 if d is a whole number inside int64's range, with its value in *i. */
static int float_is_int64(double d, int64_t *i) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
    return 0;
  *i = (int64_t)d;
  return (double)*i == d;
}

static int number_equal(const mproc_value *a, const mproc_value *b) {
  int64_t i;
  if (a->type == MPROC_T_FLOAT && b->type == MPROC_T_FLOAT)
    return a->u.f == b->u.f;
  if (a->type == MPROC_T_FLOAT)
    return float_is_int64(a->u.f, &i) && i == b->u.i;
  if (b->type == MPROC_T_FLOAT)
    return float_is_int64(b->u.f, &i) && i == a->u.i;
  return a->u.i == b->u.i;
}

static size_t dict_find(const mproc_value *d, const mproc_value *key,
                        uint64_t hash);

int mproc_value_equal(const mproc_value *a, const mproc_value *b) {
  size_t i;
  if (!a || !b)
    return 0;
  if (a == b && a->type != MPROC_T_FLOAT)
    return 1; /* a float may be NaN, which is not equal to itself */
  if (is_number(a) && is_number(b))
    return number_equal(a, b);
  if (a->type != b->type)
    return 0; /* as Python: (1, 2) != [1, 2] */
  switch (a->type) {
  case MPROC_T_NONE:
    return 1;
  case MPROC_T_STR:
  case MPROC_T_BYTES:
    return a->u.s.n == b->u.s.n &&
           (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
  case MPROC_T_LIST:
  case MPROC_T_TUPLE:
    if (a->u.list.n != b->u.list.n)
      return 0;
    for (i = 0; i < a->u.list.n; i++)
      if (!mproc_value_equal(a->u.list.items[i], b->u.list.items[i]))
        return 0;
    return 1;
  case MPROC_T_DICT:
  case MPROC_T_SET:
    /* As Python: the same keys (with equal values), in any order. */
    if (a->u.dict.n != b->u.dict.n)
      return 0;
    for (i = 0; i < mproc__table_used(a); i++) {
      const mproc__dentry *e = &a->u.dict.e[i];
      size_t j;
      if (!e->key)
        continue; /* a hole */
      j = dict_find(b, e->key, e->hash);
      if (j == (size_t)-1)
        return 0;
      if (e->val && !mproc_value_equal(e->val, b->u.dict.e[j].val))
        return 0;
    }
    return 1;
  case MPROC_T_OBJECT:
    return a->u.obj.type == b->u.obj.type && a->u.obj.obj == b->u.obj.obj;
  default:
    return 0;
  }
}

/* ---- getters ------------------------------------------------------------ */

static int want(const mproc_value *v, const void *out, const char *fn) {
  if (!v)
    return null_value(fn);
  if (!out)
    return mproc__err(MPROC_EINVAL, "%s: the output pointer is NULL", fn);
  return 0;
}

int mproc_value_get_bool(const mproc_value *v, int *out) {
  int rc = want(v, out, "mproc_value_get_bool");
  if (rc)
    return rc;
  if (v->type != MPROC_T_BOOL)
    return mproc__err(MPROC_ETYPE, "expected bool, got %s", type_name(v));
  *out = (int)v->u.i;
  return 0;
}

int mproc_value_get_int(const mproc_value *v, int64_t *out) {
  int rc = want(v, out, "mproc_value_get_int");
  if (rc)
    return rc;
  if (v->type != MPROC_T_INT && v->type != MPROC_T_BOOL)
    return mproc__err(MPROC_ETYPE, "expected int, got %s", type_name(v));
  *out = v->u.i;
  return 0;
}

int mproc_value_get_float(const mproc_value *v, double *out) {
  int rc = want(v, out, "mproc_value_get_float");
  if (rc)
    return rc;
  if (!is_number(v))
    return mproc__err(MPROC_ETYPE, "expected float, got %s", type_name(v));
  *out = v->type == MPROC_T_FLOAT ? v->u.f : (double)v->u.i;
  return 0;
}

int mproc_value_get_str(const mproc_value *v, const char **s, size_t *n) {
  int rc = want(v, s, "mproc_value_get_str");
  if (rc)
    return rc;
  if (v->type != MPROC_T_STR)
    return mproc__err(MPROC_ETYPE, "expected str, got %s", type_name(v));
  *s = v->u.s.p;
  if (n)
    *n = v->u.s.n;
  return 0;
}

int mproc_value_get_bytes(const mproc_value *v, const void **p, size_t *n) {
  int rc = want(v, p, "mproc_value_get_bytes");
  if (rc)
    return rc;
  if (v->type != MPROC_T_BYTES)
    return mproc__err(MPROC_ETYPE, "expected bytes, got %s", type_name(v));
  *p = v->u.s.p;
  if (n)
    *n = v->u.s.n;
  return 0;
}

int mproc_value_get_conn(const mproc_value *v, mproc_conn **out) {
  int rc = want(v, out, "mproc_value_get_conn");
  if (rc)
    return rc;
  if (v->type != MPROC_T_OBJECT || v->u.obj.type != &mproc__conn_type)
    return mproc__err(MPROC_ETYPE, "expected Connection, got %s", type_name(v));
  *out = (mproc_conn *)v->u.obj.obj;
  return 0;
}

const char *mproc_value_str(const mproc_value *v) {
  return v && v->type == MPROC_T_STR ? v->u.s.p : NULL;
}

/* ---- lists and tuples ------------------------------------------------------ */

static const char *kind_name(mproc_type t) {
  switch (t) {
  case MPROC_T_LIST:
    return "list";
  case MPROC_T_TUPLE:
    return "tuple";
  case MPROC_T_DICT:
    return "dict";
  default:
    return "set";
  }
}

/* Check a container argument; on failure free item (and key) and fail. */
static int check_container(mproc_value *c, mproc_type t, mproc_value *a,
                           mproc_value *b, const char *fn) {
  int rc = 0;
  if (!c)
    rc = mproc__err(MPROC_EINVAL, "%s: the container is NULL", fn);
  else if (c->type != t)
    rc = mproc__err(MPROC_ETYPE, "%s: expected %s, got %s", fn, kind_name(t),
                    type_name(c));
  else if (!a || (t == MPROC_T_DICT && !b))
    rc = null_value(fn);
  else if (a == c || b == c) {
    /* A container inside itself would never be freed: refuse, and do
     * not free it either, since the caller still holds it. */
    mproc_value_free(a == c ? NULL : a);
    mproc_value_free(b == c ? NULL : b);
    return mproc__err(MPROC_EINVAL, "%s: a container cannot hold itself", fn);
  }
  if (rc) {
    mproc_value_free(a);
    mproc_value_free(b);
  }
  return rc;
}

/* Append item to a list or tuple (both already checked); steals item. */
static int seq_push(mproc_value *list, mproc_value *item) {
  if (list->u.list.n == list->u.list.cap) {
    size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 4;
    mproc_value **items;
    if (cap > (size_t)-1 / sizeof *items)
      items = NULL;
    else
      items = (mproc_value **)realloc(list->u.list.items, cap * sizeof *items);
    if (!items) {
      mproc_value_free(item);
      return mproc__err(MPROC_ENOMEM, "cannot grow a %s to %lu items",
                        kind_name((mproc_type)list->type), (unsigned long)cap);
    }
    list->u.list.items = items;
    list->u.list.cap = cap;
  }
  list->u.list.items[list->u.list.n++] = item;
  return 0;
}

int mproc_list_append(mproc_value *list, mproc_value *item) {
  int rc = check_container(list, MPROC_T_LIST, item, NULL, "mproc_list_append");
  return rc ? rc : seq_push(list, item);
}

int mproc__seq_push(mproc_value *seq, mproc_value *item) {
  if (!item)
    return null_value("mproc__seq_push");
  return seq_push(seq, item);
}

size_t mproc_list_len(const mproc_value *list) {
  return list && list->type == MPROC_T_LIST ? list->u.list.n : 0;
}

mproc_value *mproc_list_get(const mproc_value *list, size_t i) {
  if (!list || list->type != MPROC_T_LIST || i >= list->u.list.n)
    return NULL;
  return list->u.list.items[i];
}

int mproc_list_set(mproc_value *list, size_t i, mproc_value *item) {
  int rc = check_container(list, MPROC_T_LIST, item, NULL, "mproc_list_set");
  if (rc)
    return rc;
  if (i >= list->u.list.n) {
    mproc_value_free(item);
    return mproc__err(MPROC_ERANGE, "list index %lu out of range (len %lu)",
                      (unsigned long)i, (unsigned long)list->u.list.n);
  }
  mproc_value_free(list->u.list.items[i]);
  list->u.list.items[i] = item;
  return 0;
}

int mproc_tuple_append(mproc_value *tuple, mproc_value *item) {
  int rc =
      check_container(tuple, MPROC_T_TUPLE, item, NULL, "mproc_tuple_append");
  if (rc)
    return rc;
  if (tuple->flags & MPROC__F_FROZEN) {
    mproc_value_free(item);
    return mproc__err(MPROC_EINVAL,
                      "mproc_tuple_append: the tuple cannot change (a dict "
                      "key, a set member or the shared empty tuple)");
  }
  return seq_push(tuple, item);
}

size_t mproc_tuple_len(const mproc_value *tuple) {
  return tuple && tuple->type == MPROC_T_TUPLE ? tuple->u.list.n : 0;
}

mproc_value *mproc_tuple_get(const mproc_value *tuple, size_t i) {
  if (!tuple || tuple->type != MPROC_T_TUPLE || i >= tuple->u.list.n)
    return NULL;
  return tuple->u.list.items[i];
}

/* ---- hashing ---------------------------------------------------------------- */

/* The per-process SipHash key: 0 none yet, 1 being drawn, 2 ready. */
static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static volatile uint32_t hash_key_state;

static int hash_key_ready(void) {
  uint32_t st = mproc__ld32(&hash_key_state);
  while (st != 2) {
    st = 0;
    if (mproc__cas32(&hash_key_state, &st, 1)) {
      /* sodium_init is itself safe to call again and from any thread. */
      if (sodium_init() < 0) {
        mproc__st32(&hash_key_state, 0);
        return mproc__err(MPROC_EOS, "libsodium could not initialise (no "
                                     "source of random numbers?)");
      }
      randombytes_buf(hash_key, sizeof hash_key);
      mproc__st32(&hash_key_state, 2);
      return 0;
    }
    mproc__cpu_relax(); /* another thread is drawing the key */
    st = mproc__ld32(&hash_key_state);
  }
  return 0;
}

static uint64_t sip(const void *p, size_t n, uint64_t domain) {
  unsigned char out[crypto_shorthash_BYTES];
  uint64_t h;
  crypto_shorthash(out, (const unsigned char *)p, (unsigned long long)n,
                   hash_key);
  memcpy(&h, out, sizeof h);
  return h ^ domain;
}

/*
 * The hash of a key, 0 or MPROC_ETYPE for an unhashable one.  Equal keys
 * (in Python's sense) hash alike: 1, 1.0 and True agree.
 */
static int key_hash(const mproc_value *k, uint64_t *out, int depth) {
  int64_t i;
  uint64_t pair[2];
  size_t j;
  int rc;
  switch (k->type) {
  case MPROC_T_NONE:
    *out = 0x5bd1e9955bd1e995ULL;
    return 0;
  case MPROC_T_BOOL:
  case MPROC_T_INT:
    *out = sip(&k->u.i, sizeof k->u.i, 0);
    return 0;
  case MPROC_T_FLOAT:
    if (float_is_int64(k->u.f, &i))
      *out = sip(&i, sizeof i, 0);
    else
      *out = sip(&k->u.f, sizeof k->u.f, 0x3c6ef372fe94f82bULL);
    return 0;
  case MPROC_T_STR:
    *out = sip(k->u.s.p, k->u.s.n, 1);
    return 0;
  case MPROC_T_BYTES:
    *out = sip(k->u.s.p, k->u.s.n, 2);
    return 0;
  case MPROC_T_TUPLE:
    if (depth >= MPROC__MAX_DEPTH)
      return mproc__err(MPROC_EINVAL, "a tuple key nested deeper than %d",
                        MPROC__MAX_DEPTH);
    /* Chain the items' hashes through SipHash, in order. */
    pair[0] = 0x9e3779b97f4a7c15ULL ^ (uint64_t)k->u.list.n;
    for (j = 0; j < k->u.list.n; j++) {
      rc = key_hash(k->u.list.items[j], &pair[1], depth + 1);
      if (rc)
        return rc;
      pair[0] = sip(pair, sizeof pair, 3);
    }
    *out = pair[0];
    return 0;
  default:
    return mproc__err(MPROC_ETYPE, "unhashable type: '%s'", type_name(k));
  }
}

/* A tuple that becomes a key can no longer change, nor its tuples. */
static void freeze(mproc_value *k) {
  size_t j;
  if (k->type != MPROC_T_TUPLE || (k->flags & MPROC__F_FROZEN))
    return;
  k->flags |= MPROC__F_FROZEN;
  for (j = 0; j < k->u.list.n; j++)
    freeze(k->u.list.items[j]);
}

/* ---- dicts and sets -------------------------------------------------------- */

/* Entries allocated for n entries: 4, then powers of two. */
static size_t entry_cap(size_t n) {
  size_t cap = 4;
  while (cap < n)
    cap *= 2;
  return cap;
}

/*
 * The index (past DICT_INDEX_MIN entries): a header of IX_HDR words, then
 * the slots.  index[0] slots (a power of two, twice the entries
 * allocated), [1] entries used (holes included), [2] entries allocated,
 * [3] slots not empty (live + dummies; kept below [2], so at most half).
 * A slot holds entry number + 1, 0 when empty, IX_DUMMY once deleted.
 */
#define IX_HDR 4
#define IX_DUMMY ((size_t)-1)

/* Tests: the work deletes and resizes do (probes, entries moved). */
static volatile uint32_t work_on;
static size_t work_done;

size_t mproc__dict_work(int on) {
  size_t w = work_done;
  mproc__st32(&work_on, on != 0);
  work_done = 0;
  return w;
}

static void work(size_t n) {
  if (mproc__ld32_relaxed(&work_on))
    work_done += n;
}

/* The entry number of key in d, or (size_t)-1. */
static size_t dict_find(const mproc_value *d, const mproc_value *key,
                        uint64_t hash) {
  size_t i, probes = 1, found = (size_t)-1;
  if (d->u.dict.index) {
    const size_t *slot = d->u.dict.index + IX_HDR;
    size_t mask = d->u.dict.index[0] - 1;
    for (i = (size_t)hash & mask; slot[i]; i = (i + 1) & mask, probes++) {
      const mproc__dentry *e;
      if (slot[i] == IX_DUMMY)
        continue;
      e = &d->u.dict.e[slot[i] - 1];
      if (e->hash == hash && mproc_value_equal(e->key, key)) {
        found = slot[i] - 1;
        break;
      }
    }
  } else {
    for (i = 0; i < d->u.dict.n; i++, probes++) {
      const mproc__dentry *e = &d->u.dict.e[i];
      if (e->hash == hash && mproc_value_equal(e->key, key)) {
        found = i;
        break;
      }
    }
  }
  work(probes);
  return found;
}

static void index_put(mproc_value *d, size_t entry) {
  size_t *slot = d->u.dict.index + IX_HDR;
  size_t mask = d->u.dict.index[0] - 1;
  size_t i = (size_t)d->u.dict.e[entry].hash & mask;
  while (slot[i])
    i = (i + 1) & mask;
  slot[i] = entry + 1;
  d->u.dict.index[3]++;
}

/* Fill d's index (allocated, any size) afresh from its n dense entries. */
static void index_fill(mproc_value *d) {
  size_t *ix = d->u.dict.index, i;
  memset(ix + IX_HDR, 0, ix[0] * sizeof *ix);
  ix[1] = d->u.dict.n;
  ix[3] = 0;
  for (i = 0; i < d->u.dict.n; i++)
    index_put(d, i);
}

size_t mproc__table_bytes(size_t n) {
  size_t cap = entry_cap(n);
  if (n == 0) /* the entries come with the first key */
    return sizeof(mproc_value);
  return sizeof(mproc_value) + cap * sizeof(mproc__dentry) +
         (n > DICT_INDEX_MIN ? (2 * cap + IX_HDR) * sizeof(size_t) : 0);
}

/*
 * Squeeze the holes out (order kept), then size d for want entries: an
 * index of twice as many slots past DICT_INDEX_MIN, none below (d then
 * is dense, as a small table always is).  On MPROC_ENOMEM d is intact.
 */
static int table_resize(mproc_value *d, size_t want) {
  size_t *ix = d->u.dict.index, *nix = NULL, used = mproc__table_used(d);
  size_t i, j, cap = entry_cap(want);
  mproc__dentry *e = d->u.dict.e;
  for (i = j = 0; i < used; i++)
    if (e[i].key)
      e[j++] = e[i];
  work(used);
  if (ix)
    ix[1] = j; /* holes gone: the old index is refilled on failure */
  if (want > DICT_INDEX_MIN) {
    if (cap > ((size_t)-1 - IX_HDR) / (2 * sizeof *nix))
      return mproc__err(MPROC_ENOMEM, "cannot grow a %s index",
                        kind_name((mproc_type)d->type));
    nix = (size_t *)malloc((2 * cap + IX_HDR) * sizeof *nix);
  }
  if (cap > (size_t)-1 / sizeof *e || (want > DICT_INDEX_MIN && !nix))
    e = NULL;
  else
    e = (mproc__dentry *)realloc(d->u.dict.e, cap * sizeof *e);
  if (!e) {
    free(nix);
    if (ix)
      index_fill(d);
    return mproc__err(MPROC_ENOMEM, "cannot grow a %s to %lu items",
                      kind_name((mproc_type)d->type), (unsigned long)cap);
  }
  d->u.dict.e = e;
  free(ix);
  d->u.dict.index = nix;
  if (nix) {
    nix[0] = 2 * cap;
    nix[2] = cap;
    index_fill(d);
  }
  return 0;
}

/* Make room for one more entry (and its index slot). */
static int dict_reserve(mproc_value *d) {
  size_t n = d->u.dict.n;
  const size_t *ix = d->u.dict.index;
  if (ix) {
    if (ix[1] < ix[2] && ix[3] < ix[2])
      return 0;
    /* Full (of entries, holes or dummies): room for half as many again. */
    return table_resize(d, n + n / 2 + 1);
  }
  if (n + 1 > DICT_INDEX_MIN)
    return table_resize(d, n + 1);
  if (n == 0 || (n >= 4 && entry_cap(n) == n)) {
    size_t cap = entry_cap(n + 1);
    mproc__dentry *e = (mproc__dentry *)realloc(d->u.dict.e, cap * sizeof *e);
    if (!e)
      return mproc__err(MPROC_ENOMEM, "cannot grow a %s to %lu items",
                        kind_name((mproc_type)d->type), (unsigned long)cap);
    d->u.dict.e = e;
  }
  return 0;
}

/*
 * Insert key (and val, NULL for a set) into a checked dict or set;
 * steals both.  An equal key already there stays; a dict's value is
 * replaced (as Python), a set's new member is dropped.
 */
static int table_add(mproc_value *d, mproc_value *key, mproc_value *val,
                     const char *fn) {
  uint64_t h = 0;
  size_t i;
  mproc__dentry *e;
  int rc;
  if (!key) {
    mproc_value_free(val);
    return null_value(fn);
  }
  rc = hash_key_ready();
  if (rc == 0)
    rc = key_hash(key, &h, 0);
  if (rc) {
    mproc_value_free(key);
    mproc_value_free(val);
    return rc;
  }
  i = dict_find(d, key, h);
  if (i != (size_t)-1) {
    if (d->type == MPROC_T_DICT) {
      mproc_value_free(d->u.dict.e[i].val);
      d->u.dict.e[i].val = val;
    }
    mproc_value_free(key);
    return 0;
  }
  rc = dict_reserve(d);
  if (rc) {
    mproc_value_free(key);
    mproc_value_free(val);
    return rc;
  }
  freeze(key);
  i = mproc__table_used(d);
  e = &d->u.dict.e[i];
  e->key = key;
  e->val = val;
  e->hash = h;
  if (d->u.dict.index) {
    index_put(d, i);
    d->u.dict.index[1]++;
  }
  d->u.dict.n++;
  return 0;
}

int mproc_dict_set(mproc_value *dict, mproc_value *key, mproc_value *val) {
  int rc = check_container(dict, MPROC_T_DICT, key, val, "mproc_dict_set");
  return rc ? rc : table_add(dict, key, val, "mproc_dict_set");
}

int mproc__set_add(mproc_value *set, mproc_value *item) {
  return table_add(set, item, NULL, "mproc_set_add");
}

int mproc_dict_set_str(mproc_value *dict, const char *key, mproc_value *val) {
  if (!key) {
    mproc_value_free(val);
    return mproc__err(MPROC_EINVAL, "mproc_dict_set_str: the key is NULL");
  }
  return mproc_dict_set(dict, mproc_str(key), val);
}

/* The entry of key in a dict or set, (size_t)-1 if absent; *rc an error. */
static size_t table_lookup(const mproc_value *d, const mproc_value *key,
                           int *rc) {
  uint64_t h = 0;
  *rc = 0;
  if (d->u.dict.n == 0 && key->type <= MPROC_T_BYTES)
    return (size_t)-1;
  *rc = hash_key_ready();
  if (*rc == 0)
    *rc = key_hash(key, &h, 0);
  return *rc ? (size_t)-1 : dict_find(d, key, h);
}

mproc_value *mproc_dict_get(const mproc_value *dict, const mproc_value *key) {
  size_t i;
  int rc;
  if (!dict || dict->type != MPROC_T_DICT || !key)
    return NULL;
  i = table_lookup(dict, key, &rc);
  return i == (size_t)-1 ? NULL : dict->u.dict.e[i].val;
}

mproc_value *mproc_dict_get_str(const mproc_value *dict, const char *key) {
  mproc_value k;
  if (!key)
    return NULL;
  /* A borrowed key on the stack: lookups never keep or free it. */
  memset(&k, 0, sizeof k);
  k.type = MPROC_T_STR;
  k.u.s.p = (char *)(uintptr_t)key;
  k.u.s.n = strlen(key);
  return mproc_dict_get(dict, &k);
}

/* The entry of the i-th live key (i < n): i itself unless d has holes
 * (a table the Manager deleted from; iterate with mproc__table_used). */
static size_t live_entry(const mproc_value *d, size_t i) {
  size_t j;
  if (d->u.dict.n == mproc__table_used(d))
    return i;
  for (j = 0;; j++)
    if (d->u.dict.e[j].key && i-- == 0)
      return j;
}

size_t mproc_dict_len(const mproc_value *dict) {
  return dict && dict->type == MPROC_T_DICT ? dict->u.dict.n : 0;
}

int mproc_dict_item(const mproc_value *dict, size_t i, mproc_value **key,
                    mproc_value **val) {
  if (!dict)
    return null_value("mproc_dict_item");
  if (dict->type != MPROC_T_DICT)
    return mproc__err(MPROC_ETYPE, "mproc_dict_item: expected dict, got %s",
                      type_name(dict));
  if (i >= dict->u.dict.n)
    return mproc__err(MPROC_ERANGE, "dict item %lu out of range (len %lu)",
                      (unsigned long)i, (unsigned long)dict->u.dict.n);
  i = live_entry(dict, i);
  if (key)
    *key = dict->u.dict.e[i].key;
  if (val)
    *val = dict->u.dict.e[i].val;
  return 0;
}

int mproc_set_add(mproc_value *set, mproc_value *item) {
  int rc = check_container(set, MPROC_T_SET, item, NULL, "mproc_set_add");
  return rc ? rc : table_add(set, item, NULL, "mproc_set_add");
}

int mproc_set_contains(const mproc_value *set, const mproc_value *item) {
  size_t i;
  int rc;
  if (!set || !item)
    return null_value("mproc_set_contains");
  if (set->type != MPROC_T_SET)
    return mproc__err(MPROC_ETYPE, "mproc_set_contains: expected set, got %s",
                      type_name(set));
  i = table_lookup(set, item, &rc);
  return rc ? rc : i != (size_t)-1;
}

size_t mproc_set_len(const mproc_value *set) {
  return set && set->type == MPROC_T_SET ? set->u.dict.n : 0;
}

mproc_value *mproc_set_item(const mproc_value *set, size_t i) {
  if (!set || set->type != MPROC_T_SET || i >= set->u.dict.n)
    return NULL;
  return set->u.dict.e[live_entry(set, i)].key;
}

/* A deleted entry's key and value: to the caller where asked, else freed. */
static void entry_take(mproc__dentry *e, mproc_value **key_out,
                       mproc_value **val_out) {
  if (key_out)
    *key_out = e->key;
  else
    mproc_value_free(e->key);
  if (val_out)
    *val_out = e->val;
  else
    mproc_value_free(e->val);
}

int mproc__table_del(mproc_value *d, const mproc_value *key,
                     mproc_value **key_out, mproc_value **val_out) {
  uint64_t h = 0;
  size_t i, *ix = d->u.dict.index;
  mproc__dentry *e;
  int rc = hash_key_ready();
  if (rc == 0)
    rc = key_hash(key, &h, 0);
  if (rc)
    return rc;
  if (!ix) { /* small and dense: close the gap */
    /* The very key object first (popitem's; a NaN is not equal to
     * itself), then an equal one, as Python. */
    for (i = 0; i < d->u.dict.n && d->u.dict.e[i].key != key; i++)
      ;
    work(i + 1);
    if (i == d->u.dict.n)
      i = dict_find(d, key, h);
    if (i == (size_t)-1)
      return 0;
    e = &d->u.dict.e[i];
    entry_take(e, key_out, val_out);
    memmove(e, e + 1, (d->u.dict.n - i - 1) * sizeof *e);
    work(d->u.dict.n - i - 1);
    d->u.dict.n--;
    return 1;
  } else {
    size_t *slot = ix + IX_HDR, mask = ix[0] - 1, probes = 1;
    for (i = (size_t)h & mask;; i = (i + 1) & mask, probes++) {
      if (!slot[i]) {
        work(probes);
        return 0;
      }
      if (slot[i] == IX_DUMMY)
        continue;
      e = &d->u.dict.e[slot[i] - 1];
      if (e->key == key ||
          (e->hash == h && mproc_value_equal(e->key, key)))
        break;
    }
    work(probes);
    slot[i] = IX_DUMMY; /* still counted in ix[3] until the next resize */
    entry_take(e, key_out, val_out);
    e->key = e->val = NULL;
    d->u.dict.n--;
    /* Holes at the end go at once (popitem takes the last entry). */
    while (ix[1] > 0 && !d->u.dict.e[ix[1] - 1].key) {
      ix[1]--;
      work(1);
    }
    return 1;
  }
}

size_t mproc__dict_probes(const mproc_value *d) {
  size_t probes = 0, i, mask;
  const size_t *slot;
  if (!d || !is_table(d))
    return 0;
  if (!d->u.dict.index) /* a linear scan: entry i costs i + 1 compares */
    return d->u.dict.n * (d->u.dict.n + 1) / 2;
  slot = d->u.dict.index + IX_HDR;
  mask = d->u.dict.index[0] - 1;
  for (i = 0; i <= mask; i++)
    if (slot[i] && slot[i] != IX_DUMMY) {
      size_t home = (size_t)d->u.dict.e[slot[i] - 1].hash & mask;
      probes += ((i - home) & mask) + 1;
    }
  return probes;
}
