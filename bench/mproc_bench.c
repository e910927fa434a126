/*
 * mproc_bench.c - the C side of bench/run.sh: mproc and the raw OS
 * primitive on the same workloads, one line per measurement:
 *
 *   RESULT <workload> <impl> <median> <unit> n=<samples> min=<..> max=<..>
 *
 * Workloads (bench/py_bench.py measures Python's on the same names):
 *   spawn_join    start + join of a process whose target returns at once
 *                 (us per process).  Raw: posix_spawn + waitpid of this
 *                 binary in a mode that exits before mproc_init
 *                 (raw_self), of it exiting right after mproc_init
 *                 (raw_self_init), and of bench_tiny (raw_tiny).
 *   rtt_value     send(['spam', 42, 'egg']) -> child echoes -> recv (us).
 *   rtt_bytes8    send_bytes(8 bytes) -> echo -> recv_bytes (us).
 *                 Raw for both: 8-byte write/read ping-pong over a
 *                 socketpair with a forked child.
 *   bw_into       a child sends 1 MiB messages with send_bytes; the parent
 *                 receives with recv_bytes_into into one reused buffer
 *                 (MiB/s).  Raw: the child write()s 1 MiB chunks over a
 *                 socketpair, the parent read()s them into one buffer.
 *   bw_alloc      the same with recv_bytes (a new buffer per message).
 *
 * Medians: spawn_join over single processes; the others over batches
 * (the mean of each batch is one sample), after warm-up.  The
 * implementations of a workload run side by side, one sample each per
 * round, so that drift in the machine's speed touches them alike.
 *
 * Options:
 *   --secs S      time per (workload, impl) measurement (default 2)
 *   --only LIST   workloads or groups: spawn, rtt (rtt_value, rtt_bytes8),
 *                 bw (bw_into, bw_alloc); default spawn,rtt,bw
 *   --impl LIST   mproc,raw (default both)
 *   --tiny PATH   the tiny binary (default: bench_tiny beside this one)
 * Internal modes: --exit-now (return before mproc_init), --init-exit.
 *
 * The mproc side uses only the public API.  The raw baselines are POSIX
 * and are compiled only there; elsewhere the mproc side still builds.
 */
#if !defined(_WIN32)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define BENCH_RAW 1
#else
#define BENCH_RAW 0
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

#if BENCH_RAW
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#else
#include <windows.h>
#endif

#define MSG_SIZE ((size_t)1 << 20) /* bandwidth message: 1 MiB */
#define BW_BATCH 64u               /* messages per bandwidth sample */
#define RTT_BATCH 1000             /* round trips per latency sample */

static double g_secs = 2.0;
static const char *g_only = "spawn,rtt,bw";
static int g_mproc = 1, g_raw = 1;
static const char *g_tiny = NULL;

/* Is workload (or its group) named in the --only list? */
static int wanted(const char *workload, const char *group) {
  const char *p = g_only;
  while (*p) {
    size_t n = strcspn(p, ",");
    if ((n == strlen(workload) && strncmp(p, workload, n) == 0) ||
        (n == strlen(group) && strncmp(p, group, n) == 0))
      return 1;
    p += n;
    if (*p == ',')
      p++;
  }
  return 0;
}

/* ---- timing and statistics ------------------------------------------------ */

static double now(void) {
#if BENCH_RAW
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#else
  LARGE_INTEGER f, c;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  return (double)c.QuadPart / (double)f.QuadPart;
#endif
}

typedef struct samples {
  double *v;
  size_t n, cap;
} samples;

