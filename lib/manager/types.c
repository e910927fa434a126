/*
 * types.c - the shared types a Manager serves (Python's SyncManager):
 * list, dict, Namespace, Value and Array, each as a constructor and a
 * method table run by the server on a plain value (the "state").
 *
 * Map: helpers (arguments, Python's index and slice rules, ordering for
 * sort), list, dict, Namespace, Value, Array, the type table and repr.
 *
 * Methods are looked up by Python's names; a name a type does not expose
 * is MPROC_ENOTSUP, so a client can call nothing else.  Errors carry
 * Python's words (IndexError -> MPROC_ERANGE, KeyError -> MPROC_EKEY,
 * TypeError -> MPROC_ETYPE, ValueError -> MPROC_EINVAL).  Items stored in
 * a state are taken from the request's arguments; results are deep copies
 * (mproc__mgr_copy: proxies inside take their own reference).  A slice is
 * the tuple (start, stop[, step]) of ints or None.  Deleting from a dict
 * is O(1) (mproc__table_del; order kept as Python's); a dict state may
 * then hold holes, so its entries are read up to mproc__table_used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgr_int.h"

/* ---- helpers -------------------------------------------------------------- */

static size_t nargs(const mproc_value *args) {
  if (!args)
    return 0;
  return args->type == MPROC_T_LIST || args->type == MPROC_T_TUPLE
             ? args->u.list.n
             : 0;
}

static mproc_value *arg(const mproc_value *args, size_t i) {
  return i < nargs(args) ? args->u.list.items[i] : NULL;
}

/* Move item i out of args (its place gets None). */
static mproc_value *take(mproc_value *args, size_t i) {
  mproc_value *v = args->u.list.items[i];
  args->u.list.items[i] = mproc_none();
  return v;
}

static int want_args(const char *m, const mproc_value *args, size_t lo,
                     size_t hi) {
  size_t n = nargs(args);
  if (n < lo || n > hi) {
    if (lo == hi)
      return mproc__err(MPROC_ETYPE, "%s() takes exactly %lu argument%s "
                                     "(%lu given)",
                        m, (unsigned long)lo, lo == 1 ? "" : "s",
                        (unsigned long)n);
    return mproc__err(MPROC_ETYPE, "%s() takes %lu to %lu arguments (%lu "
                                   "given)",
                      m, (unsigned long)lo, (unsigned long)hi,
                      (unsigned long)n);
  }
  return 0;
}

static int get_int(const mproc_value *v, int64_t *out, const char *what) {
  if (!v || (v->type != MPROC_T_INT && v->type != MPROC_T_BOOL))
    return mproc__err(MPROC_ETYPE, "%s must be integers", what);
  *out = v->u.i;
  return 0;
}

static int ret(mproc_value **result, mproc_value *v) {
  if (!v)
    return MPROC_ENOMEM;
  *result = v;
  return 0;
}

static int copy_out(mproc_value **result, const mproc_value *v) {
  return ret(result, mproc__mgr_copy(v));
}

/* Python's index rule: negative from the end; 1 if i is in range. */
static int norm_index(int64_t i, size_t n, size_t *out) {
  if (i < 0)
    i += (int64_t)n;
  if (i < 0 || (uint64_t)i >= n)
    return 0;
  *out = (size_t)i;
  return 1;
}

typedef struct slice {
  int64_t start, stop, step;
  size_t len;
} slice;

/* A slice tuple against a sequence of n items (PySlice_AdjustIndices). */
static int get_slice(const mproc_value *t, size_t n, slice *s) {
  int64_t v[3];
  int have[3] = {0, 0, 0};
  size_t k, cnt = t->u.list.n;
  if (cnt < 2 || cnt > 3)
    return mproc__err(MPROC_ETYPE, "a slice is (start, stop[, step])");
  for (k = 0; k < cnt; k++) {
    const mproc_value *x = t->u.list.items[k];
    if (x->type == MPROC_T_NONE)
      continue;
    if (get_int(x, &v[k], "slice indices") != 0)
      return MPROC_ETYPE;
    have[k] = 1;
  }
  s->step = have[2] ? v[2] : 1;
  if (s->step == 0)
    return mproc__err(MPROC_EINVAL, "slice step cannot be zero");
  if (s->step > 0) {
    s->start = have[0] ? v[0] : 0;
    s->stop = have[1] ? v[1] : (int64_t)n;
    if (s->start < 0 && (s->start += (int64_t)n) < 0)
      s->start = 0;
    if (s->start > (int64_t)n)
      s->start = (int64_t)n;
    if (s->stop < 0 && (s->stop += (int64_t)n) < 0)
      s->stop = 0;
    if (s->stop > (int64_t)n)
      s->stop = (int64_t)n;
    s->len = s->stop > s->start
                 ? (size_t)((s->stop - s->start - 1) / s->step + 1)
                 : 0;
  } else {
    s->start = have[0] ? v[0] : (int64_t)n - 1;
    s->stop = have[1] ? v[1] : -1 - (int64_t)n;
    if (s->start < 0 && (s->start += (int64_t)n) < 0)
      s->start = -1;
    if (s->start >= (int64_t)n)
      s->start = (int64_t)n - 1;
    if (s->stop < 0 && (s->stop += (int64_t)n) < 0)
      s->stop = -1;
    if (s->stop >= (int64_t)n)
      s->stop = (int64_t)n - 1;
    s->len = s->start > s->stop
                 ? (size_t)((s->start - s->stop - 1) / (-s->step) + 1)
                 : 0;
  }
  return 0;
}

