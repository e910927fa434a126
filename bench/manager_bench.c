/*
 * manager_bench.c - the Manager's speed beside a raw local-socket
 * request/response (bench/manager_run.sh prints it beside Python's
 * Manager, bench/py_manager_bench.py): manager start (until ready),
 * list.append, dict set, dict get (from this process, the server being
 * another), a Lock acquire+release through a proxy, and the soak: N
 * client processes that connect, create objects and exit holding them,
 * after which the server's object count must be back to 0 (it fails
 * otherwise: the only assertion here).
 *
 * Output: "RESULT <workload> <impl> <value> <unit>" lines.
 * Usage: manager_bench [--secs S] [--soak N]
 * The raw baseline (fork + socketpair echo) is POSIX only.
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

#ifndef _WIN32
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

static double g_secs = 2.0;

static double now(void) {
#ifndef _WIN32
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#else
  return 0; /* the manager rows need a clock: POSIX only for now */
#endif
}

static void die(const char *what, int rc) {
  fprintf(stderr, "manager_bench: %s: %s (%s)\n", what, mproc_errname(rc),
          mproc_last_error());
  exit(1);
}
#define OK(call)                                                             \
  do {                                                                       \
    int rc_ = (call);                                                        \
    if (rc_ < 0)                                                             \
      die(#call, rc_);                                                       \
  } while (0)

typedef int (*op_fn)(mproc_proxy *p, int64_t i);

static int op_append(mproc_proxy *p, int64_t i) {
  return mproc_proxy_call(p, "append", mproc_build("[L]", i), NULL);
}
static int op_dset(mproc_proxy *p, int64_t i) {
  return mproc_proxy_call(p, "__setitem__", mproc_build("[LL]", i & 1023, i),
                          NULL);
}
static int op_dget(mproc_proxy *p, int64_t i) {
  mproc_value *r = NULL;
  int rc = mproc_proxy_call(p, "__getitem__", mproc_build("[L]", i & 1023),
                            &r);
  mproc_value_free(r);
  return rc;
}
static int op_lock(mproc_proxy *p, int64_t i) {
  int rc = mproc_proxy_call(p, "acquire", NULL, NULL);
  (void)i;
  return rc ? rc : mproc_proxy_call(p, "release", NULL, NULL);
}

static void rate(const char *workload, mproc_proxy *p, op_fn f) {
  double t0 = now(), t;
  int64_t n = 0;
  do {
    int k;
    for (k = 0; k < 256; k++)
      OK(f(p, n++));
  } while ((t = now() - t0) < g_secs);
  printf("RESULT %s mproc %.0f ops/s\n", workload, (double)n / t);
  fflush(stdout);
}

static int soak_child(mproc_value *args) {
  mproc_manager *m = NULL;
  mproc_proxy *l = NULL, *d = NULL;
  OK(mproc_manager_connect(&m, mproc_value_str(mproc_list_get(args, 0)), NULL,
                           0));
  OK(mproc_manager_list(m, NULL, &l));
  OK(mproc_manager_dict(m, NULL, &d));
  OK(mproc_proxy_call(l, "append", mproc_build("[i]", 1), NULL));
  return 0; /* exits holding both */
}

#ifndef _WIN32
static void raw_rtt(void) {
  int sv[2];
  pid_t pid;
  char buf[16] = {0};
  double t0, t;
  long n = 0;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    exit(1);
  pid = fork();
  if (pid == 0) { /* echo */
    close(sv[0]);
    while (read(sv[1], buf, sizeof buf) == (ssize_t)sizeof buf)
      if (write(sv[1], buf, sizeof buf) != (ssize_t)sizeof buf)
        break;
    _exit(0);
  }
  close(sv[1]);
  t0 = now();
  do {
    int k;
    for (k = 0; k < 256; k++, n++)
      if (write(sv[0], buf, sizeof buf) != (ssize_t)sizeof buf ||
          read(sv[0], buf, sizeof buf) != (ssize_t)sizeof buf)
        exit(1);
  } while ((t = now() - t0) < g_secs);
  close(sv[0]);
  waitpid(pid, NULL, 0);
  printf("RESULT mgr_rtt raw %.0f ops/s\n", (double)n / t);
}
#endif

int main(int argc, char **argv) {
  mproc_manager *m = NULL;
  mproc_proxy *l = NULL, *d = NULL, *lk = NULL;
  int i, soak = 0, n;
  double t0, best = 1e9;
  OK(mproc_init(argc, argv));
  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--secs"))
      g_secs = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--soak"))
      soak = atoi(argv[i + 1]);
  }
  for (i = 0; i < 10; i++) { /* start: until the server is ready */
    t0 = now();
    OK(mproc_manager_start(&m, NULL));
    if (now() - t0 < best)
      best = now() - t0;
    mproc_manager_free(m);
  }
  printf("RESULT mgr_start mproc %.2f ms\n", best * 1e3);
  OK(mproc_manager_start(&m, NULL));
  OK(mproc_manager_list(m, NULL, &l));
  OK(mproc_manager_dict(m, NULL, &d));
  OK(mproc_manager_lock(m, &lk));
  rate("mgr_list_append", l, op_append);
  mproc_proxy_free(l);
  rate("mgr_dict_set", d, op_dset);
  rate("mgr_dict_get", d, op_dget);
  rate("mgr_lock", lk, op_lock);
#ifndef _WIN32
  raw_rtt();
#endif
  if (soak > 0) {
    t0 = now();
    for (i = 0; i < soak; i++) {
      mproc_process *p = NULL;
      OK(mproc_process_new(&p, soak_child,
                           mproc_build("[s]", mproc_manager_address(m)),
                           NULL));
      OK(mproc_process_start(p));
      OK(mproc_process_join(p, MPROC_FOREVER));
      mproc_process_free(p);
    }
    for (n = -1, i = 0; i < 500 && n != 2; i++) { /* d and lk remain */
      n = mproc_manager_object_count(m);
      if (n != 2)
        mproc_sleep(0.01);
    }
    printf("RESULT mgr_soak mproc %d cycles %.1f s objects_left=%d\n", soak,
           now() - t0, n - 2);
    if (n != 2) {
      fprintf(stderr, "manager_bench: soak left %d objects\n", n - 2);
      return 1;
    }
  }
  mproc_proxy_free(d);
  mproc_proxy_free(lk);
  mproc_manager_free(m);
  return 0;
}
