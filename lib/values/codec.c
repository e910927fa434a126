/*
 * codec.c - values to bytes and back, with libcbor.
 *
 * Format (version 1).  A message is the three bytes D9 D9 F7 (CBOR tag
 * 55799, "self-described CBOR", used as the magic and format version)
 * followed by exactly one CBOR data item:
 *   None -> null, bool -> true/false, int -> unsigned/negative integer
 *   (always the shortest head), float -> double (half and single are read
 *   too), str -> text string, bytes -> byte string, list -> array,
 *   dict -> map (in insertion order), tuple -> tag 27002 wrapping an
 *   array (27002 is mproc's own, next to 27001, in CBOR's first-come
 *   range; no registered tag means "tuple"), set -> tag 258 wrapping an
 *   array (the registered "finite set", members in insertion order;
 *   duplicates read as one), an OS object -> tag 27001 wrapping the plain
 *   value that the spawn context exports for it, a manager proxy -> tag
 *   27003 wrapping [address, typeid, id, token] (lib/manager/proxy.c; it
 *   travels anywhere, not only at spawn).
 * Only definite lengths are written; indefinite-length items, undefined,
 * simple values, any other tag, text that is not UTF-8 and unhashable map
 * keys or set members are refused as MPROC_EBADMSG.  Integers are 64-bit:
 * an unsigned above INT64_MAX, a negative below INT64_MIN and the bignum
 * tags 2 and 3 are refused as MPROC_EBADMSG "integer beyond int64" (Python
 * would carry them; mproc has no big integer type).  A later format will
 * follow the magic with a version tag, which version 1 decoders refuse as
 * an unknown tag.
 *
 * Heads are written here directly (the shortest form, as libcbor would);
 * decoding walks the input with libcbor's cbor_stream_decode(), one head
 * at a time, and builds the tree with an explicit stack no deeper than
 * MPROC__MAX_DEPTH, so hostile input cannot exhaust the C stack.  A
 * claimed size larger than the bytes left is refused at once; a list
 * gets room for its claimed items at once (one allocation).
 *
 * The decode bound: a decode accounts the bytes it asks the allocator for
 * (values, text, item arrays, dict entries and their index, counted from
 * the claimed sizes before anything is allocated) and refuses with
 * MPROC_EBADMSG once they would pass DECODE_BYTES_PER_BYTE * input length
 * + DECODE_BYTES_SLACK.  None, bools, ints -8..256, '' , b'' and () are
 * shared singletons and cost only their slot, so [None] * n costs 8 bytes
 * an item; the densest honest input (a set of one-character strings)
 * stays below 60 bytes per byte, and what passes the bound is only claims
 * of items that never arrive (nested containers each claiming the rest of
 * the input).
 *
 * Runs of items (end of file): the pool's messages carry bare items (no
 * magic each) written and read one at a time, ints inline.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "mproc_int.h"

#define MAGIC_LEN 3
static const unsigned char magic[MAGIC_LEN] = {0xD9, 0xD9, 0xF7};

/* ---- encoding ------------------------------------------------------------ */

/* The tags mproc writes (and reads) besides the magic. */
#define TAG_OBJECT 27001
#define TAG_TUPLE 27002
#define TAG_PROXY 27003
#define TAG_SET 258
#define TAG_BIGNUM_POS 2
#define TAG_BIGNUM_NEG 3

/* Every CBOR head fits in 9 bytes. */
#define HEAD_MAX 9

enum { M_UINT, M_NEGINT, M_BYTES, M_TEXT, M_ARRAY, M_MAP, M_TAG, M_SIMPLE };

typedef struct enc {
  mproc__buf *out;
  mproc__codec_ctx *ctx;
} enc;

