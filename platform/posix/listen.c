/*
 * posix/listen.c - the Manager's listening endpoints: AF_UNIX sockets (a
 * private one in a new 0700 directory by default) and TCP for remote use
 * (host and port come parsed from lib/manager/address.c).
 *
 * Map: listen_local (private directory, bind, listen), listen_tcp,
 * accept (close-on-exec; a stop flag + shutdown() ends a blocked accept),
 * listener_free (close, unlink the socket, remove the private directory),
 * connect_local (waits while the server's backlog is full), connect_tcp
 * (non-blocking connect + poll under the caller's deadline: a host that
 * never answers is MPROC_ETIMEDOUT, not the kernel's two minutes).
 *
 * The handles are plain blocking sockets with no SIGPIPE (writes use
 * MSG_NOSIGNAL in stream.c), as a Pipe's.  Local ones are SOCK_SEQPACKET
 * where the OS has it (as a Pipe's, stream.c): conn.c then receives a
 * small message with one recv instead of two (header, body), which is a
 * third of a manager call's cost; a client falls back to SOCK_STREAM when
 * the server's socket is one (EPROTOTYPE).  TCP is a byte stream
 * (stream_records says 0: conn.c reads the header first).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mproc_int.h"

struct mproc__listener {
  int fd;
  mproc__keepalive ka; /* for accepted TCP connections */
  volatile int stopped;
  int unix_path; /* addr is a socket file to unlink */
  char addr[240];
  char dir[200]; /* the private directory to remove, or "" */
};

static int cloexec(int fd) {
  int fl = fcntl(fd, F_GETFD);
  return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

static int new_socket_type(int family, int type) {
  int fd = socket(family, type, 0);
  if (fd >= 0 && cloexec(fd) != 0) {
    close(fd);
    return -1;
  }
#ifdef SO_NOSIGPIPE
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
  }
#endif
  return fd;
}

static int new_socket(int family) {
  return new_socket_type(family, SOCK_STREAM);
}

/* A local socket: sequenced packets where the OS has them. */
static int new_local_socket(void) {
#ifdef SOCK_SEQPACKET
  int fd = new_socket_type(AF_UNIX, SOCK_SEQPACKET);
  if (fd >= 0 || (errno != EPROTONOSUPPORT && errno != ESOCKTNOSUPPORT &&
                  errno != EINVAL))
    return fd;
#endif
  return new_socket(AF_UNIX);
}

/* A TCP connection: no Nagle delay; keepalive (platform.h). */
static void tcp_tune(int fd, const mproc__keepalive *ka) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!ka || ka->idle <= 0)
    return;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#ifdef TCP_KEEPIDLE
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka->idle, sizeof ka->idle);
#endif
#ifdef TCP_KEEPINTVL
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka->interval,
             sizeof ka->interval);
#endif
#ifdef TCP_KEEPCNT
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ka->count, sizeof ka->count);
#endif
#ifdef TCP_USER_TIMEOUT /* unacknowledged data: the same bound */
  {
    unsigned ms = (unsigned)(ka->idle + ka->interval * ka->count) * 1000u;
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
  }
#endif
}

static int unix_addr(const char *path, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sa->sun_path)
    return mproc__err(MPROC_EINVAL, "socket path too long: %s", path);
  strcpy(sa->sun_path, path);
  return 0;
}

