/*
 * engine.h - what the pool's files share (not public): the one engine
 * (engine.c) behind Python's Pool face (pool.c) and the futures face
 * (futures.c), and the worker's side (worker.c).
 *
 * The wire between the parent and one worker (its own duplex Pipe) and
 * the worker's progress block are described here because both sides use
 * them; docs/pool.md has the design.
 */
#ifndef MPROC_POOL_ENGINE_H
#define MPROC_POOL_ENGINE_H

#include <apr_pools.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include <string.h>

#include "mproc_int.h"

/* ---- the worker's progress block: a RawArray of 'Q' words ---------------- */
enum {
  W_RUN = 0,   /* id of the chunk the worker runs now (0: none) */
  W_TASK = 1,  /* index + 1 in that chunk of the running task (0: none) */
  W_START = 2, /* its start, monotonic clock in ns */
  W_SLOT0 = 3, /* NSLOT_MAX slot words: (chunk id << 2) | SL_* */
  NSLOT = 4,   /* chunks a local worker may hold (engine.c dispatch) */
  NSLOT_MAX = 16, /* a backend's workers may hold more (its slots) */
  W_MEM0 = W_SLOT0 + NSLOT_MAX, /* a batch's claim words, BATCH_MAX per
                                   slot: (id << 2) | SL_* */
  BATCH_MAX = 16,
  W_NWORDS = W_MEM0 + NSLOT_MAX * BATCH_MAX
};
enum { SL_SENT = 1, SL_STARTED = 2, SL_CANCELLED = 3 };

/* ---- messages (native byte order: both ends are the same binary) -------- */
enum {
  M_CHUNK = 0x4b4e4843u,   /* parent -> worker: a chunk of tasks */
  M_READY = 0x59444552u,   /* worker -> parent: initializer done */
  M_INITFAIL = 0x4c494146u,/* worker -> parent: initializer failed */
  M_RESULTS = 0x53544c52u  /* worker -> parent: a chunk's results */
};
/*
 * M_CHUNK:   u32 type, u32 slot (| 0x100: a time limit is set, the
 *            worker stamps W_START per task; | 0x200: a batch, each task
 *            claimed on its own word W_MEM0 + slot * BATCH_MAX + k), u64 id, u32 n, u32 modlen, u64 offset,
 *            f64 soft limit (0: none), module bytes, then the n arguments
 *            as a run of bare items to the message's end (codec.c "runs
 *            of items": a map's chunk is one slice of the arguments
 *            encoded at submit).
 * M_RESULTS: u32 type, u32 n, u64 id, then the n results as a run, each
 *            either one bare item (the value) or a failure: the byte
 *            RES_FAIL (0xFF, CBOR's "break", which never starts an item),
 *            i32 code, u32 len, the message's text.
 * M_INITFAIL: u32 type, i32 code, message text.  M_READY: u32 type.
 */
#define RES_FAIL 0xFFu

/* ---- structures ------------------------------------------------------------ */

typedef struct chunk chunk;
struct chunk {
  mproc_async *job;
  size_t first, n;  /* tasks first .. first+n-1, unless idx */
  size_t *idx;      /* the tasks' indices (a re-dispatched chunk) */
  /* A batch: n single-task chunks of apply/submit calls with the same
   * function and limits, sent as one message; task k is mem[k]'s. */
  struct chunk **mem;
  uint64_t id;
  int slot;
  size_t bytes;  /* its message's length (in flight in a pipe) */
  uint64_t sent; /* when it was sent: the handler's count (0: direct) */
  int deaths; /* workers that died holding it before it started */
  chunk *next;
};

enum { T_QUEUED = 0, T_SENT = 1, T_DONE = 2 };

/* A chunk (a batch's task) held by RESEND_MAX workers that died before it
 * started, running no task, fails (engine.c resend_limit). */
enum { RESEND_MAX = 3 };

/* A worker's exit codes past its READY (worker.c): 4 a garbled message,
 * 5 a chunk it could not receive (no memory under a memory limit).  Either
 * says it was ready even when its READY was lost with the connection.
 * 6: its memory limit's watchdog ended it (Win32, where the Job's limit
 * is not enforced: mproc__plat_memory_limit), at any time. */
enum { WX_GARBLED = 4, WX_NORECV = 5, WX_MEMORY = 6 };

