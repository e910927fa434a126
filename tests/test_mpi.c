/*
 * test_mpi.c - the pool's MPI backend (docs/mpi.md), suite "mpi".
 *
 * tcases (tests/CMakeLists.txt runs each the way it needs):
 *   solo      without mpiexec (every build, wine too): asking for the MPI
 *             backend is MPROC_ENOTSUP with a message that says why.
 *   ranks     under `mpiexec -n 3`: the same API as a local pool (apply,
 *             apply_async + callback, map, imap, starmap, submit +
 *             as_completed, initializer), 1 MiB values both ways at once,
 *             a task's error with its message and rank, a hard time limit
 *             (the rank is taken out, then comes back), a soft one, cancel
 *             of queued futures, a second pool after the first, wrong
 *             options (too many processes, maxtasksperchild, OS objects in
 *             initargs, two MPI pools at once); the direct path (a sync
 *             apply through an idle rank's bridge, its hard limit, a new
 *             pool's first apply while its rank is still busy).
 *   mismatch  under `mpiexec -n 2 mproc_tests : -n 1 <another mproc
 *             program>`: rank 2 is refused (another binary); a pool of
 *             rank 1 alone works.
 *   die       under `mpiexec -n 3`: a task calls abort() (die_abort) or
 *             exit(3) (die_exit) on its rank; Open MPI ends the whole job:
 *             mpi_run.cmake checks mpiexec's status and message and that
 *             it ends in bounded time (rank 0 does not hang).
 *
 * Task functions are plain functions of this binary: every rank runs the
 * same binary and finds them by (module, offset), as local workers do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/resource.h>
#endif

#include "tests.h"

/* ---- tasks -------------------------------------------------------------- */

static int64_t init_value = -1; /* set by the initializer, on the rank */

static int t_init(const mproc_value *initargs) {
  return mproc_value_get_int(mproc_list_get(initargs, 0), &init_value);
}

static int t_init_value(const mproc_value *arg, mproc_value **result) {
  (void)arg;
  *result = mproc_int(init_value);
  return 0;
}

static int t_add(const mproc_value *arg, mproc_value **result) {
  int64_t a = 0, b = 0;
  if (mproc_value_get_int(mproc_list_get(arg, 0), &a) ||
      mproc_value_get_int(mproc_list_get(arg, 1), &b))
    return mproc_fail(MPROC_ETYPE, "add wants [a, b]");
  *result = mproc_int(a + b);
  return 0;
}

static int t_echo(const mproc_value *arg, mproc_value **result) {
  *result = mproc_value_copy(arg);
  return *result ? 0 : MPROC_ENOMEM;
}

static int t_fail(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  mproc_value_get_int(arg, &x);
  (void)result;
  return mproc_fail(MPROC_EKEY, "no key %d on this rank", (int)x);
}

/* The calling thread's nice value (0 on Windows). */
static int my_nice(void) {
#ifdef _WIN32
  return 0;
#else
  return getpriority(PRIO_PROCESS, 0);
#endif
}

static int t_nice(const mproc_value *arg, mproc_value **result) {
  (void)arg;
  *result = mproc_int(my_nice());
  return 0;
}

static int t_sleep(const mproc_value *arg, mproc_value **result) {
  double s = 0;
  mproc_value_get_float(arg, &s);
  mproc_sleep(s);
  *result = mproc_float(s);
  return 0;
}

/* Waits for its soft limit (at most 30 s); 1 if it came. */
static int t_until_expired(const mproc_value *arg, mproc_value **result) {
  double end = mproc_monotonic() + 30;
  (void)arg;
  while (!mproc_task_expired() && mproc_monotonic() < end)
    mproc_sleep(0.01);
  *result = mproc_int(mproc_task_expired());
  return 0;
}

static int t_abort(const mproc_value *arg, mproc_value **result) {
  (void)arg;
  (void)result;
  fflush(NULL);
  abort();
}

