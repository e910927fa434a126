/*
 * test_shmem.c - Value, Array, RawValue and RawArray for every typecode,
 * and SharedMemory: data both ways between processes, item ranges, locks,
 * names, and nothing left behind (POSIX: /dev/shm and the resource
 * tracker; both OSes: handles).
 *
 * Children are this binary re-executed; they report through exit codes
 * (0 success, 1..31 the negated mproc error code, 100 and up a wrong value)
 * and the parent asserts.  They are daemons unless they need children of
 * their own, so a failed assertion does not leave the binary waiting.
 *
 * The two OSes differ where Python's SharedMemory does, and the tests
 * check each one's documented behaviour: on POSIX a name stays until it
 * is unlinked (or the resource tracker unlinks it when the creating
 * process tree has ended); on Windows a name lives exactly as long as a
 * handle to the block does, and unlink does nothing.  The tests branch on
 * mproc__plat_names_persist(), the run-time form of that difference.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#if defined(__linux__)
#include <dirent.h>
#endif

#include "children.h"

static const char typecodes[] = "bBhHiIlLqQfdc";
#define NTYPES (sizeof typecodes - 1)

static size_t c_size(char tc) {
  switch (tc) {
  case 'b':
    return sizeof(signed char);
  case 'B':
    return sizeof(unsigned char);
  case 'h':
    return sizeof(short);
  case 'H':
    return sizeof(unsigned short);
  case 'i':
    return sizeof(int);
  case 'I':
    return sizeof(unsigned int);
  case 'l':
    return sizeof(long);
  case 'L':
    return sizeof(unsigned long);
  case 'q':
    return sizeof(long long);
  case 'Q':
    return sizeof(unsigned long long);
  case 'f':
    return sizeof(float);
  case 'd':
    return sizeof(double);
  case 'c':
    return sizeof(char);
  default:
    return 0;
  }
}

/* n items of pattern seed (1..3), as tc's C type, near the type's limits. */
static void fill(char tc, void *d, size_t n, int seed) {
  size_t i;
  for (i = 0; i < n; i++) {
    int k = seed * 37 + (int)i * 11; /* 37 .. 155 for 5 items */
    switch (tc) {
    case 'b':
      ((signed char *)d)[i] = (signed char)(-100 + k);
      break;
    case 'B':
      ((unsigned char *)d)[i] = (unsigned char)(UCHAR_MAX - k);
      break;
    case 'h':
      ((short *)d)[i] = (short)(SHRT_MIN + k);
      break;
    case 'H':
      ((unsigned short *)d)[i] = (unsigned short)(USHRT_MAX - k);
      break;
    case 'i':
      ((int *)d)[i] = INT_MIN + k;
      break;
    case 'I':
      ((unsigned int *)d)[i] = UINT_MAX - (unsigned int)k;
      break;
    case 'l':
      ((long *)d)[i] = LONG_MIN + k;
      break;
    case 'L':
      ((unsigned long *)d)[i] = ULONG_MAX - (unsigned long)k;
      break;
    case 'q':
      ((long long *)d)[i] = LLONG_MIN + k;
      break;
    case 'Q':
      ((unsigned long long *)d)[i] = ULLONG_MAX - (unsigned long long)k;
      break;
    case 'f':
      ((float *)d)[i] = (float)k + 0.5f;
      break;
    case 'd':
      ((double *)d)[i] = (double)k * 0.125 + 1e15;
      break;
    default:
      ((char *)d)[i] = (char)('A' + k % 26);
      break;
    }
  }
}

#define MAX_ITEMS 5

/* 1 if the n items at d are pattern seed. */
static int is_pattern(char tc, const void *d, size_t n, int seed) {
  long double want[MAX_ITEMS]; /* aligned and large enough for any type */
  if (n > MAX_ITEMS || !d)
    return 0;
  fill(tc, want, n, seed);
  return memcmp(d, want, n * c_size(tc)) == 0;
}

static int is_zero(const void *d, size_t bytes) {
  const unsigned char *p = d;
  size_t i;
  for (i = 0; i < bytes; i++)
    if (p[i])
      return 0;
  return 1;
}

static mproc_value *recv_value(mproc_conn *c) {
  mproc_value *v = NULL;
  ck_assert_msg(mproc_conn_poll(c, 60) == 1, "nothing from the child in 60 s");
  ck_mproc_ok(mproc_conn_recv(c, &v));
  return v;
}

static void expect_word(mproc_conn *c, const char *word) {
  mproc_value *v = recv_value(c);
  ck_assert_pstr_eq(mproc_value_str(v), word);
  mproc_value_free(v);
}

/* ---- names this suite made, checked at its end -------------------------- */

static char made[64][64];
static int nmade;

static void remember(const char *name) {
  if (nmade < 64)
    snprintf(made[nmade++], sizeof made[0], "%s", name);
}

/* A name of this run: mproc_test_<pid>_<tag>. */
static const char *test_name(char *buf, size_t cap, const char *tag) {
  snprintf(buf, cap, "mproc_test_%ld_%s",
           mproc_process_pid(mproc_current_process()), tag);
  remember(buf);
  return buf;
}

#if defined(__linux__)
/* The /dev/shm entries whose names start with "mproc" (up to cap). */
static int list_dev_shm(char names[][256], int cap) {
  DIR *d = opendir("/dev/shm");
  struct dirent *e;
  int n = 0;
  if (!d)
    return -1;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "mproc", 5) == 0) {
      if (n < cap)
        snprintf(names[n], 256, "%s", e->d_name);
      n++;
    }
  closedir(d);
  return n;
}

static char shm_before[256][256];
static int nshm_before = -1;
#endif

/* ======================================================================== */
/* The resource tracker (first: this process must not have one yet)         */
/* ======================================================================== */

/* args [SharedMemory, conn]: checks the data, says "attached", waits. */
static int attached_grandchild(mproc_value *args) {
  mproc_shm *m = NULL;
  unsigned char *p;
  if (mproc_value_get_shm(mproc_list_get(args, 0), &m) != 0 || !m)
    return 101;
  p = mproc_shm_buf(m);
  if (!p || p[0] != 0xA5 || p[4095] != 0x5A)
    return 102;
  CHILD_CK(say(arg_conn(args, 1), "attached"), 0);
  mproc_sleep(60);
  return 0;
}

