/*
 * posix/sync.c - sleeping on a word of shared memory, and who is alive.
 *
 * Map: park_new / park_needed (Linux needs no parking object: the futex
 * is the word itself), word_wait / word_wake (FUTEX_WAIT / FUTEX_WAKE on a
 * shared mapping, so not FUTEX_PRIVATE_FLAG), proc_identity (pid + the
 * start time from /proc/self/stat), proc_alive (kill(pid, 0), then the
 * start time again: a reused pid is another process), thread_id (gettid),
 * tracker_detach (setsid + ignored signals), names_persist.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mproc_int.h"

int mproc__plat_park_new(mproc__handle *park) {
  *park = MPROC__NOHANDLE;
  return 0;
}

int mproc__plat_park_needed(void) { return 0; }

static long futex(volatile uint32_t *word, int op, uint32_t val,
                  const struct timespec *ts) {
  return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

int mproc__plat_word_wait(mproc__handle park, volatile uint32_t *word,
                          uint32_t expect, volatile uint32_t *sleepers,
                          double timeout) {
  struct timespec ts, *tp = NULL;
  long r;
  int e;
  (void)park;
  if (timeout != timeout)
    timeout = 0; /* NaN: lib/ refuses it first; never let it reach the cast */
  if (timeout >= 0) {
    if (timeout > 1e9) /* and +inf: no time_t overflow */
      timeout = 1e9;
    ts.tv_sec = (time_t)timeout;
    ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
      ts.tv_nsec = 999999999L;
    tp = &ts;
  }
  __atomic_add_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
  r = futex(word, FUTEX_WAIT, expect, tp);
  e = errno;
  __atomic_sub_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
  if (r == 0 || e == EAGAIN || e == EINTR)
    return 0;
  if (e == ETIMEDOUT)
    return MPROC_ETIMEDOUT;
  return mproc__err_os(MPROC_EOS, e, "futex(FUTEX_WAIT)");
}

int mproc__plat_word_wake(mproc__handle park, volatile uint32_t *word,
                          volatile uint32_t *sleepers, int n) {
  (void)park;
  if (__atomic_load_n(sleepers, __ATOMIC_SEQ_CST) == 0)
    return 0;
  if (futex(word, FUTEX_WAKE, (uint32_t)(n < 1 ? 1 : n), NULL) < 0)
    return mproc__err_os(MPROC_EOS, errno, "futex(FUTEX_WAKE)");
  return 0;
}

/*
 * Field 22 of /proc/<pid>/stat (starttime, in clock ticks since boot): the
 * text after the last ')' (the command name may hold spaces and parens)
 * starts at field 3, the state.  0 if the process is gone, or is a zombie
 * (it has ended; only its parent has not collected it yet).
 */
static uint32_t start_tag(const char *path) {
  char buf[1024], *p;
  unsigned long long start = 0;
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC), field;
  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  p = strrchr(buf, ')');
  if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X' || p[2] == 'x')
    return 0;
  for (field = 2; field < 22 && p; field++)
    p = strchr(p + 1, ' ');
  if (!p || sscanf(p + 1, "%llu", &start) != 1)
    return 0;
  return (uint32_t)start | 1u;
}

/*
 * Without /proc (a container that does not mount it) every tag is 1: a
 * reused pid then passes for its dead predecessor, and a zombie for a
 * live process (both are detected with /proc, the normal case).
 */
#define NO_PROC_TAG 1u

int mproc__plat_proc_identity(uint32_t *pid, uint32_t *tag) {
  static uint32_t my_pid, my_tag;
  uint32_t p = (uint32_t)getpid();
  if (__atomic_load_n(&my_pid, __ATOMIC_ACQUIRE) != p) {
    uint32_t t = start_tag("/proc/self/stat");
    __atomic_store_n(&my_tag, t ? t : NO_PROC_TAG, __ATOMIC_RELAXED);
    __atomic_store_n(&my_pid, p, __ATOMIC_RELEASE);
  }
  *pid = p;
  *tag = __atomic_load_n(&my_tag, __ATOMIC_RELAXED);
  return 0;
}

int mproc__plat_proc_alive(uint32_t pid, uint32_t tag) {
  char path[64];
  if (pid == 0 || pid > (uint32_t)INT_MAX)
    return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
    return 0;
  if (tag == NO_PROC_TAG)
    return 1; /* it exists; without /proc that is all we can know */
  snprintf(path, sizeof path, "/proc/%u/stat", (unsigned)pid);
  return start_tag(path) == tag;
}

uint32_t mproc__plat_thread_id(void) {
  static _Thread_local uint32_t tid;
  if (!tid)
    tid = (uint32_t)syscall(SYS_gettid);
  return tid;
}

int mproc__plat_tracker_detach(void) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
  size_t i;
  setsid(); /* fails only if already a group leader: fine either way */
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    signal(sigs[i], SIG_IGN);
  return 0;
}

int mproc__plat_names_persist(void) { return 1; }
