/*
 * codec.c - values to bytes and back, with libcbor.
 *
 * Format (version 1).  A message is the three bytes D9 D9 F7 (CBOR tag
 * 55799, "self-described CBOR", used as the magic and format version)
 * followed by exactly one CBOR data item:
 *   None -> null, bool -> true/false, int -> unsigned/negative integer
 *   (always the shortest head), float -> double (half and single are read
 *   too), str -> text string, bytes -> byte string, list -> array,
 *   dict -> map (in insertion order), an OS object -> tag 27001 wrapping
 *   the plain value that the spawn context exports for it.
 * Only definite lengths are written; indefinite-length items, undefined,
 * simple values, any other tag, integers outside int64, text that is not
 * UTF-8 and non-scalar map keys are refused as MPROC_EBADMSG.  A later
 * format will follow the magic with a version tag, which version 1
 * decoders refuse as an unknown tag.
 *
 * Decoding walks the input with cbor_stream_decode(), one head at a time,
 * and builds the tree with an explicit stack no deeper than
 * MPROC__MAX_DEPTH, so hostile input cannot exhaust the C stack.  A
 * container is grown as its items arrive (never from its claimed size),
 * and a claimed size larger than the bytes left is refused at once.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "mproc_int.h"

#define MAGIC_LEN 3
static const unsigned char magic[MAGIC_LEN] = {0xD9, 0xD9, 0xF7};

/* The tag of an OS object (a number in CBOR's first-come range). */
#define TAG_OBJECT 27001

/* ---- encoding ------------------------------------------------------------ */

/* Every CBOR head fits in 9 bytes. */
#define HEAD_MAX 9

typedef struct enc {
  mproc__buf *out;
  mproc__codec_ctx *ctx;
} enc;

/* Room for one head; libcbor's encoders then cannot run out of space. */
static unsigned char *head_room(enc *e, int *rc) {
  *rc = mproc__buf_reserve(e->out, HEAD_MAX);
  return *rc ? NULL : e->out->p + e->out->len;
}

static int head_done(enc *e, size_t n) {
  if (n == 0)
    return mproc__err(MPROC_EENCODE, "libcbor could not encode a head");
  e->out->len += n;
  return 0;
}

#define ROOM (e->out->cap - e->out->len)

static int encode_value(enc *e, const mproc_value *v, int depth) {
  unsigned char *p;
  int rc;
  size_t i, n;
  if (!v)
    return mproc__err(MPROC_EINVAL, "cannot encode a NULL value");
  /* Containers and objects nest; depth counts those around v. */
  if (depth >= MPROC__MAX_DEPTH && mproc_value_type(v) >= MPROC_T_LIST)
    return mproc__err(MPROC_EENCODE, "value nested deeper than %d levels",
                      MPROC__MAX_DEPTH);
  p = head_room(e, &rc);
  if (!p)
    return rc;
  switch (mproc_value_type(v)) {
  case MPROC_T_NONE:
    return head_done(e, cbor_encode_null(p, ROOM));
  case MPROC_T_BOOL: {
    int b = 0;
    mproc_value_get_bool(v, &b);
    return head_done(e, cbor_encode_bool(b != 0, p, ROOM));
  }
  case MPROC_T_INT: {
    int64_t x = 0;
    mproc_value_get_int(v, &x);
    if (x >= 0)
      return head_done(e, cbor_encode_uint((uint64_t)x, p, ROOM));
    /* CBOR's negative integer n stands for -1 - n. */
    return head_done(e, cbor_encode_negint((uint64_t)(-(x + 1)), p, ROOM));
  }
  case MPROC_T_FLOAT: {
    double d = 0;
    mproc_value_get_float(v, &d);
    return head_done(e, cbor_encode_double(d, p, ROOM));
  }
  case MPROC_T_STR: {
    const char *s = NULL;
    mproc_value_get_str(v, &s, &n);
    rc = head_done(e, cbor_encode_string_start(n, p, ROOM));
    return rc ? rc : mproc__buf_append(e->out, s, n);
  }
  case MPROC_T_BYTES: {
    const void *b = NULL;
    mproc_value_get_bytes(v, &b, &n);
    rc = head_done(e, cbor_encode_bytestring_start(n, p, ROOM));
    return rc ? rc : mproc__buf_append(e->out, b, n);
  }
  case MPROC_T_LIST:
    n = mproc_list_len(v);
    rc = head_done(e, cbor_encode_array_start(n, p, ROOM));
    for (i = 0; rc == 0 && i < n; i++)
      rc = encode_value(e, mproc_list_get(v, i), depth + 1);
    return rc;
  case MPROC_T_DICT:
    n = mproc_dict_len(v);
    rc = head_done(e, cbor_encode_map_start(n, p, ROOM));
    for (i = 0; rc == 0 && i < n; i++) {
      mproc_value *key = NULL, *val = NULL;
      mproc_dict_item(v, i, &key, &val);
      rc = encode_value(e, key, depth + 1);
      if (rc == 0)
        rc = encode_value(e, val, depth + 1);
    }
    return rc;
  case MPROC_T_OBJECT: {
    const mproc__objtype *t = NULL;
    void *obj = NULL;
    mproc_value *plain = NULL;
    mproc__value_objinfo(v, &t, &obj);
    if (!e->ctx || !e->ctx->export_obj)
      return mproc__err(MPROC_EINHERIT,
                        "%s objects should only be shared between "
                        "processes through inheritance",
                        t->name);
    rc = head_done(e, cbor_encode_tag(TAG_OBJECT, p, ROOM));
    if (rc == 0)
      rc = e->ctx->export_obj(e->ctx, t, obj, &plain);
    if (rc == 0)
      rc = encode_value(e, plain, depth + 1);
    mproc_value_free(plain);
    return rc;
  }
  }
  return mproc__err(MPROC_EENCODE, "cannot encode a corrupt value");
}

