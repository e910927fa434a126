/*
 * repr.c - Python's repr() and str() of values.
 *
 * The text matches Python 3's: None, True, False, ints, floats as the
 * shortest string that reads back to the same double (with Python's
 * choice between fixed and exponent notation), strings and bytes with
 * Python's quote choice and escapes, [1, 'a'], {'k': 1}, ('a',), (),
 * {1, 2} and set() (a set in insertion order, where Python's order is
 * that of its hash table).  Non-ASCII
 * characters print as-is unless Python's str.isprintable() says no for
 * them; those are known from a small table of the assigned non-printable
 * characters, so an unassigned code point prints as-is here where Python
 * would escape it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"

/* Deeper nesting than this is refused, as Python's RecursionError. */
#define REPR_MAX_DEPTH 10000

static int put(mproc__buf *b, const char *s) {
  return mproc__buf_append(b, s, strlen(s));
}

/* ---- floats ------------------------------------------------------------- */

/*
 * The shortest decimal digits that read back to d (d finite, not 0 is
 * fine too).  digits gets the significant digits without sign or point,
 * *exp the decimal exponent of the first digit (d = 0.d1d2... * 10^(exp+1)
 * in other words d1.d2... * 10^exp).
 */
static void shortest_digits(double d, char *digits, size_t cap, int *exp) {
  char tmp[40];
  const char *p;
  size_t n = 0;
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  /* tmp is "-d.ddde+XX" in the C locale; any decimal point character is
   * skipped, so another locale's comma does no harm. */
  p = tmp;
  if (*p == '-')
    p++;
  while (*p && *p != 'e' && *p != 'E') {
    if (*p >= '0' && *p <= '9' && n + 1 < cap)
      digits[n++] = *p;
    p++;
  }
  digits[n] = '\0';
  *exp = *p ? atoi(p + 1) : 0;
  /* Drop trailing zeros: "1.000e+16" has one significant digit. */
  while (n > 1 && digits[n - 1] == '0')
    digits[--n] = '\0';
}

static int repr_float(mproc__buf *b, double d) {
  char digits[32], out[64];
  int exp, decpt, nd, i;
  size_t o = 0;
  if (d != d)
    return put(b, "nan");
  if (d > 1.7976931348623157e308)
    return put(b, "inf");
  if (d < -1.7976931348623157e308)
    return put(b, "-inf");
  shortest_digits(d, digits, sizeof digits, &exp);
  nd = (int)strlen(digits);
  decpt = exp + 1;
  if (d < 0 || (d == 0 && 1 / d < 0))
    out[o++] = '-';
  if (decpt <= -4 || decpt > 16) {
    /* Exponent form, as Python's repr: 1e+16, 1.5e-05. */
    out[o++] = digits[0];
    if (nd > 1) {
      out[o++] = '.';
      for (i = 1; i < nd; i++)
        out[o++] = digits[i];
    }
    snprintf(out + o, sizeof out - o, "e%c%02d", exp < 0 ? '-' : '+',
             exp < 0 ? -exp : exp);
    return put(b, out);
  }
  if (decpt <= 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (i = 0; i < -decpt; i++)
      out[o++] = '0';
    for (i = 0; i < nd; i++)
      out[o++] = digits[i];
  } else if (decpt >= nd) {
    for (i = 0; i < nd; i++)
      out[o++] = digits[i];
    for (i = nd; i < decpt; i++)
      out[o++] = '0';
    out[o++] = '.';
    out[o++] = '0';
  } else {
    for (i = 0; i < nd; i++) {
      if (i == decpt)
        out[o++] = '.';
      out[o++] = digits[i];
    }
  }
  out[o] = '\0';
  return put(b, out);
}

/* ---- strings and bytes --------------------------------------------------- */

/* The assigned code points at or above U+0080 that Python will not print. */
static const uint32_t nonprint[][2] = {
    {0x80, 0xa0},       {0xad, 0xad},       {0x600, 0x605},
    {0x61c, 0x61c},     {0x6dd, 0x6dd},     {0x70f, 0x70f},
    {0x890, 0x891},     {0x8e2, 0x8e2},     {0x1680, 0x1680},
    {0x180e, 0x180e},   {0x2000, 0x200f},   {0x2028, 0x202f},
    {0x205f, 0x206f},   {0x3000, 0x3000},   {0xd800, 0xf8ff},
    {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0xfffe, 0xffff},
    {0x110bd, 0x110bd}, {0x110cd, 0x110cd}, {0x13430, 0x13438},
    {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f}, {0xf0000, 0x10ffff}};

