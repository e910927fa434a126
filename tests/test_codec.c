/*
 * test_codec.c - mproc_encode / mproc_decode and the spawn-context seam.
 *
 * Hostile input must give MPROC_EBADMSG (never a crash, an over-read or a
 * leak: the suite also runs under ASan/LSan).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "mproc_int.h"
#include "tests.h"

/* A message is the magic D9 D9 F7 and one CBOR item. */
#define MAGIC "\xd9\xd9\xf7"

/* Encode v, decode it again, check it is equal, return the copy. */
static mproc_value *round_trip(const mproc_value *v) {
  void *buf = NULL;
  size_t len = 0;
  mproc_value *out = NULL;
  ck_mproc_ok(mproc_encode(v, &buf, &len));
  ck_assert_uint_ge(len, 4);
  ck_assert_int_eq(memcmp(buf, MAGIC, 3), 0);
  ck_mproc_ok(mproc_decode(buf, len, &out));
  ck_assert_ptr_nonnull(out);
  mproc_free(buf);
  return out;
}

static void check_round_trip_free(mproc_value *v) {
  mproc_value *out;
  ck_assert_ptr_nonnull(v);
  out = round_trip(v);
  ck_assert(mproc_value_equal(v, out));
  ck_assert_int_eq(mproc_value_type(v), mproc_value_type(out));
  mproc_value_free(out);
  mproc_value_free(v);
}

/* Decoding these n bytes must fail with code. */
static void check_bad(const char *p, size_t n, int code) {
  mproc_value *out = (mproc_value *)(uintptr_t)1;
  ck_mproc(mproc_decode(p, n, &out), code);
  ck_assert_ptr_null(out);
}
#define BAD(lit) check_bad(lit, sizeof lit - 1, MPROC_EBADMSG)

static void check_decodes_to(const char *p, size_t n, const char *repr) {
  mproc_value *out = NULL;
  char *s = NULL;
  ck_mproc_ok(mproc_decode(p, n, &out));
  ck_mproc_ok(mproc_repr(out, &s));
  ck_assert_str_eq(s, repr);
  mproc_free(s);
  mproc_value_free(out);
}
#define GOOD(lit, repr) check_decodes_to(lit, sizeof lit - 1, repr)

/* A value using every type, for the truncation and corruption tests. */
static mproc_value *rich(void) {
  return mproc_build("{s:[n b i L f s y], s:{i:[]}, s:f, y:L}", "a", 1, -5,
                     (int64_t)INT64_MIN, 0.5, "h\xc3\xa9", "\x00\xff",
                     (size_t)2, "b", 300, "c", 1e300, "k", (size_t)1,
                     (int64_t)70000);
}

/* ---- round trips -------------------------------------------------------- */

