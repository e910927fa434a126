/*
 * win32/listen.c - the Manager's listening endpoints: overlapped byte-mode
 * named pipes "\\.\pipe\name" with an owner-only DACL that reject remote
 * clients, and TCP sockets (host and port come parsed from
 * lib/manager/address.c).
 *
 * Map: Winsock (startup, sockets as tagged stream handles), listen_tcp,
 * listen_local (make the first instance, FILE_FLAG_FIRST_PIPE_INSTANCE so
 * nobody else can own the name), accept (overlapped ConnectNamedPipe on the
 * waiting instance, then a fresh instance for the next client; a stop event
 * ends a blocked accept; TCP: select in slices), listener_free,
 * connect_tcp (non-blocking connect + select under the caller's deadline:
 * a host that never answers is MPROC_ETIMEDOUT), connect_local
 * (CreateFileW, waiting while every instance is busy).
 *
 * The pipe handles are overlapped, as a Pipe's (stream.c reads and writes
 * them).  A TCP socket travels as a tagged stream handle (SOCKET | 1, see
 * w32_int.h): stream.c and wait.c send it to the socket functions at the
 * end of this file (blocking recv/send, select, closesocket), since
 * PeekNamedPipe and zero-byte ReadFile do not work on sockets (not under
 * wine either).  Winsock is started once (WSAStartup); sockets are made
 * non-inheritable; "host:port" listens on what host names - loopback for
 * "127.0.0.1" or "localhost", all interfaces only for an empty host.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
#include <windows.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"
#include "w32_int.h"

#define BUFSZ 65536

#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif

/* ---- Winsock: startup, sockets as tagged stream handles ------------------ */

static INIT_ONCE wsa_once = INIT_ONCE_STATIC_INIT;
static int wsa_rc;

static BOOL CALLBACK wsa_start(PINIT_ONCE o, PVOID p, PVOID *c) {
  WSADATA d;
  int e = WSAStartup(MAKEWORD(2, 2), &d);
  (void)o;
  (void)p;
  (void)c;
  wsa_rc = e ? mproc__err_os(MPROC_EOS, e, "WSAStartup") : 0;
  return TRUE;
}

static int wsa(void) {
  InitOnceExecuteOnce(&wsa_once, wsa_start, NULL, NULL);
  return wsa_rc ? mproc__err(wsa_rc, "Winsock could not start") : 0;
}

static int sock_fail(int code, const char *what, const char *addr) {
  int e = WSAGetLastError();
  if (e == WSAECONNRESET || e == WSAECONNABORTED || e == WSAESHUTDOWN ||
      e == WSAECONNREFUSED || e == WSAENOTCONN || e == WSAENETRESET ||
      e == WSAETIMEDOUT || e == WSAEHOSTUNREACH || e == WSAENETUNREACH)
    code = MPROC_EEOF; /* the peer (or its host) has gone */
  return mproc__err_os(code, e, "%s %s", what, addr ? addr : "");
}

/* s, made private to this process, as a tagged stream handle; a TCP
 * connection (ka not NULL): no Nagle delay, keepalive (platform.h; the
 * probe count is Windows' own, 10, where TCP_KEEPCNT is unknown). */
static int sock_wrap(SOCKET s, const mproc__keepalive *ka, mproc__handle *h) {
  if (((uintptr_t)s & 3) != 0) { /* a handle is a multiple of 4 */
    closesocket(s);
    return mproc__err(MPROC_EOS, "socket: unexpected handle value");
  }
  SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  if (ka) {
    BOOL one = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
  }
  if (ka && ka->idle > 0) {
    struct tcp_keepalive kv;
    DWORD n = 0;
    kv.onoff = 1;
    kv.keepalivetime = (ULONG)ka->idle * 1000u;
    kv.keepaliveinterval = (ULONG)ka->interval * 1000u;
    WSAIoctl(s, SIO_KEEPALIVE_VALS, &kv, sizeof kv, NULL, 0, &n, NULL, NULL);
#ifdef TCP_KEEPCNT
    {
      DWORD cnt = (DWORD)ka->count;
      setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, (const char *)&cnt, sizeof cnt);
    }
#endif
  }
  *h = (mproc__handle)((uintptr_t)s | MPROC__W32_SOCKTAG);
  return 0;
}