int mproc__encode(const mproc_value *v, mproc__buf *out,
                  mproc__codec_ctx *ctx) {
  enc e;
  size_t start = out->len;
  int rc;
  e.out = out;
  e.ctx = ctx;
  rc = mproc__buf_append(out, magic, MAGIC_LEN);
  if (rc == 0)
    rc = encode_value(&e, v, 0);
  if (rc != 0)
    out->len = start; /* leave no half message behind */
  return rc;
}

int mproc_encode(const mproc_value *v, void **buf, size_t *len) {
  mproc__buf b = MPROC__BUF_INIT;
  int rc;
  if (!buf || !len)
    return mproc__err(MPROC_EINVAL, "mproc_encode: NULL output pointer");
  *buf = NULL;
  *len = 0;
  if (!v) {
    int code = mproc__plat_errrec()->code;
    if (code == MPROC_ENOMEM || code == MPROC_EINVAL)
      return code;
    return mproc__err(MPROC_EINVAL, "mproc_encode: the value is NULL");
  }
  rc = mproc__encode(v, &b, NULL);
  if (rc != 0) {
    mproc__buf_free(&b);
    return rc;
  }
  *buf = b.p;
  *len = b.len;
  return 0;
}

/* ---- decoding ------------------------------------------------------------ */

enum { F_LIST, F_MAP, F_TAG };

typedef struct frame {
  mproc_value *c;   /* the container being filled (NULL for a tag) */
  mproc_value *key; /* a map's key waiting for its value */
  uint64_t left;    /* items (map: pairs) still to come */
  int kind;
} frame;

/* Most messages nest a few levels: their frames live on the C stack, and
 * only deeper input pays for a heap stack (up to MPROC__MAX_DEPTH). */
#define INLINE_FRAMES 16

typedef struct dec {
  mproc__codec_ctx *ctx;
  size_t pos;  /* offset of the head being decoded */
  size_t rest; /* bytes from pos to the end of the input */
  int err;
  mproc_value *root;
  int depth;
  int cap;       /* frames available in stack */
  frame *stack;  /* inline until nesting passes INLINE_FRAMES */
  frame inline_frames[INLINE_FRAMES];
} dec;

static void fail(dec *d, int code, const char *what) {
  if (d->err)
    return;
  d->err = mproc__err(code, "malformed message at byte %lu: %s",
                      (unsigned long)d->pos, what);
}

/* Whether a value may be a dict key (the scalars). */
static int scalar(const mproc_value *v) {
  return mproc_value_type(v) <= MPROC_T_BYTES;
}

