/*
 * main.c - the test binary.  mproc_init() comes first: in a child spawned
 * by a test it runs that child's target and never returns.
 */
#include <stdio.h>

#include "tests.h"

typedef struct suite_entry {
  const char *name;
  Suite *(*make)(void);
} suite_entry;

static const suite_entry suites[] = {
    {"value", mproc_suite_value},     {"codec", mproc_suite_codec},
    {"errors", mproc_suite_errors},   {"conn", mproc_suite_conn},
    {"process", mproc_suite_process}, {"handles", mproc_suite_handles},
    {"sync", mproc_suite_sync},       {"shmem", mproc_suite_shmem},
    {"queue", mproc_suite_queue},       {"pool", mproc_suite_pool},
    {"manager", mproc_suite_manager},
    {"mpi", mproc_suite_mpi},
};

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  const char *tcase = argc > 2 ? argv[2] : NULL;
  SRunner *sr = NULL;
  size_t i;
  int failed;

  if (mproc_init(argc, argv) != 0) {
    fprintf(stderr, "mproc_init: %s\n", mproc_last_error());
    return 2;
  }
  for (i = 0; i < sizeof suites / sizeof suites[0]; i++) {
    if (only && strcmp(only, suites[i].name) != 0)
      continue;
    if (!sr)
      sr = srunner_create(suites[i].make());
    else
      srunner_add_suite(sr, suites[i].make());
  }
  if (!sr) {
    fprintf(stderr, "no suite named '%s'\n", only ? only : "");
    return 2;
  }
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run(sr, NULL, tcase, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
