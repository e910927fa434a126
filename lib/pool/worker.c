/*
 * worker.c - the pool worker's side: its loop (the target of every worker
 * process), mproc_fail and mproc_task_expired.
 *
 * A worker ignores Ctrl-C (the parent alone decides), runs the
 * initializer once, says READY (or INITFAIL and exits), then reads chunks
 * from its Pipe until EOF.  Before a chunk it claims the chunk's slot word
 * (SENT -> STARTED; a cancelled chunk is skipped), and around each task it
 * writes the progress block: which chunk, which task, since when.  The
 * results of a chunk go back in one message; a result that cannot be
 * encoded (an OS object in it) fails that task alone.  With
 * maxtasksperchild it exits after that many chunks (Python counts a
 * chunk as one task too); under a memory limit it exits after a task
 * failed with MPROC_ENOMEM, so a fresh worker takes over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "engine.h"

/* The running task's soft deadline (monotonic seconds; 0: none). */
static double soft_deadline;

int mproc_fail(int code, const char *fmt, ...) {
  mproc__errrec *r = mproc__plat_errrec();
  va_list ap;
  if (code >= 0)
    code = MPROC_EINVAL;
  r->code = code;
  r->oserr = 0;
  va_start(ap, fmt);
  if (fmt)
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
  else
    r->detail[0] = 0;
  va_end(ap);
  return code;
}

int mproc_task_expired(void) {
  return soft_deadline > 0 && mproc__plat_monotonic() >= soft_deadline;
}

static void clear_error(void) {
  mproc__errrec *r = mproc__plat_errrec();
  r->code = 0;
  r->oserr = 0;
  r->detail[0] = 0;
}

/* The message of a failed task: its own, else the code's text. */
static const char *fail_text(int code) {
  mproc__errrec *r = mproc__plat_errrec();
  if (r->code == code && r->detail[0])
    return r->detail;
  return mproc_strerror(code);
}



/* One failed task into the results. */
static void put_fail(mproc__buf *out, int code, const char *msg) {
  size_t n = strlen(msg);
  mproc__put32(out, (uint32_t)code);
  mproc__put32(out, 0);
  mproc__put64(out, n);
  mproc__buf_append(out, msg, n);
}

/* One result into the per-task results (res freed); an unencodable
 * result fails its task alone. */
static void put_ok(mproc__buf *out, mproc_value *res) {
  size_t at = out->len;
  mproc_value *none = NULL;
  int trc;
  mproc__put32(out, 0);
  mproc__put32(out, 0);
  mproc__put64(out, 0);
  if (!res)
    res = none = mproc_none();
  trc = mproc__encode(res, out, NULL);
  if (trc) {
    char why[400];
    snprintf(why, sizeof why, "the result cannot be sent: %s",
             mproc_last_error());
    out->len = at;
    put_fail(out, trc, why);
  } else {
    uint64_t vlen = out->len - at - 16;
    memcpy(out->p + at + 8, &vlen, 8);
  }
  mproc_value_free(res);
}

/* The results gathered in list l go out per task after all (a task
 * failed, or the list cannot be encoded); l is freed. */
static void flush_list(mproc__buf *out, mproc_value *l) {
  size_t k;
  for (k = 0; k < l->u.list.n; k++) {
    mproc_value *v = l->u.list.items[k];
    l->u.list.items[k] = NULL;
    put_ok(out, v->type == MPROC_T_NONE ? (mproc_value_free(v), NULL) : v);
  }
  l->u.list.n = 0;
  mproc_value_free(l);
}

