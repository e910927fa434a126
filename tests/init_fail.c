/*
 * init_fail.c - a program whose mproc_init fails for real.
 *
 * POSIX: RLIMIT_AS is set to what the process already uses, so
 * apr_initialize cannot allocate and fails (as under a tight `ulimit -v`).
 * Win32 has no such limit: there MPROC_TEST_FAULT=init-fails makes the
 * library treat apr_initialize as failed (after calling it, so APR's call
 * counter is in the same state as after a real failure).
 *
 *   init_fail solo     init fails here; then the limit is lifted again and
 *                      every later call must return an error code, not
 *                      crash (APR would "succeed" a second time with
 *                      nothing set up).
 *   init_fail parent   init works here; the child's fails: the child must
 *                      exit (never come back into main()'s parent path)
 *                      with a one-line reason on stderr, and start() must
 *                      return MPROC_ESPAWN with that reason.
 *
 * Prints "PASS" when everything held, "FAIL: ..." otherwise.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include "mproc.h"

static int fails;

static void check(int ok, const char *what, int rc) {
  if (!ok) {
    printf("FAIL: %s (rc %d %s: %s)\n", what, rc, mproc_errname(rc),
           mproc_last_error());
    fails++;
  }
}

static int target(mproc_value *args) {
  (void)args;
  return 0;
}

static int thread_fn(void *arg) {
  (void)arg;
  return 0;
}

#ifdef _WIN32
static void squeeze(void) { _putenv("MPROC_TEST_FAULT=init-fails"); }
static void unsqueeze(void) { _putenv("MPROC_TEST_FAULT="); }
#else
static struct rlimit saved;
static void squeeze(void) {
  struct rlimit rl;
  long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld", &pages) != 1) {
    puts("FAIL: cannot read /proc/self/statm");
    exit(1);
  }
  fclose(f);
  getrlimit(RLIMIT_AS, &saved);
  rl = saved;
  rl.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
  setrlimit(RLIMIT_AS, &rl);
}
static void unsqueeze(void) { setrlimit(RLIMIT_AS, &saved); }
#endif

static int is_child(int argc, char **argv) {
  int i;
  for (i = 1; i < argc; i++)
    if (strcmp(argv[i], "--mproc-spawned-child") == 0)
      return 1;
  return 0;
}

static int solo(int argc, char **argv) {
  mproc_process *p = (mproc_process *)&fails;
  mproc_lock *l = (mproc_lock *)&fails;
  mproc_queue *q = (mproc_queue *)&fails;
  mproc_thread *t = (mproc_thread *)&fails;
  mproc_process *act[4];
  int rc, first;
  squeeze();
  first = mproc_init(argc, argv);
  unsqueeze();
  check(first < 0, "mproc_init did not fail under the limit", first);
  if (first >= 0)
    return 0;
  /* The limit is gone: only the failed state can make these fail. */
  rc = mproc_init(argc, argv);
  check(rc == first, "a second mproc_init", rc);
  rc = mproc_process_new(&p, target, NULL, NULL);
  check(rc < 0 && p == NULL, "mproc_process_new", rc);
  rc = mproc_process_start(NULL);
  check(rc < 0, "mproc_process_start", rc);
  rc = mproc_lock_new(&l);
  check(rc < 0 && l == NULL, "mproc_lock_new", rc);
  {
    mproc_conn *a = (mproc_conn *)&fails, *b = (mproc_conn *)&fails;
    rc = mproc_pipe(&a, &b, 1);
    check(rc < 0 && a == NULL && b == NULL, "mproc_pipe", rc);
  }
  rc = mproc_queue_new(&q, 0);
  check(rc < 0 && q == NULL, "mproc_queue_new", rc);
  {
    mproc_sem *s = NULL;
    mproc_event *e = NULL;
    mproc_cond *c = NULL;
    mproc_shared *v = NULL;
    mproc_shm *m = NULL;
    int one = 1;
    rc = mproc_sem_new(&s, 1);
    check(rc < 0 && !s, "mproc_sem_new", rc);
    rc = mproc_event_new(&e);
    check(rc < 0 && !e, "mproc_event_new", rc);
    rc = mproc_cond_new(&c, NULL);
    check(rc < 0 && !c, "mproc_cond_new", rc);
    rc = mproc_shared_value(&v, 'i', &one, NULL);
    check(rc < 0 && !v, "mproc_shared_value", rc);
    rc = mproc_shm_new(&m, NULL, 1, 4096);
    check(rc < 0 && !m, "mproc_shm_new", rc);
  }
  rc = mproc_thread_start(&t, thread_fn, NULL);
  check(rc < 0 && t == NULL, "mproc_thread_start", rc);
  rc = mproc_wait(NULL, 0, 0, NULL);
  check(rc < 0, "mproc_wait", rc);
  rc = mproc_active_children(act, 4);
  check(rc < 0, "mproc_active_children", rc);
  /* The detail says why, every time. */
  check(strstr(mproc_last_error(), "apr_initialize") != NULL,
        "the detail names the first failure", rc);
  return 0;
}

/* The child's stderr goes to a file while start() runs. */
#include "capture.h"

static int parent(int argc, char **argv) {
  mproc_process *p;
  char err[1000];
  size_t n = 0;
  int rc = mproc_init(argc, argv);
  check(rc == 0, "mproc_init in the parent", rc);
  if (rc)
    return 0;
  /* From here on, children squeeze themselves before their mproc_init. */
#ifdef _WIN32
  _putenv("MPROC_TEST_FAULT=init-fails");
#else
  setenv("INIT_FAIL_SQUEEZE", "1", 1);
#endif
  rc = mproc_process_new(&p, target, NULL, NULL);
  check(rc == 0, "mproc_process_new", rc);
  if (rc)
    return 0;
  check(capture_begin() == 0, "capturing stderr", 0);
  rc = mproc_process_start(p);
  capture_end();
  printf("start: %s: %s\n", mproc_errname(rc), mproc_last_error());
  check(rc == MPROC_ESPAWN, "start() of a child whose init fails", rc);
  check(strstr(mproc_last_error(), "code 70") &&
            strstr(mproc_last_error(), "mproc_init failed: apr_initialize"),
        "start() gives the child's exit code and reason", rc);
  mproc_process_free(p);
  n = captured(err, sizeof err);
  printf("child's stderr: %s", err);
  check(strstr(err, "could not start: mproc_init failed: apr_initialize") &&
            strchr(err, '\n') == err + n - 1,
        "one line on the child's stderr", 0);
  return 0;
}

int main(int argc, char **argv) {
  if (is_child(argc, argv)) {
#ifndef _WIN32
    if (getenv("INIT_FAIL_SQUEEZE"))
      squeeze();
#endif
    mproc_init(argc, argv);
    /* Never reached in a child: its init either runs the target or ends
     * the process. */
    puts("FAIL: mproc_init returned in a child: main()'s parent path runs");
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "solo") == 0)
    solo(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "parent") == 0)
    parent(argc, argv);
  else {
    puts("usage: init_fail solo|parent");
    return 2;
  }
  if (fails == 0)
    puts("PASS");
  return fails ? 1 : 0;
}