static int printable(uint32_t c) {
  size_t i;
  if (c < 0x80)
    return c >= 0x20 && c < 0x7f;
  for (i = 0; i < sizeof nonprint / sizeof nonprint[0]; i++)
    if (c >= nonprint[i][0] && c <= nonprint[i][1])
      return 0;
  return 1;
}

static char pick_quote(const unsigned char *s, size_t n) {
  return memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
}

/* The escape of an ASCII character, or 0 if it prints as-is. */
static int escape_ascii(mproc__buf *b, unsigned c, char quote) {
  char e[8];
  switch (c) {
  case '\\':
    return put(b, "\\\\");
  case '\n':
    return put(b, "\\n");
  case '\r':
    return put(b, "\\r");
  case '\t':
    return put(b, "\\t");
  default:
    break;
  }
  if (c == (unsigned)quote) {
    e[0] = '\\';
    e[1] = quote;
    e[2] = '\0';
    return put(b, e);
  }
  if (c < 0x20 || c >= 0x7f) {
    snprintf(e, sizeof e, "\\x%02x", c);
    return put(b, e);
  }
  e[0] = (char)c;
  e[1] = '\0';
  return put(b, e);
}

/* s is valid UTF-8 (every str value is). */
static int repr_str(mproc__buf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  char quote = pick_quote(s, n), e[16];
  size_t i = 0;
  int rc = mproc__buf_append(b, &quote, 1);
  while (rc == 0 && i < n) {
    uint32_t c = s[i];
    size_t len = 1, k;
    if (c < 0x80) {
      rc = escape_ascii(b, c, quote);
      i++;
      continue;
    }
    if (c >= 0xF0)
      len = 4, c &= 0x07;
    else if (c >= 0xE0)
      len = 3, c &= 0x0F;
    else
      len = 2, c &= 0x1F;
    if (len > n - i)
      len = n - i;
    for (k = 1; k < len; k++)
      c = (c << 6) | (s[i + k] & 0x3F);
    if (printable(c))
      rc = mproc__buf_append(b, s + i, len);
    else {
      if (c < 0x100)
        snprintf(e, sizeof e, "\\x%02x", (unsigned)c);
      else if (c < 0x10000)
        snprintf(e, sizeof e, "\\u%04x", (unsigned)c);
      else
        snprintf(e, sizeof e, "\\U%08x", (unsigned)c);
      rc = put(b, e);
    }
    i += len;
  }
  if (rc == 0)
    rc = mproc__buf_append(b, &quote, 1);
  return rc;
}

static int repr_bytes(mproc__buf *b, const unsigned char *s, size_t n) {
  char quote = pick_quote(s, n);
  char head[2];
  size_t i;
  int rc;
  head[0] = 'b';
  head[1] = quote;
  rc = mproc__buf_append(b, head, 2);
  for (i = 0; rc == 0 && i < n; i++)
    rc = escape_ascii(b, s[i], quote);
  if (rc == 0)
    rc = mproc__buf_append(b, &quote, 1);
  return rc;
}

/* ---- the tree ------------------------------------------------------------ */

