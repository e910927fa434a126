/*
 * spawn.c - the spawn context and the handshake's messages (see
 * spawnctx.h).
 *
 * In the parent every object in the arguments is exported as
 * [type name, plain description]; the handles it names are collected once
 * each.  In the child (child.c holds the import half: it knows every
 * type) the description is rebuilt into an object, taking its handles
 * from here; no object may claim the bootstrap channel or the parent
 * sentinel: a hostile or broken bootstrap cannot make the child close the
 * channel its reply goes on.  spawn.c stands on runtime.c only; the
 * object types stand on it.
 *
 * The handshake (hello, bootstrap, reply) does not use Connections: each
 * read waits for readiness with the time left to one deadline, a header
 * above the caller's cap is refused before anything is allocated, and a
 * body's buffer grows with the bytes that arrive, so neither side can be
 * held or made to allocate by a peer that lies or stalls.
 */
#include <stdlib.h>
#include <string.h>

#include "spawnctx.h"

static int export_obj(mproc__codec_ctx *ctx, const mproc__objtype *type,
                      void *obj, mproc_value **plain) {
  mproc__spawn *sp = (mproc__spawn *)ctx;
  mproc_value *inner = NULL;
  int rc;
  if (!type->spawn_export)
    return mproc__err(MPROC_EINHERIT,
                      "%s objects should only be shared between processes "
                      "through inheritance",
                      type->name);
  rc = type->spawn_export(obj, sp, &inner);
  if (rc)
    return rc;
  *plain = mproc_build("[sO]", type->name, inner);
  return *plain ? 0 : MPROC_ENOMEM;
}

void mproc__spawn_init_parent(mproc__spawn *sp) {
  memset(sp, 0, sizeof *sp);
  sp->codec.export_obj = export_obj;
  sp->reserved[0] = sp->reserved[1] = MPROC__NOHANDLE;
}

void mproc__spawn_free(mproc__spawn *sp) {
  size_t i;
  for (i = 0; i < sp->nseen; i++)
    mproc_value_free(sp->seen[i].plain);
  free(sp->seen);
  /* Blocks mapped in a child: shblock.c's (child.c releases them). */
  free(sp->h);
  memset(sp, 0, sizeof *sp);
}

int mproc__spawn_add_handle(mproc__spawn *sp, mproc__handle h) {
  size_t i;
  for (i = 0; i < sp->n; i++)
    if (sp->h[i] == h)
      return (int)i;
  if (mproc__array_room(&sp->h, &sp->cap, sp->n, sizeof *sp->h, 8,
                        "handle table") != 0)
    return MPROC_ENOMEM;
  sp->h[sp->n] = h;
  return (int)sp->n++;
}

int mproc__spawn_get_handle(mproc__spawn *sp, int64_t i, mproc__handle *h) {
  int64_t v;
  int rc;
  if (!sp->values || i < 0 || (uint64_t)i >= mproc_list_len(sp->values) ||
      mproc_value_get_int(mproc_list_get(sp->values, (size_t)i), &v) != 0)
    return mproc__err(MPROC_EBADMSG, "bootstrap names handle %lld, which it "
                                     "does not pass",
                      (long long)i);
  if ((mproc__handle)v == sp->reserved[0] ||
      (mproc__handle)v == sp->reserved[1])
    return mproc__err(MPROC_EBADMSG, "bootstrap names the bootstrap channel "
                                     "(%lld) as an object's handle",
                      (long long)v);
  rc = mproc__plat_adopt((mproc__handle)v);
  if (rc)
    return rc;
  *h = (mproc__handle)v;
  return 0;
}

/* ---- the handshake's messages ------------------------------------------- */

double mproc__start_timeout(void) {
  const char *s = getenv("MPROC_START_TIMEOUT");
  double t = s ? atof(s) : 0;
  return t > 0 && t < 1e9 ? t : 60.0;
}

static double left_until(double deadline) {
  double left = deadline - mproc__plat_monotonic();
  return left > 0 ? left : 0.0;
}

