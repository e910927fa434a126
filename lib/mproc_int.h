/*
 * mproc_int.h - what the files of lib/ share with each other (not public).
 *
 * Map: errors (error.c), growable buffers (buf.c), OS objects inside values
 * and the codec seam (value.c, codec.c), the runtime: init, process table,
 * identity (runtime.c, process.c), connections (conn.c).
 */
#ifndef MPROC_INT_H
#define MPROC_INT_H

#include "mproc.h"
#include "platform.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors (error.c) ------------------------------------------------- */

/* Record code + printf-style detail for the calling thread; return code. */
int mproc__err(int code, const char *fmt, ...);
/* The same with an OS error number, whose text is appended to detail. */
int mproc__err_os(int code, long oserr, const char *fmt, ...);

/* ---- growable byte buffer (buf.c) ------------------------------------- */

typedef struct mproc__buf {
  unsigned char *p;
  size_t len;
  size_t cap;
} mproc__buf;
#define MPROC__BUF_INIT {NULL, 0, 0}

int mproc__buf_reserve(mproc__buf *b, size_t extra);
int mproc__buf_append(mproc__buf *b, const void *p, size_t n);
void mproc__buf_free(mproc__buf *b);

/* ---- OS objects inside values (value.c) -------------------------------- */

/*
 * A kind of OS object that can travel to a child at spawn (Connection now;
 * Lock, Queue, ... later).  name is what Python calls it, for the message
 * "<name> objects should only be shared between processes through
 * inheritance".
 */
typedef struct mproc__spawn mproc__spawn;
typedef struct mproc__objtype {
  const char *name;
  /* Release an object that a value owns (objects built in a child). */
  void (*release)(void *obj);
  /*
   * At spawn (may be NULL: the type cannot travel at all): describe obj
   * as a plain value, naming the handles it needs by the indices that
   * mproc__spawn_add_handle() returns.
   */
  int (*spawn_export)(void *obj, mproc__spawn *sp, mproc_value **plain);
  /* In the child: rebuild the object from that plain value. */
  int (*spawn_import)(mproc__spawn *sp, const mproc_value *plain,
                      void **obj);
} mproc__objtype;

/* At spawn: pass h to the child; returns its index (>= 0) or an error. */
int mproc__spawn_add_handle(mproc__spawn *sp, mproc__handle h);
/* In the child: the handle received at index i (adopted), or an error. */
int mproc__spawn_get_handle(mproc__spawn *sp, int64_t i, mproc__handle *h);

/* A value referring to obj.  owned: freeing the value releases obj. */
mproc_value *mproc__value_object(const mproc__objtype *type, void *obj,
                                 int owned);
/* MPROC_ETYPE unless v is an object value. */
int mproc__value_objinfo(const mproc_value *v, const mproc__objtype **type,
                         void **obj);

/* ---- the codec (codec.c) ------------------------------------------------ */

/*
 * Objects only travel inside a spawn: the spawn code passes a context that
 * turns each object into a plain value (naming handles it will pass) and,
 * in the child, turns that plain value back into an object.  Without a
 * context an object gives MPROC_EINHERIT with Python's message.
 */
typedef struct mproc__codec_ctx mproc__codec_ctx;
struct mproc__codec_ctx {
  int (*export_obj)(mproc__codec_ctx *ctx, const mproc__objtype *type,
                    void *obj, mproc_value **plain);
  int (*import_obj)(mproc__codec_ctx *ctx, const mproc_value *plain,
                    mproc_value **objval);
};

/* Nesting deeper than this is refused (encode: EENCODE, decode: EBADMSG). */
#define MPROC__MAX_DEPTH 200

/* Append the encoding of v to out. */
int mproc__encode(const mproc_value *v, mproc__buf *out,
                  mproc__codec_ctx *ctx);
/* Decode exactly n bytes (trailing bytes are an error). */
int mproc__decode(const void *p, size_t n, mproc_value **out,
                  mproc__codec_ctx *ctx);

/* ---- waitables (wait.c): the first member of a conn and a process ------- */

enum { MPROC__WAIT_CONN = 1, MPROC__WAIT_PROC = 2 };
struct mproc_waitable {
  int kind;
};

/* ---- connections (conn.c) ----------------------------------------------- */

extern const mproc__objtype mproc__conn_type;
/* A Connection around h, which it now owns.  NULL on ENOMEM. */
mproc_conn *mproc__conn_wrap(mproc__handle h, int readable, int writable);
/* Free c but keep its handle open and return it. */
mproc__handle mproc__conn_detach(mproc_conn *c);
/*
 * For mproc_wait: 1 if c can be read without blocking now (buffered
 * bytes), else 0 and *item is what to wait on; negative if c is unusable.
 */
int mproc__conn_wait_item(mproc_conn *c, mproc__waititem *item);

/* ---- processes (process.c) ---------------------------------------------- */

/* For mproc_wait: 1 if p has ended already, else 0 and *item. */
int mproc__process_wait_item(mproc_process *p, mproc__waititem *item);

/* ---- the process table and identity (runtime.c) --------------------------- */

/* The current process's identity: Process-1:2 is {1, 2}; main is {}. */
typedef struct mproc__ident {
  int64_t *v;
  size_t n;
} mproc__ident;
const mproc__ident *mproc__self_ident(void);
int64_t mproc__next_child_number(void);
int mproc__self_daemon(void);
const char *mproc__self_name(void);
const unsigned char *mproc__authkey(void); /* 32 bytes */
/* Track a started child / stop tracking it.  */
int mproc__table_add(mproc_process *p);
void mproc__table_remove(mproc_process *p);

/* ---- runtime (runtime.c) ------------------------------------------------ */

/*
 * Every public entry point that may touch the runtime calls this first: it
 * initialises lazily in a plain process, and stops a process that carries
 * the child mark but never bootstrapped (main() forgot mproc_init), so a
 * forgotten mproc_init cannot become a spawn bomb.
 */
void mproc__ensure_runtime(void);
int mproc__initialised(void);

#endif /* MPROC_INT_H */
