/*
 * posix/wait.c - wait for any of N handles with a timeout: ppoll(2) (the
 * timeout to the nanosecond, with the thread's timer slack: poll's
 * milliseconds made the MPI hub's 0.1 ms looks 1 ms).
 *
 * On POSIX both kinds of item are fds: a stream is ready when it has bytes
 * or EOF; a process sentinel is the parent's end of the bootstrap socket,
 * which reads EOF once the child has ended.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "mproc_int.h"

int mproc__plat_wait(const mproc__waititem *items, size_t n, double timeout,
                     int *ready) {
  struct pollfd small[16];
  struct pollfd *pfd = small;
  double deadline = 0;
  size_t i;
  int count = 0;

  if (n > sizeof small / sizeof small[0]) {
    pfd = malloc(n * sizeof *pfd);
    if (!pfd)
      return mproc__err(MPROC_ENOMEM, "wait: %zu items", n);
  }
  for (i = 0; i < n; i++) {
    pfd[i].fd = (int)items[i].h;
    pfd[i].events = POLLIN;
    pfd[i].revents = 0;
  }
  if (timeout > 0)
    deadline = mproc__plat_monotonic() + timeout;
  for (;;) {
    struct timespec ts, *tsp = &ts;
    int r;
    if (timeout < 0) {
      tsp = NULL;
    } else if (timeout == 0) {
      ts.tv_sec = 0;
      ts.tv_nsec = 0;
    } else {
      double left = deadline - mproc__plat_monotonic();
      if (left < 0)
        left = 0;
      if (left > (double)INT_MAX)
        left = (double)INT_MAX;
      ts.tv_sec = (time_t)left;
      ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    }
    r = ppoll(pfd, (nfds_t)n, tsp, NULL);
    if (r >= 0)
      break;
    if (errno != EINTR) {
      int e = errno;
      if (pfd != small)
        free(pfd);
      return mproc__err_os(MPROC_EOS, e, "poll");
    }
  }
  for (i = 0; i < n; i++) {
    /* POLLNVAL: a closed fd is "ready" so the caller finds out on read. */
    ready[i] = (pfd[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0;
    count += ready[i];
  }
  if (pfd != small)
    free(pfd);
  return count;
}
