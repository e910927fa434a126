/*
 * buf.c - the growable byte buffer that the codec and the connection
 * framing write into.  It may start on the caller's storage (a stack
 * array for a small message) and moves to the heap when it outgrows it.
 * Also the one "make room for one more element" of the growable arrays
 * (the spawn context's handles and objects, the process table).
 */
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"

int mproc__buf_reserve(mproc__buf *b, size_t extra) {
  size_t need, cap;
  unsigned char *p;
  if (extra > (size_t)-1 - b->len)
    return mproc__err(MPROC_ENOMEM, "buffer size overflows size_t");
  need = b->len + extra;
  if (need <= b->cap)
    return 0;
  /* Grow geometrically so that appending n bytes costs O(n) overall. */
  cap = b->cap < 64 ? 64 : b->cap;
  while (cap < need) {
    if (cap > (size_t)-1 / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  if (b->borrowed) {
    p = (unsigned char *)malloc(cap);
    if (p && b->len)
      memcpy(p, b->p, b->len);
  } else {
    p = (unsigned char *)realloc(b->p, cap);
  }
  if (!p)
    return mproc__err(MPROC_ENOMEM, "cannot grow a buffer to %lu bytes",
                      (unsigned long)cap);
  b->p = p;
  b->borrowed = 0;
  b->cap = cap;
  return 0;
}

int mproc__buf_append(mproc__buf *b, const void *p, size_t n) {
  int rc;
  if (n == 0)
    return 0;
  rc = mproc__buf_reserve(b, n);
  if (rc != 0)
    return rc;
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

void mproc__buf_init_on(mproc__buf *b, void *storage, size_t cap) {
  b->p = (unsigned char *)storage;
  b->len = 0;
  b->cap = storage ? cap : 0;
  b->borrowed = storage != NULL;
}

void mproc__buf_free(mproc__buf *b) {
  if (!b->borrowed)
    free(b->p);
  b->borrowed = 0;
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
}

int mproc__array_room(void *arrayp, size_t *cap, size_t n, size_t elem,
                      size_t first, const char *what) {
  size_t ncap;
  void *p, *old;
  if (n < *cap)
    return 0;
  ncap = *cap ? *cap * 2 : first;
  if (ncap < *cap || ncap > (size_t)-1 / elem)
    return mproc__err(MPROC_ENOMEM, "%s: too many elements", what);
  /* The T * is read and written as bytes: no void ** aliasing. */
  memcpy(&old, arrayp, sizeof old);
  p = realloc(old, ncap * elem);
  if (!p)
    return mproc__err(MPROC_ENOMEM, "%s: no memory for %zu elements", what,
                      ncap);
  memcpy(arrayp, &p, sizeof p);
  *cap = ncap;
  return 0;
}
