/*
 * posix/misc.c - pid, CPUs, clock, sleep, randomness, environment, and
 * the test helper that lists open fds.  Sleep runs to a deadline, so a
 * storm of signals cannot stretch it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "mproc_int.h"

int mproc__plat_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}

double mproc__plat_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The longest single sleep (about 11.6 days); longer ones, +inf included,
 * are slept in steps of it, so no huge value reaches a time_t. */
#define SLEEP_STEP 1e6

/*
 * Sleep to a deadline on the monotonic clock (clock_nanosleep with
 * TIMER_ABSTIME): a signal handler that interrupts the sleep costs only
 * its own time, never a restart of the whole interval.  NaN, 0 and
 * negative values return at once; +inf sleeps for ever.
 */
void mproc__plat_sleep(double seconds) {
  while (seconds > 0) { /* false for NaN */
    double step = seconds > SLEEP_STEP ? SLEEP_STEP : seconds;
    struct timespec until;
    long ns;
    int r;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)step;
    ns = until.tv_nsec + (long)((step - (double)(time_t)step) * 1e9);
    if (ns >= 1000000000L) {
      ns -= 1000000000L;
      until.tv_sec++;
    }
    until.tv_nsec = ns;
    do
      r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
    while (r == EINTR);
    seconds -= step; /* +inf stays +inf */
  }
}

int mproc__plat_random(void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return mproc__err_os(MPROC_EOS, errno, "getrandom");
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

void mproc__plat_precise_sleeps(void) {
#ifdef __linux__
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

void mproc__plat_lower_priority(void) {
  int cur;
  errno = 0;
  cur = getpriority(PRIO_PROCESS, 0); /* Linux: this thread */
  if (errno == 0)
    setpriority(PRIO_PROCESS, 0, cur + 5);
}

int mproc__plat_setenv(const char *name, const char *value) {
  int r = value ? setenv(name, value, 1) : unsetenv(name);
  if (r != 0)
    return mproc__err_os(MPROC_EOS, errno, "setenv(%s)", name);
  return 0;
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

int mproc__plat_list_handles(long *out, size_t cap) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  size_t count = 0;
  if (!d)
    return mproc__err_os(MPROC_EOS, errno, "opendir(/proc/self/fd)");
  while ((e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (e->d_name[0] == '.' || *end != '\0' || fd == dirfd(d))
      continue;
    if (count < cap)
      out[count] = fd;
    count++;
  }
  closedir(d);
  qsort(out, count < cap ? count : cap, sizeof *out, cmp_long);
  return (int)count;
}

/* ---- pool workers ------------------------------------------------------- */

int mproc__plat_ignore_interrupt(void) {
  struct sigaction sa;
  sigset_t set;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) != 0)
    return mproc__err_os(MPROC_EOS, errno, "sigaction(SIGINT)");
  /* Ignored now (a pending one was dropped): it may be unblocked. */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  return 0;
}

int mproc__plat_memory_limit(size_t bytes, int exit_code) {
  struct rlimit rl;
  (void)exit_code; /* RLIMIT_AS is enforced: nothing watches */
  rl.rlim_cur = (rlim_t)bytes;
  rl.rlim_max = RLIM_INFINITY;
  if (getrlimit(RLIMIT_AS, &rl) == 0) {
    rl.rlim_cur = (rlim_t)bytes;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
      rl.rlim_cur = rl.rlim_max;
  }
  if (setrlimit(RLIMIT_AS, &rl) != 0)
    return mproc__err_os(MPROC_EOS, errno, "setrlimit(RLIMIT_AS)");
  return 0;
}

int mproc__plat_atexit(void (*fn)(void)) {
  return atexit(fn) == 0 ? 0 : mproc__err(MPROC_ENOMEM, "atexit");
}
