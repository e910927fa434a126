/*
 * posix/spawn.c - start the running executable again, with exactly the
 * handles named for the child; collect and signal children; the child's
 * side of the spawn (finding its bootstrap channel, daemon set-up).
 *
 * Map: spawn_self (posix_spawn of /proc/self/exe, fds placed by file
 * actions), proc_reap (waitpid), proc_signal (kill), proc_release,
 * boot_write (a write with a deadline), child_args / marked_child (the
 * command-line mark), adopt (close-on-exec again), child_setup (the
 * lifeline thread of a daemon), exit (_exit).
 *
 * Handle placement: the bootstrap socket becomes fd 3 and the n listed
 * handles fds 4..3+n.  Every fd the library opens is close-on-exec, so
 * nothing else crosses exec; where glibc offers it, closefrom() in the
 * file actions also stops fds the *user* left inheritable.  The moves go
 * through scratch fds that are neither a source nor a target (so no move
 * clobbers another, whatever numbers the parent's fds have) and lie below
 * the fd limit (a nearly full table still works); stdin becomes /dev/null
 * last, when the closes have made room for the open.
 *
 * Daemons: the child's end of the bootstrap channel is a lifeline.  Only
 * the parent process holds the other end, so it reads EOF exactly when
 * that process has gone, whichever of its threads started the child
 * (PR_SET_PDEATHSIG follows the *thread*, and exists only on Linux).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>

#include "mproc_int.h"

extern char **environ;

#define FIRST_CHILD_FD 3

static int self_exe(char *buf, size_t cap) {
#ifdef __linux__
  ssize_t r = readlink("/proc/self/exe", buf, cap - 1);
  if (r < 0 || (size_t)r >= cap - 1)
    return mproc__err_os(MPROC_EOS, errno, "readlink(/proc/self/exe)");
  buf[r] = '\0';
  return 0;
#else
  (void)buf;
  (void)cap;
  return mproc__err(MPROC_ENOTSUP, "no way to find the running executable");
#endif
}

/*
 * n + 1 scratch fds for the moves: not 0..2, no target (3..3+n), no source
 * (a move to scratch must not clobber a source not yet moved), and below
 * the fd limit.  The lowest such numbers from 4 + n up: all below
 * 4 + 2 * (n + 1), so only a limit that small fails (MPROC_EMFILE).
 */
static int pick_scratch(int boot, const mproc__handle *handles, size_t n,
                        int *scratch) {
  long limit = sysconf(_SC_OPEN_MAX);
  size_t got = 0, i;
  int fd;
  if (limit < 0 || limit > INT_MAX)
    limit = INT_MAX;
  for (fd = FIRST_CHILD_FD + (int)n + 1; got < n + 1 && fd < limit; fd++) {
    int used = fd == boot;
    for (i = 0; !used && i < n; i++)
      used = fd == (int)handles[i];
    if (!used)
      scratch[got++] = fd;
  }
  if (got < n + 1)
    return mproc__err(MPROC_EMFILE,
                      "spawn: passing %lu handles needs %lu free fd numbers "
                      "below the fd limit (%ld)",
                      (unsigned long)n + 1, (unsigned long)(2 * n + 2 + 3),
                      limit);
  return 0;
}