static int t_exit(const mproc_value *arg, mproc_value **result) {
  (void)arg;
  (void)result;
  fflush(NULL);
  exit(3);
}

/* ---- helpers ------------------------------------------------------------ */

static int64_t int_at_value(const mproc_value *v) {
  int64_t x = -1;
  mproc_value_get_int(v, &x);
  return x;
}

static mproc_pool *mpi_pool(int processes) {
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  mproc_pool *p = NULL;
  int rc;
  o.processes = processes;
  o.backend = MPROC_POOL_MPI;
  rc = mproc_pool_new(&p, &o);
  ck_assert_msg(rc == 0, "mproc_pool_new: %s", mproc_last_error());
  return p;
}

static int cb_count;
static int64_t cb_value;
static void on_result(mproc_async *r, const mproc_value *v, void *ctx) {
  (void)r;
  (void)ctx;
  cb_count++;
  mproc_value_get_int(v, &cb_value);
}

/* ---- solo: not under mpiexec ---------------------------------------------- */

START_TEST(test_solo) {
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  mproc_pool *p = NULL;
  int rc;
  o.backend = MPROC_POOL_MPI;
  rc = mproc_pool_new(&p, &o);
  ck_assert_int_eq(rc, MPROC_ENOTSUP);
  ck_assert_ptr_null(p);
  /* built with MPI: "... started by mpiexec ..."; without: "... built
   * without MPI ..." */
  ck_assert_msg(strstr(mproc_last_error(), "mpiexec") ||
                    strstr(mproc_last_error(), "without MPI"),
                "%s", mproc_last_error());
  o.backend = 7;
  ck_assert_int_eq(mproc_pool_new(&p, &o), MPROC_EINVAL);
}
END_TEST

/* ---- ranks: under mpiexec -n 3 ---------------------------------------------- */

START_TEST(test_same_api) {
  mproc_pool *p = mpi_pool(0);
  mproc_value *arg, *res = NULL, *list, *pairs;
  mproc_call_opts co = MPROC_CALL_OPTS_INIT;
  mproc_async *r = NULL;
  mproc_future *fs[20];
  mproc_completed *it = NULL;
  long pids[4];
  size_t i, n;
  int64_t sum = 0;
  /* the workers are ranks 1 and 2 */
  ck_assert_int_eq(mproc_pool_pids(p, pids, 4), 2);
  ck_assert_int_eq(pids[0] + pids[1], 3);
  /* apply */
  arg = mproc_int(7);
  ck_assert_int_eq(mproc_pool_apply(p, t_square, arg, &res), 0);
  {
    int64_t v = 0;
    mproc_value_get_int(res, &v);
    ck_assert_int_eq(v, 49);
  }
  mproc_value_free(res);
  /* apply_async with a callback */
  co.callback = on_result;
  cb_count = 0;
  ck_assert_int_eq(mproc_pool_apply_async(p, t_square, arg, &co, &r), 0);
  ck_assert_int_eq(mproc_async_wait(r, 60), 0);
  ck_assert_int_eq(cb_count, 1);
  ck_assert_int_eq(cb_value, 49);
  mproc_async_free(r);
  mproc_value_free(arg);
  /* map, chunksize 10 and default */
  list = range(1000);
  ck_assert_int_eq(mproc_pool_map(p, t_square, list, 10, &res), 0);
  ck_assert_int_eq((int)mproc_list_len(res), 1000);
  for (i = 0; i < 1000; i++)
    ck_assert_int_eq(int_at(res, i), (int64_t)(i * i));
  mproc_value_free(res);
  ck_assert_int_eq(mproc_pool_map(p, t_square, list, 0, &res), 0);
  ck_assert_int_eq(int_at(res, 999), 999 * 999);
  mproc_value_free(res);
  /* imap: in order, while later ones run */
  ck_assert_int_eq(mproc_pool_imap(p, t_square, list, 7, &r), 0);
  for (i = 0; i < 1000; i++) {
    mproc_value *v = NULL;
    int64_t x = -1;
    ck_assert_int_eq(mproc_async_next(r, 60, &v), 0);
    mproc_value_get_int(v, &x);
    ck_assert_int_eq(x, (int64_t)(i * i));
    mproc_value_free(v);
  }
  mproc_async_free(r);
  mproc_value_free(list);
  /* starmap */
  pairs = mproc_list();
  for (i = 0; i < 50; i++) {
    mproc_value *pr = mproc_list();
    mproc_list_append(pr, mproc_int((int64_t)i));
    mproc_list_append(pr, mproc_int(1000));
    mproc_list_append(pairs, pr);
  }
  ck_assert_int_eq(mproc_pool_starmap(p, t_add, pairs, 3, &res), 0);
  for (i = 0; i < 50; i++)
    ck_assert_int_eq(int_at(res, i), (int64_t)i + 1000);
  mproc_value_free(res);
  mproc_value_free(pairs);
  /* futures: submit, as_completed */
  for (i = 0; i < 20; i++) {
    mproc_value *a = mproc_int((int64_t)i);
    ck_assert_int_eq(mproc_pool_submit(p, t_square, a, &fs[i]), 0);
    mproc_value_free(a);
  }
  ck_assert_int_eq(mproc_as_completed(&it, fs, 20, 60), 0);
  for (n = 0;; n++) {
    mproc_future *f = NULL;
    const mproc_value *v = NULL;
    int64_t x = 0;
    int rc = mproc_completed_next(it, &f, NULL);
    if (rc == MPROC_EEOF)
      break;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(mproc_future_result(f, 0, &v), 0);
    mproc_value_get_int(v, &x);
    sum += x;
  }
  mproc_completed_free(it);
  ck_assert_int_eq((int)n, 20);
  ck_assert_int_eq(sum, 2470); /* sum of i*i, i < 20 */
  for (i = 0; i < 20; i++)
    mproc_future_free(fs[i]);
  mproc_pool_close(p);
  ck_assert_int_eq(mproc_pool_join(p, 60), 0);
  mproc_pool_free(p);
}
END_TEST

