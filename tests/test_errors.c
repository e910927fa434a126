/*
 * test_errors.c - every error path the spawn core promises: codes and
 * messages, misuse of process objects, a target that cannot travel, a
 * child that dies before its bootstrap, timeouts, NULL arguments.
 */
#include <stdio.h>

#include "platform.h"
#include "tests.h"

static int nothing(mproc_value *args) {
  (void)args;
  return 0;
}

START_TEST(codes_have_names_and_messages) {
  int code;
  ck_assert_str_eq(mproc_strerror(0), "success");
  ck_assert_str_eq(mproc_errname(MPROC_EEOF), "MPROC_EEOF");
  ck_assert_str_eq(mproc_strerror(MPROC_ETIMEDOUT), "timed out");
  ck_assert_str_eq(mproc_strerror(12345), "unknown error");
  for (code = -1; code > MPROC__ELAST; code--) {
    ck_assert_str_ne(mproc_strerror(code), "unknown error");
    ck_assert_int_eq(strncmp(mproc_errname(code), "MPROC_E", 7), 0);
  }
}
END_TEST

START_TEST(start_twice_join_unstarted_daemon_after_start) {
  mproc_process *p;
  int code;
  ck_mproc_ok(mproc_process_new(&p, nothing, NULL, NULL));
  ck_mproc(mproc_process_join(p, 1), MPROC_ENOTSTARTED);
  ck_mproc(mproc_process_exitcode(p, &code), MPROC_ENOTSTARTED);
  ck_mproc(mproc_process_terminate(p), MPROC_ENOTSTARTED);
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc(mproc_process_start(p), MPROC_ESTARTED);
  ck_mproc(mproc_process_set_daemon(p, 1), MPROC_ESTARTED);
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 0);
  ck_mproc(mproc_process_start(p), MPROC_ESTARTED);
  mproc_process_free(p);
}
END_TEST

START_TEST(current_process_is_not_joinable) {
  mproc_process *me = mproc_current_process();
  ck_mproc(mproc_process_join(me, 0), MPROC_ENOTCHILD);
  ck_mproc(mproc_process_start(me), MPROC_EINVAL);
  ck_assert_int_eq(mproc_process_is_alive(me), 1);
}
END_TEST

START_TEST(target_that_cannot_travel) {
  mproc_process *p;
  /* A pointer into the heap is no function of any loaded image. */
  void *heap = malloc(64);
  mproc_target bogus;
  memcpy(&bogus, &heap, sizeof bogus);
  ck_mproc_ok(mproc_process_new(&p, bogus, NULL, NULL));
  ck_mproc(mproc_process_start(p), MPROC_ETARGET);
  ck_assert_ptr_nonnull(strstr(mproc_last_error(), "image"));
  ck_assert_int_eq(mproc_process_is_alive(p), 0);
  mproc_process_free(p);
  free(heap);
}
END_TEST

START_TEST(child_crashes_before_bootstrap) {
  mproc_process *p;
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", "crash-before-bootstrap"));
  ck_mproc_ok(mproc_process_new(&p, nothing, NULL, NULL));
  ck_mproc(mproc_process_start(p), MPROC_ESPAWN);
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", NULL));
  ck_assert_ptr_nonnull(strstr(mproc_last_error(), "before reading its "
                                                   "bootstrap"));
  ck_assert_int_eq(mproc_process_is_alive(p), 0);
  mproc_process_free(p);
  /* The next start works. */
  ck_mproc_ok(mproc_process_new(&p, nothing, NULL, NULL));
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_process_join(p, 60));
  mproc_process_free(p);
}
END_TEST

START_TEST(bad_arguments) {
  mproc_process *p = NULL;
  mproc_conn *a = NULL;
  int code;
  ck_mproc(mproc_process_new(NULL, nothing, NULL, NULL), MPROC_EINVAL);
  ck_mproc(mproc_process_new(&p, NULL, NULL, NULL), MPROC_EINVAL);
  ck_assert_ptr_null(p);
  ck_mproc(mproc_process_new(&p, nothing, mproc_int(3), NULL), MPROC_ETYPE);
  ck_mproc(mproc_process_new_struct(&p, NULL, "x", 1, NULL, NULL),
           MPROC_EINVAL);
  ck_mproc(mproc_process_start(NULL), MPROC_EINVAL);
  ck_mproc(mproc_process_join(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_process_exitcode(NULL, &code), MPROC_EINVAL);
  ck_mproc(mproc_pipe(&a, NULL, 1), MPROC_EINVAL);
  ck_mproc(mproc_conn_send(NULL, NULL), MPROC_EINVAL);
  ck_mproc(mproc_conn_poll(NULL, 0), MPROC_EINVAL);
  ck_mproc(mproc_wait(NULL, 1, 0, NULL), MPROC_EINVAL);
  ck_mproc(mproc_active_children(NULL, 3), MPROC_EINVAL);
}
END_TEST

START_TEST(timeouts_expire) {
  mproc_conn *a, *b;
  mproc_waitable *w[1];
  int ready[1];
  double t0;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  w[0] = mproc_conn_waitable(b);
  ck_assert_int_eq(mproc_conn_poll(b, 0.1), 0);
  ck_assert_int_eq(mproc_wait(w, 1, 0.1, ready), 0);
  ck_assert_int_eq(ready[0], 0);
  /* No items: wait just sleeps (not a timed assertion: only "returns"). */
  t0 = mproc__plat_monotonic();
  ck_assert_int_eq(mproc_wait(NULL, 0, 0.05, NULL), 0);
  ck_assert(mproc__plat_monotonic() >= t0);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

Suite *mproc_suite_errors(void) {
  Suite *s = suite_create("errors");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, codes_have_names_and_messages);
  tcase_add_test(tc, start_twice_join_unstarted_daemon_after_start);
  tcase_add_test(tc, current_process_is_not_joinable);
  tcase_add_test(tc, target_that_cannot_travel);
  tcase_add_test(tc, child_crashes_before_bootstrap);
  tcase_add_test(tc, bad_arguments);
  tcase_add_test(tc, timeouts_expire);
  suite_add_tcase(s, tc);
  return s;
}