static void add(samples *s, double x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    double *v = realloc(s->v, cap * sizeof *v);
    if (!v) {
      fputs("mproc_bench: out of memory\n", stderr);
      exit(1);
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Print the RESULT line and release the samples. */
static void report(const char *workload, const char *impl, samples *s,
                   const char *unit) {
  double med;
  if (s->n == 0) {
    printf("RESULT %s %s nan %s n=0\n", workload, impl, unit);
  } else {
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    med = s->n % 2 ? s->v[s->n / 2]
                   : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
    printf("RESULT %s %s %.3f %s n=%zu min=%.3f max=%.3f\n", workload, impl,
           med, unit, s->n, s->v[0], s->v[s->n - 1]);
  }
  fflush(stdout);
  free(s->v);
  memset(s, 0, sizeof *s);
}

static void die(const char *what, int rc) {
  fprintf(stderr, "mproc_bench: %s: %s (%s)\n", what, mproc_errname(rc),
          mproc_last_error());
  exit(1);
}

#define CHECK(call)                                                          \
  do {                                                                       \
    int rc_ = (call);                                                        \
    if (rc_ < 0)                                                             \
      die(#call, rc_);                                                       \
  } while (0)

/* ---- the children's targets ----------------------------------------------- */

static int t_empty(mproc_value *args) {
  (void)args;
  return 0;
}

static mproc_conn *arg_conn(mproc_value *args) {
  mproc_conn *c = NULL;
  if (mproc_value_get_conn(mproc_list_get(args, 0), &c) != 0)
    return NULL;
  return c;
}

/* Echo values until the parent closes its end. */
static int t_echo_value(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  mproc_value *v;
  if (!c)
    return 2;
  while (mproc_conn_recv(c, &v) == 0) {
    int rc = mproc_conn_send(c, v);
    mproc_value_free(v);
    if (rc)
      return 3;
  }
  return 0;
}

/* Echo byte messages until the parent closes its end. */
static int t_echo_bytes(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  unsigned char buf[4096];
  size_t n;
  if (!c)
    return 2;
  while (mproc_conn_recv_bytes_into(c, buf, sizeof buf, &n) == 0)
    if (mproc_conn_send_bytes(c, buf, n) != 0)
      return 3;
  return 0;
}

/* For each 4-byte count received, send that many 1 MiB messages. */
static int t_bw_sender(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  unsigned char cmd[8];
  unsigned char *buf = malloc(MSG_SIZE);
  size_t n;
  if (!c || !buf)
    return 2;
  memset(buf, 'x', MSG_SIZE);
  while (mproc_conn_recv_bytes_into(c, cmd, sizeof cmd, &n) == 0 && n == 4) {
    uint32_t count, i;
    memcpy(&count, cmd, 4);
    for (i = 0; i < count; i++)
      if (mproc_conn_send_bytes(c, buf, MSG_SIZE) != 0) {
        free(buf);
        return 3;
      }
  }
  free(buf);
  return 0;
}

/* ---- contestants, measured round-robin ------------------------------------ */

/*
 * Every implementation of one workload is set up first, then sampled in
 * rounds, one sample of each per round (the order rotating), so drift in
 * the machine's speed touches them all alike.
 */
typedef struct contestant contestant;
struct contestant {
  const char *workload, *impl, *unit;
  double (*sample)(contestant *);
  samples s;
  /* mproc */
  mproc_conn *conn;
  mproc_process *proc;
  mproc_value *msg;
  int into;
  /* raw */
  int fd;
  long pid;
  const char *path, *mode;
  unsigned char *buf;
};

static void round_robin(contestant *c, size_t n, size_t warm, size_t min,
                        size_t max) {
  size_t round, k;
  double t0;
  for (round = 0; round < warm; round++)
    for (k = 0; k < n; k++)
      c[k].sample(&c[k]);
  t0 = now();
  for (round = 0; round < min || (round < max && now() - t0 < g_secs * n);
       round++)
    for (k = 0; k < n; k++) {
      contestant *x = &c[(round + k) % n];
      add(&x->s, x->sample(x));
    }
  for (k = 0; k < n; k++)
    report(c[k].workload, c[k].impl, &c[k].s, c[k].unit);
}

/* ---- mproc side ------------------------------------------------------------ */

/* The parts of an mproc spawn_join sample: new+start, and join+free. */
static samples g_start_part, g_join_part;

static double mproc_spawn_sample(contestant *c) {
  mproc_process *p;
  double a = now(), b, e;
  (void)c;
  CHECK(mproc_process_new(&p, t_empty, NULL, NULL));
  CHECK(mproc_process_start(p));
  b = now();
  CHECK(mproc_process_join(p, MPROC_FOREVER));
  mproc_process_free(p);
  e = now();
  add(&g_start_part, (b - a) * 1e6);
  add(&g_join_part, (e - b) * 1e6);
  return (e - a) * 1e6;
}

/* Start target with the child's end of a new duplex pipe; keep ours. */
static void mproc_setup(contestant *c, mproc_target target) {
  mproc_conn *b;
  CHECK(mproc_pipe(&c->conn, &b, 1));
  CHECK(mproc_process_new(&c->proc, target, mproc_build("[C]", b), NULL));
  CHECK(mproc_process_start(c->proc));
  mproc_conn_free(b); /* the child has its own copy now */
}

static void mproc_teardown(contestant *c) {
  int code = -1;
  mproc_conn_free(c->conn); /* EOF: the child's loop ends */
  CHECK(mproc_process_join(c->proc, MPROC_FOREVER));
  CHECK(mproc_process_exitcode(c->proc, &code));
  if (code != 0) {
    fprintf(stderr, "mproc_bench: child exited with %d\n", code);
    exit(1);
  }
  mproc_process_free(c->proc);
  mproc_value_free(c->msg);
  free(c->buf);
}

static double mproc_rtt_value_sample(contestant *c) {
  double a = now();
  int i;
  for (i = 0; i < RTT_BATCH; i++) {
    mproc_value *back;
    CHECK(mproc_conn_send(c->conn, c->msg));
    CHECK(mproc_conn_recv(c->conn, &back));
    mproc_value_free(back);
  }
  return (now() - a) * 1e6 / RTT_BATCH;
}

static double mproc_rtt_bytes_sample(contestant *c) {
  unsigned char out[8] = {1, 2, 3, 4, 5, 6, 7, 8}, in[8];
  double a = now();
  int i;
  for (i = 0; i < RTT_BATCH; i++) {
    size_t n;
    CHECK(mproc_conn_send_bytes(c->conn, out, sizeof out));
    CHECK(mproc_conn_recv_bytes_into(c->conn, in, sizeof in, &n));
  }
  return (now() - a) * 1e6 / RTT_BATCH;
}

static double mproc_bw_sample(contestant *c) {
  uint32_t count = BW_BATCH, i;
  double a = now();
  CHECK(mproc_conn_send_bytes(c->conn, &count, 4));
  for (i = 0; i < count; i++) {
    size_t n;
    if (c->into) {
      CHECK(mproc_conn_recv_bytes_into(c->conn, c->buf, MSG_SIZE, &n));
    } else {
      void *m;
      CHECK(mproc_conn_recv_bytes(c->conn, &m, &n));
      mproc_free(m);
    }
    if (n != MSG_SIZE) {
      fputs("mproc_bench: short message\n", stderr);
      exit(1);
    }
  }
  return (double)count * (double)MSG_SIZE / (1 << 20) / (now() - a);
}

/* ---- raw side (POSIX) -------------------------------------------------------- */

#if BENCH_RAW
static void self_path(char *buf, size_t cap) {
  ssize_t r = readlink("/proc/self/exe", buf, cap - 1);
  if (r < 0 || (size_t)r >= cap - 1) {
    perror("readlink(/proc/self/exe)");
    exit(1);
  }
  buf[r] = '\0';
}

static double raw_spawn_sample(contestant *c) {
  char *argv[3];
  pid_t pid;
  int st = 0, rc;
  double a = now(), b;
  argv[0] = (char *)c->path;
  argv[1] = (char *)c->mode;
  argv[2] = NULL;
  rc = posix_spawn(&pid, c->path, NULL, NULL, argv, environ);
  if (rc != 0) {
    fprintf(stderr, "posix_spawn(%s): %s\n", c->path, strerror(rc));
    exit(1);
  }
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  b = now();
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "mproc_bench: %s child failed (status %d)\n", c->impl,
            st);
    exit(1);
  }
  return (b - a) * 1e6;
}

static void rd(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 0)
        fputs("mproc_bench: the raw child has gone\n", stderr);
      else
        perror("read");
      exit(1);
    }
    p += r;
    n -= (size_t)r;
  }
}

