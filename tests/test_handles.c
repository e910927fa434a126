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

Suite *mproc_suite_handles(void) {
  Suite *s = suite_create("handles");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, child_gets_only_its_handles);
  tcase_add_test(tc, concurrent_spawns_do_not_leak);
  suite_add_tcase(s, tc);
  return s;
}
