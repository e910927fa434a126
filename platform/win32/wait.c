/*
 * win32/wait.c - wait for any of N items (pipe ends, process handles) with
 * a timeout.
 *
 * Map: check (one non-blocking pass: PeekNamedPipe for streams,
 * WaitForSingleObject(0) for processes), arm / disarm (a zero-byte
 * overlapped ReadFile per stream, each with its own event; cancelled with
 * CancelIoEx and collected with GetOverlappedResult before returning),
 * mproc__plat_wait (the loop).
 *
 * A stream is ready when it has bytes or its peer has gone; a process item
 * when its handle is signalled.  A zero-byte read pends until data (or
 * EOF) arrives without consuming anything - the technique of CPython's
 * multiprocessing.connection.wait and libuv.  Where a zero-byte read does
 * not pend (it completes at once although nothing can be read), and when
 * the events and process handles together exceed MAXIMUM_WAIT_OBJECTS, the
 * wait falls back to polling with a short backoff (1 ms growing to 10 ms).
 * Sockets (tagged handles, w32_int.h) are watched with select(): alone,
 * one select() with the timeout; mixed with pipes or processes, by polling.
 */
#include "w32_int.h"

#include <math.h>
#include <string.h>

#define POLL_MIN_MS 1
#define POLL_MAX_MS 10

/* One non-blocking pass.  Returns the number ready or an error. */
static int check(const mproc__waititem *items, size_t n, int *ready) {
  size_t i;
  int count = 0;
  for (i = 0; i < n; i++) {
    HANDLE h = MPROC__W32_H(items[i].h);
    ready[i] = 0;
    /* NOHANDLE is (HANDLE)-1, the pseudo-handle of this very process. */
    if (items[i].h == MPROC__NOHANDLE)
      return mproc__err(MPROC_ECLOSED, "wait item %lu: no handle",
                        (unsigned long)i);
    if (items[i].kind == MPROC__W_STREAM && MPROC__W32_IS_SOCK(items[i].h)) {
      int rc = mproc__w32_sock_wait(&items[i], 1, 0, &ready[i]);
      if (rc < 0)
        return rc;
    } else if (items[i].kind == MPROC__W_STREAM) {
      DWORD avail = 0;
      if (PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL)) {
        ready[i] = avail > 0;
      } else {
        DWORD e = GetLastError();
        if (mproc__w32_code(e, MPROC_EOS) != MPROC_EEOF)
          return mproc__w32_fail(MPROC_EOS, e, "PeekNamedPipe (wait item %lu)",
                                 (unsigned long)i);
        ready[i] = 1; /* EOF is ready: the read will report it */
      }
    } else if (items[i].kind == MPROC__W_PROCESS) {
      DWORD r = WaitForSingleObject(h, 0);
      if (r == WAIT_FAILED)
        return mproc__w32_fail(MPROC_EOS, GetLastError(),
                               "WaitForSingleObject (wait item %lu)",
                               (unsigned long)i);
      ready[i] = r == WAIT_OBJECT_0 || r == WAIT_ABANDONED;
    } else {
      return mproc__err(MPROC_EINVAL, "wait item %lu: unknown kind %d",
                        (unsigned long)i, items[i].kind);
    }
    count += ready[i];
  }
  return count;
}

/* Milliseconds until deadline, rounded up; INFINITE when forever. */
static DWORD ms_left(double timeout, double deadline) {
  double left;
  if (timeout < 0)
    return INFINITE;
  left = (deadline - mproc__plat_monotonic()) * 1000.0;
  if (left <= 0)
    return 0;
  if (left >= (double)(INFINITE - 1))
    return INFINITE - 1;
  return (DWORD)ceil(left);
}

typedef struct armed {
  HANDLE h;
  OVERLAPPED ov;
} armed;

/* Cancel the pending zero-byte reads and wait until they have ended. */
static void disarm(armed *ar, size_t na) {
  size_t k;
  for (k = 0; k < na; k++) {
    DWORD n;
    CancelIoEx(ar[k].h, &ar[k].ov);
    GetOverlappedResult(ar[k].h, &ar[k].ov, &n, TRUE);
  }
}