/* Run one chunk; its results into out. 1: skipped (cancelled). */
int mproc__pool_run_chunk(volatile uint64_t *w, const unsigned char *msg,
                          size_t len, mproc__buf *out, char *cache_mod,
                          uint64_t *cache_off, void **cache_fn, int *nomem,
                          mproc__task_start_fn on_start, void *ctx) {
  mproc__rd r;
  uint32_t slot, n, ml, k, timed, batch;
  uint64_t id, offset, want;
  double soft;
  char module[1024];
  mproc_task_fn fn = NULL;
  mproc_value *rl = NULL;
  int rc;
  r.p = msg;
  r.end = msg + len;
  r.bad = 0;
  mproc__get32(&r); /* M_CHUNK */
  slot = mproc__get32(&r);
  timed = (slot >> 8) & 1; /* a time limit: stamp each task's start */
  batch = (slot >> 9) & 1;  /* claim each task on its own word */
  slot &= 0xff;
  id = mproc__get64(&r);
  n = mproc__get32(&r);
  ml = mproc__get32(&r);
  offset = mproc__get64(&r);
  if (r.bad || r.end - r.p < 8 || slot > 1 || ml >= sizeof module ||
      (batch && n > BATCH_MAX))
    return -1;
  memcpy(&soft, r.p, 8);
  r.p += 8;
  if ((size_t)(r.end - r.p) < ml)
    return -1;
  memcpy(module, r.p, ml);
  module[ml] = 0;
  r.p += ml;
  want = (id << 2) | SL_SENT;
  if (!mproc__cas64(&w[W_SLOT0 + slot], &want, (id << 2) | SL_STARTED))
    return 1; /* cancelled (or replaced) before it started */
  if (*cache_fn && *cache_off == offset && strcmp(cache_mod, module) == 0) {
    memcpy(&fn, cache_fn, sizeof fn);
    rc = 0;
  } else {
    void *addr = NULL;
    rc = mproc__plat_ref_to_addr(module, offset, &addr);
    if (rc == 0) {
      *cache_fn = addr;
      *cache_off = offset;
      memcpy(cache_mod, module, ml + 1);
      memcpy(&fn, &addr, sizeof fn);
    }
  }
  out->len = 0;
  mproc__put32(out, M_RESULTS);
  mproc__put32(out, n);
  mproc__put64(out, id);
  /* A chunk of several tasks gathers its results in one list, sent as one
   * encoded value (M_RESLIST: one encode here, one decode on the fast path
   * in the parent), until a task fails. */
  rl = n > 1 && rc == 0 ? mproc__seq_new(MPROC_T_LIST, n) : NULL;
  mproc__st64_release(&w[W_RUN], id);
  for (k = 0; k < n; k++) {
    uint64_t alen = mproc__get64(&r);
    mproc_value *arg = NULL, *res = NULL;
    int trc;
    if (r.bad || (uint64_t)(r.end - r.p) < alen) {
      mproc_value_free(rl);
      return -1;
    }
    if (batch) {
      /* a task of a batch cancelled before it started never runs */
      uint64_t wm = (id << 2) | SL_SENT;
      if (!mproc__cas64(&w[W_MEM0 + slot * BATCH_MAX + k], &wm,
                        (id << 2) | SL_STARTED)) {
        if (rl) {
          flush_list(out, rl);
          rl = NULL;
        }
        put_fail(out, MPROC_ECLOSED, "task cancelled");
        r.p += alen;
        continue;
      }
    }
    if (rc) {
      put_fail(out, rc, "the task function cannot be found in the worker");
      r.p += alen;
      continue;
    }
    trc = mproc__decode_lone_int(r.p, (size_t)alen, &arg)
              ? 0
              : mproc_decode(r.p, (size_t)alen, &arg);
    r.p += alen;
    if (trc) {
      if (rl) {
        flush_list(out, rl);
        rl = NULL;
      }
      put_fail(out, trc, mproc_last_error());
      continue;
    }
    clear_error();
    if (timed) {
      double start = mproc__plat_monotonic();
      mproc__st64_relaxed(&w[W_START], (uint64_t)(start * 1e9));
      soft_deadline = soft > 0 ? start + soft : 0;
      if (on_start)
        on_start(ctx, id, k);
    }
    mproc__st64_release(&w[W_TASK], k + 1);
    trc = fn(arg, &res);
    mproc__st64_release(&w[W_TASK], 0);
    soft_deadline = 0;
    mproc_value_free(arg);
    if (trc < 0) {
      if (trc == MPROC_ENOMEM)
        *nomem = 1;
      if (rl) {
        flush_list(out, rl);
        rl = NULL;
      }
      put_fail(out, trc, fail_text(trc));
      mproc_value_free(res);
      continue;
    }
    if (rl) {
      if (mproc__seq_push(rl, res ? res : mproc_none()) == 0)
        continue;
      /* out of memory (the item went with the failed push): per task */
      flush_list(out, rl);
      rl = NULL;
      put_fail(out, MPROC_ENOMEM, "out of memory gathering the results");
      continue;
    }
    put_ok(out, res);
  }
  if (rl) {
    size_t at = out->len;
    uint32_t t = M_RESLIST;
    mproc__put64(out, 0);
    if (mproc__encode(rl, out, NULL) == 0) {
      uint64_t vlen = out->len - at - 8;
      memcpy(out->p + at, &vlen, 8);
      memcpy(out->p, &t, 4);
      mproc_value_free(rl);
    } else {
      out->len = at;
      flush_list(out, rl); /* an unencodable result fails its task alone */
    }
  }
  mproc__st64_release(&w[W_RUN], 0);
  return 0;
}