static const char *tname(const mproc_value *v) {
  switch (v->type) {
  case MPROC_T_NONE: return "NoneType";
  case MPROC_T_BOOL: return "bool";
  case MPROC_T_INT: return "int";
  case MPROC_T_FLOAT: return "float";
  case MPROC_T_STR: return "str";
  case MPROC_T_BYTES: return "bytes";
  case MPROC_T_LIST: return "list";
  case MPROC_T_DICT: return "dict";
  case MPROC_T_TUPLE: return "tuple";
  case MPROC_T_SET: return "set";
  default: return "object";
  }
}

static int is_num(const mproc_value *v) {
  return v->type == MPROC_T_INT || v->type == MPROC_T_BOOL ||
         v->type == MPROC_T_FLOAT;
}

/* Python's ordering: *r < 0, 0, > 0; MPROC_ETYPE for unorderable. */
static int cmp(const mproc_value *a, const mproc_value *b, int *r) {
  if (is_num(a) && is_num(b)) {
    if (a->type != MPROC_T_FLOAT && b->type != MPROC_T_FLOAT)
      *r = a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    else {
      double x = a->type == MPROC_T_FLOAT ? a->u.f : (double)a->u.i;
      double y = b->type == MPROC_T_FLOAT ? b->u.f : (double)b->u.i;
      *r = x < y ? -1 : x > y;
    }
    return 0;
  }
  if (a->type == b->type &&
      (a->type == MPROC_T_STR || a->type == MPROC_T_BYTES)) {
    size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int c = memcmp(a->u.s.p, b->u.s.p, n);
    *r = c ? c : (a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n);
    return 0;
  }
  if (a->type == b->type &&
      (a->type == MPROC_T_LIST || a->type == MPROC_T_TUPLE)) {
    size_t i;
    for (i = 0; i < a->u.list.n && i < b->u.list.n; i++) {
      const mproc_value *x = a->u.list.items[i], *y = b->u.list.items[i];
      if (!mproc_value_equal(x, y))
        return cmp(x, y, r);
    }
    *r = a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n;
    return 0;
  }
  return mproc__err(MPROC_ETYPE,
                    "'<' not supported between instances of '%s' and '%s'",
                    tname(a), tname(b));
}

/* A stable merge sort of items (Python's sort is stable). */
static int merge_sort(mproc_value **v, mproc_value **tmp, size_t n, int rev) {
  size_t mid = n / 2, i = 0, j, k = 0;
  int rc;
  if (n < 2)
    return 0;
  if ((rc = merge_sort(v, tmp, mid, rev)) != 0 ||
      (rc = merge_sort(v + mid, tmp, n - mid, rev)) != 0)
    return rc;
  j = mid;
  while (i < mid && j < n) {
    int c = 0;
    if ((rc = cmp(v[j], v[i], &c)) != 0)
      return rc;
    if (rev ? c > 0 : c < 0)
      tmp[k++] = v[j++];
    else
      tmp[k++] = v[i++];
  }
  while (i < mid)
    tmp[k++] = v[i++];
  while (j < n)
    tmp[k++] = v[j++];
  memcpy(v, tmp, n * sizeof *v);
  return 0;
}

/* ---- list ------------------------------------------------------------------ */

static int list_from(mproc_value *src, mproc_value **out, const char *what) {
  size_t i;
  mproc_value *l;
  if (src->type == MPROC_T_LIST || src->type == MPROC_T_TUPLE) {
    l = mproc_list();
    for (i = 0; l && i < src->u.list.n; i++)
      if (mproc_list_append(l, take(src, i)) != 0) {
        mproc_value_free(l);
        return MPROC_ENOMEM;
      }
  } else if (src->type == MPROC_T_DICT || src->type == MPROC_T_SET) {
    l = mproc_list();
    for (i = 0; l && i < mproc__table_used(src); i++)
      if (src->u.dict.e[i].key && /* not a hole */
          mproc_list_append(l, mproc__mgr_copy(src->u.dict.e[i].key)) != 0) {
        mproc_value_free(l);
        return MPROC_ENOMEM;
      }
  } else {
    return mproc__err(MPROC_ETYPE, "%s: '%s' object is not iterable", what,
                      tname(src));
  }
  if (!l)
    return MPROC_ENOMEM;
  *out = l;
  return 0;
}

static int list_create(mproc_value *args, mproc_value **state) {
  if (want_args("list", args, 0, 1) != 0)
    return MPROC_ETYPE;
  if (nargs(args) == 0 || arg(args, 0)->type == MPROC_T_NONE)
    return ret(state, mproc_list());
  return list_from(arg(args, 0), state, "list");
}

