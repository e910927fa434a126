/*
 * test_pool.c - the Pool (docs/pool.md): apply, apply_async with
 * callbacks, map/starmap (default and given chunksize, empty), a task's
 * failure (code, message, pid), a worker killed in the middle of a task
 * (that task fails with MPROC_EWORKERDIED, every other task completes, the
 * pool stays usable with a new worker), the inheritance rule (an OS object
 * in an argument is MPROC_EINHERIT at submit; in a result the task fails
 * with it), OS objects reaching the workers through initargs,
 * close/join/terminate and their errors; the faults of docs/pool.md's
 * table (time and memory limits, a task no worker can take, Ctrl-C while
 * workers start, a parent killed or ended by Ctrl-C, a pool never freed);
 * the direct apply (a sync apply on the calling thread) under faults: a
 * worker killed, a hard limit, terminate from another thread, several
 * threads at once.
 *
 * Task functions are plain functions of this binary: the workers are the
 * binary re-executed and find them by (module, offset).  Timed assertions
 * only bound "it happens" generously; none asserts speed.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#if defined(_WIN32)
#include <windows.h>
#include <psapi.h>
#else
#include <signal.h>
#include <unistd.h>
#endif

#include "atomics.h"
#include "children.h"

/* ---- tasks -------------------------------------------------------------- */

static int t_mul(const mproc_value *arg, mproc_value **result) {
  int64_t a = 0, b = 0;
  if (mproc_list_len(arg) != 2 ||
      mproc_value_get_int(mproc_list_get(arg, 0), &a) ||
      mproc_value_get_int(mproc_list_get(arg, 1), &b))
    return mproc_fail(MPROC_ETYPE, "mul wants [a, b]");
  *result = mproc_int(a * b);
  return 0;
}

static int t_pid(const mproc_value *arg, mproc_value **result) {
  (void)arg;
  *result = mproc_int(mproc_process_pid(mproc_current_process()));
  return 0;
}

static int t_fail_on_3(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  mproc_value_get_int(arg, &x);
  if (x == 3)
    return mproc_fail(MPROC_EKEY, "no key %d here", (int)x);
  *result = mproc_int(x + 100);
  return 0;
}

static void die_now(void) {
  fflush(NULL);
#if defined(_WIN32)
  TerminateProcess(GetCurrentProcess(), 0x10000 + 9);
#else
  raise(SIGKILL);
#endif
}

/* Item 7 kills its own worker in the middle of the task. */
static int t_die_on_7(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  mproc_value_get_int(arg, &x);
  if (x == 7)
    die_now();
  *result = mproc_int(x * 10);
  return 0;
}

static int t_sleep(const mproc_value *arg, mproc_value **result) {
  double s = 0;
  mproc_value_get_float(arg, &s);
  mproc_sleep(s);
  *result = mproc_str("slept");
  return 0;
}

/* The worker's copy of the Queue its initializer received. */
static mproc_queue *g_q;

static int init_queue(const mproc_value *initargs) {
  mproc_queue *q = NULL;
  int rc = mproc_value_get_queue(mproc_list_get(initargs, 0), &q);
  if (rc)
    return rc;
  g_q = mproc_queue_incref(q);
  return 0;
}

static int t_put(const mproc_value *arg, mproc_value **result) {
  int rc = mproc_queue_put(g_q, arg, MPROC_FOREVER);
  (void)result;
  return rc;
}

static int t_return_queue(const mproc_value *arg, mproc_value **result) {
  (void)arg;
  *result = mproc_queue_ref(g_q);
  return 0;
}

/* None: a queue (cannot be sent); a negative int: no result; else x*x. */
static int t_mixed(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  if (mproc_value_type(arg) == MPROC_T_NONE) {
    *result = mproc_queue_ref(g_q);
    return 0;
  }
  mproc_value_get_int(arg, &x);
  if (x >= 0)
    *result = mproc_int(x * x);
  return 0;
}

/* Puts x into the initializer's queue, naps 0.1 s, gives x*x. */
static int t_put_nap(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  int rc;
  mproc_value_get_int(arg, &x);
  if ((rc = mproc_queue_put(g_q, arg, MPROC_FOREVER)) != 0)
    return rc;
  mproc_sleep(0.1);
  *result = mproc_int(x * x);
  return 0;
}

/* A copy of the argument; the string "fail" fails with MPROC_EKEY, the
 * string "none" gives no result (None). */
static int t_echo(const mproc_value *arg, mproc_value **result) {
  const char *s = mproc_value_str(arg);
  if (s && strcmp(s, "fail") == 0)
    return mproc_fail(MPROC_EKEY, "echo refuses %s", s);
  if (s && strcmp(s, "none") == 0)
    return 0;
  *result = mproc_value_copy(arg);
  return 0;
}

