/*
 * test_queue.c - Queue, SimpleQueue and JoinableQueue between processes
 * (docs/queue.md section 5): values and raw bytes from 0 B to 40 MiB
 * in FIFO order, many producers and consumers, maxsize, exact qsize,
 * close, nothing lost when a producer exits or is killed after put, a
 * producer killed in the middle of a streamed item, a consumer killed in
 * the middle of one, JoinableQueue's task_done/join, objects that travel
 * only at spawn, NULL arguments and handles.
 *
 * Most tests loop over the three kinds (_i: K_QUEUE, K_SIMPLE,
 * K_JOINABLE).  Children are this binary re-executed and never use check's
 * macros: a child's exit code is its report.  0 is success; 1..31 is the
 * negated mproc error code of the call that went wrong (5 is MPROC_EEOF,
 * 4 MPROC_ECLOSED...); 100 and up is a wrong value.  The parent asserts.
 * Test children are daemons, so a failed assertion (which leaves a
 * CK_NOFORK test early) does not keep the binary waiting for them.
 *
 * Item contents: fill_item() writes a pattern that depends on the item's
 * seed and position (a 65521-byte table, a prime length, so that no chunk
 * of the ring lines up with it) and, from 8 bytes on, the seed and size in
 * the first 8 bytes; item_bad() checks every byte.
 *
 * Timed assertions only bound a timeout from below (and generously from
 * above); none asserts speed.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* kill, SIGSTOP, SIGCONT */
#endif
#include <limits.h>
#include <stdio.h>
#if defined(_WIN32)
#include <windows.h>
#else
#include <signal.h>
#include <sys/types.h>
#endif

#include "children.h"

enum { K_QUEUE, K_SIMPLE, K_JOINABLE, K_NKINDS };
static const char *const kind_name[K_NKINDS] = {"Queue", "SimpleQueue",
                                                "JoinableQueue"};

#define MIB ((size_t)1 << 20)
#define BIG (40 * MIB)

/* ---- item contents --------------------------------------------------------
 */

#define PAT_LEN ((size_t)65521)
static unsigned char g_pat[PAT_LEN];
static int g_pat_ready;

static void pat_ready(void) {
  uint32_t x = 2463534242u;
  size_t i;
  if (g_pat_ready)
    return;
  for (i = 0; i < PAT_LEN; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    g_pat[i] = (unsigned char)(x >> 24);
  }
  g_pat_ready = 1;
}

static size_t pat_start(uint32_t seed) {
  return (size_t)((uint64_t)seed * 7919u % PAT_LEN);
}

/* The item of that seed and size n into p. */
static void fill_item(unsigned char *p, size_t n, uint32_t seed) {
  size_t off = pat_start(seed), done = 0;
  pat_ready();
  while (done < n) {
    size_t k = PAT_LEN - off;
    if (k > n - done)
      k = n - done;
    memcpy(p + done, g_pat + off, k);
    done += k;
    off = 0;
  }
  if (n >= 8) {
    uint32_t h[2];
    h[0] = seed;
    h[1] = (uint32_t)n;
    memcpy(p, h, sizeof h);
  }
}

/* The seed written in an item's header (items of 8 bytes and more). */
static uint32_t item_seed(const void *p, size_t n) {
  uint32_t h[2] = {0, 0};
  if (n >= 8)
    memcpy(h, p, sizeof h);
  return h[0];
}

/* 0 if p[0..n) is exactly the item of that seed and size want_n; else 1
 * with the reason in why. */
static int item_bad(const void *pv, size_t n, size_t want_n, uint32_t seed,
                    char *why, size_t cap) {
  const unsigned char *p = pv;
  size_t off = pat_start(seed), done = 0, i;
  pat_ready();
  if (n != want_n) {
    snprintf(why, cap, "%lu bytes, wanted %lu", (unsigned long)n,
             (unsigned long)want_n);
    return 1;
  }
  if (n >= 8) {
    uint32_t h[2];
    memcpy(h, p, sizeof h);
    if (h[0] != seed || h[1] != (uint32_t)n) {
      snprintf(why, cap, "header (seed %lu, size %lu), wanted (%lu, %lu)",
               (unsigned long)h[0], (unsigned long)h[1], (unsigned long)seed,
               (unsigned long)n);
      return 1;
    }
  }
  while (done < n) {
    size_t k = PAT_LEN - off;
    if (k > n - done)
      k = n - done;
    if (memcmp(p + done, g_pat + off, k) != 0)
      for (i = 0; i < k; i++)
        if (p[done + i] != g_pat[off + i] && (n < 8 || done + i >= 8)) {
          snprintf(why, cap, "byte %lu of %lu is %u, wanted %u",
                   (unsigned long)(done + i), (unsigned long)n, p[done + i],
                   g_pat[off + i]);
          return 1;
        }
    done += k;
    off = 0;
  }
  return 0;
}

/* A new buffer holding the item (NULL if out of memory). */
static unsigned char *new_item(size_t n, uint32_t seed) {
  unsigned char *p = malloc(n ? n : 1);
  if (p)
    fill_item(p, n, seed);
  return p;
}

/* ---- helpers for the parent --------------------------------------------- */

static mproc_queue *new_kind(int kind, long maxsize) {
  mproc_queue *q = NULL;
  if (kind == K_SIMPLE)
    ck_mproc_ok(mproc_simplequeue_new(&q));
  else if (kind == K_JOINABLE)
    ck_mproc_ok(mproc_joinablequeue_new(&q, maxsize));
  else
    ck_mproc_ok(mproc_queue_new(&q, maxsize));
  ck_assert_ptr_nonnull(q);
  return q;
}

/* A queue whose buffer may not grow past 1 MiB (as every queue was before
 * buffers grew): the tests of a full ring and of streamed items. */
static mproc_queue *new_capped(int kind, long maxsize) {
  mproc_queue_opts o = MPROC_QUEUE_OPTS_INIT;
  mproc_queue *q = NULL;
  o.maxsize = maxsize;
  o.maxbytes = MIB;
  ck_mproc_ok(mproc_queue_new_opts(&q,
                                   kind == K_SIMPLE     ? MPROC_QUEUE_SIMPLE
                                   : kind == K_JOINABLE ? MPROC_QUEUE_JOINABLE
                                                        : MPROC_QUEUE_PLAIN,
                                   &o));
  ck_assert_ptr_nonnull(q);
  return q;
}

/* A queue of kind with those options. */
static mproc_queue *new_opts(int kind, long maxsize, size_t bufsize,
                             size_t maxbytes) {
  mproc_queue_opts o = MPROC_QUEUE_OPTS_INIT;
  mproc_queue *q = NULL;
  o.maxsize = maxsize;
  o.bufsize = bufsize;
  o.maxbytes = maxbytes;
  ck_mproc_ok(mproc_queue_new_opts(&q,
                                   kind == K_SIMPLE     ? MPROC_QUEUE_SIMPLE
                                   : kind == K_JOINABLE ? MPROC_QUEUE_JOINABLE
                                                        : MPROC_QUEUE_PLAIN,
                                   &o));
  ck_assert_ptr_nonnull(q);
  return q;
}

/* 1 if the next message on c is word (within 60 s); no check macros, for
 * the places where a child must be resumed before asserting. */
static int got_word(mproc_conn *c, const char *word) {
  mproc_value *v = NULL;
  const char *s;
  int ok;
  if (mproc_conn_poll(c, 60) != 1 || mproc_conn_recv(c, &v) != 0)
    return 0;
  s = mproc_value_str(v);
  ok = s && strcmp(s, word) == 0;
  mproc_value_free(v);
  return ok;
}

static void expect_word(mproc_conn *c, const char *word) {
  ck_assert_msg(got_word(c, word), "no '%s' from the child in 60 s", word);
}

/* ck_assert that elapsed seconds lie in [lo, hi). */
#define ck_elapsed(t0, lo, hi)                                                 \
  do {                                                                         \
    double ck_el_ = now() - (t0);                                              \
    ck_assert_msg(ck_el_ >= (lo) && ck_el_ < (hi),                             \
                  "took %.3f s, wanted [%.3f, %.3f)", ck_el_, (double)(lo),    \
                  (double)(hi));                                               \
  } while (0)

/* Get one raw item (within 60 s) and check it is the item of that seed
 * and size. */
static void expect_item(mproc_queue *q, size_t n, uint32_t seed,
                        const char *what) {
  void *p = NULL;
  size_t got = 0;
  char why[160];
  int bad;
  ck_mproc_ok(mproc_queue_get_bytes(q, &p, &got, 60));
  bad = item_bad(p, got, n, seed, why, sizeof why);
  mproc_free(p);
  ck_assert_msg(!bad, "%s: %s", what, why);
}

/* Get one value (within 60 s); it must be an int equal to want. */
static void expect_int(mproc_queue *q, int64_t want) {
  mproc_value *v = NULL;
  int64_t i = -1;
  ck_mproc_ok(mproc_queue_get(q, &v, 60));
  ck_mproc_ok(mproc_value_get_int(v, &i));
  mproc_value_free(v);
  ck_assert_int_eq(i, want);
}

static void put_int(mproc_queue *q, int64_t i, double timeout) {
  mproc_value *v = mproc_int(i);
  ck_mproc_ok(mproc_queue_put(q, v, timeout));
  mproc_value_free(v);
}

/*
 * JoinableQueue: task_done for each of the n items received; then join
 * returns at once - an item whose put failed or whose producer died in
 * the middle of it was never put, so nobody has to task_done it.
 */
static void done_and_joined(mproc_queue *q, int kind, int n) {
  int i, rc;
  if (kind != K_JOINABLE)
    return;
  for (i = 0; i < n; i++)
    ck_mproc_ok(mproc_queue_task_done(q));
  rc = mproc_queue_join(q, 0);
  ck_assert_msg(rc == 0,
                "join(0) after task_done for each of the %d items received "
                "returned %s (%s): an item never put still counts",
                n, mproc_errname(rc), mproc_last_error());
  ck_mproc(mproc_queue_task_done(q), MPROC_EINVAL);
}

/* Stop (1) or continue (0) a whole process: SIGSTOP / SIGCONT, or
 * NtSuspendProcess / NtResumeProcess.  0 or -1. */
#if defined(_WIN32)
typedef LONG(NTAPI *nt_process_fn)(HANDLE);
static int suspend_process(long pid, int stop) {
  HMODULE nt = GetModuleHandleA("ntdll.dll");
  nt_process_fn fn = NULL;
  HANDLE h;
  LONG st;
  if (nt)
    fn = (nt_process_fn)(void (*)(void))GetProcAddress(
        nt, stop ? "NtSuspendProcess" : "NtResumeProcess");
  if (!fn)
    return -1;
  h = OpenProcess(PROCESS_SUSPEND_RESUME, FALSE, (DWORD)pid);
  if (!h)
    return -1;
  st = fn(h);
  CloseHandle(h);
  return st >= 0 ? 0 : -1;
}
#else
static int suspend_process(long pid, int stop) {
  return kill((pid_t)pid, stop ? SIGSTOP : SIGCONT) == 0 ? 0 : -1;
}
#endif

/* A put_bytes in a thread of this process, watched from the main thread:
 * a put that should return but blocks must fail the test, not hang it. */
typedef struct bg_put {
  mproc_queue *q;
  const void *p;
  size_t n;
  double timeout, took;
  int rc;
  mproc_event *done;
  mproc_thread *t;
} bg_put;

static int bg_put_body(void *arg) {
  bg_put *b = arg;
  double t0 = now();
  b->rc = mproc_queue_put_bytes(b->q, b->p, b->n, b->timeout);
  b->took = now() - t0;
  mproc_event_set(b->done);
  return 0;
}

static void bg_put_start(bg_put *b, mproc_queue *q, const void *p, size_t n,
                         double timeout) {
  memset(b, 0, sizeof *b);
  b->q = q;
  b->p = p;
  b->n = n;
  b->timeout = timeout;
  b->rc = 1000;
  ck_mproc_ok(mproc_event_new(&b->done));
  ck_mproc_ok(mproc_thread_start(&b->t, bg_put_body, b));
}

/*
 * Wait up to limit seconds for the put to return.  If it has not, this
 * thread reads the queue (dropping what it gets) until it does, so that
 * the test can fail instead of hanging.  Returns 1 if the put returned
 * by itself within limit, 0 if it had to be released.
 */
