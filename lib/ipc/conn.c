/*
 * conn.c - Connections: the two ends of a Pipe.
 *
 * Framing: each message is a 4-byte big-endian length and the payload; a
 * length of 0xFFFFFFFF means an 8-byte big-endian length follows (messages
 * of 4 GiB and more).  A receive takes exactly one message from the OS
 * (header, then body, straight into its destination) and never reads
 * ahead: several processes may share one end, as Python allows, and each
 * message goes whole to one of them.  A message is consumed only once it
 * has been delivered: recv_bytes_into with a short buffer keeps it first
 * in line.  A Connection is used by one thread at a time (as in Python).
 *
 * Records: where the OS keeps the boundaries of writes (POSIX pipes are
 * SOCK_SEQPACKET sockets, mproc__plat_stream_records), a message is
 * written as records that never span two messages: the header with the
 * first up to REC_FIRST (64 KiB) - header bytes of the body, then pieces
 * of at most REC_CHUNK.  A receive takes the first record whole into the
 * end's record buffer (one system call: a message of up to 64 KiB costs
 * one send and one recv, as a raw socket does) and reads the rest
 * straight into its destination, still never past the message's end.
 * The record buffer (REC_FIRST bytes) is allocated at an end's first
 * receive.  After a message of 4 KiB to 64 KiB the next first record is
 * scattered (header apart, body at the buffer's start), so recv_bytes can
 * hand such a body over without a copy; small messages keep the plain
 * recv (cheaper than recvmsg).  A message up to SMALL_COPY is copied into
 * one write, a longer first record is gathered (header and body, no
 * copy).  On byte streams (Win32, the bootstrap socket) the header is read
 * alone first.
 */
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"

#define HDR_MAX 12u
#define BIG_LEN 0xFFFFFFFFu
/* Lengths above this are a malformed header, not a message. */
#define MSG_MAX ((uint64_t)1 << 46)
/* Larger bodies grow their buffer as bytes arrive, not from the header. */
#define TRUST_LEN ((size_t)64 << 20)
/* The largest first record of a message (header included) and the
 * largest later one.  64 KiB: a Pool chunk of 1000 small tasks (4-9 KiB)
 * and most messages are one record; the record buffer stays small enough
 * to allocate per receiving end; a first record that the socket's buffer
 * cannot take (MPROC_ETOOBIG) is halved down to REC_MIN. */
#define REC_FIRST ((size_t)64 << 10)
#define REC_MIN ((size_t)4 << 10)
#define REC_CHUNK ((size_t)128 << 10)
/* Messages up to this (header included) are copied into one write. */
#define SMALL_COPY 4096u
/* recv_bytes hands a longer body, whole in the record buffer, over as its
 * result; shorter ones are copied (a malloc of their size is cheaper than
 * a new record buffer). */
#define HANDOFF_MIN 4096u

struct mproc_conn {
  mproc_waitable w; /* first: mproc_conn_waitable() casts */
  mproc__handle h;
  int readable;
  int writable;
  int closed;
  int records;                /* the handle keeps write boundaries */
  int have_len;               /* a header has been read: pending is valid */
  size_t pending;             /* the body length of that message */
  size_t rpos, rend;          /* its first body bytes, held in rec */
  unsigned char hdr[HDR_MAX]; /* the header read */
  unsigned char *rec;         /* records: the first record (REC_FIRST bytes) */
  int scatter;                /* next header apart, body at rec[0] */
};

mproc_conn *mproc__conn_wrap(mproc__handle h, int readable, int writable) {
  mproc_conn *c = calloc(1, sizeof *c);
  if (!c) {
    mproc__err(MPROC_ENOMEM, "connection");
    return NULL;
  }
  c->w.kind = MPROC__WAIT_CONN;
  c->h = h;
  c->readable = readable;
  c->writable = writable;
  c->records = mproc__plat_stream_records(h);
  return c;
}

mproc__handle mproc__conn_handle(const mproc_conn *c) { return c->h; }

mproc__handle mproc__conn_detach(mproc_conn *c) {
  mproc__handle h = c->h;
  free(c->rec);
  free(c);
  return h;
}