/* Insert item (stolen) at i (0..n). */
static int list_insert_at(mproc_value *l, size_t i, mproc_value *item) {
  size_t n = l->u.list.n;
  int rc = mproc_list_append(l, item);
  if (rc)
    return rc;
  memmove(l->u.list.items + i + 1, l->u.list.items + i,
          (n - i) * sizeof *l->u.list.items);
  l->u.list.items[i] = item;
  return 0;
}

static void list_delete_at(mproc_value *l, size_t i, int free_it) {
  if (free_it)
    mproc_value_free(l->u.list.items[i]);
  memmove(l->u.list.items + i, l->u.list.items + i + 1,
          (l->u.list.n - i - 1) * sizeof *l->u.list.items);
  l->u.list.n--;
}

static int seq_find(const mproc_value *l, const mproc_value *x, size_t from,
                    size_t to) {
  size_t i;
  for (i = from; i < to && i < l->u.list.n; i++)
    if (mproc_value_equal(l->u.list.items[i], x))
      return (int)i;
  return -1;
}

static int list_slice_get(const mproc_value *l, const slice *s,
                          mproc_value **out) {
  mproc_value *r = mproc_list();
  size_t k;
  int64_t i = s->start;
  for (k = 0; r && k < s->len; k++, i += s->step)
    if (mproc_list_append(r, mproc__mgr_copy(l->u.list.items[i])) != 0) {
      mproc_value_free(r);
      return MPROC_ENOMEM;
    }
  return ret(out, r);
}

static int list_slice_del(mproc_value *l, const slice *s) {
  size_t k;
  /* Delete from the highest index down so earlier indices stay valid. */
  for (k = 0; k < s->len; k++) {
    size_t idx = s->step > 0 ? (size_t)(s->start + (int64_t)(s->len - 1 - k) * s->step)
                             : (size_t)(s->start + (int64_t)k * s->step);
    list_delete_at(l, idx, 1);
  }
  return 0;
}

static int list_slice_set(mproc_value *l, const slice *s, mproc_value *src) {
  mproc_value *items = NULL;
  size_t k;
  int rc = list_from(src, &items, "can only assign an iterable");
  if (rc)
    return rc;
  if (s->step == 1) {
    size_t at = (size_t)s->start;
    list_slice_del(l, s);
    for (k = 0; k < items->u.list.n && rc == 0; k++)
      rc = list_insert_at(l, at + k, take(items, k));
  } else if (items->u.list.n != s->len) {
    rc = mproc__err(MPROC_EINVAL, "attempt to assign sequence of size %lu "
                                  "to extended slice of size %lu",
                    (unsigned long)items->u.list.n, (unsigned long)s->len);
  } else {
    int64_t i = s->start;
    for (k = 0; k < s->len; k++, i += s->step) {
      mproc_value_free(l->u.list.items[i]);
      l->u.list.items[i] = take(items, k);
    }
  }
  mproc_value_free(items);
  return rc;
}