/* Big arguments and results both ways at once (the hub must never wait
 * on one pipe while the engine waits on another). */
START_TEST(test_big_values) {
  mproc_pool *p = mpi_pool(0);
  mproc_value *list = mproc_list(), *res = NULL;
  size_t n = 1 << 20, i, k;
  char *big = malloc(n + 1);
  ck_assert_ptr_nonnull(big);
  for (i = 0; i < 12; i++) {
    memset(big, 'a' + (int)i, n);
    big[n] = 0;
    mproc_list_append(list, mproc_str(big));
  }
  ck_assert_int_eq(mproc_pool_map(p, t_echo, list, 1, &res), 0);
  ck_assert_int_eq((int)mproc_list_len(res), 12);
  for (i = 0; i < 12; i++) {
    const char *v = mproc_value_str(mproc_list_get(res, i));
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(strlen(v), n);
    for (k = 0; k < n; k += 4099)
      ck_assert_int_eq(v[k], 'a' + (int)i);
  }
  mproc_value_free(res);
  mproc_value_free(list);
  free(big);
  mproc_pool_free(p);
}
END_TEST

/* Short tasks: a rank holds up to 16 chunks (its depth) and replies of
 * 12 KB come back as fast as they are made, while chunks of 12 KB go out:
 * every value comes back, and nothing waits for ever on a full pipe (the
 * results the hub writes itself stay within its budget, the rest go
 * through the feeder). */