static int bg_put_finish(bg_put *b, double limit) {
  int in_time = mproc_event_wait(b->done, limit) == 0, result = -1;
  double t0 = now();
  while (!in_time && mproc_event_wait(b->done, 0) != 0 && now() - t0 < 120) {
    void *p = NULL;
    size_t n = 0;
    if (mproc_queue_get_bytes(b->q, &p, &n, 0.2) == 0)
      mproc_free(p);
  }
  ck_mproc_ok(mproc_event_wait(b->done, 0));
  ck_mproc_ok(mproc_thread_join(b->t, &result));
  ck_assert_int_eq(result, 0);
  mproc_event_free(b->done);
  return in_time;
}

/* ---- generic children ------------------------------------------------------
 */

/*
 * args [queue, op, n, first, delay, timeout, conn (optional)]: says
 * "ready" on conn if given, sleeps delay seconds, then:
 *   "put"       puts the ints first .. first+n-1
 *   "get"       gets n ints, which must be first .. first+n-1
 *   "get_done"  the same, calling task_done after each
 *   "done"      calls task_done n times
 *   "close"     closes the queue
 * with the given timeout for each call; the exit code is that of the first
 * call that failed (102 for a wrong value).
 */
static int qop(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  const char *op = mproc_value_str(mproc_list_get(args, 1));
  int64_t n = arg_i64(args, 2), first = arg_i64(args, 3), i;
  double timeout = arg_f(args, 5);
  mproc_conn *c = arg_conn(args, 6);
  if (!q || !op)
    return 101;
  if (c)
    CHILD_CK(say(c, "ready"), 0);
  mproc_sleep(arg_f(args, 4));
  if (strcmp(op, "close") == 0)
    return code_of(mproc_queue_close(q));
  if (strcmp(op, "done") == 0) {
    for (i = 0; i < n; i++)
      CHILD_CK(mproc_queue_task_done(q), 0);
    return 0;
  }
  for (i = 0; i < n; i++) {
    mproc_value *v = NULL;
    int64_t got = -1;
    int rc;
    if (strcmp(op, "put") == 0) {
      v = mproc_int(first + i);
      rc = mproc_queue_put(q, v, timeout);
      mproc_value_free(v);
      CHILD_CK(rc, 0);
      continue;
    }
    CHILD_CK(mproc_queue_get(q, &v, timeout), 0);
    rc = mproc_value_get_int(v, &got);
    mproc_value_free(v);
    if (rc != 0 || got != first + i)
      return 102;
    if (strcmp(op, "get_done") == 0)
      CHILD_CK(mproc_queue_task_done(q), 0);
  }
  return 0;
}

static mproc_process *start_qop(mproc_queue *q, const char *op, int n,
                                int first, double delay, double timeout,
                                mproc_conn *conn) {
  mproc_value *args = mproc_build("[O s i i f f]", mproc_queue_ref(q), op, n,
                                  first, delay, timeout);
  ck_assert_ptr_nonnull(args);
  if (conn)
    ck_mproc_ok(mproc_list_append(args, mproc_conn_ref(conn)));
  return start(qop, args);
}

/* ======================================================================== */
/* Sizes and values                                                         */
/* ======================================================================== */

/* Around the 1 MiB ring: 524280 is the largest one-chunk item (half the
 * ring less a chunk header), 524281 the smallest streamed one. */
static const size_t g_sizes[] = {0,       1,       7,        64,
                                 65536,   524280,  524281,   614400,
                                 1048576, 1048577, 16 * MIB, BIG};
#define NSIZES (sizeof g_sizes / sizeof g_sizes[0])
#define NSMALL 10

/* The i-th of a few small values of every shape. */
static mproc_value *small_value(size_t i) {
  switch (i) {
  case 0:
    return mproc_build("[s i f n b]", "spam", 42, 2.5, 1);
  case 1:
    return mproc_build("{s:i, s:[i i], s:s}", "a", 1, "b", 2, 3, "c",
                       "h\xc3\xa9llo \xe2\x9c\x93");
  case 2:
    return mproc_str("");
  case 3:
    return mproc_str("egg");
  case 4:
    return mproc_list();
  case 5:
    return mproc_dict();
  case 6:
    return mproc_none();
  case 7:
    return mproc_int(INT64_MIN);
  case 8:
    return mproc_build("[[s] {s:f} y]", "in", "k", -0.5, "\0\1\2", (size_t)3);
  default: {
    static char big[100001];
    memset(big, 'a', sizeof big - 1);
    return mproc_strn(big, sizeof big - 1);
  }
  }
}

/* Same process: put then get every small size, as bytes and as values,
 * with qsize/empty along the way. */
START_TEST(sizes_in_one_process) {
  static const size_t sizes[] = {0, 1, 7, 8, 9, 64, 65536, 65539};
  mproc_queue *q = new_kind(_i, 0);
  size_t k, ns = sizeof sizes / sizeof sizes[0];
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_assert_int_eq(mproc_queue_empty(q), 1);
  ck_assert_int_eq(mproc_queue_full(q), 0);
  for (k = 0; k < ns; k++) {
    unsigned char *b = new_item(sizes[k], (uint32_t)k);
    ck_assert_ptr_nonnull(b);
    ck_mproc_ok(mproc_queue_put_bytes(q, b, sizes[k], 0));
    free(b);
    ck_assert_int_eq(mproc_queue_qsize(q), (long)k + 1);
    ck_assert_int_eq(mproc_queue_empty(q), 0);
  }
  for (k = 0; k < NSMALL; k++) {
    mproc_value *v = small_value(k);
    ck_assert_ptr_nonnull(v);
    ck_mproc_ok(mproc_queue_put_nowait(q, v));
    mproc_value_free(v);
  }
  ck_assert_int_eq(mproc_queue_qsize(q), (long)(ns + NSMALL));
  for (k = 0; k < ns; k++)
    expect_item(q, sizes[k], (uint32_t)k, kind_name[_i]);
  for (k = 0; k < NSMALL; k++) {
    mproc_value *want = small_value(k), *got = NULL;
    char *r = NULL;
    ck_mproc_ok(mproc_queue_get_nowait(q, &got));
    if (!mproc_value_equal(got, want))
      mproc_repr(got, &r);
    mproc_value_free(want);
    mproc_value_free(got);
    ck_assert_msg(r == NULL, "small value %d came back as %s", (int)k,
                  r ? r : "");
  }
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_assert_int_eq(mproc_queue_empty(q), 1);
  if (_i == K_JOINABLE) {
    for (k = 0; k < ns + NSMALL; k++)
      ck_mproc_ok(mproc_queue_task_done(q));
    ck_mproc_ok(mproc_queue_join(q, 0));
  }
  mproc_queue_free(q);
}
END_TEST

/* args [queue]: puts every size as raw bytes (seed k), every size as a
 * value {"k": k, "data": bytes (seed 100 + k)}, then the small values. */
static int sizes_producer(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  unsigned char *buf = malloc(BIG);
  size_t k;
  int rc = 0;
  if (!q || !buf) {
    free(buf);
    return 101;
  }
  for (k = 0; rc == 0 && k < NSIZES; k++) {
    fill_item(buf, g_sizes[k], (uint32_t)k);
    rc = mproc_queue_put_bytes(q, buf, g_sizes[k], 60);
  }
  for (k = 0; rc == 0 && k < NSIZES; k++) {
    mproc_value *v;
    fill_item(buf, g_sizes[k], (uint32_t)(100 + k));
    v = mproc_build("{s:i, s:y}", "k", (int)k, "data", buf, g_sizes[k]);
    rc = v ? mproc_queue_put(q, v, 60) : MPROC_ENOMEM;
    mproc_value_free(v);
  }
  free(buf);
  for (k = 0; rc == 0 && k < NSMALL; k++) {
    mproc_value *v = small_value(k);
    rc = v ? mproc_queue_put(q, v, 60) : MPROC_ENOMEM;
    mproc_value_free(v);
  }
  return code_of(rc);
}

/* A child producer, this process the consumer: every size, byte for byte,
 * in the order put. */