/* Attach a finished value v to its parent, closing parents it completes. */
static void emit(dec *d, mproc_value *v) {
  for (;;) {
    frame *f;
    int rc;
    if (!v && !d->err) {
      /* A constructor failed, which only lack of memory explains here. */
      if (mproc__plat_errrec()->code == MPROC_ENOMEM)
        d->err = MPROC_ENOMEM;
      else
        fail(d, MPROC_EBADMSG, "a value could not be built");
    }
    if (d->err) {
      mproc_value_free(v);
      return;
    }
    if (d->depth == 0) {
      d->root = v;
      return;
    }
    f = &d->stack[d->depth - 1];
    if (f->kind == F_TAG) {
      mproc_value *obj = NULL;
      d->depth--;
      rc = d->ctx->import_obj(d->ctx, v, &obj);
      mproc_value_free(v);
      if (rc != 0) {
        d->err = rc;
        mproc_value_free(obj);
        return;
      }
      if (!obj) {
        fail(d, MPROC_EBADMSG, "an object could not be imported");
        return;
      }
      v = obj;
      continue;
    }
    if (f->kind == F_MAP && !f->key) {
      if (!scalar(v)) {
        mproc_value_free(v);
        fail(d, MPROC_EBADMSG, "a map key is not a scalar");
        return;
      }
      f->key = v;
      return;
    }
    if (f->kind == F_MAP) {
      mproc_value *key = f->key;
      f->key = NULL;
      rc = mproc_dict_set(f->c, key, v);
    } else {
      rc = mproc_list_append(f->c, v);
    }
    if (rc != 0) {
      d->err = rc;
      return;
    }
    if (--f->left != 0)
      return;
    v = f->c;
    f->c = NULL;
    d->depth--;
  }
}

/* Open a container of count items (pairs for a map) or a tag. */
static void open_item(dec *d, int kind, uint64_t count) {
  mproc_value *c = NULL;
  frame *f;
  if (d->err)
    return;
  /* Every item takes at least one byte, beyond this head's own byte. */
  if (kind != F_TAG && count > (d->rest - 1) / (kind == F_MAP ? 2 : 1)) {
    fail(d, MPROC_EBADMSG, "a container claims more items than bytes left");
    return;
  }
  if (d->depth >= MPROC__MAX_DEPTH) {
    fail(d, MPROC_EBADMSG, "nesting deeper than the limit");
    return;
  }
  if (d->depth == d->cap) {
    frame *big = (frame *)malloc(MPROC__MAX_DEPTH * sizeof *big);
    if (!big) {
      d->err = mproc__err(MPROC_ENOMEM, "out of memory decoding a message");
      return;
    }
    memcpy(big, d->stack, (size_t)d->depth * sizeof *big);
    d->stack = big;
    d->cap = MPROC__MAX_DEPTH;
  }
  if (kind != F_TAG) {
    c = kind == F_MAP ? mproc_dict() : mproc_list();
    if (!c) {
      d->err = MPROC_ENOMEM;
      return;
    }
    if (count == 0) {
      emit(d, c);
      return;
    }
  }
  f = &d->stack[d->depth++];
  f->c = c;
  f->key = NULL;
  f->left = kind == F_TAG ? 1 : count;
  f->kind = kind;
}

static void on_uint(dec *d, uint64_t x) {
  if (d->err)
    return;
  if (x > (uint64_t)INT64_MAX) {
    fail(d, MPROC_EBADMSG, "an integer is above the int64 range");
    return;
  }
  emit(d, mproc_int((int64_t)x));
}

static void on_negint(dec *d, uint64_t x) {
  if (d->err)
    return;
  if (x > (uint64_t)INT64_MAX) {
    fail(d, MPROC_EBADMSG, "an integer is below the int64 range");
    return;
  }
  emit(d, mproc_int(-(int64_t)x - 1));
}

static void cb_uint8(void *c, uint8_t x) { on_uint((dec *)c, x); }
static void cb_uint16(void *c, uint16_t x) { on_uint((dec *)c, x); }
static void cb_uint32(void *c, uint32_t x) { on_uint((dec *)c, x); }
static void cb_uint64(void *c, uint64_t x) { on_uint((dec *)c, x); }
static void cb_negint8(void *c, uint8_t x) { on_negint((dec *)c, x); }
static void cb_negint16(void *c, uint16_t x) { on_negint((dec *)c, x); }
static void cb_negint32(void *c, uint32_t x) { on_negint((dec *)c, x); }
static void cb_negint64(void *c, uint64_t x) { on_negint((dec *)c, x); }

static void cb_bytes(void *c, cbor_data p, size_t n) {
  dec *d = (dec *)c;
  if (!d->err)
    emit(d, mproc_bytes(p, n));
}

static void cb_string(void *c, cbor_data p, size_t n) {
  dec *d = (dec *)c;
  mproc_value *v;
  if (d->err)
    return;
  v = mproc_strn((const char *)p, n);
  if (!v && mproc__plat_errrec()->code != MPROC_ENOMEM) {
    fail(d, MPROC_EBADMSG, "a text string is not valid UTF-8");
    return;
  }
  emit(d, v);
}

