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

#include "mproc_int.h"

/* ---- the worker's progress block: a RawArray of 'Q' words ---------------- */
enum {
  W_RUN = 0,   /* id of the chunk the worker runs now (0: none) */
  W_TASK = 1,  /* index + 1 in that chunk of the running task (0: none) */
  W_START = 2, /* its start, monotonic clock in ns */
  W_SLOT0 = 3, /* two slot words: (chunk id << 2) | SL_* */
  W_NWORDS = 5
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
 * M_CHUNK:   u32 type, u32 slot, u64 id, u32 n, u32 modlen, u64 offset,
 *            f64 soft limit (0: none), module bytes, then n x
 *            (u64 len, encoded argument).
 * M_RESULTS: u32 type, u32 n, u64 id, then n x (i32 code, u32 0, u64 len,
 *            encoded value when code is 0, else the message's text).
 * M_INITFAIL: u32 type, i32 code, message text.  M_READY: u32 type.
 */

/* The worker process's target (args: see engine.c spawn_worker). */
int mproc__pool_worker_main(mproc_value *args);

/* ---- the engine, for the two faces ---------------------------------------- */

enum { J_APPLY, J_MAP, J_IMAP, J_IMAP_UNORDERED, J_FUTURE };

/*
 * Submit fn over the n task arguments (items of list, or arg alone when
 * kind is J_APPLY / J_FUTURE).  star: each item must be a list.
 */
int mproc__pool_submit(mproc_pool *pool, int kind, mproc_task_fn fn,
                       const mproc_value *arg, int star,
                       const mproc_call_opts *opts, mproc_async **out);
/* Sync helpers: wait, then take the value (or list) out of r and free r. */
int mproc__async_take(mproc_async *r, mproc_value **out);

#endif
