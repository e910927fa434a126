/*
 * worker.c - the pool worker's side: its loop (the target of every worker
 * process), mproc_fail and mproc_task_expired.
 *
 * A worker ignores Ctrl-C (the parent alone decides), runs the
 * initializer once, says READY (or INITFAIL and exits), then reads chunks
 * from its Pipe until EOF.  Before a chunk it claims the chunk's slot word
 * (SENT -> STARTED; a cancelled chunk is skipped), and around each task it
 * writes the progress block: which chunk, which task, since when.  The
 * arguments come as a run of items (a scalar argument is made on the
 * stack, nothing allocated); the results of a chunk go back in one
 * message, a run with each result encoded as soon as its task returns;
 * a result that cannot be encoded (an OS object in it) fails that task
 * alone.  With
 * maxtasksperchild it exits after that many chunks (Python counts a
 * chunk as one task too); under a memory limit it exits after a task
 * failed with MPROC_ENOMEM, so a fresh worker takes over.  Its start is
 * safe from Ctrl-C: it was spawned with SIGINT blocked (Win32: in a new
 * process group), and ignoring it drops one that came meanwhile.
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
  if (!r->code && !r->oserr && !r->detail[0])
    return; /* clear already (the common case: no store per task) */
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



/* One failed task into the results: RES_FAIL, code, length, text. */
static void put_fail(mproc__buf *out, int code, const char *msg) {
  size_t n = strlen(msg);
  unsigned char m = RES_FAIL;
  mproc__buf_append(out, &m, 1);
  mproc__put32(out, (uint32_t)code);
  mproc__put32(out, (uint32_t)n);
  mproc__buf_append(out, msg, n);
}

/* One result into the run (res freed); an unencodable result fails its
 * task alone. */
static void put_ok(mproc__buf *out, mproc_value *res) {
  int trc;
  if (res && res->type == MPROC_T_INT && out->cap - out->len >= 9) {
    out->len += mproc__item_int_put(out->p + out->len, res->u.i);
    mproc_value_free(res);
    return;
  }
  trc = mproc__encode_item(res ? res : mproc_none(), out, NULL);
  if (trc) {
    char why[400];
    snprintf(why, sizeof why, "the result cannot be sent: %s",
             mproc_last_error());
    put_fail(out, trc, why);
  }
  mproc_value_free(res);
}

/* The next argument of the run: a scalar made in *tmp (nothing to free),
 * else decoded (*owned set).  0, or the decoder's code. */
