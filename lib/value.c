/*
 * value.c - the value tree: None, bool, int, float, str, bytes, list,
 * dict and references to OS objects.
 *
 * A value owns its children.  Strings are kept NUL-terminated and checked
 * to be valid UTF-8 when they are made.  A dict keeps its entries in
 * insertion order in an array; once it holds more than DICT_INDEX_MIN
 * entries it also keeps an open-addressing hash index over them, so that
 * inserting n keys costs O(n) and not O(n^2).  Keys compare with Python's
 * equality (1 == 1.0 == True), and equal keys hash alike.
 */
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"

/* A dict builds its hash index when it grows past this many entries. */
#define DICT_INDEX_MIN 16

typedef struct dentry {
  mproc_value *key;
  mproc_value *val;
  uint64_t hash;
} dentry;

struct mproc_value {
  mproc_type type;
  union {
    int b;
    int64_t i;
    double f;
    struct {
      char *p; /* NUL-terminated, even for bytes */
      size_t n;
    } s;
    struct {
      mproc_value **items;
      size_t n, cap;
    } list;
    struct {
      dentry *e;
      size_t n, cap;
      size_t *index; /* entry number + 1, 0 for an empty slot */
      size_t icap;   /* a power of two, or 0 while there is no index */
    } dict;
    struct {
      const mproc__objtype *type;
      void *obj;
      int owned;
    } obj;
  } u;
};

/* ---- helpers ----------------------------------------------------------- */

static const char *type_name(const mproc_value *v) {
  static const char *const names[] = {"NoneType", "bool", "int",
                                      "float",    "str",  "bytes",
                                      "list",     "dict", "object"};
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
  mproc_value *v = (mproc_value *)calloc(1, sizeof *v);
  if (!v) {
    mproc__err(MPROC_ENOMEM, "out of memory allocating a value");
    return NULL;
  }
  v->type = t;
  return v;
}

static int is_scalar(const mproc_value *v) { return v->type <= MPROC_T_BYTES; }

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

/* ---- constructors ------------------------------------------------------ */

mproc_value *mproc_none(void) { return alloc_value(MPROC_T_NONE); }

mproc_value *mproc_bool(int b) {
  mproc_value *v = alloc_value(MPROC_T_BOOL);
  if (v)
    v->u.b = b != 0;
  return v;
}

mproc_value *mproc_int(int64_t i) {
  mproc_value *v = alloc_value(MPROC_T_INT);
  if (v)
    v->u.i = i;
  return v;
}

mproc_value *mproc_float(double d) {
  mproc_value *v = alloc_value(MPROC_T_FLOAT);
  if (v)
    v->u.f = d;
  return v;
}