START_TEST(test_many_in_flight) {
  mproc_pool *p = mpi_pool(0);
  mproc_value *strs = mproc_list(), *ints = range(40000), *res = NULL;
  static char s[12001];
  int i, round;
  for (i = 0; i < 400; i++) {
    memset(s, 'a' + i % 26, 12000);
    s[12000] = 0;
    mproc_list_append(strs, mproc_str(s));
  }
  for (round = 0; round < 3; round++) {
    ck_assert_int_eq(mproc_pool_map(p, t_echo, strs, 1, &res), 0);
    ck_assert_int_eq((int)mproc_list_len(res), 400);
    for (i = 0; i < 400; i++) {
      const char *v = mproc_value_str(mproc_list_get(res, (size_t)i));
      ck_assert_ptr_nonnull(v);
      ck_assert_uint_eq(strlen(v), 12000);
      ck_assert_int_eq(v[0], 'a' + i % 26);
      ck_assert_int_eq(v[11999], 'a' + i % 26);
    }
    mproc_value_free(res);
    ck_assert_int_eq(mproc_pool_map(p, t_square, ints, 1500, &res), 0);
    ck_assert_int_eq((int)mproc_list_len(res), 40000);
    for (i = 0; i < 40000; i++)
      ck_assert_int_eq(int_at(res, (size_t)i), (int64_t)i * i);
    mproc_value_free(res);
  }
  mproc_value_free(strs);
  mproc_value_free(ints);
  mproc_pool_free(p);
}
END_TEST

/* A rank holds only its depth of a map's chunks (4 before its first
 * results); the rest wait at the hub unclaimed, and the idle rank takes
 * them: behind a 3 s task, its rank runs only the 3 chunks it held. */
START_TEST(test_held_taken) {
  mproc_pool *p = mpi_pool(0);
  mproc_value *list = mproc_list();
  mproc_async *r = NULL;
  const mproc_value *v;
  const char *msg = NULL;
  mproc_call_opts co = MPROC_CALL_OPTS_INIT;
  long long_rank = 0, pid = 0;
  int i, on_long = 0;
  co.chunksize = 1;
  mproc_list_append(list, mproc_float(3.0));
  for (i = 1; i < 60; i++)
    mproc_list_append(list, mproc_float(0.001));
  ck_assert_int_eq(mproc_pool_map_async(p, t_sleep, list, &co, &r), 0);
  ck_assert_int_eq(mproc_async_wait(r, 60), 0);
  ck_assert_int_eq(mproc_async_task(r, 0, &v, &msg, &long_rank), 0);
  for (i = 1; i < 60; i++) {
    ck_assert_int_eq(mproc_async_task(r, (size_t)i, &v, &msg, &pid), 0);
    on_long += pid == long_rank;
  }
  printf("held_taken: %d of 59 short tasks on the long task's rank\n",
         on_long);
  ck_assert_msg(on_long <= 3, "%d short tasks ran behind the long one",
                on_long);
  mproc_async_free(r);
  mproc_value_free(list);
  mproc_pool_free(p);
}
END_TEST

/* On rank 0's node with more ranks than cores (the tests' mpiexec -n 3
 * on 2 cores), the worker ranks run 5 nice steps below rank 0, so its
 * hub and handler run the moment they wake; with cores to spare, as rank
 * 0. */
START_TEST(test_give_way) {
  mproc_pool *p = mpi_pool(0);
  mproc_value *none = mproc_none(), *res = NULL;
  const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  int over, want;
  int64_t got = -100;
  if (!local)
    local = getenv("MPI_LOCALNRANKS"); /* MPICH's Hydra */
  over = local && atoi(local) >= mproc_cpu_count();
  want = my_nice() + (over ? 5 : 0);
  if (want > 19)
    want = 19;
#ifdef _WIN32
  want = 0;
#endif
  ck_assert_int_eq(mproc_pool_apply(p, t_nice, none, &res), 0);
  mproc_value_get_int(res, &got);
  printf("give_way: rank 0 nice %d, a rank %d (%d cores, %s ranks here)\n",
         my_nice(), (int)got, mproc_cpu_count(), local ? local : "?");
  mproc_value_free(res);
  mproc_value_free(none);
  mproc_pool_free(p); /* before the check: the later tests need the ranks */
  ck_assert_int_eq((int)got, want);
}
END_TEST

