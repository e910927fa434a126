/*
 * posix/error.c - the per-thread error record and errno text.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <string.h>

#include "mproc_int.h"

static _Thread_local mproc__errrec errrec;

mproc__errrec *mproc__plat_errrec(void) { return &errrec; }

long mproc__plat_last_oserror(void) { return errno; }

void mproc__plat_oserror_text(long oserr, char *buf, size_t cap) {
  if (cap == 0)
    return;
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  {
    /* The GNU strerror_r may return a static string instead of filling
     * buf. */
    const char *s = strerror_r((int)oserr, buf, cap);
    if (s != buf) {
      strncpy(buf, s, cap - 1);
      buf[cap - 1] = '\0';
    }
  }
#else
  if (strerror_r((int)oserr, buf, cap) != 0)
    buf[0] = '\0';
#endif
  buf[cap - 1] = '\0';
}