static int list_call(mproc_value **st, const char *m, mproc_value *a,
                     mproc_value **res) {
  mproc_value *l = *st;
  size_t n = l->u.list.n, i;
  int64_t x = 0;
  int rc, c;
  if (!strcmp(m, "append")) {
    if (want_args(m, a, 1, 1))
      return MPROC_ETYPE;
    rc = mproc_list_append(l, take(a, 0));
    return rc ? rc : ret(res, mproc_none());
  }
  if (!strcmp(m, "extend") || !strcmp(m, "__iadd__")) {
    mproc_value *items;
    if (want_args(m, a, 1, 1))
      return MPROC_ETYPE;
    if ((rc = list_from(arg(a, 0), &items, m)) != 0)
      return rc;
    for (i = 0; rc == 0 && i < items->u.list.n; i++)
      rc = mproc_list_append(l, take(items, i));
    mproc_value_free(items);
    return rc ? rc : ret(res, mproc_none());
  }
  if (!strcmp(m, "insert")) {
    if (want_args(m, a, 2, 2) || get_int(arg(a, 0), &x, "list indices"))
      return MPROC_ETYPE;
    if (x < 0 && (x += (int64_t)n) < 0)
      x = 0;
    if (x > (int64_t)n)
      x = (int64_t)n;
    rc = list_insert_at(l, (size_t)x, take(a, 1));
    return rc ? rc : ret(res, mproc_none());
  }
  if (!strcmp(m, "pop")) {
    x = -1;
    if (want_args(m, a, 0, 1) ||
        (nargs(a) && get_int(arg(a, 0), &x, "list indices")))
      return MPROC_ETYPE;
    if (n == 0)
      return mproc__err(MPROC_ERANGE, "pop from empty list");
    if (!norm_index(x, n, &i))
      return mproc__err(MPROC_ERANGE, "pop index out of range");
    *res = l->u.list.items[i];
    list_delete_at(l, i, 0);
    return 0;
  }
  if (!strcmp(m, "remove")) {
    if (want_args(m, a, 1, 1))
      return MPROC_ETYPE;
    c = seq_find(l, arg(a, 0), 0, n);
    if (c < 0)
      return mproc__err(MPROC_EINVAL, "list.remove(x): x not in list");
    list_delete_at(l, (size_t)c, 1);
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "index")) {
    int64_t from = 0, to = (int64_t)n;
    if (want_args(m, a, 1, 3) ||
        (nargs(a) > 1 && get_int(arg(a, 1), &from, "slice indices")) ||
        (nargs(a) > 2 && get_int(arg(a, 2), &to, "slice indices")))
      return MPROC_ETYPE;
    if (from < 0 && (from += (int64_t)n) < 0)
      from = 0;
    if (to < 0 && (to += (int64_t)n) < 0)
      to = 0;
    c = from < to ? seq_find(l, arg(a, 0), (size_t)from, (size_t)to) : -1;
    if (c < 0)
      return mproc__err(MPROC_EINVAL, "list.index(x): x not in list");
    return ret(res, mproc_int(c));
  }
  if (!strcmp(m, "count")) {
    int64_t k = 0;
    if (want_args(m, a, 1, 1))
      return MPROC_ETYPE;
    for (i = 0; i < n; i++)
      k += mproc_value_equal(l->u.list.items[i], arg(a, 0));
    return ret(res, mproc_int(k));
  }
  if (!strcmp(m, "sort")) {
    mproc_value **tmp;
    int rev = 0;
    if (want_args(m, a, 0, 1))
      return MPROC_ETYPE;
    if (nargs(a)) {
      if (get_int(arg(a, 0), &x, "reverse"))
        return MPROC_ETYPE;
      rev = x != 0;
    }
    tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
      return mproc__err(MPROC_ENOMEM, "sort");
    /* Python keeps the list as it was when a comparison fails midway;
     * sort a copy of the pointers and commit only on success. */
    {
      mproc_value **work = malloc((n ? n : 1) * sizeof *work);
      if (!work) {
        free(tmp);
        return mproc__err(MPROC_ENOMEM, "sort");
      }
      if (n)
        memcpy(work, l->u.list.items, n * sizeof *work);
      rc = merge_sort(work, tmp, n, rev);
      if (rc == 0 && n)
        memcpy(l->u.list.items, work, n * sizeof *work);
      free(work);
    }
    free(tmp);
    return rc ? rc : ret(res, mproc_none());
  }
  if (!strcmp(m, "reverse")) {
    if (want_args(m, a, 0, 0))
      return MPROC_ETYPE;
    for (i = 0; i < n / 2; i++) {
      mproc_value *t = l->u.list.items[i];
      l->u.list.items[i] = l->u.list.items[n - 1 - i];
      l->u.list.items[n - 1 - i] = t;
    }
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "__len__"))
    return want_args(m, a, 0, 0) ? MPROC_ETYPE : ret(res, mproc_int((int64_t)n));
  if (!strcmp(m, "__contains__"))
    return want_args(m, a, 1, 1)
               ? MPROC_ETYPE
               : ret(res, mproc_bool(seq_find(l, arg(a, 0), 0, n) >= 0));
  if (!strcmp(m, "__getitem__") || !strcmp(m, "__setitem__") ||
      !strcmp(m, "__delitem__")) {
    int set = m[2] == 's', del = m[2] == 'd';
    const mproc_value *key;
    if (want_args(m, a, set ? 2 : 1, set ? 2 : 1))
      return MPROC_ETYPE;
    key = arg(a, 0);
    if (key->type == MPROC_T_TUPLE) {
      slice s;
      if ((rc = get_slice(key, n, &s)) != 0)
        return rc;
      if (set)
        rc = list_slice_set(l, &s, arg(a, 1));
      else if (del)
        rc = list_slice_del(l, &s);
      else
        return list_slice_get(l, &s, res);
      return rc ? rc : ret(res, mproc_none());
    }
    if (key->type != MPROC_T_INT && key->type != MPROC_T_BOOL)
      return mproc__err(MPROC_ETYPE, "list indices must be integers or "
                                     "slices, not %s",
                        tname(key));
    if (!norm_index(key->u.i, n, &i))
      return mproc__err(MPROC_ERANGE, set ? "list assignment index out of "
                                            "range"
                                          : "list index out of range");
    if (set) {
      mproc_value_free(l->u.list.items[i]);
      l->u.list.items[i] = take(a, 1);
    } else if (del) {
      list_delete_at(l, i, 1);
    } else {
      return copy_out(res, l->u.list.items[i]);
    }
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "__imul__") || !strcmp(m, "__mul__")) {
    mproc_value *r;
    int64_t k;
    if (want_args(m, a, 1, 1) || get_int(arg(a, 0), &x, "can't multiply "
                                                         "sequence by "
                                                         "non-int: count"))
      return MPROC_ETYPE;
    /* The whole list at once, as Python: a huge count is a MemoryError
     * now, not after the server has filled its memory. */
    if (x > 0 && n > 0 && (uint64_t)x > (uint64_t)(SIZE_MAX / 16) / n)
      return mproc__err(MPROC_ENOMEM, "MemoryError: a list of %lld * %lu "
                                      "items",
                        (long long)x, (unsigned long)n);
    r = mproc__seq_new(MPROC_T_LIST, x > 0 ? (size_t)x * n : 0);
    for (k = 0; r && k < x; k++)
      for (i = 0; i < n; i++)
        if (mproc_list_append(r, mproc__mgr_copy(l->u.list.items[i])) != 0) {
          mproc_value_free(r);
          return MPROC_ENOMEM;
        }
    if (!r)
      return MPROC_ENOMEM;
    if (m[2] == 'm')
      return ret(res, r);
    mproc_value_free(*st);
    *st = r;
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "__add__")) {
    mproc_value *r, *items;
    if (want_args(m, a, 1, 1))
      return MPROC_ETYPE;
    if (arg(a, 0)->type != MPROC_T_LIST)
      return mproc__err(MPROC_ETYPE, "can only concatenate list (not "
                                     "\"%s\") to list",
                        tname(arg(a, 0)));
    r = mproc__mgr_copy(l);
    items = arg(a, 0);
    for (i = 0; r && i < items->u.list.n; i++)
      if (mproc_list_append(r, take(items, i)) != 0) {
        mproc_value_free(r);
        return MPROC_ENOMEM;
      }
    return ret(res, r);
  }
  return mproc__err(MPROC_ENOTSUP, "'list' proxy has no method '%s'", m);
}