/*
 * args [conn]: creates a SharedMemory (random name, never unlinked: this
 * starts the tree's resource tracker), starts a daemon grandchild attached
 * to it (which inherits the tracker), sends the name up, and waits to be
 * killed.
 */
static int shm_creator(mproc_value *args) {
  mproc_conn *up = arg_conn(args, 0), *a, *b;
  mproc_process *g;
  mproc_process_opts o = MPROC_PROCESS_OPTS_INIT;
  mproc_shm *m;
  mproc_value *v = NULL;
  unsigned char *p;
  CHILD_CK(mproc_shm_new(&m, NULL, 1, 4096), 0);
  p = mproc_shm_buf(m);
  p[0] = 0xA5;
  p[4095] = 0x5A;
  CHILD_CK(mproc_pipe(&a, &b, 1), 0);
  o.daemon = 1;
  CHILD_CK(mproc_process_new(&g, attached_grandchild,
                             mproc_build("[O C]", mproc_shm_ref(m), b), &o),
           0);
  CHILD_CK(mproc_process_start(g), 0);
  CHILD_CK(mproc_conn_recv(a, &v), 0);
  if (!mproc_value_str(v) || strcmp(mproc_value_str(v), "attached") != 0)
    return 103;
  mproc_value_free(v);
  CHILD_CK(say(up, mproc_shm_name(m)), 0);
  mproc_sleep(60);
  return 0;
}

START_TEST(killed_tree_leaves_no_name) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *v;
  mproc_shm *m = NULL;
  char name[64];
  double t0;
  int rc;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  /* Not a daemon: it has a child of its own. */
  p = start_opt(shm_creator, mproc_build("[C]", b), 0);
  v = recv_value(a);
  ck_assert_ptr_nonnull(mproc_value_str(v));
  snprintf(name, sizeof name, "%s", mproc_value_str(v));
  mproc_value_free(v);
  remember(name);
  /* The block is there, by name, with the creator's data. */
  ck_mproc_ok(mproc_shm_new(&m, name, 0, 0));
  ck_assert_uint_ge(mproc_shm_size(m), 4096);
  ck_assert_int_eq(((unsigned char *)mproc_shm_buf(m))[0], 0xA5);
  mproc_shm_free(m);
  /* Kill the creator; its daemon grandchild dies with it (PDEATHSIG /
   * the Job object), so no process of that tree runs any cleanup.
   * POSIX: the tracker sees every writer gone and unlinks the name.
   * Windows: the last handle is gone, and so is the name. */
  ck_mproc_ok(mproc_process_kill(p));
  ck_exit(p, -9);
  t0 = now();
  for (;;) {
    rc = mproc_shm_new(&m, name, 0, 0);
    if (rc != 0 || now() - t0 > 5)
      break;
    mproc_shm_free(m);
    mproc_sleep(0.05);
  }
  if (rc == 0)
    mproc_shm_free(m);
  ck_assert_msg(rc == MPROC_ENOENT,
                "'%s' still opens %.1f s after its tree was killed (%s)", name,
                now() - t0, mproc_errname(rc));
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* ======================================================================== */
/* Value, Array, RawValue, RawArray                                         */
/* ======================================================================== */

enum { S_VALUE, S_ARRAY, S_RAWVALUE, S_RAWARRAY, S_NKINDS };

static int make_shared(mproc_shared **s, int kind, char tc, const void *init) {
  switch (kind) {
  case S_VALUE:
    return mproc_shared_value(s, tc, init, NULL);
  case S_ARRAY:
    return mproc_shared_array(s, tc, MAX_ITEMS, init, NULL);
  case S_RAWVALUE:
    return mproc_shared_rawvalue(s, tc, init);
  default:
    return mproc_shared_rawarray(s, tc, MAX_ITEMS, init);
  }
}

/*
 * args [old seed, new seed, has lock, shared...]: each object must hold
 * pattern old (and have a lock exactly if has lock); writes pattern new
 * under its lock (if any).  100 + i: object i was wrong.
 */
static int check_and_write(mproc_value *args) {
  int old = (int)arg_i64(args, 0), nw = (int)arg_i64(args, 1);
  int has_lock = (int)arg_i64(args, 2);
  size_t i, n = mproc_list_len(args);
  for (i = 3; i < n; i++) {
    mproc_shared *s = arg_shared(args, i);
    char tc;
    if (!s)
      return 100 + (int)i;
    tc = mproc_shared_typecode(s);
    if (mproc_shared_itemsize(s) != c_size(tc) ||
        !is_pattern(tc, mproc_shared_data(s), mproc_shared_len(s), old) ||
        (mproc_shared_get_lock(s) != NULL) != has_lock)
      return 100 + (int)i;
    if (has_lock)
      CHILD_CK(mproc_shared_acquire(s, 30), 0);
    fill(tc, mproc_shared_data(s), mproc_shared_len(s), nw);
    if (has_lock)
      CHILD_CK(mproc_shared_release(s), 0);
  }
  return 0;
}

/* Loop over the four kinds: every typecode, zeroed and initialised, data
 * seen by a child and the child's writes seen here. */