START_TEST(test_round_trip_scalars) {
  static const int64_t ints[] = {0,
                                 1,
                                 23,
                                 24,
                                 255,
                                 256,
                                 65535,
                                 65536,
                                 4294967295LL,
                                 4294967296LL,
                                 INT64_MAX,
                                 -1,
                                 -24,
                                 -25,
                                 -256,
                                 -257,
                                 -65537,
                                 -4294967297LL,
                                 INT64_MIN + 1,
                                 INT64_MIN};
  static const double floats[] = {
      0.0, -0.0, 1.5, -2.25e-300, 5e-324, 1.7976931348623157e308, 0.1};
  size_t i;
  mproc_value *v, *out;
  double d = 0;
  int64_t x = 0;
  for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    v = mproc_int(ints[i]);
    out = round_trip(v);
    ck_assert_int_eq(mproc_value_type(out), MPROC_T_INT);
    ck_mproc_ok(mproc_value_get_int(out, &x));
    ck_assert(x == ints[i]);
    mproc_value_free(out);
    mproc_value_free(v);
  }
  for (i = 0; i < sizeof floats / sizeof floats[0]; i++) {
    v = mproc_float(floats[i]);
    out = round_trip(v);
    ck_assert_int_eq(mproc_value_type(out), MPROC_T_FLOAT);
    ck_mproc_ok(mproc_value_get_float(out, &d));
    ck_assert(memcmp(&d, &floats[i], sizeof d) == 0);
    mproc_value_free(out);
    mproc_value_free(v);
  }
  check_round_trip_free(mproc_float(HUGE_VAL));
  check_round_trip_free(mproc_float(-HUGE_VAL));
  v = mproc_float(NAN);
  out = round_trip(v);
  ck_mproc_ok(mproc_value_get_float(out, &d));
  ck_assert(d != d);
  mproc_value_free(out);
  mproc_value_free(v);
  check_round_trip_free(mproc_none());
  check_round_trip_free(mproc_bool(1));
  check_round_trip_free(mproc_bool(0));
  check_round_trip_free(mproc_str(""));
  check_round_trip_free(mproc_str("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  check_round_trip_free(mproc_strn("a\0b", 3));
  check_round_trip_free(mproc_bytes("", 0));
  check_round_trip_free(mproc_bytes("\x00\xff\x80", 3));
}
END_TEST

START_TEST(test_round_trip_containers) {
  mproc_value *v, *out, *k;
  char *s = NULL;
  check_round_trip_free(mproc_build("[]"));
  check_round_trip_free(mproc_build("{}"));
  check_round_trip_free(rich());
  check_round_trip_free(
      mproc_build("[[[[[]]]], {s:{s:[{}]}}, [n, [b, [i]]]]", "x", "y", 0, 1));
  /* Dict order survives, and keys keep their types. */
  v = mproc_build("{s:i, i:s, f:n, n:b, y:i, b:i}", "z", 1, 2, "two", 2.5, 1,
                  "raw", (size_t)3, 4, 0, 5);
  out = round_trip(v);
  ck_mproc_ok(mproc_repr(out, &s));
  ck_assert_str_eq(s, "{'z': 1, 2: 'two', 2.5: None, None: True, "
                      "b'raw': 4, False: 5}");
  mproc_free(s);
  ck_mproc_ok(mproc_dict_item(out, 5, &k, NULL));
  ck_assert_int_eq(mproc_value_type(k), MPROC_T_BOOL);
  mproc_value_free(out);
  mproc_value_free(v);
}
END_TEST

START_TEST(test_round_trip_big) {
  /* 16 MiB of bytes, a long str and a 100k-item dict and list. */
  size_t n = (size_t)16 << 20, i, got = 0;
  unsigned char *big = (unsigned char *)malloc(n);
  mproc_value *v, *out, *d, *l;
  const void *p = NULL;
  char key[32];
  ck_assert_ptr_nonnull(big);
  for (i = 0; i < n; i++)
    big[i] = (unsigned char)(i * 7 + (i >> 12));
  v = mproc_bytes(big, n);
  out = round_trip(v);
  ck_mproc_ok(mproc_value_get_bytes(out, &p, &got));
  ck_assert_uint_eq(got, n);
  ck_assert_int_eq(memcmp(p, big, n), 0);
  mproc_value_free(out);
  mproc_value_free(v);
  memset(big, 'a', n);
  check_round_trip_free(mproc_strn((const char *)big, n));
  free(big);

  d = mproc_dict();
  l = mproc_list();
  for (i = 0; i < 100000; i++) {
    snprintf(key, sizeof key, "k%lu", (unsigned long)i);
    ck_mproc_ok(mproc_dict_set_str(d, key, mproc_int((int64_t)i)));
    ck_mproc_ok(mproc_list_append(l, mproc_float((double)i / 3)));
  }
  check_round_trip_free(d);
  check_round_trip_free(l);
}
END_TEST

START_TEST(test_exact_bytes) {
  /* ['spam', 42, 'egg'] as CBOR: 83 64 'spam' 18 2a 63 'egg'. */
  static const char want[] = MAGIC "\x83\x64spam\x18\x2a\x63"
                                   "egg";
  mproc_value *v = mproc_build("[sis]", "spam", 42, "egg");
  void *buf = NULL;
  size_t len = 0;
  ck_mproc_ok(mproc_encode(v, &buf, &len));
  ck_assert_uint_eq(len, sizeof want - 1);
  ck_assert_int_eq(memcmp(buf, want, len), 0);
  mproc_free(buf);
  mproc_value_free(v);
  /* Shortest integer heads, negints, double floats, null/true/false. */
  v = mproc_build("[i i i L n b b f]", 23, 24, -1, (int64_t)-256, 1, 0, 1.0);
  ck_mproc_ok(mproc_encode(v, &buf, &len));
  ck_assert_uint_eq(len, 3 + 1 + 1 + 2 + 1 + 2 + 1 + 1 + 1 + 9);
  ck_assert_int_eq(memcmp(buf,
                          MAGIC "\x88\x17\x18\x18\x20\x38\xff\xf6\xf5\xf4"
                                "\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00",
                          len),
                   0);
  mproc_free(buf);
  mproc_value_free(v);
}
END_TEST

START_TEST(test_decode_other_forms) {
  /* Half and single floats, longer-than-needed heads. */
  GOOD(MAGIC "\xf9\x3c\x00", "1.0");
  GOOD(MAGIC "\xf9\x7c\x00", "inf");
  GOOD(MAGIC "\xfa\x3f\xc0\x00\x00", "1.5");
  GOOD(MAGIC "\x1b\x00\x00\x00\x00\x00\x00\x00\x05", "5");
  GOOD(MAGIC "\x1b\x7f\xff\xff\xff\xff\xff\xff\xff", "9223372036854775807");
  GOOD(MAGIC "\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", "-9223372036854775808");
  GOOD(MAGIC "\x9a\x00\x00\x00\x01\x80", "[[]]");
  /* A repeated map key: the later value wins, as in Python. */
  GOOD(MAGIC "\xa2\x01\x61x\xf9\x3c\x00\x61y", "{1: 'y'}");
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(test_decode_errors) {
  check_bad("", 0, MPROC_EBADMSG);
  check_bad(NULL, 0, MPROC_EBADMSG);
  check_bad(NULL, 5, MPROC_EINVAL);
  BAD(MAGIC);
  BAD("\xf6");                                       /* no magic */
  BAD("\xd9\xd9\xf6\xf6");                           /* wrong magic */
  BAD(MAGIC "\xf6\x00");                             /* trailing garbage */
  BAD(MAGIC "\x80\x80");                             /* two values */
  BAD(MAGIC "\x1b\x80\x00\x00\x00\x00\x00\x00\x00"); /* 2^63 */
  BAD(MAGIC "\x3b\x80\x00\x00\x00\x00\x00\x00\x00"); /* -2^63 - 1 */
  BAD(MAGIC "\x62\xc3\x28");                         /* bad UTF-8 */
  BAD(MAGIC "\x63\xed\xa0\x80");                     /* a surrogate */
  BAD(MAGIC "\xa1\x80\x01");                         /* {[]: 1} */
  BAD(MAGIC "\xa1\xa0\x01");                         /* {{}: 1} */
  BAD(MAGIC "\xc1\x00");                             /* unknown tag 1 */
  BAD(MAGIC "\xd9\xd9\xf7\x00");                     /* magic twice */
  BAD(MAGIC "\xd9\x69\x79\x00"); /* object tag, no spawn context */
  BAD(MAGIC "\x9f\xff");         /* indefinite array */
  BAD(MAGIC "\xbf\xff");         /* indefinite map */
  BAD(MAGIC "\x5f\xff");         /* indefinite bytes */
  BAD(MAGIC "\x7f\xff");         /* indefinite text */
  BAD(MAGIC "\xff");             /* a lone break */
  BAD(MAGIC "\xf7");             /* undefined */
  BAD(MAGIC "\xf0");             /* simple value */
  BAD(MAGIC "\xf8\x20");         /* one-byte simple value */
  BAD(MAGIC "\x1c");             /* reserved additional info */
  BAD(MAGIC "\x81");             /* an array missing its item */
  BAD(MAGIC "\xa1\x01");         /* a map missing its value */
  /* Lying sizes: refused before anything is allocated for them. */
  BAD(MAGIC "\x9b\x10\x00\x00\x00\x00\x00\x00\x00\x01");
  BAD(MAGIC "\xbb\x10\x00\x00\x00\x00\x00\x00\x00\x01\x01");
  BAD(MAGIC "\x5b\xff\xff\xff\xff\xff\xff\xff\xff\x00");
  BAD(MAGIC "\x7b\x10\x00\x00\x00\x00\x00\x00\x00\x00");
  BAD(MAGIC "\x5a\x7f\xff\xff\xff\x00");
  BAD(MAGIC "\x82\x01"); /* claims two items, has room for one */
  ck_assert_msg(strstr(mproc_last_error(), "claims") != NULL, "%s",
                mproc_last_error());
}
END_TEST

START_TEST(test_depth) {
  /* 200 levels of nesting pass, 201 do not: encode and decode. */
  char buf[3 + 202], want[2 * MPROC__MAX_DEPTH + 1];
  mproc_value *v = mproc_list(), *inner = v, *next;
  void *enc = NULL;
  size_t len = 0;
  int i;
  for (i = 1; i < MPROC__MAX_DEPTH; i++) {
    next = mproc_list();
    ck_mproc_ok(mproc_list_append(inner, next));
    inner = next;
  }
  ck_mproc_ok(mproc_list_append(inner, mproc_int(1)));
  ck_mproc_ok(mproc_encode(v, &enc, &len));
  ck_assert_uint_eq(len, 3 + MPROC__MAX_DEPTH + 1);
  mproc_free(enc);
  next = mproc_list();
  ck_mproc_ok(mproc_list_append(inner, next));
  ck_mproc(mproc_encode(v, &enc, &len), MPROC_EENCODE);
  ck_assert_ptr_null(enc);
  mproc_value_free(v);

  memcpy(buf, MAGIC, 3);
  memset(buf + 3, 0x81, MPROC__MAX_DEPTH - 1);
  buf[3 + MPROC__MAX_DEPTH - 1] = (char)0x80;
  for (i = 0; i < MPROC__MAX_DEPTH; i++) {
    want[i] = '[';
    want[2 * MPROC__MAX_DEPTH - 1 - i] = ']';
  }
  want[2 * MPROC__MAX_DEPTH] = '\0';
  check_decodes_to(buf, 3 + MPROC__MAX_DEPTH, want);
  memset(buf + 3, 0x81, MPROC__MAX_DEPTH);
  buf[3 + MPROC__MAX_DEPTH] = (char)0x80;
  check_bad(buf, 3 + MPROC__MAX_DEPTH + 1, MPROC_EBADMSG);
  ck_assert_msg(strstr(mproc_last_error(), "nesting") != NULL, "%s",
                mproc_last_error());
  /* Deep and unterminated: still just an error. */
  memset(buf + 3, 0xa1, sizeof buf - 3);
  check_bad(buf, sizeof buf, MPROC_EBADMSG);
}
END_TEST

START_TEST(test_truncated_and_corrupt) {
  mproc_value *v = rich(), *out;
  void *enc = NULL;
  unsigned char *copy;
  size_t len = 0, i;
  int c, ok = 0;
  ck_mproc_ok(mproc_encode(v, &enc, &len));
  copy = (unsigned char *)malloc(len);
  /* Every proper prefix fails (copied so ASan sees any over-read). */
  for (i = 0; i < len; i++) {
    memcpy(copy, enc, i);
    check_bad((const char *)copy, i, MPROC_EBADMSG);
  }
  /* Every single-byte change decodes or fails cleanly. */
  for (i = 0; i < len; i++) {
    for (c = 0; c < 256; c++) {
      int rc;
      memcpy(copy, enc, len);
      if (copy[i] == (unsigned char)c)
        continue;
      copy[i] = (unsigned char)c;
      out = NULL;
      rc = mproc_decode(copy, len, &out);
      ck_assert(rc == 0 || rc == MPROC_EBADMSG);
      ck_assert((rc == 0) == (out != NULL));
      if (rc == 0)
        ok++;
      mproc_value_free(out);
    }
  }
  ck_assert_int_gt(ok, 0);
  free(copy);
  mproc_free(enc);
  mproc_value_free(v);
}
END_TEST

START_TEST(test_inherit) {
  int fake = 0;
  mproc_value *v = mproc_build("[i {s: C}]", 1, "c", (mproc_conn *)&fake);
  void *enc = (void *)1;
  size_t len = 9;
  ck_mproc(mproc_encode(v, &enc, &len), MPROC_EINHERIT);
  ck_assert_str_eq(mproc_last_error(), "Connection objects should only be "
                                       "shared between processes through "
                                       "inheritance");
  ck_assert_ptr_null(enc);
  ck_assert_uint_eq(len, 0);
  mproc_value_free(v);
  ck_mproc(mproc_encode(NULL, &enc, &len), MPROC_EINVAL);
  ck_mproc(mproc_encode(mproc_str("\xff"), &enc, &len), MPROC_EINVAL);
}
END_TEST

/* ---- the spawn context --------------------------------------------------- */

static int owned_released;
static void owned_release(void *obj) {
  (void)obj;
  owned_released++;
}
static const mproc__objtype lock_type = {.name = "Lock",
                                         .release = owned_release};
static int lock_objs[4];

static int export_lock(mproc__codec_ctx *ctx, const mproc__objtype *type,
                       void *obj, mproc_value **plain) {
  (void)ctx;
  ck_assert_ptr_eq(type, &lock_type);
  *plain = mproc_build("[s i]", "lock", (int)((int *)obj - lock_objs));
  return *plain ? 0 : MPROC_ENOMEM;
}

static int import_lock(mproc__codec_ctx *ctx, const mproc_value *plain,
                       mproc_value **objval) {
  int64_t i = -1;
  (void)ctx;
  if (mproc_value_get_int(mproc_list_get(plain, 1), &i) != 0 || i < 0 || i >= 4)
    return mproc__err(MPROC_EBADMSG, "bad lock reference");
  *objval = mproc__value_object(&lock_type, &lock_objs[i], 1);
  return *objval ? 0 : MPROC_ENOMEM;
}

START_TEST(test_context) {
  mproc__codec_ctx ctx = {export_lock, import_lock};
  mproc__buf b = MPROC__BUF_INIT;
  mproc_value *v, *out = NULL;
  const mproc__objtype *t = NULL;
  void *obj = NULL;
  char *s = NULL;
  v = mproc_build("[i O {s: O}]", 7,
                  mproc__value_object(&lock_type, &lock_objs[2], 0), "l",
                  mproc__value_object(&lock_type, &lock_objs[3], 0));
  ck_mproc_ok(mproc__buf_append(&b, "hdr", 3));
  ck_mproc_ok(mproc__encode(v, &b, &ctx));
  ck_assert_int_eq(memcmp(b.p, "hdr" MAGIC, 6), 0);
  /* Without a context, an object tag is malformed input. */
  check_bad((const char *)b.p + 3, b.len - 3, MPROC_EBADMSG);
  owned_released = 0;
  ck_mproc_ok(mproc__decode(b.p + 3, b.len - 3, &out, &ctx));
  ck_mproc_ok(mproc_repr(out, &s));
  ck_assert_str_eq(s, "[7, <Lock object>, {'l': <Lock object>}]");
  mproc_free(s);
  ck_mproc_ok(mproc__value_objinfo(mproc_list_get(out, 1), &t, &obj));
  ck_assert_ptr_eq(obj, &lock_objs[2]);
  ck_assert(mproc_value_equal(v, out));
  mproc_value_free(out);
  ck_assert_int_eq(owned_released, 2);
  /* A failed encode leaves the buffer as it was. */
  ck_mproc_ok(mproc_list_append(v, mproc_conn_ref((mproc_conn *)&ctx)));
  {
    mproc__codec_ctx none = {NULL, NULL};
    size_t before = b.len;
    ck_mproc(mproc__encode(v, &b, &none), MPROC_EINHERIT);
    ck_assert_uint_eq(b.len, before);
  }
  mproc__buf_free(&b);
  mproc_value_free(v);
  /* An import that fails: its code, and no leak. */
  {
    static const char msg[] = MAGIC "\x82\x01\xd9\x69\x79\x82\x61l\x09";
    out = NULL;
    ck_mproc(mproc__decode(msg, sizeof msg - 1, &out, &ctx), MPROC_EBADMSG);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(mproc_last_error(), "bad lock reference");
  }
}
END_TEST

/* ---- tuples, sets and big integers (issue 8, point 5) -------------------- */

/* Check the last error's text holds what. */
static void last_error_has(const char *what) {
  ck_assert_msg(strstr(mproc_last_error(), what) != NULL, "%s",
                mproc_last_error());
}

START_TEST(test_tuple_set) {
  mproc_value *v = mproc_build("(si)", "a", 1), *out;
  void *buf = NULL;
  size_t len = 0;
  /* ('a', 1): tag 27002 (D9 69 7A) on an array. */
  ck_mproc_ok(mproc_encode(v, &buf, &len));
  ck_assert_uint_eq(len, 3 + 3 + 1 + 2 + 1);
  ck_assert_int_eq(memcmp(buf, MAGIC "\xd9\x69\x7a\x82\x61"
                                     "a\x01",
                          len),
                   0);
  mproc_free(buf);
  mproc_value_free(v);
  /* {1, 'x'}: tag 258 (D9 01 02), the registered finite set. */
  v = mproc_build("<is>", 1, "x");
  ck_mproc_ok(mproc_encode(v, &buf, &len));
  ck_assert_uint_eq(len, 3 + 3 + 1 + 1 + 2);
  ck_assert_int_eq(memcmp(buf, MAGIC "\xd9\x01\x02\x82\x01\x61x", len), 0);
  mproc_free(buf);
  mproc_value_free(v);
  /* Round trips keep the types, nested too. */
  check_round_trip_free(mproc_build("()"));
  check_round_trip_free(mproc_build("<>"));
  check_round_trip_free(
      mproc_build("{(si): <(ii) s>, s: [(n) <>], i: ((()))}", "k", 1, 2, 3,
                  "m", "t", 7));
  out = round_trip(v = mproc_build("[(i) [i]]", 1, 1));
  ck_assert_int_eq(mproc_value_type(mproc_list_get(out, 0)), MPROC_T_TUPLE);
  ck_assert_int_eq(mproc_value_type(mproc_list_get(out, 1)), MPROC_T_LIST);
  mproc_value_free(out);
  mproc_value_free(v);
  GOOD(MAGIC "\xd9\x69\x7a\x80", "()");
  GOOD(MAGIC "\xd9\x69\x7a\x81\x01", "(1,)");
  GOOD(MAGIC "\xd9\x01\x02\x80", "set()");
  GOOD(MAGIC "\xd9\x01\x02\x83\x01\xf9\x3c\x00\xf5", "{1}"); /* 1, 1.0, True */
  GOOD(MAGIC "\xa1\xd9\x69\x7a\x82\x01\x02\x61x", "{(1, 2): 'x'}");
  GOOD(MAGIC "\xd9\x01\x02\x81\xd9\x69\x7a\x80", "{()}");
  /* What Python refuses, or what is not a tuple or a set. */
  BAD(MAGIC "\xd9\x01\x02\x81\x80"); /* {[]} */
  last_error_has("unhashable");
  BAD(MAGIC "\xd9\x01\x02\x81\xd9\x01\x02\x80"); /* {set()} */
  BAD(MAGIC "\xa1\xd9\x69\x7a\x81\x80\x01"); /* {([],): 1} */
  last_error_has("unhashable");
  BAD(MAGIC "\xa1\xd9\x01\x02\x80\x01"); /* {set(): 1} */
  BAD(MAGIC "\xd9\x01\x02\xa0");         /* a set tag on a map */
  last_error_has("must wrap an array");
  BAD(MAGIC "\xd9\x69\x7a\x01");         /* a tuple tag on an int */
  BAD(MAGIC "\xd9\x69\x7a\xd9\x69\x7a\x80"); /* a tag on the tag */
  BAD(MAGIC "\xd9\x69\x7a");                 /* nothing after the tag */
  BAD(MAGIC "\x81\xd9\x01\x02");
}
END_TEST

/* The list fast path: every head size, both signs, floats, singletons. */
START_TEST(test_list_fast_path) {
  static const int64_t edges[] = {0, 1, 23, 24, 255, 256, 257, 65535, 65536,
                                  4294967295LL, 4294967296LL, INT64_MAX,
                                  -1, -8, -9, -24, -25, -256, -257,
                                  -65537, INT64_MIN, 1000000007};
  mproc_value *l = mproc_list(), *out, *t;
  size_t i, k;
  int64_t x = 0;
  for (k = 0; k < 3; k++)
    for (i = 0; i < sizeof edges / sizeof edges[0]; i++) {
      ck_mproc_ok(mproc_list_append(l, mproc_int(edges[i])));
      ck_mproc_ok(mproc_list_append(l, mproc_float((double)edges[i] + 0.5)));
      ck_mproc_ok(mproc_list_append(l, mproc_none()));
      ck_mproc_ok(mproc_list_append(l, mproc_bool((int)(i & 1))));
    }
  /* Also inside a tuple, and values freed one by one (slab values). */
  t = mproc_build("(O)", mproc_value_copy(l));
  ck_mproc_ok(mproc_list_append(l, t));
  out = round_trip(l);
  ck_assert(mproc_value_equal(l, out));
  for (k = 0; k < 3; k++)
    for (i = 0; i < sizeof edges / sizeof edges[0]; i++) {
      size_t at = 4 * (k * (sizeof edges / sizeof edges[0]) + i);
      ck_mproc_ok(mproc_value_get_int(mproc_list_get(out, at), &x));
      ck_assert(x == edges[i]);
      ck_assert_int_eq(mproc_value_type(mproc_list_get(out, at + 1)),
                       MPROC_T_FLOAT);
      ck_mproc_ok(mproc_list_set(out, at, mproc_str("replaced")));
    }
  ck_assert(!mproc_value_equal(l, out));
  mproc_value_free(out);
  mproc_value_free(l);
}
END_TEST

START_TEST(test_big_integers) {
  BAD(MAGIC "\x1b\x80\x00\x00\x00\x00\x00\x00\x00"); /* 2**63 */
  last_error_has("integer beyond int64");
  BAD(MAGIC "\x1b\xff\xff\xff\xff\xff\xff\xff\xff"); /* 2**64 - 1 */
  last_error_has("integer beyond int64");
  BAD(MAGIC "\x3b\x80\x00\x00\x00\x00\x00\x00\x00"); /* -2**63 - 1 */
  last_error_has("integer beyond int64");
  BAD(MAGIC "\xc2\x49\x01\x00\x00\x00\x00\x00\x00\x00\x00"); /* 2**64 */
  last_error_has("integer beyond int64");
  BAD(MAGIC "\xc3\x41\x01"); /* bignum -2 */
  last_error_has("integer beyond int64");
  BAD(MAGIC "\x82\x01\xc2\x41\x01");
  last_error_has("integer beyond int64");
}
END_TEST

/* mproc__decode_ex tells a failure that is only an int beyond int64 (a
 * well-formed message: the manager's server answers it and goes on) from
 * a malformed message (the server closes that connection). */
static int bigint_flag(const char *p, size_t n) {
  mproc_value *out = NULL;
  int big = -1;
  ck_mproc(mproc__decode_ex(p, n, &out, NULL, NULL, &big), MPROC_EBADMSG);
  ck_assert_ptr_null(out);
  return big;
}
#define BIGINT_FLAG(lit) bigint_flag(lit, sizeof lit - 1)

START_TEST(test_big_integer_flag) {
  mproc_value *out = NULL;
  int big = -1;
  ck_assert_int_eq(BIGINT_FLAG(MAGIC "\x1b\x80\0\0\0\0\0\0\0"), 1);
  ck_assert_int_eq(BIGINT_FLAG(MAGIC "\x3b\x80\0\0\0\0\0\0\0"), 1);
  ck_assert_int_eq(BIGINT_FLAG(MAGIC "\x82\x01\xc2\x41\x01"), 1);
  /* malformed: truncated, trailing bytes, a truncated int after a good one */
  ck_assert_int_eq(BIGINT_FLAG(MAGIC "\x82\x01"), 0);
  ck_assert_int_eq(BIGINT_FLAG(MAGIC "\x01\x02"), 0);
  ck_assert_int_eq(BIGINT_FLAG(MAGIC "\x82\x01\x1b\x80"), 0);
  ck_assert_int_eq(BIGINT_FLAG("\x01\x02\x03\x04"), 0); /* no header */
  /* a good message: 0 */
  ck_mproc_ok(mproc__decode_ex(MAGIC "\x01", 4, &out, NULL, NULL, &big));
  ck_assert_int_eq(big, 0);
  mproc_value_free(out);
}
END_TEST

/* ---- hash flooding and the decode bound (issue 8, points 7 and 8) -------- */

int64_t mproc_test_flood_key(uint64_t k); /* test_value.c */

/* Append the CBOR head of major type m with argument x. */
static void head(mproc__buf *b, unsigned m, uint64_t x) {
  unsigned char h[9];
  int n = x < 24 ? 0 : x <= 0xFF ? 1 : x <= 0xFFFF ? 2 : x <= 0xFFFFFFFFu ? 4 : 8;
  int i;
  h[0] = (unsigned char)((m << 5) | (n == 0 ? (unsigned)x
                                            : n == 1   ? 24u
                                            : n == 2   ? 25u
                                            : n == 4   ? 26u
                                                       : 27u));
  for (i = 0; i < n; i++)
    h[1 + i] = (unsigned char)(x >> (8 * (n - 1 - i)));
  ck_mproc_ok(mproc__buf_append(b, h, (size_t)n + 1));
}

static void head_int(mproc__buf *b, int64_t x) {
  if (x >= 0)
    head(b, 0, (uint64_t)x);
  else
    head(b, 1, (uint64_t)(-(x + 1)));
}

START_TEST(test_flood_decode) {
  /* A message of N int keys that all collided under the old fixed hash. */
  enum { N = 20000 };
  mproc__buf b = MPROC__BUF_INIT;
  mproc_value *out = NULL;
  size_t i;
  ck_mproc_ok(mproc__buf_append(&b, MAGIC, 3));
  head(&b, 5, N);
  for (i = 0; i < N; i++) {
    head_int(&b, mproc_test_flood_key(i));
    head(&b, 7, 22); /* None */
  }
  ck_mproc_ok(mproc_decode(b.p, b.len, &out));
  ck_assert_uint_eq(mproc_dict_len(out), N);
  /* Old hash: N * (N + 1) / 2 = 200 M probes.  Now about 1.5 a key. */
  ck_assert_uint_lt(mproc__dict_probes(out), 4 * N);
  mproc_value_free(out);
  mproc__buf_free(&b);
}
END_TEST

START_TEST(test_decode_bound) {
  enum { N = 5000000 };
  mproc__buf b = MPROC__BUF_INIT;
  mproc_value *out = NULL;
  size_t charged = 0, len, i;
  /* 5 MB of None: the list's slots only (8 bytes an item), where it was
   * ~56 bytes an item before. */
  ck_mproc_ok(mproc__buf_append(&b, MAGIC, 3));
  head(&b, 4, N);
  ck_mproc_ok(mproc__buf_reserve(&b, N));
  memset(b.p + b.len, 0xf6, N);
  b.len += N;
  ck_mproc_ok(mproc__decode_ex(b.p, b.len, &out, NULL, &charged, NULL));
  ck_assert_uint_eq(mproc_list_len(out), N);
  ck_assert_uint_eq(charged, mproc__seq_bytes(N));
  ck_assert_uint_le(charged, 8 * (size_t)N + 64);
  mproc_value_free(out);
  /* The densest honest shapes stay inside the bound: 100k empty lists,
   * single-character strings, one-entry dicts, one-member sets, empty
   * dicts and empty sets. */
  {
    static const char *fmts[] = {"[]", "s", "{i n}", "<i>", "{}", "<>"};
    size_t f;
    for (f = 0; f < 6; f++) {
      mproc_value *l = mproc_list();
      void *enc = NULL;
      size_t n = 0;
      for (i = 0; i < 100000; i++) {
        char one[2] = {(char)('a' + i % 26), 0};
        mproc_value *item =
            f == 0 ? mproc_list()
            : f == 1 ? mproc_str(one)
                     : mproc_build(fmts[f], (int)i, (int)i);
        ck_mproc_ok(mproc_list_append(l, item));
      }
      ck_mproc_ok(mproc_encode(l, &enc, &n));
      ck_mproc_ok(mproc__decode_ex(enc, n, &out, NULL, &charged, NULL));
      ck_assert(mproc_value_equal(l, out));
      ck_assert_uint_le(charged, 64 * n + 65536);
      mproc_free(enc);
      mproc_value_free(out);
      mproc_value_free(l);
    }
  }
  /* Nested lists each claiming the rest of 100 KB: 12 levels would ask
   * 12 * 800 KB of slots for a 100 KB input.  Refused before allocating. */
  b.len = 0;
  ck_mproc_ok(mproc__buf_append(&b, MAGIC, 3));
  len = 100000;
  for (i = 0; i < 12; i++)
    head(&b, 4, len - 10 * i - 20);
  ck_mproc_ok(mproc__buf_reserve(&b, len));
  memset(b.p + b.len, 0xf6, len);
  b.len += len;
  out = (mproc_value *)(uintptr_t)1;
  ck_mproc(mproc__decode_ex(b.p, b.len, &out, NULL, &charged, NULL),
           MPROC_EBADMSG);
  ck_assert_ptr_null(out);
  last_error_has("bytes per input byte");
  ck_assert_uint_le(charged, 64 * b.len + 65536);
  /* The same for maps (entries and index). */
  b.len = 0;
  ck_mproc_ok(mproc__buf_append(&b, MAGIC, 3));
  for (i = 0; i < 12; i++) {
    head(&b, 5, len / 2 - 10 * i - 20);
    head(&b, 0, i + 1000); /* the key of the next level */
  }
  ck_mproc_ok(mproc__buf_reserve(&b, len));
  memset(b.p + b.len, 0xf6, len);
  b.len += len;
  ck_mproc(mproc__decode_ex(b.p, b.len, &out, NULL, &charged, NULL),
           MPROC_EBADMSG);
  last_error_has("bytes per input byte");
  mproc__buf_free(&b);
}
END_TEST

/* Runs of bare items (the pool's wire): the same bytes as a message's
 * item, read back one by one or in a sweep that stops at a 0xFF byte. */
START_TEST(test_item_runs) {
  static const int64_t ints[] = {0, 23, 24, 255, 256, 65535, 65536,
                                 4294967295LL, 4294967296LL, INT64_MAX, -1,
                                 -24, -25, -256, -257, -65537, INT64_MIN};
  mproc_value *l = mproc_list(), *dst[64], *v = NULL;
  const mproc_value *sv = NULL;
  mproc_value tmp;
  mproc__buf b = MPROC__BUF_INIT, b2 = MPROC__BUF_INIT;
  size_t offs[65], i, n, got = 0, used = 0;
  int noslab;
  mproc__itemdec d;
  for (i = 0; i < sizeof ints / sizeof ints[0]; i++)
    mproc_list_append(l, mproc_int(ints[i]));
  mproc_list_append(l, mproc_float(-2.5));
  mproc_list_append(l, mproc_none());
  mproc_list_append(l, mproc_bool(1));
  mproc_list_append(l, mproc_str("spam"));
  mproc_list_append(l, mproc_bytes("\x01\x02", 2));
  mproc_list_append(l, mproc_build("[i[s]]", 1000, "egg"));
  mproc_list_append(l, mproc_build("{si}", "k", -70000));
  mproc_list_append(l, mproc_build("(ii)", 1, 2));
  mproc_list_append(l, mproc_build("<i>", 3));
  for (i = 0; i < 8; i++) /* a run of ints past the first slab's start */
    mproc_list_append(l, mproc_int(1000000 + (int64_t)i));
  n = mproc_list_len(l);
  ck_assert_uint_lt(n, 64);
  ck_mproc_ok(mproc__encode_run(
      (const mproc_value *const *)(const void *)&l->u.list.items[0], n, &b,
      offs, 1));
  ck_assert_uint_eq(offs[0], 0);
  ck_assert_uint_eq(offs[n], b.len);
  {
    /* offsets every 4 items: where items 0, 4, 8, ... start, then the end */
    mproc__buf b4 = MPROC__BUF_INIT;
    size_t offs4[17];
    ck_mproc_ok(mproc__encode_run(
        (const mproc_value *const *)(const void *)&l->u.list.items[0], n,
        &b4, offs4, 4));
    ck_assert_uint_eq(b4.len, b.len);
    for (i = 0; i < (n + 3) / 4; i++)
      ck_assert_uint_eq(offs4[i], offs[4 * i]);
    ck_assert_uint_eq(offs4[(n + 3) / 4], b.len);
    mproc__buf_free(&b4);
  }
  for (i = 0; i < n; i++) {
    /* each item is what a message holds after its magic */
    void *enc = NULL;
    size_t len = 0;
    ck_mproc_ok(mproc_encode(mproc_list_get(l, i), &enc, &len));
    ck_assert_uint_eq(offs[i + 1] - offs[i], len - 3);
    ck_assert_int_eq(memcmp(b.p + offs[i], (char *)enc + 3, len - 3), 0);
    mproc_free(enc);
    /* and its length is found without decoding it */
    ck_mproc_ok(mproc__item_skip(b.p + offs[i], b.len - offs[i], &used));
    ck_assert_uint_eq(used, len - 3);
    ck_mproc(mproc__item_skip(b.p + offs[i], len - 4, &used), MPROC_EBADMSG);
    /* scalars read without allocating */
    if (mproc__item_scalar(b.p + offs[i], b.len - offs[i], &tmp, &sv, &used)) {
      ck_assert_uint_eq(used, offs[i + 1] - offs[i]);
      ck_assert(mproc_value_equal(sv, mproc_list_get(l, i)));
    } else {
      ck_assert_int_ge(mproc_value_type(mproc_list_get(l, i)), MPROC_T_STR);
    }
  }
  for (noslab = 0; noslab < 2; noslab++) {
    d.p = b.p;
    d.end = b.p + b.len;
    d.left = n;
    d.noslab = noslab;
    d.slab = NULL;
    ck_mproc_ok(mproc__itemdec_run(&d, dst, n, &got));
    mproc__itemdec_done(&d);
    ck_assert_uint_eq(got, n);
    ck_assert_ptr_eq(d.p, b.p + b.len);
    for (i = 0; i < n; i++) {
      ck_assert_int_eq(mproc_value_type(dst[i]),
                       mproc_value_type(mproc_list_get(l, i)));
      ck_assert(mproc_value_equal(dst[i], mproc_list_get(l, i)));
      mproc_value_free(dst[i]);
    }
  }
  /* A 0xFF byte (a failed task's mark) stops the sweep before it. */
  ck_mproc_ok(mproc__buf_append(&b2, b.p, offs[n - 3]));
  ck_mproc_ok(mproc__buf_append(&b2, "\xff", 1));
  ck_mproc_ok(mproc__buf_append(&b2, b.p + offs[n - 3], b.len - offs[n - 3]));
  d.p = b2.p;
  d.end = b2.p + b2.len;
  d.left = n;
  d.noslab = 0;
  d.slab = NULL;
  ck_mproc_ok(mproc__itemdec_run(&d, dst, n, &got));
  ck_assert_uint_eq(got, n - 3);
  ck_assert_int_eq(*d.p, 0xff);
  d.p++;
  ck_mproc_ok(mproc__itemdec_run(&d, dst + got, 3, &got));
  ck_assert_uint_eq(got, 3);
  ck_assert_ptr_eq(d.p, d.end);
  mproc__itemdec_done(&d);
  for (i = 0; i < n; i++) {
    ck_assert(mproc_value_equal(dst[i], mproc_list_get(l, i)));
    mproc_value_free(dst[i]);
  }
  /* Bad items: a truncated int, one beyond int64, an unknown tag, a
   * truncated string; a sweep stops at them with the decoder's error. */
  {
    static const char *bad[] = {"\x1a\x00\x01", "\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
                                "\xc6\x01", "\x63\x61\x62"};
    static const size_t badlen[] = {3, 9, 2, 3};
    size_t k;
    for (k = 0; k < 4; k++) {
      b2.len = 0;
      ck_mproc_ok(mproc__buf_append(&b2, "\x19\x03\xe8", 3)); /* 1000 */
      ck_mproc_ok(mproc__buf_append(&b2, bad[k], badlen[k]));
      d.p = b2.p;
      d.end = b2.p + b2.len;
      d.left = 2;
      d.noslab = 0;
      d.slab = NULL;
      ck_mproc(mproc__itemdec_run(&d, dst, 2, &got), MPROC_EBADMSG);
      ck_assert_uint_eq(got, 1);
      ck_assert_int_eq(dst[0]->u.i, 1000);
      mproc__itemdec_done(&d);
      mproc_value_free(dst[0]);
      ck_assert_int_eq(mproc__item_scalar(b2.p + 3, badlen[k], &tmp, &sv,
                                          &used),
                       0);
      ck_mproc(mproc__decode_item(b2.p + 3, badlen[k], &v, &used),
               MPROC_EBADMSG);
      ck_assert_ptr_null(v);
    }
  }
  mproc__buf_free(&b);
  mproc__buf_free(&b2);
  mproc_value_free(l);
}
END_TEST

Suite *mproc_suite_codec(void) {
  Suite *s = suite_create("codec");
  TCase *tc = tcase_create("codec");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_round_trip_scalars);
  tcase_add_test(tc, test_round_trip_containers);
  tcase_add_test(tc, test_round_trip_big);
  tcase_add_test(tc, test_exact_bytes);
  tcase_add_test(tc, test_decode_other_forms);
  tcase_add_test(tc, test_decode_errors);
  tcase_add_test(tc, test_depth);
  tcase_add_test(tc, test_truncated_and_corrupt);
  tcase_add_test(tc, test_inherit);
  tcase_add_test(tc, test_context);
  tcase_add_test(tc, test_tuple_set);
  tcase_add_test(tc, test_big_integers);
  tcase_add_test(tc, test_big_integer_flag);
  tcase_add_test(tc, test_list_fast_path);
  tcase_add_test(tc, test_flood_decode);
  tcase_add_test(tc, test_decode_bound);
  tcase_add_test(tc, test_item_runs);
  suite_add_tcase(s, tc);
  return s;
}