/* ---- dict ------------------------------------------------------------------ */

/* Delete key from the dict d: 1 (the value to *val_out, or freed), 0
 * if absent, or an error code (an unhashable key). */
static int dict_del(mproc_value *d, const mproc_value *key,
                    mproc_value **val_out) {
  return mproc__table_del(d, key, NULL, val_out);
}

static int key_error(const mproc_value *key) {
  char *r = NULL;
  int rc;
  mproc_repr(key, &r);
  rc = mproc__err(MPROC_EKEY, "KeyError: %s", r ? r : "?");
  mproc_free(r);
  return rc;
}

/* Add every pair of src (a dict, or a list of pairs) to *st. */
static int dict_update(mproc_value *d, mproc_value *src) {
  size_t i;
  int rc = 0;
  if (src->type == MPROC_T_DICT) {
    for (i = 0; rc == 0 && i < mproc__table_used(src); i++) {
      mproc__dentry *e = &src->u.dict.e[i];
      if (!e->key)
        continue; /* a hole */
      rc = mproc_dict_set(d, mproc__mgr_copy(e->key), e->val);
      e->val = mproc_none();
    }
    return rc;
  }
  if (src->type != MPROC_T_LIST && src->type != MPROC_T_TUPLE)
    return mproc__err(MPROC_ETYPE, "'%s' object is not iterable",
                      tname(src));
  for (i = 0; rc == 0 && i < src->u.list.n; i++) {
    mproc_value *p = src->u.list.items[i];
    if ((p->type != MPROC_T_LIST && p->type != MPROC_T_TUPLE) ||
        p->u.list.n != 2)
      return mproc__err(MPROC_EINVAL, "dictionary update sequence element "
                                      "#%lu has the wrong length",
                        (unsigned long)i);
    rc = mproc_dict_set(d, take(p, 0), take(p, 1));
  }
  return rc;
}

static int dict_create(mproc_value *args, mproc_value **state) {
  mproc_value *d;
  int rc;
  if (want_args("dict", args, 0, 1) != 0)
    return MPROC_ETYPE;
  if (!(d = mproc_dict()))
    return MPROC_ENOMEM;
  if (nargs(args) && arg(args, 0)->type != MPROC_T_NONE &&
      (rc = dict_update(d, arg(args, 0))) != 0) {
    mproc_value_free(d);
    return rc;
  }
  *state = d;
  return 0;
}

static int dict_list(const mproc_value *d, int what, mproc_value **res) {
  mproc_value *r = mproc_list();
  size_t i;
  for (i = 0; r && i < mproc__table_used(d); i++) {
    const mproc__dentry *e = &d->u.dict.e[i];
    mproc_value *item;
    if (!e->key)
      continue; /* a hole */
    if (what == 0)
      item = mproc__mgr_copy(e->key);
    else if (what == 1)
      item = mproc__mgr_copy(e->val);
    else {
      item = mproc_tuple();
      if (item && (mproc_tuple_append(item, mproc__mgr_copy(e->key)) ||
                   mproc_tuple_append(item, mproc__mgr_copy(e->val)))) {
        mproc_value_free(item);
        item = NULL;
      }
    }
    if (mproc_list_append(r, item) != 0) {
      mproc_value_free(r);
      return MPROC_ENOMEM;
    }
  }
  return ret(res, r);
}