int mproc__plat_wait(const mproc__waititem *items, size_t n, double timeout,
                     int *ready) {
  armed ar[MAXIMUM_WAIT_OBJECTS];
  HANDLE objs[MAXIMUM_WAIT_OBJECTS];
  HANDLE ev[MAXIMUM_WAIT_OBJECTS];
  double deadline = 0;
  DWORD backoff = POLL_MIN_MS;
  size_t i, nstreams = 0, nprocs = 0, nsocks = 0;
  int count, poll_only;
  static char zero_buf[1];

  if (timeout > 0)
    deadline = mproc__plat_monotonic() + timeout;
  if (n == 0) {
    if (timeout < 0)
      for (;;)
        Sleep(INFINITE);
    Sleep(ms_left(timeout, deadline));
    return 0;
  }
  for (i = 0; i < n; i++) {
    if (items[i].kind == MPROC__W_STREAM)
      nstreams++;
    else
      nprocs++;
    if (items[i].kind == MPROC__W_STREAM && MPROC__W32_IS_SOCK(items[i].h))
      nsocks++;
  }
  if (nsocks == n && n <= 64) /* sockets only: select() waits for them */
    return mproc__w32_sock_wait(items, n, timeout == 0 ? 0
                                          : ms_left(timeout, deadline),
                                ready);
  /* Too many objects for one WaitForMultipleObjects: poll them all. */
  poll_only = nstreams + nprocs > MAXIMUM_WAIT_OBJECTS;
  if (!poll_only && nstreams > 0) {
    count = mproc__w32_wait_events(ev, nstreams);
    if (count < 0)
      return count;
  }

  for (;;) {
    size_t na = 0, nobj = 0;
    int must_poll = poll_only;
    DWORD ms, r;

    count = check(items, n, ready);
    if (count != 0 || timeout == 0)
      return count;
    ms = ms_left(timeout, deadline);
    if (ms == 0)
      return 0;

    if (!poll_only) {
      for (i = 0; i < n; i++) {
        HANDLE h = MPROC__W32_H(items[i].h);
        if (items[i].kind != MPROC__W_STREAM) {
          objs[nobj++] = h;
          continue;
        }
        if (MPROC__W32_IS_SOCK(items[i].h)) {
          must_poll = 1; /* no zero-byte read on a socket: poll it */
          continue;
        }
        memset(&ar[na].ov, 0, sizeof ar[na].ov);
        ar[na].h = h;
        ar[na].ov.hEvent = ev[na];
        if (ReadFile(h, zero_buf, 0, NULL, &ar[na].ov)) {
          /* Completed at once with nothing to read: it does not pend. */
          must_poll = 1;
          continue;
        }
        if (GetLastError() != ERROR_IO_PENDING) {
          /* EOF arrived since check() (the next check() sees it), or this
           * handle cannot be read (then only polling can watch it). */
          must_poll = 1;
          continue;
        }
        objs[nobj++] = ar[na].ov.hEvent;
        na++;
      }
    } else {
      for (i = 0; i < n && nobj < MAXIMUM_WAIT_OBJECTS; i++)
        if (items[i].kind != MPROC__W_STREAM)
          objs[nobj++] = MPROC__W32_H(items[i].h);
    }
    if (must_poll && ms > backoff) {
      ms = backoff;
      backoff = backoff * 2 > POLL_MAX_MS ? POLL_MAX_MS : backoff * 2;
    }

    if (nobj == 0) {
      Sleep(ms);
      r = WAIT_TIMEOUT;
    } else {
      r = WaitForMultipleObjects((DWORD)nobj, objs, FALSE, ms);
    }
    if (r == WAIT_FAILED) {
      DWORD e = GetLastError();
      disarm(ar, na);
      return mproc__w32_fail(MPROC_EOS, e, "WaitForMultipleObjects");
    }
    disarm(ar, na);
    /* check() at the top of the loop fills ready[] from the present state. */
  }
}