static SOCKET sock_of(mproc__handle h) {
  return (SOCKET)((uintptr_t)h & ~(uintptr_t)3);
}

static SOCKET new_socket(int family) {
  return WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
}

int mproc__w32_sock_read(mproc__handle h, void *buf, size_t len,
                         size_t *got) {
  int want = len > (1u << 30) ? (1 << 30) : (int)len, n;
  *got = 0;
  if (len == 0)
    return mproc__err(MPROC_EINVAL, "recv: zero-length read");
  n = recv(sock_of(h), (char *)buf, want, 0);
  if (n == 0)
    return mproc__err(MPROC_EEOF, "recv: the peer closed the connection");
  if (n == SOCKET_ERROR)
    return sock_fail(MPROC_EOS, "recv", NULL);
  *got = (size_t)n;
  return 0;
}

int mproc__w32_sock_write(mproc__handle h, const void *buf, size_t len) {
  const char *p = (const char *)buf;
  while (len > 0) {
    int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
    int n = send(sock_of(h), p, chunk, 0);
    if (n == SOCKET_ERROR)
      return sock_fail(MPROC_EOS, "send", NULL);
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int mproc__w32_sock_close(mproc__handle h) {
  if (closesocket(sock_of(h)) != 0)
    return sock_fail(MPROC_EOS, "closesocket", NULL);
  return 0;
}

int mproc__w32_sock_wait(const mproc__waititem *items, size_t n, DWORD ms,
                         int *ready) {
  fd_set rd;
  struct timeval tv, *ptv = NULL;
  size_t i;
  int r, count = 0;
  if (n > FD_SETSIZE)
    return mproc__err(MPROC_EINVAL, "wait: more than %d sockets",
                      (int)FD_SETSIZE);
  FD_ZERO(&rd);
  for (i = 0; i < n; i++)
    FD_SET(sock_of(items[i].h), &rd);
  if (ms != INFINITE) {
    tv.tv_sec = (long)(ms / 1000);
    tv.tv_usec = (long)(ms % 1000) * 1000;
    ptv = &tv;
  }
  r = select(0, &rd, NULL, NULL, ptv);
  if (r == SOCKET_ERROR)
    return sock_fail(MPROC_EOS, "select", NULL);
  for (i = 0; i < n; i++) {
    ready[i] = r > 0 && FD_ISSET(sock_of(items[i].h), &rd);
    count += ready[i];
  }
  return count;
}

/* ---- the listener ---------------------------------------------------------- */

struct mproc__listener {
  SOCKET sock;  /* TCP, or INVALID_SOCKET for a pipe name */
  mproc__keepalive ka; /* for accepted TCP connections */
  wchar_t *name;
  HANDLE next;  /* the instance waiting for the next client */
  HANDLE stop;  /* manual-reset: listener_stop */
  volatile LONG stopped;
  SECURITY_ATTRIBUTES sa;
  PSECURITY_DESCRIPTOR sd;
};

static HANDLE new_instance(mproc__listener *l, int first) {
  return CreateNamedPipeW(
      l->name,
      PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
          (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0),
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
          PIPE_REJECT_REMOTE_CLIENTS,
      PIPE_UNLIMITED_INSTANCES, BUFSZ, BUFSZ, 0, &l->sa);
}

int mproc__plat_listen_tcp(const char *host, unsigned port,
                           const mproc__keepalive *ka, char *bound,
                           size_t hcap, unsigned *bport,
                           mproc__listener **out) {
  struct addrinfo hints, *res = NULL, *ai;
  struct sockaddr_storage ss;
  mproc__listener *l;
  SOCKET s = INVALID_SOCKET;
  int rc, e = 0, n = sizeof ss;
  char p[16], h[100], ps[16];
  *out = NULL;
  if ((rc = wsa()) != 0)
    return rc;
  snprintf(p, sizeof p, "%u", port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_PASSIVE;
  /* "" is all interfaces only when the user writes it. */
  rc = getaddrinfo(host[0] ? host : NULL, p, &hints, &res);
  if (rc != 0)
    return mproc__err_os(MPROC_EINVAL, rc, "listen on %s:%s", host, p);
  for (ai = res; ai; ai = ai->ai_next) {
    BOOL one = TRUE;
    s = new_socket(ai->ai_family);
    if (s == INVALID_SOCKET) {
      e = WSAGetLastError();
      continue;
    }
    /* Nobody else may bind the same port while we listen. */
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one,
               sizeof one);
    if (bind(s, ai->ai_addr, (int)ai->ai_addrlen) == 0 &&
        listen(s, SOMAXCONN) == 0)
      break;
    e = WSAGetLastError();
    closesocket(s);
    s = INVALID_SOCKET;
  }
  freeaddrinfo(res);
  if (s == INVALID_SOCKET)
    return mproc__err_os(MPROC_EOS, e, "listen on %s:%s", host, p);
  SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  if (getsockname(s, (struct sockaddr *)&ss, &n) != 0 ||
      getnameinfo((struct sockaddr *)&ss, n, h, sizeof h, ps, sizeof ps,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0 ||
      strlen(h) >= hcap) {
    closesocket(s);
    return mproc__err(MPROC_EOS, "listen on %s:%s: no bound address", host,
                      p);
  }
  if (!(l = calloc(1, sizeof *l))) {
    closesocket(s);
    return mproc__err(MPROC_ENOMEM, "listener");
  }
  l->sock = s;
  l->ka = *ka;
  l->next = INVALID_HANDLE_VALUE;
  strcpy(bound, h);
  *bport = (unsigned)strtoul(ps, NULL, 10);
  *out = l;
  return 0;
}

int mproc__plat_listen_local(const char *want, char *addr, size_t cap,
                             mproc__listener **out) {
  mproc__listener *l;
  char name8[160];
  int rc;
  *out = NULL;
  if (want && strncmp(want, "\\\\.\\pipe\\", 9) != 0)
    return mproc__err(MPROC_EINVAL,
                      "listen on %s: not a \\\\.\\pipe\\ name nor "
                      "host:port",
                      want);
  if (want) {
    if (strlen(want) >= sizeof name8)
      return mproc__err(MPROC_EINVAL, "pipe name too long");
    strcpy(name8, want);
  } else {
    unsigned long long rnd[2];
    if ((rc = mproc__plat_random(rnd, sizeof rnd)) != 0)
      return rc;
    snprintf(name8, sizeof name8, "\\\\.\\pipe\\mproc-mgr-%lu-%016llx%016llx",
             (unsigned long)GetCurrentProcessId(), rnd[0], rnd[1]);
  }
  if (strlen(name8) >= cap)
    return mproc__err(MPROC_EINVAL, "listen: address too long");
  l = calloc(1, sizeof *l);
  if (!l)
    return mproc__err(MPROC_ENOMEM, "listener");
  l->sock = INVALID_SOCKET;
  l->next = INVALID_HANDLE_VALUE;
  if ((rc = mproc__w32_wide(name8, &l->name)) != 0) {
    free(l);
    return rc;
  }
  /* Owner only: the owner's rights and SYSTEM; no one else. */
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
          L"D:P(A;;GA;;;OW)(A;;GA;;;SY)", SDDL_REVISION_1, &l->sd, NULL)) {
    rc = mproc__w32_fail(MPROC_EOS, GetLastError(), "security descriptor");
    mproc__plat_listener_free(l);
    return rc;
  }
  l->sa.nLength = sizeof l->sa;
  l->sa.lpSecurityDescriptor = l->sd;
  l->sa.bInheritHandle = FALSE;
  l->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
  l->next = new_instance(l, 1);
  if (!l->stop || l->next == INVALID_HANDLE_VALUE) {
    rc = mproc__w32_fail(MPROC_EOS, GetLastError(), "CreateNamedPipeW(%s)",
                         name8);
    mproc__plat_listener_free(l);
    return rc;
  }
  strcpy(addr, name8);
  *out = l;
  return 0;
}

/* select() in short slices so that listener_stop is seen promptly. */
static int accept_tcp(mproc__listener *l, mproc__handle *h) {
  for (;;) {
    fd_set rd;
    struct timeval tv;
    SOCKET c;
    int r;
    if (l->stopped)
      return mproc__err(MPROC_ECLOSED, "accept: the listener is stopped");
    FD_ZERO(&rd);
    FD_SET(l->sock, &rd);
    tv.tv_sec = 0;
    tv.tv_usec = 50000;
    r = select(0, &rd, NULL, NULL, &tv);
    if (r == SOCKET_ERROR)
      return sock_fail(MPROC_EOS, "select (accept)", NULL);
    if (r == 0)
      continue;
    c = accept(l->sock, NULL, NULL);
    if (c == INVALID_SOCKET) {
      int e = WSAGetLastError();
      if (e == WSAECONNRESET || e == WSAEWOULDBLOCK || e == WSAEINTR)
        continue;
      if (e == WSAEMFILE || e == WSAENOBUFS) {
        Sleep(50); /* out of sockets: back off */
        continue;
      }
      return mproc__err_os(MPROC_EOS, e, "accept");
    }
    if (l->stopped) {
      closesocket(c);
      continue;
    }
    return sock_wrap(c, &l->ka, h);
  }
}

int mproc__plat_accept(mproc__listener *l, mproc__handle *h) {
  OVERLAPPED ov;
  HANDLE ev, got;
  DWORD e, n;
  int rc = 0;
  if (l->sock != INVALID_SOCKET)
    return accept_tcp(l, h);
  ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!ev)
    return mproc__w32_fail(MPROC_EOS, GetLastError(), "CreateEvent");
  for (;;) {
    if (WaitForSingleObject(l->stop, 0) == WAIT_OBJECT_0) {
      rc = mproc__err(MPROC_ECLOSED, "accept: the listener is stopped");
      break;
    }
    if (l->next == INVALID_HANDLE_VALUE) {
      l->next = new_instance(l, 0);
      if (l->next == INVALID_HANDLE_VALUE) {
        rc = mproc__w32_fail(MPROC_EOS, GetLastError(), "CreateNamedPipeW");
        break;
      }
    }
    memset(&ov, 0, sizeof ov);
    ResetEvent(ev);
    ov.hEvent = ev;
    if (ConnectNamedPipe(l->next, &ov)) {
      e = ERROR_PIPE_CONNECTED;
    } else {
      e = GetLastError();
      if (e == ERROR_IO_PENDING) {
        HANDLE objs[2];
        DWORD w;
        objs[0] = ev;
        objs[1] = l->stop;
        w = WaitForMultipleObjects(2, objs, FALSE, INFINITE);
        if (w != WAIT_OBJECT_0) {
          CancelIoEx(l->next, &ov);
          GetOverlappedResult(l->next, &ov, &n, TRUE);
          continue; /* stopped: reported at the top */
        }
        e = GetOverlappedResult(l->next, &ov, &n, FALSE) ? ERROR_PIPE_CONNECTED
                                                         : GetLastError();
      }
    }
    if (e == ERROR_PIPE_CONNECTED) {
      got = l->next;
      /* The next instance at once: were this client's instance closed
       * before another exists, the name would vanish and a connecting
       * client would see "file not found". */
      l->next = new_instance(l, 0);
      *h = MPROC__W32_M(got);
      break;
    }
    if (e == ERROR_NO_DATA) { /* the client came and went: next one */
      DisconnectNamedPipe(l->next);
      continue;
    }
    rc = mproc__w32_fail(MPROC_EOS, e, "ConnectNamedPipe");
    break;
  }
  CloseHandle(ev);
  return rc;
}