/* 0 on EOF (or error), 1 when n bytes were read. */
static int rd_or_eof(int fd, void *buf, size_t n) {
  char *p = buf;
  size_t left = n;
  while (left > 0) {
    ssize_t r = read(fd, p, left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return 0;
    p += r;
    left -= (size_t)r;
  }
  return 1;
}

static void wr(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      perror("write");
      exit(1);
    }
    p += r;
    n -= (size_t)r;
  }
}

/* A forked child running fn on its end of a socketpair; keep ours. */
static void raw_setup(contestant *c, void (*fn)(int)) {
  int sv[2];
  pid_t pid;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    perror("socketpair");
    exit(1);
  }
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid == 0) {
    close(sv[0]);
    fn(sv[1]);
    _exit(0); /* never exit(): mproc's atexit handler is the parent's */
  }
  close(sv[1]);
  c->fd = sv[0];
  c->pid = (long)pid;
}

static void raw_teardown(contestant *c) {
  int st = 0;
  close(c->fd);
  while (waitpid((pid_t)c->pid, &st, 0) < 0 && errno == EINTR)
    ;
  free(c->buf);
}

static void echo8(int fd) {
  char b[8];
  while (rd_or_eof(fd, b, 8))
    wr(fd, b, 8);
}

static double raw_rtt_sample(contestant *c) {
  char out[8] = {1, 2, 3, 4, 5, 6, 7, 8}, in[8];
  double a = now();
  int i;
  for (i = 0; i < RTT_BATCH; i++) {
    wr(c->fd, out, 8);
    rd(c->fd, in, 8);
  }
  return (now() - a) * 1e6 / RTT_BATCH;
}