static int dict_call(mproc_value **st, const char *m, mproc_value *a,
                     mproc_value **res) {
  mproc_value *d = *st, *v;
  size_t idx;
  int rc;
  if (!strcmp(m, "__getitem__") || !strcmp(m, "get")) {
    int get = m[0] == 'g';
    if (want_args(m, a, 1, get ? 2 : 1))
      return MPROC_ETYPE;
    v = mproc_dict_get(d, arg(a, 0));
    if (v)
      return copy_out(res, v);
    if (!get)
      return key_error(arg(a, 0));
    return nargs(a) > 1 ? ret(res, take(a, 1)) : ret(res, mproc_none());
  }
  if (!strcmp(m, "__setitem__")) {
    if (want_args(m, a, 2, 2))
      return MPROC_ETYPE;
    if ((rc = mproc_dict_set(d, take(a, 0), take(a, 1))) != 0)
      return rc;
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "__delitem__") || !strcmp(m, "pop")) {
    int pop = m[0] == 'p';
    if (want_args(m, a, 1, pop ? 2 : 1))
      return MPROC_ETYPE;
    v = NULL;
    if ((rc = dict_del(d, arg(a, 0), pop ? &v : NULL)) < 0)
      return rc;
    if (rc == 0) {
      if (pop && nargs(a) > 1)
        return ret(res, take(a, 1));
      return key_error(arg(a, 0));
    }
    return ret(res, pop ? v : mproc_none());
  }
  if (!strcmp(m, "popitem")) {
    mproc_value *t, *k;
    if (want_args(m, a, 0, 0))
      return MPROC_ETYPE;
    if (d->u.dict.n == 0)
      return mproc__err(MPROC_EKEY, "popitem(): dictionary is empty");
    /* Python's LIFO order: the last entry (never a hole: trailing holes
     * go at once). */
    idx = mproc__table_used(d) - 1;
    k = v = NULL;
    if (!(t = mproc_tuple()))
      return MPROC_ENOMEM;
    mproc__table_del(d, d->u.dict.e[idx].key, &k, &v);
    mproc_tuple_append(t, k);
    mproc_tuple_append(t, v);
    return ret(res, t);
  }
  if (!strcmp(m, "setdefault")) {
    if (want_args(m, a, 1, 2))
      return MPROC_ETYPE;
    v = mproc_dict_get(d, arg(a, 0));
    if (v)
      return copy_out(res, v);
    v = nargs(a) > 1 ? take(a, 1) : mproc_none();
    if ((rc = mproc_dict_set(d, take(a, 0), v)) != 0)
      return rc;
    return copy_out(res, v);
  }
  if (!strcmp(m, "update")) {
    if (want_args(m, a, 0, 1))
      return MPROC_ETYPE;
    if (nargs(a) && (rc = dict_update(d, arg(a, 0))) != 0)
      return rc;
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "clear")) {
    mproc_value *e = mproc_dict();
    if (want_args(m, a, 0, 0))
      return MPROC_ETYPE;
    if (!e)
      return MPROC_ENOMEM;
    mproc_value_free(d);
    *st = e;
    return ret(res, mproc_none());
  }
  if (!strcmp(m, "copy"))
    return want_args(m, a, 0, 0) ? MPROC_ETYPE : copy_out(res, d);
  /* for k in d: the keys as a list (Python: an iterator proxy over them) */
  if (!strcmp(m, "keys") || !strcmp(m, "__iter__"))
    return want_args(m, a, 0, 0) ? MPROC_ETYPE : dict_list(d, 0, res);
  if (!strcmp(m, "values"))
    return want_args(m, a, 0, 0) ? MPROC_ETYPE : dict_list(d, 1, res);
  if (!strcmp(m, "items"))
    return want_args(m, a, 0, 0) ? MPROC_ETYPE : dict_list(d, 2, res);
  if (!strcmp(m, "__len__"))
    return want_args(m, a, 0, 0)
               ? MPROC_ETYPE
               : ret(res, mproc_int((int64_t)d->u.dict.n));
  if (!strcmp(m, "__contains__")) {
    if (want_args(m, a, 1, 1))
      return MPROC_ETYPE;
    return ret(res, mproc_bool(mproc_dict_get(d, arg(a, 0)) != NULL));
  }
  return mproc__err(MPROC_ENOTSUP, "'dict' proxy has no method '%s'", m);
}

/* ---- Namespace --------------------------------------------------------------- */

static int ns_create(mproc_value *args, mproc_value **state) {
  if (nargs(args) == 0)
    return ret(state, mproc_dict());
  return dict_create(args, state);
}

static int ns_call(mproc_value **st, const char *m, mproc_value *a,
                   mproc_value **res) {
  const mproc_value *name = arg(a, 0), *v;
  int get = !strcmp(m, "__getattribute__"), set = !strcmp(m, "__setattr__"),
      del = !strcmp(m, "__delattr__");
  int rc;
  if (!get && !set && !del)
    return mproc__err(MPROC_ENOTSUP, "'Namespace' proxy has no method '%s'",
                      m);
  if (want_args(m, a, set ? 2 : 1, set ? 2 : 1))
    return MPROC_ETYPE;
  if (name->type != MPROC_T_STR)
    return mproc__err(MPROC_ETYPE, "attribute name must be string, not "
                                   "'%s'",
                      tname(name));
  if (set) {
    if ((rc = mproc_dict_set(*st, take(a, 0), take(a, 1))) != 0)
      return rc;
    return ret(res, mproc_none());
  }
  if (get && (v = mproc_dict_get(*st, name)) != NULL)
    return copy_out(res, v);
  if (!get && (rc = dict_del(*st, name, NULL)) != 0)
    return rc < 0 ? rc : ret(res, mproc_none());
  return mproc__err(MPROC_EKEY, "AttributeError: 'Namespace' object has "
                                "no attribute '%s'",
                    name->u.s.p);
}

/* ---- Value and Array ----------------------------------------------------------- */

