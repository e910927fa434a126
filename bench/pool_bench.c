/*
 * pool_bench.c - the Pool's figures (docs/bench.md "Pool"), beside a raw
 * pool of 2 forked workers on socketpairs (the floor: no codec, no
 * handler thread, ints in native form).  Prints RESULT lines as
 * mproc_bench does; bench/run.sh makes the table with Python's.
 *
 *   pool_start      Pool(2) creation to the first apply result (ms)
 *   pool_map_first  the first map of 100 000 x*x (chunksize 1000) on
 *                   that new pool (M tasks/s): the cold figure
 *   pool_map_1000   map of 100 000 x*x, chunksize 1000 (M tasks/s)
 *   pool_map_def    the same with Python's default chunksize (M tasks/s)
 *                   (both: MAP_WARM maps untimed, then the median of
 *                   MAP_REPS, on every side alike)
 *   pool_async      10 000 apply_async, then get all (k tasks/s)
 *   pool_apply_rtt  one apply round trip (us)
 *
 * Linux only (fork for the raw pool); timings, never assertions.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "result.h"

#define N_MAP 100000
/* Maps before the timed ones, and the timed ones.  On a new pool the
 * first two maps pay page faults for the memory of their results and
 * buffers (about 1500 for 100 000 ints), and the next ~10 run 10-30 %
 * slower while the scheduler settles the handler and the 2 workers on
 * the cores (measured: 300 maps in a row, each timed); pool_map_first
 * shows the cold cost. */
#define MAP_WARM 20
#define MAP_REPS 11
#define N_ASYNC 10000

static double now(void) { return mproc_monotonic(); }

static int t_square(const mproc_value *arg, mproc_value **result) {
  int64_t x = 0;
  mproc_value_get_int(arg, &x);
  *result = mproc_int(x * x);
  return 0;
}

static void die(const char *what) {
  fprintf(stderr, "pool_bench: %s: %s\n", what, mproc_last_error());
  exit(1);
}

static void bench_mproc(int reps) {
  double v[64], vf[64];
  int r;
  mproc_value *list = mproc_list(), *one = mproc_int(3), *res;
  mproc_pool_opts o = MPROC_POOL_OPTS_INIT;
  mproc_pool *p;
  int64_t i;
  o.processes = 2;
  for (i = 0; i < N_MAP; i++)
    mproc_list_append(list, mproc_int(i));
  for (r = 0; r < reps; r++) {
    double t0 = now();
    if (mproc_pool_new(&p, &o) || mproc_pool_apply(p, t_square, one, &res))
      die("start");
    v[r] = (now() - t0) * 1e3;
    mproc_value_free(res);
    t0 = now();
    if (mproc_pool_map(p, t_square, list, 1000, &res))
      die("map");
    vf[r] = N_MAP / (now() - t0) / 1e6;
    mproc_value_free(res);
    mproc_pool_free(p);
  }
  bench_result("pool_start", "mproc", v, reps, "ms");
  bench_result("pool_map_first", "mproc", vf, reps, "Mtasks/s");
  if (mproc_pool_new(&p, &o))
    die("pool");
  for (r = -MAP_WARM; r < MAP_REPS; r++) {
    double t0 = now();
    if (mproc_pool_map(p, t_square, list, 1000, &res))
      die("map");
    if (r >= 0)
      v[r] = N_MAP / (now() - t0) / 1e6;
    mproc_value_free(res);
  }
  bench_result("pool_map_1000", "mproc", v, MAP_REPS, "Mtasks/s");
  for (r = -MAP_WARM; r < MAP_REPS; r++) {
    double t0 = now();
    if (mproc_pool_map(p, t_square, list, 0, &res))
      die("map");
    if (r >= 0)
      v[r] = N_MAP / (now() - t0) / 1e6;
    mproc_value_free(res);
  }
  bench_result("pool_map_def", "mproc", v, MAP_REPS, "Mtasks/s");
  for (r = 0; r < reps; r++) {
    static mproc_async *as[N_ASYNC];
    double t0 = now();
    int k;
    for (k = 0; k < N_ASYNC; k++)
      if (mproc_pool_apply_async(p, t_square, one, NULL, &as[k]))
        die("apply_async");
    for (k = 0; k < N_ASYNC; k++) {
      if (mproc_async_get(as[k], MPROC_FOREVER, NULL))
        die("get");
      mproc_async_free(as[k]);
    }
    v[r] = N_ASYNC / (now() - t0) / 1e3;
  }
  bench_result("pool_async", "mproc", v, reps, "ktasks/s");
  {
    static double rt[2000];
    int k;
    for (k = 0; k < 2000; k++) {
      double t0 = now();
      if (mproc_pool_apply(p, t_square, one, &res))
        die("apply");
      rt[k] = (now() - t0) * 1e6;
      mproc_value_free(res);
    }
    bench_result("pool_apply_rtt", "mproc", rt, 2000, "us");
  }
  mproc_pool_free(p);
  mproc_value_free(list);
  mproc_value_free(one);
}