START_TEST(every_typecode_both_ways) {
  mproc_shared *zero[NTYPES], *init[NTYPES];
  mproc_value *args =
      mproc_build("[i i i]", 1, 2, _i == S_VALUE || _i == S_ARRAY);
  size_t n = _i == S_VALUE || _i == S_RAWVALUE ? 1 : MAX_ITEMS, t;
  for (t = 0; t < NTYPES; t++) {
    char tc = typecodes[t];
    long double pat[MAX_ITEMS];
    fill(tc, pat, n, 1);
    ck_mproc_ok(make_shared(&zero[t], _i, tc, NULL));
    ck_mproc_ok(make_shared(&init[t], _i, tc, pat));
    ck_assert_int_eq(mproc_shared_typecode(init[t]), tc);
    ck_assert_uint_eq(mproc_shared_len(init[t]), n);
    ck_assert_msg(mproc_shared_itemsize(init[t]) == c_size(tc),
                  "'%c': itemsize %lu, sizeof the C type %lu", tc,
                  (unsigned long)mproc_shared_itemsize(init[t]),
                  (unsigned long)c_size(tc));
    ck_assert_msg(is_zero(mproc_shared_data(zero[t]), n * c_size(tc)),
                  "'%c' does not start zeroed", tc);
    ck_assert_msg(is_pattern(tc, mproc_shared_data(init[t]), n, 1),
                  "'%c' does not hold its init data", tc);
    /* The init buffer was copied, not kept. */
    fill(tc, pat, n, 3);
    ck_assert(is_pattern(tc, mproc_shared_data(init[t]), n, 1));
    ck_assert_int_eq(mproc_list_append(args, mproc_shared_ref(init[t])), 0);
  }
  ck_exit(start(check_and_write, args), 0);
  for (t = 0; t < NTYPES; t++) {
    ck_assert_msg(is_pattern(typecodes[t], mproc_shared_data(init[t]), n, 2),
                  "'%c': the child's writes are not seen", typecodes[t]);
    mproc_shared_free(zero[t]);
    mproc_shared_free(init[t]);
  }
}
END_TEST

typedef struct int_range {
  char tc;
  int64_t lo, hi;
  int below, above; /* lo - 1 / hi + 1 are representable in int64 */
} int_range;

START_TEST(int_ranges_and_indices) {
  int_range r[] = {
      {'b', SCHAR_MIN, SCHAR_MAX, 1, 1},
      {'B', 0, UCHAR_MAX, 1, 1},
      {'h', SHRT_MIN, SHRT_MAX, 1, 1},
      {'H', 0, USHRT_MAX, 1, 1},
      {'i', INT_MIN, INT_MAX, 1, 1},
      {'I', 0, UINT_MAX, 1, 1},
      {'l', LONG_MIN, LONG_MAX, sizeof(long) < 8, sizeof(long) < 8},
      {'L', 0, sizeof(long) < 8 ? (int64_t)ULONG_MAX : INT64_MAX, 1,
       sizeof(long) < 8},
      {'q', INT64_MIN, INT64_MAX, 0, 0},
      {'Q', 0, INT64_MAX, 1, 0},
  };
  size_t k;
  for (k = 0; k < sizeof r / sizeof r[0]; k++) {
    mproc_shared *s;
    int64_t got = 12345;
    ck_mproc_ok(mproc_shared_rawarray(&s, r[k].tc, 3, NULL));
    ck_mproc_ok(mproc_shared_set_int(s, 0, r[k].lo));
    ck_mproc_ok(mproc_shared_get_int(s, 0, &got));
    ck_assert_msg(got == r[k].lo, "'%c' low end", r[k].tc);
    ck_mproc_ok(mproc_shared_set_int(s, 2, r[k].hi));
    ck_mproc_ok(mproc_shared_get_int(s, 2, &got));
    ck_assert_msg(got == r[k].hi, "'%c' high end", r[k].tc);
    if (r[k].below)
      ck_mproc(mproc_shared_set_int(s, 0, r[k].lo - 1), MPROC_EINVAL);
    if (r[k].above)
      ck_mproc(mproc_shared_set_int(s, 2, r[k].hi + 1), MPROC_EINVAL);
    /* A refused value leaves the item alone. */
    ck_mproc_ok(mproc_shared_get_int(s, 0, &got));
    ck_assert_msg(got == r[k].lo, "'%c' changed by a refused set", r[k].tc);
    ck_mproc_ok(mproc_shared_get_int(s, 2, &got));
    ck_assert_msg(got == r[k].hi, "'%c' changed by a refused set", r[k].tc);
    ck_mproc(mproc_shared_get_int(s, 3, &got), MPROC_ERANGE);
    ck_mproc(mproc_shared_set_int(s, 3, 0), MPROC_ERANGE);
    ck_mproc(mproc_shared_get_int(s, (size_t)-1, &got), MPROC_ERANGE);
    mproc_shared_free(s);
  }
  /* Floats: through double, and indices. */
  {
    mproc_shared *f, *d;
    double got = 0;
    ck_mproc_ok(mproc_shared_rawarray(&f, 'f', 2, NULL));
    ck_mproc_ok(mproc_shared_array(&d, 'd', 2, NULL, NULL));
    ck_mproc_ok(mproc_shared_set_float(f, 1, 2.5));
    ck_mproc_ok(mproc_shared_get_float(f, 1, &got));
    ck_assert(got == 2.5);
    ck_assert(((float *)mproc_shared_data(f))[1] == 2.5f);
    ck_mproc_ok(mproc_shared_set_float(d, 0, -1e300));
    ck_mproc_ok(mproc_shared_get_float(d, 0, &got));
    ck_assert(got == -1e300);
    ck_assert(((double *)mproc_shared_data(d))[0] == -1e300);
    ck_mproc(mproc_shared_get_float(d, 2, &got), MPROC_ERANGE);
    ck_mproc(mproc_shared_set_float(f, 2, 1.0), MPROC_ERANGE);
    mproc_shared_free(f);
    mproc_shared_free(d);
  }
  /* A Value is one item. */
  {
    mproc_shared *v;
    int64_t got;
    ck_mproc_ok(mproc_shared_value(&v, 'i', NULL, NULL));
    ck_assert_uint_eq(mproc_shared_len(v), 1);
    ck_mproc_ok(mproc_shared_set_int(v, 0, -7));
    ck_assert_int_eq(*(int *)mproc_shared_data(v), -7);
    ck_mproc(mproc_shared_get_int(v, 1, &got), MPROC_ERANGE);
    mproc_shared_free(v);
  }
}
END_TEST