START_TEST(test_task_error) {
  mproc_pool *p = mpi_pool(0);
  mproc_value *arg = mproc_int(5), *res = NULL;
  mproc_async *r = NULL;
  const mproc_value *v;
  const char *msg = NULL;
  int code;
  long pid = 0;
  ck_assert_int_eq(mproc_pool_apply(p, t_fail, arg, &res), MPROC_EKEY);
  ck_assert_msg(strstr(mproc_last_error(), "no key 5 on this rank") &&
                    strstr(mproc_last_error(), "task failed in worker "),
                "%s", mproc_last_error());
  ck_assert_int_eq(mproc_pool_apply_async(p, t_fail, arg, NULL, &r), 0);
  ck_assert_int_eq(mproc_async_wait(r, 60), 0);
  code = mproc_async_task(r, 0, &v, &msg, &pid);
  ck_assert_int_eq(code, MPROC_EKEY);
  ck_assert_msg(strstr(msg, "task failed in worker ") &&
                    strstr(msg, ": no key 5 on this rank"),
                "%s", msg);
  ck_assert_msg(pid == 1 || pid == 2, "rank %ld", pid);
  mproc_async_free(r);
  mproc_value_free(arg);
  mproc_pool_free(p);
}
END_TEST

START_TEST(test_time_limit) {
  mproc_pool *p = mpi_pool(0);
  mproc_call_opts co = MPROC_CALL_OPTS_INIT;
  mproc_async *r = NULL;
  mproc_value *arg = mproc_float(3.0), *list, *res = NULL;
  const mproc_value *v;
  const char *msg = NULL;
  int code;
  long pid = 0;
  double t0 = mproc_monotonic();
  co.time_limit = 0.3;
  ck_assert_int_eq(mproc_pool_apply_async(p, t_sleep, arg, &co, &r), 0);
  ck_assert_int_eq(mproc_async_wait(r, 60), 0);
  code = mproc_async_task(r, 0, &v, &msg, &pid);
  ck_assert_int_eq(code, MPROC_ETIMEDOUT);
  ck_assert_msg(strstr(msg, "timed out") && strstr(msg, "time limit of 0.3"),
                "%s", msg);
  /* answered at the limit, not when the rank finished the task */
  ck_assert_msg(mproc_monotonic() - t0 < 2.9, "took %g s",
                mproc_monotonic() - t0);
  mproc_async_free(r);
  /* the pool goes on (the other rank at once, that one after its task) */
  list = range(200);
  ck_assert_int_eq(mproc_pool_map(p, t_square, list, 5, &res), 0);
  ck_assert_int_eq(int_at(res, 199), 199 * 199);
  mproc_value_free(res);
  mproc_value_free(list);
  mproc_value_free(arg);
  /* a soft limit reaches the task on its rank */
  co.time_limit = 0;
  co.soft_time_limit = 0.2;
  arg = mproc_none();
  ck_assert_int_eq(mproc_pool_apply_async(p, t_until_expired, arg, &co, &r),
                   0);
  ck_assert_int_eq(mproc_async_wait(r, 60), 0);
  code = mproc_async_task(r, 0, &v, &msg, &pid);
  ck_assert_int_eq(code, 0);
  {
    int64_t x = 0;
    mproc_value_get_int(v, &x);
    ck_assert_int_eq(x, 1);
  }
  mproc_async_free(r);
  mproc_value_free(arg);
  mproc_pool_close(p);
  ck_assert_int_eq(mproc_pool_join(p, 60), 0);
  mproc_pool_free(p);
}
END_TEST

/* Cancel stops every task not forwarded to a rank: a rank holds one batch
 * (at most 16 tasks) at a time, so of 100 queued futures at most 32 run. */