static int repr_value(mproc__buf *b, const mproc_value *v, int depth) {
  char num[32];
  int rc = 0, first;
  size_t i, n;
  if (depth > REPR_MAX_DEPTH)
    return mproc__err(MPROC_EINVAL, "repr: nesting deeper than %d",
                      REPR_MAX_DEPTH);
  switch (mproc_value_type(v)) {
  case MPROC_T_NONE:
    return put(b, "None");
  case MPROC_T_BOOL: {
    int x = 0;
    mproc_value_get_bool(v, &x);
    return put(b, x ? "True" : "False");
  }
  case MPROC_T_INT: {
    int64_t x = 0;
    mproc_value_get_int(v, &x);
    snprintf(num, sizeof num, "%lld", (long long)x);
    return put(b, num);
  }
  case MPROC_T_FLOAT: {
    double x = 0;
    mproc_value_get_float(v, &x);
    return repr_float(b, x);
  }
  case MPROC_T_STR: {
    const char *s = NULL;
    mproc_value_get_str(v, &s, &n);
    return repr_str(b, s, n);
  }
  case MPROC_T_BYTES: {
    const void *p = NULL;
    mproc_value_get_bytes(v, &p, &n);
    return repr_bytes(b, (const unsigned char *)p, n);
  }
  case MPROC_T_LIST:
    rc = put(b, "[");
    n = mproc_list_len(v);
    for (i = 0; rc == 0 && i < n; i++) {
      if (i)
        rc = put(b, ", ");
      if (rc == 0)
        rc = repr_value(b, mproc_list_get(v, i), depth + 1);
    }
    return rc ? rc : put(b, "]");
  case MPROC_T_TUPLE:
    rc = put(b, "(");
    n = mproc_tuple_len(v);
    for (i = 0; rc == 0 && i < n; i++) {
      if (i)
        rc = put(b, ", ");
      if (rc == 0)
        rc = repr_value(b, mproc_tuple_get(v, i), depth + 1);
    }
    if (rc == 0 && n == 1)
      rc = put(b, ",");
    return rc ? rc : put(b, ")");
  case MPROC_T_SET:
    n = mproc_set_len(v);
    if (n == 0)
      return put(b, "set()");
    rc = put(b, "{");
    n = mproc__table_used(v); /* holes (key NULL: deleted) skipped */
    for (i = 0, first = 1; rc == 0 && i < n; i++) {
      if (!v->u.dict.e[i].key)
        continue;
      if (!first)
        rc = put(b, ", ");
      first = 0;
      if (rc == 0)
        rc = repr_value(b, v->u.dict.e[i].key, depth + 1);
    }
    return rc ? rc : put(b, "}");
  case MPROC_T_DICT:
    rc = put(b, "{");
    n = mproc_dict_len(v);
    n = mproc__table_used(v); /* holes (key NULL: deleted) skipped */
    for (i = 0, first = 1; rc == 0 && i < n; i++) {
      const mproc_value *key = v->u.dict.e[i].key, *val = v->u.dict.e[i].val;
      if (!key)
        continue;
      if (!first)
        rc = put(b, ", ");
      first = 0;
      if (rc == 0)
        rc = repr_value(b, key, depth + 1);
      if (rc == 0)
        rc = put(b, ": ");
      if (rc == 0)
        rc = repr_value(b, val, depth + 1);
    }
    return rc ? rc : put(b, "}");
  case MPROC_T_OBJECT: {
    const mproc__objtype *t = NULL;
    void *obj = NULL;
    mproc__value_objinfo(v, &t, &obj);
    if (t == &mproc__proxy_type) { /* Python's repr of a proxy */
      char *r = NULL;
      rc = mproc_proxy_repr((const mproc_proxy *)obj, &r);
      if (rc == 0)
        rc = put(b, r);
      free(r);
      return rc;
    }
    rc = put(b, "<");
    if (rc == 0)
      rc = put(b, t->name);
    return rc ? rc : put(b, " object>");
  }
  }
  return mproc__err(MPROC_EINVAL, "repr: corrupt value");
}

static int finish(mproc__buf *b, int rc, char **out) {
  if (rc == 0)
    rc = mproc__buf_append(b, "", 1);
  if (rc != 0) {
    mproc__buf_free(b);
    return rc;
  }
  *out = (char *)b->p;
  return 0;
}

int mproc_repr(const mproc_value *v, char **out) {
  mproc__buf b = MPROC__BUF_INIT;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_repr: out is NULL");
  *out = NULL;
  if (!v) {
    int code = mproc__plat_errrec()->code;
    if (code == MPROC_ENOMEM || code == MPROC_EINVAL)
      return code;
    return mproc__err(MPROC_EINVAL, "mproc_repr: the value is NULL");
  }
  return finish(&b, repr_value(&b, v, 0), out);
}

int mproc_str_of(const mproc_value *v, char **out) {
  mproc__buf b = MPROC__BUF_INIT;
  const char *s;
  size_t n;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_str_of: out is NULL");
  *out = NULL;
  if (mproc_value_type(v) == MPROC_T_STR && v) {
    mproc_value_get_str(v, &s, &n);
    return finish(&b, mproc__buf_append(&b, s, n), out);
  }
  return mproc_repr(v, out);
}