/* A byte, as Python's Value('c') holds bytes of length 1: 0..255. */
START_TEST(c_is_a_byte) {
  mproc_shared *v;
  int64_t got = 0;
  uint64_t ugot = 0;
  double f = 0;
  ck_mproc_ok(mproc_shared_value(&v, 'c', NULL, NULL));
  ck_mproc_ok(mproc_shared_set_int(v, 0, 255));
  ck_assert_int_eq(*(unsigned char *)mproc_shared_data(v), 0xff);
  ck_mproc_ok(mproc_shared_get_int(v, 0, &got));
  ck_assert_int_eq(got, 255); /* not -1: no signed char */
  ck_mproc_ok(mproc_shared_get_uint(v, 0, &ugot));
  ck_assert_uint_eq(ugot, 255);
  ck_mproc_ok(mproc_shared_get_float(v, 0, &f));
  ck_assert(f == 255.0);
  *(unsigned char *)mproc_shared_data(v) = 0x80; /* written as C data */
  ck_mproc_ok(mproc_shared_get_int(v, 0, &got));
  ck_assert_int_eq(got, 128);
  ck_mproc_ok(mproc_shared_set_int(v, 0, 'x'));
  ck_assert_int_eq(*(char *)mproc_shared_data(v), 'x');
  ck_mproc_ok(mproc_shared_set_int(v, 0, 0));
  ck_mproc(mproc_shared_set_int(v, 0, -1), MPROC_EINVAL);
  ck_mproc(mproc_shared_set_int(v, 0, 256), MPROC_EINVAL);
  ck_mproc(mproc_shared_set_uint(v, 0, 256), MPROC_EINVAL);
  ck_mproc(mproc_shared_set_float(v, 0, 65.0), MPROC_ETYPE);
  ck_mproc_ok(mproc_shared_get_int(v, 0, &got));
  ck_assert_int_eq(got, 0); /* the refused sets left it alone */
  ck_mproc_ok(mproc_shared_set_uint(v, 0, 200));
  ck_mproc_ok(mproc_shared_get_int(v, 0, &got));
  ck_assert_int_eq(got, 200);
  mproc_shared_free(v);
}
END_TEST

/*
 * A float into an integer typecode is Python's TypeError (MPROC_ETYPE),
 * even 3.0, and so is reading a float typecode as an integer; an integer
 * into 'f' or 'd' works (Python: Value('d').value = 3).
 */
START_TEST(floats_and_integers_do_not_mix) {
  static const char ints[] = "bBhHiIlLqQc";
  mproc_shared *s;
  int64_t got;
  uint64_t ugot;
  double f;
  size_t k;
  for (k = 0; ints[k]; k++) {
    ck_mproc_ok(mproc_shared_rawarray(&s, ints[k], 1, NULL));
    ck_mproc_ok(mproc_shared_set_int(s, 0, 7));
    ck_mproc(mproc_shared_set_float(s, 0, 3.0), MPROC_ETYPE);
    ck_mproc(mproc_shared_set_float(s, 0, 0.5), MPROC_ETYPE);
    got = 0;
    ck_mproc_ok(mproc_shared_get_int(s, 0, &got));
    ck_assert_msg(got == 7, "'%c' changed by a refused set_float", ints[k]);
    ck_mproc_ok(mproc_shared_get_float(s, 0, &f));
    ck_assert_msg(f == 7.0, "'%c' get_float", ints[k]);
    mproc_shared_free(s);
  }
  for (k = 0; k < 2; k++) {
    char tc = k ? 'd' : 'f';
    ck_mproc_ok(mproc_shared_value(&s, tc, NULL, NULL));
    ck_mproc_ok(mproc_shared_set_int(s, 0, 3));
    ck_mproc_ok(mproc_shared_get_float(s, 0, &f));
    ck_assert(f == 3.0);
    ck_mproc_ok(mproc_shared_set_int(s, 0, -5));
    ck_mproc_ok(mproc_shared_get_float(s, 0, &f));
    ck_assert(f == -5.0);
    ck_mproc_ok(mproc_shared_set_uint(s, 0, 1u << 20));
    ck_mproc_ok(mproc_shared_get_float(s, 0, &f));
    ck_assert(f == 1048576.0);
    ck_mproc(mproc_shared_get_int(s, 0, &got), MPROC_ETYPE);
    ck_mproc(mproc_shared_get_uint(s, 0, &ugot), MPROC_ETYPE);
    /* NaN in the memory is no longer cast to an integer (undefined). */
    ck_mproc_ok(mproc_shared_set_float(s, 0, NAN));
    ck_mproc(mproc_shared_get_int(s, 0, &got), MPROC_ETYPE);
    mproc_shared_free(s);
  }
}
END_TEST

typedef struct urange {
  char tc;
  uint64_t max;   /* the largest item */
  int64_t min;    /* the smallest */
} urange;

/*
 * 'Q' (and 'L' where long has 64 bits) above INT64_MAX: get_int is
 * MPROC_ERANGE pointing to get_uint, which with set_uint works for every
 * integer typecode, range checked both ways.
 */