/* Write the shortest head of major type major with argument x. */
static int put_head(enc *e, unsigned major, uint64_t x) {
  unsigned char *p;
  int rc, k, n;
  if (e->out->cap - e->out->len < HEAD_MAX &&
      (rc = mproc__buf_reserve(e->out, HEAD_MAX)) != 0)
    return rc;
  p = e->out->p + e->out->len;
  major <<= 5;
  if (x < 24) {
    p[0] = (unsigned char)(major | x);
    e->out->len += 1;
    return 0;
  }
  if (x <= 0xFF)
    k = 0, n = 1;
  else if (x <= 0xFFFF)
    k = 1, n = 2;
  else if (x <= 0xFFFFFFFFu)
    k = 2, n = 4;
  else
    k = 3, n = 8;
  p[0] = (unsigned char)(major | (unsigned)(24 + k));
  for (rc = 0; rc < n; rc++)
    p[1 + rc] = (unsigned char)(x >> (8 * (n - 1 - rc)));
  e->out->len += 1 + (size_t)n;
  return 0;
}

static int put_double(enc *e, double d) {
  unsigned char *p;
  uint64_t bits;
  int rc, i;
  if ((rc = mproc__buf_reserve(e->out, HEAD_MAX)) != 0)
    return rc;
  memcpy(&bits, &d, sizeof bits);
  p = e->out->p + e->out->len;
  p[0] = 0xFB;
  for (i = 0; i < 8; i++)
    p[1 + i] = (unsigned char)(bits >> (56 - 8 * i));
  e->out->len += HEAD_MAX;
  return 0;
}

