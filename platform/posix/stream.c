/*
 * posix/stream.c - the two ends of a Pipe: AF_UNIX stream socket pairs.
 *
 * Map: stream_pair (socketpair, close-on-exec), stream_read (recv),
 * stream_write / stream_write2 (send / sendmsg with MSG_NOSIGNAL, so a
 * vanished peer is MPROC_EEOF and never a SIGPIPE), close.
 *
 * Sockets rather than pipe(2) for simplex pipes too: one code path, and
 * MSG_NOSIGNAL spares the library from touching the process's SIGPIPE
 * disposition.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mproc_int.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket below */
#endif

static int set_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
    return -1;
  return 0;
}

int mproc__plat_stream_pair(mproc__handle *a, mproc__handle *b, int duplex) {
  int sv[2];
#ifdef SOCK_CLOEXEC
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return mproc__err_os(errno == ENOMEM ? MPROC_ENOMEM : MPROC_EOS, errno,
                         "socketpair");
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    return mproc__err_os(MPROC_EOS, errno, "socketpair");
  if (set_cloexec(sv[0]) != 0 || set_cloexec(sv[1]) != 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return mproc__err_os(MPROC_EOS, e, "fcntl(FD_CLOEXEC)");
  }
#endif
#ifdef SO_NOSIGPIPE
  {
    int one = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    setsockopt(sv[1], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
  }
#endif
  if (!duplex) {
    /* Python's Pipe(False): the first end receives, the second sends. */
    shutdown(sv[0], SHUT_WR);
    shutdown(sv[1], SHUT_RD);
  }
  *a = sv[0];
  *b = sv[1];
  (void)set_cloexec;
  return 0;
}

static int io_error(int e, const char *what) {
  if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
    return mproc__err_os(MPROC_EEOF, e, "%s: the peer has gone", what);
  if (e == EBADF)
    return mproc__err_os(MPROC_ECLOSED, e, "%s", what);
  if (e == ENOMEM || e == ENOBUFS)
    return mproc__err_os(MPROC_ENOMEM, e, "%s", what);
  return mproc__err_os(MPROC_EOS, e, "%s", what);
}

int mproc__plat_stream_read(mproc__handle h, void *buf, size_t len,
                            size_t *got) {
  for (;;) {
    ssize_t r = recv((int)h, buf, len, 0);
    if (r > 0) {
      *got = (size_t)r;
      return 0;
    }
    if (r == 0) {
      *got = 0;
      return mproc__err(MPROC_EEOF, "recv: the peer closed the connection");
    }
    if (errno != EINTR)
      return io_error(errno, "recv");
  }
}

int mproc__plat_stream_write(mproc__handle h, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t r = send((int)h, p, len, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return io_error(errno, "send");
    }
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

int mproc__plat_stream_write2(mproc__handle h, const void *a, size_t na,
                              const void *b, size_t nb) {
  struct iovec iov[2];
  struct msghdr msg;
  iov[0].iov_base = (void *)a;
  iov[0].iov_len = na;
  iov[1].iov_base = (void *)b;
  iov[1].iov_len = nb;
  while (iov[0].iov_len + iov[1].iov_len > 0) {
    ssize_t r;
    size_t done;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov[0].iov_len ? iov : iov + 1;
    msg.msg_iovlen = iov[0].iov_len ? 2 : 1;
    r = sendmsg((int)h, &msg, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return io_error(errno, "sendmsg");
    }
    done = (size_t)r;
    if (done >= iov[0].iov_len) {
      done -= iov[0].iov_len;
      iov[0].iov_len = 0;
      if (done) /* never NULL + 0: an empty body may have no buffer */
        iov[1].iov_base = (char *)iov[1].iov_base + done;
      iov[1].iov_len -= done;
    } else {
      iov[0].iov_base = (char *)iov[0].iov_base + done;
      iov[0].iov_len -= done;
    }
  }
  return 0;
}

int mproc__plat_close(mproc__handle h) {
  if (h == MPROC__NOHANDLE)
    return 0;
  /* Linux closes the fd even when close() reports EINTR: never retry. */
  if (close((int)h) != 0 && errno != EINTR)
    return mproc__err_os(errno == EBADF ? MPROC_ECLOSED : MPROC_EOS, errno,
                         "close");
  return 0;
}
