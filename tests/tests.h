/*
 * tests.h - the suites of the one test binary, mproc_tests.
 *
 * The binary's main() calls mproc_init() first, so child roles are this
 * same binary re-executed.  check runs in CK_NOFORK mode (the same way on
 * Windows), so a test must clean up what it starts; ctest gives every
 * suite a timeout.  Run one suite: mproc_tests <suite> [<tcase>].
 */
#ifndef MPROC_TESTS_H
#define MPROC_TESTS_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

/* Assert an mproc call returned exactly want, showing the detail. */
#define ck_mproc(call, want)                                                 \
  do {                                                                       \
    int ck_rc_ = (call);                                                     \
    ck_assert_msg(ck_rc_ == (want), "%s returned %d (%s: %s), wanted %d",    \
                  #call, ck_rc_, mproc_errname(ck_rc_), mproc_last_error(),  \
                  (want));                                                   \
  } while (0)
#define ck_mproc_ok(call) ck_mproc(call, 0)

/* The Connection a child received as its i-th argument (NULL if none). */
static inline mproc_conn *arg_conn(mproc_value *args, size_t i) {
  mproc_conn *c = NULL;
  mproc_value_get_conn(mproc_list_get(args, i), &c);
  return c;
}

/* The list [0, 1, ..., n-1] of int values (a map's usual input). */
static inline mproc_value *range(int64_t n) {
  mproc_value *l = mproc_list();
  int64_t i;
  for (i = 0; i < n; i++)
    mproc_list_append(l, mproc_int(i));
  return l;
}

/* The int at l[i] (-1 if it is not one). */
static inline int64_t int_at(const mproc_value *l, size_t i) {
  int64_t v = -1;
  mproc_value_get_int(mproc_list_get(l, i), &v);
  return v;
}

/* A pool task (test_pool.c, test_mpi.c): the square of an int argument. */
static inline int t_square(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  int rc = mproc_value_get_int(arg, &x);
  if (rc)
    return mproc_fail(rc, "square wants an int");
  *result = mproc_int(x * x);
  return 0;
}

Suite *mproc_suite_value(void);
Suite *mproc_suite_codec(void);
Suite *mproc_suite_errors(void);
Suite *mproc_suite_conn(void);
Suite *mproc_suite_process(void);
Suite *mproc_suite_handles(void);
Suite *mproc_suite_sync(void);
Suite *mproc_suite_shmem(void);
Suite *mproc_suite_queue(void);
Suite *mproc_suite_pool(void);
Suite *mproc_suite_manager(void);
Suite *mproc_suite_mpi(void);

#endif
