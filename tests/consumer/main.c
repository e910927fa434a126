/*
 * consumer/main.c - the smallest program a user of an INSTALLED mproc
 * writes: one Process puts three numbers on a Queue, the parent reads them
 * back.  scripts/test.sh builds it against an install (CMake find_package,
 * pkg-config, pkg-config --static, mingw under wine) to prove the package
 * links and runs; it prints "consumer: PASS sum=14" and exits 0.
 */
#include <stdio.h>

#include <mproc.h>

static int producer(mproc_value *args) {
  mproc_queue *q = NULL;
  int64_t i;
  if (mproc_value_get_queue(mproc_list_get(args, 0), &q) < 0)
    return 2;
  for (i = 1; i <= 3; i++) {
    mproc_value *v = mproc_int(i * i);
    int rc = mproc_queue_put(q, v, MPROC_FOREVER);
    mproc_value_free(v);
    if (rc < 0)
      return 3;
  }
  return 0;
}

static int fail(const char *what) {
  printf("consumer: FAIL %s: %s\n", what, mproc_last_error());
  return 1;
}

int main(int argc, char **argv) {
  mproc_queue *q = NULL;
  mproc_process *p = NULL;
  int64_t sum = 0;
  int i, code = -1;

  if (mproc_init(argc, argv) < 0)
    return fail("mproc_init");
  if (mproc_queue_new(&q, 0) < 0)
    return fail("mproc_queue_new");
  if (mproc_process_new(&p, producer, mproc_build("[O]", mproc_queue_ref(q)),
                        NULL) < 0)
    return fail("mproc_process_new");
  if (mproc_process_start(p) < 0)
    return fail("mproc_process_start");
  for (i = 0; i < 3; i++) {
    mproc_value *v = NULL;
    int64_t n = 0;
    if (mproc_queue_get(q, &v, 120) < 0 || mproc_value_get_int(v, &n) < 0)
      return fail("mproc_queue_get");
    sum += n;
    mproc_value_free(v);
  }
  if (mproc_process_join(p, 120) < 0 || mproc_process_exitcode(p, &code) < 0)
    return fail("mproc_process_join");
  mproc_process_free(p);
  mproc_queue_free(q);
  if (code != 0 || sum != 14) {
    printf("consumer: FAIL exitcode=%d sum=%lld\n", code, (long long)sum);
    return 1;
  }
  printf("consumer: PASS sum=%lld\n", (long long)sum);
  return 0;
}