START_TEST(sizes_from_child) {
  mproc_queue *q = new_kind(_i, 0);
  mproc_process *p;
  size_t k;
  char what[80];
  p = start(sizes_producer, mproc_build("[O]", mproc_queue_ref(q)));
  for (k = 0; k < NSIZES; k++) {
    snprintf(what, sizeof what, "%s: raw item %d", kind_name[_i], (int)k);
    expect_item(q, g_sizes[k], (uint32_t)k, what);
  }
  for (k = 0; k < NSIZES; k++) {
    mproc_value *v = NULL;
    int64_t kk = -1;
    const void *data = NULL;
    size_t n = 0;
    char why[160];
    int bad;
    ck_mproc_ok(mproc_queue_get(q, &v, 60));
    ck_mproc_ok(mproc_value_get_int(mproc_dict_get_str(v, "k"), &kk));
    ck_mproc_ok(
        mproc_value_get_bytes(mproc_dict_get_str(v, "data"), &data, &n));
    bad = item_bad(data, n, g_sizes[k], (uint32_t)(100 + k), why, sizeof why);
    ck_assert_int_eq(mproc_dict_len(v), 2);
    mproc_value_free(v);
    ck_assert_int_eq(kk, (int64_t)k);
    ck_assert_msg(!bad, "%s: value item %d: %s", kind_name[_i], (int)k, why);
  }
  for (k = 0; k < NSMALL; k++) {
    mproc_value *want = small_value(k), *got = NULL;
    int eq;
    ck_mproc_ok(mproc_queue_get(q, &got, 60));
    eq = mproc_value_equal(got, want);
    mproc_value_free(want);
    mproc_value_free(got);
    ck_assert_msg(eq, "%s: small value %d differs", kind_name[_i], (int)k);
  }
  ck_exit(p, 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  {
    mproc_value *none = NULL;
    ck_mproc(mproc_queue_get_nowait(q, &none), MPROC_EEMPTY);
    ck_assert_ptr_null(none);
  }
  if (_i == K_JOINABLE) {
    ck_mproc(mproc_queue_join(q, 0), MPROC_ETIMEDOUT);
    for (k = 0; k < 2 * NSIZES + NSMALL; k++)
      ck_mproc_ok(mproc_queue_task_done(q));
    ck_mproc_ok(mproc_queue_join(q, 0));
  }
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* Many producers, many consumers                                           */
/* ======================================================================== */

#define MM_PROCS 3
#define MM_N 20000

static const char g_xs[] = "xxxxxxxxxxxxxxxxxxxxxx"; /* 22 */

/* One item (who, seq), varying in size: a Queue carries [who, seq], a
 * SimpleQueue raw bytes {who, seq, seq % 61 bytes of seq}, a
 * JoinableQueue [who, seq, 22 - seq % 23 x's]. */
static int mm_put(mproc_queue *q, int kind, int who, int seq) {
  mproc_value *v;
  int rc;
  if (kind == K_SIMPLE) {
    unsigned char b[8 + 61];
    uint32_t h[2];
    size_t n = 8 + (size_t)(seq % 61);
    h[0] = (uint32_t)who;
    h[1] = (uint32_t)seq;
    memcpy(b, h, sizeof h);
    memset(b + 8, seq & 0xff, n - 8);
    return mproc_queue_put_bytes(q, b, n, 60);
  }
  v = kind == K_QUEUE ? mproc_build("[i i]", who, seq)
                      : mproc_build("[i i s]", who, seq, g_xs + seq % 23);
  rc = v ? mproc_queue_put(q, v, 60) : MPROC_ENOMEM;
  mproc_value_free(v);
  return rc;
}

/* Get one item: 0 with (who, seq), a negative mproc code, or 103 for a
 * malformed item. */
static int mm_get(mproc_queue *q, int kind, int *who, int *seq) {
  int rc, bad = 0;
  if (kind == K_SIMPLE) {
    void *pv = NULL;
    unsigned char *p;
    size_t n = 0, i;
    uint32_t h[2];
    rc = mproc_queue_get_bytes(q, &pv, &n, 60);
    if (rc)
      return rc;
    p = pv;
    if (n < 8) {
      mproc_free(p);
      return 103;
    }
    memcpy(h, p, sizeof h);
    *who = (int)h[0];
    *seq = (int)h[1];
    if (n != 8 + h[1] % 61)
      bad = 1;
    for (i = 8; i < n && !bad; i++)
      bad = p[i] != (h[1] & 0xff);
    mproc_free(p);
  } else {
    mproc_value *v = NULL;
    int64_t a = -1, b = -1;
    rc = mproc_queue_get(q, &v, 60);
    if (rc)
      return rc;
    bad = mproc_value_get_int(mproc_list_get(v, 0), &a) != 0 ||
          mproc_value_get_int(mproc_list_get(v, 1), &b) != 0 || b < 0 ||
          mproc_list_len(v) != (kind == K_QUEUE ? 2u : 3u);
    if (!bad && kind == K_JOINABLE) {
      const char *s = NULL;
      size_t n = 0;
      bad = mproc_value_get_str(mproc_list_get(v, 2), &s, &n) != 0 ||
            n != 22 - (size_t)(b % 23);
    }
    mproc_value_free(v);
    *who = (int)a;
    *seq = (int)b;
  }
  if (bad || *who < 0 || *who >= MM_PROCS || *seq < 0 || *seq >= MM_N)
    return 103;
  return 0;
}

/* args [queue, kind, who, gate...]: puts (who, 0) .. (who, MM_N - 1). */
static int mm_producer(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  int kind = (int)arg_i64(args, 1), who = (int)arg_i64(args, 2), i;
  if (!q)
    return 101;
  CHILD_CK(pass_gate(args), 0);
  for (i = 0; i < MM_N; i++)
    CHILD_CK(mm_put(q, kind, who, i), 0);
  return 0;
}

/*
 * args [queue, kind, me, RawArray 'B' seen, delay, gate...]: after the
 * gate and delay seconds, gets until EEOF,
 * counting each (who, seq) in its own part of seen; within each producer
 * the seqs must increase (102 if not).  JoinableQueue: task_done each.
 */
static int mm_consumer(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  int kind = (int)arg_i64(args, 1), me = (int)arg_i64(args, 2);
  unsigned char *seen = mproc_shared_data(arg_shared(args, 3));
  int last[MM_PROCS], i;
  if (!q || !seen)
    return 101;
  for (i = 0; i < MM_PROCS; i++)
    last[i] = -1;
  CHILD_CK(pass_gate(args), 0);
  mproc_sleep(arg_f(args, 4));
  for (;;) {
    int who = -1, seq = -1, rc = mm_get(q, kind, &who, &seq);
    size_t at;
    if (rc == MPROC_EEOF)
      return 0;
    if (rc)
      return rc < 0 ? -rc : rc;
    if (seq <= last[who])
      return 102;
    last[who] = seq;
    at = ((size_t)me * MM_PROCS + (size_t)who) * MM_N + (size_t)seq;
    if (seen[at] < 255)
      seen[at]++;
    if (kind == K_JOINABLE)
      CHILD_CK(mproc_queue_task_done(q), 0);
  }
}

START_TEST(many_producers_many_consumers) {
  int kind = _i % K_NKINDS;
  mproc_queue *q =
      _i >= K_NKINDS ? new_opts(kind, 0, 4096, 0) : new_kind(kind, 0);
  mproc_shared *arr;
  mproc_process *cons[MM_PROCS], *prod[MM_PROCS];
  unsigned char *seen;
  gate g;
  int i, c, w, s, lost = 0, dup = 0, first_bad = -1;
  gate_new(&g);
  ck_mproc_ok(
      mproc_shared_rawarray(&arr, 'B', MM_PROCS * MM_PROCS * MM_N, NULL));
  seen = mproc_shared_data(arr);
  for (i = 0; i < MM_PROCS; i++) {
    cons[i] = start(mm_consumer,
                    gated(&g, mproc_build("[O i i O f]", mproc_queue_ref(q),
                                          kind, i, mproc_shared_ref(arr),
                                          _i >= K_NKINDS ? 0.03 * i : 0.0)));
    prod[i] =
        start(mm_producer,
              gated(&g, mproc_build("[O i i]", mproc_queue_ref(q), kind, i)));
  }
  gate_open(&g);
  for (i = 0; i < MM_PROCS; i++)
    ck_exit(prod[i], 0);
  if (kind == K_JOINABLE)
    ck_mproc_ok(mproc_queue_join(q, MPROC_FOREVER));
  /* Producers done (and, joinable, every item done): consumers drain and
   * get EEOF. */
  ck_mproc_ok(mproc_queue_close(q));
  for (i = 0; i < MM_PROCS; i++)
    ck_exit(cons[i], 0);
  for (w = 0; w < MM_PROCS; w++)
    for (s = 0; s < MM_N; s++) {
      int n = 0;
      for (c = 0; c < MM_PROCS; c++)
        n += seen[((size_t)c * MM_PROCS + (size_t)w) * MM_N + (size_t)s];
      if (n == 0)
        lost++;
      if (n > 1)
        dup++;
      if (n != 1 && first_bad < 0)
        first_bad = w * MM_N + s;
    }
  ck_assert_msg(lost == 0 && dup == 0,
                "%s: %d items lost, %d received more than once (first: "
                "producer %d seq %d)",
                kind_name[kind], lost, dup, first_bad / MM_N, first_bad % MM_N);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  mproc_shared_free(arr);
  mproc_queue_free(q);
  gate_free(&g);
}
END_TEST

/* ======================================================================== */
/* maxsize, timeouts, qsize                                                 */
/* ======================================================================== */

/* Queue(2) and JoinableQueue(2) (_i: K_QUEUE, K_JOINABLE). */
START_TEST(maxsize_and_timeouts) {
  int kind = _i == 0 ? K_QUEUE : K_JOINABLE;
  mproc_queue *q = new_kind(kind, 2);
  mproc_value *v = mproc_str("third"), *got = NULL;
  mproc_process *p;
  void *b = NULL;
  size_t n = 0;
  double t0;
  put_int(q, 1, 0);
  ck_assert_int_eq(mproc_queue_full(q), 0);
  put_int(q, 2, 0);
  ck_mproc(mproc_queue_put_nowait(q, v), MPROC_EFULL);
  ck_mproc(mproc_queue_put_bytes(q, "x", 1, 0), MPROC_EFULL);
  ck_assert_int_eq(mproc_queue_full(q), 1);
  ck_assert_int_eq(mproc_queue_qsize(q), 2);
  ck_assert_int_eq(mproc_queue_empty(q), 0);
  t0 = now();
  ck_mproc(mproc_queue_put(q, v, 0.1), MPROC_EFULL);
  ck_elapsed(t0, 0.09, 5);
  t0 = now();
  ck_mproc(mproc_queue_put_bytes(q, "x", 1, 0.1), MPROC_EFULL);
  ck_elapsed(t0, 0.09, 5);
  ck_assert_int_eq(mproc_queue_qsize(q), 2);
  /* One out, one in; FIFO. */
  expect_int(q, 1);
  ck_assert_int_eq(mproc_queue_full(q), 0);
  ck_mproc_ok(mproc_queue_put_nowait(q, v));
  ck_assert_int_eq(mproc_queue_full(q), 1);
  expect_int(q, 2);
  ck_mproc_ok(mproc_queue_get_nowait(q, &got));
  ck_assert_pstr_eq(mproc_value_str(got), "third");
  mproc_value_free(got);
  got = NULL;
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_assert_int_eq(mproc_queue_empty(q), 1);
  ck_mproc(mproc_queue_get_nowait(q, &got), MPROC_EEMPTY);
  ck_assert_ptr_null(got);
  t0 = now();
  ck_mproc(mproc_queue_get(q, &got, 0.1), MPROC_EEMPTY);
  ck_elapsed(t0, 0.09, 5);
  t0 = now();
  ck_mproc(mproc_queue_get_bytes(q, &b, &n, 0.1), MPROC_EEMPTY);
  ck_elapsed(t0, 0.09, 5);

  /* FOREVER: a get wakes when a child puts 0.3 s after it starts... */
  t0 = now();
  p = start_qop(q, "put", 1, 77, 0.3, 60, NULL);
  ck_mproc_ok(mproc_queue_get(q, &got, MPROC_FOREVER));
  ck_elapsed(t0, 0.29, 60);
  {
    int64_t k = -1;
    ck_mproc_ok(mproc_value_get_int(got, &k));
    ck_assert_int_eq(k, 77);
  }
  mproc_value_free(got);
  got = NULL;
  ck_exit(p, 0);
  /* ...and a put on a full queue when a child gets. */
  put_int(q, 10, 0);
  put_int(q, 11, 0);
  t0 = now();
  p = start_qop(q, "get", 1, 10, 0.3, 60, NULL);
  put_int(q, 12, MPROC_FOREVER);
  ck_elapsed(t0, 0.29, 60);
  ck_exit(p, 0);
  expect_int(q, 11);
  expect_int(q, 12);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  /* JoinableQueue: the puts that gave EFULL did not count. */
  done_and_joined(q, kind, 7); /* 1, 2, "third", 77, 10, 11, 12 */
  mproc_value_free(v);
  mproc_queue_free(q);

  /* Queue(1). */
  q = new_kind(kind, 1);
  put_int(q, 1, 0);
  ck_assert_int_eq(mproc_queue_full(q), 1);
  ck_mproc(mproc_queue_put_bytes(q, "", 0, 0), MPROC_EFULL);
  expect_int(q, 1);
  ck_mproc_ok(mproc_queue_put_bytes(q, "", 0, 0));
  ck_assert_int_eq(mproc_queue_full(q), 1);
  mproc_queue_free(q);
}
END_TEST

START_TEST(maxsize_limits) {
  mproc_queue *q = NULL;
  int i, k;
  /* The largest maxsize, on every OS. */
  for (k = 0; k < 2; k++) {
    q = NULL;
    if (k == 0)
      ck_mproc_ok(mproc_queue_new(&q, 2147483647L));
    else
      ck_mproc_ok(mproc_joinablequeue_new(&q, 2147483647L));
    for (i = 0; i < 3; i++)
      put_int(q, i, 0);
    ck_assert_int_eq(mproc_queue_full(q), 0);
    ck_assert_int_eq(mproc_queue_qsize(q), 3);
    mproc_queue_free(q);
  }
#if LONG_MAX > 2147483647L
  /* Above 2^31-1: refused (a 64-bit long). */
  q = (mproc_queue *)&q;
  ck_mproc(mproc_queue_new(&q, 2147483648L), MPROC_EINVAL);
  ck_assert_ptr_null(q);
  ck_mproc(mproc_joinablequeue_new(&q, 2147483648L), MPROC_EINVAL);
  ck_mproc(mproc_queue_new(&q, LONG_MAX), MPROC_EINVAL);
  ck_mproc(mproc_joinablequeue_new(&q, LONG_MAX), MPROC_EINVAL);
  ck_assert_ptr_null(q);
#else
  /* A 32-bit long (Windows): every positive long is a valid maxsize. */
  ck_mproc_ok(mproc_queue_new(&q, LONG_MAX));
  ck_assert_int_eq(mproc_queue_full(q), 0);
  mproc_queue_free(q);
#endif
  /* maxsize <= 0: unbounded. */
  for (k = 0; k < 3; k++) {
    long m = k == 0 ? 0 : k == 1 ? -1 : LONG_MIN;
    q = NULL;
    ck_mproc_ok(mproc_queue_new(&q, m));
    for (i = 0; i < 1000; i++)
      put_int(q, i, 0);
    ck_assert_int_eq(mproc_queue_full(q), 0);
    ck_assert_int_eq(mproc_queue_qsize(q), 1000);
    for (i = 0; i < 1000; i++)
      expect_int(q, i);
    mproc_queue_free(q);
  }
  q = NULL;
  ck_mproc_ok(mproc_joinablequeue_new(&q, -7));
  for (i = 0; i < 100; i++)
    put_int(q, i, 0);
  ck_assert_int_eq(mproc_queue_full(q), 0);
  mproc_queue_free(q);
}
END_TEST

/* An unbounded queue whose buffer is at its cap (maxbytes 1 MiB):
 * put_nowait gives EFULL naming the cap, a put with a timeout waits that
 * long, and space comes back with a get. */
START_TEST(ring_full) {
  mproc_queue *q = new_capped(_i, 0);
  unsigned char *b = new_item(65536, 9);
  double t0;
  int i, rc = 0, put = 0;
  ck_assert_ptr_nonnull(b);
  for (i = 0; i < 100 && rc == 0; i++) {
    rc = mproc_queue_put_bytes(q, b, 65536, 0);
    if (rc == 0)
      put++;
  }
  ck_mproc(rc, MPROC_EFULL);
  ck_assert_msg(strstr(mproc_last_error(), "maxbytes 1048576") != NULL,
                "the error does not name the cap: %s", mproc_last_error());
  ck_assert_int_gt(put, 1);
  ck_assert_int_eq(mproc_queue_qsize(q), put);
  t0 = now();
  ck_mproc(mproc_queue_put_bytes(q, b, 65536, 0.1), MPROC_EFULL);
  ck_elapsed(t0, 0.09, 5);
  ck_assert_msg(strstr(mproc_last_error(), "maxbytes 1048576") != NULL,
                "the error does not name the cap: %s", mproc_last_error());
  expect_item(q, 65536, 9, "ring_full");
  ck_mproc_ok(mproc_queue_put_bytes(q, b, 65536, 0));
  for (i = 0; i < put; i++)
    expect_item(q, 65536, 9, "ring_full");
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  free(b);
  mproc_queue_free(q);
}
END_TEST

START_TEST(qsize_exact) {
  mproc_queue *q = new_kind(_i, 0);
  int i;
  for (i = 0; i < 37; i++) {
    put_int(q, i, 0);
    ck_assert_int_eq(mproc_queue_qsize(q), i + 1);
  }
  for (i = 0; i < 12; i++) {
    expect_int(q, i);
    ck_assert_int_eq(mproc_queue_qsize(q), 36 - i);
  }
  ck_assert_int_eq(mproc_queue_qsize(q), 25);
  /* Across processes: a child puts 50, another gets 30. */
  ck_exit(start_qop(q, "put", 50, 37, 0, 60, NULL), 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 75);
  ck_exit(start_qop(q, "get", 30, 12, 0, 60, NULL), 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 45);
  ck_assert_int_eq(mproc_queue_empty(q), 0);
  for (i = 42; i < 87; i++)
    expect_int(q, i);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_assert_int_eq(mproc_queue_empty(q), 1);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* close                                                                    */
/* ======================================================================== */

START_TEST(close_rules) {
  mproc_queue *q = new_kind(_i, 0);
  mproc_value *v = mproc_int(5), *got = NULL;
  mproc_process *p;
  mproc_conn *a, *z;
  void *b = NULL;
  size_t n = 0;
  double t0;
  int i;
  for (i = 0; i < 3; i++)
    put_int(q, i, 0);
  ck_mproc_ok(mproc_queue_close(q));
  ck_mproc(mproc_queue_put(q, v, 0), MPROC_ECLOSED);
  ck_mproc(mproc_queue_put(q, v, MPROC_FOREVER), MPROC_ECLOSED);
  ck_mproc(mproc_queue_put_nowait(q, v), MPROC_ECLOSED);
  ck_mproc(mproc_queue_put_bytes(q, "abc", 3, 1), MPROC_ECLOSED);
  ck_mproc_ok(mproc_queue_close(q)); /* twice: harmless */
  /* A child's put after close too. */
  ck_exit(start_qop(q, "put", 1, 0, 0, 60, NULL), EXIT_FOR(MPROC_ECLOSED));
  /* What was put before close is still got, then EOF. */
  ck_assert_int_eq(mproc_queue_qsize(q), 3);
  expect_int(q, 0);
  ck_exit(start_qop(q, "get", 1, 1, 0, 60, NULL), 0);
  expect_int(q, 2);
  ck_mproc(mproc_queue_get_nowait(q, &got), MPROC_EEOF);
  ck_mproc(mproc_queue_get(q, &got, 0.1), MPROC_EEOF);
  ck_mproc(mproc_queue_get(q, &got, MPROC_FOREVER), MPROC_EEOF);
  ck_mproc(mproc_queue_get_bytes(q, &b, &n, 1), MPROC_EEOF);
  ck_assert_ptr_null(got);
  ck_exit(start_qop(q, "get", 1, 0, 0, 60, NULL), EXIT_FOR(MPROC_EEOF));
  mproc_queue_free(q);

  /* A consumer blocked in get(FOREVER) when another process closes. */
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  q = new_kind(_i, 0);
  p = start_qop(q, "get", 1, 0, 0, MPROC_FOREVER, z);
  expect_word(a, "ready");
  mproc_sleep(0.2); /* surely asleep in get by now */
  ck_assert_int_eq(mproc_process_is_alive(p), 1);
  ck_mproc_ok(mproc_queue_close(q));
  t0 = now();
  ck_exit(p, EXIT_FOR(MPROC_EEOF));
  ck_elapsed(t0, 0, 30);
  mproc_queue_free(q);

  /* A close by a child closes it for this process. */
  q = new_kind(_i, 0);
  put_int(q, 1, 0);
  ck_exit(start_qop(q, "close", 0, 0, 0, 0, NULL), 0);
  ck_mproc(mproc_queue_put(q, v, 0), MPROC_ECLOSED);
  expect_int(q, 1);
  ck_mproc(mproc_queue_get(q, &got, 5), MPROC_EEOF);
  mproc_queue_free(q);

  /* A producer blocked in put(FOREVER) on a full queue: ECLOSED. */
  if (_i != K_SIMPLE) {
    q = new_kind(_i, 1);
    p = start_qop(q, "put", 2, 0, 0, MPROC_FOREVER, z);
    expect_word(a, "ready");
    t0 = now();
    while (mproc_queue_qsize(q) < 1 && now() - t0 < 60)
      mproc_sleep(0.01);
    ck_assert_int_eq(mproc_queue_qsize(q), 1);
    mproc_sleep(0.2);
    ck_assert_int_eq(mproc_process_is_alive(p), 1);
    ck_mproc_ok(mproc_queue_close(q));
    ck_exit(p, EXIT_FOR(MPROC_ECLOSED));
    expect_int(q, 0);
    ck_mproc(mproc_queue_get_nowait(q, &got), MPROC_EEOF);
    mproc_queue_free(q);
  }
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_value_free(v);
}
END_TEST

/* args [queue, conn]: says "put", puts one BIG item (seed 1) FOREVER,
 * exits with the put's code. */
static int big_once(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  unsigned char *buf = new_item(BIG, 1);
  int rc;
  if (!q || !buf) {
    free(buf);
    return 101;
  }
  rc = say(arg_conn(args, 1), "put");
  if (rc == 0)
    rc = mproc_queue_put_bytes(q, buf, BIG, MPROC_FOREVER);
  free(buf);
  return code_of(rc);
}

/* Closed while a producer streams an item nobody reads: its put gives
 * ECLOSED, and a get never returns the part it had written. */
START_TEST(close_while_streaming) {
  mproc_queue *q = new_capped(_i, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  void *b = NULL;
  size_t n = 0;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start(big_once, mproc_build("[O C]", mproc_queue_ref(q), z));
  expect_word(a, "put");
  mproc_sleep(0.3); /* the ring is full: it waits in the middle */
  ck_mproc_ok(mproc_queue_close(q));
  ck_exit(p, EXIT_FOR(MPROC_ECLOSED));
  ck_mproc(mproc_queue_get_bytes(q, &b, &n, 10), MPROC_EEOF);
  ck_assert_ptr_null(b);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* Waiting processes: timeouts while another holds the side, and death      */
/* ======================================================================== */

/* While a child waits in get(FOREVER) (holding the consumers' side), a
 * get with a timeout here gives EEMPTY on time; a Queue(1) that a child
 * waits to put into: put with a timeout gives EFULL on time. */
START_TEST(timeouts_while_another_waits) {
  mproc_queue *q = new_kind(_i, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  mproc_value *got = NULL;
  double t0;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start_qop(q, "get", 1, 42, 0, MPROC_FOREVER, z);
  expect_word(a, "ready");
  mproc_sleep(0.2);
  t0 = now();
  ck_mproc(mproc_queue_get(q, &got, 0.1), MPROC_EEMPTY);
  ck_elapsed(t0, 0.09, 5);
  ck_mproc(mproc_queue_get_nowait(q, &got), MPROC_EEMPTY);
  put_int(q, 42, 0);
  ck_exit(p, 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  done_and_joined(q, _i, 1);
  mproc_queue_free(q);

  if (_i != K_SIMPLE) {
    q = new_kind(_i, 1);
    put_int(q, 0, 0);
    p = start_qop(q, "put", 1, 1, 0, MPROC_FOREVER, z);
    expect_word(a, "ready");
    mproc_sleep(0.2);
    t0 = now();
    ck_mproc(mproc_queue_put_bytes(q, "x", 1, 0.1), MPROC_EFULL);
    ck_elapsed(t0, 0.09, 5);
    ck_assert_int_eq(mproc_queue_qsize(q), 1);
    expect_int(q, 0);
    ck_exit(p, 0);
    expect_int(q, 1);
    done_and_joined(q, _i, 2);
    mproc_queue_free(q);
  }
  mproc_conn_free(a);
  mproc_conn_free(z);
}
END_TEST

/* args [queue, conn, n]: says "ready", puts n 64 KiB items (seeds 0..)
 * with no time limit. */
static int fill_forever(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  int64_t n = arg_i64(args, 2), i;
  unsigned char *buf = malloc(65536);
  int rc;
  if (!q || !buf) {
    free(buf);
    return 101;
  }
  rc = say(arg_conn(args, 1), "ready");
  for (i = 0; i < n && rc == 0; i++) {
    fill_item(buf, 65536, (uint32_t)i);
    rc = mproc_queue_put_bytes(q, buf, 65536, MPROC_FOREVER);
  }
  free(buf);
  return code_of(rc);
}

/*
 * A consumer killed while it sleeps in get(FOREVER), and a producer killed
 * while it waits for ring space (an item of one chunk): the next get and
 * put go on (no MPROC_EOWNERDEAD reaches the caller), every item that was
 * put arrives, and a JoinableQueue counts exactly those.
 */
START_TEST(killed_while_waiting) {
  mproc_queue *q = new_capped(_i, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  mproc_value *got = NULL;
  long n, last = -1;
  double t0;
  int i;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start_qop(q, "get", 1, 0, 0, MPROC_FOREVER, z);
  expect_word(a, "ready");
  mproc_sleep(0.2); /* asleep in get */
  ck_mproc_ok(mproc_process_kill(p));
  ck_exit(p, -9);
  put_int(q, 5, 0);
  expect_int(q, 5);
  t0 = now();
  ck_mproc(mproc_queue_get(q, &got, 0.1), MPROC_EEMPTY);
  ck_elapsed(t0, 0.09, 5);

  p = start(fill_forever, mproc_build("[O C i]", mproc_queue_ref(q), z, 100));
  expect_word(a, "ready");
  /* The ring fills up; then the count stays put for a while. */
  t0 = now();
  for (;;) {
    mproc_sleep(0.3);
    n = mproc_queue_qsize(q);
    if ((n == last && n > 0) || now() - t0 > 60)
      break;
    last = n;
  }
  ck_assert_int_eq(mproc_process_is_alive(p), 1); /* waiting for space */
  ck_mproc_ok(mproc_process_kill(p));
  ck_exit(p, -9);
  ck_assert_msg(n > 1 && n < 100, "%ld items in the ring", n);
  ck_assert_int_eq(mproc_queue_qsize(q), n);
  for (i = 0; i < n; i++)
    expect_item(q, 65536, (uint32_t)i, "an item of the killed producer");
  ck_mproc(mproc_queue_get_nowait(q, &got), MPROC_EEMPTY);
  put_int(q, 6, 0);
  expect_int(q, 6);
  done_and_joined(q, _i, 1 + (int)n + 1);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* Nothing lost                                                             */
/* ======================================================================== */

#define LOST_N 1000

/* args [queue, conn, hold]: puts [i, "payload"] for i < LOST_N, says
 * "done", then sleeps hold seconds (0: exits at once). */
static int lost_producer(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  int i, rc = 0;
  if (!q)
    return 101;
  for (i = 0; i < LOST_N && rc == 0; i++) {
    mproc_value *v = mproc_build("[i s]", i, "payload payload payload");
    rc = v ? mproc_queue_put(q, v, 60) : MPROC_ENOMEM;
    mproc_value_free(v);
  }
  if (rc)
    return code_of(rc);
  CHILD_CK(say(arg_conn(args, 1), "done"), 0);
  mproc_sleep(arg_f(args, 2));
  return 0;
}

static void expect_lost_items(mproc_queue *q, int kind) {
  int i;
  ck_assert_int_eq(mproc_queue_qsize(q), LOST_N);
  for (i = 0; i < LOST_N; i++) {
    mproc_value *v = NULL;
    int64_t k = -1;
    ck_mproc_ok(mproc_queue_get(q, &v, 10));
    mproc_value_get_int(mproc_list_get(v, 0), &k);
    mproc_value_free(v);
    ck_assert_int_eq(k, i);
    if (kind == K_JOINABLE)
      ck_mproc_ok(mproc_queue_task_done(q));
  }
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  if (kind == K_JOINABLE)
    ck_mproc_ok(mproc_queue_join(q, 0));
}

START_TEST(nothing_lost_when_producer_exits) {
  mproc_queue *q = new_kind(_i, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  int code = -1000;
  double t0;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start(lost_producer, mproc_build("[O C f]", mproc_queue_ref(q), z, 0.0));
  expect_word(a, "done");
  /* Joining a producer whose items nobody read returns (gh-73983). */
  t0 = now();
  ck_mproc_ok(mproc_process_join(p, 5));
  ck_elapsed(t0, 0, 5);
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 0);
  mproc_process_free(p);
  expect_lost_items(q, _i);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

START_TEST(nothing_lost_when_producer_killed) {
  mproc_queue *q = new_kind(_i, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start(lost_producer, mproc_build("[O C f]", mproc_queue_ref(q), z, 60.0));
  expect_word(a, "done");
  ck_mproc_ok(mproc_process_kill(p));
  ck_exit(p, -9);
  expect_lost_items(q, _i);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* A producer killed in the middle of a streamed item                       */
/* ======================================================================== */

/* args [queue, conn]: puts BIG items of seeds 0, 1, 2, ... until killed,
 * saying "put" before each. */
static int big_forever(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  mproc_conn *c = arg_conn(args, 1);
  unsigned char *buf = malloc(BIG);
  uint32_t k;
  int rc = 0;
  if (!q || !buf) {
    free(buf);
    return 101;
  }
  for (k = 0; rc == 0; k++) {
    fill_item(buf, BIG, k);
    rc = say(c, "put");
    if (rc == 0)
      rc = mproc_queue_put_bytes(q, buf, BIG, MPROC_FOREVER);
  }
  free(buf);
  return code_of(rc);
}

/* args [queue]: puts the 3-byte item "end", exits with the put's code. */
static int put_end(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  if (!q)
    return 101;
  return code_of(mproc_queue_put_bytes(q, "end", 3, 60));
}

/*
 * Start big_forever, take its first item (complete and correct), let it
 * stream the second into the ring until the ring is full (nobody reads),
 * and kill it there.
 */
static mproc_queue *killed_mid_item(int kind) {
  mproc_queue *q = new_capped(kind, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start(big_forever, mproc_build("[O C]", mproc_queue_ref(q), z));
  expect_word(a, "put");
  expect_item(q, BIG, 0, "the first item");
  expect_word(a, "put");
  mproc_sleep(0.3); /* it fills the ring and waits, mid-item */
  ck_mproc_ok(mproc_process_kill(p));
  ck_exit(p, -9);
  mproc_conn_free(a);
  mproc_conn_free(z);
  return q;
}

/*
 * Get until the 3-byte "end" (or, with until_empty, until MPROC_EEMPTY
 * after wait seconds): anything else must be a complete BIG item (of
 * seed 1 or more).  Returns the number of complete items before it.
 */
static int drain_to_end(mproc_queue *q, double wait, int until_empty) {
  int items = 0;
  for (;;) {
    void *p = NULL;
    size_t n = 0;
    char why[160];
    int rc = mproc_queue_get_bytes(q, &p, &n, wait), bad;
    if (until_empty && rc == MPROC_EEMPTY)
      return items;
    ck_mproc_ok(rc);
    if (!until_empty && n == 3 && memcmp(p, "end", 3) == 0) {
      mproc_free(p);
      return items;
    }
    bad = item_bad(p, n, BIG, item_seed(p, n), why, sizeof why);
    if (!bad && item_seed(p, n) == 0) {
      bad = 1;
      snprintf(why, sizeof why, "the first item again");
    }
    mproc_free(p);
    ck_assert_msg(!bad, "after the producer died, an item of %lu bytes: %s",
                  (unsigned long)n, why);
    items++;
  }
}

/* Then this process gets (the partial item is dropped), and puts. */
START_TEST(producer_killed_mid_item_then_get) {
  mproc_queue *q = killed_mid_item(_i);
  void *b = NULL;
  size_t n = 0;
  ck_assert_int_eq(drain_to_end(q, 0.5, 1), 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_mproc_ok(mproc_queue_put_bytes(q, "end", 3, 5));
  ck_assert_int_eq(mproc_queue_qsize(q), 1);
  ck_assert_int_eq(drain_to_end(q, 10, 0), 0);
  ck_mproc(mproc_queue_get_bytes(q, &b, &n, 0), MPROC_EEMPTY);
  done_and_joined(q, _i, 2); /* the first item, "end" */
  mproc_queue_free(q);
}
END_TEST

/* Then a new producer puts while this process gets. */
START_TEST(producer_killed_mid_item_new_producer) {
  mproc_queue *q = killed_mid_item(_i);
  mproc_process *p = start(put_end, mproc_build("[O]", mproc_queue_ref(q)));
  int items = drain_to_end(q, 60, 0);
  ck_exit(p, 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  /* Usable as before. */
  put_int(q, 7, 0);
  expect_int(q, 7);
  done_and_joined(q, _i, 3 + items); /* the first item, "end", 7 */
  mproc_queue_free(q);
}
END_TEST

/*
 * Then this process, the only reader, puts a small item without waiting:
 * the ring is full of the dead producer's part, so the put returns at
 * once (EFULL, or 0 if it found room) - it must not wait for a reader
 * that does not exist.  Afterwards the small item arrives.
 */
START_TEST(producer_killed_mid_item_put_nowait) {
  mproc_queue *q = killed_mid_item(_i);
  bg_put bp;
  int in_time, rc;
  double took;
  bg_put_start(&bp, q, "end", 3, 0);
  in_time = bg_put_finish(&bp, 10);
  rc = bp.rc;
  took = bp.took;
  ck_assert_msg(in_time,
                "%s: put_bytes(\"end\", timeout 0) after a producer died "
                "mid-item with the ring full blocked until this thread read "
                "the queue (%.1f s; then returned %s)",
                kind_name[_i], took, mproc_errname(rc));
  ck_assert_msg(rc == 0 || rc == MPROC_EFULL, "put_bytes returned %s",
                mproc_errname(rc));
  if (rc != 0) {
    ck_assert_int_eq(drain_to_end(q, 0.5, 1), 0);
    ck_mproc_ok(mproc_queue_put_bytes(q, "end", 3, 5));
  }
  ck_assert_int_eq(drain_to_end(q, 10, 0), 0);
  done_and_joined(q, _i, 2); /* the first item, "end" */
  mproc_queue_free(q);
}
END_TEST

/*
 * A put of an item larger than the ring with a timeout, and nobody
 * reading: EFULL after the timeout (not a wait for a reader); the part
 * written is never returned, and the queue stays usable.
 */
START_TEST(streamed_put_times_out) {
  mproc_queue *q = new_capped(_i, 0);
  unsigned char *big = new_item(3 * MIB, 5);
  bg_put bp;
  int in_time;
  ck_assert_ptr_nonnull(big);
  bg_put_start(&bp, q, big, 3 * MIB, 0.1);
  in_time = bg_put_finish(&bp, 10);
  ck_assert_msg(in_time,
                "%s: put_bytes(3 MiB, timeout 0.1) with nobody reading did "
                "not return in 10 s (it returned %s only once this thread "
                "read the queue)",
                kind_name[_i], mproc_errname(bp.rc));
  ck_mproc(bp.rc, MPROC_EFULL);
  ck_assert_msg(bp.took >= 0.09, "took %.3f s", bp.took);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  done_and_joined(q, _i, 0); /* the failed put does not count */
  /* A reader drops the part; the next item arrives whole. */
  ck_assert_int_eq(drain_to_end(q, 0.5, 1), 0);
  ck_mproc_ok(mproc_queue_put_bytes(q, "end", 3, 5));
  ck_assert_int_eq(drain_to_end(q, 10, 0), 0);
  done_and_joined(q, _i, 1);
  free(big);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* A consumer killed in the middle of a streamed item                       */
/* ======================================================================== */

/* args [queue, conn]: says "put", puts A (BIG, seed 1), B (100 bytes,
 * seed 2), C (600 KiB, seed 3). */
static int abc_producer(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  static const size_t n[3] = {BIG, 100, 600 * 1024};
  unsigned char *buf = malloc(BIG);
  int i, rc;
  if (!q || !buf) {
    free(buf);
    return 101;
  }
  rc = say(arg_conn(args, 1), "put");
  for (i = 0; i < 3 && rc == 0; i++) {
    fill_item(buf, n[i], (uint32_t)i + 1);
    rc = mproc_queue_put_bytes(q, buf, n[i], MPROC_FOREVER);
  }
  free(buf);
  return code_of(rc);
}

/* args [queue, conn]: says "get", gets one item (60 s). */
static int one_getter(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  void *p = NULL;
  size_t n = 0;
  int rc;
  if (!q)
    return 101;
  CHILD_CK(say(arg_conn(args, 1), "get"), 0);
  rc = mproc_queue_get_bytes(q, &p, &n, 60);
  mproc_free(p);
  return code_of(rc);
}

/*
 * The producer of A is stopped (SIGSTOP / NtSuspendProcess) while it
 * waits in the middle of A for ring space; a consumer then takes the part
 * in the ring and waits for the rest (its producer lives).  It is killed
 * there; the producer continues; the next consumer (this process) gets B
 * and C intact (A may be lost, but never returned in part).
 */
START_TEST(consumer_killed_mid_item) {
  mproc_queue *q = new_capped(_i, 0);
  mproc_conn *a, *z, *c, *d;
  mproc_process *prod, *cons;
  int stopped, heard, alive, resumed, code = -1000, rc;
  void *p = NULL;
  size_t n = 0;
  char why[160];
  int bad;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  ck_mproc_ok(mproc_pipe(&c, &d, 1));
  prod = start(abc_producer, mproc_build("[O C]", mproc_queue_ref(q), z));
  expect_word(a, "put");
  mproc_sleep(0.3); /* A fills the ring; the producer waits mid-item */
  stopped = suspend_process(mproc_process_pid(prod), 1) == 0;
  /* No check macros until the producer runs again. */
  cons = start(one_getter, mproc_build("[O C]", mproc_queue_ref(q), d));
  heard = got_word(c, "get");
  mproc_sleep(0.5); /* it has taken the part in the ring and waits */
  alive = mproc_process_is_alive(cons);
  rc = mproc_process_kill(cons);
  if (mproc_process_join(cons, 60) == 0)
    mproc_process_exitcode(cons, &code);
  mproc_process_free(cons);
  resumed = !stopped || suspend_process(mproc_process_pid(prod), 0) == 0;
  ck_assert_msg(stopped, "could not stop the producer");
  ck_assert_msg(resumed, "could not continue the producer");
  ck_assert_msg(heard, "no 'get' from the consumer");
  ck_assert_msg(alive == 1,
                "the consumer did not wait for the rest of an item whose "
                "producer lives (is_alive %d)",
                alive);
  ck_mproc_ok(rc);
  ck_assert_int_eq(code, -9);
  /* The next consumer: perhaps A whole, then B and C. */
  ck_mproc_ok(mproc_queue_get_bytes(q, &p, &n, 60));
  if (n == BIG) {
    bad = item_bad(p, n, BIG, 1, why, sizeof why);
    mproc_free(p);
    ck_assert_msg(!bad, "A: %s", why);
    ck_mproc_ok(mproc_queue_get_bytes(q, &p, &n, 60));
  }
  bad = item_bad(p, n, 100, 2, why, sizeof why);
  mproc_free(p);
  ck_assert_msg(!bad, "B, after the consumer died mid-A: %s", why);
  expect_item(q, 600 * 1024, 3, "C");
  ck_exit(prod, 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_conn_free(c);
  mproc_conn_free(d);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* JoinableQueue                                                            */
/* ======================================================================== */

START_TEST(joinable_rules) {
  mproc_queue *q = new_kind(K_JOINABLE, 0), *plain;
  mproc_process *p;
  double t0;
  int i;
  ck_mproc(mproc_queue_task_done(q), MPROC_EINVAL);
  ck_assert_ptr_nonnull(
      strstr(mproc_last_error(), "task_done() called too many times"));
  ck_mproc_ok(mproc_queue_join(q, 0));
  ck_mproc_ok(mproc_queue_join(q, MPROC_FOREVER)); /* nothing unfinished */
  put_int(q, 1, 0);
  put_int(q, 2, 0);
  ck_mproc(mproc_queue_join(q, 0), MPROC_ETIMEDOUT);
  t0 = now();
  ck_mproc(mproc_queue_join(q, 0.1), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0.09, 5);
  expect_int(q, 1);
  expect_int(q, 2);
  /* Got is not done. */
  ck_mproc(mproc_queue_join(q, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_queue_task_done(q));
  ck_mproc(mproc_queue_join(q, 0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_queue_task_done(q));
  ck_mproc_ok(mproc_queue_join(q, 0));
  ck_mproc(mproc_queue_task_done(q), MPROC_EINVAL);
  ck_assert_ptr_nonnull(
      strstr(mproc_last_error(), "task_done() called too many times"));

  /* A child consumer calls task_done for each: join(FOREVER) returns. */
  for (i = 0; i < 5; i++)
    put_int(q, 100 + i, 0);
  t0 = now();
  p = start_qop(q, "get_done", 5, 100, 0.3, 60, NULL);
  ck_mproc_ok(mproc_queue_join(q, MPROC_FOREVER));
  ck_elapsed(t0, 0.29, 120);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_exit(p, 0);
  /* task_done in a child without an unfinished item: EINVAL there. */
  ck_exit(start_qop(q, "done", 1, 0, 0, 60, NULL), EXIT_FOR(MPROC_EINVAL));
  /* A child's put counts, a child's task_done finishes it. */
  ck_exit(start_qop(q, "put", 1, 9, 0, 60, NULL), 0);
  ck_mproc(mproc_queue_join(q, 0), MPROC_ETIMEDOUT);
  expect_int(q, 9);
  ck_exit(start_qop(q, "done", 1, 0, 0, 60, NULL), 0);
  ck_mproc_ok(mproc_queue_join(q, 0));
  ck_mproc(mproc_queue_task_done(q), MPROC_EINVAL);
  mproc_queue_free(q);

  /* Not on a Queue or a SimpleQueue. */
  for (i = 0; i < 2; i++) {
    plain = new_kind(i == 0 ? K_QUEUE : K_SIMPLE, 0);
    ck_mproc(mproc_queue_task_done(plain), MPROC_ENOTSUP);
    ck_mproc(mproc_queue_join(plain, 0), MPROC_ENOTSUP);
    ck_mproc(mproc_queue_join(plain, MPROC_FOREVER), MPROC_ENOTSUP);
    put_int(plain, 1, 0);
    expect_int(plain, 1);
    ck_mproc(mproc_queue_task_done(plain), MPROC_ENOTSUP);
    mproc_queue_free(plain);
  }
}
END_TEST

/* args [queue, n]: gets n ints 0.. and calls task_done right after each. */
static int done_each(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  int64_t n = arg_i64(args, 1), i;
  if (!q)
    return 101;
  for (i = 0; i < n; i++) {
    mproc_value *v = NULL;
    int64_t k = -1;
    CHILD_CK(mproc_queue_get(q, &v, 60), 0);
    mproc_value_get_int(v, &k);
    mproc_value_free(v);
    if (k != i)
      return 102;
    CHILD_CK(mproc_queue_task_done(q), 0);
  }
  return 0;
}

#define PINGS 2000

/* One item at a time: put, join(FOREVER) until the child's task_done;
 * the child's task_done right after its get never finds the count at 0. */
START_TEST(joinable_ping_pong) {
  mproc_queue *q = new_kind(K_JOINABLE, 0);
  mproc_process *p =
      start(done_each, mproc_build("[O i]", mproc_queue_ref(q), PINGS));
  int i;
  for (i = 0; i < PINGS; i++) {
    put_int(q, i, 0);
    ck_mproc_ok(mproc_queue_join(q, 60));
    ck_assert_int_eq(mproc_queue_qsize(q), 0);
  }
  ck_exit(p, 0);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* Objects travel only at spawn                                             */
/* ======================================================================== */

/* args [queue, kind, conn]: the parent put 3 ints 0..2; checks qsize,
 * gets them (task_done each: 0 on a JoinableQueue, ENOTSUP else), puts
 * "from child". */
static int queue_arg_child(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  int kind = (int)arg_i64(args, 1), i;
  mproc_value *v;
  int rc;
  if (!q)
    return 101;
  if (mproc_queue_qsize(q) != 3)
    return 103;
  for (i = 0; i < 3; i++) {
    int64_t k = -1;
    CHILD_CK(mproc_queue_get(q, &v, 60), 0);
    mproc_value_get_int(v, &k);
    mproc_value_free(v);
    if (k != i)
      return 102;
    CHILD_CK(mproc_queue_task_done(q), kind == K_JOINABLE ? 0 : MPROC_ENOTSUP);
  }
  v = mproc_str("from child");
  rc = mproc_queue_put(q, v, 60);
  mproc_value_free(v);
  return code_of(rc);
}

START_TEST(queue_travels_only_at_spawn) {
  mproc_queue *q = new_kind(_i, 0), *other = new_kind(K_QUEUE, 0), *out;
  mproc_conn *a, *z;
  mproc_lock *l;
  mproc_value *v, *got = NULL;
  char want[160];
  void *enc = NULL;
  size_t n = 0;
  int i;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  snprintf(want, sizeof want,
           "%s objects should only be shared between processes through "
           "inheritance",
           kind_name[_i]);
  v = mproc_build("[s O]", "inside", mproc_queue_ref(q));
  ck_assert_ptr_nonnull(v);
  ck_mproc(mproc_conn_send(a, v), MPROC_EINHERIT);
  ck_assert_msg(strncmp(mproc_last_error(), want, strlen(want)) == 0,
                "last error '%s'", mproc_last_error());
  ck_mproc(mproc_queue_put(other, v, 0), MPROC_EINHERIT);
  ck_assert_msg(strncmp(mproc_last_error(), want, strlen(want)) == 0,
                "last error '%s'", mproc_last_error());
  ck_mproc(mproc_queue_put(q, v, 0), MPROC_EINHERIT);
  ck_assert_msg(strncmp(mproc_last_error(), want, strlen(want)) == 0,
                "last error '%s'", mproc_last_error());
  ck_mproc(mproc_encode(v, &enc, &n), MPROC_EINHERIT);
  mproc_value_free(v);
  /* Nothing was sent or put. */
  ck_assert_int_eq(mproc_conn_poll(z, 0), 0);
  ck_assert_int_eq(mproc_queue_qsize(other), 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);

  /* As a process argument it works. */
  for (i = 0; i < 3; i++)
    put_int(q, i, 0);
  ck_exit(start(queue_arg_child, mproc_build("[O i]", mproc_queue_ref(q), _i)),
          0);
  ck_mproc_ok(mproc_queue_get(q, &got, 10));
  ck_assert_pstr_eq(mproc_value_str(got), "from child");
  mproc_value_free(got);
  if (_i == K_JOINABLE) {
    ck_mproc_ok(mproc_queue_task_done(q));
    ck_mproc_ok(mproc_queue_join(q, 0));
  }

  /* The typed getters. */
  v = mproc_queue_ref(q);
  ck_assert_ptr_nonnull(v);
  ck_mproc_ok(mproc_value_get_queue(v, &out));
  ck_assert_ptr_eq(out, q);
  {
    mproc_lock *lk = NULL;
    ck_mproc(mproc_value_get_lock(v, &lk), MPROC_ETYPE);
    ck_assert_ptr_null(lk);
  }
  mproc_value_free(v);
  ck_mproc_ok(mproc_lock_new(&l));
  v = mproc_lock_ref(l);
  ck_mproc(mproc_value_get_queue(v, &out), MPROC_ETYPE);
  ck_assert_ptr_null(out);
  mproc_value_free(v);
  mproc_lock_free(l);
  v = mproc_int(3);
  ck_mproc(mproc_value_get_queue(v, &out), MPROC_ETYPE);
  mproc_value_free(v);

  /* A reference keeps the queue. */
  out = mproc_queue_incref(q);
  ck_assert_ptr_eq(out, q);
  mproc_queue_free(q);
  put_int(out, 4, 0);
  expect_int(out, 4);
  mproc_queue_free(out);
  mproc_queue_free(other);
  mproc_conn_free(a);
  mproc_conn_free(z);
}
END_TEST

/* ======================================================================== */
/* NULL arguments, handles                                                  */
/* ======================================================================== */

START_TEST(null_arguments) {
  mproc_queue *q = new_kind(K_JOINABLE, 0);
  mproc_value *v = mproc_int(1), *out = NULL;
  void *p = NULL;
  size_t n = 0;
  ck_mproc(mproc_queue_new(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_simplequeue_new(NULL), MPROC_EINVAL);
  ck_mproc(mproc_joinablequeue_new(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_put(NULL, v, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_put(q, NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_put_nowait(NULL, v), MPROC_EINVAL);
  ck_mproc(mproc_queue_put_nowait(q, NULL), MPROC_EINVAL);
  ck_mproc(mproc_queue_get(NULL, &out, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_get(q, NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_get_nowait(NULL, &out), MPROC_EINVAL);
  ck_mproc(mproc_queue_get_nowait(q, NULL), MPROC_EINVAL);
  ck_mproc(mproc_queue_put_bytes(NULL, "x", 1, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_put_bytes(q, NULL, 1, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_get_bytes(NULL, &p, &n, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_get_bytes(q, NULL, &n, 0), MPROC_EINVAL);
  ck_mproc(mproc_queue_get_bytes(q, &p, NULL, 0), MPROC_EINVAL);
  ck_assert_int_eq(mproc_queue_qsize(NULL), MPROC_EINVAL);
  ck_assert_int_eq(mproc_queue_empty(NULL), MPROC_EINVAL);
  ck_assert_int_eq(mproc_queue_full(NULL), MPROC_EINVAL);
  ck_mproc(mproc_queue_close(NULL), MPROC_EINVAL);
  ck_mproc(mproc_queue_task_done(NULL), MPROC_EINVAL);
  ck_mproc(mproc_queue_join(NULL, 0), MPROC_EINVAL);
  ck_assert_ptr_null(mproc_queue_incref(NULL));
  mproc_queue_free(NULL);
  ck_assert_ptr_null(mproc_queue_ref(NULL));
  {
    mproc_queue *got = NULL;
    ck_mproc(mproc_value_get_queue(NULL, &got), MPROC_EINVAL);
    ck_assert_ptr_null(got);
    ck_mproc(mproc_value_get_queue(v, NULL), MPROC_EINVAL);
  }
  /* None of that touched the queue. */
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_mproc(mproc_queue_task_done(q), MPROC_EINVAL);
  ck_assert_ptr_null(out);
  ck_assert_ptr_null(p);
  mproc_value_free(v);
  mproc_queue_free(q);
}
END_TEST

/* Linux: at least one fd per queue while it lives, and back to the count
 * before once freed.  Win32's list_handles sees only file, pipe and char
 * handles (not mappings or park semaphores): there only the count after. */
START_TEST(handles_back_to_baseline) {
  long list[512];
  mproc_queue *q[3], *ref;
  int base, during, after, i;
  base = mproc__plat_list_handles(list, 512);
  ck_assert_int_gt(base, 0);
  for (i = 0; i < 3; i++)
    q[i] = new_kind(i, 5);
  ref = mproc_queue_incref(q[0]);
  for (i = 0; i < 3; i++) {
    put_int(q[i], i, 0);
    expect_int(q[i], i);
  }
  during = mproc__plat_list_handles(list, 512);
#if defined(__linux__)
  ck_assert_msg(during >= base + 3, "%d fds with the queues, %d before", during,
                base);
#else
  ck_assert_int_ge(during, base);
#endif
  for (i = 0; i < 3; i++)
    mproc_queue_free(q[i]);
  mproc_queue_free(ref);
  after = mproc__plat_list_handles(list, 512);
  ck_assert_msg(after == base, "%d handles after freeing, %d before", after,
                base);
}
END_TEST

/* ======================================================================== */
/* The buffer grows (issue 8): no put waits for buffer below the cap       */
/* ======================================================================== */

/* Put n raw items of size bytes, seeds first.., each with timeout 0. */
static int put_items(mproc_queue *q, int n, size_t size, uint32_t first) {
  unsigned char *buf = malloc(size ? size : 1);
  int i, rc = 0;
  if (!buf)
    return MPROC_ENOMEM;
  for (i = 0; i < n && rc == 0; i++) {
    fill_item(buf, size, first + (uint32_t)i);
    rc = mproc_queue_put_bytes(q, buf, size, 0);
  }
  free(buf);
  return rc;
}

/*
 * args [queue, conn, op, n, size, first]: op "put" puts n raw items
 * (seeds first..) with timeout 0 and exits; op "get" says "ready", waits
 * for any message on conn, then gets n items (60 s each), which must be
 * those items byte for byte (102 if not), in order.
 */
static int grow_child(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  mproc_conn *c = arg_conn(args, 1);
  const char *op = mproc_value_str(mproc_list_get(args, 2));
  int64_t n = arg_i64(args, 3), size = arg_i64(args, 4),
          first = arg_i64(args, 5), i;
  mproc_value *go = NULL;
  if (!q || !c || !op)
    return 101;
  if (strcmp(op, "put") == 0)
    return code_of(put_items(q, (int)n, (size_t)size, (uint32_t)first));
  CHILD_CK(say(c, "ready"), 0);
  CHILD_CK(mproc_conn_recv(c, &go), 0);
  mproc_value_free(go);
  for (i = 0; i < n; i++) {
    void *p = NULL;
    size_t got = 0;
    char why[160];
    int bad;
    CHILD_CK(mproc_queue_get_bytes(q, &p, &got, 60), 0);
    bad = item_bad(p, got, (size_t)size, (uint32_t)(first + i), why,
                   sizeof why);
    mproc_free(p);
    if (bad) {
      fprintf(stderr, "grow_child: item %d: %s\n", (int)i, why);
      return 102;
    }
  }
  return 0;
}

static mproc_process *start_grow_child(mproc_queue *q, mproc_conn *c,
                                       const char *op, int n, size_t size,
                                       uint32_t first) {
  return start(grow_child, mproc_build("[O C s i i i]", mproc_queue_ref(q), c,
                                       op, n, (int)size, (int)first));
}

/*
 * Same process, default buffer: a 16 MiB put and 100 puts of 64 KiB with
 * nobody reading all succeed at once (timeout 0), and come back byte for
 * byte; a bounded queue grows too (maxsize counts items, not bytes).
 */
START_TEST(grows_in_one_process) {
  mproc_queue *q = new_kind(_i, 0);
  unsigned char *big = new_item(16 * MIB, 77);
  int i;
  ck_assert_ptr_nonnull(big);
  ck_mproc_ok(mproc_queue_put_bytes(q, big, 16 * MIB, 0));
  ck_mproc_ok(put_items(q, 100, 65536, 0));
  ck_assert_int_eq(mproc_queue_qsize(q), 101);
  expect_item(q, 16 * MIB, 77, "the 16 MiB item");
  for (i = 0; i < 100; i++)
    expect_item(q, 65536, (uint32_t)i, "a 64 KiB item");
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  done_and_joined(q, _i, 101);
  mproc_queue_free(q);
  if (_i == K_SIMPLE) {
    free(big);
    return;
  }
  /* Queue(3): three 16 MiB items at once, the fourth is refused by
   * maxsize (and says so). */
  q = new_kind(_i, 3);
  for (i = 0; i < 3; i++)
    ck_mproc_ok(mproc_queue_put_bytes(q, big, 16 * MIB, 0));
  ck_mproc(mproc_queue_put_bytes(q, big, 16 * MIB, 0), MPROC_EFULL);
  ck_assert_msg(strstr(mproc_last_error(), "maxsize 3") != NULL,
                "the error does not name maxsize: %s", mproc_last_error());
  for (i = 0; i < 3; i++)
    expect_item(q, 16 * MIB, 77, "a 16 MiB item of Queue(3)");
  done_and_joined(q, _i, 3);
  mproc_queue_free(q);
  free(big);
}
END_TEST

/*
 * The ring grows while a child holds the queue: a child waits; this
 * process puts 100 x 64 KiB at once (the ring grows from 1 MiB); the
 * child then reads them all byte for byte.  Then the other way: a child
 * puts 100 and exits (the ring it grew keeps them), this process reads
 * them.  On Windows the pages one process commits, the other sees.
 */
START_TEST(grown_while_child_holds) {
  mproc_queue *q = new_kind(_i, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  mproc_value *go = mproc_str("go");
  int i;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start_grow_child(q, z, "get", 100, 65536, 500);
  expect_word(a, "ready");
  ck_mproc_ok(put_items(q, 100, 65536, 500));
  ck_mproc_ok(mproc_conn_send(a, go));
  ck_exit(p, 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  /* Again, past 16 MiB, with the child's mapping grown before. */
  p = start_grow_child(q, z, "get", 3, 12 * MIB, 900);
  expect_word(a, "ready");
  ck_mproc_ok(put_items(q, 3, 12 * MIB, 900));
  ck_mproc_ok(mproc_conn_send(a, go));
  ck_exit(p, 0);
  /* A child grows it and exits; nothing is lost. */
  mproc_queue_free(q);
  q = new_kind(_i, 0);
  ck_exit(start_grow_child(q, z, "put", 100, 65536, 2000), 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 100);
  for (i = 0; i < 100; i++)
    expect_item(q, 65536, 2000 + (uint32_t)i, "an item a child put");
  done_and_joined(q, _i, 100);
  mproc_value_free(go);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/* mproc_queue_new_opts: its checks; bufsize and maxbytes; the cap's error;
 * an item above the cap streams to a reader. */
START_TEST(opts_and_cap) {
  mproc_queue_opts o = MPROC_QUEUE_OPTS_INIT;
  mproc_queue *q = (mproc_queue *)&o;
  mproc_conn *a, *z;
  mproc_process *p;
  mproc_value *go = mproc_str("go");
  unsigned char *b = new_item(100 * 1024, 7);
  double t0;
  ck_assert_ptr_nonnull(b);
  ck_mproc(mproc_queue_new_opts(&q, 7, &o), MPROC_EINVAL);
  ck_assert_ptr_null(q);
  o.maxsize = 3;
  ck_mproc(mproc_queue_new_opts(&q, MPROC_QUEUE_SIMPLE, &o), MPROC_EINVAL);
  o.maxsize = 0;
  o.bufsize = 16384;
  o.maxbytes = 8192;
  ck_mproc(mproc_queue_new_opts(&q, MPROC_QUEUE_PLAIN, &o), MPROC_EINVAL);
  ck_assert_ptr_null(q);
  if (SIZE_MAX > 0xFFFFFFFFu) {
    o.bufsize = 0;
    o.maxbytes = (size_t)1 << 35;
    ck_mproc(mproc_queue_new_opts(&q, MPROC_QUEUE_PLAIN, &o), MPROC_EINVAL);
  }
  ck_mproc(mproc_queue_new_opts(NULL, MPROC_QUEUE_PLAIN, NULL),
           MPROC_EINVAL);
  ck_mproc_ok(mproc_queue_new_opts(&q, MPROC_QUEUE_JOINABLE, NULL));
  ck_mproc_ok(mproc_queue_put_bytes(q, b, 100 * 1024, 0));
  expect_item(q, 100 * 1024, 7, "default opts");
  mproc_queue_free(q);

  /* A 4 KiB buffer that may grow to 8 KiB: two 3000-byte items fit (it
   * grows), a third is refused at once, naming the cap. */
  q = new_opts(K_QUEUE, 0, 4096, 8192);
  ck_mproc_ok(put_items(q, 2, 3000, 1));
  ck_mproc(put_items(q, 1, 3000, 3), MPROC_EFULL);
  ck_assert_msg(strstr(mproc_last_error(), "maxbytes 8192") != NULL,
                "the error does not name the cap: %s", mproc_last_error());
  t0 = now();
  ck_mproc(mproc_queue_put_bytes(q, b, 3000, 0.1), MPROC_EFULL);
  ck_elapsed(t0, 0.09, 5);
  ck_assert_int_eq(mproc_queue_qsize(q), 2);
  expect_item(q, 3000, 1, "cap 8 KiB");
  ck_mproc_ok(put_items(q, 1, 3000, 3));
  expect_item(q, 3000, 2, "cap 8 KiB");
  expect_item(q, 3000, 3, "cap 8 KiB");
  /* An item of 100 KiB, above the cap, streams to a reader. */
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start_grow_child(q, z, "get", 1, 100 * 1024, 7);
  expect_word(a, "ready");
  ck_mproc_ok(mproc_conn_send(a, go));
  ck_mproc_ok(mproc_queue_put_bytes(q, b, 100 * 1024, 60));
  ck_exit(p, 0);
  /* ...and nobody reading: EFULL, naming the cap, nothing left. */
  ck_mproc(mproc_queue_put_bytes(q, b, 100 * 1024, 0.1), MPROC_EFULL);
  ck_assert_msg(strstr(mproc_last_error(), "larger than the queue's cap") !=
                    NULL,
                "%s", mproc_last_error());
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  {
    void *part = NULL;
    size_t n = 0;
    ck_mproc(mproc_queue_get_bytes(q, &part, &n, 0.5), MPROC_EEMPTY);
    ck_assert_ptr_null(part);
  }
  ck_mproc_ok(put_items(q, 1, 10, 4));
  expect_item(q, 10, 4, "after a streamed put timed out");
  mproc_queue_free(q);

  /* A 4 KiB first buffer, default cap: a 1 MiB item at once. */
  q = new_opts(K_SIMPLE, 0, 1, 0);
  ck_mproc_ok(put_items(q, 1, MIB, 5));
  expect_item(q, MIB, 5, "grown from 4 KiB");
  mproc_queue_free(q);
  mproc_value_free(go);
  mproc_conn_free(a);
  mproc_conn_free(z);
  free(b);
}
END_TEST

/*
 * A producer killed while it puts into a ring that grows (from 4 KiB,
 * cap 16 MiB) as this process reads some: what arrives is a run of whole
 * items, seeds 0, 1, 2, ..., then the queue goes on.
 */
START_TEST(producer_killed_while_growing) {
  mproc_queue *q = new_opts(_i, 0, 4096, 16 * MIB);
  mproc_conn *a, *z;
  mproc_process *p;
  void *got = NULL;
  size_t n = 0;
  char why[160];
  uint32_t next = 0;
  int rc, bad;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start(fill_forever, mproc_build("[O C i]", mproc_queue_ref(q), z,
                                      1000000));
  expect_word(a, "ready");
  /* Read a few while it grows the ring, then kill it at a moment that
   * differs by kind. */
  while (next < 20 && mproc_queue_get_bytes(q, &got, &n, 60) == 0) {
    bad = item_bad(got, n, 65536, next, why, sizeof why);
    mproc_free(got);
    got = NULL;
    ck_assert_msg(!bad, "item %u: %s", next, why);
    next++;
  }
  mproc_sleep(0.001 + 0.002 * _i);
  ck_mproc_ok(mproc_process_kill(p));
  ck_exit(p, -9);
  for (;;) {
    rc = mproc_queue_get_bytes(q, &got, &n, 0.5);
    if (rc == MPROC_EEMPTY)
      break;
    ck_mproc_ok(rc);
    bad = item_bad(got, n, 65536, next, why, sizeof why);
    mproc_free(got);
    got = NULL;
    ck_assert_msg(!bad, "item %u: %s", next, why);
    next++;
  }
  ck_assert_int_ge(next, 20);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_mproc_ok(put_items(q, 3, 3 * MIB, 9));
  expect_item(q, 3 * MIB, 9, "after the kill");
  expect_item(q, 3 * MIB, 10, "after the kill");
  expect_item(q, 3 * MIB, 11, "after the kill");
  done_and_joined(q, _i, (int)next + 3);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/* lib/queue.c (mproc_int.h), for tests: called at each step of a growth. */
extern void (*mproc__queue_grow_hook)(int step);

/* The step of a growth at which grow_dier dies (its hook). */
static int g_die_step;

static void die_at_step(int step) {
  if (step == g_die_step)
    _Exit(77);
}

/* args [queue, step]: puts a 1000-byte item (seed 11) into a full ring,
 * dying at that step of the growth it needs (exit 77). */
static int grow_dier(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  if (!q)
    return 101;
  g_die_step = (int)arg_i64(args, 1);
  mproc__queue_grow_hook = die_at_step;
  return code_of(put_items(q, 1, 1000, 11));
}

/*
 * A producer that dies at each step of a growth (the new memory made
 * usable / the wrapped data copied / the new layout published, holding
 * both locks each time; _i / 3 + 1): the items before it come back whole
 * and in order, its own never does, and the queue goes on (and grows).
 */
START_TEST(producer_dies_in_growth) {
  int kind = _i % K_NKINDS, step = _i / K_NKINDS + 1, i;
  mproc_queue *q = new_opts(kind, 0, 8192, 0);
  /* 1008-byte chunks: 7 in, 3 out, 4 in: 8064 bytes in the 8 KiB ring,
   * wrapped. */
  ck_mproc_ok(put_items(q, 7, 1000, 0));
  for (i = 0; i < 3; i++)
    expect_item(q, 1000, (uint32_t)i, "before the growth");
  ck_mproc_ok(put_items(q, 4, 1000, 7));
  ck_exit(start(grow_dier, mproc_build("[O i]", mproc_queue_ref(q), step)),
          77);
  ck_assert_int_eq(mproc_queue_qsize(q), 8);
  ck_mproc_ok(put_items(q, 20, 1000, 12)); /* it grows again */
  for (i = 3; i < 11; i++)
    expect_item(q, 1000, (uint32_t)i, "after the grower died");
  for (i = 12; i < 32; i++)
    expect_item(q, 1000, (uint32_t)i, "after the grower died");
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  done_and_joined(q, kind, 31);
  mproc_queue_free(q);
}
END_TEST

/* Steps of growths and shrinks seen in this process (count_steps). */
static int g_steps[5];

static void count_steps(int step) {
  if (step >= 0 && step < 5)
    g_steps[step]++;
}

/*
 * A ring that grew to 64 times its first size or more (256 KiB here)
 * shrinks back when a get empties it (step 4 of the hook), and grows
 * again for the next burst, which a child reads byte for byte.
 */
START_TEST(shrinks_when_drained) {
  mproc_queue *q = new_opts(_i, 0, 4096, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  mproc_value *go = mproc_str("go");
  int i;
  memset(g_steps, 0, sizeof g_steps);
  mproc__queue_grow_hook = count_steps;
  ck_mproc_ok(put_items(q, 100, 65536, 0));
  ck_assert_int_gt(g_steps[3], 5); /* 4 KiB -> 8 MiB */
  for (i = 0; i < 99; i++)
    expect_item(q, 65536, (uint32_t)i, "before the shrink");
  ck_assert_int_eq(g_steps[4], 0);
  expect_item(q, 65536, 99, "the last before the shrink");
  ck_assert_int_eq(g_steps[4], 1);
  /* Again, read by a child. */
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start_grow_child(q, z, "get", 100, 65536, 1000);
  expect_word(a, "ready");
  ck_mproc_ok(put_items(q, 100, 65536, 1000));
  ck_assert_int_gt(g_steps[3], 10);
  ck_mproc_ok(mproc_conn_send(a, go));
  ck_exit(p, 0);
  mproc__queue_grow_hook = NULL;
  ck_mproc_ok(put_items(q, 3, 100, 7));
  for (i = 0; i < 3; i++)
    expect_item(q, 100, 7 + (uint32_t)i, "after");
  done_and_joined(q, _i, 203);
  mproc_value_free(go);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/*
 * put_nowait below the cap never fails, even while a child reads (and
 * holds the consumers' side when the ring must grow): 2000 x 64 KiB with
 * timeout 0, each read back byte for byte by the child.
 */
START_TEST(put_nowait_while_read) {
  mproc_queue *q = new_opts(_i, 0, 4096, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  mproc_value *go = mproc_str("go");
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start_grow_child(q, z, "get", 2000, 65536, 40);
  expect_word(a, "ready");
  ck_mproc_ok(mproc_conn_send(a, go));
  ck_mproc_ok(put_items(q, 2000, 65536, 40));
  ck_exit(p, 0);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  mproc_value_free(go);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/*
 * A consumer killed while it sleeps in get (holding the consumers' side):
 * the puts after it grow the ring anyway (the grower takes the dead
 * consumer's lock over), all at once, and every item comes back.
 */
START_TEST(grow_over_dead_consumer) {
  mproc_queue *q = new_opts(_i, 0, 4096, 0);
  mproc_conn *a, *z;
  mproc_process *p;
  int i;
  ck_mproc_ok(mproc_pipe(&a, &z, 1));
  p = start_qop(q, "get", 1, 0, 0, MPROC_FOREVER, z);
  expect_word(a, "ready");
  mproc_sleep(0.2); /* asleep in get, holding the consumer lock */
  ck_assert_int_eq(mproc_process_is_alive(p), 1);
  ck_mproc_ok(mproc_process_kill(p));
  ck_exit(p, -9);
  ck_mproc_ok(put_items(q, 100, 65536, 300));
  ck_assert_int_eq(mproc_queue_qsize(q), 100);
  for (i = 0; i < 100; i++)
    expect_item(q, 65536, 300 + (uint32_t)i, "after a dead consumer");
  done_and_joined(q, _i, 100);
  mproc_conn_free(a);
  mproc_conn_free(z);
  mproc_queue_free(q);
}
END_TEST

/* ======================================================================== */
/* Timeouts: negatives poll, NaN is an error (issue 8); close twice         */
/* ======================================================================== */

START_TEST(negative_timeouts) {
  mproc_queue *q = new_kind(K_JOINABLE, 1);
  mproc_value *v = mproc_int(1), *got = NULL;
  void *b = NULL;
  size_t n = 0;
  double nan = 0.0, t0;
  nan = nan / nan;
  ck_mproc(mproc_queue_get(q, &got, -0.5), MPROC_EEMPTY);
  ck_mproc(mproc_queue_get_bytes(q, &b, &n, -1e-9), MPROC_EEMPTY);
  ck_mproc(mproc_queue_get(q, &got, nan), MPROC_EINVAL);
  ck_mproc(mproc_queue_put(q, v, nan), MPROC_EINVAL);
  ck_mproc(mproc_queue_put_bytes(q, "x", 1, nan), MPROC_EINVAL);
  ck_mproc(mproc_queue_join(q, nan), MPROC_EINVAL);
  ck_assert_int_eq(mproc_queue_qsize(q), 0);
  ck_mproc_ok(mproc_queue_put(q, v, -0.5)); /* room: a poll succeeds */
  /* Full: a poll, not a wait - neither forever nor |timeout| (30 s). */
  t0 = now();
  ck_mproc(mproc_queue_put(q, v, -0.5), MPROC_EFULL);
  ck_mproc(mproc_queue_put(q, v, -30), MPROC_EFULL);
  ck_mproc(mproc_queue_put_bytes(q, "x", 1, -1e300), MPROC_EFULL);
  ck_mproc(mproc_queue_join(q, -1e-3), MPROC_ETIMEDOUT);
  ck_mproc(mproc_queue_join(q, -30), MPROC_ETIMEDOUT);
  ck_elapsed(t0, 0, 10);
  ck_mproc_ok(mproc_queue_get(q, &got, -0.5));
  mproc_value_free(got);
  got = NULL;
  t0 = now();
  ck_mproc(mproc_queue_get(q, &got, -0.5), MPROC_EEMPTY);
  ck_mproc(mproc_queue_get(q, &got, -30), MPROC_EEMPTY);
  ck_elapsed(t0, 0, 10);
  ck_mproc_ok(mproc_queue_task_done(q));
  ck_mproc_ok(mproc_queue_join(q, -1e-3));
  ck_assert_ptr_null(got);
  mproc_value_free(v);
  mproc_queue_free(q);
}
END_TEST

/* close() of a closed queue is a no-op returning 0 (Python), here and
 * after a child closed it. */
START_TEST(close_twice) {
  mproc_queue *q = new_kind(_i, 0);
  mproc_value *got = NULL;
  put_int(q, 5, 0);
  ck_mproc_ok(mproc_queue_close(q));
  ck_mproc_ok(mproc_queue_close(q));
  ck_exit(start_qop(q, "close", 0, 0, 0, 0, NULL), 0);
  ck_mproc_ok(mproc_queue_close(q));
  ck_mproc(mproc_queue_put_bytes(q, "x", 1, 0), MPROC_ECLOSED);
  expect_int(q, 5);
  ck_mproc(mproc_queue_get(q, &got, 0), MPROC_EEOF);
  ck_mproc_ok(mproc_queue_close(q));
  mproc_queue_free(q);
}
END_TEST

Suite *mproc_suite_queue(void) {
  Suite *s = suite_create("queue");
  TCase *basic = tcase_create("basic");
  TCase *sizes = tcase_create("sizes");
  TCase *mm = tcase_create("many");
  TCase *close = tcase_create("close");
  TCase *death = tcase_create("death");
  TCase *join = tcase_create("joinable");
  TCase *travel = tcase_create("travel");
  TCase *grow = tcase_create("grow");

  /* _i: K_QUEUE, K_SIMPLE, K_JOINABLE unless noted. */
  tcase_add_loop_test(basic, sizes_in_one_process, 0, K_NKINDS);
  tcase_add_loop_test(basic, maxsize_and_timeouts, 0, 2); /* Queue, Joinable */
  tcase_add_test(basic, maxsize_limits);
  tcase_add_loop_test(basic, ring_full, 0, K_NKINDS);
  tcase_add_loop_test(basic, qsize_exact, 0, K_NKINDS);
  tcase_add_test(basic, null_arguments);
  tcase_add_test(basic, handles_back_to_baseline);
  suite_add_tcase(s, basic);

  tcase_add_loop_test(sizes, sizes_from_child, 0, K_NKINDS);
  suite_add_tcase(s, sizes);

  /* _i >= K_NKINDS: a 4 KiB first buffer, which grows as they run (the
   * consumers start 0, 30 and 60 ms late). */
  tcase_add_loop_test(mm, many_producers_many_consumers, 0, 2 * K_NKINDS);
  suite_add_tcase(s, mm);

  tcase_add_loop_test(close, close_rules, 0, K_NKINDS);
  tcase_add_loop_test(close, close_while_streaming, 0, K_NKINDS);
  suite_add_tcase(s, close);

  tcase_add_loop_test(death, timeouts_while_another_waits, 0, K_NKINDS);
  tcase_add_loop_test(death, killed_while_waiting, 0, K_NKINDS);
  tcase_add_loop_test(death, nothing_lost_when_producer_exits, 0, K_NKINDS);
  tcase_add_loop_test(death, nothing_lost_when_producer_killed, 0, K_NKINDS);
  tcase_add_loop_test(death, producer_killed_mid_item_then_get, 0, K_NKINDS);
  tcase_add_loop_test(death, producer_killed_mid_item_new_producer, 0,
                      K_NKINDS);
  tcase_add_loop_test(death, producer_killed_mid_item_put_nowait, 0, K_NKINDS);
  tcase_add_loop_test(death, streamed_put_times_out, 0, K_NKINDS);
  tcase_add_loop_test(death, consumer_killed_mid_item, 0, K_NKINDS);
  suite_add_tcase(s, death);

  tcase_add_test(join, joinable_rules);
  tcase_add_test(join, joinable_ping_pong);
  suite_add_tcase(s, join);

  tcase_add_loop_test(travel, queue_travels_only_at_spawn, 0, K_NKINDS);
  suite_add_tcase(s, travel);

  tcase_add_loop_test(grow, grows_in_one_process, 0, K_NKINDS);
  tcase_add_loop_test(grow, grown_while_child_holds, 0, K_NKINDS);
  tcase_add_test(grow, opts_and_cap);
  tcase_add_loop_test(grow, producer_killed_while_growing, 0, K_NKINDS);
  tcase_add_loop_test(grow, grow_over_dead_consumer, 0, K_NKINDS);
  tcase_add_loop_test(grow, put_nowait_while_read, 0, K_NKINDS);
  tcase_add_loop_test(grow, shrinks_when_drained, 0, K_NKINDS);
  /* _i: kind _i % 3, step _i / 3 + 1. */
  tcase_add_loop_test(grow, producer_dies_in_growth, 0, 3 * K_NKINDS);
  tcase_add_test(grow, negative_timeouts);
  tcase_add_loop_test(grow, close_twice, 0, K_NKINDS);
  suite_add_tcase(s, grow);
  return s;
}