/* x*10; item 1500 kills its own worker in the middle of the task. */
static int t_die_on_1500(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  mproc_value_get_int(arg, &x);
  if (x == 1500)
    die_now();
  *result = mproc_int(x * 1000003);
  return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static mproc_pool *new_pool_quiet(int n) {
  mproc_pool *p = NULL;
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  o.processes = n;
  return mproc_pool_new(&p, &o) == 0 ? p : NULL;
}

static mproc_pool *new_pool(int n) {
  mproc_pool *p = NULL;
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  o.processes = n;
  ck_mproc_ok(mproc_pool_new(&p, &o));
  return p;
}

/* ---- apply ----------------------------------------------------------------- */

typedef struct cbinfo {
  int calls, errors, code;
  int64_t value;
} cbinfo;

static void on_result(mproc_async *r, const mproc_value *v, void *ctx) {
  cbinfo *c = ctx;
  (void)r;
  c->calls++;
  mproc_value_get_int(v, &c->value);
}

static void on_error(mproc_async *r, int code, const char *msg, void *ctx) {
  cbinfo *c = ctx;
  (void)r;
  (void)msg;
  c->errors++;
  c->code = code;
}

START_TEST(test_apply) {
  mproc_pool *p = new_pool(2);
  mproc_value *arg = mproc_int(7), *res = NULL;
  mproc_async *r = NULL;
  const mproc_value *v = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  cbinfo cb = {0, 0, 0, 0};
  int64_t x = 0;

  ck_mproc_ok(mproc_pool_apply(p, t_square, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_eq(x, 49);
  mproc_value_free(res);

  o.callback = on_result;
  o.error_callback = on_error;
  o.ctx = &cb;
  ck_mproc_ok(mproc_pool_apply_async(p, t_square, arg, &o, &r));
  ck_mproc_ok(mproc_async_get(r, 60, &v));
  ck_mproc_ok(mproc_value_get_int(v, &x));
  ck_assert_int_eq(x, 49);
  /* As Python: the callback has run when get returns. */
  ck_assert_int_eq(cb.calls, 1);
  ck_assert_int_eq(cb.value, 49);
  ck_assert_int_eq(cb.errors, 0);
  ck_assert_int_eq(mproc_async_ready(r), 1);
  ck_assert_int_eq(mproc_async_successful(r), 1);
  mproc_async_free(r);

  /* successful() before ready: Python's ValueError */
  mproc_value_free(arg);
  arg = mproc_float(1.0);
  ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, arg, NULL, &r));
  ck_mproc(mproc_async_successful(r), MPROC_EINVAL);
  ck_mproc(mproc_async_get(r, 0.01, &v), MPROC_ETIMEDOUT);
  ck_mproc(mproc_async_wait(r, 0.0), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_async_wait(r, 60));
  ck_mproc_ok(mproc_async_get(r, 0, &v));
  ck_assert_str_eq(mproc_value_str(v), "slept");
  mproc_async_free(r);
  mproc_value_free(arg);
  mproc_pool_free(p);
}
END_TEST

START_TEST(test_task_failure) {
  mproc_pool *p = new_pool(2);
  mproc_value *arg = mproc_int(3), *res = NULL, *l = range(6);
  mproc_async *r = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  cbinfo cb = {0, 0, 0, 0};
  const mproc_value *v = NULL;
  const char *msg = NULL;
  long pid = 0;
  char want[64];
  size_t i;

  ck_mproc(mproc_pool_apply(p, t_fail_on_3, arg, &res), MPROC_EKEY);
  ck_assert_ptr_null(res);
  ck_assert_msg(strstr(mproc_last_error(), "task failed in worker ") ==
                    mproc_last_error(),
                "%s", mproc_last_error());
  ck_assert_msg(strstr(mproc_last_error(), ": no key 3 here") != NULL, "%s",
                mproc_last_error());

  /* A map: the failing task's code; every other task still ran. */
  o.error_callback = on_error;
  o.callback = on_result;
  o.ctx = &cb;
  o.chunksize = 2;
  ck_mproc_ok(mproc_pool_map_async(p, t_fail_on_3, l, &o, &r));
  ck_mproc(mproc_async_get(r, 60, &v), MPROC_EKEY);
  ck_assert_int_eq(cb.errors, 1);
  ck_assert_int_eq(cb.code, MPROC_EKEY);
  ck_assert_int_eq(cb.calls, 0);
  ck_assert_int_eq(mproc_async_successful(r), 0);
  ck_assert_uint_eq(mproc_list_len(v), 6);
  for (i = 0; i < 6; i++) {
    int code = mproc_async_task(r, i, NULL, &msg, &pid);
    ck_assert_int_gt(pid, 0);
    if (i == 3) {
      ck_assert_int_eq(code, MPROC_EKEY);
      snprintf(want, sizeof want, "task failed in worker %ld: no key 3 here",
               pid);
      ck_assert_str_eq(msg, want);
      ck_assert_int_eq(mproc_value_type(mproc_list_get(v, i)), MPROC_T_NONE);
    } else {
      ck_assert_int_eq(code, 0);
      ck_assert_int_eq(int_at(v, i), (int64_t)i + 100);
    }
  }
  ck_mproc(mproc_async_task(r, 6, NULL, NULL, NULL), MPROC_ERANGE);
  mproc_async_free(r);
  mproc_value_free(arg);
  mproc_value_free(l);
  mproc_pool_free(p);
}
END_TEST

/* ---- map and starmap ------------------------------------------------------ */

START_TEST(test_map) {
  mproc_pool *p = new_pool(3);
  mproc_value *l = range(100), *res = NULL, *pairs = mproc_list();
  size_t cs[] = {0, 1, 7, 100, 1000}, k, i;
  for (k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    ck_mproc_ok(mproc_pool_map(p, t_square, l, cs[k], &res));
    ck_assert_uint_eq(mproc_list_len(res), 100);
    for (i = 0; i < 100; i++)
      ck_assert_int_eq(int_at(res, i), (int64_t)(i * i));
    mproc_value_free(res);
  }
  /* empty */
  mproc_value_free(l);
  l = mproc_list();
  ck_mproc_ok(mproc_pool_map(p, t_square, l, 0, &res));
  ck_assert_uint_eq(mproc_list_len(res), 0);
  mproc_value_free(res);
  /* not a list */
  ck_mproc(mproc_pool_map(p, t_square, pairs, 0, &res), 0);
  mproc_value_free(res);
  ck_mproc(mproc_pool_map(p, t_square, mproc_list_get(pairs, 0), 0, &res),
           MPROC_EINVAL);
  /* starmap */
  for (i = 0; i < 10; i++)
    mproc_list_append(pairs, mproc_build("[ii]", (int)i, (int)i + 1));
  ck_mproc_ok(mproc_pool_starmap(p, t_mul, pairs, 3, &res));
  for (i = 0; i < 10; i++)
    ck_assert_int_eq(int_at(res, i), (int64_t)(i * (i + 1)));
  mproc_value_free(res);
  mproc_list_append(pairs, mproc_int(5));
  ck_mproc(mproc_pool_starmap(p, t_mul, pairs, 3, &res), MPROC_ETYPE);
  mproc_value_free(l);
  mproc_value_free(pairs);
  mproc_pool_free(p);
}
END_TEST

/* ---- maps as runs of items ---------------------------------------------------- */

/* Every kind of value, and ints at each head size's edges (the wire's
 * int fast paths): each item once as an argument and as a result. */
static mproc_value *mixed_items(void) {
  static const int64_t ints[] = {0,
                                 1,
                                 23,
                                 24,
                                 255,
                                 256,
                                 257,
                                 65535,
                                 65536,
                                 4294967295LL,
                                 4294967296LL,
                                 INT64_MAX,
                                 -1,
                                 -8,
                                 -9,
                                 -24,
                                 -25,
                                 -256,
                                 -257,
                                 -65536,
                                 -65537,
                                 -4294967296LL,
                                 -4294967297LL,
                                 INT64_MIN};
  mproc_value *l = mproc_list();
  size_t i;
  for (i = 0; i < sizeof ints / sizeof ints[0]; i++)
    mproc_list_append(l, mproc_int(ints[i]));
  mproc_list_append(l, mproc_float(0.5));
  mproc_list_append(l, mproc_float(-1e300));
  mproc_list_append(l, mproc_none());
  mproc_list_append(l, mproc_bool(1));
  mproc_list_append(l, mproc_bool(0));
  mproc_list_append(l, mproc_str(""));
  mproc_list_append(l, mproc_str("h\xc3\xa9llo"));
  mproc_list_append(l, mproc_bytes("\xff\x00", 2));
  mproc_list_append(l, mproc_build("[is[f]]", 7, "x", 2.5));
  mproc_list_append(l, mproc_build("{si}", "k", 1000));
  mproc_list_append(l, mproc_build("(ii)", 300, -300));
  return l;
}

START_TEST(test_map_runs) {
  mproc_pool *p = new_pool(2);
  mproc_value *base = mixed_items(), *l = mproc_list(), *res = NULL;
  size_t cs[] = {0, 1, 3, 7, 64, 1000}, k, i, n;
  mproc_async *r = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  const mproc_value *v = NULL;
  const char *msg = NULL;
  long pid = 0;
  char want[80];
  /* the mixed items, then 300 ints beyond the singletons (slab values),
   * a failure and a None result in the middle of them */
  for (i = 0; i < mproc_list_len(base); i++)
    mproc_list_append(l, mproc_value_copy(mproc_list_get(base, i)));
  for (i = 0; i < 300; i++)
    mproc_list_append(l, i == 100   ? mproc_str("fail")
                         : i == 200 ? mproc_str("none")
                                    : mproc_int(1000 + (int64_t)i));
  n = mproc_list_len(l);
  for (k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    o.chunksize = cs[k];
    ck_mproc_ok(mproc_pool_map_async(p, t_echo, l, &o, &r));
    ck_mproc(mproc_async_get(r, 60, &v), MPROC_EKEY);
    ck_assert_uint_eq(mproc_list_len(v), n);
    for (i = 0; i < n; i++) {
      const mproc_value *in = mproc_list_get(l, i), *out = NULL;
      const char *s = mproc_value_str(in);
      int code = mproc_async_task(r, i, &out, &msg, &pid);
      ck_assert_int_gt(pid, 0);
      if (s && strcmp(s, "fail") == 0) {
        ck_assert_int_eq(code, MPROC_EKEY);
        snprintf(want, sizeof want, "task failed in worker %ld: echo refuses "
                 "fail", pid);
        ck_assert_str_eq(msg, want);
        ck_assert_int_eq(mproc_value_type(mproc_list_get(v, i)),
                         MPROC_T_NONE);
        continue;
      }
      ck_assert_msg(code == 0, "chunksize %d task %d: %s", (int)cs[k], (int)i,
                    msg ? msg : "");
      ck_assert_ptr_null(msg);
      ck_assert_ptr_eq(out, mproc_list_get(v, i));
      if (s && strcmp(s, "none") == 0)
        ck_assert_int_eq(mproc_value_type(out), MPROC_T_NONE);
      else
        ck_assert_msg(mproc_value_equal(out, in), "chunksize %d task %d",
                      (int)cs[k], (int)i);
    }
    mproc_async_free(r);
  }
  /* all of it succeeding, taken as the caller's list */
  mproc_list_set(l, mproc_list_len(base) + 100, mproc_int(5));
  ck_mproc_ok(mproc_pool_map(p, t_echo, l, 50, &res));
  for (i = 0; i < n; i++) {
    const char *s = mproc_value_str(mproc_list_get(l, i));
    if (s && strcmp(s, "none") == 0)
      ck_assert_int_eq(mproc_value_type(mproc_list_get(res, i)), MPROC_T_NONE);
    else
      ck_assert(mproc_value_equal(mproc_list_get(res, i), mproc_list_get(l, i)));
  }
  mproc_value_free(res);
  /* apply: a None result is NULL, as before */
  {
    mproc_value *a = mproc_str("none");
    ck_mproc_ok(mproc_pool_apply(p, t_echo, a, &res));
    ck_assert_ptr_null(res);
    mproc_value_free(a);
  }
  mproc_value_free(base);
  mproc_value_free(l);
  mproc_pool_free(p);
}
END_TEST

/* imap over chunks: values one by one, in order and unordered. */
START_TEST(test_imap_runs) {
  mproc_pool *p = new_pool(2);
  mproc_value *l = range(1000), *v = NULL;
  mproc_async *it = NULL;
  int64_t x, seen = 0;
  size_t i;
  mproc_list_set(l, 500, mproc_str("none"));
  ck_mproc_ok(mproc_pool_imap(p, t_echo, l, 100, &it));
  for (i = 0; i < 1000; i++) {
    ck_mproc_ok(mproc_async_next(it, 60, &v));
    if (i == 500) {
      ck_assert_int_eq(mproc_value_type(v), MPROC_T_NONE);
    } else {
      ck_mproc_ok(mproc_value_get_int(v, &x));
      ck_assert_int_eq(x, (int64_t)i);
    }
    mproc_value_free(v);
  }
  ck_mproc(mproc_async_next(it, 1, &v), MPROC_EEOF);
  mproc_async_free(it);
  ck_mproc_ok(mproc_pool_imap_unordered(p, t_echo, l, 64, &it));
  for (i = 0; i < 1000; i++) {
    ck_mproc_ok(mproc_async_next(it, 60, &v));
    if (mproc_value_type(v) == MPROC_T_NONE)
      x = 500;
    else
      ck_mproc_ok(mproc_value_get_int(v, &x));
    seen += x;
    mproc_value_free(v);
  }
  ck_assert_int_eq(seen, 999 * 1000 / 2);
  mproc_async_free(it);
  mproc_value_free(l);
  mproc_pool_free(p);
}
END_TEST

/* A worker killed in the middle of a big chunk: the task it ran fails,
 * every other task of the map (the finished ones of that chunk run
 * again) has its value. */
START_TEST(test_worker_killed_big_chunk) {
  mproc_pool *p = new_pool(2);
  mproc_value *l = range(3000);
  mproc_async *r = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  const mproc_value *v = NULL;
  size_t i;
  o.chunksize = 1000;
  ck_mproc_ok(mproc_pool_map_async(p, t_die_on_1500, l, &o, &r));
  ck_mproc(mproc_async_get(r, 120, &v), MPROC_EWORKERDIED);
  ck_assert_msg(strstr(mproc_last_error(), "while running task 1500") != NULL,
                "%s", mproc_last_error());
  ck_assert_uint_eq(mproc_list_len(v), 3000);
  for (i = 0; i < 3000; i++) {
    int code = mproc_async_task(r, i, NULL, NULL, NULL);
    if (i == 1500) {
      ck_assert_int_eq(code, MPROC_EWORKERDIED);
      ck_assert_int_eq(mproc_value_type(mproc_list_get(v, i)), MPROC_T_NONE);
    } else {
      ck_assert_msg(code == 0, "task %d", (int)i);
      ck_assert_int_eq(int_at(v, i), (int64_t)i * 1000003);
    }
  }
  mproc_async_free(r);
  mproc_value_free(l);
  mproc_pool_free(p);
}
END_TEST

/* ---- a worker killed in the middle of a task -------------------------------- */

START_TEST(test_worker_killed) {
  mproc_pool *p = new_pool(2);
  mproc_value *l = range(20), *res = NULL, *arg = mproc_none();
  mproc_async *r = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  const mproc_value *v = NULL;
  const char *msg = NULL;
  long before[2], after[2], pid = 0;
  size_t i;
  int code, fresh;
  ck_assert_int_eq(mproc_pool_pids(p, before, 2), 2);

  o.chunksize = 5; /* 7 is the third task of its chunk */
  ck_mproc_ok(mproc_pool_map_async(p, t_die_on_7, l, &o, &r));
  ck_mproc(mproc_async_get(r, 120, &v), MPROC_EWORKERDIED);
  ck_assert_msg(strstr(mproc_last_error(), "died (signal 9) while running "
                                           "task 7") != NULL,
                "%s", mproc_last_error());
  for (i = 0; i < 20; i++) {
    code = mproc_async_task(r, i, NULL, &msg, &pid);
    if (i == 7) {
      ck_assert_int_eq(code, MPROC_EWORKERDIED);
      ck_assert_int_gt(pid, 0);
    } else {
      ck_assert_msg(code == 0, "task %d: %s", (int)i, msg ? msg : "");
      ck_assert_int_eq(int_at(v, i), (int64_t)i * 10);
    }
  }
  mproc_async_free(r);

  /* The pool still works, with a new worker in place of the dead one. */
  ck_mproc_ok(mproc_pool_map(p, t_square, l, 1, &res));
  for (i = 0; i < 20; i++)
    ck_assert_int_eq(int_at(res, i), (int64_t)(i * i));
  mproc_value_free(res);
  ck_assert_int_eq(mproc_pool_pids(p, after, 2), 2);
  fresh = 0;
  for (i = 0; i < 2; i++)
    fresh += after[i] != before[0] && after[i] != before[1];
  ck_assert_int_eq(fresh, 1);
  ck_mproc_ok(mproc_pool_apply(p, t_pid, arg, &res));
  mproc_value_free(res);
  mproc_value_free(arg);
  mproc_value_free(l);
  mproc_pool_free(p);
}
END_TEST

/* ---- the inheritance rule and initargs -------------------------------------- */

START_TEST(test_inherit) {
  mproc_queue *q = NULL;
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *initargs, *arg, *res = NULL, *got = NULL;
  mproc_async *r = (mproc_async *)&r;
  int64_t sum = 0, x;
  int i;

  ck_mproc_ok(mproc_queue_new(&q, 0));
  initargs = mproc_list();
  mproc_list_append(initargs, mproc_queue_ref(q));
  po.processes = 2;
  po.initializer = init_queue;
  po.initargs = initargs;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  mproc_value_free(initargs);

  /* In an argument: refused at submit, in the caller, with Python's text. */
  arg = mproc_list();
  mproc_list_append(arg, mproc_queue_ref(q));
  ck_mproc(mproc_pool_apply_async(p, t_put, arg, NULL, &r), MPROC_EINHERIT);
  ck_assert_ptr_null(r);
  ck_assert_msg(strstr(mproc_last_error(),
                       "Queue objects should only be shared between "
                       "processes through inheritance") != NULL,
                "%s", mproc_last_error());
  ck_mproc(mproc_pool_map(p, t_put, arg, 0, &res), MPROC_EINHERIT);
  mproc_value_free(arg);

  /* Through initargs the workers have it: tasks put into it. */
  for (i = 1; i <= 10; i++) {
    arg = mproc_int(i);
    ck_mproc_ok(mproc_pool_apply(p, t_put, arg, &res));
    ck_assert_ptr_null(res);
    mproc_value_free(arg);
  }
  for (i = 0; i < 10; i++) {
    ck_mproc_ok(mproc_queue_get(q, &got, 60));
    ck_mproc_ok(mproc_value_get_int(got, &x));
    sum += x;
    mproc_value_free(got);
  }
  ck_assert_int_eq(sum, 55);

  /* In a result: that task fails with the same error. */
  arg = mproc_none();
  ck_mproc(mproc_pool_apply(p, t_return_queue, arg, &res), MPROC_EINHERIT);
  ck_assert_msg(strstr(mproc_last_error(),
                       "Queue objects should only be shared between "
                       "processes through inheritance") != NULL,
                "%s", mproc_last_error());
  /* and the pool goes on */
  mproc_value_free(arg);
  arg = mproc_int(4);
  ck_mproc_ok(mproc_pool_apply(p, t_square, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_eq(x, 16);
  mproc_value_free(res);
  mproc_value_free(arg);

  /* Chunks of several tasks: their results travel as one list unless one
   * cannot be sent; then only that task fails (chunk 0: task 1; chunk 1:
   * all fine, a None among them). */
  {
    mproc_value *l = mproc_list();
    const mproc_value *v = NULL;
    mproc_async *r = NULL;
    mproc_call_opts co = MPROC_CALL_OPTS_INIT;
    const char *msg = NULL;
    int64_t k;
    for (k = 0; k < 8; k++)
      mproc_list_append(l, k == 1 ? mproc_none() : mproc_int(k == 6 ? -1 : k));
    co.chunksize = 4;
    ck_mproc_ok(mproc_pool_map_async(p, t_mixed, l, &co, &r));
    ck_mproc(mproc_async_get(r, 60, &v), MPROC_EINHERIT);
    ck_assert_uint_eq(mproc_list_len(v), 8);
    for (k = 0; k < 8; k++) {
      int code = mproc_async_task(r, (size_t)k, NULL, &msg, NULL);
      if (k == 1) {
        ck_assert_int_eq(code, MPROC_EINHERIT);
        ck_assert_msg(strstr(msg, "the result cannot be sent") != NULL, "%s",
                      msg);
      } else {
        ck_assert_int_eq(code, 0);
        ck_assert_ptr_null(msg);
      }
      if (k == 1 || k == 6)
        ck_assert_int_eq(mproc_value_type(mproc_list_get(v, (size_t)k)),
                         MPROC_T_NONE);
      else
        ck_assert_int_eq(int_at(v, (size_t)k), k * k);
    }
    mproc_async_free(r);
    /* all of it sendable: one list per chunk, values in order */
    mproc_list_set(l, 1, mproc_int(1));
    ck_mproc_ok(mproc_pool_map(p, t_mixed, l, 4, &res));
    for (k = 0; k < 8; k++)
      if (k == 6)
        ck_assert_int_eq(mproc_value_type(mproc_list_get(res, (size_t)k)),
                         MPROC_T_NONE);
      else
        ck_assert_int_eq(int_at(res, (size_t)k), k * k);
    mproc_value_free(res);
    mproc_value_free(l);
  }
  mproc_pool_free(p);
  mproc_queue_free(q);
}
END_TEST

/* ---- batches: queued apply/submit tasks share a message ----------------- */

/*
 * Many apply_async, each result freed as soon as it is got: a batch's
 * first task may be taken back by an idle worker, finish elsewhere and
 * its call be freed while the rest of the batch is still out (the time
 * limit was read through that call: a use after free under ASan).
 */
START_TEST(test_batches_freed_early) {
  mproc_pool *p = new_pool(2);
  static mproc_async *as[10000];
  mproc_value *one = mproc_int(3);
  const mproc_value *v = NULL;
  int64_t x;
  int k, round;
  for (round = 0; round < 5; round++) {
    for (k = 0; k < 10000; k++)
      ck_mproc_ok(mproc_pool_apply_async(p, t_square, one, NULL, &as[k]));
    for (k = 0; k < 10000; k++) {
      ck_mproc_ok(mproc_async_get(as[k], 60, &v));
      ck_mproc_ok(mproc_value_get_int(v, &x));
      ck_assert_int_eq(x, 9);
      mproc_async_free(as[k]);
    }
  }
  mproc_value_free(one);
  mproc_pool_free(p);
}
END_TEST

START_TEST(test_batches) {
  mproc_queue *q = NULL;
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_async *rs[300];
  mproc_future *fs[300];
  mproc_value *initargs, *arg, *got = NULL;
  const mproc_value *v = NULL;
  int64_t x;
  int i, seen[10] = {0};

  /* One worker, ten queued tasks (they go in batches): a cancelled one
   * never runs, whether its batch has started or not; the rest give their
   * values. */
  ck_mproc_ok(mproc_queue_new(&q, 0));
  initargs = mproc_list();
  mproc_list_append(initargs, mproc_queue_ref(q));
  po.processes = 1;
  po.initializer = init_queue;
  po.initargs = initargs;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  for (i = 0; i < 10; i++) {
    arg = mproc_int(i);
    ck_mproc_ok(mproc_pool_apply_async(p, t_put_nap, arg, NULL, &rs[i]));
    mproc_value_free(arg);
  }
  /* the first task runs: the others have been sent (a batch) */
  ck_mproc_ok(mproc_queue_get(q, &got, 60));
  ck_mproc_ok(mproc_value_get_int(got, &x));
  ck_assert_int_eq(x, 0);
  seen[0] = 1;
  mproc_value_free(got);
  ck_assert_int_eq(mproc_async_cancel(rs[6], 0), 1);
  for (i = 0; i < 10; i++) {
    if (i == 6) {
      ck_mproc(mproc_async_get(rs[i], 60, &v), MPROC_ECLOSED);
    } else {
      ck_mproc_ok(mproc_async_get(rs[i], 60, &v));
      ck_mproc_ok(mproc_value_get_int(v, &x));
      ck_assert_int_eq(x, (int64_t)i * i);
    }
    mproc_async_free(rs[i]);
  }
  for (i = 0; i < 8; i++) {
    ck_mproc_ok(mproc_queue_get(q, &got, 60));
    ck_mproc_ok(mproc_value_get_int(got, &x));
    ck_assert(x >= 0 && x < 10 && x != 6 && !seen[x]);
    seen[x] = 1;
    mproc_value_free(got);
  }
  ck_mproc(mproc_queue_get(q, &got, 0.5), MPROC_EEMPTY);
  mproc_pool_free(p);
  mproc_value_free(initargs);

  /* A worker dies in the middle of a batch: that task fails, the others
   * of the batch run again elsewhere and give their values. */
  p = new_pool(1);
  for (i = 0; i < 6; i++) {
    arg = mproc_int(4 + i);
    ck_mproc_ok(mproc_pool_apply_async(p, t_die_on_7, arg, NULL, &rs[i]));
    mproc_value_free(arg);
  }
  for (i = 0; i < 6; i++) {
    if (4 + i == 7) {
      ck_mproc(mproc_async_get(rs[i], 60, &v), MPROC_EWORKERDIED);
    } else {
      ck_mproc_ok(mproc_async_get(rs[i], 60, &v));
      ck_mproc_ok(mproc_value_get_int(v, &x));
      ck_assert_int_eq(x, (int64_t)(4 + i) * 10);
    }
    mproc_async_free(rs[i]);
  }
  mproc_pool_free(p);

  /* A long task does not hold up the short ones queued with it: an idle
   * worker takes them back from a batch (or a chunk) not started. */
  p = new_pool(2);
  for (i = 0; i < 8; i++) {
    arg = mproc_float(i == 0 ? 30.0 : 0.01);
    ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, arg, NULL, &rs[i]));
    mproc_value_free(arg);
  }
  for (i = 1; i < 8; i++)
    ck_mproc_ok(mproc_async_get(rs[i], 20, &v));
  ck_assert_int_eq(mproc_async_ready(rs[0]), 0);
  mproc_pool_terminate(p);
  ck_mproc(mproc_async_get(rs[0], 60, &v), MPROC_ECLOSED);
  for (i = 0; i < 8; i++)
    mproc_async_free(rs[i]);
  mproc_pool_free(p);

  /* Many of them, both faces: every value in its place. */
  p = new_pool(2);
  for (i = 0; i < 300; i++) {
    arg = mproc_int(i);
    ck_mproc_ok(mproc_pool_apply_async(p, t_square, arg, NULL, &rs[i]));
    ck_mproc_ok(mproc_pool_submit(p, t_square, arg, &fs[i]));
    mproc_value_free(arg);
  }
  for (i = 0; i < 300; i++) {
    ck_mproc_ok(mproc_async_get(rs[i], 60, &v));
    ck_mproc_ok(mproc_value_get_int(v, &x));
    ck_assert_int_eq(x, (int64_t)i * i);
    ck_mproc_ok(mproc_future_result(fs[i], 60, &v));
    ck_mproc_ok(mproc_value_get_int(v, &x));
    ck_assert_int_eq(x, (int64_t)i * i);
    mproc_async_free(rs[i]);
    mproc_future_free(fs[i]);
  }
  mproc_pool_free(p);
  mproc_queue_free(q);
}
END_TEST

/* ---- close, join, terminate ------------------------------------------------- */

START_TEST(test_close_join_terminate) {
  mproc_pool *p = new_pool(2);
  mproc_value *arg = mproc_float(0.2), *res = NULL, *slow = mproc_float(30);
  mproc_async *r1 = NULL, *r2 = NULL, *r3 = NULL;
  const mproc_value *v = NULL;
  double t0;

  ck_mproc(mproc_pool_join(p, 1), MPROC_EINVAL); /* still running */
  ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, arg, NULL, &r1));
  ck_mproc_ok(mproc_pool_close(p));
  ck_mproc(mproc_pool_apply(p, t_sleep, arg, &res), MPROC_ECLOSED);
  ck_mproc(mproc_pool_apply_async(p, t_sleep, arg, NULL, &r2), MPROC_ECLOSED);
  /* join waits for the work queued before close */
  ck_mproc_ok(mproc_pool_join(p, 60));
  ck_mproc_ok(mproc_async_get(r1, 0, &v));
  ck_assert_str_eq(mproc_value_str(v), "slept");
  ck_mproc_ok(mproc_pool_join(p, 0)); /* again: fine */
  mproc_async_free(r1);
  mproc_pool_free(p);

  /* terminate fails what is unfinished, at once */
  p = new_pool(1);
  ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, slow, NULL, &r1));
  ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, slow, NULL, &r3));
  mproc_sleep(0.3);
  t0 = mproc__plat_monotonic();
  ck_mproc_ok(mproc_pool_terminate(p));
  ck_mproc(mproc_async_get(r1, 10, &v), MPROC_ECLOSED);
  ck_mproc(mproc_async_get(r3, 10, &v), MPROC_ECLOSED);
  ck_assert_msg(mproc__plat_monotonic() - t0 < 20, "terminate waited");
  ck_mproc_ok(mproc_pool_join(p, 10));
  mproc_pool_free(p);
  /* results outlive their pool */
  ck_assert_int_eq(mproc_async_ready(r1), 1);
  ck_assert_int_eq(mproc_async_successful(r3), 0);
  mproc_async_free(r1);
  mproc_async_free(r3);
  mproc_value_free(arg);
  mproc_value_free(slow);
}
END_TEST

