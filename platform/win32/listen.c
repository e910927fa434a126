/*
 * win32/listen.c - the Manager's listening endpoints: overlapped byte-mode
 * named pipes "\\.\pipe\name" with an owner-only DACL that reject remote
 * clients.  (TCP "host:port" is POSIX-only for now: MPROC_ENOTSUP here.)
 *
 * Map: listen (make the first instance, FILE_FLAG_FIRST_PIPE_INSTANCE so
 * nobody else can own the name), accept (overlapped ConnectNamedPipe on the
 * waiting instance, then a fresh instance for the next client; a stop event
 * ends a blocked accept), listener_free, connect (CreateFileW, waiting while
 * every instance is busy).
 *
 * The handles are overlapped, as a Pipe's (stream.c reads and writes them).
 */
#include <windows.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"
#include "w32_int.h"

#define BUFSZ 65536

struct mproc__listener {
  wchar_t *name;
  HANDLE next;  /* the instance waiting for the next client */
  HANDLE stop;  /* manual-reset: listener_stop */
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

int mproc__plat_listen(const char *want, char *addr, size_t cap,
                       mproc__listener **out) {
  mproc__listener *l;
  char name8[160];
  int rc;
  *out = NULL;
  if (want && strncmp(want, "\\\\.\\pipe\\", 9) != 0)
    return mproc__err(MPROC_ENOTSUP,
                      "listen on %s: only \\\\.\\pipe\\ names on Windows "
                      "for now",
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

int mproc__plat_accept(mproc__listener *l, mproc__handle *h) {
  OVERLAPPED ov;
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL), got;
  DWORD e, n;
  int rc = 0;
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

void mproc__plat_listener_stop(mproc__listener *l) { SetEvent(l->stop); }

void mproc__plat_listener_free(mproc__listener *l) {
  if (!l)
    return;
  if (l->next != INVALID_HANDLE_VALUE)
    CloseHandle(l->next);
  if (l->stop)
    CloseHandle(l->stop);
  if (l->sd)
    LocalFree(l->sd);
  free(l->name);
  free(l);
}

int mproc__plat_connect(const char *addr, double timeout, mproc__handle *h) {
  double deadline = timeout < 0 ? -1 : mproc__plat_monotonic() + timeout;
  wchar_t *name;
  HANDLE fh;
  int rc;
  if (strncmp(addr, "\\\\.\\pipe\\", 9) != 0)
    return mproc__err(MPROC_ENOTSUP,
                      "connect to %s: only \\\\.\\pipe\\ names on Windows "
                      "for now",
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