/* ---- the raw pool: 2 forked workers, a socketpair each ------------------ */

static void wr(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = write(fd, c, n);
    if (k <= 0)
      exit(2);
    c += k;
    n -= (size_t)k;
  }
}
static int rdall(int fd, void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t k = read(fd, c, n);
    if (k <= 0)
      return -1;
    c += k;
    n -= (size_t)k;
  }
  return 0;
}

static void raw_worker(int fd) {
  static int64_t buf[1000];
  uint32_t n;
  while (rdall(fd, &n, 4) == 0) {
    uint32_t i;
    if (n > 1000 || rdall(fd, buf, n * 8u))
      break;
    for (i = 0; i < n; i++)
      buf[i] *= buf[i];
    wr(fd, &n, 4);
    wr(fd, buf, n * 8u);
  }
  _exit(0);
}

typedef struct rawpool {
  int fd[2];
  pid_t pid[2];
} rawpool;

static void raw_start(rawpool *rp) {
  int i;
  for (i = 0; i < 2; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
      exit(2);
    rp->pid[i] = fork();
    if (rp->pid[i] == 0) {
      int k;
      for (k = 0; k < i; k++)
        close(rp->fd[k]); /* the other worker's parent end */
      close(sv[0]);
      raw_worker(sv[1]);
    }
    close(sv[1]);
    rp->fd[i] = sv[0];
  }
}

static void raw_stop(rawpool *rp) {
  int i;
  for (i = 0; i < 2; i++) {
    close(rp->fd[i]);
    waitpid(rp->pid[i], NULL, 0);
  }
}

static void raw_send(int fd, const int64_t *x, uint32_t n) {
  wr(fd, &n, 4);
  wr(fd, x, n * 8u);
}
static void raw_recv(int fd, int64_t *out) {
  uint32_t n;
  if (rdall(fd, &n, 4) || rdall(fd, out, n * 8u))
    exit(2);
}

/* One map of N_MAP on the raw pool: chunks of 1000, two in flight per
 * worker; M tasks/s. */
static double raw_map(rawpool *rp, const int64_t *in, int64_t *out) {
  double t0 = now();
  int sent = 0, got = 0, inflight[2] = {0, 0}, w;
  int qhead[2][2], qn[2] = {0, 0};
  while (got < N_MAP / 1000) {
    for (w = 0; w < 2; w++)
      while (inflight[w] < 2 && sent < N_MAP / 1000) {
        raw_send(rp->fd[w], in + sent * 1000, 1000);
        qhead[w][(qn[w]++) % 2] = sent++;
        inflight[w]++;
      }
    for (w = 0; w < 2; w++)
      if (inflight[w]) {
        int c = qhead[w][(qn[w] - inflight[w]) % 2];
        raw_recv(rp->fd[w], out + c * 1000);
        inflight[w]--;
        got++;
      }
  }
  return N_MAP / (now() - t0) / 1e6;
}

static void bench_raw(int reps) {
  static int64_t in[N_MAP], out[N_MAP];
  double v[64], vf[64];
  int r, i;
  rawpool rp;
  for (i = 0; i < N_MAP; i++)
    in[i] = i;
  for (r = 0; r < reps; r++) {
    double t0 = now();
    int64_t x = 3, y;
    raw_start(&rp);
    raw_send(rp.fd[0], &x, 1);
    raw_recv(rp.fd[0], &y);
    v[r] = (now() - t0) * 1e3;
    vf[r] = raw_map(&rp, in, out);
    raw_stop(&rp);
  }
  bench_result("pool_start", "raw", v, reps, "ms (fork)");
  bench_result("pool_map_first", "raw", vf, reps, "Mtasks/s");
  raw_start(&rp);
  for (r = -MAP_WARM; r < MAP_REPS; r++) {
    double x = raw_map(&rp, in, out);
    if (r >= 0)
      v[r] = x;
  }
  bench_result("pool_map_1000", "raw", v, MAP_REPS, "Mtasks/s");
  {
    static double rt[2000];
    int k;
    for (k = 0; k < 2000; k++) {
      double t0 = now();
      int64_t x = 3, y;
      raw_send(rp.fd[0], &x, 1);
      raw_recv(rp.fd[0], &y);
      rt[k] = (now() - t0) * 1e6;
    }
    bench_result("pool_apply_rtt", "raw", rt, 2000, "us");
  }
  raw_stop(&rp);
}

int main(int argc, char **argv) {
  int reps = 5;
  if (mproc_init(argc, argv))
    die("init");
  if (argc > 2 && strcmp(argv[1], "--reps") == 0)
    reps = atoi(argv[2]);
  if (reps < 1 || reps > 64)
    reps = 5;
  bench_mproc(reps);
  bench_raw(reps);
  return 0;
}