/* ---- many user threads on one pool ------------------------------------------------ */

typedef struct thr_ctx {
  mproc_pool *p;
  int base, bad;
} thr_ctx;

static int thr_submit(void *arg) {
  thr_ctx *c = arg;
  int i;
  for (i = 0; i < 100; i++) {
    mproc_value *a = mproc_int(c->base + i), *res = NULL;
    int64_t x = -1;
    if (mproc_pool_apply(c->p, t_square, a, &res) != 0 ||
        mproc_value_get_int(res, &x) != 0 ||
        x != (int64_t)(c->base + i) * (c->base + i))
      c->bad++;
    mproc_value_free(res);
    mproc_value_free(a);
  }
  return 0;
}

START_TEST(test_threads) {
  mproc_pool *p = new_pool(2);
  mproc_thread *th[4];
  thr_ctx c[4];
  int i;
  for (i = 0; i < 4; i++) {
    c[i].p = p;
    c[i].base = 1000 * i;
    c[i].bad = 0;
    ck_mproc_ok(mproc_thread_start(&th[i], thr_submit, &c[i]));
  }
  for (i = 0; i < 4; i++) {
    ck_mproc_ok(mproc_thread_join(th[i], NULL));
    ck_assert_int_eq(c[i].bad, 0);
  }
  mproc_pool_free(p);
}
END_TEST

/* ---- pool calls from a callback (the result thread) ------------------------------- */

typedef struct cbpool {
  mproc_pool *p;
  mproc_async *other;
  int join_rc, cancel_rc, term_rc;
} cbpool;

static void cb_calls_pool(mproc_async *r, const mproc_value *v, void *ctx) {
  cbpool *c = ctx;
  (void)r;
  (void)v;
  c->join_rc = mproc_pool_join(c->p, 1);
  c->cancel_rc = mproc_async_cancel(c->other, 0);
  c->term_rc = mproc_pool_terminate(c->p);
}

START_TEST(test_callback_calls_pool) {
  cbpool c = {NULL, NULL, 1, 1, 1};
  mproc_value *arg = mproc_int(2), *slow = mproc_float(60);
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  mproc_async *r = NULL;
  o.callback = cb_calls_pool;
  o.ctx = &c;
  c.p = new_pool(2);
  ck_mproc_ok(mproc_pool_apply_async(c.p, t_sleep, slow, NULL, &c.other));
  ck_mproc_ok(mproc_pool_apply_async(c.p, t_square, arg, &o, &r));
  /* no hang: the callback's join fails, cancel and terminate act later */
  ck_mproc_ok(mproc_async_wait(r, 60));
  ck_mproc_ok(mproc_pool_join(c.p, 60));
  ck_assert_int_eq(c.join_rc, MPROC_EINVAL);
  ck_assert_int_eq(c.cancel_rc, 0);
  ck_assert_int_eq(c.term_rc, 0);
  ck_mproc(mproc_async_get(c.other, 10, NULL), MPROC_ECLOSED);
  mproc_async_free(r);
  mproc_async_free(c.other);
  mproc_pool_free(c.p);
  mproc_value_free(arg);
  mproc_value_free(slow);
}
END_TEST

/* ---- a worker that dies holding a Lock ------------------------------------------- */

static mproc_lock *g_lock;

static int init_lock(const mproc_value *initargs) {
  mproc_lock *l = NULL;
  int rc = mproc_value_get_lock(mproc_list_get(initargs, 0), &l);
  if (rc)
    return rc;
  g_lock = mproc_lock_incref(l);
  return 0;
}

/* arg 1: take the lock and die holding it; else: take it, say how. */
static int t_lock(const mproc_value *arg, mproc_value **result) {
  int64_t die = 0;
  int rc;
  mproc_value_get_int(arg, &die);
  rc = mproc_lock_acquire(g_lock, 30);
  if (die)
    die_now();
  if (rc == 0 || rc == MPROC_EOWNERDEAD)
    mproc_lock_release(g_lock);
  *result = mproc_int(rc);
  return 0;
}

