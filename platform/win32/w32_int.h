/*
 * win32/w32_int.h - what the files of platform/win32/ share (private).
 *
 * Map: the <windows.h> preamble, HANDLE <-> mproc__handle casts, the
 * Win32-error -> MPROC_E* translation and failure recording (error.c), the
 * per-thread cache of event objects for overlapped I/O (error.c), UTF-8 <->
 * UTF-16 conversion (error.c), and the executable-section check of a loaded
 * PE image (target.c).
 */
#ifndef MPROC_W32_INT_H
#define MPROC_W32_INT_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#include <windows.h>

#include "mproc_int.h"

#ifdef _MSC_VER
#define MPROC__TLS __declspec(thread)
#else
#define MPROC__TLS _Thread_local
#endif

#define MPROC__W32_H(h) ((HANDLE)(h))
#define MPROC__W32_M(h) ((mproc__handle)(h))

/*
 * A TCP socket (the Manager's "host:port", listen.c) travels as a stream
 * handle with its low bit set (kernel handles are multiples of 4; NOHANDLE,
 * all bits set, is not one).  stream.c and wait.c hand such handles to
 * these (listen.c): blocking recv / send, closesocket, and select() over n
 * socket items (ms may be INFINITE; fills ready[], returns how many).
 */
#define MPROC__W32_SOCKTAG 1
#define MPROC__W32_IS_SOCK(h)                                                 \
  ((h) != MPROC__NOHANDLE && ((uintptr_t)(h) & 3) == MPROC__W32_SOCKTAG)
int mproc__w32_sock_read(mproc__handle h, void *buf, size_t len, size_t *got);
int mproc__w32_sock_write(mproc__handle h, const void *buf, size_t len);
int mproc__w32_sock_close(mproc__handle h);
int mproc__w32_sock_wait(const mproc__waititem *items, size_t n, DWORD ms,
                         int *ready);

/*
 * The MPROC_E* code for a Win32 error: a vanished pipe peer is MPROC_EEOF,
 * lack of memory MPROC_ENOMEM, an invalid handle MPROC_ECLOSED; any other
 * error gives fallback (usually MPROC_EOS).
 */
int mproc__w32_code(DWORD err, int fallback);
/* Record a failure for err (translated as above) with a printf detail. */
int mproc__w32_fail(int fallback, DWORD err, const char *fmt, ...);

/*
 * The calling thread's manual-reset event for blocking overlapped I/O
 * (ReadFile/WriteFile/ConnectNamedPipe + GetOverlappedResult(TRUE)), or
 * NULL with the failure recorded.  Closed when the thread ends.
 */
HANDLE mproc__w32_io_event(void);
/*
 * n (<= MAXIMUM_WAIT_OBJECTS) further manual-reset events of the calling
 * thread, for the zero-byte reads of mproc__plat_wait.  0 or an error.
 */
int mproc__w32_wait_events(HANDLE *ev, size_t n);

/* UTF-8 -> a malloc'ed UTF-16 string; MPROC_EINVAL if not valid UTF-8. */
int mproc__w32_wide(const char *s, wchar_t **out);
/* UTF-16 -> UTF-8 into buf; MPROC_ERANGE if it does not fit. */
int mproc__w32_utf8(const wchar_t *w, char *buf, size_t cap);

#endif /* MPROC_W32_INT_H */
