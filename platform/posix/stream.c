/*
 * posix/stream.c - the two ends of a Pipe: AF_UNIX SOCK_SEQPACKET socket
 * pairs.
 *
 * Map: stream_pair (socketpair, close-on-exec), stream_records (is it a
 * SOCK_SEQPACKET socket?), stream_read (recv), stream_read_record (recv
 * with MSG_TRUNC: a record longer than the buffer is detected, never
 * silently cut; read_record2 scatters it with recvmsg: the header apart,
 * so a body lands at the start of its buffer), stream_write /
 * stream_write2 (send / sendmsg with MSG_NOSIGNAL, so a vanished peer is
 * MPROC_EEOF and never a SIGPIPE; write2's pieces are one record), close.
 *
 * Sequenced packets keep each write a record, so lib/conn.c receives a
 * message of up to 64 KiB (header and body in one record) with one recv
 * and still never reads past its end: a round trip costs the raw socketpair's
 * four system calls.  Where SOCK_SEQPACKET is missing the pair is SOCK_STREAM
 * and conn.c reads the header first (stream_records says which).
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

static int make_pair(int type, int sv[2]) {
  (void)set_cloexec; /* used only without SOCK_CLOEXEC */
#ifdef SOCK_CLOEXEC
  return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv);
#else
  if (socketpair(AF_UNIX, type, 0, sv) != 0)
    return -1;
  if (set_cloexec(sv[0]) != 0 || set_cloexec(sv[1]) != 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    errno = e;
    return -1;
  }
  return 0;
#endif
}

int mproc__plat_stream_pair(mproc__handle *a, mproc__handle *b, int duplex) {
  int sv[2];
  int r = make_pair(SOCK_SEQPACKET, sv);
  if (r != 0 && (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT ||
                 errno == EOPNOTSUPP || errno == EPROTOTYPE))
    r = make_pair(SOCK_STREAM, sv); /* no sequenced packets here */
  if (r != 0)
    return mproc__err_os(errno == ENOMEM || errno == ENOBUFS ? MPROC_ENOMEM
                                                             : MPROC_EOS,
                         errno, "socketpair");
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
  return 0;
}

int mproc__plat_stream_records(mproc__handle h) {
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt((int)h, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return 0;
  return type == SOCK_SEQPACKET;
}

size_t mproc__plat_stream_bufsize(mproc__handle h) {
  int size = 0;
  socklen_t len = sizeof size;
  if (getsockopt((int)h, SOL_SOCKET, SO_SNDBUF, &size, &len) != 0 || size <= 0)
    return 0;
  return (size_t)size / 2;
}

static int io_error(int e, const char *what) {
  if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
    return mproc__err_os(MPROC_EEOF, e, "%s: the peer has gone", what);
  if (e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH) /* TCP */
    return mproc__err_os(MPROC_EEOF, e, "%s: the peer's host has gone", what);
  if (e == EBADF)
    return mproc__err_os(MPROC_ECLOSED, e, "%s", what);
  if (e == ENOMEM || e == ENOBUFS)
    return mproc__err_os(MPROC_ENOMEM, e, "%s", what);
  if (e == EMSGSIZE) /* a record larger than the socket's buffer */
    return mproc__err_os(MPROC_ETOOBIG, e, "%s", what);
  return mproc__err_os(MPROC_EOS, e, "%s", what);
}

/*
 * A unix socket whose peer closed with data it had not read reports
 * ECONNRESET once, before the messages the peer sent first (which are
 * still queued: a pool worker's last results, its READY); so the reads
 * below try once more after a reset, and get those, then EOF.  A TCP
 * socket's reset is final: the retry gives EOF or the error again.
 */
static int reset_retry(int *reset) {
  if (errno != ECONNRESET || *reset)
    return 0;
  *reset = 1;
  return 1;
}

int mproc__plat_stream_read(mproc__handle h, void *buf, size_t len,
                            size_t *got) {
  int reset = 0;
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
    if (errno != EINTR && !reset_retry(&reset))
      return io_error(errno, "recv");
  }
}

int mproc__plat_stream_read_record(mproc__handle h, void *buf, size_t len,
                                   size_t *got) {
  int reset = 0;
  for (;;) {
    /* MSG_TRUNC: the record's real length, even when longer than len. */
    ssize_t r = recv((int)h, buf, len, MSG_TRUNC);
    if (r > 0 && (size_t)r <= len) {
      *got = (size_t)r;
      return 0;
    }
    if (r > 0) {
      *got = 0;
      return mproc__err(MPROC_EBADMSG,
                        "recv: a record of %zd bytes where at most %zu "
                        "were due",
                        r, len);
    }
    if (r == 0) {
      *got = 0;
      return mproc__err(MPROC_EEOF, "recv: the peer closed the connection");
    }
    if (errno != EINTR && !reset_retry(&reset))
      return io_error(errno, "recv");
  }
}

int mproc__plat_stream_read_record2(mproc__handle h, void *a, size_t na,
                                    void *b, size_t nb, size_t *got) {
  struct iovec iov[2];
  struct msghdr msg;
  int reset = 0;
  iov[0].iov_base = a;
  iov[0].iov_len = na;
  iov[1].iov_base = b;
  iov[1].iov_len = nb;
  for (;;) {
    ssize_t r;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    /* MSG_TRUNC: the record's real length, even when longer than both. */
    r = recvmsg((int)h, &msg, MSG_TRUNC);
    if (r > 0 && (size_t)r <= na + nb) {
      *got = (size_t)r;
      return 0;
    }
    if (r > 0) {
      *got = 0;
      return mproc__err(MPROC_EBADMSG,
                        "recv: a record of %zd bytes where at most %zu "
                        "were due",
                        r, na + nb);
    }
    if (r == 0) {
      *got = 0;
      return mproc__err(MPROC_EEOF, "recv: the peer closed the connection");
    }
    if (errno != EINTR && !reset_retry(&reset))
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
