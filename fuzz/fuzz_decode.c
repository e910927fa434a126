/*
 * fuzz_decode.c - libFuzzer target for the codec.
 *
 * Every input is decoded twice: as a plain message (no spawn context, as
 * Connection.recv does) and with a spawn context whose objects are small
 * integers.  A message that decodes must encode again, and that encoding
 * must decode to a value that encodes to the same bytes (the encoding is
 * canonical), a copy must encode to the same bytes too, repr must work on
 * it, and what the decode accounted must stay within the documented bound
 * (64 bytes per input byte + 64 KiB).  Anything else aborts.  Tuples,
 * sets and the refused big integers have seeds in fuzz/corpus.
 *
 * Run: fuzz_decode -max_total_time=120 corpus_dir ../fuzz/corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"

static int objs[16];

static void release(void *obj) { (void)obj; }

static const mproc__objtype fuzz_type = {.name = "Fuzz", .release = release};

static int export_obj(mproc__codec_ctx *ctx, const mproc__objtype *type,
                      void *obj, mproc_value **plain) {
  (void)ctx;
  if (type != &fuzz_type)
    abort();
  *plain = mproc_int((int64_t)((int *)obj - objs));
  return *plain ? 0 : MPROC_ENOMEM;
}

static int import_obj(mproc__codec_ctx *ctx, const mproc_value *plain,
                      mproc_value **objval) {
  int64_t i = -1;
  (void)ctx;
  if (mproc_value_get_int(plain, &i) != 0 || i < 0 || i >= 16)
    return mproc__err(MPROC_EBADMSG, "bad object reference");
  *objval = mproc__value_object(&fuzz_type, &objs[i], 1);
  return *objval ? 0 : MPROC_ENOMEM;
}

static void check(const uint8_t *data, size_t size, mproc__codec_ctx *ctx) {
  mproc_value *v = NULL, *w = NULL, *c = NULL;
  mproc__buf a = MPROC__BUF_INIT, b = MPROC__BUF_INIT;
  char *s = NULL;
  size_t charged = 0;
  int rc = mproc__decode_ex(data, size, &v, ctx, &charged, NULL);
  if (charged > 64 * size + 65536)
    abort();
  if (rc != 0) {
    if (v || (rc != MPROC_EBADMSG && rc != MPROC_ENOMEM))
      abort();
    return;
  }
  if (mproc__encode(v, &a, ctx) != 0)
    abort();
  if (mproc__decode(a.p, a.len, &w, ctx) != 0)
    abort();
  if (mproc__encode(w, &b, ctx) != 0)
    abort();
  if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
    abort();
  c = mproc_value_copy(v);
  b.len = 0;
  if (!c || mproc__encode(c, &b, ctx) != 0)
    abort();
  if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
    abort();
  mproc_value_free(c);
  if (mproc_repr(v, &s) != 0)
    abort();
  free(s);
  mproc__buf_free(&a);
  mproc__buf_free(&b);
  mproc_value_free(v);
  mproc_value_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mproc__codec_ctx ctx = {export_obj, import_obj};
  mproc__proxy_offline(1); /* a decoded proxy must connect nowhere */
  check(data, size, NULL);
  check(data, size, &ctx);
  return 0;
}