void mproc__plat_listener_stop(mproc__listener *l) {
  l->stopped = 1;
  if (l->stop)
    SetEvent(l->stop);
}

void mproc__plat_listener_free(mproc__listener *l) {
  if (!l)
    return;
  if (l->sock != INVALID_SOCKET)
    closesocket(l->sock);
  if (l->next != INVALID_HANDLE_VALUE)
    CloseHandle(l->next);
  if (l->stop)
    CloseHandle(l->stop);
  if (l->sd)
    LocalFree(l->sd);
  free(l->name);
  free(l);
}

/* Connect s to sa by deadline (monotonic, < 0 none): 0 or a WSA error. */
static int connect_by(SOCKET s, const struct sockaddr *sa, int len,
                      double deadline) {
  u_long on = 1, off = 0;
  int e = 0, elen = sizeof e;
  if (ioctlsocket(s, FIONBIO, &on) != 0)
    return WSAGetLastError();
  if (connect(s, sa, len) != 0) {
    e = WSAGetLastError();
    if (e != WSAEWOULDBLOCK && e != WSAEINPROGRESS)
      return e;
    for (;;) {
      fd_set wr, ex;
      struct timeval tv, *ptv = NULL;
      int r;
      if (deadline >= 0) {
        double left = deadline - mproc__plat_monotonic();
        if (left <= 0)
          return WSAETIMEDOUT;
        if (left > 1.0)
          left = 1.0; /* re-check the clock every second */
        tv.tv_sec = (long)left;
        tv.tv_usec = (long)((left - (double)tv.tv_sec) * 1e6) + 1;
        ptv = &tv;
      }
      FD_ZERO(&wr);
      FD_ZERO(&ex);
      FD_SET(s, &wr);
      FD_SET(s, &ex); /* a failed connect is reported here */
      r = select(0, NULL, &wr, &ex, ptv);
      if (r == SOCKET_ERROR)
        return WSAGetLastError();
      if (r > 0)
        break;
    }
    e = 0;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&e, &elen) != 0)
      return WSAGetLastError();
    if (e)
      return e;
  }
  if (ioctlsocket(s, FIONBIO, &off) != 0) /* blocking again */
    return WSAGetLastError();
  return 0;
}