int mproc_pipe(mproc_conn **a, mproc_conn **b, int duplex) {
  mproc__handle ha, hb;
  int rc;
  if (!a || !b)
    return mproc__err(MPROC_EINVAL, "mproc_pipe: NULL output");
  *a = *b = NULL;
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  rc = mproc__plat_stream_pair(&ha, &hb, duplex);
  if (rc)
    return rc;
  *a = mproc__conn_wrap(ha, 1, duplex);
  *b = mproc__conn_wrap(hb, duplex, 1);
  if (!*a || !*b) {
    mproc_conn_free(*a);
    mproc_conn_free(*b);
    *a = *b = NULL;
    return MPROC_ENOMEM;
  }
  return 0;
}

static int check(mproc_conn *c, int want_read, const char *what) {
  if (!c)
    return mproc__err(MPROC_EINVAL, "%s: NULL connection", what);
  if (c->closed)
    return mproc__err(MPROC_ECLOSED, "%s: the connection is closed", what);
  if (want_read && !c->readable)
    return mproc__err(MPROC_EACCESS, "%s: the connection is write-only",
                      what);
  if (!want_read && !c->writable)
    return mproc__err(MPROC_EACCESS, "%s: the connection is read-only", what);
  return 0;
}

/* ---- sending ------------------------------------------------------------- */

static size_t put_header(unsigned char *h, uint64_t n) {
  size_t i;
  if (n < BIG_LEN) {
    for (i = 0; i < 4; i++)
      h[i] = (unsigned char)(n >> (24 - 8 * i));
    return 4;
  }
  h[0] = h[1] = h[2] = h[3] = 0xFF;
  for (i = 0; i < 8; i++)
    h[4 + i] = (unsigned char)(n >> (56 - 8 * i));
  return 12;
}

/* Write one message of n body bytes at p (NULL when n is 0). */
static int send_raw(mproc_conn *c, const unsigned char *p, size_t n) {
  unsigned char one[SMALL_COPY];
  size_t hl = put_header(one, n);
  size_t first, done, chunk, limit = REC_FIRST;
  int rc;
  if (n <= SMALL_COPY - hl) {
    if (n) /* p may be NULL when n is 0 */
      memcpy(one + hl, p, n);
    return mproc__plat_stream_write(c->h, one, hl + n);
  }
  if (!c->records)
    return mproc__plat_stream_write2(c->h, one, hl, p, n);
  /* Records: the first one (header and body gathered), then pieces; a
   * socket whose buffer is too small for a record (MPROC_ETOOBIG) gets
   * smaller ones (nothing was sent: a record goes whole or not at all). */
  for (;;) {
    first = n < limit - hl ? n : limit - hl;
    rc = mproc__plat_stream_write2(c->h, one, hl, p, first);
    if (rc != MPROC_ETOOBIG || limit <= REC_MIN)
      break;
    limit /= 2;
  }
  chunk = REC_CHUNK;
  for (done = first; rc == 0 && done < n;) {
    size_t step = n - done < chunk ? n - done : chunk;
    rc = mproc__plat_stream_write(c->h, p + done, step);
    if (rc == MPROC_ETOOBIG && chunk > 512) {
      chunk /= 2;
      rc = 0;
      continue;
    }
    done += step;
  }
  return rc;
}

int mproc_conn_send_bytes(mproc_conn *c, const void *buf, size_t n) {
  int rc = check(c, 0, "mproc_conn_send_bytes");
  if (rc)
    return rc;
  if (!buf && n)
    return mproc__err(MPROC_EINVAL, "mproc_conn_send_bytes: NULL buffer");
  return send_raw(c, buf, n);
}