int mproc__pool_run_init(const char *imod, uint64_t ioff,
                         const mproc_value *initargs, mproc__buf *out) {
  void *addr = NULL;
  int rc;
  if (!imod)
    return 0;
  rc = mproc__plat_ref_to_addr(imod, ioff, &addr);
  if (rc == 0) {
    mproc_pool_init_fn init;
    memcpy(&init, &addr, sizeof init);
    clear_error();
    rc = init(initargs);
    if (rc > 0)
      rc = mproc_fail(MPROC_EINVAL, "the initializer returned %d", rc);
  }
  if (rc) {
    const char *t = fail_text(rc);
    out->len = 0;
    mproc__put32(out, M_INITFAIL);
    mproc__put32(out, (uint32_t)rc);
    mproc__buf_append(out, t, strlen(t));
  }
  return rc;
}

/* args: [conn, progress block, init module|None, init offset, initargs,
 *        maxtasksperchild, memory limit] */
int mproc__pool_worker_main(mproc_value *args) {
  mproc_conn *conn = NULL;
  mproc_shared *blk = NULL;
  volatile uint64_t *w;
  const char *imod = mproc_value_str(mproc_list_get(args, 2));
  int64_t ioff = 0, maxtasks = 0, memlimit = 0;
  mproc__buf out = MPROC__BUF_INIT;
  char cache_mod[1024] = "";
  uint64_t cache_off = 0;
  void *cache_fn = NULL;
  long chunks = 0;
  int nomem = 0;
  uint32_t tag;
  if (mproc_value_get_conn(mproc_list_get(args, 0), &conn) != 0 ||
      mproc_value_get_shared(mproc_list_get(args, 1), &blk) != 0)
    return 3;
  w = mproc_shared_data(blk);
  mproc_value_get_int(mproc_list_get(args, 3), &ioff);
  mproc_value_get_int(mproc_list_get(args, 5), &maxtasks);
  mproc_value_get_int(mproc_list_get(args, 6), &memlimit);
  mproc__plat_ignore_interrupt();
  if (memlimit > 0)
    mproc__plat_memory_limit((size_t)memlimit);
  if (mproc__pool_run_init(imod, (uint64_t)ioff, mproc_list_get(args, 4),
                           &out) != 0) {
    mproc_conn_send_bytes(conn, out.p, out.len);
    mproc__buf_free(&out);
    return 1;
  }
  tag = M_READY;
  if (mproc_conn_send_bytes(conn, &tag, 4) != 0)
    return 0;
  for (;;) {
    void *msg = NULL;
    size_t len = 0;
    int rc = mproc_conn_recv_bytes(conn, &msg, &len);
    if (rc)
      break; /* EOF: the pool is done with this worker */
    rc = mproc__pool_run_chunk(w, msg, len, &out, cache_mod, &cache_off,
                               &cache_fn, &nomem, NULL, NULL);
    mproc_free(msg);
    if (rc < 0) {
      mproc__buf_free(&out);
      return 4; /* a garbled message: the parent replaces this worker */
    }
    if (rc == 1)
      continue;
    if (mproc_conn_send_bytes(conn, out.p, out.len) != 0)
      break;
    if (maxtasks > 0 && ++chunks >= maxtasks)
      break;
    /* Out of memory under a memory limit: a fresh worker takes over. */
    if (nomem && memlimit > 0)
      break;
  }
  mproc__buf_free(&out);
  return 0;
}
