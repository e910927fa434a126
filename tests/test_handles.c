/*
 * test_handles.c - exactly the handles named for a child reach it, also
 * while other threads spawn children with handles of their own.
 *
 * A child lists its open file/pipe/socket handles and sends the count
 * back.  Every child gets exactly one Connection, so every child must
 * report the same count as a baseline child started while the parent had
 * nothing else open - however many other pipes the parent (and its other
 * threads) hold at that moment.
 */
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include "children.h"
#include "platform.h"
#include "tests.h"

static int count_handles(mproc_value *args) {
  mproc_conn *c = NULL;
  long list[512];
  int n = mproc__plat_list_handles(list, 512);
  mproc_value *v = mproc_list();
  int i, rc;
  mproc_value_get_conn(mproc_list_get(args, 0), &c);
  mproc_list_append(v, mproc_int(n));
  for (i = 0; i < n && i < 512; i++)
    mproc_list_append(v, mproc_int(list[i]));
  rc = mproc_conn_send(c, v);
  mproc_value_free(v);
  return rc == 0 ? 0 : 1;
}

/* Start a child with one Connection; return the handle count it saw. */
static int child_count(void) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got = NULL;
  int64_t n = -1;
  if (mproc_pipe(&a, &b, 1) != 0)
    return -1;
  if (mproc_process_new(&p, count_handles, mproc_build("[C]", b), NULL) == 0 &&
      mproc_process_start(p) == 0) {
    if (mproc_conn_recv(a, &got) == 0)
      mproc_value_get_int(mproc_list_get(got, 0), &n);
    mproc_process_join(p, 60);
  }
  mproc_value_free(got);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
  return (int)n;
}

typedef struct spawner {
  int rounds;
  int counts[8];
} spawner;

static void *APR_THREAD_FUNC spawn_thread(apr_thread_t *t, void *arg) {
  spawner *s = arg;
  int i;
  for (i = 0; i < s->rounds; i++)
    s->counts[i] = child_count();
  apr_thread_exit(t, APR_SUCCESS);
  return NULL;
}

START_TEST(child_gets_only_its_handles) {
  int base = child_count(), i;
  mproc_conn *extra[20];
  ck_assert_int_gt(base, 0);
  /* The parent now holds 20 more pipe ends: none may reach a child. */
  for (i = 0; i < 20; i += 2)
    ck_mproc_ok(mproc_pipe(&extra[i], &extra[i + 1], 1));
  ck_assert_int_eq(child_count(), base);
  for (i = 0; i < 20; i++)
    mproc_conn_free(extra[i]);
}
END_TEST

START_TEST(concurrent_spawns_do_not_leak) {
  apr_pool_t *pool;
  apr_thread_t *th[4];
  spawner sp[4];
  int base = child_count(), i, j;
  ck_assert_int_gt(base, 0);
  ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
  for (i = 0; i < 4; i++) {
    sp[i].rounds = 4;
    ck_assert_int_eq(apr_thread_create(&th[i], NULL, spawn_thread, &sp[i],
                                       pool),
                     APR_SUCCESS);
  }
  for (i = 0; i < 4; i++) {
    apr_status_t st;
    apr_thread_join(&st, th[i]);
  }
  for (i = 0; i < 4; i++)
    for (j = 0; j < 4; j++)
      ck_assert_msg(sp[i].counts[j] == base,
                    "thread %d child %d saw %d handles, baseline %d", i, j,
                    sp[i].counts[j], base);
  apr_pool_destroy(pool);
}
END_TEST

/* ---- a nearly full fd table (POSIX: Win32 has no such limit) ------------- */

#ifndef _WIN32
/* Says "hi" on its Connection, exits 7. */
static int say_hi(mproc_value *args) {
  mproc_value *v = mproc_str("hi");
  int rc = mproc_conn_send(arg_conn(args, 0), v);
  mproc_value_free(v);
  return rc == 0 ? 7 : 1;
}

