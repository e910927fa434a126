/*
 * build.c - mproc_build(), the Py_BuildValue of mproc.
 *
 * The format describes exactly one value:
 *   n None   b bool(int)   i int(int)   l int(long)   L int(int64_t)
 *   f float(double)   s str(const char *, NULL gives None)
 *   y bytes(const void *, size_t)   C Connection(mproc_conn *)
 *   O a value (mproc_value *, stolen)   [...] list   (...) tuple
 *   {k v ...} dict   <...> set
 * Spaces, ':' and ',' between items are ignored.  When building fails
 * (out of memory, a NULL 'O', bad UTF-8) the rest of the format is still
 * walked so that every 'O' argument is consumed and freed, as the
 * "stolen" contract promises; only a malformed format stops the walk
 * where it goes wrong (the arguments after that point cannot be known).
 */
#include <stdarg.h>
#include <stdlib.h>

#include "mproc_int.h"

typedef struct bctx {
  const char *fmt;
  const char *f;
  va_list ap;
  int err;    /* the first failure; building stops, consuming goes on */
  int badfmt; /* the format itself is malformed: stop at once */
} bctx;

static void skip_sep(bctx *b) {
  while (*b->f == ' ' || *b->f == ':' || *b->f == ',' || *b->f == '\t' ||
         *b->f == '\n')
    b->f++;
}

static void bad_format(bctx *b, const char *what) {
  if (!b->badfmt) {
    b->badfmt = 1;
    b->err = mproc__err(MPROC_EINVAL,
                        "mproc_build: %s at offset %ld of format \"%s\"", what,
                        (long)(b->f - b->fmt), b->fmt);
  }
}

/* A value just made (NULL if its constructor failed). */
static mproc_value *made(bctx *b, mproc_value *v) {
  if (!v && !b->err) {
    int code = mproc__plat_errrec()->code;
    b->err = code == MPROC_ENOMEM ? code : MPROC_EINVAL;
  }
  if (b->err) {
    mproc_value_free(v);
    return NULL;
  }
  return v;
}

static mproc_value *item(bctx *b, int depth);

static int add_to(mproc_value *c, char close, mproc_value *k, mproc_value *v) {
  switch (close) {
  case ']':
    return mproc_list_append(c, v);
  case ')':
    return mproc_tuple_append(c, v);
  case '>':
    return mproc_set_add(c, v);
  default:
    return mproc_dict_set(c, k, v);
  }
}

/* The items of a list, tuple, set or dict up to the closing character. */
static mproc_value *container(bctx *b, int depth, char close) {
  mproc_value *c = made(b, close == ']'   ? mproc_list()
                           : close == ')' ? mproc_tuple()
                           : close == '>' ? mproc_set()
                                          : mproc_dict());
  for (;;) {
    mproc_value *k = NULL, *v;
    skip_sep(b);
    if (*b->f == close) {
      b->f++;
      return c;
    }
    if (*b->f == '\0') {
      bad_format(b, close == ']'   ? "missing ']'"
                    : close == ')' ? "missing ')'"
                    : close == '>' ? "missing '>'"
                                   : "missing '}'");
      mproc_value_free(c);
      return NULL;
    }
    if (close == '}') {
      k = item(b, depth + 1);
      skip_sep(b);
      if (!b->badfmt && *b->f == '}')
        bad_format(b, "a dict key without a value");
    }
    v = item(b, depth + 1);
    if (b->badfmt) {
      mproc_value_free(k);
      mproc_value_free(v);
      mproc_value_free(c);
      return NULL;
    }
    if (b->err) {
      /* Keep consuming arguments; nothing more is built. */
      mproc_value_free(k);
      mproc_value_free(v);
      mproc_value_free(c);
      c = NULL;
      continue;
    }
    if (add_to(c, close, k, v) != 0) {
      b->err = mproc__plat_errrec()->code;
      mproc_value_free(c);
      c = NULL;
    }
  }
}

static mproc_value *item(bctx *b, int depth) {
  char ch;
  if (b->badfmt)
    return NULL;
  skip_sep(b);
  if (depth > MPROC__MAX_DEPTH) {
    bad_format(b, "nesting too deep");
    return NULL;
  }
  ch = *b->f;
  if (ch == '\0') {
    bad_format(b, "a value is missing");
    return NULL;
  }
  b->f++;
  switch (ch) {
  case 'n':
    return made(b, b->err ? NULL : mproc_none());
  case 'b': {
    int x = va_arg(b->ap, int);
    return made(b, b->err ? NULL : mproc_bool(x));
  }
  case 'i': {
    int x = va_arg(b->ap, int);
    return made(b, b->err ? NULL : mproc_int(x));
  }
  case 'l': {
    long x = va_arg(b->ap, long);
    return made(b, b->err ? NULL : mproc_int(x));
  }
  case 'L': {
    int64_t x = va_arg(b->ap, int64_t);
    return made(b, b->err ? NULL : mproc_int(x));
  }
  case 'f': {
    double x = va_arg(b->ap, double);
    return made(b, b->err ? NULL : mproc_float(x));
  }
  case 's': {
    const char *s = va_arg(b->ap, const char *);
    if (b->err)
      return NULL;
    return made(b, s ? mproc_str(s) : mproc_none());
  }
  case 'y': {
    const void *p = va_arg(b->ap, const void *);
    size_t n = va_arg(b->ap, size_t);
    return made(b, b->err ? NULL : mproc_bytes(p, n));
  }
  case 'C': {
    mproc_conn *c = va_arg(b->ap, mproc_conn *);
    return made(b, b->err ? NULL : mproc_conn_ref(c));
  }
  case 'O': {
    mproc_value *v = va_arg(b->ap, mproc_value *);
    if (!v && !b->err)
      b->err = mproc__err(MPROC_EINVAL, "mproc_build: 'O' argument is NULL");
    return made(b, v);
  }
  case '[':
    return container(b, depth, ']');
  case '{':
    return container(b, depth, '}');
  case '(':
    return container(b, depth, ')');
  case '<':
    return container(b, depth, '>');
  default:
    b->f--;
    bad_format(b, "unknown format character");
    return NULL;
  }
}

mproc_value *mproc_build(const char *fmt, ...) {
  bctx b;
  mproc_value *v;
  if (!fmt) {
    mproc__err(MPROC_EINVAL, "mproc_build: the format is NULL");
    return NULL;
  }
  b.fmt = fmt;
  b.f = fmt;
  b.err = 0;
  b.badfmt = 0;
  va_start(b.ap, fmt);
  v = item(&b, 0);
  skip_sep(&b);
  if (!b.badfmt && *b.f != '\0') {
    mproc_value_free(v);
    v = NULL;
    bad_format(&b, "more than one value at the top level");
  }
  va_end(b.ap);
  return v;
}