int mproc__plat_listen_tcp(const char *host, unsigned port,
                           const mproc__keepalive *ka, char *bound,
                           size_t hcap, unsigned *bport,
                           mproc__listener **out) {
  struct addrinfo hints, *res = NULL, *ai;
  mproc__listener *l;
  struct sockaddr_storage ss;
  socklen_t n = sizeof ss;
  char p[16], h[100], ps[16];
  int rc, e = 0, fd = -1;
  *out = NULL;
  snprintf(p, sizeof p, "%u", port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  /* "" is all interfaces only when the user writes it; there is no
   * default that listens beyond loopback. */
  rc = getaddrinfo(host[0] ? host : NULL, p, &hints, &res);
  if (rc != 0)
    return mproc__err(MPROC_EINVAL, "listen on %s:%s: %s", host, p,
                      gai_strerror(rc));
  for (ai = res; ai; ai = ai->ai_next) {
    int one = 1;
    fd = new_socket(ai->ai_family);
    if (fd < 0) {
      e = errno;
      continue;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
      break;
    e = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return mproc__err_os(MPROC_EOS, e, "listen on %s:%s", host, p);
  if (getsockname(fd, (struct sockaddr *)&ss, &n) != 0 ||
      getnameinfo((struct sockaddr *)&ss, n, h, sizeof h, ps, sizeof ps,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0 ||
      strlen(h) >= hcap) {
    close(fd);
    return mproc__err(MPROC_EOS, "listen on %s:%s: no bound address", host,
                      p);
  }
  if (!(l = calloc(1, sizeof *l))) {
    close(fd);
    return mproc__err(MPROC_ENOMEM, "listener");
  }
  l->fd = fd;
  l->ka = *ka;
  strcpy(bound, h);
  *bport = (unsigned)strtoul(ps, NULL, 10);
  *out = l;
  return 0;
}

int mproc__plat_listen_local(const char *want, char *addr, size_t cap,
                             mproc__listener **out) {
  mproc__listener *l = calloc(1, sizeof *l);
  struct sockaddr_un sa;
  int rc;
  *out = NULL;
  if (!l)
    return mproc__err(MPROC_ENOMEM, "listener");
  l->fd = -1;
  if (!want) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0] || strlen(tmp) > 100)
      tmp = "/tmp";
    snprintf(l->dir, sizeof l->dir, "%s/mproc-XXXXXX", tmp);
    if (!mkdtemp(l->dir)) { /* mkdtemp makes it 0700 */
      rc = mproc__err_os(MPROC_EOS, errno, "mkdtemp(%s)", l->dir);
      free(l);
      return rc;
    }
    chmod(l->dir, 0700);
    memcpy(l->addr, l->dir, strlen(l->dir));
    strcpy(l->addr + strlen(l->dir), "/manager");
  } else {
    snprintf(l->addr, sizeof l->addr, "%s", want);
  }
  if ((rc = unix_addr(l->addr, &sa)) != 0) {
    mproc__plat_listener_free(l);
    return rc;
  }
  l->fd = new_local_socket();
  if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      listen(l->fd, 128) != 0) {
    rc = mproc__err_os(MPROC_EOS, errno, "listen on %s", l->addr);
    mproc__plat_listener_free(l);
    return rc;
  }
  l->unix_path = 1;
  if (strlen(l->addr) >= cap) {
    mproc__plat_listener_free(l);
    return mproc__err(MPROC_EINVAL, "listen: address too long");
  }
  strcpy(addr, l->addr);
  *out = l;
  return 0;
}