static void bw_writer(int fd) {
  char *buf = malloc(MSG_SIZE);
  uint32_t count, i;
  if (!buf)
    _exit(2);
  memset(buf, 'x', MSG_SIZE);
  while (rd_or_eof(fd, &count, 4))
    for (i = 0; i < count; i++)
      wr(fd, buf, MSG_SIZE);
  free(buf);
}

static double raw_bw_sample(contestant *c) {
  uint32_t count = BW_BATCH, i;
  double a = now();
  wr(c->fd, &count, 4);
  for (i = 0; i < count; i++)
    rd(c->fd, c->buf, MSG_SIZE);
  return (double)count * (double)MSG_SIZE / (1 << 20) / (now() - a);
}

static void default_tiny(char *buf, size_t cap) {
  char *slash;
  self_path(buf, cap);
  slash = strrchr(buf, '/');
  if (!slash || (size_t)(slash - buf) + sizeof "/bench_tiny" > cap) {
    fputs("mproc_bench: cannot find bench_tiny; use --tiny\n", stderr);
    exit(1);
  }
  strcpy(slash, "/bench_tiny");
}
#endif /* BENCH_RAW */

/* ---- the workloads ------------------------------------------------------------ */

static unsigned char *msg_buffer(void) {
  unsigned char *b = malloc(MSG_SIZE);
  if (!b)
    die("malloc", MPROC_ENOMEM);
  memset(b, 0, MSG_SIZE); /* fault the pages in before timing */
  return b;
}

static void bench_spawn(void) {
  contestant c[4];
  size_t n = 0;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  static char self[PATH_MAX], tiny[PATH_MAX];
  self_path(self, sizeof self);
  if (!g_tiny) {
    default_tiny(tiny, sizeof tiny);
    g_tiny = tiny;
  }
  if (g_raw) {
    c[n].impl = "raw_tiny";
    c[n].path = g_tiny;
    c[n++].sample = raw_spawn_sample;
    c[n].impl = "raw_self";
    c[n].path = self;
    c[n].mode = "--exit-now";
    c[n++].sample = raw_spawn_sample;
    c[n].impl = "raw_self_init";
    c[n].path = self;
    c[n].mode = "--init-exit";
    c[n++].sample = raw_spawn_sample;
  }
#endif
  if (g_mproc) {
    c[n].impl = "mproc";
    c[n++].sample = mproc_spawn_sample;
  }
  {
    size_t k;
    for (k = 0; k < n; k++) {
      c[k].workload = "spawn_join";
      c[k].unit = "us";
    }
  }
  round_robin(c, n, 3, 10, 5000);
  if (g_mproc) {
    /* Where an mproc sample's time goes (warm-up samples included). */
    report("spawn_join", "mproc.start", &g_start_part, "us");
    report("spawn_join", "mproc.join", &g_join_part, "us");
  }
}

static void bench_rtt(void) {
  contestant c[3];
  size_t n = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    c[n].workload = "rtt";
    c[n].impl = "raw";
    raw_setup(&c[n], echo8);
    c[n++].sample = raw_rtt_sample;
  }