int mproc__plat_spawn_self(const mproc__handle *handles, size_t n,
                           mproc__handle *child_values, int flags,
                           mproc__child *out) {
  char exe[PATH_MAX];
  char boot_tok[24];
  char *argv[5];
  int sv[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t mask;
  int *scratch = NULL;
  size_t i, total = n + 1;
  pid_t pid;
  int rc;

  /* MPROC__SPAWN_DAEMON: the child arranges it in mproc__plat_child_setup */
  rc = self_exe(exe, sizeof exe);
  if (rc)
    return rc;
#ifdef SOCK_CLOEXEC
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
      fcntl(sv[0], F_SETFD, FD_CLOEXEC) != 0 ||
      fcntl(sv[1], F_SETFD, FD_CLOEXEC) != 0)
#endif
  {
    int e = errno;
    return mproc__err_os(e == EMFILE || e == ENFILE ? MPROC_EMFILE : MPROC_EOS,
                         e, "socketpair (the child's bootstrap channel)");
  }

  scratch = malloc(total * sizeof *scratch);
  if (!scratch) {
    close(sv[0]);
    close(sv[1]);
    return mproc__err(MPROC_ENOMEM, "spawn: fd table");
  }
  rc = pick_scratch(sv[1], handles, n, scratch);
  if (rc) {
    free(scratch);
    close(sv[0]);
    close(sv[1]);
    return rc;
  }

  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  rc = 0;
  for (i = 0; rc == 0 && i < total; i++) {
    int src = i == 0 ? sv[1] : (int)handles[i - 1];
    rc = posix_spawn_file_actions_adddup2(&fa, src, scratch[i]);
  }
  for (i = 0; rc == 0 && i < total; i++)
    rc = posix_spawn_file_actions_adddup2(&fa, scratch[i],
                                          FIRST_CHILD_FD + (int)i);
#if defined(__GLIBC__) &&                                                    \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  if (rc == 0)
    rc = posix_spawn_file_actions_addclosefrom_np(&fa,
                                                  FIRST_CHILD_FD + (int)total);
#else
  for (i = 0; rc == 0 && i < total; i++)
    rc = posix_spawn_file_actions_addclose(&fa, scratch[i]);
#endif
  if (rc == 0)
    rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  free(scratch);
  /* The child starts with no blocked signals, whatever this thread has;
   * but SIGINT blocked if it must ignore Ctrl-C (a pool worker): a Ctrl-C
   * to the process group before it ignores SIGINT stays pending, and
   * mproc__plat_ignore_interrupt drops it (no window at its start). */
  sigemptyset(&mask);
  if (flags & MPROC__SPAWN_NOINTR)
    sigaddset(&mask, SIGINT);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(&attr, &mask);
  if (rc == 0)
    rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[0]);
    close(sv[1]);
    return mproc__err_os(MPROC_EOS, rc, "posix_spawn file actions");
  }

  snprintf(boot_tok, sizeof boot_tok, "%d", FIRST_CHILD_FD);
  argv[0] = exe;
  argv[1] = (char *)MPROC__CHILD_MARK;
  argv[2] = boot_tok;
  argv[3] = boot_tok; /* the parent's sentinel is the same socket */
  argv[4] = NULL;
  rc = posix_spawn(&pid, exe, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    return mproc__err_os(rc == ENOMEM || rc == EAGAIN ? MPROC_ENOMEM
                         : rc == EMFILE || rc == ENFILE ? MPROC_EMFILE
                                                        : MPROC_ESPAWN,
                         rc, "posix_spawn(%s)", exe);
  }
  for (i = 0; i < n; i++)
    child_values[i] = FIRST_CHILD_FD + 1 + (mproc__handle)i;
  out->pid = (long)pid;
  out->proc = MPROC__NOHANDLE;
  out->boot = sv[0];
  out->sentinel.h = sv[0];
  out->sentinel.kind = MPROC__W_STREAM;
  return 0;
}

int mproc__plat_proc_reap(mproc__child *c, int block, int *exitcode) {
  int st = 0;
  pid_t r;
  do {
    r = waitpid((pid_t)c->pid, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0)
    return mproc__err(MPROC_ETIMEDOUT, "process %ld is still running",
                      c->pid);
  if (r < 0)
    return mproc__err_os(errno == ECHILD ? MPROC_ENOTCHILD : MPROC_EOS,
                         errno, "waitpid(%ld)", c->pid);
  if (WIFEXITED(st))
    *exitcode = WEXITSTATUS(st);
  else if (WIFSIGNALED(st))
    *exitcode = -WTERMSIG(st);
  else
    *exitcode = -1;
  return 0;
}

int mproc__plat_proc_signal(mproc__child *c, int hard) {
  if (kill((pid_t)c->pid, hard ? SIGKILL : SIGTERM) != 0 && errno != ESRCH)
    return mproc__err_os(MPROC_EOS, errno, "kill(%ld)", c->pid);
  return 0;
}

void mproc__plat_proc_release(mproc__child *c) {
  if (c->boot != MPROC__NOHANDLE)
    close((int)c->boot);
  c->boot = MPROC__NOHANDLE;
  c->sentinel.h = MPROC__NOHANDLE;
}

long mproc__plat_getpid(void) { return (long)getpid(); }

static int parse_fd(const char *s, int *fd) {
  long v = 0;
  if (!s || !*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 1000000)
      return -1;
    v = v * 10 + (*s - '0');
  }
  *fd = (int)v;
  return 0;
}