START_TEST(uint64_items) {
  urange r[] = {
      {'b', SCHAR_MAX, SCHAR_MIN}, {'B', UCHAR_MAX, 0},
      {'h', SHRT_MAX, SHRT_MIN},   {'H', USHRT_MAX, 0},
      {'i', INT_MAX, INT_MIN},     {'I', UINT_MAX, 0},
      {'l', LONG_MAX, LONG_MIN},   {'L', ULONG_MAX, 0},
      {'q', INT64_MAX, INT64_MIN}, {'Q', UINT64_MAX, 0},
      {'c', 255, 0},
  };
  size_t k;
  for (k = 0; k < sizeof r / sizeof r[0]; k++) {
    mproc_shared *s;
    int64_t got = 0;
    uint64_t ugot = 0;
    double f = 0;
    ck_mproc_ok(mproc_shared_rawarray(&s, r[k].tc, 2, NULL));
    ck_mproc_ok(mproc_shared_set_uint(s, 0, r[k].max));
    ck_mproc_ok(mproc_shared_get_uint(s, 0, &ugot));
    ck_assert_msg(ugot == r[k].max, "'%c' get_uint of its largest item",
                  r[k].tc);
    ck_mproc_ok(mproc_shared_get_float(s, 0, &f));
    ck_assert_msg(f == (double)r[k].max, "'%c' get_float", r[k].tc);
    if (r[k].max > (uint64_t)INT64_MAX) {
      ck_mproc(mproc_shared_get_int(s, 0, &got), MPROC_ERANGE);
      ck_assert_ptr_nonnull(strstr(mproc_last_error(), "get_uint"));
      ck_mproc(mproc_shared_set_int(s, 0, -1), MPROC_EINVAL);
    } else {
      ck_mproc_ok(mproc_shared_get_int(s, 0, &got));
      ck_assert_msg((uint64_t)got == r[k].max, "'%c' get_int", r[k].tc);
      ck_mproc(mproc_shared_set_uint(s, 0, r[k].max + 1), MPROC_EINVAL);
      ck_mproc_ok(mproc_shared_get_uint(s, 0, &ugot));
      ck_assert_msg(ugot == r[k].max, "'%c' changed by a refused set",
                    r[k].tc);
    }
    ck_mproc(mproc_shared_set_uint(s, 2, 0), MPROC_ERANGE);
    ck_mproc(mproc_shared_get_uint(s, 2, &ugot), MPROC_ERANGE);
    ck_mproc(mproc_shared_get_uint(s, 0, NULL), MPROC_EINVAL);
    /* The smallest item: get_uint refuses a negative one. */
    ck_mproc_ok(mproc_shared_set_int(s, 1, r[k].min));
    ck_mproc_ok(mproc_shared_get_int(s, 1, &got));
    ck_assert_msg(got == r[k].min, "'%c' smallest item", r[k].tc);
    if (r[k].min < 0) {
      ck_mproc(mproc_shared_get_uint(s, 1, &ugot), MPROC_ERANGE);
      ck_assert_ptr_nonnull(strstr(mproc_last_error(), "get_int"));
    } else {
      ck_mproc_ok(mproc_shared_get_uint(s, 1, &ugot));
      ck_assert_uint_eq(ugot, 0);
    }
    mproc_shared_free(s);
  }
  ck_mproc(mproc_shared_get_uint(NULL, 0, NULL), MPROC_EINVAL);
  ck_mproc(mproc_shared_set_uint(NULL, 0, 0), MPROC_EINVAL);
}
END_TEST

