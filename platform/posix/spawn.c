/*
 * posix/spawn.c - start the running executable again, with exactly the
 * handles named for the child; collect and signal children; the child's
 * side of the spawn (finding its bootstrap channel, daemon set-up).
 *
 * Map: spawn_self (posix_spawn of /proc/self/exe, fds placed by file
 * actions), proc_reap (waitpid), proc_signal (kill), proc_release,
 * child_args / marked_child (the command-line mark), adopt (close-on-exec
 * again), child_setup (PR_SET_PDEATHSIG for daemons), exit (_exit).
 *
 * Handle placement: the bootstrap socket becomes fd 3 and the n listed
 * handles fds 4..3+n.  Every fd the library opens is close-on-exec, so
 * nothing else crosses exec; where glibc offers it, closefrom() in the
 * file actions also stops fds the *user* left inheritable.  The moves go
 * through a scratch range above every source and target so that sources
 * and targets never collide, whatever numbers the parent's fds have.
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
#ifdef __linux__
#include <sys/prctl.h>
#endif

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

int mproc__plat_spawn_self(const mproc__handle *handles, size_t n,
                           mproc__handle *child_values, int daemon,
                           mproc__child *out) {
  char exe[PATH_MAX];
  char boot_tok[24];
  char *argv[5];
  int sv[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none;
  int scratch, maxfd = FIRST_CHILD_FD + (int)n;
  size_t i, total = n + 1;
  pid_t pid;
  int rc;

  (void)daemon; /* the child arranges it in mproc__plat_child_setup */
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
    return mproc__err_os(MPROC_EOS, errno, "socketpair (bootstrap)");

  /* The scratch range starts above every source fd and every target. */
  if (sv[1] > maxfd)
    maxfd = sv[1];
  for (i = 0; i < n; i++)
    if ((int)handles[i] > maxfd)
      maxfd = (int)handles[i];
  scratch = maxfd + 1;

  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  for (i = 0; rc == 0 && i < total; i++) {
    int src = i == 0 ? sv[1] : (int)handles[i - 1];
    rc = posix_spawn_file_actions_adddup2(&fa, src, scratch + (int)i);
  }
  for (i = 0; rc == 0 && i < total; i++)
    rc = posix_spawn_file_actions_adddup2(&fa, scratch + (int)i,
                                          FIRST_CHILD_FD + (int)i);
#if defined(__GLIBC__) &&                                                    \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  if (rc == 0)
    rc = posix_spawn_file_actions_addclosefrom_np(&fa,
                                                  FIRST_CHILD_FD + (int)total);
#else
  for (i = 0; rc == 0 && i < total; i++)
    rc = posix_spawn_file_actions_addclose(&fa, scratch + (int)i);
#endif
  /* The child starts with no blocked signals, whatever this thread has. */
  sigemptyset(&none);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(&attr, &none);
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

int mproc__plat_child_setup(long parent_pid, int daemon) {
  if (!daemon)
    return 0;
#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
    return mproc__err_os(MPROC_EOS, errno, "prctl(PR_SET_PDEATHSIG)");
  /* The parent may have died before the prctl: then nobody will signal. */
  if ((long)getppid() != parent_pid)
    return mproc__err(MPROC_EEOF, "the parent process (%ld) has gone",
                      parent_pid);
#else
  (void)parent_pid;
#endif
  return 0;
}

void mproc__plat_exit(int code) { _exit(code); }