int mproc__boot_send(mproc__handle h, const void *p, size_t n,
                     double deadline) {
  unsigned char hdr[12];
  size_t hl, i;
  int rc;
  if ((uint64_t)n < 0xFFFFFFFFu) {
    for (i = 0; i < 4; i++)
      hdr[i] = (unsigned char)((uint64_t)n >> (24 - 8 * i));
    hl = 4;
  } else {
    hdr[0] = hdr[1] = hdr[2] = hdr[3] = 0xFF;
    for (i = 0; i < 8; i++)
      hdr[4 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    hl = 12;
  }
  rc = mproc__plat_boot_write(h, hdr, hl, left_until(deadline));
  if (!rc && n)
    rc = mproc__plat_boot_write(h, p, n, left_until(deadline));
  return rc;
}

/* Read exactly len bytes before the deadline; done counts what arrived. */
static int read_until(mproc__handle h, unsigned char *dst, size_t len,
                      double deadline, size_t *done) {
  mproc__waititem item;
  item.h = h;
  item.kind = MPROC__W_STREAM;
  while (*done < len) {
    size_t got = 0;
    int ready = 0, rc;
    double left = left_until(deadline);
    if (left <= 0)
      return mproc__err(MPROC_ETIMEDOUT, "handshake: timed out");
    rc = mproc__plat_wait(&item, 1, left, &ready);
    if (rc < 0)
      return rc;
    if (!ready)
      continue; /* the loop sees the deadline */
    rc = mproc__plat_stream_read(h, dst + *done, len - *done, &got);
    if (rc)
      return rc;
    *done += got;
  }
  return 0;
}

int mproc__boot_recv(mproc__handle h, uint64_t cap, double deadline,
                     unsigned char **out, size_t *n) {
  unsigned char hdr[12], *body = NULL;
  size_t done = 0, have = 0, bcap;
  uint64_t len = 0;
  int i, rc;
  *out = NULL;
  *n = 0;
  rc = read_until(h, hdr, 4, deadline, &done);
  if (rc == 0) {
    for (i = 0; i < 4; i++)
      len = (len << 8) | hdr[i];
    if (len == 0xFFFFFFFFu) {
      rc = read_until(h, hdr, 12, deadline, &done);
      for (len = 0, i = 4; rc == 0 && i < 12; i++)
        len = (len << 8) | hdr[i];
    }
  }
  if (rc == MPROC_EEOF && done > 0)
    return mproc__err(MPROC_EBADMSG, "handshake: the channel closed inside "
                                     "a message header");
  if (rc)
    return rc;
  if (len > cap || len > (uint64_t)SIZE_MAX / 2)
    return mproc__err(MPROC_ETOOBIG,
                      "handshake: a message header claims %llu bytes (at "
                      "most %llu expected here)",
                      (unsigned long long)len, (unsigned long long)cap);
  bcap = len < 65536 ? (size_t)len : 65536;
  body = malloc(bcap ? bcap : 1);
  if (!body)
    return mproc__err(MPROC_ENOMEM, "handshake message");
  while (rc == 0 && have < (size_t)len) {
    if (have == bcap) {
      size_t ncap = bcap * 2 < (size_t)len ? bcap * 2 : (size_t)len;
      unsigned char *nb = realloc(body, ncap);
      if (!nb) {
        rc = mproc__err(MPROC_ENOMEM, "handshake message of %llu bytes",
                        (unsigned long long)len);
        break;
      }
      body = nb;
      bcap = ncap;
    }
    rc = read_until(h, body, bcap, deadline, &have);
  }
  if (rc) {
    free(body);
    if (rc == MPROC_EEOF)
      return mproc__err(MPROC_EBADMSG, "handshake: the channel closed "
                                       "after %zu of %llu bytes of a message",
                        have, (unsigned long long)len);
    if (rc == MPROC_ETIMEDOUT)
      return mproc__err(MPROC_ETIMEDOUT, "handshake: timed out after %zu "
                                         "of %llu bytes of a message",
                        have, (unsigned long long)len);
    return rc;
  }
  *out = body;
  *n = (size_t)len;
  return 0;
}
