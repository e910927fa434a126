/*
 * manager_bench.c - the Manager's speed beside a raw local-socket
 * request/response (bench/run.sh --only manager prints it beside Python's
 * Manager, bench/py_manager_bench.py): manager start (until ready),
 * list.append, dict set, dict get (from this process, the server being
 * another), a Lock acquire+release through a proxy, and the soak: N
 * client processes that connect, create objects and exit holding them,
 * after which the server's object count must be back to 0 (it fails
 * otherwise: the only assertion here).
 *
 * Output: "RESULT <workload> <impl> <value> <unit>" lines.
 * Usage: manager_bench [--secs S] [--soak N]
 * The raw baseline (a server process on an AF_UNIX socket) is POSIX only.
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

static double g_secs = 2.0;

/* The server's process (lib/manager/mgr_int.h; the library is static). */
mproc_process *mproc__manager_process(mproc_manager *m);

/* Resident set of process pid in KiB (Linux /proc/<pid>/statm), or -1. */
static long rss_kib(long pid) {
#ifdef __linux__
  char path[64];
  long size = 0, res = -1;
  FILE *f;
  snprintf(path, sizeof path, "/proc/%ld/statm", pid);
  if (!(f = fopen(path, "r")))
    return -1;
  if (fscanf(f, "%ld %ld", &size, &res) != 2)
    res = -1;
  fclose(f);
  return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
#else
  (void)pid;
  return -1;
#endif
}



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

/* The raw baseline's connection (raw_open) as an op. */
#ifndef _WIN32
static int g_raw_fd = -1;
#endif
static int op_raw(mproc_proxy *p, int64_t i) {
#ifndef _WIN32
  char buf[16] = {0};
  (void)p;
  buf[0] = (char)i;
  return write(g_raw_fd, buf, sizeof buf) == (ssize_t)sizeof buf &&
                 read(g_raw_fd, buf, sizeof buf) == (ssize_t)sizeof buf
             ? 0
             : MPROC_EOS;
#else
  (void)p;
  (void)i;
  return MPROC_ENOTSUP;
#endif
}

typedef struct workload {
  const char *name, *impl;
  mproc_proxy *p;
  op_fn f;
  double best;
} workload;

/* Every workload in turn, in ROUNDS short windows each (secs / ROUNDS), the
 * best window kept: on a loaded 2-core machine a round trip's rate swings
 * several-fold with the scheduler, and interleaving gives every workload
 * (the raw baseline included) the same chances. */
#define ROUNDS 10
static void rates(workload *w, int n) {
  int r, k;
  int64_t i = 0;
  for (r = 0; r < ROUNDS; r++)
    for (k = 0; k < n; k++) {
      double t0 = now(), t;
      int64_t i0 = i;
      do {
        int j;
        for (j = 0; j < 64; j++)
          OK(w[k].f(w[k].p, i++));
      } while ((t = now() - t0) < g_secs / ROUNDS);
      if ((double)(i - i0) / t > w[k].best)
        w[k].best = (double)(i - i0) / t;
    }
  for (k = 0; k < n; k++)
    printf("RESULT %s %s %.0f ops/s\n", w[k].name, w[k].impl, w[k].best);
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

/* One soak cycle: a child connects, creates, exits holding its objects. */
static void soak_cycles(mproc_manager *m, int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_process *p = NULL;
    OK(mproc_process_new(&p, soak_child,
                         mproc_build("[s]", mproc_manager_address(m)), NULL));
    OK(mproc_process_start(p));
    OK(mproc_process_join(p, MPROC_FOREVER));
    mproc_process_free(p);
  }
}
#ifndef _WIN32
/* The raw baseline, shaped like the manager's transport: a server process
 * listening on an AF_UNIX stream socket, a client that connects and does a
 * small request/response (16 bytes each way) over it, blocking read/write.
 * Sets g_raw_fd; raw_close ends the server. */
static pid_t g_raw_pid;
static char g_raw_dir[] = "/tmp/mproc-rawXXXXXX";
static void raw_open(void) {
  struct sockaddr_un sa;
  char buf[16];
  int lfd;
  if (!mkdtemp(g_raw_dir))
    exit(1);
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s", g_raw_dir);
  lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      listen(lfd, 8) != 0)
    exit(1);
  g_raw_pid = fork();
  if (g_raw_pid == 0) { /* the server: accept one client, answer each */
    int c = accept(lfd, NULL, NULL);
    while (c >= 0 && read(c, buf, sizeof buf) == (ssize_t)sizeof buf)
      if (write(c, buf, sizeof buf) != (ssize_t)sizeof buf)
        break;
    _exit(0);
  }
  close(lfd);
  g_raw_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (g_raw_fd < 0 ||
      connect(g_raw_fd, (struct sockaddr *)&sa, sizeof sa) != 0)
    exit(1);
  unlink(sa.sun_path);
  rmdir(g_raw_dir);
}
static void raw_close(void) {
  close(g_raw_fd);
  waitpid(g_raw_pid, NULL, 0);
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
  {
    workload w[] = {{"mgr_rtt", "raw", NULL, op_raw, 0},
                    {"mgr_list_append", "mproc", NULL, op_append, 0},
                    {"mgr_dict_set", "mproc", NULL, op_dset, 0},
                    {"mgr_dict_get", "mproc", NULL, op_dget, 0},
                    {"mgr_lock", "mproc", NULL, op_lock, 0}};
    w[1].p = l;
    w[2].p = d;
    w[3].p = d;
    w[4].p = lk;
#ifndef _WIN32
    raw_open();
    rates(w, 5);
    raw_close();
#else
    rates(w + 1, 4);
#endif
  }
  mproc_proxy_free(l);
  if (soak > 0) {
    /* Warm up (first connections grow the server's heap and thread
     * stacks once), then RSS before / after the soak proper. */
    long pid = mproc_process_pid(mproc__manager_process(m)), rss0, rss1;
    int warm = soak / 10 < 200 ? soak / 10 : 200;
    soak_cycles(m, warm);
    rss0 = rss_kib(pid);
    t0 = now();
    soak_cycles(m, soak);
    for (n = -1, i = 0; i < 500 && n != 2; i++) { /* d and lk remain */
      n = mproc_manager_object_count(m);
      if (n != 2)
        mproc_sleep(0.01);
    }
    rss1 = rss_kib(pid);
    printf("RESULT mgr_soak mproc %d cycles %.1f s objects_left=%d "
           "server_rss_kib %ld -> %ld\n",
           soak, now() - t0, n - 2, rss0, rss1);
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
