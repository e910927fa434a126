/*
 * error.c - error codes, their messages, and the per-thread detail record.
 */
#include <stdio.h>
#include <string.h>

#include "mproc_int.h"

const char *mproc_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define MPROC__XX(name, value, msg)                                          \
  case MPROC_##name:                                                         \
    return msg;
    MPROC_ERRNO_MAP(MPROC__XX)
#undef MPROC__XX
  default:
    return "unknown error";
  }
}

const char *mproc_errname(int code) {
  switch (code) {
  case 0:
    return "MPROC_OK";
#define MPROC__XX(name, value, msg)                                          \
  case MPROC_##name:                                                         \
    return "MPROC_" #name;
    MPROC_ERRNO_MAP(MPROC__XX)
#undef MPROC__XX
  default:
    return "MPROC_E?";
  }
}

const char *mproc_last_error(void) {
  mproc__errrec *r = mproc__plat_errrec();
  if (r->code == 0 && r->detail[0] == '\0')
    return "no error";
  return r->detail;
}

long mproc_last_oserror(void) { return mproc__plat_errrec()->oserr; }

static int record(int code, long oserr, const char *fmt, va_list ap) {
  mproc__errrec *r = mproc__plat_errrec();
  size_t len;
  r->code = code;
  r->oserr = oserr;
  vsnprintf(r->detail, sizeof r->detail, fmt, ap);
  len = strlen(r->detail);
  if (oserr != 0 && len + 4 < sizeof r->detail) {
    char os[200];
    mproc__plat_oserror_text(oserr, os, sizeof os);
    snprintf(r->detail + len, sizeof r->detail - len, ": %s (%ld)", os,
             oserr);
  }
  return code;
}

int mproc__err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(code, 0, fmt, ap);
  va_end(ap);
  return code;
}

int mproc__err_os(int code, long oserr, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(code, oserr, fmt, ap);
  va_end(ap);
  return code;
}