static int take_arg(mproc__rd *r, mproc_value *tmp, const mproc_value **arg,
                    mproc_value **owned) {
  size_t used = 0;
  int rc;
  *owned = NULL;
  if ((used = mproc__item_int_get(r->p, (size_t)(r->end - r->p),
                                  &tmp->u.i)) != 0) {
    tmp->type = MPROC_T_INT;
    tmp->flags = 0;
    *arg = tmp;
    r->p += used;
    return 0;
  }
  if (mproc__item_scalar(r->p, (size_t)(r->end - r->p), tmp, arg, &used)) {
    r->p += used;
    return 0;
  }
  rc = mproc__decode_item(r->p, (size_t)(r->end - r->p), owned, &used);
  if (rc)
    return rc;
  r->p += used;
  *arg = *owned;
  return 0;
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
  int rc, lost = 0;
  char lostmsg[400];
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
  if (r.bad || r.end - r.p < 8 || slot >= NSLOT_MAX || ml >= sizeof module ||
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
  if (n <= 1u << 20)
    mproc__buf_reserve(out, 16 + 9 * (size_t)n); /* ints: no growth */
  mproc__put32(out, M_RESULTS);
  mproc__put32(out, n);
  mproc__put64(out, id);
  /* Each result goes into the run as soon as it is made (one item: an
   * int is its head), so a chunk of ints holds no value past its task. */
  mproc__st64_release(&w[W_RUN], id);
  for (k = 0; k < n; k++) {
    mproc_value tmp, *owned = NULL, *res = NULL;
    const mproc_value *arg = NULL;
    int trc;
    size_t used;
    if (r.p >= r.end && !lost && rc == 0)
      return -1; /* fewer arguments than tasks */
    if (!batch && !rc && !lost &&
        (used = mproc__item_int_get(r.p, (size_t)(r.end - r.p),
                                    &tmp.u.i)) != 0) {
      /* the common task: an int argument, made here */
      tmp.type = MPROC_T_INT;
      tmp.flags = 0;
      arg = &tmp;
      r.p += used;
      goto run;
    }
    if (batch) {
      /* a task of a batch cancelled before it started never runs */
      uint64_t wm = (id << 2) | SL_SENT;
      if (!mproc__cas64(&w[W_MEM0 + slot * BATCH_MAX + k], &wm,
                        (id << 2) | SL_STARTED)) {
        if (!lost && rc == 0) {
          if ((trc = take_arg(&r, &tmp, &arg, &owned)) != 0) {
            lost = trc; /* the next argument cannot be found */
            snprintf(lostmsg, sizeof lostmsg, "%s", mproc_last_error());
          }
          mproc_value_free(owned);
        }
        put_fail(out, MPROC_ECLOSED, "task cancelled");
        continue;
      }
    }
    if (rc) {
      put_fail(out, rc, "the task function cannot be found in the worker");
      continue;
    }
    if (lost) {
      put_fail(out, lost, lostmsg);
      continue;
    }
    trc = take_arg(&r, &tmp, &arg, &owned);
    if (trc) {
      /* The run cannot be read on: this task and the rest fail. */
      lost = trc;
      snprintf(lostmsg, sizeof lostmsg, "%s", mproc_last_error());
      put_fail(out, lost, lostmsg);
      continue;
    }
  run:
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
    if (timed)
      soft_deadline = 0;
    if (owned)
      mproc_value_free(owned);
    if (trc < 0) {
      if (trc == MPROC_ENOMEM)
        *nomem = 1;
      put_fail(out, trc, fail_text(trc));
      mproc_value_free(res);
      continue;
    }
    put_ok(out, res);
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
  /* Fault injection for the test suite: "pool-recv-max:N" - a chunk
   * message longer than N bytes cannot be received, as one bigger than a
   * memory limit cannot (wine enforces none); "pool-slow-start:S" - the
   * worker sleeps S seconds before it ignores Ctrl-C (a window as wide as
   * that, were it not spawned with Ctrl-C held off already);
   * "pool-garble" - every reply lacks its last byte (a garbled answer,
   * which fails its tasks with MPROC_EBADMSG and never re-runs them). */
  const char *fault = getenv("MPROC_TEST_FAULT");
  int garble = fault && strcmp(fault, "pool-garble") == 0;
  int64_t recv_max = MPROC_NOSIZE;
  if (fault && strncmp(fault, "pool-recv-max:", 14) == 0)
    recv_max = strtoll(fault + 14, NULL, 10);
  if (fault && strncmp(fault, "pool-slow-start:", 16) == 0)
    mproc_sleep(strtod(fault + 16, NULL));
  if (mproc_value_get_conn(mproc_list_get(args, 0), &conn) != 0 ||
      mproc_value_get_shared(mproc_list_get(args, 1), &blk) != 0)
    return 3;
  w = mproc_shared_data(blk);
  mproc_value_get_int(mproc_list_get(args, 3), &ioff);
  mproc_value_get_int(mproc_list_get(args, 5), &maxtasks);
  mproc_value_get_int(mproc_list_get(args, 6), &memlimit);
  mproc__plat_ignore_interrupt();
  if (memlimit > 0)
    mproc__plat_memory_limit((size_t)memlimit, WX_MEMORY);
  if (mproc__pool_run_init(imod, (uint64_t)ioff, mproc_list_get(args, 4),
                           &out) != 0) {
    mproc_conn_send_bytes(conn, out.p, out.len);
    mproc__buf_free(&out);
    return 1;
  }
  mproc__value_cache_own(); /* a task's result: no malloc + free each */
  tag = M_READY;
  if (mproc_conn_send_bytes(conn, &tag, 4) != 0)
    return 0;
  for (;;) {
    void *msg = NULL;
    size_t len = 0;
    int rc = mproc_conn_recv_bytes_max(conn, &msg, &len, recv_max);
    if (rc == MPROC_EEOF)
      break; /* EOF: the pool is done with this worker */
    if (rc) {
      /* A chunk it cannot receive (out of memory under a memory limit):
       * not a clean exit, so the parent counts it against the chunk. */
      mproc__buf_free(&out);
      return WX_NORECV;
    }
    rc = mproc__pool_run_chunk(w, msg, len, &out, cache_mod, &cache_off,
                               &cache_fn, &nomem, NULL, NULL);
    mproc_free(msg);
    if (rc < 0) {
      mproc__buf_free(&out);
      return WX_GARBLED; /* the parent replaces this worker */
    }
    if (rc == 1)
      continue;
    if (garble && out.len > 0)
      out.len--;
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