static int typecode_of(const mproc_value *v, char *tc) {
  static const char codes[] = "bBhHiIlLqQfdcu";
  if (!v || v->type != MPROC_T_STR || v->u.s.n != 1 ||
      !strchr(codes, v->u.s.p[0]))
    return mproc__err(MPROC_EINVAL, "bad typecode (must be one of b, B, h, "
                                    "H, i, I, l, L, q, Q, f, d, c, u)");
  *tc = v->u.s.p[0];
  return 0;
}

/* Python's manager Value keeps any value whatever the typecode: so does
 * this one.  State: [typecode, value]. */
static int value_create(mproc_value *args, mproc_value **state) {
  char tc = 0;
  mproc_value *s;
  if (want_args("Value", args, 1, 2) || typecode_of(arg(args, 0), &tc))
    return MPROC_EINVAL;
  s = mproc_list();
  if (!s || mproc_list_append(s, take(args, 0)) ||
      mproc_list_append(s, nargs(args) > 1 ? take(args, 1) : mproc_int(0))) {
    mproc_value_free(s);
    return MPROC_ENOMEM;
  }
  *state = s;
  return 0;
}

static int value_call(mproc_value **st, const char *m, mproc_value *a,
                      mproc_value **res) {
  mproc_value *s = *st;
  if (!strcmp(m, "get"))
    return want_args(m, a, 0, 0) ? MPROC_ETYPE
                                 : copy_out(res, s->u.list.items[1]);
  if (!strcmp(m, "set")) {
    if (want_args(m, a, 1, 1))
      return MPROC_ETYPE;
    mproc_value_free(s->u.list.items[1]);
    s->u.list.items[1] = take(a, 0);
    return ret(res, mproc_none());
  }
  return mproc__err(MPROC_ENOTSUP, "'Value' proxy has no method '%s'", m);
}

/* array.array's rule for an item of typecode tc (stolen v). */
static int array_item(char tc, mproc_value *v, mproc_value **out) {
  if (tc == 'f' || tc == 'd') {
    if (!is_num(v)) {
      int rc = mproc__err(MPROC_ETYPE, "must be real number, not %s",
                          tname(v));
      mproc_value_free(v);
      return rc;
    }
    if (v->type != MPROC_T_FLOAT) {
      mproc_value *f = mproc_float((double)v->u.i);
      mproc_value_free(v);
      v = f;
    }
  } else if (tc == 'c' || tc == 'u') {
    if (v->type != MPROC_T_STR || v->u.s.n < 1) {
      mproc_value_free(v);
      return mproc__err(MPROC_ETYPE, "array item must be a unicode "
                                     "character");
    }
  } else {
    static const char codes[] = "bBhHiIlLqQ";
    static const int64_t lo[] = {-128, 0, -32768, 0, -2147483647 - 1, 0,
                                 INT64_MIN, 0, INT64_MIN, 0};
    static const int64_t hi[] = {127, 255, 32767, 65535, 2147483647,
                                 4294967295LL, INT64_MAX, INT64_MAX,
                                 INT64_MAX, INT64_MAX};
    size_t k = (size_t)(strchr(codes, tc) - codes);
    if (v->type != MPROC_T_INT && v->type != MPROC_T_BOOL) {
      int rc = mproc__err(MPROC_ETYPE, "'%s' object cannot be interpreted "
                                       "as an integer",
                          tname(v));
      mproc_value_free(v);
      return rc;
    }
    if (v->u.i < lo[k] || v->u.i > hi[k]) {
      mproc_value_free(v);
      return mproc__err(MPROC_ERANGE, "array item out of range for "
                                      "typecode '%c'",
                        tc);
    }
  }
  if (!v)
    return MPROC_ENOMEM;
  *out = v;
  return 0;
}

/* State: [typecode, [items]]. */
static int array_create(mproc_value *args, mproc_value **state) {
  char tc = 0;
  mproc_value *s, *items = NULL, *src;
  size_t i;
  int rc = 0;
  if (want_args("Array", args, 1, 2) || typecode_of(arg(args, 0), &tc))
    return MPROC_EINVAL;
  s = mproc_list();
  items = mproc_list();
  src = nargs(args) > 1 ? arg(args, 1) : NULL;
  if (src && src->type == MPROC_T_INT) { /* Array('i', 5): five zeros */
    for (i = 0; items && (int64_t)i < src->u.i && rc == 0; i++)
      rc = mproc_list_append(items, tc == 'f' || tc == 'd' ? mproc_float(0)
                                                             : mproc_int(0));
  } else if (src && src->type != MPROC_T_NONE) {
    if (src->type != MPROC_T_LIST && src->type != MPROC_T_TUPLE)
      rc = mproc__err(MPROC_ETYPE, "Array: the initialiser must be a list "
                                   "or a length");
    for (i = 0; items && rc == 0 && i < src->u.list.n; i++) {
      mproc_value *it;
      if ((rc = array_item(tc, take(src, i), &it)) == 0)
        rc = mproc_list_append(items, it);
    }
  }
  if (!s || !items)
    rc = MPROC_ENOMEM;
  if (rc == 0 && (rc = mproc_list_append(s, take(args, 0))) == 0)
    rc = mproc_list_append(s, items), items = NULL;
  if (rc) {
    mproc_value_free(items);
    mproc_value_free(s);
    return rc;
  }
  *state = s;
  return 0;
}