int mproc__plat_accept(mproc__listener *l, mproc__handle *h) {
  for (;;) {
    int fd;
    if (l->stopped)
      return mproc__err(MPROC_ECLOSED, "accept: the listener is stopped");
    fd = accept(l->fd, NULL, NULL);
    if (fd >= 0) {
      if (l->stopped) {
        close(fd);
        continue;
      }
      cloexec(fd);
#ifdef SO_NOSIGPIPE
      {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
      }
#endif
      if (!l->unix_path)
        tcp_tune(fd, &l->ka);
      *h = fd;
      return 0;
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    if (l->stopped)
      return mproc__err(MPROC_ECLOSED, "accept: the listener is stopped");
    if (errno == EMFILE || errno == ENFILE) {
      mproc__plat_sleep(0.05); /* the server is out of handles: back off */
      continue;
    }
    return mproc__err_os(MPROC_EOS, errno, "accept");
  }
}

void mproc__plat_listener_stop(mproc__listener *l) {
  l->stopped = 1;
  shutdown(l->fd, SHUT_RDWR); /* wakes a blocked accept (Linux) */
}

void mproc__plat_listener_free(mproc__listener *l) {
  if (!l)
    return;
  if (l->fd >= 0)
    close(l->fd);
  if (l->unix_path)
    unlink(l->addr);
  if (l->dir[0])
    rmdir(l->dir);
  free(l);
}

/* Connect fd to sa by deadline (monotonic, < 0 none): 0, or errno. */
static int connect_by(int fd, const struct sockaddr *sa, socklen_t len,
                      double deadline) {
  int fl = fcntl(fd, F_GETFL), e = 0;
  socklen_t elen = sizeof e;
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
    return errno;
  if (connect(fd, sa, len) != 0) {
    if (errno != EINPROGRESS && errno != EINTR)
      return errno;
    for (;;) {
      struct pollfd p;
      int ms = -1, r;
      if (deadline >= 0) {
        double left = deadline - mproc__plat_monotonic();
        if (left <= 0)
          return ETIMEDOUT;
        ms = (int)(left * 1000) + 1;
      }
      p.fd = fd;
      p.events = POLLOUT;
      p.revents = 0;
      r = poll(&p, 1, ms);
      if (r < 0 && errno != EINTR)
        return errno;
      if (r > 0)
        break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
      return errno;
    if (e)
      return e;
  }
  if (fcntl(fd, F_SETFL, fl) != 0) /* blocking again, as the rest expects */
    return errno;
  return 0;
}

int mproc__plat_connect_tcp(const char *addr, const char *host,
                            unsigned port, const mproc__keepalive *ka,
                            double timeout, mproc__handle *h) {
  double deadline = timeout < 0 ? -1 : mproc__plat_monotonic() + timeout;
  struct addrinfo hints, *res = NULL, *ai;
  char p[16];
  int fd = -1, e = 0, rc;
  snprintf(p, sizeof p, "%u", port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(host, p, &hints, &res);
  if (rc != 0)
    return mproc__err(MPROC_EINVAL, "connect to %s: %s", addr,
                      gai_strerror(rc));
  for (ai = res; ai; ai = ai->ai_next) {
    fd = new_socket(ai->ai_family);
    if (fd < 0) {
      e = errno;
      continue;
    }
    if ((e = connect_by(fd, ai->ai_addr, ai->ai_addrlen, deadline)) == 0)
      break;
    close(fd);
    fd = -1;
    if (e == ETIMEDOUT)
      break; /* the time is spent: no next address */
  }
  freeaddrinfo(res);
  if (fd < 0 && e == ETIMEDOUT)
    return mproc__err(MPROC_ETIMEDOUT, "connect to %s: no answer within %g s",
                      addr, timeout);
  if (fd < 0)
    return mproc__err_os(e == ECONNREFUSED ? MPROC_EEOF : MPROC_EOS, e,
                         "connect to %s", addr);
  tcp_tune(fd, ka);
  *h = fd;
  return 0;
}

int mproc__plat_connect_local(const char *addr, double timeout,
                              mproc__handle *h) {
  double deadline = timeout < 0 ? -1 : mproc__plat_monotonic() + timeout;
  struct sockaddr_un sa;
  int fd = -1, e = 0, stream = 0;
  int rc = unix_addr(addr, &sa);
  if (rc)
    return rc;
  for (;;) {
    fd = stream ? new_socket(AF_UNIX) : new_local_socket();
    if (fd < 0)
      return mproc__err_os(MPROC_EOS, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
      break;
    e = errno;
    close(fd);
    fd = -1;
    if (e == EPROTOTYPE && !stream) { /* a SOCK_STREAM server */
      stream = 1;
      continue;
    }
    /* A full backlog says EAGAIN: the server is busy, not gone. */
    if (e == EAGAIN && (deadline < 0 || mproc__plat_monotonic() < deadline)) {
      mproc__plat_sleep(0.005);
      continue;
    }
    if (e == EAGAIN)
      return mproc__err(MPROC_ETIMEDOUT,
                        "connect to %s: the server stayed busy for %g s", addr,
                        timeout);
    return mproc__err_os(e == ECONNREFUSED || e == ENOENT ? MPROC_EEOF
                                                          : MPROC_EOS,
                         e, "connect to %s", addr);
  }
  *h = fd;
  return 0;
}