START_TEST(test_cancel) {
  mproc_pool *p = mpi_pool(0);
  mproc_future *fs[100];
  mproc_value *arg = mproc_float(0.05);
  int i, cancelled = 0, ran = 0;
  for (i = 0; i < 100; i++)
    ck_assert_int_eq(mproc_pool_submit(p, t_sleep, arg, &fs[i]), 0);
  mproc_sleep(0.1);
  for (i = 99; i >= 0; i--)
    mproc_future_cancel(fs[i]);
  for (i = 0; i < 100; i++) {
    const mproc_value *v = NULL;
    int rc = mproc_future_result(fs[i], 60, &v);
    if (rc == MPROC_ECLOSED) {
      cancelled++;
    } else {
      double x = 0;
      ck_assert_int_eq(rc, 0);
      mproc_value_get_float(v, &x);
      ck_assert(x == 0.05);
      ran++;
    }
    mproc_future_free(fs[i]);
  }
  printf("cancel: %d ran, %d cancelled\n", ran, cancelled);
  ck_assert_int_eq(cancelled + ran, 100);
  ck_assert_msg(ran <= 32, "%d ran, %d cancelled", ran, cancelled);
  mproc_value_free(arg);
  mproc_pool_free(p);
}
END_TEST

START_TEST(test_pools_and_options) {
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  mproc_pool *p = NULL, *q = NULL;
  mproc_value *initargs = mproc_list(), *res = NULL, *arg = mproc_none();
  int64_t x = 0;
  long pids[4];
  o.backend = MPROC_POOL_MPI;
  o.processes = 3; /* mpiexec -n 3: two worker ranks */
  ck_assert_int_eq(mproc_pool_new(&p, &o), MPROC_EINVAL);
  ck_assert_msg(strstr(mproc_last_error(), "2 worker ranks"), "%s",
                mproc_last_error());
  o.processes = 0;
  o.maxtasksperchild = 2;
  ck_assert_int_eq(mproc_pool_new(&p, &o), MPROC_ENOTSUP);
  o.maxtasksperchild = 0;
  /* an initializer with arguments, on one rank */
  mproc_list_append(initargs, mproc_int(4242));
  o.processes = 1;
  o.initializer = t_init;
  o.initargs = initargs;
  ck_assert_int_eq(mproc_pool_new(&p, &o), 0);
  ck_assert_int_eq(mproc_pool_pids(p, pids, 4), 1);
  ck_assert_int_eq(pids[0], 1);
  ck_assert_int_eq(mproc_pool_apply(p, t_init_value, arg, &res), 0);
  mproc_value_get_int(res, &x);
  ck_assert_int_eq(x, 4242);
  mproc_value_free(res);
  /* OS objects cannot travel to a rank in initargs (a second pool is
   * refused anyway while p runs, so this one is checked first) */
  mproc_pool_free(p);
  {
    mproc_lock *lk = NULL;
    mproc_value *bad = mproc_list();
    ck_assert_int_eq(mproc_lock_new(&lk), 0);
    mproc_list_append(bad, mproc_lock_ref(lk));
    o.initargs = bad;
    ck_assert_int_eq(mproc_pool_new(&q, &o), MPROC_EINHERIT);
    ck_assert_msg(strstr(mproc_last_error(), "cannot travel to an MPI rank"),
                  "%s", mproc_last_error());
    mproc_value_free(bad);
    mproc_lock_free(lk);
  }
  o.initargs = initargs;
  ck_assert_int_eq(mproc_pool_new(&p, &o), 0);
  /* one MPI pool at a time */
  o.initializer = NULL;
  o.initargs = NULL;
  ck_assert_int_eq(mproc_pool_new(&q, &o), MPROC_EINVAL);
  mproc_pool_free(p);
  /* the next pool: a new session, no initializer */
  p = mpi_pool(0);
  ck_assert_int_eq(mproc_pool_apply(p, t_init_value, arg, &res), 0);
  mproc_value_free(res);
  mproc_pool_terminate(p);
  mproc_pool_free(p);
  /* and a local pool beside it works as before */
  o.backend = MPROC_POOL_LOCAL;
  o.processes = 1;
  ck_assert_int_eq(mproc_pool_new(&q, &o), 0);
  ck_assert_int_eq(mproc_pool_apply(q, t_square, initargs, &res), MPROC_ETYPE);
  mproc_pool_free(q);
  mproc_value_free(initargs);
  mproc_value_free(arg);
}
END_TEST

