/*
 * win32/error.c - the per-thread error record, Win32 error text and its
 * translation to MPROC_E*, and the other per-thread state of the Win32
 * layer.
 *
 * Map: plat_errrec (a thread-local record), plat_last_oserror
 * (GetLastError), plat_oserror_text (FormatMessageW -> UTF-8),
 * w32_code / w32_fail (translate once, here), w32_io_event /
 * w32_wait_events (event objects cached per thread in fiber-local storage,
 * whose destructor closes them when the thread ends), w32_wide / w32_utf8
 * (UTF-8 <-> UTF-16).
 */
#include "w32_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the error record --------------------------------------------------- */

static MPROC__TLS mproc__errrec errrec;

mproc__errrec *mproc__plat_errrec(void) { return &errrec; }

long mproc__plat_last_oserror(void) { return (long)GetLastError(); }

void mproc__plat_oserror_text(long oserr, char *buf, size_t cap) {
  wchar_t w[512];
  char tmp[1536];
  DWORD n, i;
  size_t len;
  int m;

  if (cap == 0)
    return;
  buf[0] = '\0';
  n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM |
                         FORMAT_MESSAGE_IGNORE_INSERTS,
                     NULL, (DWORD)oserr, 0, w, sizeof w / sizeof w[0], NULL);
  if (n == 0) {
    snprintf(buf, cap, "unknown Windows error");
    return;
  }
  /* One line, without the trailing ".\r\n" that Windows messages carry. */
  for (i = 0; i < n; i++)
    if (w[i] == L'\r' || w[i] == L'\n')
      w[i] = L' ';
  while (n > 0 && (w[n - 1] == L' ' || w[n - 1] == L'.'))
    n--;
  w[n] = L'\0';
  m = WideCharToMultiByte(CP_UTF8, 0, w, -1, tmp, (int)sizeof tmp, NULL,
                          NULL);
  if (m <= 0) {
    snprintf(buf, cap, "unknown Windows error");
    return;
  }
  len = strlen(tmp);
  if (len >= cap) {
    /* Cut at a UTF-8 character boundary. */
    len = cap - 1;
    while (len > 0 && ((unsigned char)tmp[len] & 0xC0) == 0x80)
      len--;
  }
  memcpy(buf, tmp, len);
  buf[len] = '\0';
}

int mproc__w32_code(DWORD err, int fallback) {
  switch (err) {
  case ERROR_BROKEN_PIPE:
  case ERROR_NO_DATA:
  case ERROR_PIPE_NOT_CONNECTED:
    return MPROC_EEOF;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
  case ERROR_NO_SYSTEM_RESOURCES:
    return MPROC_ENOMEM;
  case ERROR_INVALID_HANDLE:
    return MPROC_ECLOSED;
  default:
    return fallback;
  }
}

int mproc__w32_fail(int fallback, DWORD err, const char *fmt, ...) {
  char detail[256];
  va_list ap;
  int code = mproc__w32_code(err, fallback);
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  if (code == MPROC_EEOF)
    return mproc__err_os(code, (long)err, "%s: the peer has gone", detail);
  return mproc__err_os(code, (long)err, "%s", detail);
}

/* ---- per-thread event objects ------------------------------------------- */

typedef struct tcache {
  HANDLE io;
  HANDLE wait[MAXIMUM_WAIT_OBJECTS];
  size_t nwait;
} tcache;

static INIT_ONCE fls_once = INIT_ONCE_STATIC_INIT;
static DWORD fls_index = FLS_OUT_OF_INDEXES;

static VOID WINAPI tcache_free(PVOID p) {
  tcache *t = p;
  size_t i;
  if (!t)
    return;
  if (t->io)
    CloseHandle(t->io);
  for (i = 0; i < t->nwait; i++)
    CloseHandle(t->wait[i]);
  HeapFree(GetProcessHeap(), 0, t);
}

static BOOL CALLBACK fls_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)param;
  (void)ctx;
  fls_index = FlsAlloc(tcache_free);
  return TRUE;
}

static tcache *get_tcache(void) {
  tcache *t;
  InitOnceExecuteOnce(&fls_once, fls_init, NULL, NULL);
  if (fls_index == FLS_OUT_OF_INDEXES) {
    mproc__err(MPROC_ENOMEM, "FlsAlloc: no fiber-local storage index left");
    return NULL;
  }
  t = FlsGetValue(fls_index);
  if (t)
    return t;
  t = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof *t);
  if (!t) {
    mproc__err(MPROC_ENOMEM, "per-thread state");
    return NULL;
  }
  if (!FlsSetValue(fls_index, t)) {
    DWORD e = GetLastError();
    HeapFree(GetProcessHeap(), 0, t);
    mproc__w32_fail(MPROC_EOS, e, "FlsSetValue");
    return NULL;
  }
  return t;
}

HANDLE mproc__w32_io_event(void) {
  tcache *t = get_tcache();
  if (!t)
    return NULL;
  if (!t->io) {
    t->io = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!t->io) {
      mproc__w32_fail(MPROC_EOS, GetLastError(), "CreateEventW");
      return NULL;
    }
  }
  return t->io;
}

int mproc__w32_wait_events(HANDLE *ev, size_t n) {
  tcache *t = get_tcache();
  size_t i;
  if (!t)
    return mproc__plat_errrec()->code;
  if (n > MAXIMUM_WAIT_OBJECTS)
    return mproc__err(MPROC_EINVAL, "more than %d wait events",
                      MAXIMUM_WAIT_OBJECTS);
  while (t->nwait < n) {
    HANDLE e = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!e)
      return mproc__w32_fail(MPROC_EOS, GetLastError(), "CreateEventW");
    t->wait[t->nwait++] = e;
  }
  for (i = 0; i < n; i++)
    ev[i] = t->wait[i];
  return 0;
}

/* ---- UTF-8 <-> UTF-16 ---------------------------------------------------- */

int mproc__w32_wide(const char *s, wchar_t **out) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  wchar_t *w;
  *out = NULL;
  if (n <= 0)
    return mproc__err(MPROC_EINVAL, "not valid UTF-8: '%s'", s);
  w = malloc((size_t)n * sizeof *w);
  if (!w)
    return mproc__err(MPROC_ENOMEM, "UTF-16 conversion");
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
    free(w);
    return mproc__err(MPROC_EINVAL, "not valid UTF-8: '%s'", s);
  }
  *out = w;
  return 0;
}

int mproc__w32_utf8(const wchar_t *w, char *buf, size_t cap) {
  int n;
  if (cap == 0)
    return mproc__err(MPROC_ERANGE, "UTF-8 conversion: no room");
  n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf,
                          cap > INT_MAX ? INT_MAX : (int)cap, NULL, NULL);
  if (n <= 0) {
    buf[0] = '\0';
    return mproc__err(MPROC_ERANGE, "UTF-8 conversion: %lu bytes are too few",
                      (unsigned long)cap);
  }
  return 0;
}
