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
  suite_add_tcase(s, tc);
  return s;
}
