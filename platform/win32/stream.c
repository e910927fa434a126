/*
 * win32/stream.c - the two ends of a Pipe: an overlapped byte-mode named
 * pipe, connected to itself.
 *
 * Map: stream_pair (CreateNamedPipeW with a unique name + CreateFileW +
 * ConnectNamedPipe), stream_read (one overlapped ReadFile, waited for),
 * stream_write / stream_write2 (overlapped WriteFile until every byte is
 * written), close (CloseHandle).  These are byte streams
 * (stream_records is 0): lib/conn.c reads a message's header first.
 *
 * Both ends are opened with FILE_FLAG_OVERLAPPED (platform.h: streams are
 * overlapped in every process), so mproc__plat_wait can arm zero-byte reads
 * on them.  Blocking I/O here is an overlapped operation on the calling
 * thread's cached event followed by GetOverlappedResult(wait = TRUE).  Both
 * ends are private (no inheritable security attributes).  A peer that has
 * gone (every copy of its end closed, or its process ended) reads as
 * ERROR_BROKEN_PIPE and writes as ERROR_NO_DATA / ERROR_BROKEN_PIPE: both
 * MPROC_EEOF.  A tagged socket handle (the Manager's TCP connections,
 * w32_int.h) goes to listen.c's socket functions instead.
 */
#include "w32_int.h"

#include <stdio.h>
#include <string.h>

/* Pipe buffer (a hint for the kernel's quota, not a limit on writes). */
#define STREAM_BUFSIZE 65536
/* The largest single ReadFile / WriteFile request. */
#define STREAM_CHUNK ((DWORD)1 << 30)
/* write2 copies pieces that together are this small into one write. */
#define WRITE2_COPY 4096

static volatile LONG pipe_counter;

/* Connect the server end srv, whose client end has just been opened. */
static int connect_server(HANDLE srv) {
  OVERLAPPED ov;
  DWORD n;
  HANDLE ev = mproc__w32_io_event();
  if (!ev)
    return mproc__plat_errrec()->code;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = ev;
  if (ConnectNamedPipe(srv, &ov))
    return 0;
  switch (GetLastError()) {
  case ERROR_PIPE_CONNECTED:
    return 0;
  case ERROR_IO_PENDING:
    if (GetOverlappedResult(srv, &ov, &n, TRUE))
      return 0;
    /* fall through */
  default:
    return mproc__w32_fail(MPROC_EOS, GetLastError(), "ConnectNamedPipe");
  }
}

int mproc__plat_stream_pair(mproc__handle *a, mproc__handle *b, int duplex) {
  DWORD openmode = (duplex ? PIPE_ACCESS_DUPLEX : PIPE_ACCESS_INBOUND) |
                   FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE;
  DWORD pipemode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                   PIPE_REJECT_REMOTE_CLIENTS;
  /* The simplex write end may still query the pipe (PeekNamedPipe). */
  DWORD access = duplex ? GENERIC_READ | GENERIC_WRITE
                        : GENERIC_WRITE | FILE_READ_ATTRIBUTES;
  int attempt, rc;

  for (attempt = 0; attempt < 16; attempt++) {
    char name8[96];
    wchar_t name[96];
    unsigned long long rnd;
    HANDLE srv, cli;
    DWORD e, i;
    ULONG client_pid;

    rc = mproc__plat_random(&rnd, sizeof rnd);
    if (rc)
      return rc;
    snprintf(name8, sizeof name8, "\\\\.\\pipe\\mproc-%lu-%lu-%016llx",
             (unsigned long)GetCurrentProcessId(),
             (unsigned long)InterlockedIncrement(&pipe_counter), rnd);
    for (i = 0; name8[i]; i++)
      name[i] = (wchar_t)name8[i];
    name[i] = L'\0';

    /* Default security: the handle cannot be inherited. */
    srv = CreateNamedPipeW(name, openmode, pipemode, 1,
                           duplex ? STREAM_BUFSIZE : 0, STREAM_BUFSIZE, 0,
                           NULL);
    if (srv == INVALID_HANDLE_VALUE) {
      e = GetLastError();
      if (e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY)
        continue; /* the name is taken: another one */
      return mproc__w32_fail(MPROC_EOS, e, "CreateNamedPipeW(%s)", name8);
    }
    /* Anonymous impersonation level: the server end learns nothing. */
    cli = CreateFileW(name, access, 0, NULL, OPEN_EXISTING,
                      FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT |
                          SECURITY_ANONYMOUS,
                      NULL);
    if (cli == INVALID_HANDLE_VALUE) {
      e = GetLastError();
      CloseHandle(srv);
      if (e == ERROR_PIPE_BUSY)
        continue; /* someone else connected first: another name */
      return mproc__w32_fail(MPROC_EOS, e, "CreateFileW(%s)", name8);
    }
    rc = connect_server(srv);
    if (rc) {
      CloseHandle(cli);
      CloseHandle(srv);
      return rc;
    }
    /* Paranoia: the client must be this process. */
    if (GetNamedPipeClientProcessId(srv, &client_pid) &&
        client_pid != GetCurrentProcessId()) {
      CloseHandle(cli);
      CloseHandle(srv);
      continue;
    }
    *a = MPROC__W32_M(srv);
    *b = MPROC__W32_M(cli);
    return 0;
  }
  return mproc__err(MPROC_EOS, "CreateNamedPipeW: no free pipe name");
}