/* ---- the direct path (engine.c): a sync apply on the calling thread ---- */

/* engine.c: how many applies took the direct path, and how many of those
 * the handler took over (a test's probe, as in test_pool.c). */
unsigned long mproc__pool_ndirect(mproc_pool *pool, unsigned long *adopted);

/* Applies until one takes the direct path (a bridge is lent once the
 * handler has read its rank's READY). */
static void warm_direct(mproc_pool *p) {
  mproc_value *a = mproc_int(5), *res = NULL;
  double t0 = mproc_monotonic();
  unsigned long n0 = mproc__pool_ndirect(p, NULL);
  while (mproc__pool_ndirect(p, NULL) == n0 && mproc_monotonic() - t0 < 60) {
    ck_assert_int_eq(mproc_pool_apply(p, t_square, a, &res), 0);
    ck_assert_int_eq(int_at_value(res), 25);
    mproc_value_free(res);
    mproc_sleep(0.01);
  }
  ck_assert_msg(mproc__pool_ndirect(p, NULL) > n0,
                "no apply took the direct path");
  mproc_value_free(a);
}

/*
 * A sync apply on an idle rank goes the direct path through its bridge;
 * past the hard limit the handler takes it over and the rank is taken
 * out.  A new pool made while that rank still runs the over-time task
 * (its bridge has no session yet) answers its first apply once the rank
 * is back: before, worker 0 was lent at once and the hub dropped the
 * chunk sent before the session, and the apply hung.
 */
START_TEST(test_direct) {
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  mproc_pool *p = NULL;
  mproc_value *arg = mproc_int(0), *res = NULL, *slow = mproc_float(3.0);
  unsigned long n0, a0 = 0, a1 = 0;
  long pids[2];
  int i, tries, direct = 0, rc;
  double t0;
  o.backend = MPROC_POOL_MPI;
  o.processes = 1; /* rank 1 */
  o.time_limit = 0.5;
  ck_assert_int_eq(mproc_pool_new(&p, &o), 0);
  warm_direct(p);
  n0 = mproc__pool_ndirect(p, &a0);
  for (i = 0; i < 50; i++) {
    mproc_value *a = mproc_int(i);
    ck_assert_int_eq(mproc_pool_apply(p, t_square, a, &res), 0);
    ck_assert_int_eq(int_at_value(res), (int64_t)i * i);
    mproc_value_free(res);
    mproc_value_free(a);
  }
  /* answered directly: none handed back to the handler */
  ck_assert_msg(mproc__pool_ndirect(p, &a1) > n0, "none direct");
  ck_assert_int_eq(a1, a0);
  /* a task's error, direct: its code, message and rank */
  ck_assert_int_eq(mproc_pool_apply(p, t_fail, arg, &res), MPROC_EKEY);
  ck_assert_msg(strstr(mproc_last_error(), "task failed in worker 1: no key "
                                           "0 on this rank"),
                "%s", mproc_last_error());
  ck_assert_msg(mproc__pool_ndirect(p, &a1) > n0 && a1 == a0,
                "the failed task was handed back");
  /* the hard limit in a direct apply: taken over, the rank taken out */
  for (tries = 0; tries < 3 && !direct; tries++) {
    if (tries)
      warm_direct(p); /* the rank is back */
    n0 = mproc__pool_ndirect(p, &a0);
    t0 = mproc_monotonic();
    ck_assert_int_eq(mproc_pool_apply(p, t_sleep, slow, &res),
                     MPROC_ETIMEDOUT);
    ck_assert_msg(mproc_monotonic() - t0 < 2.7, "took %g s",
                  mproc_monotonic() - t0);
    ck_assert_msg(strstr(mproc_last_error(), "task 0 timed out: worker 1 ") &&
                      strstr(mproc_last_error(), "time limit of 0.5 s"),
                  "%s", mproc_last_error());
    direct = mproc__pool_ndirect(p, &a1) == n0 + 1;
    ck_assert(!direct || a1 == a0 + 1);
  }
  ck_assert_msg(direct, "the slow apply never took the direct path");
  /* at once a new pool on that rank, still busy with the slow task */
  mproc_pool_free(p);
  o.time_limit = 0;
  ck_assert_int_eq(mproc_pool_new(&p, &o), 0);
  rc = mproc_pool_apply(p, t_square, slow, &res); /* 3.0: not an int */
  ck_assert_int_eq(rc, MPROC_ETYPE);
  ck_assert_int_eq(mproc_pool_pids(p, pids, 2), 1);
  ck_assert_int_eq(pids[0], 1);
  warm_direct(p);
  mproc_pool_free(p);
  mproc_value_free(arg);
  mproc_value_free(slow);
}
END_TEST