int mproc__plat_connect_tcp(const char *addr, const char *host,
                            unsigned port, const mproc__keepalive *ka,
                            double timeout, mproc__handle *h) {
  double deadline = timeout < 0 ? -1 : mproc__plat_monotonic() + timeout;
  struct addrinfo hints, *res = NULL, *ai;
  SOCKET s = INVALID_SOCKET;
  char p[16];
  int rc, e = 0;
  if ((rc = wsa()) != 0)
    return rc;
  snprintf(p, sizeof p, "%u", port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  rc = getaddrinfo(host, p, &hints, &res);
  if (rc != 0)
    return mproc__err_os(MPROC_EINVAL, rc, "connect to %s", addr);
  for (ai = res; ai; ai = ai->ai_next) {
    s = new_socket(ai->ai_family);
    if (s == INVALID_SOCKET) {
      e = WSAGetLastError();
      continue;
    }
    if ((e = connect_by(s, ai->ai_addr, (int)ai->ai_addrlen, deadline)) == 0)
      break;
    closesocket(s);
    s = INVALID_SOCKET;
    if (e == WSAETIMEDOUT && deadline >= 0 &&
        mproc__plat_monotonic() >= deadline)
      break; /* the time is spent: no next address */
  }
  freeaddrinfo(res);
  if (s == INVALID_SOCKET && e == WSAETIMEDOUT && deadline >= 0 &&
      mproc__plat_monotonic() >= deadline)
    return mproc__err(MPROC_ETIMEDOUT, "connect to %s: no answer within %g s",
                      addr, timeout);
  if (s == INVALID_SOCKET)
    return mproc__err_os(e == WSAECONNREFUSED ? MPROC_EEOF : MPROC_EOS, e,
                         "connect to %s", addr);
  return sock_wrap(s, ka, h);
}

int mproc__plat_connect_local(const char *addr, double timeout,
                              mproc__handle *h) {
  double deadline = timeout < 0 ? -1 : mproc__plat_monotonic() + timeout;
  wchar_t *name;
  HANDLE fh;
  int rc;
  if (strncmp(addr, "\\\\.\\pipe\\", 9) != 0)
    return mproc__err(MPROC_EINVAL,
                      "connect to %s: not a \\\\.\\pipe\\ name nor "
                      "host:port",
                      addr);
  if ((rc = mproc__w32_wide(addr, &name)) != 0)
    return rc;
  for (;;) {
    DWORD e;
    fh = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                     OPEN_EXISTING,
                     FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT |
                         SECURITY_ANONYMOUS,
                     NULL);
    if (fh != INVALID_HANDLE_VALUE)
      break;
    e = GetLastError();
    if (e == ERROR_PIPE_BUSY &&
        (deadline < 0 || mproc__plat_monotonic() < deadline)) {
      WaitNamedPipeW(name, 50);
      continue;
    }
    free(name);
    return mproc__w32_fail(e == ERROR_FILE_NOT_FOUND ? MPROC_EEOF : MPROC_EOS,
                           e, "connect to %s", addr);
  }
  free(name);
  *h = MPROC__W32_M(fh);
  return 0;
}