static int io_fail(DWORD e, const char *what) {
  if (e == ERROR_ACCESS_DENIED)
    return mproc__err_os(MPROC_EACCESS, (long)e, "%s", what);
  return mproc__w32_fail(MPROC_EOS, e, "%s", what);
}

int mproc__plat_stream_read(mproc__handle h, void *buf, size_t len,
                            size_t *got) {
  HANDLE fh = MPROC__W32_H(h);
  DWORD want = len > STREAM_CHUNK ? STREAM_CHUNK : (DWORD)len;
  HANDLE ev = mproc__w32_io_event();
  *got = 0;
  if (h == MPROC__NOHANDLE)
    return mproc__err(MPROC_ECLOSED, "ReadFile: no handle");
  if (!ev)
    return mproc__plat_errrec()->code;
  if (len == 0)
    return mproc__err(MPROC_EINVAL, "ReadFile: zero-length read");
  if (MPROC__W32_IS_SOCK(h))
    return mproc__w32_sock_read(h, buf, len, got);
  for (;;) {
    OVERLAPPED ov;
    DWORD n = 0;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    if (!ReadFile(fh, buf, want, NULL, &ov)) {
      DWORD e = GetLastError();
      if (e != ERROR_IO_PENDING && e != ERROR_MORE_DATA)
        return io_fail(e, "ReadFile");
    }
    if (!GetOverlappedResult(fh, &ov, &n, TRUE)) {
      DWORD e = GetLastError();
      if (e != ERROR_MORE_DATA) /* a message-mode pipe: part of it */
        return io_fail(e, "ReadFile");
    }
    if (n > 0) {
      *got = n;
      return 0;
    }
    /* A zero-length message (never written by this library): again. */
  }
}

static int write_all(HANDLE fh, HANDLE ev, const char *p, size_t len) {
  while (len > 0) {
    OVERLAPPED ov;
    DWORD n = 0;
    DWORD chunk = len > STREAM_CHUNK ? STREAM_CHUNK : (DWORD)len;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    if (!WriteFile(fh, p, chunk, NULL, &ov)) {
      DWORD e = GetLastError();
      if (e != ERROR_IO_PENDING)
        return io_fail(e, "WriteFile");
    }
    if (!GetOverlappedResult(fh, &ov, &n, TRUE))
      return io_fail(GetLastError(), "WriteFile");
    if (n == 0)
      return mproc__err(MPROC_EOS, "WriteFile: no progress");
    p += n;
    len -= n;
  }
  return 0;
}

int mproc__plat_stream_write(mproc__handle h, const void *buf, size_t len) {
  HANDLE ev;
  if (h == MPROC__NOHANDLE)
    return mproc__err(MPROC_ECLOSED, "WriteFile: no handle");
  if (len == 0)
    return 0;
  if (MPROC__W32_IS_SOCK(h))
    return mproc__w32_sock_write(h, buf, len);
  ev = mproc__w32_io_event();
  if (!ev)
    return mproc__plat_errrec()->code;
  return write_all(MPROC__W32_H(h), ev, buf, len);
}

int mproc__plat_stream_write2(mproc__handle h, const void *a, size_t na,
                              const void *b, size_t nb) {
  HANDLE ev;
  int rc;
  if (h == MPROC__NOHANDLE)
    return mproc__err(MPROC_ECLOSED, "WriteFile: no handle");
  if (na + nb == 0)
    return 0;
  if (MPROC__W32_IS_SOCK(h) && na + nb > WRITE2_COPY) {
    rc = mproc__w32_sock_write(h, a, na);
    return rc ? rc : mproc__w32_sock_write(h, b, nb);
  }
  ev = mproc__w32_io_event();
  if (!ev)
    return mproc__plat_errrec()->code;
  if (na + nb <= WRITE2_COPY) {
    char one[WRITE2_COPY];
    if (na)
      memcpy(one, a, na);
    if (nb)
      memcpy(one + na, b, nb);
    if (MPROC__W32_IS_SOCK(h))
      return mproc__w32_sock_write(h, one, na + nb);
    return write_all(MPROC__W32_H(h), ev, one, na + nb);
  }
  /* The library holds the connection's lock: two writes are one message. */
  rc = write_all(MPROC__W32_H(h), ev, a, na);
  if (rc == 0)
    rc = write_all(MPROC__W32_H(h), ev, b, nb);
  return rc;
}

/* Byte-mode pipes: a read may return any part of what was written. */
int mproc__plat_stream_records(mproc__handle h) {
  (void)h;
  return 0;
}

size_t mproc__plat_stream_bufsize(mproc__handle h) {
  DWORD out = 0, in = 0;
  if (!GetNamedPipeInfo((HANDLE)h, NULL, &out, &in, NULL))
    return 0;
  return (size_t)(out < in ? out : in);
}

int mproc__plat_stream_read_record(mproc__handle h, void *buf, size_t len,
                                   size_t *got) {
  return mproc__plat_stream_read(h, buf, len, got); /* never called */
}

int mproc__plat_stream_read_record2(mproc__handle h, void *a, size_t na,
                                    void *b, size_t nb, size_t *got) {
  (void)b;
  (void)nb;
  return mproc__plat_stream_read(h, a, na, got); /* never called */
}

int mproc__plat_close(mproc__handle h) {
  if (h == MPROC__NOHANDLE)
    return 0;
  if (MPROC__W32_IS_SOCK(h))
    return mproc__w32_sock_close(h);
  if (!CloseHandle(MPROC__W32_H(h)))
    return mproc__w32_fail(MPROC_EOS, GetLastError(), "CloseHandle");
  return 0;
}