struct mproc_async {
  mproc_pool *pool;
  int refs; /* the user's and the engine's; under the pool mutex */
  int kind;
  char module[1024];
  uint64_t offset;
  size_t n;
  mproc__buf args;
  size_t *argoff; /* where each chunk's arguments start in args, then
                     their end (chunks of o.chunksize tasks) */
  mproc_value **vals;
  int *codes;
  char **msgs;
  long *pids;
  unsigned char *tstate;
  size_t done;
  size_t first_fail; /* (size_t)-1: none */
  int ready;
  int waiting; /* threads in mproc__wait_ready_locked on it */
  mproc_value *list; /* map kinds: the results, once ready */
  mproc_value *rlist; /* J_MAP: that list while it fills (vals are its
                         items; its n is set when ready) */
  mproc_call_opts o;
  double time_limit, soft_limit;
  /* cancel: asked (under the mutex), then answered by the handler */
  int cancel_req, cancel_kill, cancel_done, cancelled_n;
  int h_cancel; /* the handler's copy of cancel_req */
  /* futures: done callbacks, run once the call is ready */
  struct donecb *dcbs;
  /* imap */
  size_t next_i;
  size_t *order;
  size_t norder;
  mproc_async *next_sub; /* the submitted list */
};

typedef struct worker {
  mproc_process *proc;
  mproc_conn *conn;
  mproc_shared *blk;
  volatile uint64_t *w;
  long pid;
  int live;
  int ready;    /* may take chunks */
  int said_ready; /* its READY came: the initializer finished */
  int initfail; /* it reported a failed initializer */
  int retiring; /* maxtasksperchild reached: no more chunks */
  long chunks;  /* chunks sent to it */
  chunk *fl[NSLOT_MAX]; /* in flight, by slot */
  size_t qmax; /* bytes its further chunks may take in its pipe (dispatch) */
  int kill_code;
  char *initmsg;
  int h_lent, h_avail; /* the handler's copies of its wlend's lent, avail */
  void *be; /* the backend's stand-in (mpi.c's bridge); NULL: proc */
} worker;

/* Worker i as the direct path sees it (a synchronous apply on the calling
 * thread, engine.c "the direct path"), under the pool mutex. */
typedef struct wlend {
  int avail;    /* idle and lendable: published by the handler */
  int lent;     /* lent to a calling thread: the handler keeps off it */
  chunk *adopt; /* a direct task handed back, in flight in slot 0 */
  long dsent;   /* chunks sent directly, not yet counted in `chunks` */
  int said;     /* the direct path read its READY */
} wlend;

enum { P_RUN, P_CLOSE, P_TERMINATE };

struct mproc_pool {
  apr_pool_t *ap;
  apr_thread_mutex_t *mu;
  apr_thread_cond_t *cv;
  mproc_conn *wake_r, *wake_w;
  mproc_thread *th;
  int nw;
  worker *wk;
  mproc_pool_opts opts;
  mproc_value *initargs;
  char init_module[1024];
  uint64_t init_offset;
  /* under mu */
  int state;
  int wake_pending;
  int gwaiters; /* threads in mproc__pool_cv_wait (any call may end it) */
  int handler_done;
  int joined;
  int broken;
  char broken_msg[400];
  mproc_async *sub_head, *sub_tail;
  mproc_async **cans; /* cancel requests (each holds a reference) */
  int cancel_all;     /* shutdown(cancel_futures) */
  unsigned long handler_tid; /* the result thread (callbacks run there) */
  long *pids; /* the live workers' pids (0: none), for mproc_pool_pids */
  size_t ncans, capcans;
  volatile uint32_t prefs; /* the user's + one per call */
  /* the handler's own */
  chunk *pend_head, *pend_tail;
  uint64_t next_id;
  wlend *lw;      /* under mu: per worker, the direct path's view */
  void *spawning; /* the first workers' start threads (the handler joins) */
  int starting;   /* under mu: they may still run */
  int lent_wake;  /* under mu: a worker coming back wakes the handler */
  uint64_t dnext; /* under mu: the direct path's chunk ids */
  unsigned long ndirect; /* under mu: applies that took the direct path */
  unsigned long nadopt;  /* under mu: ... and were handed back */
  int streak; /* worker starts that failed since the last READY */
  int starts; /* worker starts since the last READY */
  char last_initmsg[300];
  mproc_pool *next_live;
  const struct mproc__pool_backend *be; /* NULL: local worker processes */
};

#define LOCK(p) apr_thread_mutex_lock((p)->mu)
#define UNLOCK(p) apr_thread_mutex_unlock((p)->mu)

typedef struct donecb {
  void (*fn)(mproc_async *f, void *ctx);
  void *ctx;
  struct donecb *next;
} donecb;

/* The worker process's target (args: see engine.c spawn_worker). */
int mproc__pool_worker_main(mproc_value *args);

/* ---- the worker's pieces, for a worker that is not a process (mpi.c) ---- */

/* Run the initializer (module NULL: none); 0, or an M_INITFAIL message
 * in out and its code. */
int mproc__pool_run_init(const char *module, uint64_t offset,
                         const mproc_value *initargs, mproc__buf *out);
/* Called before each task of a timed chunk (its start is stamped). */
typedef void (*mproc__task_start_fn)(void *ctx, uint64_t id, uint32_t k);
/* Run one M_CHUNK message: claims on the block w, results into out.
 * 0 done, 1 skipped (cancelled), -1 garbled.  cache_*: the last function
 * looked up; nomem set when a task failed with MPROC_ENOMEM. */