int mproc_conn_send_bytes_range(mproc_conn *c, const void *buf, size_t buflen,
                                int64_t offset, int64_t size) {
  const char *what = "mproc_conn_send_bytes_range";
  int rc = check(c, 0, what);
  if (rc)
    return rc;
  if (!buf && buflen)
    return mproc__err(MPROC_EINVAL, "%s: NULL buffer", what);
  /* Python's checks, in Python's order and words. */
  if (offset < 0)
    return mproc__err(MPROC_EINVAL, "%s: offset is negative", what);
  if ((uint64_t)offset > buflen)
    return mproc__err(MPROC_EINVAL, "%s: buffer length < offset", what);
  if (size == MPROC_NOSIZE)
    size = (int64_t)(buflen - (size_t)offset);
  else if (size < 0)
    return mproc__err(MPROC_EINVAL, "%s: size is negative", what);
  else if ((uint64_t)size > buflen - (size_t)offset)
    return mproc__err(MPROC_EINVAL, "%s: buffer length < offset + size",
                      what);
  return send_raw(c, size ? (const unsigned char *)buf + offset : NULL,
                  (size_t)size);
}

int mproc_conn_send(mproc_conn *c, const mproc_value *v) {
  mproc__buf b = MPROC__BUF_INIT;
  unsigned char hdr[HDR_MAX];
  size_t hl, body;
  int rc = check(c, 0, "mproc_conn_send");
  if (rc)
    return rc;
  if (!v)
    return mproc__err(MPROC_EINVAL, "mproc_conn_send: NULL value");
  /* Leave room in front for the header, so header + body is one write. */
  rc = mproc__buf_reserve(&b, 256);
  if (!rc) {
    b.len = HDR_MAX;
    rc = mproc__encode(v, &b, NULL);
  }
  if (!rc) {
    body = b.len - HDR_MAX;
    hl = put_header(hdr, body);
    if (c->records && hl + body > REC_FIRST) {
      rc = send_raw(c, b.p + HDR_MAX, body);
    } else {
      memcpy(b.p + HDR_MAX - hl, hdr, hl);
      rc = mproc__plat_stream_write(c->h, b.p + HDR_MAX - hl, hl + body);
    }
  }
  mproc__buf_free(&b);
  return rc;
}

/* ---- receiving ----------------------------------------------------------- */

/* The stream is out of step: nothing after this can be trusted. */
static int out_of_step(mproc_conn *c, int code, const char *why) {
  char keep[256];
  size_t i;
  for (i = 0; why[i] && i + 1 < sizeof keep; i++)
    keep[i] = why[i];
  keep[i] = '\0';
  mproc_conn_close(c);
  return mproc__err(code, "%s; the connection is closed", keep);
}

/* Read exactly len bytes (EEOF if the peer goes first).  On records, each
 * read takes one whole record, which must fit in what is left. */
static int read_exact(mproc_conn *c, unsigned char *dst, size_t len,
                      int mid_message) {
  size_t done = 0;
  while (done < len) {
    size_t got;
    int rc = c->records ? mproc__plat_stream_read_record(
                              c->h, dst + done, len - done, &got)
                        : mproc__plat_stream_read(c->h, dst + done,
                                                  len - done, &got);
    if (rc == MPROC_EEOF && (mid_message || done > 0))
      return mproc__err(MPROC_EEOF, "the connection closed in the middle of "
                                    "a message");
    if (rc == MPROC_EBADMSG)
      return out_of_step(c, rc, mproc_last_error());
    if (rc)
      return rc;
    done += got;
  }
  return 0;
}