static mproc_value *make_sb(mproc_type t, const void *p, size_t n) {
  mproc_value *v;
  if (n == (size_t)-1) {
    mproc__err(MPROC_ENOMEM, "a string of %lu bytes is too long",
               (unsigned long)n);
    return NULL;
  }
  v = alloc_value(t);
  if (!v)
    return NULL;
  v->u.s.p = (char *)malloc(n + 1);
  if (!v->u.s.p) {
    free(v);
    mproc__err(MPROC_ENOMEM, "out of memory allocating %lu bytes",
               (unsigned long)n);
    return NULL;
  }
  if (n)
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

mproc_value *mproc_dict(void) { return alloc_value(MPROC_T_DICT); }

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

/* ---- free, copy, type, equality ---------------------------------------- */

void mproc_value_free(mproc_value *v) {
  size_t i;
  if (!v)
    return;
  switch (v->type) {
  case MPROC_T_STR:
  case MPROC_T_BYTES:
    free(v->u.s.p);
    break;
  case MPROC_T_LIST:
    for (i = 0; i < v->u.list.n; i++)
      mproc_value_free(v->u.list.items[i]);
    free(v->u.list.items);
    break;
  case MPROC_T_DICT:
    for (i = 0; i < v->u.dict.n; i++) {
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
  default:
    break;
  }
  free(v);
}

mproc_type mproc_value_type(const mproc_value *v) {
  return v ? v->type : MPROC_T_NONE;
}

mproc_value *mproc_value_copy(const mproc_value *v) {
  mproc_value *c;
  size_t i;
  if (!v) {
    null_value("mproc_value_copy");
    return NULL;
  }
  switch (v->type) {
  case MPROC_T_NONE:
    return mproc_none();
  case MPROC_T_BOOL:
    return mproc_bool(v->u.b);
  case MPROC_T_INT:
    return mproc_int(v->u.i);
  case MPROC_T_FLOAT:
    return mproc_float(v->u.f);
  case MPROC_T_STR:
  case MPROC_T_BYTES:
    return make_sb(v->type, v->u.s.p, v->u.s.n);
  case MPROC_T_OBJECT:
    return mproc__value_object(v->u.obj.type, v->u.obj.obj, 0);
  case MPROC_T_LIST:
    c = mproc_list();
    for (i = 0; c && i < v->u.list.n; i++) {
      if (mproc_list_append(c, mproc_value_copy(v->u.list.items[i])) != 0) {
        mproc_value_free(c);
        c = NULL;
      }
    }
    return c;
  case MPROC_T_DICT:
    c = mproc_dict();
    for (i = 0; c && i < v->u.dict.n; i++) {
      if (mproc_dict_set(c, mproc_value_copy(v->u.dict.e[i].key),
                         mproc_value_copy(v->u.dict.e[i].val)) != 0) {
        mproc_value_free(c);
        c = NULL;
      }
    }
    return c;
  }
  mproc__err(MPROC_EINVAL, "mproc_value_copy: corrupt value");
  return NULL;
}

static int is_number(const mproc_value *v) {
  return v->type == MPROC_T_BOOL || v->type == MPROC_T_INT ||
         v->type == MPROC_T_FLOAT;
}

static int64_t as_int(const mproc_value *v) {
  return v->type == MPROC_T_BOOL ? (int64_t)v->u.b : v->u.i;
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
    return float_is_int64(a->u.f, &i) && i == as_int(b);
  if (b->type == MPROC_T_FLOAT)
    return float_is_int64(b->u.f, &i) && i == as_int(a);
  return as_int(a) == as_int(b);
}

static size_t dict_find(const mproc_value *d, const mproc_value *key,
                        uint64_t hash);
static uint64_t key_hash(const mproc_value *k);

int mproc_value_equal(const mproc_value *a, const mproc_value *b) {
  size_t i;
  if (!a || !b)
    return 0;
  if (is_number(a) && is_number(b))
    return number_equal(a, b);
  if (a->type != b->type)
    return 0;
  switch (a->type) {
  case MPROC_T_NONE:
    return 1;
  case MPROC_T_STR:
  case MPROC_T_BYTES:
    return a->u.s.n == b->u.s.n &&
           (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
  case MPROC_T_LIST:
    if (a->u.list.n != b->u.list.n)
      return 0;
    for (i = 0; i < a->u.list.n; i++)
      if (!mproc_value_equal(a->u.list.items[i], b->u.list.items[i]))
        return 0;
    return 1;
  case MPROC_T_DICT:
    /* As Python: the same keys with equal values, in any order. */
    if (a->u.dict.n != b->u.dict.n)
      return 0;
    for (i = 0; i < a->u.dict.n; i++) {
      const dentry *e = &a->u.dict.e[i];
      size_t j = dict_find(b, e->key, e->hash);
      if (j == (size_t)-1 || !mproc_value_equal(e->val, b->u.dict.e[j].val))
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
  *out = v->u.b;
  return 0;
}

int mproc_value_get_int(const mproc_value *v, int64_t *out) {
  int rc = want(v, out, "mproc_value_get_int");
  if (rc)
    return rc;
  if (v->type != MPROC_T_INT && v->type != MPROC_T_BOOL)
    return mproc__err(MPROC_ETYPE, "expected int, got %s", type_name(v));
  *out = as_int(v);
  return 0;
}

int mproc_value_get_float(const mproc_value *v, double *out) {
  int rc = want(v, out, "mproc_value_get_float");
  if (rc)
    return rc;
  if (!is_number(v))
    return mproc__err(MPROC_ETYPE, "expected float, got %s", type_name(v));
  *out = v->type == MPROC_T_FLOAT ? v->u.f : (double)as_int(v);
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

/* ---- lists --------------------------------------------------------------- */

/* Check a container argument; on failure free item (and key) and fail. */
static int check_container(mproc_value *c, mproc_type t, mproc_value *a,
                           mproc_value *b, const char *fn) {
  int rc = 0;
  if (!c)
    rc = mproc__err(MPROC_EINVAL, "%s: the container is NULL", fn);
  else if (c->type != t)
    rc = mproc__err(MPROC_ETYPE, "%s: expected %s, got %s", fn,
                    t == MPROC_T_LIST ? "list" : "dict", type_name(c));
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

int mproc_list_append(mproc_value *list, mproc_value *item) {
  int rc = check_container(list, MPROC_T_LIST, item, NULL, "mproc_list_append");
  if (rc)
    return rc;
  if (list->u.list.n == list->u.list.cap) {
    size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 4;
    mproc_value **items;
    if (cap > (size_t)-1 / sizeof *items)
      items = NULL;
    else
      items = (mproc_value **)realloc(list->u.list.items, cap * sizeof *items);
    if (!items) {
      mproc_value_free(item);
      return mproc__err(MPROC_ENOMEM, "cannot grow a list to %lu items",
                        (unsigned long)cap);
    }
    list->u.list.items = items;
    list->u.list.cap = cap;
  }
  list->u.list.items[list->u.list.n++] = item;
  return 0;
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

/* ---- dicts --------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static uint64_t hash_bytes(const char *p, size_t n, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

/* Equal keys (in Python's sense) hash alike: 1, 1.0 and True agree. */
static uint64_t key_hash(const mproc_value *k) {
  int64_t i;
  uint64_t bits;
  switch (k->type) {
  case MPROC_T_NONE:
    return 0x5bd1e9955bd1e995ULL;
  case MPROC_T_BOOL:
  case MPROC_T_INT:
    return mix64((uint64_t)as_int(k));
  case MPROC_T_FLOAT:
    if (float_is_int64(k->u.f, &i))
      return mix64((uint64_t)i);
    memcpy(&bits, &k->u.f, sizeof bits);
    return mix64(bits ^ 0x3c6ef372fe94f82bULL);
  case MPROC_T_STR:
    return hash_bytes(k->u.s.p, k->u.s.n, 1);
  case MPROC_T_BYTES:
    return hash_bytes(k->u.s.p, k->u.s.n, 2);
  default:
    return 0;
  }
}

/* The entry number of key in d, or (size_t)-1. */
static size_t dict_find(const mproc_value *d, const mproc_value *key,
                        uint64_t hash) {
  size_t i;
  if (d->u.dict.icap) {
    size_t mask = d->u.dict.icap - 1;
    for (i = (size_t)hash & mask; d->u.dict.index[i]; i = (i + 1) & mask) {
      const dentry *e = &d->u.dict.e[d->u.dict.index[i] - 1];
      if (e->hash == hash && mproc_value_equal(e->key, key))
        return d->u.dict.index[i] - 1;
    }
    return (size_t)-1;
  }
  for (i = 0; i < d->u.dict.n; i++) {
    const dentry *e = &d->u.dict.e[i];
    if (e->hash == hash && mproc_value_equal(e->key, key))
      return i;
  }
  return (size_t)-1;
}

static void index_put(mproc_value *d, size_t entry) {
  size_t mask = d->u.dict.icap - 1;
  size_t i = (size_t)d->u.dict.e[entry].hash & mask;
  while (d->u.dict.index[i])
    i = (i + 1) & mask;
  d->u.dict.index[i] = entry + 1;
}

/* Make room for one more entry (and its index slot). */
static int dict_reserve(mproc_value *d) {
  size_t n = d->u.dict.n + 1;
  if (n > d->u.dict.cap) {
    size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 4;
    dentry *e;
    if (cap > (size_t)-1 / sizeof *e)
      e = NULL;
    else
      e = (dentry *)realloc(d->u.dict.e, cap * sizeof *e);
    if (!e)
      return mproc__err(MPROC_ENOMEM, "cannot grow a dict to %lu items",
                        (unsigned long)cap);
    d->u.dict.e = e;
    d->u.dict.cap = cap;
  }
  /* Keep the index at most half full. */
  if (n > DICT_INDEX_MIN && n * 2 > d->u.dict.icap) {
    size_t icap = d->u.dict.icap ? d->u.dict.icap : 32;
    size_t *index, i;
    while (n * 2 > icap)
      icap *= 2;
    if (icap > (size_t)-1 / sizeof *index)
      index = NULL;
    else
      index = (size_t *)calloc(icap, sizeof *index);
    if (!index)
      return mproc__err(MPROC_ENOMEM, "cannot grow a dict index");
    free(d->u.dict.index);
    d->u.dict.index = index;
    d->u.dict.icap = icap;
    for (i = 0; i < d->u.dict.n; i++)
      index_put(d, i);
  }
  return 0;
}

int mproc_dict_set(mproc_value *dict, mproc_value *key, mproc_value *val) {
  int rc = check_container(dict, MPROC_T_DICT, key, val, "mproc_dict_set");
  uint64_t h;
  size_t i;
  dentry *e;
  if (rc)
    return rc;
  if (!is_scalar(key)) {
    rc = mproc__err(MPROC_ETYPE, "unhashable dict key of type %s",
                    type_name(key));
    mproc_value_free(key);
    mproc_value_free(val);
    return rc;
  }
  h = key_hash(key);
  i = dict_find(dict, key, h);
  if (i != (size_t)-1) {
    /* As Python: the first key stays, the value is replaced. */
    mproc_value_free(dict->u.dict.e[i].val);
    dict->u.dict.e[i].val = val;
    mproc_value_free(key);
    return 0;
  }
  rc = dict_reserve(dict);
  if (rc) {
    mproc_value_free(key);
    mproc_value_free(val);
    return rc;
  }
  e = &dict->u.dict.e[dict->u.dict.n];
  e->key = key;
  e->val = val;
  e->hash = h;
  if (dict->u.dict.icap)
    index_put(dict, dict->u.dict.n);
  dict->u.dict.n++;
  return 0;
}

int mproc_dict_set_str(mproc_value *dict, const char *key, mproc_value *val) {
  if (!key) {
    mproc_value_free(val);
    return mproc__err(MPROC_EINVAL, "mproc_dict_set_str: the key is NULL");
  }
  return mproc_dict_set(dict, mproc_str(key), val);
}

mproc_value *mproc_dict_get(const mproc_value *dict, const mproc_value *key) {
  size_t i;
  if (!dict || dict->type != MPROC_T_DICT || !key || !is_scalar(key))
    return NULL;
  i = dict_find(dict, key, key_hash(key));
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
  if (key)
    *key = dict->u.dict.e[i].key;
  if (val)
    *val = dict->u.dict.e[i].val;
  return 0;
}