int mproc__pool_run_chunk(volatile uint64_t *w, const unsigned char *msg,
                          size_t len, mproc__buf *out, char *cache_mod,
                          uint64_t *cache_off, void **cache_fn, int *nomem,
                          mproc__task_start_fn on_start, void *ctx);

/* ---- backends: another way to get a worker (lib/pool/mpi.c) --------------
 * A backend's worker is a stand-in the engine talks to exactly like a
 * local worker: w->conn carries the same wire, w->w is a progress block the
 * stand-in keeps up to date, and its sentinel becomes ready when the
 * worker is gone.  engine.c calls these where it would call the
 * mproc_process functions of a local worker. */
typedef struct mproc__pool_backend {
  /* Set w up (be, conn, w, pid, live; ready waits for its READY). */
  int (*start)(mproc_pool *p, worker *w);
  mproc_waitable *(*sentinel)(worker *w);
  void (*kill)(worker *w);   /* stop using it now (it is gone) */
  int (*alive)(worker *w);   /* 1 while not gone */
  /* Wait up to wait seconds for its end, then kill it; its exit code. */
  int (*reap)(worker *w, double wait);
  void (*release)(worker *w); /* drop all but w->conn (the engine's) */
  /* 1: its end of w->conn is always read at once, so a busy worker's
   * further chunks may be of any size (else within w->qmax bytes,
   * see dispatch) */
  int drains;
  /* chunks one of its workers may hold, up to NSLOT_MAX (0: NSLOT) */
  int slots;
} mproc__pool_backend;
/* mproc_pool_new with o->backend != MPROC_POOL_LOCAL: check o (processes
 * 0 becomes the backend's number of workers) and give the backend. */
int mproc__pool_backend_open(mproc_pool_opts *o,
                             const mproc__pool_backend **be);

/* ---- the engine, for the two faces ---------------------------------------- */

enum { J_APPLY, J_MAP, J_IMAP, J_IMAP_UNORDERED, J_FUTURE };

/*
 * Submit fn over the n task arguments (items of list, or arg alone when
 * kind is J_APPLY / J_FUTURE).  star: each item must be a list.
 */
int mproc__pool_submit(mproc_pool *pool, int kind, mproc_task_fn fn,
                       const mproc_value *arg, int star,
                       const mproc_call_opts *opts, mproc_async **out);
/* mproc_pool_apply: through an idle worker on the calling thread (no
 * thread hop) when nothing is queued, else as apply_async + get. */
int mproc__pool_apply(mproc_pool *pool, mproc_task_fn fn,
                      const mproc_value *arg, mproc_value **result);
/* How many applies took the direct path so far, and how many of them
 * the handler took over (for the tests). */
unsigned long mproc__pool_ndirect(mproc_pool *pool, unsigned long *adopted);
/* Wait until r is ready (pool mutex held); 0 or MPROC_ETIMEDOUT. */
int mproc__wait_ready_locked(mproc_async *r, double deadline);
/* Wait on the pool's condition variable until deadline (< 0: forever);
 * 0, or MPROC_ETIMEDOUT once it has passed (mutex held). */
int mproc__pool_cv_wait(mproc_pool *p, double deadline);
/* Ask the handler to cancel every queued task (shutdown). */
void mproc__pool_cancel_all(mproc_pool *p);
/* Task i's message (NULL: none; msgs is made at the first one). */
static inline const char *mproc__async_msg(const mproc_async *r, size_t i) {
  return r->msgs ? r->msgs[i] : NULL;
}
/* Sync helpers: wait, then take the value (or list) out of r and free r. */
int mproc__async_take(mproc_async *r, mproc_value **out);

/* ---- the wire's words (native byte order: both ends are this binary) -- */

static inline void mproc__put32(mproc__buf *b, uint32_t v) {
  mproc__buf_append(b, &v, 4);
}
static inline void mproc__put64(mproc__buf *b, uint64_t v) {
  mproc__buf_append(b, &v, 8);
}
/* A reader over a received message: bad is set (and 0 read) past its end. */
typedef struct mproc__rd {
  const unsigned char *p, *end;
  int bad;
} mproc__rd;
static inline uint32_t mproc__get32(mproc__rd *r) {
  uint32_t v = 0;
  if (r->end - r->p < 4) {
    r->bad = 1;
    return 0;
  }
  memcpy(&v, r->p, 4);
  r->p += 4;
  return v;
}
static inline uint64_t mproc__get64(mproc__rd *r) {
  uint64_t v = 0;
  if (r->end - r->p < 8) {
    r->bad = 1;
    return 0;
  }
  memcpy(&v, r->p, 8);
  r->p += 8;
  return v;
}

#endif