START_TEST(test_worker_dies_holding_lock) {
  mproc_lock *l = NULL;
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *ia = mproc_list(), *arg, *res = NULL;
  int64_t x = 1;
  ck_mproc_ok(mproc_lock_new(&l));
  mproc_list_append(ia, mproc_lock_ref(l));
  po.processes = 2;
  po.initializer = init_lock;
  po.initargs = ia;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  arg = mproc_int(1);
  ck_mproc(mproc_pool_apply(p, t_lock, arg, &res), MPROC_EWORKERDIED);
  mproc_value_free(arg);
  /* the next task gets the lock, told that its holder died */
  arg = mproc_int(0);
  ck_mproc_ok(mproc_pool_apply(p, t_lock, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_eq(x, MPROC_EOWNERDEAD);
  mproc_value_free(res);
  ck_mproc_ok(mproc_pool_apply(p, t_lock, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_eq(x, 0);
  mproc_value_free(res);
  mproc_value_free(arg);
  mproc_pool_free(p);
  mproc_value_free(ia);
  mproc_lock_free(l);
}
END_TEST

/* ---- imap, progress, cancel, maxtasksperchild, initializer ------------------ */

/* Task i sleeps (n - i) * 50 ms: later tasks finish first. */
static int t_countdown(const mproc_value *arg, mproc_value **result) {
  int64_t i = 0, n = 0;
  mproc_value_get_int(mproc_list_get(arg, 0), &i);
  mproc_value_get_int(mproc_list_get(arg, 1), &n);
  mproc_sleep(0.05 * (double)(n - i));
  if (i == 2)
    return mproc_fail(MPROC_EKEY, "two");
  *result = mproc_int(i);
  return 0;
}

/* The worker's copies of the two Events its initializer received: "go"
 * (every t_gated task waits for it) and "zero" (task 0 also waits for it). */
static mproc_event *g_go, *g_zero;

static int init_events(const mproc_value *initargs) {
  int rc = mproc_value_get_event(mproc_list_get(initargs, 0), &g_go);
  if (rc == 0)
    rc = mproc_value_get_event(mproc_list_get(initargs, 1), &g_zero);
  if (rc)
    return rc;
  mproc_event_incref(g_go);
  mproc_event_incref(g_zero);
  return 0;
}

/* Task i waits for "go", task 0 also for "zero" (so which task finishes
 * first is set by construction, not by sleeps); task 2 fails. */
static int t_gated(const mproc_value *arg, mproc_value **result) {
  int64_t i = 0;
  int rc;
  mproc_value_get_int(mproc_list_get(arg, 0), &i);
  rc = mproc_event_wait(g_go, 60);
  if (rc == 0 && i == 0)
    rc = mproc_event_wait(g_zero, 60);
  if (rc)
    return mproc_fail(rc, "gate not opened");
  if (i == 2)
    return mproc_fail(MPROC_EKEY, "two");
  *result = mproc_int(i);
  return 0;
}

START_TEST(test_imap) {
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_event *go = NULL, *zero = NULL;
  mproc_value *ia = mproc_list();
  mproc_value *l = mproc_list(), *v = NULL;
  mproc_async *it = NULL;
  int64_t x, i, seen = 0;
  int rc;
  ck_mproc_ok(mproc_event_new(&go));
  ck_mproc_ok(mproc_event_new(&zero));
  mproc_list_append(ia, mproc_event_ref(go));
  mproc_list_append(ia, mproc_event_ref(zero));
  po.processes = 2;
  po.initializer = init_events;
  po.initargs = ia;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  for (i = 0; i < 6; i++)
    mproc_list_append(l, mproc_build("[LL]", i, (int64_t)6));
  /* In order, a result as soon as it is there; the failed one in place. */
  ck_mproc_ok(mproc_pool_imap(p, t_countdown, l, 0, &it));
  for (i = 0; i < 6; i++) {
    rc = mproc_async_next(it, 60, &v);
    if (i == 2) {
      ck_mproc(rc, MPROC_EKEY);
      ck_assert_ptr_null(v);
      ck_assert_msg(strstr(mproc_last_error(), ": two") != NULL, "%s",
                    mproc_last_error());
      continue;
    }
    ck_mproc_ok(rc);
    ck_mproc_ok(mproc_value_get_int(v, &x));
    ck_assert_int_eq(x, i);
    mproc_value_free(v);
  }
  ck_mproc(mproc_async_next(it, 1, &v), MPROC_EEOF);
  ck_mproc(mproc_async_get(it, 1, NULL), MPROC_EINVAL);
  mproc_async_free(it);

  /* Unordered: every result once; next with a short timeout before
   * anything is ready (every task waits for "go"); the first is not task 0
   * (it also waits for "zero", opened only once a first result is in: the
   * other worker holds other tasks, a worker holding at most two). */
  ck_mproc_ok(mproc_pool_imap_unordered(p, t_gated, l, 1, &it));
  ck_mproc(mproc_async_next(it, 0.001, &v), MPROC_ETIMEDOUT);
  ck_mproc_ok(mproc_event_set(go));
  for (i = 0; i < 6; i++) {
    rc = mproc_async_next(it, 60, &v);
    if (i == 0)
      ck_mproc_ok(mproc_event_set(zero));
    if (rc == MPROC_EKEY) {
      seen |= 1 << 2;
      continue;
    }
    ck_mproc_ok(rc);
    ck_mproc_ok(mproc_value_get_int(v, &x));
    if (i == 0)
      ck_assert_int_ne(x, 0);
    seen |= (int64_t)1 << x;
    mproc_value_free(v);
  }
  ck_assert_int_eq(seen, 63);
  ck_mproc(mproc_async_next(it, 1, &v), MPROC_EEOF);
  mproc_async_free(it);
  mproc_value_free(l);

  /* Lazy: the first result is there while a later task still runs. */
  {
    size_t done = 0, total = 0;
    l = mproc_list();
    mproc_list_append(l, mproc_float(0.01));
    mproc_list_append(l, mproc_float(20));
    ck_mproc_ok(mproc_pool_imap(p, t_sleep, l, 1, &it));
    ck_mproc_ok(mproc_async_next(it, 10, &v));
    ck_assert_str_eq(mproc_value_str(v), "slept");
    mproc_value_free(v);
    ck_mproc_ok(mproc_async_progress(it, &done, &total));
    ck_assert_uint_eq(done, 1);
    ck_assert_uint_eq(total, 2);
    ck_mproc(mproc_async_next(it, 0.01, &v), MPROC_ETIMEDOUT);
    mproc_value_free(l);
  }
  mproc_pool_terminate(p);
  ck_mproc(mproc_async_next(it, 10, &v), MPROC_ECLOSED);
  mproc_async_free(it);
  mproc_pool_free(p);
  mproc_value_free(ia);
  mproc_event_free(go);
  mproc_event_free(zero);
}
END_TEST

typedef struct progress_info {
  size_t calls, last_done, last_total;
} progress_info;

static void on_progress(mproc_async *r, size_t done, size_t total,
                        void *ctx) {
  progress_info *pi = ctx;
  (void)r;
  pi->calls++;
  pi->last_done = done;
  pi->last_total = total;
}

START_TEST(test_progress) {
  mproc_pool *p = new_pool(2);
  mproc_value *l = range(50);
  mproc_async *r = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  progress_info pi = {0, 0, 0};
  size_t done = 99, total = 0;
  o.progress = on_progress;
  o.ctx = &pi;
  o.chunksize = 4;
  ck_mproc_ok(mproc_pool_map_async(p, t_square, l, &o, &r));
  ck_mproc_ok(mproc_async_wait(r, 60));
  ck_mproc_ok(mproc_async_progress(r, &done, &total));
  ck_assert_uint_eq(done, 50);
  ck_assert_uint_eq(total, 50);
  ck_assert_uint_eq(pi.calls, 50);
  ck_assert_uint_eq(pi.last_done, 50);
  ck_assert_uint_eq(pi.last_total, 50);
  mproc_async_free(r);
  mproc_value_free(l);
  mproc_pool_free(p);
}
END_TEST

/* Puts its argument into the initializer's queue, then sleeps. */
static int t_mark_sleep(const mproc_value *arg, mproc_value **result) {
  int rc = mproc_queue_put(g_q, mproc_list_get(arg, 0), MPROC_FOREVER);
  double s = 0;
  if (rc)
    return rc;
  mproc_value_get_float(mproc_list_get(arg, 1), &s);
  mproc_sleep(s);
  *result = mproc_int(1);
  return 0;
}

static mproc_pool *queue_pool(mproc_queue *q, int n) {
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *initargs = mproc_list();
  mproc_list_append(initargs, mproc_queue_ref(q));
  po.processes = n;
  po.initializer = init_queue;
  po.initargs = initargs;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  mproc_value_free(initargs);
  return p;
}

static int count_items(mproc_queue *q) {
  mproc_value *v = NULL;
  int n = 0;
  while (mproc_queue_get(q, &v, 0) == 0) {
    mproc_value_free(v);
    n++;
  }
  return n;
}

START_TEST(test_cancel) {
  mproc_queue *q = NULL;
  mproc_pool *p;
  mproc_value *l = mproc_list(), *v = NULL;
  mproc_async *r = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  long before[2], after[2];
  int i, n, ok = 0, cancelled = 0, code, started;
  double t0;
  ck_mproc_ok(mproc_queue_new(&q, 0));
  p = queue_pool(q, 2);
  for (i = 0; i < 20; i++)
    mproc_list_append(l, mproc_build("[if]", i, 0.3));
  o.chunksize = 1;
  ck_mproc_ok(mproc_pool_map_async(p, t_mark_sleep, l, &o, &r));
  /* wait until two tasks run */
  ck_mproc_ok(mproc_queue_get(q, &v, 60));
  mproc_value_free(v);
  ck_mproc_ok(mproc_queue_get(q, &v, 60));
  mproc_value_free(v);
  n = mproc_async_cancel(r, 0);
  ck_assert_int_ge(n, 12);
  ck_assert_int_le(n, 18);
  ck_mproc_ok(mproc_async_wait(r, 60));
  for (i = 0; i < 20; i++) {
    code = mproc_async_task(r, i, NULL, NULL, NULL);
    ok += code == 0;
    cancelled += code == MPROC_ECLOSED;
  }
  ck_assert_int_eq(cancelled, n);
  ck_assert_int_eq(ok + cancelled, 20);
  /* the cancelled ones never ran: only the others marked the queue */
  ck_mproc(mproc_async_successful(r), 0);
  mproc_async_free(r);
  mproc_value_free(l);
  ck_assert_int_eq(count_items(q) + 2, ok);

  /* kill_running: the running tasks fail at once, new workers come */
  ck_assert_int_eq(mproc_pool_pids(p, before, 2), 2);
  l = mproc_list();
  for (i = 0; i < 4; i++)
    mproc_list_append(l, mproc_build("[if]", i, 60.0));
  ck_mproc_ok(mproc_pool_map_async(p, t_mark_sleep, l, &o, &r));
  for (started = 0; started < 2; started++) {
    ck_mproc_ok(mproc_queue_get(q, &v, 60));
    mproc_value_free(v);
  }
  t0 = mproc__plat_monotonic();
  n = mproc_async_cancel(r, 1);
  ck_assert_int_eq(n, 2); /* the two not started */
  ck_mproc_ok(mproc_async_wait(r, 30));
  ck_assert_msg(mproc__plat_monotonic() - t0 < 30, "cancel waited");
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(mproc_async_task(r, i, NULL, NULL, NULL), MPROC_ECLOSED);
  mproc_async_free(r);
  mproc_value_free(l);
  l = mproc_int(5);
  ck_mproc_ok(mproc_pool_apply(p, t_square, l, &v));
  mproc_value_free(v);
  mproc_value_free(l);
  ck_assert_int_eq(mproc_pool_pids(p, after, 2), 2);
  for (i = 0; i < 2; i++)
    ck_assert(after[i] != before[0] && after[i] != before[1]);
  mproc_pool_free(p);
  mproc_queue_free(q);
}
END_TEST

START_TEST(test_maxtasksperchild) {
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *arg = mproc_none(), *res = NULL, *l = range(6);
  int64_t pids[4];
  int i, j;
  po.processes = 1;
  po.maxtasksperchild = 1;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  for (i = 0; i < 4; i++) {
    ck_mproc_ok(mproc_pool_apply(p, t_pid, arg, &res));
    ck_mproc_ok(mproc_value_get_int(res, &pids[i]));
    mproc_value_free(res);
    for (j = 0; j < i; j++)
      ck_assert_int_ne(pids[i], pids[j]);
  }
  /* a map still completes, one chunk per worker */
  ck_mproc_ok(mproc_pool_map(p, t_square, l, 2, &res));
  ck_assert_int_eq(int_at(res, 5), 25);
  mproc_value_free(res);
  ck_mproc(mproc_pool_close(p), 0);
  ck_mproc_ok(mproc_pool_join(p, 60));
  mproc_pool_free(p);
  mproc_value_free(arg);
  mproc_value_free(l);
}
END_TEST

/* The initializer counts its runs in a shared Value, then fails. */
static int init_fail(const mproc_value *initargs) {
  mproc_shared *n = NULL;
  int64_t mode = 0;
  mproc_value_get_shared(mproc_list_get(initargs, 0), &n);
  mproc_value_get_int(mproc_list_get(initargs, 1), &mode);
  mproc_shared_acquire(n, MPROC_FOREVER);
  ((int *)mproc_shared_data(n))[0]++;
  mproc_shared_release(n);
  if (mode == 1)
    die_now();
  return mproc_fail(MPROC_EKEY, "no config here");
}

START_TEST(test_init_fails) {
  int mode;
  for (mode = 0; mode < 2; mode++) {
    mproc_shared *n = NULL;
    mproc_pool *p = NULL;
    mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
    mproc_value *ia = mproc_list(), *arg = mproc_int(2), *res = NULL;
    mproc_async *r = NULL;
    ck_mproc_ok(mproc_shared_value(&n, 'i', NULL, NULL));
    mproc_list_append(ia, mproc_shared_ref(n));
    mproc_list_append(ia, mproc_int(mode));
    po.processes = 2;
    po.initializer = init_fail;
    po.initargs = ia;
    ck_mproc_ok(mproc_pool_new(&p, &po));
    ck_mproc_ok(mproc_pool_apply_async(p, t_square, arg, NULL, &r));
    ck_mproc(mproc_async_get(r, 60, NULL), MPROC_ESPAWN);
    ck_assert_msg(strstr(mproc_last_error(), "initializer") != NULL, "%s",
                  mproc_last_error());
    ck_assert_msg(strstr(mproc_last_error(),
                         mode ? "died in the initializer (signal 9)"
                              : "no config here") != NULL,
                  "%s", mproc_last_error());
    mproc_async_free(r);
    /* broken: later submissions fail at once, no respawn storm */
    ck_mproc(mproc_pool_apply(p, t_square, arg, &res), MPROC_ESPAWN);
    mproc_sleep(0.5);
    ck_assert_int_eq(((int *)mproc_shared_data(n))[0], 4);
    mproc_pool_free(p);
    mproc_value_free(ia);
    mproc_value_free(arg);
    mproc_shared_free(n);
  }
}
END_TEST

/* ---- the futures face -------------------------------------------------------- */

static void count_done(mproc_future *f, void *ctx) {
  (void)f;
  (*(int *)ctx)++;
}

START_TEST(test_futures) {
  mproc_pool *p = new_pool(2);
  mproc_future *fs[5], *f;
  mproc_completed *it = NULL;
  mproc_value *arg;
  const mproc_value *v = NULL;
  const char *msg = NULL;
  int i, seen = 0, calls = 0, done[5];
  size_t idx;
  int64_t x;

  for (i = 0; i < 5; i++) {
    arg = mproc_int(i);
    ck_mproc_ok(mproc_pool_submit(p, t_square, arg, &fs[i]));
    mproc_value_free(arg);
  }
  ck_mproc_ok(mproc_future_add_done_callback(fs[4], count_done, &calls));
  ck_mproc_ok(mproc_as_completed(&it, fs, 5, 60));
  for (i = 0; i < 5; i++) {
    ck_mproc_ok(mproc_completed_next(it, &f, &idx));
    ck_assert_ptr_eq(f, fs[idx]);
    ck_assert_int_eq(mproc_future_done(f), 1);
    ck_mproc_ok(mproc_future_result(f, 0, &v));
    ck_mproc_ok(mproc_value_get_int(v, &x));
    ck_assert_int_eq(x, (int64_t)(idx * idx));
    seen |= 1 << idx;
  }
  ck_assert_int_eq(seen, 31);
  ck_mproc(mproc_completed_next(it, &f, &idx), MPROC_EEOF);
  mproc_completed_free(it);
  /* Callbacks run after the state is set (as Python's): soon. */
  for (i = 0; i < 600 && calls < 1; i++)
    mproc_sleep(0.01);
  ck_assert_int_eq(calls, 1);
  /* on a done future: at once, in the caller */
  ck_mproc_ok(mproc_future_add_done_callback(fs[4], count_done, &calls));
  ck_assert_int_eq(calls, 2);
  ck_mproc_ok(mproc_futures_wait(fs, 5, 0, MPROC_ALL_COMPLETED, done) - 5);
  for (i = 0; i < 5; i++)
    mproc_future_free(fs[i]);

  /* exception, timeouts, FIRST_COMPLETED, FIRST_EXCEPTION */
  arg = mproc_int(3);
  ck_mproc_ok(mproc_pool_submit(p, t_fail_on_3, arg, &fs[0]));
  mproc_value_free(arg);
  arg = mproc_float(30);
  ck_mproc_ok(mproc_pool_submit(p, t_sleep, arg, &fs[1]));
  mproc_value_free(arg);
  ck_assert_int_eq(mproc_futures_wait(fs, 2, 60, MPROC_FIRST_EXCEPTION, done),
                   1);
  ck_assert_int_eq(done[0], 1);
  ck_assert_int_eq(done[1], 0);
  ck_mproc(mproc_future_exception(fs[0], 0, &msg), MPROC_EKEY);
  ck_assert_msg(strstr(msg, "no key 3 here") != NULL, "%s", msg);
  ck_mproc(mproc_future_result(fs[0], 0, &v), MPROC_EKEY);
  ck_mproc(mproc_future_result(fs[1], 0.05, &v), MPROC_ETIMEDOUT);
  ck_mproc(mproc_future_exception(fs[1], 0.05, &msg), MPROC_ETIMEDOUT);
  ck_assert_int_eq(mproc_futures_wait(fs, 2, 0.05, MPROC_ALL_COMPLETED, done),
                   1);
  arg = mproc_float(0.1);
  ck_mproc_ok(mproc_pool_submit(p, t_sleep, arg, &fs[2]));
  mproc_value_free(arg);
  ck_assert_int_eq(
      mproc_futures_wait(&fs[1], 2, 60, MPROC_FIRST_COMPLETED, done), 1);
  ck_assert_msg(done[0] == 0, "the 30 s task is done: %d %s",
                mproc_future_exception(fs[1], 0, &msg), msg ? msg : "");
  ck_assert_int_eq(done[1], 1);
  ck_mproc(mproc_futures_wait(fs, 2, 1, 7, done), MPROC_EINVAL);
  ck_assert_int_eq(mproc_future_running(fs[1]), 1);
  ck_assert_int_eq(mproc_future_cancel(fs[1]), 0); /* running */
  mproc_pool_terminate(p);
  for (i = 0; i < 3; i++)
    mproc_future_free(fs[i]);
  mproc_pool_free(p);
}
END_TEST

START_TEST(test_futures_cancel_shutdown) {
  mproc_queue *q = NULL;
  mproc_pool *p;
  mproc_future *fs[6];
  mproc_value *arg, *v = NULL;
  const mproc_value *cv = NULL;
  int i, ran;
  ck_mproc_ok(mproc_queue_new(&q, 0));
  p = queue_pool(q, 1);
  for (i = 0; i < 6; i++) {
    arg = mproc_build("[if]", i, 0.5);
    ck_mproc_ok(mproc_pool_submit(p, t_mark_sleep, arg, &fs[i]));
    mproc_value_free(arg);
  }
  ck_mproc_ok(mproc_queue_get(q, &v, 60)); /* the first one runs */
  mproc_value_free(v);
  /* not started: cancelled, never runs */
  ck_assert_int_eq(mproc_future_cancel(fs[3]), 1);
  ck_assert_int_eq(mproc_future_cancelled(fs[3]), 1);
  ck_assert_int_eq(mproc_future_done(fs[3]), 1);
  ck_mproc(mproc_future_result(fs[3], 0, &cv), MPROC_ECLOSED);
  ck_assert_int_eq(mproc_future_cancel(fs[3]), 0);
  /* shutdown(wait, cancel_futures): the running one finishes, the rest
   * never runs */
  ck_mproc_ok(mproc_pool_shutdown(p, 1, 1));
  ck_mproc_ok(mproc_future_result(fs[0], 0, &cv));
  for (i = 1; i < 6; i++)
    ck_assert_int_eq(mproc_future_cancelled(fs[i]), 1);
  ran = count_items(q);
  ck_assert_int_eq(ran, 0);
  arg = mproc_int(1);
  {
    mproc_future *late = NULL;
    ck_mproc(mproc_pool_submit(p, t_square, arg, &late), MPROC_ECLOSED);
    ck_assert_ptr_null(late);
  }
  mproc_value_free(arg);
  for (i = 0; i < 6; i++)
    mproc_future_free(fs[i]);
  mproc_pool_free(p);
  mproc_queue_free(q);
}
END_TEST

/* ---- time limits, memory cap, Ctrl-C, teardown -------------------------------- */

/* Works until its soft limit passes, then cleans up and returns. */
static int t_soft(const mproc_value *arg, mproc_value **result) {
  int i;
  (void)arg;
  for (i = 0; i < 3000 && !mproc_task_expired(); i++)
    mproc_sleep(0.01);
  *result = mproc_str(mproc_task_expired() ? "cleaned up" : "never expired");
  return 0;
}

START_TEST(test_time_limits) {
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *l = mproc_list(), *arg = mproc_none(), *res = NULL;
  mproc_async *r = NULL;
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  const mproc_value *v = NULL;
  const char *msg = NULL;
  long before[2], after[2];
  double t0;
  int i;
  po.processes = 2;
  po.time_limit = 1.0;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  ck_assert_int_eq(mproc_pool_pids(p, before, 2), 2);
  mproc_list_append(l, mproc_float(0.05));
  mproc_list_append(l, mproc_float(120));
  mproc_list_append(l, mproc_float(0.05));
  mproc_list_append(l, mproc_float(0.05));
  t0 = mproc__plat_monotonic();
  o.chunksize = 1;
  ck_mproc_ok(mproc_pool_map_async(p, t_sleep, l, &o, &r));
  ck_mproc(mproc_async_get(r, 100, &v), MPROC_ETIMEDOUT);
  ck_assert_msg(mproc__plat_monotonic() - t0 < 100, "the hard limit held");
  ck_assert_msg(strstr(mproc_last_error(), "task 1 timed out") != NULL, "%s",
                mproc_last_error());
  for (i = 0; i < 4; i++) {
    int code = mproc_async_task(r, i, NULL, &msg, NULL);
    ck_assert_int_eq(code, i == 1 ? MPROC_ETIMEDOUT : 0);
  }
  mproc_async_free(r);
  /* replaced */
  ck_mproc_ok(mproc_pool_apply(p, t_pid, arg, &res));
  mproc_value_free(res);
  ck_assert_int_eq(mproc_pool_pids(p, after, 2), 2);
  ck_assert(after[0] != before[0] || after[1] != before[1]);

  /* per call: a shorter limit */
  mproc_value_free(arg);
  arg = mproc_float(120);
  o.time_limit = 0.3;
  ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, arg, &o, &r));
  ck_mproc(mproc_async_get(r, 100, &v), MPROC_ETIMEDOUT);
  mproc_async_free(r);

  /* soft: the task sees it and cleans up before returning */
  mproc_value_free(arg);
  arg = mproc_none();
  o.time_limit = 0;
  o.soft_time_limit = 0.2;
  ck_mproc_ok(mproc_pool_apply_async(p, t_soft, arg, &o, &r));
  ck_mproc_ok(mproc_async_get(r, 100, &v));
  ck_assert_str_eq(mproc_value_str(v), "cleaned up");
  mproc_async_free(r);
  /* no soft limit: mproc_task_expired() stays 0 */
  mproc_value_free(arg);
  arg = mproc_float(0.05);
  ck_mproc_ok(mproc_pool_apply(p, t_sleep, arg, &res));
  mproc_value_free(res);
  mproc_value_free(arg);
  mproc_value_free(l);
  mproc_pool_free(p);
}
END_TEST

/* Allocates arg MiB and touches it. */
static int t_alloc(const mproc_value *arg, mproc_value **result) {
  int64_t mib = 0;
  size_t n, i;
  char *m;
  mproc_value_get_int(arg, &mib);
  n = (size_t)mib << 20;
  m = malloc(n);
  if (!m)
    return mproc_fail(MPROC_ENOMEM, "cannot allocate %d MiB", (int)mib);
  for (i = 0; i < n; i += 4096)
    m[i] = 1;
  free(m);
  *result = mproc_int(mib);
  return 0;
}


static int pid_alive(long pid) {
#if defined(_WIN32)
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
  int r;
  if (!h) {
    if (getenv("MPROC_TEST_VERBOSE"))
      fprintf(stderr, "OpenProcess(%ld): %lu\n", pid,
              (unsigned long)GetLastError());
    return 0;
  }
  r = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  CloseHandle(h);
  return r;
#else
  char path[64], st = 0;
  FILE *f;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  f = fopen(path, "r");
  if (!f)
    return kill((pid_t)pid, 0) == 0;
  if (fscanf(f, "%*d (%*[^)]) %c", &st) != 1)
    st = 0;
  fclose(f);
  return st != 0 && st != 'Z' && st != 'X';
#endif
}

/* Seconds until every pid has gone (at most limit), or -1. */
static double gone_within(const long *pids, size_t n, double limit) {
  double t0 = mproc__plat_monotonic(), t;
  size_t i, alive;
  do {
    alive = 0;
    for (i = 0; i < n; i++)
      alive += pid_alive(pids[i]);
    t = mproc__plat_monotonic() - t0;
    if (!alive)
      return t;
    mproc_sleep(0.01);
  } while (t < limit);
  return -1;
}

/* 1 under wine (its ntdll exports wine_get_version), else 0. */
static int under_wine(void) {
#if defined(_WIN32)
  HMODULE nt = GetModuleHandleA("ntdll.dll");
  return nt && GetProcAddress(nt, "wine_get_version") != NULL;
#else
  return 0;
#endif
}

/* What the memory limit counts of this process now: POSIX its address
 * space (RLIMIT_AS), Win32 its commit charge (a Job's process memory). */
static size_t vm_size(void) {
#if defined(_WIN32)
  PROCESS_MEMORY_COUNTERS pmc;
  memset(&pmc, 0, sizeof pmc);
  if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc))
    return 0;
  return pmc.PagefileUsage;
#else
  unsigned long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%lu", &pages) != 1)
      pages = 0;
    fclose(f);
  }
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
#endif
}