static int encode_value(enc *e, const mproc_value *v, int depth) {
  int rc = 0;
  size_t i, n;
  if (!v)
    return mproc__err(MPROC_EINVAL, "cannot encode a NULL value");
  /* Containers and objects nest; depth counts those around v. */
  if (depth >= MPROC__MAX_DEPTH && v->type >= MPROC_T_LIST)
    return mproc__err(MPROC_EENCODE, "value nested deeper than %d levels",
                      MPROC__MAX_DEPTH);
  switch ((mproc_type)v->type) {
  case MPROC_T_NONE:
    return put_head(e, M_SIMPLE, 22);
  case MPROC_T_BOOL:
    return put_head(e, M_SIMPLE, v->u.i ? 21 : 20);
  case MPROC_T_INT:
    if (v->u.i >= 0)
      return put_head(e, M_UINT, (uint64_t)v->u.i);
    /* CBOR's negative integer n stands for -1 - n. */
    return put_head(e, M_NEGINT, (uint64_t)(-(v->u.i + 1)));
  case MPROC_T_FLOAT:
    return put_double(e, v->u.f);
  case MPROC_T_STR:
  case MPROC_T_BYTES:
    rc = put_head(e, v->type == MPROC_T_STR ? M_TEXT : M_BYTES, v->u.s.n);
    return rc ? rc : mproc__buf_append(e->out, v->u.s.p, v->u.s.n);
  case MPROC_T_TUPLE:
  case MPROC_T_LIST:
    n = v->u.list.n;
    if (v->type == MPROC_T_TUPLE)
      rc = put_head(e, M_TAG, TAG_TUPLE);
    if (rc == 0)
      rc = put_head(e, M_ARRAY, n);
    for (i = 0; rc == 0 && i < n; i++)
      rc = encode_value(e, v->u.list.items[i], depth + 1);
    return rc;
  case MPROC_T_SET:
    rc = put_head(e, M_TAG, TAG_SET);
    if (rc == 0)
      rc = put_head(e, M_ARRAY, v->u.dict.n);
    n = mproc__table_used(v); /* holes (key NULL) skipped */
    for (i = 0; rc == 0 && i < n; i++)
      if (v->u.dict.e[i].key)
        rc = encode_value(e, v->u.dict.e[i].key, depth + 1);
    return rc;
  case MPROC_T_DICT:
    rc = put_head(e, M_MAP, v->u.dict.n);
    n = mproc__table_used(v);
    for (i = 0; rc == 0 && i < n; i++) {
      if (!v->u.dict.e[i].key)
        continue; /* a hole */
      rc = encode_value(e, v->u.dict.e[i].key, depth + 1);
      if (rc == 0)
        rc = encode_value(e, v->u.dict.e[i].val, depth + 1);
    }
    return rc;
  case MPROC_T_OBJECT: {
    const mproc__objtype *ot = v->u.obj.type;
    mproc_value *plain = NULL;
    if (ot == &mproc__proxy_type) {
      rc = put_head(e, M_TAG, TAG_PROXY);
      if (rc == 0)
        rc = mproc__proxy_wire_out(v->u.obj.obj, &plain);
      if (rc == 0)
        rc = encode_value(e, plain, depth + 1);
      mproc_value_free(plain);
      return rc;
    }
    if (!e->ctx || !e->ctx->export_obj)
      return mproc__err(MPROC_EINHERIT,
                        "%s objects should only be shared between "
                        "processes through inheritance",
                        ot->name);
    rc = put_head(e, M_TAG, TAG_OBJECT);
    if (rc == 0)
      rc = e->ctx->export_obj(e->ctx, ot, v->u.obj.obj, &plain);
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
  /* One allocation for a lone str or bytes (exact) or a short list of
   * scalars (their heads), the common messages. */
  if (v && (v->type == MPROC_T_STR || v->type == MPROC_T_BYTES) &&
      v->u.s.n < (size_t)-1 - 2 * HEAD_MAX &&
      (rc = mproc__buf_reserve(out, 2 * HEAD_MAX + v->u.s.n)) != 0)
    return rc;
  if (v && (v->type == MPROC_T_LIST || v->type == MPROC_T_TUPLE) &&
      v->u.list.n <= 4096 &&
      (rc = mproc__buf_reserve(out, (2 + v->u.list.n) * HEAD_MAX)) != 0)
    return rc;
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

/* The decode bound (see the map comment). */
#define DECODE_BYTES_PER_BYTE 64
#define DECODE_BYTES_SLACK 65536

enum { F_LIST, F_MAP, F_SET, F_TAG, F_PROXY };

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
  int pending; /* a tuple or set tag waiting for its array (its type) */
  mproc_value *root;
  size_t charged; /* bytes of values allocated so far */
  mproc__slab *slab; /* where the fast path makes ints and floats */
  size_t slab_next;   /* the size of the next slab */
  size_t limit;   /* the bound on charged */
  int bigint;     /* err is an int beyond int64 (the input is well formed) */
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

/* An int mproc's values cannot hold: the input is well formed, so a
 * caller may answer and go on (the manager's server: mproc__decode_ex). */
static void fail_bigint(dec *d, const char *what) {
  if (!d->err)
    d->bigint = 1;
  fail(d, MPROC_EBADMSG, what);
}

/* Account n more bytes of values; 0 if within the bound. */
static int charge(dec *d, size_t n) {
  if (n <= d->limit - d->charged) {
    d->charged += n;
    return 0;
  }
  if (!d->err)
    d->err = mproc__err(MPROC_EBADMSG,
                        "malformed message at byte %lu: decoding would "
                        "allocate more than %d bytes per input byte + %d "
                        "(claimed items that are not there?)",
                        (unsigned long)d->pos, DECODE_BYTES_PER_BYTE,
                        DECODE_BYTES_SLACK);
  return -1;
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
    if (f->kind == F_TAG || f->kind == F_PROXY) {
      mproc_value *obj = NULL;
      d->depth--;
      rc = f->kind == F_PROXY ? mproc__proxy_wire_in(v, &obj)
                              : d->ctx->import_obj(d->ctx, v, &obj);
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
      f->key = v;
      return;
    }
    if (f->kind == F_LIST) {
      rc = mproc__seq_push(f->c, v);
    } else if (f->kind == F_MAP) {
      mproc_value *key = f->key;
      f->key = NULL;
      rc = mproc_dict_set(f->c, key, v);
      if (rc == MPROC_ETYPE || rc == MPROC_EINVAL) {
        fail(d, MPROC_EBADMSG, "a map key is unhashable");
        return;
      }
    } else {
      rc = mproc__set_add(f->c, v);
      if (rc == MPROC_ETYPE || rc == MPROC_EINVAL) {
        fail(d, MPROC_EBADMSG, "a set member is unhashable");
        return;
      }
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

/* A scalar just made: account it, then attach it. */
static void leaf(dec *d, mproc_value *v) {
  if (d->pending) {
    mproc_value_free(v);
    fail(d, MPROC_EBADMSG, "a tuple or set tag must wrap an array");
    return;
  }
  if (v && charge(d, mproc__alloc_bytes(v)) != 0) {
    mproc_value_free(v);
    return;
  }
  emit(d, v);
}

/* Open a container of count items (pairs for a map) or a tag. */
static void open_item(dec *d, int kind, uint64_t count) {
  mproc_value *c = NULL;
  mproc_type t = MPROC_T_LIST;
  frame *f;
  if (d->err)
    return;
  if (d->pending) {
    if (kind != F_LIST) {
      fail(d, MPROC_EBADMSG, "a tuple or set tag must wrap an array");
      return;
    }
    t = (mproc_type)d->pending;
    if (t == MPROC_T_SET)
      kind = F_SET;
    d->pending = 0;
  }
  /* Every item takes at least one byte, beyond this head's own byte. */
  if (kind < F_TAG && count > (d->rest - 1) / (kind == F_MAP ? 2 : 1)) {
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
  if (kind < F_TAG) {
    /* Charged for what it claims, before anything is allocated. */
    if (charge(d, kind == F_LIST ? mproc__seq_bytes((size_t)count)
                                 : mproc__table_bytes((size_t)count)) != 0)
      return;
    if (kind == F_LIST && t == MPROC_T_TUPLE && count == 0)
      c = mproc__empty_tuple();
    else if (kind == F_LIST)
      c = mproc__seq_new(t, (size_t)count);
    else
      c = kind == F_MAP ? mproc_dict() : mproc_set();
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
  f->left = kind >= F_TAG ? 1 : count;
  f->kind = kind;
}

static void on_uint(dec *d, uint64_t x) {
  if (d->err)
    return;
  if (x > (uint64_t)INT64_MAX) {
    fail_bigint(d, "integer beyond int64 (above 2**63-1)");
    return;
  }
  leaf(d, mproc_int((int64_t)x));
}

static void on_negint(dec *d, uint64_t x) {
  if (d->err)
    return;
  if (x > (uint64_t)INT64_MAX) {
    fail_bigint(d, "integer beyond int64 (below -2**63)");
    return;
  }
  leaf(d, mproc_int(-(int64_t)x - 1));
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
    leaf(d, mproc_bytes(p, n));
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
  leaf(d, v);
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
  if (d->pending) {
    fail(d, MPROC_EBADMSG, "a tuple or set tag must wrap an array");
    return;
  }
  if (tag == TAG_TUPLE || tag == TAG_SET) {
    d->pending = tag == TAG_TUPLE ? MPROC_T_TUPLE : MPROC_T_SET;
    return;
  }
  if (tag == TAG_BIGNUM_POS || tag == TAG_BIGNUM_NEG) {
    fail_bigint(d, "integer beyond int64 (a bignum)");
    return;
  }
  if (tag == TAG_PROXY) {
    open_item(d, F_PROXY, 1);
    return;
  }
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
    leaf(d, mproc_float(x));
}
static void cb_float4(void *c, float x) { on_float((dec *)c, x); }
static void cb_float8(void *c, double x) { on_float((dec *)c, x); }

static void cb_undefined(void *c) {
  fail((dec *)c, MPROC_EBADMSG, "undefined is not a value");
}

static void cb_null(void *c) {
  dec *d = (dec *)c;
  if (!d->err)
    leaf(d, mproc_none());
}

static void cb_bool(void *c, bool b) {
  dec *d = (dec *)c;
  if (!d->err)
    leaf(d, mproc_bool(b));
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

/*
 * The fast path: the plain items of the list being filled (ints, None,
 * bools, doubles) are read here, without a libcbor call each, up to its
 * last item, which takes the general path (that closes the list).  The
 * list has room for all its items (made from its checked count).
 */
/* An int or float value from the decoder's slab. */
static mproc_value *slab_value(dec *d, mproc_type t, uint64_t left,
                               size_t bytes_left) {
  size_t cap = d->slab_next, charged;
  mproc_value *v;
  /* Slabs grow 8, 16, ... 1024 values, never past what the input can
   * still hold (an int or float outside the singletons takes >= 3 bytes)
   * nor past the items left in this list. */
  if (cap > bytes_left / 3 + 1)
    cap = bytes_left / 3 + 1;
  if (cap > left)
    cap = (size_t)left;
  v = mproc__slab_take(&d->slab, cap, &charged);
  if (!v) {
    d->err = MPROC_ENOMEM;
    return NULL;
  }
  if (charged) {
    if (d->slab_next < 1024)
      d->slab_next *= 2;
    if (charge(d, charged) != 0) {
      mproc_value_free(v);
      return NULL;
    }
  }
  v->type = (uint16_t)t;
  return v;
}

static void fast_items(dec *d, const unsigned char *in, size_t n) {
  frame *f = &d->stack[d->depth - 1];
  mproc_value *list = f->c;
  while (f->left > 1 && d->pos < n) {
    unsigned h = in[d->pos], ai = h & 31, k;
    size_t len;
    uint64_t x = ai;
    mproc_value *v;
    if (h >= 0x40) { /* not an int: None, False, True or a double */
      if (h == 0xF6)
        v = mproc_none();
      else if (h == 0xF4 || h == 0xF5)
        v = mproc_bool(h == 0xF5);
      else if (h == 0xFB && n - d->pos >= 9) {
        double f64;
        for (x = 0, k = 1; k <= 8; k++)
          x = (x << 8) | in[d->pos + k];
        memcpy(&f64, &x, sizeof f64);
        v = slab_value(d, MPROC_T_FLOAT, f->left, n - d->pos);
        if (!v)
          return;
        v->u.f = f64;
        len = 9;
        goto got;
      } else
        return;
      len = 1;
    } else {
      if (ai >= 28)
        return; /* reserved or indefinite: libcbor says what is wrong */
      len = ai < 24 ? 1 : 1 + ((size_t)1 << (ai - 24));
      if (n - d->pos < len)
        return;
      if (len > 1)
        x = 0;
      for (k = 1; k < len; k++)
        x = (x << 8) | in[d->pos + k];
      if (x > (uint64_t)INT64_MAX)
        return; /* refused by the general path */
      if (h < 0x20 && x <= 256) {
        v = mproc_int((int64_t)x); /* a singleton */
      } else if (h >= 0x20 && x < 8) {
        v = mproc_int(-(int64_t)x - 1);
      } else {
        v = slab_value(d, MPROC_T_INT, f->left, n - d->pos);
        if (!v)
          return;
        v->u.i = h < 0x20 ? (int64_t)x : -(int64_t)x - 1;
      }
    }
  got:
    list->u.list.items[list->u.list.n++] = v;
    f->left--;
    d->pos += len;
  }
}

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
  return mproc__decode_ex(p, n, out, ctx, NULL, NULL);
}

/*
 * Decode one value from in[start..n): a whole message (item 0: trailing
 * bytes are an error) or the first item of a run (item 1: *end is where
 * it stops).
 */
static int decode_run(const unsigned char *in, size_t n, size_t start,
                      int item, mproc_value **out, mproc__codec_ctx *ctx,
                      size_t *charged, size_t *end, int *bigint) {
  dec state;
  dec *d;
  int rc;
  d = &state;
  d->stack = d->inline_frames;
  d->cap = INLINE_FRAMES;
  d->ctx = ctx;
  d->rest = 0;
  d->err = 0;
  d->bigint = 0;
  d->root = NULL;
  d->depth = 0;
  d->pending = 0;
  d->charged = 0;
  d->slab = NULL;
  d->slab_next = 8;
  d->limit = n > ((size_t)-1 - DECODE_BYTES_SLACK) / DECODE_BYTES_PER_BYTE
                 ? (size_t)-1
                 : n * DECODE_BYTES_PER_BYTE + DECODE_BYTES_SLACK;
  d->pos = start;
  while (!d->err) {
    struct cbor_decoder_result r;
    if (item && d->root)
      break; /* the item ends here: the rest is the caller's */
    if (d->root && d->pos < n) {
      fail(d, MPROC_EBADMSG, "trailing bytes after the value");
      break;
    }
    if (d->pos == n) {
      if (!d->root)
        fail(d, MPROC_EBADMSG, "the message is truncated");
      break;
    }
    if (d->depth && !d->pending && d->stack[d->depth - 1].kind == F_LIST) {
      fast_items(d, in, n);
      if (d->err)
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
  mproc__slab_done(d->slab);
  if (charged)
    *charged = d->charged;
  if (end)
    *end = d->pos;
  if (bigint)
    *bigint = rc != 0 && d->bigint;
  if (d->stack != d->inline_frames)
    free(d->stack);
  return rc;
}

int mproc__decode_ex(const void *p, size_t n, mproc_value **out,
                     mproc__codec_ctx *ctx, size_t *charged, int *bigint) {
  const unsigned char *in = (const unsigned char *)p;
  if (bigint)
    *bigint = 0;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_decode: out is NULL");
  *out = NULL;
  if (!p && n)
    return mproc__err(MPROC_EINVAL, "mproc_decode: the buffer is NULL");
  if (n < MAGIC_LEN || memcmp(in, magic, MAGIC_LEN) != 0)
    return mproc__err(MPROC_EBADMSG,
                      "malformed message: no mproc format-1 header");
  return decode_run(in, n, MAGIC_LEN, 0, out, ctx, charged, NULL,
                    bigint);
}

int mproc_decode(const void *buf, size_t len, mproc_value **out) {
  return mproc__decode(buf, len, out, NULL);
}

/* ---- runs of items (the pool's wire) -------------------------------------- */

/*
 * A pool message carries its task arguments and results as runs of bare
 * CBOR items (no magic each: the message says what it holds), written and
 * read one at a time so that a chunk of n ints costs n heads, not n
 * messages.  The scalars (int, float, None, bool) are read without a
 * decoder; anything else goes through the general decoder, one item, with
 * the same checks and bound as a message.
 */

int mproc__encode_item(const mproc_value *v, mproc__buf *out,
                       mproc__codec_ctx *ctx) {
  enc e;
  size_t start = out->len;
  int rc;
  if (v && v->type == MPROC_T_INT) {
    if (out->cap - out->len < HEAD_MAX &&
        (rc = mproc__buf_reserve(out, HEAD_MAX)) != 0)
      return rc;
    out->len += mproc__item_int_put(out->p + out->len, v->u.i);
    return 0;
  }
  e.out = out;
  e.ctx = ctx;
  rc = encode_value(&e, v, 0);
  if (rc != 0)
    out->len = start; /* leave no half item behind */
  return rc;
}

/* The scalar at in[0..n): its type (MPROC_T_NONE for none there: not a
 * scalar, or one the general path must judge), its payload and bytes. */
static mproc_type scan_scalar(const unsigned char *in, size_t n,
                              uint64_t *x, size_t *used, int *none) {
  unsigned h, ai;
  size_t len, k;
  uint64_t v;
  *none = 0;
  if (n == 0)
    return MPROC_T_NONE;
  h = in[0];
  if (h >= 0x40) {
    *used = 1;
    if (h == 0xF6) {
      *none = 1;
      return MPROC_T_NONE;
    }
    if (h == 0xF4 || h == 0xF5) {
      *x = h == 0xF5;
      return MPROC_T_BOOL;
    }
    if (h != 0xFB || n < 9)
      return MPROC_T_NONE;
    for (v = 0, k = 1; k <= 8; k++)
      v = (v << 8) | in[k];
    *x = v;
    *used = 9;
    return MPROC_T_FLOAT;
  }
  ai = h & 31;
  if (ai >= 28)
    return MPROC_T_NONE;
  len = ai < 24 ? 1 : 1 + ((size_t)1 << (ai - 24));
  if (n < len)
    return MPROC_T_NONE;
  v = ai < 24 ? ai : 0;
  for (k = 1; k < len; k++)
    v = (v << 8) | in[k];
  if (v > (uint64_t)INT64_MAX)
    return MPROC_T_NONE; /* the general path says why */
  *x = h < 0x20 ? v : (uint64_t)(-(int64_t)v - 1);
  *used = len;
  return MPROC_T_INT;
}

int mproc__encode_run(const mproc_value *const *items, size_t n,
                       mproc__buf *out, size_t *offs, size_t every) {
  size_t k = 0, next = 0;
  int rc;
  while (k < n) {
    /* ints while the buffer has room for them, in locals (a byte store
     * may alias anything, so the compiler would reload out's fields) */
    unsigned char *base = out->p;
    size_t len = out->len, cap = out->cap;
    const mproc_value *v;
    while (k < n && (v = items[k])->type == MPROC_T_INT &&
           cap - len >= HEAD_MAX) {
      if (k == next) {
        offs[k / every] = len;
        next += every;
      }
      k++;
      len += mproc__item_int_put(base + len, v->u.i);
    }
    out->len = len;
    if (k == n)
      break;
    if (k == next) {
      offs[k / every] = out->len;
      next += every;
    }
    if ((rc = mproc__encode_item(items[k], out, NULL)) != 0)
      return rc;
    k++;
  }
  offs[(n + every - 1) / every] = out->len;
  return 0;
}

int mproc__item_skip(const void *p, size_t n, size_t *len) {
  const unsigned char *in = (const unsigned char *)p;
  size_t pos = 0;
  uint64_t pending = 1;
  while (pending) {
    unsigned h, ai, major;
    uint64_t x;
    size_t k, hl;
    if (pos >= n)
      return mproc__err(MPROC_EBADMSG, "malformed message: an item is cut");
    h = in[pos];
    ai = h & 31;
    major = h >> 5;
    if (ai >= 28)
      return mproc__err(MPROC_EBADMSG, "malformed message: an item of "
                                       "indefinite or reserved length");
    hl = ai < 24 ? 1 : 1 + ((size_t)1 << (ai - 24));
    if (n - pos < hl)
      return mproc__err(MPROC_EBADMSG, "malformed message: an item is cut");
    for (x = ai < 24 ? ai : 0, k = 1; k < hl; k++)
      x = (x << 8) | in[pos + k];
    pos += hl;
    pending--;
    if (major == M_BYTES || major == M_TEXT) {
      if (x > n - pos)
        return mproc__err(MPROC_EBADMSG, "malformed message: an item is cut");
      pos += (size_t)x;
    } else if (major == M_ARRAY || major == M_MAP) {
      if (x > (n - pos) || pending + x * 2 < pending)
        return mproc__err(MPROC_EBADMSG, "malformed message: a container "
                                         "claims more items than bytes left");
      pending += major == M_MAP ? 2 * x : x;
    } else if (major == M_TAG) {
      pending++;
    }
  }
  *len = pos;
  return 0;
}

int mproc__item_scalar(const void *p, size_t n, mproc_value *tmp,
                       const mproc_value **out, size_t *used) {
  uint64_t x = 0;
  int none;
  mproc_type t = scan_scalar((const unsigned char *)p, n, &x, used, &none);
  if (none) {
    *out = mproc_none();
    return 1;
  }
  if (t == MPROC_T_NONE)
    return 0;
  if (t == MPROC_T_BOOL) {
    *out = mproc_bool((int)x);
    return 1;
  }
  tmp->type = (uint16_t)t;
  tmp->flags = 0;
  tmp->slot = 0;
  if (t == MPROC_T_INT)
    tmp->u.i = (int64_t)x;
  else
    memcpy(&tmp->u.f, &x, sizeof x);
  *out = tmp;
  return 1;
}

int mproc__decode_item(const void *p, size_t n, mproc_value **out,
                       size_t *used) {
  *out = NULL;
  *used = 0;
  if (!p || n == 0)
    return mproc__err(MPROC_EBADMSG, "malformed message: an item is missing");
  return decode_run((const unsigned char *)p, n, 0, 1, out, NULL, NULL, used,
                    NULL);
}

int mproc__itemdec_next(mproc__itemdec *d, mproc_value **out) {
  uint64_t x = 0;
  size_t used = 0, charged;
  int rc, none;
  mproc_type t = scan_scalar(d->p, (size_t)(d->end - d->p), &x, &used, &none);
  *out = NULL;
  if (none) {
    *out = mproc_none();
  } else if (t == MPROC_T_BOOL) {
    *out = mproc_bool((int)x);
  } else if (t == MPROC_T_INT && (int64_t)x >= -8 && (int64_t)x <= 256) {
    *out = mproc_int((int64_t)x); /* a singleton */
  } else if (t != MPROC_T_NONE) {
    mproc_value *v;
    if (d->noslab) {
      double f;
      memcpy(&f, &x, sizeof f);
      v = t == MPROC_T_INT ? mproc_int((int64_t)x) : mproc_float(f);
      if (!v)
        return MPROC_ENOMEM;
    } else {
      /* A slab for the items left (full-size ones are reused, see
       * value.c), a small one for a short run. */
      size_t cap = d->left >= 32 ? 1024 : d->left ? d->left : 1;
      v = mproc__slab_take(&d->slab, cap, &charged);
      if (!v)
        return MPROC_ENOMEM;
      v->type = (uint16_t)t;
      v->u.i = (int64_t)x; /* a float's bits alike */
    }
    *out = v;
  } else if ((rc = mproc__decode_item(d->p, (size_t)(d->end - d->p), out,
                                      &used)) != 0) {
    return rc;
  }
  d->p += used;
  if (d->left)
    d->left--;
  return 0;
}

int mproc__itemdec_run(mproc__itemdec *d, mproc_value **dst, size_t n,
                       size_t *got) {
  size_t k = 0;
  int rc = 0;
  while (k < n && d->p < d->end && *d->p != 0xFF) {
    /* Ints of 2..9 bytes (beyond the singletons) into the slab's room,
     * in locals (the value stores may alias d's fields): most of a map's
     * results.  Anything else one by one. */
    mproc__slab *s = d->slab;
    if (s && !d->noslab) {
      const unsigned char *in = d->p, *end = d->end;
      mproc_value *vs = (mproc_value *)(void *)(s + 1);
      size_t used = s->used, cap = s->cap, k0 = k;
      while (k < n && used < cap && in < end && in[0] < 0x40 &&
             (in[0] & 31) >= 25) {
        int64_t x;
        size_t len = mproc__item_int_get(in, (size_t)(end - in), &x);
        mproc_value *v = &vs[used];
        if (!len)
          break; /* truncated or beyond int64: the general path says so */
        v->type = MPROC_T_INT;
        v->flags = MPROC__F_SLAB;
        v->slot = (uint32_t)used++;
        v->u.i = x;
        dst[k++] = v;
        in += len;
      }
      s->live += used - s->used;
      s->used = used;
      d->p = in;
      d->left = d->left > k - k0 ? d->left - (k - k0) : 0;
      if (k == n || in == end || *in == 0xFF)
        break;
    }
    if ((rc = mproc__itemdec_next(d, &dst[k])) != 0)
      break;
    k++;
  }
  *got = k;
  return rc;
}

void mproc__itemdec_done(mproc__itemdec *d) {
  mproc__slab_done(d->slab);
  d->slab = NULL;
}