START_TEST(bad_arguments) {
  mproc_shared *s = NULL;
  int64_t got;
  ck_mproc(mproc_shared_value(&s, 'x', NULL, NULL), MPROC_EINVAL);
  ck_mproc(mproc_shared_rawvalue(&s, 'z', NULL), MPROC_EINVAL);
  ck_mproc(mproc_shared_array(&s, '\0', 2, NULL, NULL), MPROC_EINVAL);
  ck_mproc(mproc_shared_rawarray(&s, 'u', 2, NULL), MPROC_EINVAL);
  ck_assert_ptr_null(s);
  ck_mproc(mproc_shared_value(NULL, 'i', NULL, NULL), MPROC_EINVAL);
  ck_mproc(mproc_shared_rawarray(NULL, 'i', 2, NULL), MPROC_EINVAL);
  ck_assert_ptr_null(mproc_shared_data(NULL));
  ck_assert_uint_eq(mproc_shared_len(NULL), 0);
  ck_assert_ptr_null(mproc_shared_get_lock(NULL));
  ck_mproc(mproc_shared_acquire(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_shared_release(NULL), MPROC_EINVAL);
  ck_mproc(mproc_shared_get_int(NULL, 0, &got), MPROC_EINVAL);
  ck_mproc(mproc_shared_set_int(NULL, 0, 0), MPROC_EINVAL);
  ck_assert_ptr_null(mproc_shared_incref(NULL));
  mproc_shared_free(NULL);
  ck_assert_ptr_null(mproc_shared_ref(NULL));

  ck_mproc(mproc_shm_new(NULL, "x", 1, 10), MPROC_EINVAL);
  ck_assert_ptr_null(mproc_shm_buf(NULL));
  ck_assert_uint_eq(mproc_shm_size(NULL), 0);
  ck_mproc(mproc_shm_close(NULL), MPROC_EINVAL);
  ck_mproc(mproc_shm_unlink(NULL), MPROC_EINVAL);
  mproc_shm_free(NULL);
  ck_assert_ptr_null(mproc_shm_ref(NULL));
}
END_TEST

/* args [shared, conn]: takes its lock, says "held", keeps it 0.3 s. */
static int hold_value_lock(mproc_value *args) {
  mproc_shared *s = arg_shared(args, 0);
  CHILD_CK(mproc_shared_acquire(s, 30), 0);
  CHILD_CK(say(arg_conn(args, 1), "held"), 0);
  mproc_sleep(0.3);
  CHILD_CK(mproc_shared_release(s), 0);
  return 0;
}

START_TEST(value_locks) {
  mproc_shared *v, *raw;
  mproc_lock *l, *r;
  mproc_conn *a, *b;
  mproc_process *p;
  /* Default: an RLock of its own. */
  ck_mproc_ok(mproc_shared_value(&v, 'i', NULL, NULL));
  ck_assert_ptr_nonnull(mproc_shared_get_lock(v));
  ck_assert_int_eq(mproc_lock_is_recursive(mproc_shared_get_lock(v)), 1);
  ck_mproc_ok(mproc_shared_acquire(v, 0));
  ck_mproc_ok(mproc_shared_acquire(v, 0));
  ck_assert_int_eq(mproc_lock_is_mine(mproc_shared_get_lock(v)), 1);
  ck_mproc_ok(mproc_shared_release(v));
  ck_mproc_ok(mproc_shared_release(v));
  ck_mproc(mproc_shared_release(v), MPROC_ENOTOWNER);
  mproc_shared_free(v);

  /* Raw: no lock. */
  ck_mproc_ok(mproc_shared_rawarray(&raw, 'd', 4, NULL));
  ck_assert_ptr_null(mproc_shared_get_lock(raw));
  ck_mproc(mproc_shared_acquire(raw, 0), MPROC_EINVAL);
  ck_mproc(mproc_shared_release(raw), MPROC_EINVAL);
  mproc_shared_free(raw);

  /* A given Lock is the Value's lock, both ways, also after the caller
   * dropped its own reference to it (the Value keeps one). */
  ck_mproc_ok(mproc_lock_new(&l));
  ck_mproc_ok(mproc_shared_value(&v, 'q', NULL, l));
  ck_assert_int_eq(mproc_lock_is_recursive(mproc_shared_get_lock(v)), 0);
  ck_mproc_ok(mproc_lock_acquire(l, 0));
  ck_mproc(mproc_shared_acquire(v, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_lock_release(l));
  ck_mproc_ok(mproc_shared_acquire(v, 0));
  ck_mproc(mproc_lock_acquire(l, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_shared_release(v));
  /* It travels with the Value: a child holding the Value's lock holds l. */
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  p = start(hold_value_lock, mproc_build("[O C]", mproc_shared_ref(v), b));
  expect_word(a, "held");
  ck_mproc(mproc_lock_acquire(l, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_lock_acquire(l, 60));
  ck_exit(p, 0);
  ck_mproc_ok(mproc_lock_release(l));
  mproc_lock_free(l);
  ck_mproc_ok(mproc_shared_acquire(v, 0));
  ck_mproc_ok(mproc_shared_release(v));
  mproc_shared_free(v);
  mproc_conn_free(a);
  mproc_conn_free(b);

  /* An Array with a given RLock. */
  ck_mproc_ok(mproc_rlock_new(&r));
  ck_mproc_ok(mproc_shared_array(&v, 'h', 3, NULL, r));
  ck_assert_int_eq(mproc_lock_is_recursive(mproc_shared_get_lock(v)), 1);
  ck_mproc_ok(mproc_lock_acquire(r, 0));
  ck_mproc_ok(mproc_shared_acquire(v, 0)); /* the same RLock, same thread */
  ck_mproc_ok(mproc_shared_release(v));
  ck_mproc_ok(mproc_lock_release(r));
  ck_assert_int_eq(mproc_lock_is_mine(r), 0);
  mproc_shared_free(v);
  mproc_lock_free(r);
}
END_TEST

/* ======================================================================== */
/* SharedMemory                                                             */
/* ======================================================================== */

/* args [name or SharedMemory, size]: opens the block (by name, or as
 * inherited), checks bytes i = i % 251 over size, writes 255 - that. */
static int shm_peer(mproc_value *args) {
  mproc_value *first = mproc_list_get(args, 0);
  size_t size = (size_t)arg_i64(args, 1), i;
  mproc_shm *m = NULL, *opened = NULL;
  unsigned char *p;
  if (mproc_value_str(first)) {
    CHILD_CK(mproc_shm_new(&opened, mproc_value_str(first), 0, 0), 0);
    m = opened;
  } else if (mproc_value_get_shm(first, &m) != 0) {
    return 101;
  }
  if (mproc_shm_size(m) < size)
    return 102;
  if (mproc_value_str(first) &&
      strcmp(mproc_shm_name(m), mproc_value_str(first)) != 0)
    return 103;
  p = mproc_shm_buf(m);
  for (i = 0; i < size; i++)
    if (p[i] != (unsigned char)(i % 251))
      return 104;
  for (i = 0; i < size; i++)
    p[i] = (unsigned char)(255 - i % 251);
  if (opened) {
    CHILD_CK(mproc_shm_close(opened), 0);
    if (mproc_shm_buf(opened) != NULL)
      return 105;
    mproc_shm_free(opened);
  }
  return 0;
}

static void put_bytes(mproc_shm *m, size_t size) {
  unsigned char *p = mproc_shm_buf(m);
  size_t i;
  for (i = 0; i < size; i++)
    p[i] = (unsigned char)(i % 251);
}

static int peer_wrote(mproc_shm *m, size_t size) {
  unsigned char *p = mproc_shm_buf(m);
  size_t i;
  for (i = 0; i < size; i++)
    if (p[i] != (unsigned char)(255 - i % 251))
      return 0;
  return 1;
}

START_TEST(shm_by_name_both_ways) {
  mproc_shm *m, *again = NULL;
  char name[64];
  const size_t size = 10000;
  test_name(name, sizeof name, "both");
  ck_mproc_ok(mproc_shm_new(&m, name, 1, size));
  ck_assert_str_eq(mproc_shm_name(m), name);
  /* POSIX: exactly the size asked (fstat); Windows may round up to a page
   * (VirtualQuery, as Python). */
  ck_assert_uint_ge(mproc_shm_size(m), size);
  if (mproc__plat_names_persist())
    ck_assert_uint_eq(mproc_shm_size(m), size);
  ck_assert(is_zero(mproc_shm_buf(m), size));
  put_bytes(m, size);
  /* A child attaches by name ... */
  ck_exit(start(shm_peer, mproc_build("[s i]", name, (int)size)), 0);
  ck_assert(peer_wrote(m, size));
  /* ... or receives the block as an argument (it travels by name). */
  put_bytes(m, size);
  ck_exit(start(shm_peer, mproc_build("[O i]", mproc_shm_ref(m), (int)size)),
          0);
  ck_assert(peer_wrote(m, size));
  /* Taken: EEXIST, and the block is untouched. */
  ck_mproc(mproc_shm_new(&again, name, 1, size), MPROC_EEXIST);
  ck_assert_ptr_null(again);
  ck_assert(peer_wrote(m, size));
  /* A second attachment in this process sees the same bytes. */
  ck_mproc_ok(mproc_shm_new(&again, name, 0, 0));
  ck_assert(peer_wrote(again, size));
  ((unsigned char *)mproc_shm_buf(again))[7] = 77;
  ck_assert_int_eq(((unsigned char *)mproc_shm_buf(m))[7], 77);
  mproc_shm_free(again);
  ck_mproc_ok(mproc_shm_unlink(m));
  ck_mproc_ok(mproc_shm_close(m));
  ck_assert_ptr_null(mproc_shm_buf(m));
  ck_mproc_ok(mproc_shm_close(m)); /* closing twice is harmless */
  mproc_shm_free(m);
}
END_TEST

static int is_hex(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
          (*s >= 'A' && *s <= 'F')))
      return 0;
  return 1;
}

START_TEST(shm_names_and_errors) {
  mproc_shm *m = NULL, *m2 = NULL;
  char name[64];
  ck_mproc(mproc_shm_new(&m, test_name(name, sizeof name, "missing"), 0, 0),
           MPROC_ENOENT);
  ck_assert_ptr_null(m);
  ck_mproc(mproc_shm_new(&m, NULL, 0, 0), MPROC_EINVAL);
  ck_mproc(mproc_shm_new(&m, name, 1, 0), MPROC_EINVAL);
  ck_mproc(mproc_shm_new(&m, "no/slash", 1, 16), MPROC_EINVAL);
  ck_mproc(mproc_shm_new(&m, "", 1, 16), MPROC_EINVAL);
  /* No name: a random "mproc_<hex>" one, different every time. */
  ck_mproc_ok(mproc_shm_new(&m, NULL, 1, 64));
  ck_mproc_ok(mproc_shm_new(&m2, NULL, 1, 64));
  remember(mproc_shm_name(m));
  remember(mproc_shm_name(m2));
  ck_assert_int_eq(strncmp(mproc_shm_name(m), "mproc_", 6), 0);
  ck_assert_msg(is_hex(mproc_shm_name(m) + 6), "name '%s'", mproc_shm_name(m));
  ck_assert_str_ne(mproc_shm_name(m), mproc_shm_name(m2));
  ck_mproc_ok(mproc_shm_unlink(m));
  ck_mproc_ok(mproc_shm_unlink(m2));
  mproc_shm_free(m);
  mproc_shm_free(m2);
}
END_TEST

START_TEST(shm_name_lifetime) {
  mproc_shm *m, *o = NULL;
  char name[64];
  /* unlink with the creator's handle still open. */
  ck_mproc_ok(mproc_shm_new(&m, test_name(name, sizeof name, "unl"), 1, 32));
  ck_mproc_ok(mproc_shm_unlink(m));
  if (mproc__plat_names_persist()) {
    /* POSIX: the name is gone at once; the mapping still works. */
    ck_mproc(mproc_shm_new(&o, name, 0, 0), MPROC_ENOENT);
    ((char *)mproc_shm_buf(m))[0] = 1;
  } else {
    /* Windows: unlink does nothing; the name lives while a handle does. */
    ck_mproc_ok(mproc_shm_new(&o, name, 0, 0));
    mproc_shm_free(o);
  }
  mproc_shm_free(m);
  ck_mproc(mproc_shm_new(&o, name, 0, 0), MPROC_ENOENT);

  /* close without unlink. */
  ck_mproc_ok(mproc_shm_new(&m, test_name(name, sizeof name, "cls"), 1, 32));
  ((char *)mproc_shm_buf(m))[31] = 42;
  ck_mproc_ok(mproc_shm_close(m));
  ck_assert_ptr_null(mproc_shm_buf(m));
  mproc_shm_free(m);
  if (mproc__plat_names_persist()) {
    /* POSIX: the block stays until someone unlinks it. */
    ck_mproc_ok(mproc_shm_new(&o, name, 0, 0));
    ck_assert_int_eq(((char *)mproc_shm_buf(o))[31], 42);
    ck_mproc_ok(mproc_shm_unlink(o));
    mproc_shm_free(o);
  }
  /* Windows: the last handle went with close. */
  ck_mproc(mproc_shm_new(&o, name, 0, 0), MPROC_ENOENT);
}
END_TEST

/* ======================================================================== */
/* Objects travel only at spawn                                             */
/* ======================================================================== */

START_TEST(objects_only_travel_at_spawn) {
  mproc_shared *v, *a, *rv, *ra;
  mproc_shm *m;
  mproc_conn *c1, *c2;
  char name[64];
  struct {
    const char *name;
    mproc_value *ref;
  } cases[5];
  size_t i;
  ck_mproc_ok(mproc_shared_value(&v, 'i', NULL, NULL));
  ck_mproc_ok(mproc_shared_array(&a, 'i', 2, NULL, NULL));
  ck_mproc_ok(mproc_shared_rawvalue(&rv, 'i', NULL));
  ck_mproc_ok(mproc_shared_rawarray(&ra, 'i', 2, NULL));
  ck_mproc_ok(mproc_shm_new(&m, test_name(name, sizeof name, "inh"), 1, 16));
  cases[0].name = "Value";
  cases[0].ref = mproc_shared_ref(v);
  cases[1].name = "Array";
  cases[1].ref = mproc_shared_ref(a);
  cases[2].name = "RawValue";
  cases[2].ref = mproc_shared_ref(rv);
  cases[3].name = "RawArray";
  cases[3].ref = mproc_shared_ref(ra);
  cases[4].name = "SharedMemory";
  cases[4].ref = mproc_shm_ref(m);
  ck_mproc_ok(mproc_pipe(&c1, &c2, 1));
  for (i = 0; i < 5; i++) {
    char want[160];
    mproc_value *val = mproc_build("[O]", cases[i].ref);
    ck_assert_ptr_nonnull(val);
    snprintf(want, sizeof want,
             "%s objects should only be shared between processes through "
             "inheritance",
             cases[i].name);
    ck_mproc(mproc_conn_send(c1, val), MPROC_EINHERIT);
    ck_assert_str_eq(mproc_last_error(), want);
    mproc_value_free(val);
  }
  ck_assert_int_eq(mproc_conn_poll(c2, 0), 0);
  mproc_conn_free(c1);
  mproc_conn_free(c2);
  ck_mproc_ok(mproc_shm_unlink(m));
  mproc_shm_free(m);
  mproc_shared_free(v);
  mproc_shared_free(a);
  mproc_shared_free(rv);
  mproc_shared_free(ra);
}
END_TEST

/* ======================================================================== */
/* Nothing left behind (last)                                               */
/* ======================================================================== */

/*
 * Create and free one object of every type: the process's handle list is
 * back where it was.  Linux lists every fd, so the nameless blocks (one
 * memfd each) show while they live.  Win32's list_handles sees only file,
 * pipe and char handles, not the mappings and park semaphores these
 * objects hold, so there it checks only that no such handle is left.
 */
START_TEST(handles_back_to_baseline) {
  long list[512];
  int base, during, after;
  mproc_lock *l, *r;
  mproc_sem *s, *bs;
  mproc_event *e;
  mproc_cond *c1, *c2;
  mproc_barrier *b;
  mproc_shared *sh[5];
  mproc_shm *m;
  char name[64];
  int i;
  /* A POSIX named block starts this process's resource tracker (one pipe
   * end, kept for the process's life): make it exist before the count. */
  ck_mproc_ok(mproc_shm_new(&m, test_name(name, sizeof name, "warm"), 1, 8));
  ck_mproc_ok(mproc_shm_unlink(m));
  mproc_shm_free(m);
  base = mproc__plat_list_handles(list, 512);
  ck_assert_int_gt(base, 0);

  ck_mproc_ok(mproc_lock_new(&l));
  ck_mproc_ok(mproc_rlock_new(&r));
  ck_mproc_ok(mproc_sem_new(&s, 1));
  ck_mproc_ok(mproc_bsem_new(&bs, 1));
  ck_mproc_ok(mproc_event_new(&e));
  ck_mproc_ok(mproc_cond_new(&c1, NULL));
  ck_mproc_ok(mproc_cond_new(&c2, l));
  ck_mproc_ok(mproc_barrier_new(&b, 2, NULL, MPROC_FOREVER));
  ck_mproc_ok(mproc_shared_value(&sh[0], 'i', NULL, NULL));
  ck_mproc_ok(mproc_shared_array(&sh[1], 'd', 100, NULL, NULL));
  ck_mproc_ok(mproc_shared_rawvalue(&sh[2], 'q', NULL));
  ck_mproc_ok(mproc_shared_rawarray(&sh[3], 'c', 5000, NULL));
  ck_mproc_ok(mproc_shared_value(&sh[4], 'i', NULL, r));
  ck_mproc_ok(mproc_shm_new(&m, test_name(name, sizeof name, "hnd"), 1, 64));
  during = mproc__plat_list_handles(list, 512);
#if defined(__linux__)
  /* At least one fd per block: 8 sync objects, 4 Values/Arrays with a
   * block of their own, 1 SharedMemory. */
  ck_assert_msg(during >= base + 13, "%d fds with the objects, %d before",
                during, base);
#else
  ck_assert_int_ge(during, base);
#endif
  ck_mproc_ok(mproc_shm_unlink(m));
  mproc_shm_free(m);
  for (i = 0; i < 5; i++)
    mproc_shared_free(sh[i]);
  mproc_barrier_free(b);
  mproc_cond_free(c2);
  mproc_cond_free(c1);
  mproc_event_free(e);
  mproc_sem_free(bs);
  mproc_sem_free(s);
  mproc_lock_free(r);
  mproc_lock_free(l);
  after = mproc__plat_list_handles(list, 512);
  ck_assert_msg(after == base, "%d handles after freeing, %d before", after,
                base);
}
END_TEST

/* Every name this suite made is gone (both OSes); on Linux no new "mproc*"
 * entry is left in /dev/shm either (another mproc run on the machine at
 * the same time could add one: run the suites alone). */
START_TEST(no_names_left) {
  int i;
  for (i = 0; i < nmade; i++) {
    mproc_shm *m = NULL;
    int rc = mproc_shm_new(&m, made[i], 0, 0);
    if (rc == 0)
      mproc_shm_free(m);
    ck_assert_msg(rc == MPROC_ENOENT, "'%s' is still there (%s)", made[i],
                  mproc_errname(rc));
  }
#if defined(__linux__)
  {
    static char after[256][256];
    int n = list_dev_shm(after, 256), j, k;
    ck_assert_int_ge(nshm_before, 0);
    ck_assert_int_ge(n, 0);
    for (j = 0; j < n && j < 256; j++) {
      int old = 0;
      for (k = 0; k < nshm_before && k < 256; k++)
        if (strcmp(after[j], shm_before[k]) == 0)
          old = 1;
      ck_assert_msg(old, "/dev/shm/%s was left behind", after[j]);
    }
    ck_assert_int_le(n, nshm_before);
  }
#endif
}
END_TEST

Suite *mproc_suite_shmem(void) {
  Suite *s = suite_create("shmem");
  TCase *tracker = tcase_create("tracker");
  TCase *shared = tcase_create("shared");
  TCase *shm = tcase_create("shm");
  TCase *leaks = tcase_create("leaks");
#if defined(__linux__)
  /* The baseline for no_names_left, before any test runs. */
  nshm_before = list_dev_shm(shm_before, 256);
#endif
  /* First: it needs a process without a resource tracker of its own (a
   * child inherits its parent's, which would then outlive the tree). */
  tcase_add_test(tracker, killed_tree_leaves_no_name);
  suite_add_tcase(s, tracker);

  tcase_add_loop_test(shared, every_typecode_both_ways, 0, S_NKINDS);
  tcase_add_test(shared, int_ranges_and_indices);
  tcase_add_test(shared, c_is_a_byte);
  tcase_add_test(shared, floats_and_integers_do_not_mix);
  tcase_add_test(shared, uint64_items);
  tcase_add_test(shared, bad_arguments);
  tcase_add_test(shared, value_locks);
  suite_add_tcase(s, shared);

  tcase_add_test(shm, shm_by_name_both_ways);
  tcase_add_test(shm, shm_names_and_errors);
  tcase_add_test(shm, shm_name_lifetime);
  tcase_add_test(shm, objects_only_travel_at_spawn);
  suite_add_tcase(s, shm);

  tcase_add_test(leaks, handles_back_to_baseline);
  tcase_add_test(leaks, no_names_left);
  suite_add_tcase(s, leaks);
  return s;
}