int mproc__plat_child_args(int argc, char **argv, mproc__handle *boot,
                           mproc__waititem *parent) {
  int i, b, p;
  for (i = 1; i + 2 < argc; i++) {
    if (strcmp(argv[i], MPROC__CHILD_MARK) != 0)
      continue;
    if (parse_fd(argv[i + 1], &b) != 0 || parse_fd(argv[i + 2], &p) != 0)
      return 0;
    *boot = b;
    parent->h = p;
    parent->kind = MPROC__W_STREAM;
    return 1;
  }
  return 0;
}

int mproc__plat_marked_child(void) {
#ifdef __linux__
  char buf[4096];
  size_t len = 0, i;
  ssize_t r;
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  while (len < sizeof buf - 1 &&
         (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)r;
  close(fd);
  buf[len] = '\0';
  for (i = 0; i < len; i += strlen(buf + i) + 1)
    if (strcmp(buf + i, MPROC__CHILD_MARK) == 0)
      return 1;
#endif
  return 0;
}

int mproc__plat_adopt(mproc__handle h) {
  int fl = fcntl((int)h, F_GETFD);
  if (fl < 0)
    return mproc__err_os(MPROC_EBADMSG, errno,
                         "handle %ld named by the bootstrap message",
                         (long)h);
  if (fcntl((int)h, F_SETFD, fl | FD_CLOEXEC) != 0)
    return mproc__err_os(MPROC_EOS, errno, "fcntl(FD_CLOEXEC)");
  return 0;
}

/* A daemon's lifeline: at EOF the parent process has gone; so do we. */
static void *lifeline(void *arg) {
  int fd = (int)(intptr_t)arg;
  for (;;) {
    struct pollfd pfd;
    char scrap[64];
    ssize_t r;
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfd.revents & POLLNVAL)
      break; /* someone closed our fd: no lifeline left; die safe */
    r = recv(fd, scrap, sizeof scrap, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                   errno != EINTR))
      break;
    /* Bytes (the protocol sends none after the handshake): ignored. */
  }
  kill(getpid(), SIGKILL);
  return NULL;
}

int mproc__plat_child_setup(mproc__waititem parent, int daemon) {
  pthread_attr_t attr;
  pthread_t th;
  sigset_t all, old;
  int rc;
  if (!daemon)
    return 0;
  /* Its own small thread, with every signal blocked: the program's
   * handlers keep running on its threads.  If the parent has gone
   * already, the lifeline reads EOF at once. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_attr_init(&attr);
  if (rc == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024 > PTHREAD_STACK_MIN
                                         ? 64 * 1024
                                         : PTHREAD_STACK_MIN);
    rc = pthread_create(&th, &attr, lifeline,
                        (void *)(intptr_t)parent.h);
    pthread_attr_destroy(&attr);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return mproc__err_os(MPROC_EOS, rc, "daemon: lifeline thread");
  return 0;
}

int mproc__plat_boot_write(mproc__handle h, const void *buf, size_t len,
                           double timeout) {
  const char *p = buf;
  double deadline = mproc__plat_monotonic() + timeout;
  while (len > 0) {
    struct pollfd pfd;
    double left = deadline - mproc__plat_monotonic();
    ssize_t w;
    int r;
    if (left < 0)
      left = 0;
    if (left > 86400)
      left = 86400; /* poll's int milliseconds; the loop goes on */
    pfd.fd = (int)h;
    pfd.events = POLLOUT;
    pfd.revents = 0;
    r = poll(&pfd, 1, (int)(left * 1000.0 + 0.999));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return mproc__err_os(MPROC_EOS, errno, "poll (bootstrap channel)");
    if (r == 0) {
      if (left <= 0)
        return mproc__err(MPROC_ETIMEDOUT, "bootstrap channel: the peer "
                                           "does not read");
      continue;
    }
    w = send((int)h, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        continue;
      if (errno == EPIPE || errno == ECONNRESET)
        return mproc__err_os(MPROC_EEOF, errno, "bootstrap channel");
      return mproc__err_os(MPROC_EOS, errno, "send (bootstrap channel)");
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

void mproc__plat_exit(int code) { _exit(code); }
