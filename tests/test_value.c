/*
 * test_value.c - the value tree, repr/str and mproc_build; the O(1) dict
 * delete the Manager uses (order, work counted, a random model).
 *
 * Every expected repr string below was checked against python3's repr().
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "mproc_int.h"
#include "tests.h"

/* ---- helpers ------------------------------------------------------------- */

static int released;
static void test_release(void *obj) {
  (void)obj;
  released++;
}
static const mproc__objtype queue_type = {.name = "Queue",
                                          .release = test_release};

/* Assert repr(v) == want, then free v. */
static void check_repr_free(mproc_value *v, const char *want) {
  char *s = NULL;
  ck_assert_ptr_nonnull(v);
  ck_mproc_ok(mproc_repr(v, &s));
  ck_assert_str_eq(s, want);
  mproc_free(s);
  mproc_value_free(v);
}

/* ---- scalars ------------------------------------------------------------- */

START_TEST(test_scalars) {
  mproc_value *v;
  int64_t i = 0;
  int b = 0;
  double d = 0;
  const char *s = NULL;
  const void *p = NULL;
  size_t n = 0;

  v = mproc_none();
  ck_assert_int_eq(mproc_value_type(v), MPROC_T_NONE);
  ck_mproc(mproc_value_get_int(v, &i), MPROC_ETYPE);
  mproc_value_free(v);

  v = mproc_bool(7);
  ck_assert_int_eq(mproc_value_type(v), MPROC_T_BOOL);
  ck_mproc_ok(mproc_value_get_bool(v, &b));
  ck_assert_int_eq(b, 1);
  /* bool is an int, as in Python. */
  ck_mproc_ok(mproc_value_get_int(v, &i));
  ck_assert_int_eq(i, 1);
  mproc_value_free(v);

  v = mproc_int(INT64_MIN);
  ck_mproc_ok(mproc_value_get_int(v, &i));
  ck_assert(i == INT64_MIN);
  ck_mproc_ok(mproc_value_get_float(v, &d));
  ck_assert(d == -9223372036854775808.0);
  ck_mproc(mproc_value_get_bool(v, &b), MPROC_ETYPE);
  ck_mproc(mproc_value_get_str(v, &s, &n), MPROC_ETYPE);
  ck_assert_ptr_null(mproc_value_str(v));
  mproc_value_free(v);

  v = mproc_float(2.5);
  ck_mproc_ok(mproc_value_get_float(v, &d));
  ck_assert(d == 2.5);
  ck_mproc(mproc_value_get_int(v, &i), MPROC_ETYPE);
  mproc_value_free(v);

  v = mproc_str("h\xc3\xa9llo");
  ck_mproc_ok(mproc_value_get_str(v, &s, &n));
  ck_assert_str_eq(s, "h\xc3\xa9llo");
  ck_assert_uint_eq(n, 6);
  ck_assert_str_eq(mproc_value_str(v), "h\xc3\xa9llo");
  ck_mproc(mproc_value_get_bytes(v, &p, &n), MPROC_ETYPE);
  mproc_value_free(v);

  /* A str may hold NUL characters when made with a length. */
  v = mproc_strn("a\0b", 3);
  ck_mproc_ok(mproc_value_get_str(v, &s, &n));
  ck_assert_uint_eq(n, 3);
  ck_assert_int_eq(memcmp(s, "a\0b", 4), 0);
  check_repr_free(v, "'a\\x00b'");

  v = mproc_bytes("\x00\x01", 2);
  ck_mproc_ok(mproc_value_get_bytes(v, &p, &n));
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(memcmp(p, "\x00\x01", 2), 0);
  mproc_value_free(v);

  v = mproc_bytes(NULL, 0);
  ck_mproc_ok(mproc_value_get_bytes(v, &p, &n));
  ck_assert_uint_eq(n, 0);
  mproc_value_free(v);

  /* NULL values and NULL outputs. */
  ck_mproc(mproc_value_get_int(NULL, &i), MPROC_EINVAL);
  v = mproc_int(1);
  ck_mproc(mproc_value_get_int(v, NULL), MPROC_EINVAL);
  mproc_value_free(v);
  mproc_value_free(NULL);
}
END_TEST

START_TEST(test_utf8) {
  static const char *const bad[] = {
      "\xc0\x80",         /* overlong NUL */
      "\xe0\x80\xaf",     /* overlong '/' */
      "\xed\xa0\x80",     /* a surrogate */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\xf5\x80\x80\x80", /* no such lead byte */
      "\xe2\x82",         /* truncated */
      "\x80",             /* a lone continuation */
      "ab\xff",
  };
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_ptr_null(mproc_str(bad[i]));
    ck_assert_str_eq(mproc_errname(mproc__plat_errrec()->code), "MPROC_EINVAL");
    ck_assert_msg(strstr(mproc_last_error(), "UTF-8") != NULL, "%s",
                  mproc_last_error());
  }
  ck_assert_ptr_null(mproc_str(NULL));
  ck_assert_ptr_null(mproc_strn(NULL, 3));
  /* The largest code point and the ones around the surrogates pass. */
  check_repr_free(mproc_str("\xf4\x8f\xbf\xbf\xed\x9e\xa3\xee\x80\x80"),
                  "'\\U0010ffff\xed\x9e\xa3\\ue000'");
}
END_TEST

/* ---- repr ---------------------------------------------------------------- */