/* Start say_hi with a Connection; [start rc, detail, exit code, heard]. */
static mproc_value *try_start(void) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got = NULL;
  int rc, code = -1000, heard = 0;
  char detail[400];
  if (mproc_pipe(&a, &b, 1) != 0)
    return mproc_build("[i s i i]", -1000, mproc_last_error(), 0, 0);
  rc = mproc_process_new(&p, say_hi, mproc_build("[C]", b), NULL);
  if (rc == 0)
    rc = mproc_process_start(p);
  snprintf(detail, sizeof detail, "%s", mproc_last_error());
  if (rc == 0) {
    heard = mproc_conn_recv(a, &got) == 0 &&
            strcmp(mproc_value_str(got), "hi") == 0;
    mproc_process_join(p, 60);
    mproc_process_exitcode(p, &code);
  }
  mproc_value_free(got);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
  return mproc_build("[i s i i]", rc, detail, code, heard);
}
#endif

/*
 * In a child: lower RLIMIT_NOFILE to 64, fill the table, then free the
 * `spare` highest fds (so the bootstrap channel lands at the very top)
 * and start a grandchild with a Connection; then fill it completely and
 * try again.  Sends [[first result], [second result]].
 */
static int full_table(mproc_value *args) {
#ifdef _WIN32
  (void)args;
  return 0;
#else
  struct rlimit rl;
  int fds[128], n = 0, i;
  mproc_conn *up = arg_conn(args, 0);
  mproc_value *res = mproc_list(), *r;
  int spare = (int)arg_i64(args, 1);
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 2;
  rl.rlim_cur = 64;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 64)
    return 3;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 4;
  /* The two pipes try_start makes, first, so their fds are low. */
  while (n < 128) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      break;
    fds[n++] = fd;
  }
  if (n < 10 || errno != EMFILE)
    return 5;
  /* Room for the Pipe try_start makes (2 fds) plus spare at the top. */
  for (i = 0; i < 2 + spare; i++)
    close(fds[--n]);
  r = try_start();
  mproc_list_append(res, r);
  /* Now no fd at all is left once its Pipe exists. */
  {
    int fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
      if (n < 128)
        fds[n++] = fd;
    for (i = 0; i < 2; i++)
      close(fds[--n]);
  }
  r = try_start();
  mproc_list_append(res, r);
  i = mproc_conn_send(up, res);
  mproc_value_free(res);
  return i == 0 ? 0 : 6;
#endif
}

static int64_t item_i(mproc_value *l, size_t i, size_t j) {
  int64_t v = -1;
  mproc_value_get_int(mproc_list_get(mproc_list_get(l, i), j), &v);
  return v;
}

START_TEST(spawn_with_a_nearly_full_fd_table) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got = NULL;
  int code = -1000;
#ifdef _WIN32
  return; /* no fd limit to fill on Windows */
#endif
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, full_table, mproc_build("[C i]", b, 2),
                                NULL));
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_conn_recv(a, &got));
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 0);
  /* Two fds free at the top of the table: the start works. */
  ck_assert_msg(item_i(got, 0, 0) == 0, "start with 2 fds left: %lld (%s)",
                (long long)item_i(got, 0, 0),
                mproc_value_str(mproc_list_get(mproc_list_get(got, 0), 1)));
  ck_assert_int_eq(item_i(got, 0, 2), 7);
  ck_assert_int_eq(item_i(got, 0, 3), 1);
  /* None left: a clear MPROC_EMFILE. */
  ck_assert_msg(item_i(got, 1, 0) == MPROC_EMFILE,
                "start with no fd left: %lld (%s)",
                (long long)item_i(got, 1, 0),
                mproc_value_str(mproc_list_get(mproc_list_get(got, 1), 1)));
  ck_assert_ptr_nonnull(
      strstr(mproc_value_str(mproc_list_get(mproc_list_get(got, 1), 1)),
             "Too many open files"));
  mproc_value_free(got);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

Suite *mproc_suite_handles(void) {
  Suite *s = suite_create("handles");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, child_gets_only_its_handles);
  tcase_add_test(tc, concurrent_spawns_do_not_leak);
  tcase_add_test(tc, spawn_with_a_nearly_full_fd_table);
  suite_add_tcase(s, tc);
  return s;
}