/* ---- mismatch: rank 2 runs another binary ----------------------------------- */

START_TEST(test_mismatch) {
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  mproc_pool *p = NULL;
  mproc_value *arg = mproc_int(9), *res = NULL;
  int64_t x = 0;
  o.backend = MPROC_POOL_MPI;
  ck_assert_int_eq(mproc_pool_new(&p, &o), MPROC_ESPAWN);
  ck_assert_msg(strstr(mproc_last_error(), "rank 2 runs another binary"),
                "%s", mproc_last_error());
  o.processes = 1;
  ck_assert_int_eq(mproc_pool_new(&p, &o), 0);
  ck_assert_int_eq(mproc_pool_apply(p, t_square, arg, &res), 0);
  mproc_value_get_int(res, &x);
  ck_assert_int_eq(x, 81);
  mproc_value_free(res);
  mproc_value_free(arg);
  mproc_pool_free(p);
  printf("mismatch: PASS\n");
}
END_TEST

/* ---- die: a rank ends mid-task (the job ends; checked by mpi_run.cmake) ---- */

static void die_with(mproc_task_fn fn) {
  mproc_pool *p = mpi_pool(0);
  mproc_value *arg = mproc_int(1);
  mproc_async *r = NULL;
  int rc;
  ck_assert_int_eq(mproc_pool_apply_async(p, fn, arg, NULL, &r), 0);
  printf("die: submitted\n");
  fflush(stdout);
  /* Open MPI ends the job before this returns; were it to return, the
   * pool must have said so, never hang. */
  rc = mproc_async_wait(r, 120);
  printf("die: rank 0 still here (wait %d, %s)\n", rc, mproc_last_error());
  mproc_value_free(arg);
  mproc_async_free(r);
  mproc_pool_free(p);
}

START_TEST(test_die_abort) { die_with(t_abort); }
END_TEST

START_TEST(test_die_exit) { die_with(t_exit); }
END_TEST

Suite *mproc_suite_mpi(void) {
  Suite *s = suite_create("mpi");
  TCase *tc = tcase_create("solo");
  tcase_add_test(tc, test_solo);
  suite_add_tcase(s, tc);
  tc = tcase_create("ranks");
  tcase_add_test(tc, test_same_api);
  tcase_add_test(tc, test_big_values);
  tcase_add_test(tc, test_many_in_flight);
  tcase_add_test(tc, test_held_taken);
  tcase_add_test(tc, test_give_way);
  tcase_add_test(tc, test_task_error);
  tcase_add_test(tc, test_time_limit);
  tcase_add_test(tc, test_cancel);
  tcase_add_test(tc, test_pools_and_options);
  tcase_add_test(tc, test_direct);
  suite_add_tcase(s, tc);
  tc = tcase_create("mismatch");
  tcase_add_test(tc, test_mismatch);
  suite_add_tcase(s, tc);
  tc = tcase_create("die_abort");
  tcase_add_test(tc, test_die_abort);
  suite_add_tcase(s, tc);
  tc = tcase_create("die_exit");
  tcase_add_test(tc, test_die_exit);
  suite_add_tcase(s, tc);
  return s;
}