static int array_call(mproc_value **st, const char *m, mproc_value *a,
                      mproc_value **res) {
  char tc = (*st)->u.list.items[0]->u.s.p[0];
  mproc_value **items = &(*st)->u.list.items[1];
  if (!strcmp(m, "__setitem__")) {
    mproc_value *it;
    int rc;
    if (want_args(m, a, 2, 2))
      return MPROC_ETYPE;
    if (arg(a, 0)->type == MPROC_T_TUPLE) {
      mproc_value *src = arg(a, 1);
      size_t i;
      if (src->type != MPROC_T_LIST && src->type != MPROC_T_TUPLE)
        return mproc__err(MPROC_ETYPE, "can only assign array");
      for (i = 0; i < src->u.list.n; i++) {
        if ((rc = array_item(tc, take(src, i), &it)) != 0)
          return rc;
        src->u.list.items[i] = it;
      }
    } else {
      if ((rc = array_item(tc, take(a, 1), &it)) != 0)
        return rc;
      a->u.list.items[1] = it;
    }
    if (arg(a, 0)->type == MPROC_T_TUPLE) {
      slice s;
      if ((rc = get_slice(arg(a, 0), (*items)->u.list.n, &s)) != 0)
        return rc;
      if (s.len != arg(a, 1)->u.list.n)
        return mproc__err(MPROC_EINVAL, "can only assign an array of the "
                                        "same length to a slice of an "
                                        "Array");
    }
    return list_call(items, m, a, res);
  }
  if (!strcmp(m, "__len__") || !strcmp(m, "__getitem__"))
    return list_call(items, m, a, res);
  return mproc__err(MPROC_ENOTSUP, "'Array' proxy has no method '%s'", m);
}

/* ---- the table ---------------------------------------------------------------- */

#define VALUE_TYPE(id, proxy, create, call)                                   \
  { id, proxy, create, call, NULL, NULL, NULL, NULL, NULL, NULL }
static const mproc__mtype types[] = {
    VALUE_TYPE("list", "ListProxy", list_create, list_call),
    VALUE_TYPE("dict", "DictProxy", dict_create, dict_call),
    VALUE_TYPE("Namespace", "NamespaceProxy", ns_create, ns_call),
    VALUE_TYPE("Value", "ValueProxy", value_create, value_call),
    VALUE_TYPE("Array", "ArrayProxy", array_create, array_call),
};

const mproc__mtype *mproc__mtype_find(const char *typeid) {
  size_t i;
  for (i = 0; i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(types[i].typeid, typeid))
      return &types[i];
  {
    const mproc__mtype *t = mproc__msync_find(typeid);
    return t ? t : mproc__mreg_find(typeid);
  }
}

const char *mproc__proxy_name(const char *typeid) {
  const mproc__mtype *t = mproc__mtype_find(typeid);
  return t ? t->proxy_name : "AutoProxy";
}

int mproc__mtype_repr(const mproc__mtype *t, const mproc_value *s,
                      char **out) {
  mproc__buf b = MPROC__BUF_INIT;
  char *r = NULL;
  int rc = 0;
  size_t i;
  if (!strcmp(t->typeid, "list") || !strcmp(t->typeid, "dict"))
    return mproc_repr(s, out);
  if (!strcmp(t->typeid, "Namespace")) {
    rc = mproc__buf_append(&b, "Namespace(", 10);
    for (i = 0; rc == 0 && i < mproc__table_used(s); i++) {
      const mproc__dentry *e = &s->u.dict.e[i];
      if (!e->key || e->key->type != MPROC_T_STR || e->key->u.s.p[0] == '_')
        continue; /* Python hides names starting with '_' */
      if (b.len > 10)
        rc = mproc__buf_append(&b, ", ", 2);
      if (rc == 0)
        rc = mproc__buf_append(&b, e->key->u.s.p, e->key->u.s.n);
      if (rc == 0)
        rc = mproc__buf_append(&b, "=", 1);
      if (rc == 0 && (rc = mproc_repr(e->val, &r)) == 0)
        rc = mproc__buf_append(&b, r, strlen(r));
      mproc_free(r);
      r = NULL;
    }
    if (rc == 0)
      rc = mproc__buf_append(&b, ")", 2);
  } else {
    const char *head = !strcmp(t->typeid, "Value") ? "Value('" : "array('";
    char tc[2] = {s->u.list.items[0]->u.s.p[0], 0};
    rc = mproc__buf_append(&b, head, strlen(head));
    if (rc == 0)
      rc = mproc__buf_append(&b, tc, 1);
    if (rc == 0)
      rc = mproc__buf_append(&b, "', ", 3);
    if (rc == 0 && (rc = mproc_repr(s->u.list.items[1], &r)) == 0)
      rc = mproc__buf_append(&b, r, strlen(r));
    mproc_free(r);
    if (rc == 0)
      rc = mproc__buf_append(&b, ")", 2);
  }
  if (rc) {
    mproc__buf_free(&b);
    return rc;
  }
  *out = (char *)b.p; /* NUL included above */
  return 0;
}