static void cb_indef(void *c) {
  fail((dec *)c, MPROC_EBADMSG, "indefinite-length items are not accepted");
}

static void cb_array(void *c, size_t n) { open_item((dec *)c, F_LIST, n); }
static void cb_map(void *c, size_t n) { open_item((dec *)c, F_MAP, n); }

static void cb_tag(void *c, uint64_t tag) {
  dec *d = (dec *)c;
  if (d->err)
    return;
  if (tag != TAG_OBJECT) {
    fail(d, MPROC_EBADMSG, "unknown tag");
    return;
  }
  if (!d->ctx || !d->ctx->import_obj) {
    fail(d, MPROC_EBADMSG,
         "an OS object outside a spawn (objects travel only by "
         "inheritance)");
    return;
  }
  open_item(d, F_TAG, 1);
}

static void on_float(dec *d, double x) {
  if (!d->err)
    emit(d, mproc_float(x));
}
static void cb_float4(void *c, float x) { on_float((dec *)c, x); }
static void cb_float8(void *c, double x) { on_float((dec *)c, x); }

static void cb_undefined(void *c) {
  fail((dec *)c, MPROC_EBADMSG, "undefined is not a value");
}

static void cb_null(void *c) {
  dec *d = (dec *)c;
  if (!d->err)
    emit(d, mproc_none());
}

static void cb_bool(void *c, bool b) {
  dec *d = (dec *)c;
  if (!d->err)
    emit(d, mproc_bool(b));
}

static void cb_break(void *c) {
  fail((dec *)c, MPROC_EBADMSG, "a break outside an indefinite item");
}

/*
 * libcbor 0.8's field comments are swapped for strings, arrays and maps;
 * the names are right: byte_string is definite, byte_string_start the
 * indefinite start.
 */
static const struct cbor_callbacks callbacks = {
    cb_uint8,    cb_uint16,  cb_uint32,    cb_uint64, cb_negint64, cb_negint32,
    cb_negint16, cb_negint8, cb_indef,     cb_bytes,  cb_string,   cb_indef,
    cb_indef,    cb_array,   cb_indef,     cb_map,    cb_tag,      cb_float4,
    cb_float4,   cb_float8,  cb_undefined, cb_null,   cb_bool,     cb_break};

static void free_stack(dec *d) {
  int i;
  for (i = 0; i < d->depth; i++) {
    mproc_value_free(d->stack[i].c);
    mproc_value_free(d->stack[i].key);
  }
  d->depth = 0;
}

int mproc__decode(const void *p, size_t n, mproc_value **out,
                  mproc__codec_ctx *ctx) {
  const unsigned char *in = (const unsigned char *)p;
  dec state;
  dec *d;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_decode: out is NULL");
  *out = NULL;
  if (!p && n)
    return mproc__err(MPROC_EINVAL, "mproc_decode: the buffer is NULL");
  if (n < MAGIC_LEN || memcmp(in, magic, MAGIC_LEN) != 0)
    return mproc__err(MPROC_EBADMSG,
                      "malformed message: no mproc format-1 header");
  d = &state;
  d->stack = d->inline_frames;
  d->cap = INLINE_FRAMES;
  d->ctx = ctx;
  d->rest = 0;
  d->err = 0;
  d->root = NULL;
  d->depth = 0;
  d->pos = MAGIC_LEN;
  while (!d->err) {
    struct cbor_decoder_result r;
    if (d->root && d->pos < n) {
      fail(d, MPROC_EBADMSG, "trailing bytes after the value");
      break;
    }
    if (d->pos == n) {
      if (!d->root)
        fail(d, MPROC_EBADMSG, "the message is truncated");
      break;
    }
    d->rest = n - d->pos;
    r = cbor_stream_decode(in + d->pos, d->rest, &callbacks, d);
    if (r.status == CBOR_DECODER_NEDATA) {
      fail(d, MPROC_EBADMSG, "the message is truncated");
      break;
    }
    if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
      fail(d, MPROC_EBADMSG, "not well-formed CBOR");
      break;
    }
    d->pos += r.read;
  }
  rc = d->err;
  if (rc) {
    free_stack(d);
    mproc_value_free(d->root);
  } else {
    *out = d->root;
  }
  if (d->stack != d->inline_frames)
    free(d->stack);
  return rc;
}

int mproc_decode(const void *buf, size_t len, mproc_value **out) {
  return mproc__decode(buf, len, out, NULL);
}