START_TEST(test_memory_limit) {
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *arg, *res = NULL;
  long before = 0, after = 0;
  int64_t x = 0;
  int rc;
  /* The cap is on the address space; a sanitizer's reservations count, so
   * it is the test binary's size now plus 256 MiB. */
  po.processes = 1;
  po.memory_limit = vm_size() + ((size_t)256 << 20);
  ck_mproc_ok(mproc_pool_new(&p, &po));
  arg = mproc_int(16);
  ck_mproc_ok(mproc_pool_apply(p, t_alloc, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_eq(x, 16);
  mproc_value_free(res);
  mproc_value_free(arg);
  ck_assert_int_eq(mproc_pool_pids(p, &before, 1), 1);
  arg = mproc_int(1024);
  rc = mproc_pool_apply(p, t_alloc, arg, &res);
  /* a sanitizer's allocator aborts instead of failing; where Windows does
   * not enforce the Job's limit (wine) the watchdog ends the worker */
  if (under_wine()) /* the watchdog, not the Job */
    ck_assert_msg(rc == MPROC_EWORKERDIED &&
                      strstr(mproc_last_error(),
                             "(exit code 6: over its memory limit) while "
                             "running task 0 (memory limit "),
                  "%d %s", rc, mproc_last_error());
  if (rc == MPROC_EWORKERDIED)
    ck_assert_msg(strstr(mproc_last_error(), "(memory limit "), "%s",
                  mproc_last_error());
  else {
    ck_mproc(rc, MPROC_ENOMEM);
    ck_assert_msg(strstr(mproc_last_error(), "cannot allocate 1024 MiB"),
                  "%s", mproc_last_error());
  }
  mproc_value_free(arg);
  /* the worker is replaced, and the pool works */
  arg = mproc_int(16);
  ck_mproc_ok(mproc_pool_apply(p, t_alloc, arg, &res));
  mproc_value_free(res);
  mproc_value_free(arg);
  ck_assert_int_eq(mproc_pool_pids(p, &after, 1), 1);
  ck_assert_int_ne(after, before);
  mproc_pool_free(p);
}
END_TEST

/* A task no worker can take: its message is bigger than the memory limit,
 * so each worker dies receiving it (before it starts).  It fails after
 * RESEND_MAX such deaths instead of going from worker to worker for ever
 * (the 120 s get is the guard: without the bound it times out); the pool
 * goes on.  test_resend_limit: the same where the workers cannot receive
 * more than 64 KiB (fault injection: runs under wine too). */
START_TEST(test_resend_memory_limit) {
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *big, *arg, *res = NULL;
  mproc_async *r = NULL;
  const char *env = getenv("ASAN_OPTIONS");
  char old[1024], buf[1100], *blob;
  size_t n = (size_t)512 << 20;
  int had = env != NULL;
  int64_t x = 0;
  /* under ASan a failed allocation must return NULL in the workers (not
   * abort with a report), as it does without it */
  snprintf(old, sizeof old, "%s", env ? env : "");
  snprintf(buf, sizeof buf, "%s%sallocator_may_return_null=1", old,
           *old ? ":" : "");
  mproc__plat_setenv("ASAN_OPTIONS", buf);
  po.processes = 1;
  po.memory_limit = vm_size() + ((size_t)128 << 20);
  ck_mproc_ok(mproc_pool_new(&p, &po));
  blob = calloc(n, 1);
  ck_assert_ptr_nonnull(blob);
  big = mproc_bytes(blob, n);
  free(blob);
  ck_assert_ptr_nonnull(big);
  ck_mproc_ok(mproc_pool_apply_async(p, t_square, big, NULL, &r));
  mproc_value_free(big);
  ck_mproc(mproc_async_get(r, 120, NULL), MPROC_EWORKERDIED);
  ck_assert_msg(strstr(mproc_last_error(),
                       "given up: 3 workers died holding the task before "
                       "it started") != NULL,
                "%s", mproc_last_error());
  mproc_async_free(r);
  arg = mproc_int(7);
  ck_mproc_ok(mproc_pool_apply(p, t_square, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_eq(x, 49);
  mproc_value_free(res);
  mproc_value_free(arg);
  mproc_pool_free(p);
  mproc__plat_setenv("ASAN_OPTIONS", had ? old : NULL);
}
END_TEST

START_TEST(test_resend_limit) {
  mproc_pool *p = NULL;
  mproc_value *big, *arg, *l, *res = NULL;
  mproc_async *r = NULL, *m = NULL;
  mproc_call_opts co = MPROC_CALL_OPTS_INIT;
  char *blob;
  size_t n = (size_t)1 << 20, i;
  long before = 0, after = 0;
  int64_t x = 0;
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", "pool-recv-max:65536"));
  p = new_pool(1);
  ck_assert_int_eq(mproc_pool_pids(p, &before, 1), 1);
  blob = calloc(n, 1);
  ck_assert_ptr_nonnull(blob);
  big = mproc_bytes(blob, n);
  free(blob);
  ck_assert_ptr_nonnull(big);
  /* one apply, and a map whose 2nd chunk (of 3) is too big */
  ck_mproc_ok(mproc_pool_apply_async(p, t_square, big, NULL, &r));
  l = mproc_list();
  mproc_list_append(l, mproc_int(1));
  mproc_list_append(l, mproc_int(2));
  mproc_list_append(l, mproc_value_copy(big));
  mproc_list_append(l, mproc_int(4));
  mproc_list_append(l, mproc_int(5));
  mproc_list_append(l, mproc_int(6));
  co.chunksize = 2;
  ck_mproc_ok(mproc_pool_map_async(p, t_square, l, &co, &m));
  mproc_value_free(big);
  ck_mproc(mproc_async_get(r, 120, NULL), MPROC_EWORKERDIED);
  ck_assert_msg(strstr(mproc_last_error(),
                       "given up: 3 workers died holding the task before "
                       "it started, running no task (last: worker ") != NULL,
                "%s", mproc_last_error());
  ck_assert_msg(strstr(mproc_last_error(), "exit code 5") != NULL, "%s",
                mproc_last_error());
  mproc_async_free(r);
  ck_mproc(mproc_async_get(m, 120, NULL), MPROC_EWORKERDIED);
  for (i = 0; i < 6; i++) /* the chunk [big, 4] failed, the rest ran */
    ck_assert_int_eq(mproc_async_task(m, i, NULL, NULL, NULL),
                     i == 2 || i == 3 ? MPROC_EWORKERDIED : 0);
  mproc_async_free(m);
  mproc_value_free(l);
  /* the pool goes on, on a new worker */
  arg = mproc_int(7);
  ck_mproc_ok(mproc_pool_apply(p, t_square, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_eq(x, 49);
  mproc_value_free(res);
  mproc_value_free(arg);
  ck_assert_int_eq(mproc_pool_pids(p, &after, 1), 1);
  ck_assert_int_ne(after, before);
  mproc_pool_free(p);
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", NULL));
}
END_TEST

#if !defined(_WIN32)
/* 1 once pid ignores SIGINT (Linux /proc SigIgn), 0 at the deadline. */
static int wait_sigint_ignored(long pid, double secs) {
  double end = mproc_monotonic() + secs;
  do {
    char path[64], line[256];
    FILE *f;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (f) {
      unsigned long long mask = 0;
      int found = 0;
      while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigIgn: %llx", &mask) == 1) {
          found = 1;
          break;
        }
      fclose(f);
      if (found && (mask >> (SIGINT - 1)) & 1)
        return 1;
    }
    mproc_sleep(0.01);
  } while (mproc_monotonic() < end);
  return 0;
}
#endif

START_TEST(test_teardown_counts) {
  mproc_pool *p = new_pool(3);
  mproc_value *l = range(30), *res = NULL;
  long pids[3];
  ck_assert_int_eq(mproc_pool_pids(p, pids, 3), 3);
#if !defined(_WIN32)
  /* Ctrl-C goes to the parent only: a worker ignores SIGINT (from the
   * top of its loop; the workers start at the same time, so wait until it
   * is there: SigIgn in /proc shows it) */
  ck_assert_msg(wait_sigint_ignored(pids[0], 20.0) == 1,
                "worker %ld does not ignore SIGINT", pids[0]);
  kill((pid_t)pids[0], SIGINT);
  mproc_sleep(0.2);
  ck_assert_int_eq(pid_alive(pids[0]), 1);
#endif
  ck_mproc_ok(mproc_pool_map(p, t_square, l, 1, &res));
  mproc_value_free(res);
  ck_mproc_ok(mproc_pool_terminate(p));
  /* after terminate: no worker left */
  ck_assert_msg(gone_within(pids, 3, 0) >= 0, "workers left");
  mproc_pool_free(p);

  p = new_pool(2);
  ck_assert_int_eq(mproc_pool_pids(p, pids, 2), 2);
  mproc_pool_free(p);
  ck_assert_msg(gone_within(pids, 2, 0) >= 0, "workers left after free");
  mproc_value_free(l);
}
END_TEST

/* The never-freed pool stays reachable (for the leak checker). */
static mproc_pool *g_unfreed;

/* A child: makes a pool, says its workers' pids, then (mode 0) waits
 * in a get for long tasks, or (mode 1) returns without freeing it, or
 * (mode 2, Win32) presses Ctrl-C on a console of its own (it and its
 * workers get it) and waits in the get. */
static int child_pool(mproc_value *args) {
  mproc_conn *c = arg_conn(args, 0);
  int64_t mode = arg_i64(args, 1);
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *l = mproc_list(), *msg = mproc_list();
  mproc_async *r = NULL;
  long pids[2];
  const mproc_value *v = NULL;
  po.processes = 2;
#if defined(_WIN32)
  if (mode == 2) {
    FreeConsole();
    if (!AllocConsole())
      return 13;
  }
#endif
  if (mproc_pool_new(&p, &po) != 0)
    return 10;
  mproc_pool_pids(p, pids, 2);
  mproc_list_append(l, mproc_float(60));
  mproc_list_append(l, mproc_float(60));
  if (mproc_pool_map_async(p, t_sleep, l, NULL, &r) != 0)
    return 11;
  mproc_list_append(msg, mproc_int(pids[0]));
  mproc_list_append(msg, mproc_int(pids[1]));
  mproc_conn_send(c, msg);
  mproc_value_free(msg);
  mproc_value_free(l);
  if (mode == 1) {
    g_unfreed = p;
    mproc_async_free(r);
    return 0; /* the pool is torn down at exit */
  }
#if defined(_WIN32)
  if (mode == 2 && !GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0))
    return 14;
#endif
  mproc_async_get(r, MPROC_FOREVER, &v);
  return 12;
}

static void run_child_pool(int mode, int how) {
  mproc_conn *a = NULL, *b = NULL;
  mproc_process *pr = NULL;
  mproc_process_opts opts = MPROC_PROCESS_OPTS_INIT;
  mproc_value *args = mproc_list(), *msg = NULL;
  long pids[2];
  int64_t x = 0;
  int code = 0;
  double t;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  mproc_list_append(args, mproc_conn_ref(b));
  mproc_list_append(args, mproc_int(mode));
  opts.daemon = 0; /* a daemon may not have children (the pool's) */
  ck_mproc_ok(mproc_process_new(&pr, child_pool, args, &opts));
  if (mode == 1) {
    /* This child leaves its pool unfreed on purpose: a leak checker in it
     * would say so at exit and change its exit code. */
    const char *env = getenv("ASAN_OPTIONS");
    char old[1024], buf[1100];
    int had = env != NULL;
    snprintf(old, sizeof old, "%s", env ? env : "");
    snprintf(buf, sizeof buf, "%s%sdetect_leaks=0", old, *old ? ":" : "");
    mproc__plat_setenv("ASAN_OPTIONS", buf);
    ck_mproc_ok(mproc_process_start(pr));
    mproc__plat_setenv("ASAN_OPTIONS", had ? old : NULL);
  } else
    ck_mproc_ok(mproc_process_start(pr));
  mproc_conn_free(b);
  ck_assert_int_eq(mproc_conn_poll(a, 60), 1);
  ck_mproc_ok(mproc_conn_recv(a, &msg));
  mproc_value_get_int(mproc_list_get(msg, 0), &x);
  pids[0] = (long)x;
  mproc_value_get_int(mproc_list_get(msg, 1), &x);
  pids[1] = (long)x;
  mproc_value_free(msg);
  if (mode == 0) /* (modes 1 and 2 may be ending already) */
    ck_assert_int_eq(pid_alive(pids[0]) + pid_alive(pids[1]), 2);
  if (how == 1)
    mproc_process_kill(pr);
#if !defined(_WIN32)
  else if (how == 2)
    kill((pid_t)mproc_process_pid(pr), SIGINT);
#endif
  if (mproc_process_join(pr, 60) != 0) {
    mproc_process_kill(pr);
    mproc_process_join(pr, MPROC_FOREVER);
    ck_abort_msg("the child did not end (mode %d, how %d)", mode, how);
  }
  mproc_process_exitcode(pr, &code);
  if (how == 1)
    ck_assert_int_eq(code, -9);
  else if (how == 2) /* wine's default Ctrl-C handler exits with 0 */
    ck_assert_int_eq(code, under_wine() ? 0 : -2);
  else
    ck_assert_int_eq(code, 0);
  /* its workers go with it (the lifeline / the kill-on-close job) */
  t = gone_within(pids, 2, 20);
  if (getenv("MPROC_TEST_VERBOSE"))
    fprintf(stderr, "workers gone %.3f s after (mode %d, how %d)\n", t, mode,
            how);
  ck_assert_msg(t >= 0, "workers outlived their parent (mode %d, how %d)",
                mode, how);
  mproc_process_free(pr);
  mproc_conn_free(a);
}

/* ---- Ctrl-C while workers start ------------------------------------------ */

static volatile uint32_t g_ints;

#if defined(_WIN32)
static BOOL WINAPI on_ctrl_c(DWORD type) {
  if (type != CTRL_C_EVENT)
    return FALSE;
  mproc__add32(&g_ints, 1);
  return TRUE;
}

/* Ctrl-C on this process's console: it and its workers get it. */
static void press_ctrl_c(void) { GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0); }
#else
static volatile uint32_t g_storm_stop, g_storm_sent;

static void on_sigint(int sig) {
  (void)sig;
  mproc__add32(&g_ints, 1);
}

/* Ctrl-C to the process group: this process and its workers. */
static void press_ctrl_c(void) { kill(0, SIGINT); }

/* Ctrl-C again and again until told to stop. */
static int storm(void *arg) {
  (void)arg;
  while (!mproc__ld32(&g_storm_stop)) {
    press_ctrl_c();
    mproc_sleep(0.0005);
    mproc__add32(&g_storm_sent, 1);
  }
  return 0;
}
#endif

/* Start a pool of 2, press Ctrl-C (once; or the storm runs), map: 0 if the
 * results are right and the same two workers still live, else fail. */
static int pool_under_ctrl_c(const mproc_value *l, int press, int fail,
                             const char *what) {
  mproc_pool *p = new_pool_quiet(2);
  mproc_value *res = NULL;
  long before[2] = {0, 0}, after[2] = {0, 0};
  size_t i;
  if (!p) {
    fprintf(stderr, "%s: pool_new: %s\n", what, mproc_last_error());
    return fail;
  }
  mproc_pool_pids(p, before, 2);
  if (press)
    press_ctrl_c();
  if (mproc_pool_map(p, t_square, l, 1, &res) != 0) {
    fprintf(stderr, "%s: map: %s\n", what, mproc_last_error());
    mproc_pool_free(p);
    return fail + 1;
  }
  for (i = 0; i < 40; i++)
    if (int_at(res, i) != (int64_t)(i * i)) {
      mproc_value_free(res);
      mproc_pool_free(p);
      return fail + 2;
    }
  mproc_value_free(res);
  mproc_pool_pids(p, after, 2);
  mproc_pool_free(p);
  /* no worker died (none was replaced) */
  if (before[0] != after[0] || before[1] != after[1]) {
    fprintf(stderr, "%s: workers %ld %ld, then %ld %ld\n", what, before[0],
            before[1], after[0], after[1]);
    return fail + 3;
  }
  return 0;
}

/*
 * A child in a process group (Win32: a console) of its own, with a Ctrl-C
 * handler.  1) One Ctrl-C while its pool's workers start, made slow (1 s
 * before they ignore it: MPROC_TEST_FAULT=pool-slow-start): a window as
 * wide as that, were they not spawned with Ctrl-C held off.  2) POSIX: 20
 * pools start and map under a storm of SIGINT.  (Not on Win32: under wine
 * a storm of console events while processes are created stalls the
 * creating process now and then.)  The program's own handler runs.
 * 0, or the number of the check that failed (its detail on stderr).
 */
static int child_interrupts(mproc_value *args) {
  mproc_value *l = range(40);
  int fail = 0;
  (void)args;
#if defined(_WIN32)
  FreeConsole();
  if (!AllocConsole())
    return 30;
  SetConsoleCtrlHandler(on_ctrl_c, TRUE);
#else
  {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (setpgid(0, 0) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
      return 30;
  }
#endif
  mproc__plat_setenv("MPROC_TEST_FAULT", "pool-slow-start:1");
  fail = pool_under_ctrl_c(l, 1, 10, "slow start");
  mproc__plat_setenv("MPROC_TEST_FAULT", NULL);
#if !defined(_WIN32)
  if (!fail) {
    mproc_thread *th = NULL;
    int round;
    if (mproc_thread_start(&th, storm, NULL) != 0)
      return 31;
    for (round = 0; round < 20 && !fail; round++)
      fail = pool_under_ctrl_c(l, 0, 20, "storm");
    mproc__st32(&g_storm_stop, 1);
    mproc_thread_join(th, NULL);
    if (getenv("MPROC_TEST_VERBOSE") || fail)
      fprintf(stderr, "storm: %u sent\n", (unsigned)mproc__ld32(&g_storm_sent));
  }
#endif
  mproc_value_free(l);
  if (getenv("MPROC_TEST_VERBOSE") || fail)
    fprintf(stderr, "interrupts seen by the handler: %u\n",
            (unsigned)mproc__ld32(&g_ints));
  /* the program's own handler ran, as without pools */
  if (!fail && mproc__ld32(&g_ints) == 0)
    fail = 40;
  return fail;
}

START_TEST(test_interrupt_at_start) {
  mproc_process *pr = NULL;
  mproc_process_opts opts = MPROC_PROCESS_OPTS_INIT;
  int code = -1;
  opts.daemon = 0; /* it has a pool */
  ck_mproc_ok(mproc_process_new(&pr, child_interrupts, NULL, &opts));
  ck_mproc_ok(mproc_process_start(pr));
  if (mproc_process_join(pr, 120) != 0) {
    mproc_process_kill(pr);
    mproc_process_join(pr, MPROC_FOREVER);
    ck_abort_msg("the child did not end");
  }
  mproc_process_exitcode(pr, &code);
  ck_assert_int_eq(code, 0);
  mproc_process_free(pr);
}
END_TEST

START_TEST(test_parent_dies) {
  run_child_pool(0, 1); /* SIGKILL / TerminateProcess in a get */
  run_child_pool(1, 0); /* never freed: torn down at exit, no hang */
#if defined(_WIN32)
  run_child_pool(2, 2); /* Ctrl-C (CTRL_C_EVENT) in a get: default action */
#else
  run_child_pool(0, 2); /* Ctrl-C (SIGINT) in a get: default action */
#endif
}
END_TEST

/* ---- the direct path: a synchronous apply on the calling thread ---------------- */

/* engine.c: how many applies took the direct path, and how many of those
 * the handler took over (a test's probe). */
unsigned long mproc__pool_ndirect(mproc_pool *pool, unsigned long *adopted);

static int t_die(const mproc_value *arg, mproc_value **result) {
  (void)arg;
  (void)result;
  die_now();
  return 0;
}

/* Applies until one takes the direct path (the handler lends a worker
 * once it is idle and its READY has been read). */
static void warm_direct(mproc_pool *p) {
  mproc_value *a = mproc_int(5), *res = NULL;
  double t0 = mproc__plat_monotonic();
  unsigned long n0 = mproc__pool_ndirect(p, NULL);
  int64_t x = 0;
  while (mproc__pool_ndirect(p, NULL) == n0 &&
         mproc__plat_monotonic() - t0 < 60) {
    ck_mproc_ok(mproc_pool_apply(p, t_square, a, &res));
    ck_mproc_ok(mproc_value_get_int(res, &x));
    ck_assert_int_eq(x, 25);
    mproc_value_free(res);
    mproc_sleep(0.01);
  }
  ck_assert_msg(mproc__pool_ndirect(p, NULL) > n0,
                "no apply took the direct path");
  mproc_value_free(a);
}

/* A worker dies in a direct apply; a hard time limit passes in one. */
START_TEST(test_direct_faults) {
  mproc_pool *p = new_pool(2);
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *arg = mproc_none(), *res = NULL, *slow = mproc_float(120);
  long before[2], after[2];
  unsigned long n0, a0 = 0, a1 = 0;
  int tries, direct = 0, fresh, i;
  char want[64];
  double t0;
  int64_t x = 0;

  /* killed mid-task: EWORKERDIED with its pid and signal, as the handler
   * path gives; the pool replaces it and goes on */
  for (tries = 0; tries < 5 && !direct; tries++) {
    warm_direct(p);
    ck_assert_int_eq(mproc_pool_pids(p, before, 2), 2);
    n0 = mproc__pool_ndirect(p, &a0);
    ck_mproc(mproc_pool_apply(p, t_die, arg, &res), MPROC_EWORKERDIED);
    ck_assert_ptr_null(res);
    ck_assert_msg(strstr(mproc_last_error(), "died (signal 9) while running "
                                             "task 0") != NULL,
                  "%s", mproc_last_error());
    snprintf(want, sizeof want, "worker %ld ", before[0]);
    if (!strstr(mproc_last_error(), want))
      snprintf(want, sizeof want, "worker %ld ", before[1]);
    ck_assert_msg(strstr(mproc_last_error(), want) != NULL, "%s",
                  mproc_last_error());
    /* direct, and handed back to the handler (which settled it) */
    direct = mproc__pool_ndirect(p, &a1) == n0 + 1;
    ck_assert(!direct || a1 == a0 + 1);
    warm_direct(p); /* the replacement is in */
    ck_assert_int_eq(mproc_pool_pids(p, after, 2), 2);
    fresh = 0;
    for (i = 0; i < 2; i++)
      fresh += after[i] != before[0] && after[i] != before[1];
    ck_assert_int_eq(fresh, 1);
  }
  ck_assert_msg(direct, "the fatal apply never took the direct path");
  mproc_pool_free(p);

  /* the hard limit: the handler takes the task over and kills the worker */
  po.processes = 2;
  po.time_limit = 0.5;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  for (direct = 0, tries = 0; tries < 5 && !direct; tries++) {
    warm_direct(p);
    n0 = mproc__pool_ndirect(p, &a0);
    t0 = mproc__plat_monotonic();
    ck_mproc(mproc_pool_apply(p, t_sleep, slow, &res), MPROC_ETIMEDOUT);
    ck_assert_msg(mproc__plat_monotonic() - t0 < 60, "the hard limit held");
    ck_assert_msg(strstr(mproc_last_error(), "task 0 timed out: worker ") &&
                      strstr(mproc_last_error(), "time limit of 0.5 s"),
                  "%s", mproc_last_error());
    direct = mproc__pool_ndirect(p, &a1) == n0 + 1;
    ck_assert(!direct || a1 == a0 + 1);
  }
  ck_assert_msg(direct, "the slow apply never took the direct path");
  warm_direct(p);
  ck_mproc_ok(mproc_pool_apply(p, t_pid, arg, &res));
  ck_mproc_ok(mproc_value_get_int(res, &x));
  ck_assert_int_gt(x, 0);
  mproc_value_free(res);
  mproc_pool_free(p);

  /* maxtasksperchild counts direct chunks too */
  po.time_limit = 0;
  po.processes = 1;
  po.maxtasksperchild = 3;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  {
    int64_t pids[12];
    int j, same;
    n0 = mproc__pool_ndirect(p, NULL);
    for (i = 0; i < 12; i++) {
      ck_mproc_ok(mproc_pool_apply(p, t_pid, arg, &res));
      ck_mproc_ok(mproc_value_get_int(res, &pids[i]));
      mproc_value_free(res);
      mproc_sleep(0.02); /* the handler reads the new worker's READY */
      for (same = 0, j = 0; j <= i; j++)
        same += pids[j] == pids[i];
      ck_assert_int_le(same, 3);
    }
    ck_assert_msg(mproc__pool_ndirect(p, NULL) > n0, "none direct");
  }
  mproc_pool_free(p);
  mproc_value_free(arg);
  mproc_value_free(slow);
}
END_TEST

/* A new pool's first apply goes straight to worker 0, which reads the
 * worker's READY before the answer: worker 0 ran it and is neither
 * killed nor replaced (mproc_pool_pids lists the slots in order). */
START_TEST(test_direct_first) {
  mproc_value *arg = mproc_none(), *res = NULL;
  long pids[2], later[2];
  int tries, direct = 0;
  for (tries = 0; tries < 20 && !direct; tries++) {
    mproc_pool *p = new_pool(2);
    int64_t pid = 0;
    unsigned long adopted = 0;
    ck_mproc_ok(mproc_pool_apply(p, t_pid, arg, &res));
    ck_mproc_ok(mproc_value_get_int(res, &pid));
    mproc_value_free(res);
    direct = mproc__pool_ndirect(p, &adopted) == 1;
    /* taken directly, it was answered directly: nothing handed back */
    ck_assert(!direct || adopted == 0);
    mproc_sleep(0.3); /* a worker killed would be replaced by now */
    ck_assert_int_eq(mproc_pool_pids(p, pids, 2), 2);
    ck_assert_msg(pid == pids[0] || pid == pids[1], "%ld: %ld %ld",
                  (long)pid, pids[0], pids[1]);
    /* direct through worker 1: the handler had looked already (not
     * this test's case) */
    direct = direct && pid == pids[0];
    if (direct) {
      warm_direct(p);
      ck_assert_int_eq(mproc_pool_pids(p, later, 2), 2);
      ck_assert(later[0] == pids[0] && later[1] == pids[1]);
      ck_mproc(mproc_pool_apply(p, t_die, arg, &res), MPROC_EWORKERDIED);
      ck_assert_msg(strstr(mproc_last_error(), "while running task 0"), "%s",
                    mproc_last_error());
      ck_mproc_ok(mproc_pool_apply(p, t_pid, arg, &res));
      mproc_value_free(res);
    }
    mproc_pool_free(p);
  }
  ck_assert_msg(direct, "no first apply went to worker 0 directly");
  mproc_value_free(arg);
}
END_TEST


/* A garbled answer to a direct apply (MPROC_TEST_FAULT=pool-garble: each
 * reply lacks its last byte) fails the task with MPROC_EBADMSG and never
 * runs it again: each apply puts exactly one item (a second run would
 * put two), none is handed back, and the pool goes on. */
START_TEST(test_direct_garbled) {
  mproc_queue *q = NULL;
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *initargs = mproc_list(), *arg = mproc_int(7), *got = NULL;
  unsigned long n0, a0 = 0, a1 = 0;
  int tries, direct = 0, items = 0;
  long pid = 0;
  double t0;

  ck_mproc_ok(mproc_queue_new(&q, 0));
  mproc_list_append(initargs, mproc_queue_ref(q));
  po.processes = 1;
  po.initializer = init_queue;
  po.initargs = initargs;
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", "pool-garble"));
  ck_mproc_ok(mproc_pool_new(&p, &po)); /* replacements garble too */
  mproc_value_free(initargs);
  n0 = mproc__pool_ndirect(p, &a0);
  t0 = mproc__plat_monotonic();
  for (tries = 0; !direct && mproc__plat_monotonic() - t0 < 120; tries++) {
    ck_assert_int_eq(mproc_pool_pids(p, &pid, 1), 1);
    ck_mproc(mproc_pool_apply(p, t_put, arg, &got), MPROC_EBADMSG);
    ck_assert_msg(strstr(mproc_last_error(), "malformed result message"),
                  "%s", mproc_last_error());
    direct = mproc__pool_ndirect(p, NULL) > n0;
    if (!direct) {
      /* Each garbled answer kills the worker: an apply before its
       * replacement is up and lent goes through the handler again (under
       * wine a start takes longer than any fixed nap): wait for the new
       * pid, then a nap that grows with the tries. */
      long now = pid;
      double t1 = mproc__plat_monotonic();
      while ((now == pid || now == 0) && mproc__plat_monotonic() - t1 < 30) {
        now = 0;
        mproc_pool_pids(p, &now, 1);
        mproc_sleep(0.01);
      }
      mproc_sleep(tries < 20 ? 0.02 * (tries + 1) : 0.4);
    }
  }
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", NULL));
  ck_assert_msg(direct, "no apply took the direct path in %d tries", tries);
  mproc__pool_ndirect(p, &a1);
  ck_assert_uint_eq(a1, a0); /* nothing handed back */
  /* one item per apply, then nothing more (a re-run would add one) */
  while (mproc_queue_get(q, &got, items < tries ? 60 : 1.0) == 0) {
    mproc_value_free(got);
    items++;
  }
  ck_assert_int_eq(items, tries);
  mproc_pool_terminate(p);
  mproc_pool_free(p);
  mproc_value_free(arg);
  mproc_queue_free(q);
}
END_TEST

/* A direct apply reads its answer in the wire's one format (a run of one
 * result: a bare item, or the failure record): every kind of value, a
 * None, a failure with its message and a result that cannot be sent come
 * back as the handler gives them, each answered directly (nothing handed
 * back, no worker killed or replaced). */
START_TEST(test_direct_values) {
  mproc_queue *q = NULL;
  mproc_pool *p = NULL;
  mproc_pool_opts po = MPROC_POOL_OPTS_INIT;
  mproc_value *initargs = mproc_list(), *args[9], *res = NULL;
  unsigned long n0, a0 = 0, n1, a1 = 0;
  long pid0 = 0, pid1 = 0;
  int i;

  ck_mproc_ok(mproc_queue_new(&q, 0));
  mproc_list_append(initargs, mproc_queue_ref(q));
  po.processes = 1;
  po.initializer = init_queue;
  po.initargs = initargs;
  ck_mproc_ok(mproc_pool_new(&p, &po));
  mproc_value_free(initargs);
  args[0] = mproc_int(0);
  args[1] = mproc_int(300);
  args[2] = mproc_int(-5);
  args[3] = mproc_int((int64_t)1 << 40);
  args[4] = mproc_float(1.5);
  args[5] = mproc_str("h\xc3\xa9");
  args[6] = mproc_list();
  mproc_list_append(args[6], mproc_int(7));
  mproc_list_append(args[6], mproc_str("a"));
  mproc_list_append(args[6], mproc_none());
  args[7] = mproc_str("none");
  args[8] = mproc_str("fail");
  warm_direct(p);
  ck_assert_int_eq(mproc_pool_pids(p, &pid0, 1), 1);
  n0 = mproc__pool_ndirect(p, &a0);
  /* each until it goes direct (the handler may be between its waits) */
  for (i = 0; i < 10; i++) {
    int tries = 0, direct = 0;
    for (tries = 0; tries < 50 && !direct; tries++) {
      unsigned long before = mproc__pool_ndirect(p, NULL);
      if (i == 9) {
        ck_mproc(mproc_pool_apply(p, t_return_queue, args[7], &res),
                 MPROC_EINHERIT);
        ck_assert_ptr_null(res);
        ck_assert_msg(strstr(mproc_last_error(), "the result cannot be sent"),
                      "%s", mproc_last_error());
        ck_assert_msg(strstr(mproc_last_error(), "through inheritance"),
                      "%s", mproc_last_error());
      } else if (i == 8) {
        ck_mproc(mproc_pool_apply(p, t_echo, args[i], &res), MPROC_EKEY);
        ck_assert_ptr_null(res);
        ck_assert_msg(strstr(mproc_last_error(), "task failed in worker") &&
                          strstr(mproc_last_error(), "echo refuses fail"),
                      "%s", mproc_last_error());
      } else if (i == 7) {
        ck_mproc_ok(mproc_pool_apply(p, t_echo, args[i], &res));
        ck_assert_ptr_null(res);
      } else {
        ck_mproc_ok(mproc_pool_apply(p, t_echo, args[i], &res));
        ck_assert_msg(mproc_value_equal(res, args[i]), "value %d", i);
        mproc_value_free(res);
        res = NULL;
      }
      direct = mproc__pool_ndirect(p, NULL) > before;
      if (!direct)
        mproc_sleep(0.01);
    }
    ck_assert_msg(direct, "case %d never took the direct path", i);
  }
  n1 = mproc__pool_ndirect(p, &a1);
  /* answered directly: none handed back (so no worker killed) */
  ck_assert_int_ge(n1 - n0, 10);
  ck_assert_int_eq(a1, a0);
  ck_assert_int_eq(mproc_pool_pids(p, &pid1, 1), 1);
  ck_assert_int_eq(pid1, pid0);
  for (i = 0; i < 9; i++)
    mproc_value_free(args[i]);
  mproc_pool_free(p);
  mproc_queue_free(q);
}
END_TEST

typedef struct direct_ctx {
  mproc_pool *p;
  int base, bad, died, rc;
  char msg[300];
} direct_ctx;

static int thr_direct_slow(void *arg) {
  direct_ctx *c = arg;
  mproc_value *a = mproc_float(60), *res = NULL;
  c->rc = mproc_pool_apply(c->p, t_sleep, a, &res);
  snprintf(c->msg, sizeof c->msg, "%s", mproc_last_error());
  mproc_value_free(res);
  mproc_value_free(a);
  return 0;
}

/* 200 applies; thread 0's 50th kills its worker. */
static int thr_direct_mix(void *arg) {
  direct_ctx *c = arg;
  int i;
  for (i = 0; i < 200; i++) {
    mproc_value *a = mproc_int(c->base + i), *res = NULL;
    int64_t x = -1;
    if (c->base == 0 && i == 50) {
      if (mproc_pool_apply(c->p, t_die, a, &res) == MPROC_EWORKERDIED &&
          strstr(mproc_last_error(), "while running task 0"))
        c->died++;
      else
        c->bad++;
    } else if (mproc_pool_apply(c->p, t_square, a, &res) != 0 ||
               mproc_value_get_int(res, &x) != 0 ||
               x != (int64_t)(c->base + i) * (c->base + i)) {
      c->bad++;
    }
    mproc_value_free(res);
    mproc_value_free(a);
  }
  return 0;
}

/* terminate from another thread during a direct apply; 4 threads applying
 * at once (one kills its worker) beside apply_async with callbacks. */
START_TEST(test_direct_threads) {
  mproc_pool *p = NULL;
  mproc_thread *th[4];
  direct_ctx c[4];
  mproc_async *r[50];
  mproc_call_opts o = MPROC_CALL_OPTS_INIT;
  cbinfo cb = {0, 0, 0, 0};
  long pids[2];
  unsigned long n0;
  double t0;
  int i, round, attempt, direct = 0;

  /* The slow apply goes direct only if it finds a worker published idle;
   * when it went through the handler (seen under wine), terminate that
   * pool the same way and try a new one. */
  for (attempt = 0; attempt < 5 && !direct; attempt++) {
    p = new_pool(2);
    warm_direct(p);
    ck_assert_int_eq(mproc_pool_pids(p, pids, 2), 2);
    n0 = mproc__pool_ndirect(p, NULL);
    memset(&c[0], 0, sizeof c[0]);
    c[0].p = p;
    ck_mproc_ok(mproc_thread_start(&th[0], thr_direct_slow, &c[0]));
    t0 = mproc__plat_monotonic();
    while (mproc__pool_ndirect(p, NULL) == n0 &&
           mproc__plat_monotonic() - t0 < 5)
      mproc_sleep(0.01);
    direct = mproc__pool_ndirect(p, NULL) == n0 + 1;
    mproc_sleep(0.3); /* it runs */
    t0 = mproc__plat_monotonic();
    ck_mproc_ok(mproc_pool_terminate(p));
    ck_assert_msg(mproc__plat_monotonic() - t0 < 20, "terminate waited");
    ck_mproc_ok(mproc_thread_join(th[0], NULL));
    ck_assert_msg(c[0].rc == MPROC_ECLOSED &&
                      strstr(c[0].msg, "pool terminated"),
                  "%d %s", c[0].rc, c[0].msg);
#if !defined(_WIN32)
    ck_assert_msg(gone_within(pids, 2, 0) >= 0, "workers left");
#endif
    mproc_pool_free(p);
  }
  ck_assert_msg(direct, "the slow apply never went direct in %d pools",
                attempt);

  p = new_pool(2);
  warm_direct(p);
  n0 = mproc__pool_ndirect(p, NULL);
  o.callback = on_result;
  o.ctx = &cb;
  for (i = 0; i < 4; i++) {
    memset(&c[i], 0, sizeof c[i]);
    c[i].p = p;
    c[i].base = 1000 * i;
    ck_mproc_ok(mproc_thread_start(&th[i], thr_direct_mix, &c[i]));
  }
  for (i = 0; i < 50; i++) {
    mproc_value *a = mproc_int(i);
    ck_mproc_ok(mproc_pool_apply_async(p, t_square, a, &o, &r[i]));
    mproc_value_free(a);
    if (i % 10 == 0)
      mproc_sleep(0.01);
  }
  for (i = 0; i < 4; i++) {
    ck_mproc_ok(mproc_thread_join(th[i], NULL));
    ck_assert_int_eq(c[i].bad, 0);
  }
  ck_assert_int_eq(c[0].died, 1);
  for (i = 0; i < 50; i++) {
    const mproc_value *v = NULL;
    int64_t x = -1;
    ck_mproc_ok(mproc_async_get(r[i], 60, &v));
    ck_mproc_ok(mproc_value_get_int(v, &x));
    ck_assert_int_eq(x, (int64_t)i * i);
    mproc_async_free(r[i]);
  }
  ck_assert_int_eq(cb.calls, 50);
  /* Four threads can keep the queue full all along (seen under wine):
   * then more rounds (no kill) until one of their applies goes direct. */
  for (round = 0; round < 5 && mproc__pool_ndirect(p, NULL) == n0; round++) {
    for (i = 0; i < 4; i++) {
      memset(&c[i], 0, sizeof c[i]);
      c[i].p = p;
      c[i].base = 1000 * (i + 1);
      ck_mproc_ok(mproc_thread_start(&th[i], thr_direct_mix, &c[i]));
    }
    for (i = 0; i < 4; i++) {
      ck_mproc_ok(mproc_thread_join(th[i], NULL));
      ck_assert_int_eq(c[i].bad, 0);
    }
  }
  ck_assert_msg(mproc__pool_ndirect(p, NULL) > n0, "none direct");
  mproc_pool_free(p);
}
END_TEST

/* The result thread naps in a callback, so the calls submitted meanwhile
 * reach the handler together (and go out as batches). */
static volatile int g_nap_in, g_nap_out;

static void cb_nap(mproc_async *r, const mproc_value *v, void *ctx) {
  (void)r;
  (void)v;
  (void)ctx;
  g_nap_in = 1;
  mproc_sleep(0.5);
  g_nap_out = 1;
}

/* A batch waits behind a long task; its first task is cancelled and its
 * call freed: the batch's limit is read from a task still in it (this
 * read the freed call; ASan saw it in test_direct_threads). */
START_TEST(test_batch_first_cancelled) {
  mproc_pool *p = new_pool(2);
  mproc_async *c = NULL, *lg[2], *s[4];
  mproc_call_opts o = MPROC_CALL_OPTS_INIT, lo = MPROC_CALL_OPTS_INIT;
  mproc_value *a = mproc_int(2), *longa = mproc_float(1.5),
              *shorta = mproc_float(0.01);
  const mproc_value *v = NULL;
  double t0 = mproc__plat_monotonic();
  int i;
  g_nap_in = g_nap_out = 0;
  o.callback = cb_nap;
  ck_mproc_ok(mproc_pool_apply_async(p, t_square, a, &o, &c));
  while (!g_nap_in && mproc__plat_monotonic() - t0 < 60)
    mproc_sleep(0.005);
  ck_assert(g_nap_in);
  /* different limits: the two long ones are not batched together */
  for (i = 0; i < 2; i++) {
    lo.time_limit = 100 + i;
    ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, longa, &lo, &lg[i]));
  }
  for (i = 0; i < 4; i++)
    ck_mproc_ok(mproc_pool_apply_async(p, t_sleep, shorta, NULL, &s[i]));
  while (!g_nap_out && mproc__plat_monotonic() - t0 < 60)
    mproc_sleep(0.005);
  mproc_sleep(0.3); /* dispatched: s[0], s[1] wait behind a long one */
  ck_assert_int_eq(mproc_async_cancel(s[0], 0), 1);
  ck_mproc(mproc_async_get(s[0], 10, &v), MPROC_ECLOSED);
  mproc_async_free(s[0]);
  for (i = 1; i < 4; i++) {
    ck_mproc_ok(mproc_async_get(s[i], 60, &v));
    ck_assert_str_eq(mproc_value_str(v), "slept");
    mproc_async_free(s[i]);
  }
  for (i = 0; i < 2; i++) {
    ck_mproc_ok(mproc_async_get(lg[i], 60, &v));
    mproc_async_free(lg[i]);
  }
  ck_mproc_ok(mproc_async_get(c, 10, &v));
  mproc_async_free(c);
  mproc_value_free(a);
  mproc_value_free(longa);
  mproc_value_free(shorta);
  mproc_pool_free(p);
}
END_TEST

Suite *mproc_suite_pool(void) {
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_apply);
  tcase_add_test(tc, test_task_failure);
  tcase_add_test(tc, test_map);
  tcase_add_test(tc, test_map_runs);
  tcase_add_test(tc, test_imap_runs);
  tcase_add_test(tc, test_worker_killed_big_chunk);
  tcase_add_test(tc, test_worker_killed);
  tcase_add_test(tc, test_worker_dies_holding_lock);
  tcase_add_test(tc, test_callback_calls_pool);
  tcase_add_test(tc, test_threads);
  tcase_add_test(tc, test_inherit);
  tcase_add_test(tc, test_close_join_terminate);
  suite_add_tcase(s, tc);
  tc = tcase_create("more");
  tcase_add_test(tc, test_imap);
  tcase_add_test(tc, test_progress);
  tcase_add_test(tc, test_cancel);
  tcase_add_test(tc, test_maxtasksperchild);
  tcase_add_test(tc, test_init_fails);
  suite_add_tcase(s, tc);
  tc = tcase_create("limits");
  tcase_add_test(tc, test_time_limits);
  tcase_add_test(tc, test_memory_limit);
  tcase_add_test(tc, test_resend_memory_limit);
  tcase_add_test(tc, test_resend_limit);
  tcase_add_test(tc, test_interrupt_at_start);
  tcase_add_test(tc, test_teardown_counts);
  tcase_add_test(tc, test_parent_dies);
  suite_add_tcase(s, tc);
  tc = tcase_create("futures");
  tcase_add_test(tc, test_futures);
  tcase_add_test(tc, test_batches);
  tcase_add_test(tc, test_batches_freed_early);
  tcase_add_test(tc, test_futures_cancel_shutdown);
  suite_add_tcase(s, tc);
  tc = tcase_create("direct");
  tcase_add_test(tc, test_direct_faults);
  tcase_add_test(tc, test_direct_first);
  tcase_add_test(tc, test_direct_values);
  tcase_add_test(tc, test_direct_garbled);
  tcase_add_test(tc, test_direct_threads);
  tcase_add_test(tc, test_batch_first_cancelled);
  suite_add_tcase(s, tc);
  return s;
}