START_TEST(test_repr_scalars) {
  check_repr_free(mproc_none(), "None");
  check_repr_free(mproc_bool(1), "True");
  check_repr_free(mproc_bool(0), "False");
  check_repr_free(mproc_int(0), "0");
  check_repr_free(mproc_int(-42), "-42");
  check_repr_free(mproc_int(INT64_MIN), "-9223372036854775808");
  check_repr_free(mproc_int(INT64_MAX), "9223372036854775807");
  check_repr_free(mproc_str(""), "''");
  check_repr_free(mproc_str("it's"), "\"it's\"");
  check_repr_free(mproc_str("say \"hi\""), "'say \"hi\"'");
  check_repr_free(mproc_str("both ' and \""), "'both \\' and \"'");
  check_repr_free(mproc_str("a\\b\n\r\t\x1f\x7f"),
                  "'a\\\\b\\n\\r\\t\\x1f\\x7f'");
  check_repr_free(mproc_str("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
                  "'h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80'");
  check_repr_free(mproc_str("\xc2\x80\xc2\xa0\xc2\xad\xe2\x80\x8b\xe2\x80\xa8"
                            "\xee\x80\x80\xf3\xb0\x80\x80"),
                  "'\\x80\\xa0\\xad\\u200b\\u2028\\ue000\\U000f0000'");
  check_repr_free(mproc_bytes("", 0), "b''");
  check_repr_free(mproc_bytes("it's", 4), "b\"it's\"");
  check_repr_free(mproc_bytes("\x00\xff\\\n\"", 5), "b'\\x00\\xff\\\\\\n\"'");
  check_repr_free(mproc__value_object(&queue_type, &released, 0),
                  "<Queue object>");
}
END_TEST

START_TEST(test_repr_floats) {
  static const struct {
    double d;
    const char *want;
  } cases[] = {
      {0.1, "0.1"},
      {1.0, "1.0"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {1e-5, "1e-05"},
      {0.0001, "0.0001"},
      {123456789.125, "123456789.125"},
      {1.5e300, "1.5e+300"},
      {2.5e-300, "2.5e-300"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {3.141592653589793, "3.141592653589793"},
      {100000.0, "100000.0"},
      {1e22, "1e+22"},
      {0.30000000000000004, "0.30000000000000004"},
      {-1.25, "-1.25"},
      {1.0 / 3.0, "0.3333333333333333"},
      {9007199254740993.0, "9007199254740992.0"},
      {123e-20, "1.23e-18"},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_repr_free(mproc_float(cases[i].d), cases[i].want);
  check_repr_free(mproc_float(HUGE_VAL), "inf");
  check_repr_free(mproc_float(-HUGE_VAL), "-inf");
  check_repr_free(mproc_float(NAN), "nan");
  check_repr_free(mproc_float(-NAN), "nan");
}
END_TEST

START_TEST(test_repr_containers) {
  mproc_value *d = mproc_dict(), *l = mproc_list();
  char *s = NULL;
  ck_mproc_ok(mproc_dict_set_str(d, "name", mproc_str("Bob")));
  ck_mproc_ok(mproc_dict_set_str(d, "spam", mproc_int(42)));
  check_repr_free(d, "{'name': 'Bob', 'spam': 42}");

  ck_mproc_ok(mproc_list_append(l, mproc_int(1)));
  ck_mproc_ok(mproc_list_append(l, mproc_str("a")));
  ck_mproc_ok(mproc_list_append(l, mproc_none()));
  ck_mproc_ok(mproc_list_append(l, mproc_bool(1)));
  ck_mproc_ok(mproc_list_append(l, mproc_bool(0)));
  ck_mproc_ok(mproc_list_append(l, mproc_float(2.0)));
  ck_mproc_ok(mproc_list_append(l, mproc_bytes("x", 1)));
  ck_mproc_ok(mproc_list_append(l, mproc_list()));
  ck_mproc_ok(mproc_list_append(l, mproc_dict()));
  check_repr_free(l, "[1, 'a', None, True, False, 2.0, b'x', [], {}]");

  /* str(): a str is its text, the rest their repr. */
  l = mproc_str("it's");
  ck_mproc_ok(mproc_str_of(l, &s));
  ck_assert_str_eq(s, "it's");
  mproc_free(s);
  mproc_value_free(l);
  l = mproc_build("[s]", "it's");
  ck_mproc_ok(mproc_str_of(l, &s));
  ck_assert_str_eq(s, "[\"it's\"]");
  mproc_free(s);
  mproc_value_free(l);
  l = mproc_float(1e16);
  ck_mproc_ok(mproc_str_of(l, &s));
  ck_assert_str_eq(s, "1e+16");
  mproc_free(s);
  mproc_value_free(l);

  ck_mproc(mproc_repr(NULL, &s), MPROC_EINVAL);
  ck_assert_ptr_null(s);
}
END_TEST

/* ---- lists --------------------------------------------------------------- */

START_TEST(test_list) {
  mproc_value *l = mproc_list(), *i = mproc_int(1);
  int64_t x = 0;
  size_t k;
  for (k = 0; k < 1000; k++)
    ck_mproc_ok(mproc_list_append(l, mproc_int((int64_t)k)));
  ck_assert_uint_eq(mproc_list_len(l), 1000);
  ck_mproc_ok(mproc_value_get_int(mproc_list_get(l, 999), &x));
  ck_assert_int_eq(x, 999);
  ck_assert_ptr_null(mproc_list_get(l, 1000));
  ck_mproc_ok(mproc_list_set(l, 5, mproc_str("five")));
  ck_assert_str_eq(mproc_value_str(mproc_list_get(l, 5)), "five");
  /* Out of range: the item is still taken (ASan would see a leak). */
  ck_mproc(mproc_list_set(l, 1000, mproc_int(3)), MPROC_ERANGE);
  /* A failed constructor's error comes through append. */
  ck_mproc(mproc_list_append(l, mproc_str("\xff")), MPROC_EINVAL);
  ck_assert_msg(strstr(mproc_last_error(), "UTF-8") != NULL, "%s",
                mproc_last_error());
  ck_mproc(mproc_list_set(l, 0, NULL), MPROC_EINVAL);
  ck_mproc(mproc_list_append(NULL, mproc_int(1)), MPROC_EINVAL);
  /* Not a list: ETYPE and the item is freed. */
  ck_mproc(mproc_list_append(i, mproc_int(2)), MPROC_ETYPE);
  ck_assert_uint_eq(mproc_list_len(i), 0);
  ck_assert_ptr_null(mproc_list_get(i, 0));
  /* A list cannot hold itself (and is not freed by the attempt). */
  ck_mproc(mproc_list_append(l, l), MPROC_EINVAL);
  ck_assert_uint_eq(mproc_list_len(l), 1000);
  mproc_value_free(i);
  mproc_value_free(l);
}
END_TEST

/* ---- dicts --------------------------------------------------------------- */

START_TEST(test_dict_basic) {
  mproc_value *d = mproc_dict(), *k, *v;
  int64_t x = 0;
  ck_mproc_ok(mproc_dict_set_str(d, "b", mproc_int(1)));
  ck_mproc_ok(mproc_dict_set_str(d, "a", mproc_int(2)));
  ck_mproc_ok(mproc_dict_set(d, mproc_none(), mproc_int(3)));
  ck_mproc_ok(mproc_dict_set(d, mproc_bytes("a", 1), mproc_int(4)));
  ck_mproc_ok(mproc_dict_set(d, mproc_float(2.5), mproc_int(5)));
  ck_assert_uint_eq(mproc_dict_len(d), 5);
  /* Insertion order. */
  ck_mproc_ok(mproc_dict_item(d, 0, &k, &v));
  ck_assert_str_eq(mproc_value_str(k), "b");
  ck_mproc_ok(mproc_dict_item(d, 3, &k, &v));
  ck_assert_int_eq(mproc_value_type(k), MPROC_T_BYTES);
  ck_mproc(mproc_dict_item(d, 5, &k, &v), MPROC_ERANGE);
  ck_mproc_ok(mproc_value_get_int(mproc_dict_get_str(d, "a"), &x));
  ck_assert_int_eq(x, 2);
  ck_assert_ptr_null(mproc_dict_get_str(d, "zz"));
  /* str 'a' and bytes b'a' are different keys. */
  k = mproc_bytes("a", 1);
  ck_mproc_ok(mproc_value_get_int(mproc_dict_get(d, k), &x));
  ck_assert_int_eq(x, 4);
  mproc_value_free(k);
  check_repr_free(mproc_value_copy(d),
                  "{'b': 1, 'a': 2, None: 3, b'a': 4, 2.5: 5}");

  /* Non-scalar keys: ETYPE, and key and value are freed. */
  ck_mproc(mproc_dict_set(d, mproc_list(), mproc_int(1)), MPROC_ETYPE);
  ck_mproc(mproc_dict_set(d, mproc_dict(), mproc_int(1)), MPROC_ETYPE);
  ck_mproc(
      mproc_dict_set(d, mproc__value_object(&queue_type, &x, 0), mproc_int(1)),
      MPROC_ETYPE);
  ck_mproc(mproc_dict_set(d, mproc_int(1), d), MPROC_EINVAL);
  ck_mproc(mproc_dict_set(d, mproc_int(1), NULL), MPROC_EINVAL);
  ck_mproc(mproc_dict_set(d, NULL, mproc_int(1)), MPROC_EINVAL);
  ck_mproc(mproc_dict_set_str(d, NULL, mproc_int(1)), MPROC_EINVAL);
  ck_mproc(mproc_dict_set_str(d, "\xff", mproc_int(1)), MPROC_EINVAL);
  k = mproc_list();
  ck_mproc(mproc_dict_set_str(k, "x", mproc_int(1)), MPROC_ETYPE);
  ck_assert_ptr_null(mproc_dict_get(k, d));
  ck_mproc(mproc_dict_item(k, 0, NULL, NULL), MPROC_ETYPE);
  mproc_value_free(k);
  ck_assert_uint_eq(mproc_dict_len(d), 5);
  mproc_value_free(d);
}
END_TEST

START_TEST(test_dict_replace) {
  /* d = {1: 'a'}; d[1.0] = 'b'; d[True] = 'c' gives {1: 'c'}. */
  mproc_value *d = mproc_dict(), *k;
  ck_mproc_ok(mproc_dict_set(d, mproc_int(1), mproc_str("a")));
  ck_mproc_ok(mproc_dict_set(d, mproc_float(1.0), mproc_str("b")));
  ck_mproc_ok(mproc_dict_set(d, mproc_bool(1), mproc_str("c")));
  ck_assert_uint_eq(mproc_dict_len(d), 1);
  k = mproc_float(1.0);
  ck_assert_str_eq(mproc_value_str(mproc_dict_get(d, k)), "c");
  mproc_value_free(k);
  /* 0 == 0.0 == -0.0 == False; 2**53 + 1 is not 2.0**53. */
  ck_mproc_ok(mproc_dict_set(d, mproc_bool(0), mproc_str("f")));
  ck_mproc_ok(mproc_dict_set(d, mproc_float(-0.0), mproc_str("z")));
  ck_mproc_ok(mproc_dict_set(d, mproc_int(9007199254740993LL), mproc_int(1)));
  ck_mproc_ok(mproc_dict_set(d, mproc_float(9007199254740992.0), mproc_int(2)));
  /* NaN equals nothing, not even another NaN. */
  ck_mproc_ok(mproc_dict_set(d, mproc_float(NAN), mproc_int(3)));
  ck_mproc_ok(mproc_dict_set(d, mproc_float(NAN), mproc_int(4)));
  check_repr_free(d, "{1: 'c', False: 'z', 9007199254740993: 1, "
                     "9007199254740992.0: 2, nan: 3, nan: 4}");
}
END_TEST

START_TEST(test_dict_big) {
  /* 100k keys: with a hash index this is instant, linear would not be. */
  enum { N = 100000 };
  mproc_value *d = mproc_dict(), *k, *v;
  char key[32];
  int64_t i, x = 0;
  for (i = 0; i < N; i++) {
    snprintf(key, sizeof key, "key%lld", (long long)i);
    ck_mproc_ok(mproc_dict_set_str(d, key, mproc_int(i)));
    ck_mproc_ok(mproc_dict_set(d, mproc_int(i), mproc_int(-i)));
  }
  ck_assert_uint_eq(mproc_dict_len(d), 2 * N);
  for (i = 0; i < N; i += 7) {
    snprintf(key, sizeof key, "key%lld", (long long)i);
    ck_mproc_ok(mproc_value_get_int(mproc_dict_get_str(d, key), &x));
    ck_assert(x == i);
    k = mproc_float((double)i);
    ck_mproc_ok(mproc_value_get_int(mproc_dict_get(d, k), &x));
    ck_assert(x == -i);
    mproc_value_free(k);
  }
  /* Replacing keeps the length and the order. */
  ck_mproc_ok(mproc_dict_set_str(d, "key5", mproc_str("five")));
  ck_assert_uint_eq(mproc_dict_len(d), 2 * N);
  ck_mproc_ok(mproc_dict_item(d, 10, &k, &v));
  ck_assert_str_eq(mproc_value_str(k), "key5");
  ck_assert_str_eq(mproc_value_str(v), "five");
  v = mproc_value_copy(d);
  ck_assert(mproc_value_equal(v, d));
  mproc_value_free(v);
  mproc_value_free(d);
}
END_TEST

/* ---- equality and copies ------------------------------------------------- */

START_TEST(test_equal) {
  mproc_value *a, *b;
  int x = 0, y = 0;
#define EQ(va, vb, want)                                                       \
  do {                                                                         \
    a = (va);                                                                  \
    b = (vb);                                                                  \
    ck_assert_int_eq(mproc_value_equal(a, b), (want));                         \
    ck_assert_int_eq(mproc_value_equal(b, a), (want));                         \
    mproc_value_free(a);                                                       \
    mproc_value_free(b);                                                       \
  } while (0)
  EQ(mproc_int(1), mproc_float(1.0), 1);
  EQ(mproc_int(1), mproc_bool(1), 1);
  EQ(mproc_float(0.0), mproc_bool(0), 1);
  EQ(mproc_float(-0.0), mproc_int(0), 1);
  EQ(mproc_int(2), mproc_float(2.5), 0);
  EQ(mproc_int(9007199254740993LL), mproc_float(9007199254740992.0), 0);
  EQ(mproc_int(INT64_MAX), mproc_float(9223372036854775808.0), 0);
  EQ(mproc_int(INT64_MIN), mproc_float(-9223372036854775808.0), 1);
  EQ(mproc_float(NAN), mproc_float(NAN), 0);
  EQ(mproc_float(HUGE_VAL), mproc_float(HUGE_VAL), 1);
  EQ(mproc_float(HUGE_VAL), mproc_int(INT64_MAX), 0);
  EQ(mproc_none(), mproc_none(), 1);
  EQ(mproc_none(), mproc_int(0), 0);
  EQ(mproc_str("a"), mproc_bytes("a", 1), 0);
  EQ(mproc_str("a"), mproc_str("a"), 1);
  EQ(mproc_str("a"), mproc_str("ab"), 0);
  EQ(mproc_build("[i[s]]", 1, "x"), mproc_build("[f[s]]", 1.0, "x"), 1);
  EQ(mproc_build("[i[s]]", 1, "x"), mproc_build("[i[s]i]", 1, "x", 2), 0);
  EQ(mproc_build("[]"), mproc_build("{}"), 0);
  /* Dicts compare by content, in any order. */
  EQ(mproc_build("{s:i, s:i}", "a", 1, "b", 2),
     mproc_build("{s:i, s:f}", "b", 2, "a", 1.0), 1);
  EQ(mproc_build("{s:i, s:i}", "a", 1, "b", 2),
     mproc_build("{s:i, s:i}", "a", 1, "c", 2), 0);
  EQ(mproc_build("{s:i}", "a", 1), mproc_build("{s:i}", "a", 2), 0);
  EQ(mproc__value_object(&queue_type, &x, 0),
     mproc__value_object(&queue_type, &x, 0), 1);
  EQ(mproc__value_object(&queue_type, &x, 0),
     mproc__value_object(&queue_type, &y, 0), 0);
  ck_assert_int_eq(mproc_value_equal(NULL, NULL), 0);
#undef EQ
}
END_TEST

START_TEST(test_copy) {
  mproc_value *v, *c, *o;
  int obj = 0;
  v = mproc_build("{s:[i f s y n b], s:{i:s}}", "list", 1, 2.5, "x", "yz",
                  (size_t)2, 1, "d", 7, "seven");
  ck_assert_ptr_nonnull(v);
  c = mproc_value_copy(v);
  ck_assert(mproc_value_equal(v, c));
  /* The copy is independent. */
  ck_mproc_ok(mproc_list_append(mproc_dict_get_str(c, "list"), mproc_int(9)));
  ck_assert(!mproc_value_equal(v, c));
  check_repr_free(c, "{'list': [1, 2.5, 'x', b'yz', None, True, 9], "
                     "'d': {7: 'seven'}}");
  mproc_value_free(v);

  /* An owned object is released once; a copy refers without owning. */
  released = 0;
  o = mproc__value_object(&queue_type, &obj, 1);
  c = mproc_value_copy(o);
  ck_assert(mproc_value_equal(o, c));
  mproc_value_free(c);
  ck_assert_int_eq(released, 0);
  mproc_value_free(o);
  ck_assert_int_eq(released, 1);
  ck_assert_ptr_null(mproc_value_copy(NULL));
}
END_TEST

/* ---- objects and Connections --------------------------------------------- */

START_TEST(test_objects) {
  mproc_value *v;
  const mproc__objtype *t = NULL;
  void *obj = NULL;
  mproc_conn *c = NULL;
  int fake = 0;
  v = mproc_conn_ref((mproc_conn *)(void *)&fake);
  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(mproc_value_type(v), MPROC_T_OBJECT);
  ck_mproc_ok(mproc_value_get_conn(v, &c));
  ck_assert_ptr_eq(c, (void *)&fake);
  ck_mproc_ok(mproc__value_objinfo(v, &t, &obj));
  ck_assert_ptr_eq(t, &mproc__conn_type);
  ck_assert_ptr_eq(obj, (void *)&fake);
  check_repr_free(v, "<Connection object>");
  ck_assert_ptr_null(mproc_conn_ref(NULL));
  ck_assert_ptr_null(mproc__value_object(NULL, &fake, 0));

  v = mproc__value_object(&queue_type, &fake, 0);
  ck_mproc(mproc_value_get_conn(v, &c), MPROC_ETYPE);
  ck_assert_msg(strstr(mproc_last_error(), "Queue") != NULL, "%s",
                mproc_last_error());
  mproc_value_free(v);
  v = mproc_int(3);
  ck_mproc(mproc__value_objinfo(v, &t, &obj), MPROC_ETYPE);
  mproc_value_free(v);
}
END_TEST

/* ---- mproc_build --------------------------------------------------------- */

START_TEST(test_build) {
  char blob[3] = {'a', 0, 'b'};
  int fake = 0;
  mproc_value *o;

  check_repr_free(mproc_build("[sis]", "spam", 42, "egg"),
                  "['spam', 42, 'egg']");
  check_repr_free(mproc_build("{s:s, s:i}", "name", "Bob", "spam", 42),
                  "{'name': 'Bob', 'spam': 42}");
  check_repr_free(mproc_build("{ss si}", "name", "Bob", "spam", 42),
                  "{'name': 'Bob', 'spam': 42}");
  check_repr_free(mproc_build(" [ n, b, i, l, L, f, s, y ] ", 5, -1, 7L,
                              (int64_t)INT64_MIN, 0.5, (const char *)NULL, blob,
                              sizeof blob),
                  "[None, True, -1, 7, -9223372036854775808, 0.5, None, "
                  "b'a\\x00b']");
  check_repr_free(mproc_build("[[[]], {}, [{i: [O]}]]", 1, mproc_str("o")),
                  "[[[]], {}, [{1: ['o']}]]");
  check_repr_free(mproc_build("i", 3), "3");
  check_repr_free(mproc_build("[C]", (mproc_conn *)(void *)&fake),
                  "[<Connection object>]");

  /* Malformed formats: NULL with EINVAL. */
  ck_assert_ptr_null(mproc_build("[i", 1));
  ck_assert_str_eq(mproc_errname(mproc__plat_errrec()->code), "MPROC_EINVAL");
  ck_assert_ptr_null(mproc_build("[ix]", 1));
  ck_assert_msg(strstr(mproc_last_error(), "unknown format") != NULL, "%s",
                mproc_last_error());
  ck_assert_ptr_null(mproc_build("{i}", 1));
  ck_assert_ptr_null(mproc_build("ii", 1, 2));
  ck_assert_ptr_null(mproc_build(""));
  ck_assert_ptr_null(mproc_build("]"));
  ck_assert_ptr_null(mproc_build(NULL));
  ck_assert_str_eq(mproc_errname(mproc__plat_errrec()->code), "MPROC_EINVAL");

  /* Failures free what was built and steal every 'O', even later ones. */
  released = 0;
  o = mproc__value_object(&queue_type, &fake, 1);
  ck_assert_ptr_null(mproc_build("[s O]", "\xff", o));
  ck_assert_int_eq(released, 1);
  ck_assert_str_eq(mproc_errname(mproc__plat_errrec()->code), "MPROC_EINVAL");
  o = mproc__value_object(&queue_type, &fake, 1);
  ck_assert_ptr_null(mproc_build("[O O]", o, (mproc_value *)NULL));
  ck_assert_int_eq(released, 2);
  o = mproc__value_object(&queue_type, &fake, 1);
  ck_assert_ptr_null(mproc_build("{O: i}", o, 1));
  ck_assert_str_eq(mproc_errname(mproc__plat_errrec()->code), "MPROC_ETYPE");
  ck_assert_int_eq(released, 3);
  ck_assert_ptr_null(mproc_build("[C]", (mproc_conn *)NULL));
}
END_TEST

/* ---- tuples and sets (issue 8, point 5) --------------------------------- */

START_TEST(test_tuple) {
  mproc_value *t = mproc_tuple(), *l, *d, *k;
  char *s = NULL;
  ck_assert_int_eq(mproc_value_type(t), MPROC_T_TUPLE);
  check_repr_free(mproc_tuple(), "()");
  ck_mproc_ok(mproc_tuple_append(t, mproc_str("a")));
  ck_assert_uint_eq(mproc_tuple_len(t), 1);
  ck_mproc_ok(mproc_repr(t, &s));
  ck_assert_str_eq(s, "('a',)");
  mproc_free(s);
  ck_mproc_ok(mproc_tuple_append(t, mproc_int(1)));
  ck_assert_str_eq(mproc_value_str(mproc_tuple_get(t, 0)), "a");
  ck_assert_ptr_null(mproc_tuple_get(t, 2));
  ck_assert_ptr_null(mproc_list_get(t, 0)); /* a tuple is not a list */
  ck_mproc(mproc_list_append(t, mproc_none()), MPROC_ETYPE);
  check_repr_free(mproc_value_copy(t), "('a', 1)");
  /* A tuple never equals a list with the same items (Python). */
  l = mproc_build("[si]", "a", 1);
  ck_assert(!mproc_value_equal(t, l));
  ck_assert(!mproc_value_equal(l, t));
  k = mproc_build("(si)", "a", 1);
  ck_assert(mproc_value_equal(t, k));
  mproc_value_free(k);
  /* As a dict key: found by an equal tuple, 1 == 1.0 == True inside. */
  d = mproc_dict();
  ck_mproc_ok(mproc_dict_set(d, t, mproc_str("x")));
  k = mproc_build("(s f)", "a", 1.0);
  ck_assert_str_eq(mproc_value_str(mproc_dict_get(d, k)), "x");
  ck_mproc_ok(mproc_dict_set(d, k, mproc_str("y"))); /* replaces */
  ck_assert_uint_eq(mproc_dict_len(d), 1);
  /* A key can no longer change (its hash would be stale). */
  ck_mproc(mproc_tuple_append(t, mproc_int(2)), MPROC_EINVAL);
  ck_assert_uint_eq(mproc_tuple_len(t), 2);
  /* Unhashable keys, with Python's message. */
  ck_mproc(mproc_dict_set(d, mproc_list(), mproc_none()), MPROC_ETYPE);
  ck_assert_str_eq(mproc_last_error(), "unhashable type: 'list'");
  ck_mproc(mproc_dict_set(d, mproc_build("(i[i])", 1, 2), mproc_none()),
           MPROC_ETYPE);
  ck_assert_str_eq(mproc_last_error(), "unhashable type: 'list'");
  ck_mproc(mproc_dict_set(d, mproc_dict(), mproc_none()), MPROC_ETYPE);
  ck_assert_str_eq(mproc_last_error(), "unhashable type: 'dict'");
  ck_mproc(mproc_dict_set(d, mproc_set(), mproc_none()), MPROC_ETYPE);
  ck_assert_str_eq(mproc_last_error(), "unhashable type: 'set'");
  ck_assert_uint_eq(mproc_dict_len(d), 1);
  check_repr_free(d, "{('a', 1): 'y'}");
  mproc_value_free(l);
  check_repr_free(mproc_build("(() ((i)))", 1), "((), ((1,),))");
}
END_TEST

START_TEST(test_set) {
  mproc_value *s1 = mproc_set(), *s2, *x;
  char *s = NULL;
  check_repr_free(mproc_set(), "set()");
  ck_assert_int_eq(mproc_value_type(s1), MPROC_T_SET);
  ck_mproc_ok(mproc_set_add(s1, mproc_str("ss")));
  ck_mproc_ok(mproc_set_add(s1, mproc_str("aa")));
  ck_mproc_ok(mproc_set_add(s1, mproc_str("ss"))); /* a no-op */
  ck_assert_uint_eq(mproc_set_len(s1), 2);
  ck_mproc_ok(mproc_repr(s1, &s));
  ck_assert_str_eq(s, "{'ss', 'aa'}"); /* insertion order */
  mproc_free(s);
  ck_assert_str_eq(mproc_value_str(mproc_set_item(s1, 1)), "aa");
  ck_assert_ptr_null(mproc_set_item(s1, 2));
  x = mproc_str("aa");
  ck_assert_int_eq(mproc_set_contains(s1, x), 1);
  mproc_value_free(x);
  x = mproc_str("zz");
  ck_assert_int_eq(mproc_set_contains(s1, x), 0);
  mproc_value_free(x);
  /* Equality ignores order; a set is not a list, dict or tuple. */
  s2 = mproc_build("<ss>", "aa", "ss");
  ck_assert(mproc_value_equal(s1, s2));
  ck_mproc_ok(mproc_set_add(s2, mproc_int(3)));
  ck_assert(!mproc_value_equal(s1, s2));
  mproc_value_free(s2);
  s2 = mproc_build("[ss]", "ss", "aa");
  ck_assert(!mproc_value_equal(s1, s2));
  mproc_value_free(s2);
  /* 1 == 1.0 == True: one member, the first stays. */
  s2 = mproc_set();
  ck_mproc_ok(mproc_set_add(s2, mproc_int(1)));
  ck_mproc_ok(mproc_set_add(s2, mproc_float(1.0)));
  ck_mproc_ok(mproc_set_add(s2, mproc_bool(1)));
  ck_mproc_ok(mproc_set_add(s2, mproc_build("(ii)", 1, 2)));
  ck_mproc_ok(mproc_set_add(s2, mproc_build("(fb)", 1.0, 2)));
  check_repr_free(mproc_value_copy(s2), "{1, (1, 2), (1.0, True)}");
  x = mproc_build("(ii)", 1, 1);
  ck_assert_int_eq(mproc_set_contains(s2, x), 1);
  mproc_value_free(x);
  ck_mproc(mproc_set_add(s2, mproc_build("[i]", 1)), MPROC_ETYPE);
  ck_assert_str_eq(mproc_last_error(), "unhashable type: 'list'");
  x = mproc_list();
  ck_mproc(mproc_set_contains(s2, x), MPROC_ETYPE);
  ck_mproc(mproc_set_contains(x, x), MPROC_ETYPE);
  mproc_value_free(x);
  ck_mproc(mproc_set_add(s2, s2), MPROC_EINVAL);
  ck_assert_uint_eq(mproc_set_len(s2), 3);
  mproc_value_free(s2);
  /* Many members: the index keeps working, copies are equal. */
  {
    int i;
    s2 = mproc_set();
    for (i = 0; i < 1000; i++)
      ck_mproc_ok(mproc_set_add(s2, mproc_int(i % 500)));
    ck_assert_uint_eq(mproc_set_len(s2), 500);
    x = mproc_value_copy(s2);
    ck_assert(mproc_value_equal(x, s2));
    mproc_value_free(x);
    mproc_value_free(s2);
  }
  mproc_value_free(s1);
}
END_TEST

/* Singletons are shared and survive any number of frees. */
START_TEST(test_singletons) {
  mproc_value *l = mproc_build("[n n b i i s y ()]", 1, 7, 7, "", "", (size_t)0);
  int i;
  ck_assert_ptr_eq(mproc_none(), mproc_none());
  ck_assert_ptr_eq(mproc_int(256), mproc_int(256));
  ck_assert_ptr_eq(mproc_int(-8), mproc_int(-8));
  for (i = 0; i < 3; i++) {
    mproc_value_free(mproc_none());
    mproc_value_free(mproc_int(5));
    mproc_value_free(mproc_str(""));
  }
  check_repr_free(l, "[None, None, True, 7, 7, '', b'', ()]");
  check_repr_free(mproc_int(-9), "-9");
  check_repr_free(mproc_int(257), "257");
  check_repr_free(mproc_int(5), "5");
}
END_TEST

/* ---- hash flooding (issue 8, point 7) ------------------------------------ */

/* The hash mproc used before: a fixed bijection of the int, so keys whose
 * images agree in the low bits all land on one index slot. */
static uint64_t old_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static uint64_t old_unmix64(uint64_t x) {
  x ^= (x >> 31) ^ (x >> 62);
  x *= 0x319642b2d24d8ec3ULL;
  x ^= (x >> 27) ^ (x >> 54);
  x *= 0x96de1b173f119089ULL;
  x ^= (x >> 30) ^ (x >> 60);
  return x;
}

/* The k-th crafted key: its old hash is k << 32 (low 32 bits all zero). */
int64_t mproc_test_flood_key(uint64_t k);
int64_t mproc_test_flood_key(uint64_t k) {
  uint64_t x = old_unmix64((k + 1) << 32);
  ck_assert_uint_eq(old_mix64(x), (k + 1) << 32);
  return (int64_t)x;
}

START_TEST(test_hash_flood) {
  enum { N = 5000 };
  mproc_value *d = mproc_dict(), *s = mproc_set(), *k;
  size_t i, probes;
  for (i = 0; i < N; i++) {
    ck_mproc_ok(mproc_dict_set(d, mproc_int(mproc_test_flood_key(i)),
                               mproc_int((int64_t)i)));
    ck_mproc_ok(mproc_set_add(s, mproc_int(mproc_test_flood_key(i))));
  }
  ck_assert_uint_eq(mproc_dict_len(d), N);
  /* Linear probing at most half full averages under 2 probes a key; the
   * old hash took ~N/2 (12.5 M here). */
  probes = mproc__dict_probes(d);
  ck_assert_uint_ge(probes, N);
  ck_assert_uint_lt(probes, 4 * N);
  ck_assert_uint_lt(mproc__dict_probes(s), 4 * N);
  for (i = 0; i < N; i += 97) {
    int64_t x = -1;
    k = mproc_int(mproc_test_flood_key(i));
    ck_mproc_ok(mproc_value_get_int(mproc_dict_get(d, k), &x));
    ck_assert(x == (int64_t)i);
    ck_assert_int_eq(mproc_set_contains(s, k), 1);
    mproc_value_free(k);
  }
  mproc_value_free(d);
  mproc_value_free(s);
}
END_TEST

/* The Manager's dict delete (mproc__table_del): O(1) with Python's order.
 * The expected repr and popitem came from python3 running the same ops. */
static void del_ok(mproc_value *d, mproc_value *key) {
  ck_assert_int_eq(mproc__table_del(d, key, NULL, NULL), 1);
  mproc_value_free(key);
}

START_TEST(test_dict_delete_order) {
  mproc_value *d = mproc_dict(), *k = NULL, *v = NULL, *c;
  char *s = NULL;
  int i;
  for (i = 0; i < 40; i++)
    ck_mproc_ok(mproc_dict_set(d, mproc_int(i), mproc_int(i)));
  for (i = 0; i < 40; i += 3)
    del_ok(d, mproc_int(i));
  ck_mproc_ok(mproc_dict_set(d, mproc_int(3), mproc_str("a")));
  ck_mproc_ok(mproc_dict_set(d, mproc_int(0), mproc_str("b")));
  ck_mproc_ok(mproc_dict_set(d, mproc_float(1.0), mproc_str("x")));
  ck_mproc_ok(mproc_dict_set(d, mproc_build("(ii)", 1, 2), mproc_int(7)));
  del_ok(d, mproc_int(38));
  del_ok(d, mproc_float(37.0)); /* 37.0 == 37 */
  /* popitem: the last entry */
  {
    size_t last = mproc__table_used(d) - 1;
    ck_assert_int_eq(
        mproc__table_del(d, d->u.dict.e[last].key, &k, &v), 1);
  }
  ck_mproc_ok(mproc_repr(k, &s));
  ck_assert_str_eq(s, "(1, 2)");
  mproc_free(s);
  ck_assert(mproc_value_equal(v, mproc_int(7)));
  mproc_value_free(k);
  mproc_value_free(v);
  ck_mproc_ok(mproc_dict_set(d, mproc_float(2.0), mproc_none()));
  ck_mproc_ok(mproc_dict_set(d, mproc_build("(ii)", 1, 2), mproc_int(8)));
  del_ok(d, mproc_int(5));
  for (i = 100; i < 140; i++)
    ck_mproc_ok(mproc_dict_set(d, mproc_int(i), mproc_int(0)));
  for (i = 100; i < 140; i++)
    del_ok(d, mproc_int(i));
  ck_mproc_ok(mproc_dict_set(d, mproc_bool(1), mproc_str("t")));
  ck_mproc_ok(mproc_dict_set(d, mproc_int(5), mproc_int(5)));
  /* absent keys, an unhashable one */
  k = mproc_int(999);
  ck_assert_int_eq(mproc__table_del(d, k, NULL, NULL), 0);
  mproc_value_free(k);
  k = mproc_list();
  ck_assert_int_eq(mproc__table_del(d, k, NULL, NULL), MPROC_ETYPE);
  mproc_value_free(k);
  ck_assert_uint_eq(mproc_dict_len(d), 27);
  ck_mproc_ok(mproc_repr(d, &s));
  ck_assert_str_eq(s, "{1: 't', 2: None, 4: 4, 7: 7, 8: 8, 10: 10, 11: 11, "
                      "13: 13, 14: 14, 16: 16, 17: 17, 19: 19, 20: 20, 22: "
                      "22, 23: 23, 25: 25, 26: 26, 28: 28, 29: 29, 31: 31, "
                      "32: 32, 34: 34, 35: 35, 3: 'a', 0: 'b', (1, 2): 8, "
                      "5: 5}");
  mproc_free(s);
  /* positional access, copy, equality and the codec skip the holes */
  ck_mproc_ok(mproc_dict_item(d, 26, &k, &v));
  ck_assert(mproc_value_equal(k, mproc_int(5)));
  c = mproc_value_copy(d);
  ck_assert(mproc_value_equal(c, d));
  mproc_value_free(c);
  {
    void *buf = NULL;
    size_t n = 0;
    ck_mproc_ok(mproc_encode(d, &buf, &n));
    ck_mproc_ok(mproc_decode(buf, n, &c));
    mproc_free(buf);
    ck_assert_uint_eq(mproc__table_used(c), 27); /* no holes */
    ck_assert(mproc_value_equal(c, d));
    mproc_value_free(c);
  }
  mproc_value_free(d);
}
END_TEST

/* 100 000 inserts then deletes (in insertion order, then in reverse):
 * the probes and entry moves stay O(1) each (a delete that closed the gap
 * would move ~n^2/2 = 5e9 entries). */
START_TEST(test_dict_delete_work) {
  const int n = 100000;
  int pass, i;
  for (pass = 0; pass < 2; pass++) {
    mproc_value *d = mproc_dict(), *k;
    size_t w;
    mproc__dict_work(1);
    for (i = 0; i < n; i++)
      ck_mproc_ok(mproc_dict_set(d, mproc_int(i), mproc_none()));
    for (i = 0; i < n; i++) {
      k = mproc_int(pass ? n - 1 - i : i);
      ck_assert_int_eq(mproc__table_del(d, k, NULL, NULL), 1);
      mproc_value_free(k);
    }
    w = mproc__dict_work(0);
    ck_assert_uint_eq(mproc_dict_len(d), 0);
    ck_assert_msg(w < (size_t)n * 12, "pass %d: work %lu for %d keys", pass,
                  (unsigned long)w, n);
    /* and refilled: the holes go at the next resize */
    for (i = 0; i < 1000; i++)
      ck_mproc_ok(mproc_dict_set(d, mproc_int(i), mproc_int(i)));
    ck_assert_uint_eq(mproc_dict_len(d), 1000);
    ck_assert_uint_le(mproc__dict_probes(d), 5000); /* dummies stay */
    mproc_value_free(d);
  }
}
END_TEST

/* Random inserts, deletes and popitems against a plain model of Python's
 * dict (keys in insertion order): same order and values at every step,
 * across resizes, dummies filling the index and shrinking back to a small
 * dense table. */
START_TEST(test_dict_delete_model) {
  enum { KEYS = 200, OPS = 30000 };
  int order[KEYS], val[KEYS], n = 0, op, i, j;
  uint64_t x = 12345;
  mproc_value *d = mproc_dict(), *k, *v;
  for (op = 0; op < OPS; op++) {
    int key, kind;
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    key = (int)((x >> 33) % (op % 5000 < 2500 ? KEYS : 24));
    kind = (int)((x >> 20) % 7);
    for (i = 0; i < n && order[i] != key; i++)
      ;
    if (kind < 3) { /* d[key] = op */
      ck_mproc_ok(mproc_dict_set(d, mproc_int(key), mproc_int(op)));
      if (i == n)
        order[n++] = key;
      val[key] = op;
    } else if (kind < 6) { /* del d[key] */
      k = (x >> 40) & 1 ? mproc_float(key) : mproc_int(key);
      ck_assert_int_eq(mproc__table_del(d, k, NULL, &v), i < n);
      mproc_value_free(k);
      if (i < n) {
        int64_t got = -1;
        ck_mproc_ok(mproc_value_get_int(v, &got));
        ck_assert_int_eq(got, val[key]);
        mproc_value_free(v);
        memmove(order + i, order + i + 1, (size_t)(n - i - 1) * sizeof *order);
        n--;
      }
    } else if (n > 0) { /* popitem */
      size_t last = mproc__table_used(d) - 1;
      int64_t got = -1;
      ck_assert_int_eq(mproc__table_del(d, d->u.dict.e[last].key, &k, &v), 1);
      ck_mproc_ok(mproc_value_get_int(k, &got));
      ck_assert_int_eq(got, order[n - 1]);
      mproc_value_free(k);
      mproc_value_free(v);
      n--;
    }
    ck_assert_uint_eq(mproc_dict_len(d), (size_t)n);
    if (op % 97 == 0 || op == OPS - 1)
      for (j = 0; j < n; j++) {
        int64_t kk = -1, vv = -1;
        ck_mproc_ok(mproc_dict_item(d, (size_t)j, &k, &v));
        ck_mproc_ok(mproc_value_get_int(k, &kk));
        ck_mproc_ok(mproc_value_get_int(v, &vv));
        ck_assert_int_eq(kk, order[j]);
        ck_assert_int_eq(vv, val[order[j]]);
        ck_assert_ptr_eq(mproc_dict_get(d, k), v);
      }
  }
  mproc_value_free(d);
}
END_TEST

Suite *mproc_suite_value(void) {
  Suite *s = suite_create("value");
  TCase *tc = tcase_create("value");
  tcase_add_test(tc, test_scalars);
  tcase_add_test(tc, test_utf8);
  tcase_add_test(tc, test_repr_scalars);
  tcase_add_test(tc, test_repr_floats);
  tcase_add_test(tc, test_repr_containers);
  tcase_add_test(tc, test_list);
  tcase_add_test(tc, test_dict_basic);
  tcase_add_test(tc, test_dict_replace);
  tcase_add_test(tc, test_dict_big);
  tcase_add_test(tc, test_equal);
  tcase_add_test(tc, test_copy);
  tcase_add_test(tc, test_objects);
  tcase_add_test(tc, test_build);
  tcase_add_test(tc, test_tuple);
  tcase_add_test(tc, test_set);
  tcase_add_test(tc, test_singletons);
  tcase_add_test(tc, test_hash_flood);
  tcase_add_test(tc, test_dict_delete_order);
  tcase_add_test(tc, test_dict_delete_work);
  tcase_add_test(tc, test_dict_delete_model);
  suite_add_tcase(s, tc);
  return s;
}