static uint64_t get_be(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  size_t i;
  for (i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

/*
 * The next message's length.  The header (on records: the whole first
 * record) is read from the OS once and kept until the body is delivered,
 * so a message that did not fit a caller's buffer stays first in line.
 */
static int next_len(mproc_conn *c, size_t *len) {
  uint64_t n;
  size_t got = 0, hl = 4, rest = 0;
  int rc;
  if (!c->have_len) {
    if (c->records) {
      if (!c->rec && !(c->rec = malloc(REC_FIRST)))
        return mproc__err(MPROC_ENOMEM, "connection receive buffer");
      /* After a body recv_bytes could take over (c->scatter), the header
       * is read apart (recvmsg): the body then starts at rec[0].  Else
       * the record goes whole into rec (recv: cheaper for small ones). */
      if (c->scatter)
        rc = mproc__plat_stream_read_record2(c->h, c->hdr, 4, c->rec,
                                             REC_FIRST - 4, &got);
      else
        rc = mproc__plat_stream_read_record(c->h, c->rec, REC_FIRST, &got);
      if (rc == MPROC_EBADMSG)
        return out_of_step(c, rc, mproc_last_error());
      if (rc)
        return rc;
      if (got < 4)
        return out_of_step(c, MPROC_EBADMSG, "a record shorter than a "
                                             "message header");
      got -= 4; /* the bytes after the first 4 of the header, from rest */
      if (!c->scatter) {
        memcpy(c->hdr, c->rec, 4);
        rest = 4;
      }
    } else {
      rc = read_exact(c, c->hdr, 4, 0);
      if (rc)
        return rc;
    }
    n = get_be(c->hdr, 4);
    if (n == BIG_LEN) {
      hl = 12;
      if (!c->records) {
        rc = read_exact(c, c->hdr + 4, 8, 1);
        if (rc)
          return rc;
      } else if (got < 8) {
        return out_of_step(c, MPROC_EBADMSG, "a record shorter than a "
                                             "message header");
      } else {
        memcpy(c->hdr + 4, c->rec + rest, 8);
      }
      n = get_be(c->hdr + 4, 8);
    }
    if (n > MSG_MAX || n > (uint64_t)SIZE_MAX / 2) {
      mproc_conn_close(c);
      return mproc__err(MPROC_ETOOBIG,
                        "message header claims %llu bytes (limit %llu); the "
                        "connection is closed",
                        (unsigned long long)n, (unsigned long long)MSG_MAX);
    }
    c->rpos = c->records ? rest + hl - 4 : 0;
    c->rend = c->records ? rest + got : 0;
    c->scatter = c->records && n > HANDOFF_MIN && n <= REC_FIRST - 4;
    if (c->rend - c->rpos > n)
      return out_of_step(c, MPROC_EBADMSG, "a record longer than its "
                                           "message");
    c->pending = (size_t)n;
    c->have_len = 1;
  }
  *len = c->pending;
  return 0;
}

/* Take the pending message's body bytes already held (at most len). */
static size_t take_held(mproc_conn *c, unsigned char *dst) {
  size_t have = c->rend - c->rpos;
  if (have)
    memcpy(dst, c->rec + c->rpos, have);
  c->have_len = 0;
  c->rpos = c->rend = 0;
  return have;
}

/* Deliver the pending body into dst (len bytes). */
static int read_body(mproc_conn *c, unsigned char *dst, size_t len) {
  size_t have = take_held(c, dst);
  if (have == len) /* dst may be NULL when len is 0 */
    return 0;
  return read_exact(c, dst + have, len - have, 1);
}

/* A body whose header claims more than TRUST_LEN bytes grows its buffer
 * as the bytes actually arrive, so a lying header cannot make us
 * allocate. */
static int read_body_grow(mproc_conn *c, unsigned char **out, size_t len) {
  size_t cap = TRUST_LEN, done = 0;
  unsigned char *p = malloc(cap);
  if (!p)
    return mproc__err(MPROC_ENOMEM, "message of %zu bytes", len);
  done = take_held(c, p); /* at most REC_FIRST bytes */
  while (done < len) {
    size_t step;
    int rc;
    /* Grow before the room left could cut a record (REC_CHUNK at most). */
    if (cap - done < REC_CHUNK && cap < len) {
      size_t ncap = cap * 2 < len ? cap * 2 : len;
      unsigned char *np = realloc(p, ncap);
      if (!np) {
        free(p);
        return mproc__err(MPROC_ENOMEM, "message of %zu bytes", len);
      }
      p = np;
      cap = ncap;
    }
    step = len - done < cap - done ? len - done : cap - done;
    rc = read_exact(c, p + done, step, 1);
    if (rc) {
      free(p);
      return rc;
    }
    done += step;
  }
  *out = p;
  return 0;
}

/* Python's _bad_message_length: a message longer than maxlength stays in
 * the stream, so the end can no longer receive: a duplex end becomes
 * write-only, a receive-only end is closed. */
static int bad_length(mproc_conn *c, const char *what, size_t len,
                      int64_t maxlength) {
  const char *now;
  c->have_len = 0;
  c->rpos = c->rend = 0;
  if (c->writable) {
    c->readable = 0;
    now = "the connection is now write-only";
  } else {
    mproc_conn_close(c);
    now = "the connection is closed";
  }
  return mproc__err(MPROC_ETOOBIG,
                    "%s: bad message length (%zu bytes, maxlength %lld); %s",
                    what, len, (long long)maxlength, now);
}

static int recv_bytes(mproc_conn *c, void **buf, size_t *n, int64_t maxlength,
                      const char *what) {
  size_t len;
  unsigned char *p = NULL;
  int rc = check(c, 1, what);
  if (rc)
    return rc;
  if (!buf || !n)
    return mproc__err(MPROC_EINVAL, "%s: NULL output", what);
  if (maxlength < 0 && maxlength != MPROC_NOSIZE)
    return mproc__err(MPROC_EINVAL, "%s: negative maxlength", what);
  rc = next_len(c, &len);
  if (rc)
    return rc;
  if (maxlength >= 0 && (uint64_t)len > (uint64_t)maxlength)
    return bad_length(c, what, len, maxlength);
  if (len > HANDOFF_MIN && c->rpos == 0 && c->rend == len &&
      (p = realloc(c->rec, len)) != NULL) {
    /* The whole body is at the start of the record buffer: hand it over
     * (no copy); the next receive allocates a new one. */
    c->rec = NULL;
    c->have_len = 0;
    c->rend = 0;
  } else if (len > TRUST_LEN) {
    rc = read_body_grow(c, &p, len);
  } else {
    p = malloc(len ? len : 1);
    if (!p)
      return mproc__err(MPROC_ENOMEM, "message of %zu bytes", len);
    rc = read_body(c, p, len);
  }
  if (rc) {
    free(p);
    return rc;
  }
  *buf = p;
  *n = len;
  return 0;
}

int mproc_conn_recv_bytes(mproc_conn *c, void **buf, size_t *n) {
  return recv_bytes(c, buf, n, MPROC_NOSIZE, "mproc_conn_recv_bytes");
}

int mproc_conn_recv_bytes_max(mproc_conn *c, void **buf, size_t *n,
                              int64_t maxlength) {
  return recv_bytes(c, buf, n, maxlength, "mproc_conn_recv_bytes_max");
}

static int recv_into(mproc_conn *c, void *buf, size_t cap, int64_t offset,
                     size_t *n, const char *what) {
  size_t len, room;
  int rc = check(c, 1, what);
  if (rc)
    return rc;
  if (!n || (!buf && cap))
    return mproc__err(MPROC_EINVAL, "%s: NULL", what);
  if (offset < 0)
    return mproc__err(MPROC_EINVAL, "%s: negative offset", what);
  if ((uint64_t)offset > cap)
    return mproc__err(MPROC_EINVAL, "%s: offset too large", what);
  room = cap - (size_t)offset;
  rc = next_len(c, &len);
  if (rc)
    return rc;
  *n = len;
  if (len > room)
    return mproc__err(MPROC_EBUFSIZE,
                      "%s: message of %zu bytes does not fit in %zu; it is "
                      "kept for the next receive",
                      what, len, room);
  /* buf may be NULL when len is 0 (cap 0): no pointer arithmetic then. */
  return read_body(c, len ? (unsigned char *)buf + offset : NULL, len);
}

int mproc_conn_recv_bytes_into(mproc_conn *c, void *buf, size_t cap,
                               size_t *n) {
  return recv_into(c, buf, cap, 0, n, "mproc_conn_recv_bytes_into");
}

int mproc_conn_recv_bytes_into_at(mproc_conn *c, void *buf, size_t cap,
                                  int64_t offset, size_t *n) {
  return recv_into(c, buf, cap, offset, n, "mproc_conn_recv_bytes_into_at");
}

int mproc_conn_recv(mproc_conn *c, mproc_value **out) {
  unsigned char small[512];
  size_t len;
  void *body = NULL;
  int rc = check(c, 1, "mproc_conn_recv");
  if (rc)
    return rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_conn_recv: NULL output");
  *out = NULL;
  rc = next_len(c, &len);
  if (rc)
    return rc;
  if (c->rend - c->rpos == len && len > sizeof small) {
    /* The whole message is in the record buffer: decode it there. */
    const unsigned char *p = c->rec + c->rpos;
    c->have_len = 0;
    c->rpos = c->rend = 0;
    return mproc__decode(p, len, out, NULL);
  }
  if (len <= sizeof small) {
    rc = read_body(c, small, len);
    return rc ? rc : mproc__decode(small, len, out, NULL);
  }
  rc = mproc_conn_recv_bytes(c, &body, &len);
  if (rc)
    return rc;
  rc = mproc__decode(body, len, out, NULL);
  free(body);
  return rc;
}

int mproc__conn_wait_item(mproc_conn *c, mproc__waititem *item) {
  int rc = check(c, 1, "mproc_wait");
  if (rc)
    return rc;
  if (c->have_len)
    return 1;
  item->h = c->h;
  item->kind = MPROC__W_STREAM;
  return 0;
}

int mproc_conn_poll(mproc_conn *c, double timeout) {
  mproc__waititem item;
  int ready = 0;
  int rc = check(c, 1, "mproc_conn_poll");
  if (!rc)
    rc = mproc__timeout(&timeout, "mproc_conn_poll");
  if (!rc)
    rc = mproc__conn_wait_item(c, &item);
  if (rc)
    return rc; /* an error, or 1: a header is already buffered */
  rc = mproc__plat_wait(&item, 1, timeout, &ready);
  return rc < 0 ? rc : ready;
}

int mproc_conn_readable(const mproc_conn *c) { return c && c->readable; }
int mproc_conn_writable(const mproc_conn *c) { return c && c->writable; }
int mproc_conn_closed(const mproc_conn *c) { return !c || c->closed; }

int mproc_conn_close(mproc_conn *c) {
  int rc;
  if (!c)
    return mproc__err(MPROC_EINVAL, "mproc_conn_close: NULL connection");
  if (c->closed)
    return 0;
  c->closed = 1;
  c->have_len = 0;
  c->rpos = c->rend = 0;
  rc = mproc__plat_close(c->h);
  c->h = MPROC__NOHANDLE;
  return rc;
}

void mproc_conn_free(mproc_conn *c) {
  if (!c)
    return;
  mproc_conn_close(c);
  free(c->rec);
  free(c);
}

mproc_waitable *mproc_conn_waitable(mproc_conn *c) {
  return c ? &c->w : NULL;
}

/* ---- travelling to a child ----------------------------------------------- */

static void conn_release(void *obj) { mproc_conn_free(obj); }

static int conn_export(void *obj, mproc__spawn *sp, mproc_value **plain) {
  mproc_conn *c = obj;
  int idx;
  if (c->closed)
    return mproc__err(MPROC_ECLOSED,
                      "a closed Connection cannot be passed to a process");
  idx = mproc__spawn_add_handle(sp, c->h);
  if (idx < 0)
    return idx;
  *plain = mproc_build("[ibb]", idx, c->readable, c->writable);
  return *plain ? 0 : MPROC_ENOMEM;
}

static int conn_import(mproc__spawn *sp, const mproc_value *plain,
                       void **obj) {
  int64_t idx;
  int r, w, rc;
  mproc__handle h;
  mproc_conn *c;
  if (mproc_list_len(plain) != 3 ||
      mproc_value_get_int(mproc_list_get(plain, 0), &idx) != 0 ||
      mproc_value_get_bool(mproc_list_get(plain, 1), &r) != 0 ||
      mproc_value_get_bool(mproc_list_get(plain, 2), &w) != 0)
    return mproc__err(MPROC_EBADMSG, "malformed Connection in bootstrap");
  rc = mproc__spawn_get_handle(sp, idx, &h);
  if (rc)
    return rc;
  c = mproc__conn_wrap(h, r, w);
  if (!c)
    return MPROC_ENOMEM;
  *obj = c;
  return 0;
}

const mproc__objtype mproc__conn_type = {"Connection", conn_release,
                                         conn_export, conn_import};