#endif
  if (g_mproc && wanted("rtt_value", "rtt")) {
    c[n].workload = "rtt_value";
    c[n].impl = "mproc";
    mproc_setup(&c[n], t_echo_value);
    c[n].msg = mproc_build("[sis]", "spam", 42, "egg");
    if (!c[n].msg)
      die("mproc_build", MPROC_ENOMEM);
    c[n++].sample = mproc_rtt_value_sample;
  }
  if (g_mproc && wanted("rtt_bytes8", "rtt")) {
    c[n].workload = "rtt_bytes8";
    c[n].impl = "mproc";
    mproc_setup(&c[n], t_echo_bytes);
    c[n++].sample = mproc_rtt_bytes_sample;
  }
  for (k = 0; k < n; k++)
    c[k].unit = "us";
  round_robin(c, n, 1, 5, 100000);
  for (k = 0; k < n; k++) {
    if (c[k].msg) {
      /* The echo must be the same value. */
      mproc_value *back;
      CHECK(mproc_conn_send(c[k].conn, c[k].msg));
      CHECK(mproc_conn_recv(c[k].conn, &back));
      if (!mproc_value_equal(c[k].msg, back)) {
        fputs("mproc_bench: echo differs\n", stderr);
        exit(1);
      }
      mproc_value_free(back);
    }
#if BENCH_RAW
    if (c[k].sample == raw_rtt_sample) {
      raw_teardown(&c[k]);
      continue;
    }
#endif
    mproc_teardown(&c[k]);
  }
}

static void bench_bw(void) {
  contestant c[3];
  size_t n = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    c[n].workload = "bw";
    c[n].impl = "raw";
    raw_setup(&c[n], bw_writer);
    c[n].buf = msg_buffer();
    c[n++].sample = raw_bw_sample;
  }
#endif
  for (k = 0; g_mproc && k < 2; k++) {
    if (wanted(k == 0 ? "bw_into" : "bw_alloc", "bw")) {
      c[n].workload = k == 0 ? "bw_into" : "bw_alloc";
      c[n].impl = "mproc";
      c[n].into = k == 0;
      mproc_setup(&c[n], t_bw_sender);
      c[n].buf = msg_buffer();
      c[n++].sample = mproc_bw_sample;
    }
  }
  for (k = 0; k < n; k++)
    c[k].unit = "MiB/s";
  round_robin(c, n, 1, 5, 100000);
  for (k = 0; k < n; k++) {
#if BENCH_RAW
    if (c[k].sample == raw_bw_sample) {
      raw_teardown(&c[k]);
      continue;
    }
#endif
    mproc_teardown(&c[k]);
  }
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
  fputs("usage: mproc_bench [--secs S] [--only spawn,rtt,bw,...] "
        "[--impl mproc,raw] [--tiny PATH]\n",
        stderr);
  exit(2);
}

int main(int argc, char **argv) {
  int i, rc;
  /* The raw spawn baseline's modes: exec + dynamic loading only, and that
   * plus mproc's runtime set-up (no protocol). */
  if (argc == 2 && strcmp(argv[1], "--exit-now") == 0)
    return 0;
  rc = mproc_init(argc, argv);
  if (rc)
    die("mproc_init", rc);
  if (argc == 2 && strcmp(argv[1], "--init-exit") == 0)
    return 0;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--secs") == 0 && v) {
      g_secs = atof(v);
      i++;
    } else if (strcmp(a, "--only") == 0 && v) {
      g_only = v;
      i++;
    } else if (strcmp(a, "--impl") == 0 && v) {
      g_mproc = strstr(v, "mproc") != NULL;
      g_raw = strstr(v, "raw") != NULL;
      i++;
    } else if (strcmp(a, "--tiny") == 0 && v) {
      g_tiny = v;
      i++;
    } else {
      usage();
    }
  }
  if (g_secs <= 0)
    usage();

  printf("INFO cpus %d\n", mproc_cpu_count());
#if !BENCH_RAW
  (void)g_tiny;
  if (g_raw)
    puts("INFO raw baselines are POSIX-only");
#endif
  if (wanted("spawn_join", "spawn"))
    bench_spawn();
  if (wanted("rtt_value", "rtt") || wanted("rtt_bytes8", "rtt"))
    bench_rtt();
  if (wanted("bw_into", "bw") || wanted("bw_alloc", "bw"))
    bench_bw();
  return 0;
}
