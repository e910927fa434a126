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
  int borrowed; /* p is the caller's storage (mproc__buf_init_on) */
} mproc__buf;
#define MPROC__BUF_INIT {NULL, 0, 0, 0}

int mproc__buf_reserve(mproc__buf *b, size_t extra);
int mproc__buf_append(mproc__buf *b, const void *p, size_t n);
void mproc__buf_free(mproc__buf *b);
/*
 * Room for element n of the array *arrayp (a T ** passed as void *) of
 * *cap elements of elem bytes: doubles it (first elements at first) when
 * n == *cap.  0, or MPROC_ENOMEM naming what; the array is kept then.
 */
int mproc__array_room(void *arrayp, size_t *cap, size_t n, size_t elem,
                      size_t first, const char *what);
/* Start b on the caller's storage (e.g. a stack array): no allocation
 * until it outgrows cap bytes, when it moves to the heap.  Free it with
 * mproc__buf_free as usual; never hand its p to a caller to free. */
void mproc__buf_init_on(mproc__buf *b, void *storage, size_t cap);

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

/* ---- shared blocks (shblock.c) -------------------------------------------- */

/*
 * A block of shared memory with no name (see platform.h shm_anon) that
 * holds one object's whole state, plus (Win32) one park per word that
 * sleepers wait on.  Reference-counted: every object view of the block
 * holds one reference (a Value and the Lock inside it share a block).
 * The block starts with a header; object state follows at MPROC__BLK_HDR.
 */
#define MPROC__MAX_PARKS 5
#define MPROC__BLK_HDR 16
typedef struct mproc__blk {
  int refs;
  mproc__handle h;
  unsigned char *addr;
  size_t size;
  int nparks;
  mproc__handle park[MPROC__MAX_PARKS];
} mproc__blk;

/* A new zeroed block of at least size bytes (header included) of kind. */
int mproc__blk_new(size_t size, uint32_t kind, int nparks, mproc__blk **out);
/*
 * The same for a block that can grow in place (a Queue's ring): size
 * bytes usable, reserve bytes of address space (b->size; lowered by
 * halving, not below min_reserve, when the OS grants less).  Make more of
 * it usable with mproc__plat_shm_commit(b->h, b->addr, n) in each process.
 */
int mproc__blk_new_growable(size_t size, size_t reserve, size_t min_reserve,
                            uint32_t kind, int nparks, mproc__blk **out);
/* queue.c, tests only: called at each step of a ring's growth. */
extern void (*mproc__queue_grow_hook)(int step);
mproc__blk *mproc__blk_incref(mproc__blk *b);
void mproc__blk_decref(mproc__blk *b);
/* At spawn: the block as a plain value [handle, size, [parks]]. */
int mproc__blk_export(mproc__blk *b, mproc__spawn *sp, mproc_value **plain);
/*
 * In the child: the block a plain value names (one block per handle per
 * spawn, shared by every object on it; a new reference).  kind 0 accepts
 * any kind; off + len must lie inside the block.
 */
int mproc__blk_import(mproc__spawn *sp, const mproc_value *plain,
                      uint32_t kind, size_t off, size_t len,
                      mproc__blk **out);
uint32_t mproc__blk_kind(const mproc__blk *b);
/* In the child, when the spawn context goes: drop its block references. */
void mproc__blk_release_imports(mproc__spawn *sp);

/* The common head of every object that lives in a block. */
typedef struct mproc__sobj {
  const mproc__objtype *type;
  int refs;
  mproc__blk *blk;
} mproc__sobj;
/*
 * A new object of objsize bytes (an mproc__sobj first) of type, on a new
 * block of kind with len bytes of state at MPROC__BLK_HDR and nparks
 * parks; the state is zeroed.  Free it with its type's _free.
 */
int mproc__sobj_new(size_t objsize, const mproc__objtype *type, uint32_t kind,
                    size_t len, int nparks, void **out);
/* In the child: the same on the block a plain value names. */
int mproc__sobj_import(mproc__spawn *sp, const mproc_value *plain,
                       size_t objsize, const mproc__objtype *type,
                       uint32_t kind, size_t len, int nparks, void **out);
/* The state of an object made by those two. */
void *mproc__sobj_state(const mproc__sobj *o);
/* Set up / take / drop a reference; drop returns 1 when it was the last. */
void mproc__sobj_init(mproc__sobj *o, const mproc__objtype *type,
                      mproc__blk *blk);
void mproc__sobj_incref(mproc__sobj *o);
int mproc__sobj_decref(mproc__sobj *o);
/*
 * The reference functions of a public object type mproc_T whose struct
 * starts with an mproc__sobj o: mproc_T_incref, mproc_T_free (which runs
 * fini(x) - MPROC__NO_FINI for none - before the block reference and the
 * struct go) and mproc_T_ref.
 */
#define MPROC__SOBJ_REFS(T, fini)                                            \
  mproc_##T *mproc_##T##_incref(mproc_##T *x) {                              \
    if (x)                                                                   \
      mproc__sobj_incref(&x->o);                                             \
    return x;                                                                \
  }                                                                          \
  void mproc_##T##_free(mproc_##T *x) {                                      \
    if (x && mproc__sobj_decref(&x->o)) {                                    \
      fini(x);                                                               \
      mproc__blk_decref(x->o.blk);                                           \
      free(x);                                                               \
    }                                                                        \
  }                                                                          \
  mproc_value *mproc_##T##_ref(mproc_##T *x) {                               \
    return mproc__sobj_ref(x ? &x->o : NULL, "mproc_" #T "_ref");            \
  }
#define MPROC__NO_FINI(x) ((void)(x))

/* mproc_X_ref and mproc_value_get_X for objects of the given types. */
mproc_value *mproc__sobj_ref(mproc__sobj *o, const char *what);
int mproc__sobj_get(const mproc_value *v, const mproc__objtype *const *types,
                    size_t ntypes, const char *what, void **out);

/* ---- locks (lock.c): the word lock, shared by Lock, RLock, Condition,
 * Barrier and Value ------------------------------------------------------- */

/*
 * In a block: own = 0 when free, else (tag << 32) | pid | WAITERS (the
 * futex is the low half).  tid/count: the owning thread, the RLock depth.
 */
typedef struct mproc__lockword {
  uint64_t own;
  uint32_t sleepers;
  uint32_t recursive;
  uint32_t tid;
  uint32_t count;
} mproc__lockword;

/* This process's owner word (pid | tag << 32), computed once. */
uint64_t mproc__self_owner(void);
/* The low 32 bits of a 64-bit word in memory (the futex half). */
volatile uint32_t *mproc__low_half(volatile uint64_t *w);
/* 0, MPROC_ETIMEDOUT, MPROC_EOWNERDEAD (acquired) or an error. */
int mproc__lk_acquire(mproc__lockword *w, mproc__handle park, double timeout);
int mproc__lk_release(mproc__lockword *w, mproc__handle park);
int mproc__lk_is_mine(mproc__lockword *w);
/* For Condition.wait: release every level, then take them back. */
int mproc__lk_release_all(mproc__lockword *w, mproc__handle park,
                          uint32_t *depth);
int mproc__lk_restore(mproc__lockword *w, mproc__handle park,
                      uint32_t depth);
/*
 * Every public blocking call passes its timeout through this first:
 * MPROC_FOREVER (and +inf) block, any other negative value polls (a
 * deadline computed as deadline - now that has passed, as Python), NaN is
 * MPROC_EINVAL.  Afterwards "timeout < 0" means forever everywhere inside.
 */
int mproc__timeout(double *timeout, const char *what);
/* The monotonic deadline of a normalised timeout (-1: none). */
double mproc__deadline(double timeout);
/* Seconds left until deadline (< 0: none), 0 when it has passed. */
double mproc__left(double deadline);

/* A Lock object viewing a lock word inside blk at off (park slot). */
struct mproc_lock {
  mproc__sobj o;
  mproc__lockword *w;
  size_t off;
  int slot;
};
extern const mproc__objtype mproc__lock_type, mproc__rlock_type;
/* A Lock object for the word at off of blk (takes a block reference). */
int mproc__lock_view(mproc__blk *blk, size_t off, int slot,
                     mproc_lock **out);
/* Lock travelling inside another object's description. */
int mproc__lock_export(mproc_lock *l, mproc__spawn *sp, mproc_value **plain);
int mproc__lock_import(mproc__spawn *sp, const mproc_value *plain,
                       mproc_lock **out);

/* ---- values (value.c) ------------------------------------------------- */

/* The value itself: value.c makes and changes values; the codec reads the
 * fields directly on its hot paths.  Flags: */
#define MPROC__F_STATIC 1u /* a shared singleton: never freed, never written */
#define MPROC__F_FROZEN 2u /* a tuple that is a key or set member: no appends */
#define MPROC__F_SLAB 4u /* lives in a slab (slot is its place there) */

typedef struct mproc__dentry {
  mproc_value *key;
  mproc_value *val; /* NULL in a set */
  uint64_t hash;
} mproc__dentry;

struct mproc_value {
  uint16_t type; /* an mproc_type */
  uint16_t flags;
  uint32_t slot; /* MPROC__F_SLAB: the value's index in its slab */
  union {
    int64_t i; /* int, and bool (0 or 1) */
    double f;
    struct {
      char *p; /* NUL-terminated, even for bytes; inline after the value */
      size_t n;
    } s;
    struct { /* list and tuple */
      mproc_value **items;
      size_t n, cap;
    } list;
    struct { /* dict and set */
      mproc__dentry *e; /* in insertion order; holes (key NULL) only
                           when index is set: see mproc__table_used */
      size_t n;         /* live entries */
      size_t *index; /* NULL for a small table; else a header (index[1]:
                        the entries used, holes included) and the slots
                        (value.c) */
    } dict;
    struct {
      const mproc__objtype *type;
      void *obj;
      int owned;
    } obj;
  } u;
};

/* The calling thread (a pool worker's) keeps freed int and float blocks
 * for its next ones (value.c "the pool worker's value cache"). */
void mproc__value_cache_own(void);
/* A list or tuple with room for cap items (the decoder knows the count). */
mproc_value *mproc__seq_new(mproc_type t, size_t cap);
/* Append to a list or tuple without the public checks; steals item. */
int mproc__seq_push(mproc_value *seq, mproc_value *item);
/* mproc_set_add on a set known to be one; steals item. */
int mproc__set_add(mproc_value *set, mproc_value *item);
/*
 * Slabs: the decoder makes the ints and floats of a list in blocks of
 * values (one malloc for many).  Each value is freed on its own as usual
 * (the block goes when its last value and the decoder have let go).
 * mproc__slab_take: a value from *s, which is replaced by a new slab of
 * cap values when full (*charged: bytes allocated for it, else 0); its
 * type and payload are the caller's to set.  mproc__slab_done: the
 * decoder lets go of *s.
 */
typedef struct mproc__slab mproc__slab;
struct mproc__slab {
  size_t live; /* values handed out and not freed, + 1 while the decoder
                  holds the slab */
  size_t used, cap;
  size_t pad; /* keeps the values 16-byte aligned, as malloc's are */
};
mproc_value *mproc__slab_take(mproc__slab **s, size_t cap, size_t *charged);
void mproc__slab_done(mproc__slab *s);
/* mproc__slab_take from a slab with room (s non-NULL, used < cap). */
static inline mproc_value *mproc__slab_next(mproc__slab *s) {
  mproc_value *v = (mproc_value *)(void *)(s + 1) + s->used;
  v->flags = MPROC__F_SLAB;
  v->slot = (uint32_t)s->used++;
  s->live++;
  return v;
}
/* The shared empty tuple (immutable). */
mproc_value *mproc__empty_tuple(void);
/* Bytes allocated for v's own block (0 for a shared singleton), for a
 * list or tuple of n items, for a dict or set of n entries (its index
 * included): what the decoder accounts. */
size_t mproc__alloc_bytes(const mproc_value *v);
size_t mproc__seq_bytes(size_t n);
size_t mproc__table_bytes(size_t n);
/* The entries a dict or set uses, holes (key NULL: deleted) included:
 * iterate e[0 .. used) and skip the holes. */
static inline size_t mproc__table_used(const mproc_value *d) {
  return d->u.dict.index ? d->u.dict.index[1] : d->u.dict.n;
}
/* Delete key from a dict or set in O(1) (insertion order kept): 1 with
 * the entry's key and value moved to *key_out / *val_out (freed where
 * NULL), 0 if absent, MPROC_ETYPE for an unhashable key. */
int mproc__table_del(mproc_value *d, const mproc_value *key,
                     mproc_value **key_out, mproc_value **val_out);
/* Tests: the work (probes, entries moved) lookups, deletes and resizes
 * have done since the last call; counting is on while on != 0. */
size_t mproc__dict_work(int on);
/* Tests: the probes a lookup of every key of a dict or set takes in all
 * (n for a perfect index; hash flooding makes it grow as n^2). */
size_t mproc__dict_probes(const mproc_value *d);

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
/* The same, also giving the bytes of values it accounted (charged, if
 * not NULL: tests) and *bigint (if not NULL): 1 when it failed
 * (MPROC_EBADMSG) only because an int is beyond int64 - the input is well
 * formed, so a server may answer it and go on. */
int mproc__decode_ex(const void *p, size_t n, mproc_value **out,
                     mproc__codec_ctx *ctx, size_t *charged, int *bigint);

/*
 * Runs of bare items (the pool's wire: no magic per item, the message
 * says what it holds).  mproc__encode_item appends v as one item (nothing
 * on failure).  mproc__item_scalar reads an int, float, None or bool at p
 * without allocating (an int or float is made in *tmp; None and bools are
 * the singletons): 1 and *out, *used, else 0.  mproc__decode_item decodes
 * the first item of p[0..n) with the general decoder (*used: its bytes).
 * mproc__itemdec walks a run, making its ints and floats in slabs (left:
 * the items still expected, caps a slab; noslab: one malloc each, for
 * values that go separate ways: a slab's count is not atomic, so the
 * values of one slab must be freed by one thread at a time); _done lets
 * go of the slab.
 */
int mproc__encode_item(const mproc_value *v, mproc__buf *out,
                       mproc__codec_ctx *ctx);
int mproc__item_scalar(const void *p, size_t n, mproc_value *tmp,
                       const mproc_value **out, size_t *used);
/*
 * An int as a bare item, inline (the pool's hot loops): mproc__item_int_put
 * writes its shortest head at p (room for 9 bytes) and gives its length;
 * mproc__item_int_get reads an int item at p[0..n): its length, or 0 if
 * p does not start with one that fits int64 (then use the general path).
 */
static inline size_t mproc__item_int_put(unsigned char *p, int64_t i) {
  unsigned char major = i >= 0 ? 0x00 : 0x20;
  uint64_t x = i >= 0 ? (uint64_t)i : (uint64_t)(-(i + 1));
  if (x < 24) {
    p[0] = (unsigned char)(major | x);
    return 1;
  }
  if (x <= 0xFF) {
    p[0] = (unsigned char)(major | 24);
    p[1] = (unsigned char)x;
    return 2;
  }
  if (x <= 0xFFFF) {
    p[0] = (unsigned char)(major | 25);
    p[1] = (unsigned char)(x >> 8);
    p[2] = (unsigned char)x;
    return 3;
  }
  if (x <= 0xFFFFFFFFu) {
    p[0] = (unsigned char)(major | 26);
    p[1] = (unsigned char)(x >> 24);
    p[2] = (unsigned char)(x >> 16);
    p[3] = (unsigned char)(x >> 8);
    p[4] = (unsigned char)x;
    return 5;
  }
  p[0] = (unsigned char)(major | 27);
  p[1] = (unsigned char)(x >> 56);
  p[2] = (unsigned char)(x >> 48);
  p[3] = (unsigned char)(x >> 40);
  p[4] = (unsigned char)(x >> 32);
  p[5] = (unsigned char)(x >> 24);
  p[6] = (unsigned char)(x >> 16);
  p[7] = (unsigned char)(x >> 8);
  p[8] = (unsigned char)x;
  return 9;
}
static inline size_t mproc__item_int_get(const unsigned char *p, size_t n,
                                         int64_t *out) {
  unsigned h;
  size_t len;
  uint64_t x;
  if (n == 0 || (h = p[0]) >= 0x40)
    return 0;
  switch (h & 31) {
  case 24:
    len = 2;
    if (n < len)
      return 0;
    x = p[1];
    break;
  case 25:
    len = 3;
    if (n < len)
      return 0;
    x = (uint64_t)p[1] << 8 | p[2];
    break;
  case 26:
    len = 5;
    if (n < len)
      return 0;
    x = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 |
        p[4];
    break;
  case 27:
    len = 9;
    if (n < len)
      return 0;
    x = (uint64_t)p[1] << 56 | (uint64_t)p[2] << 48 | (uint64_t)p[3] << 40 |
        (uint64_t)p[4] << 32 | (uint64_t)p[5] << 24 | (uint64_t)p[6] << 16 |
        (uint64_t)p[7] << 8 | p[8];
    if (x > (uint64_t)INT64_MAX)
      return 0;
    break;
  case 28:
  case 29:
  case 30:
  case 31:
    return 0;
  default:
    len = 1;
    x = h & 31;
    break;
  }
  *out = h < 0x20 ? (int64_t)x : -(int64_t)x - 1;
  return len;
}
/* n values as a run; offs[c]: where item c * every starts (c < the
 * number of groups of `every` items), then the run's end. */
int mproc__encode_run(const mproc_value *const *items, size_t n,
                      mproc__buf *out, size_t *offs, size_t every);
/* The length of the item at p[0..n) without decoding it. */
int mproc__item_skip(const void *p, size_t n, size_t *len);
int mproc__decode_item(const void *p, size_t n, mproc_value **out,
                       size_t *used);
typedef struct mproc__itemdec {
  const unsigned char *p, *end;
  size_t left;
  int noslab;
  mproc__slab *slab;
} mproc__itemdec;
int mproc__itemdec_next(mproc__itemdec *d, mproc_value **out);
/* Up to n items into dst, stopping before a 0xFF byte (never an item's
 * first: the pool marks a failed task with it) or an error (returned). */
int mproc__itemdec_run(mproc__itemdec *d, mproc_value **dst, size_t n,
                       size_t *got);
void mproc__itemdec_done(mproc__itemdec *d);

/* ---- waitables (wait.c): the first member of a conn and a process ------- */

enum { MPROC__WAIT_CONN = 1, MPROC__WAIT_PROC = 2 };
struct mproc_waitable {
  int kind;
};

/* ---- connections (conn.c) ----------------------------------------------- */

extern const mproc__objtype mproc__conn_type;
/* A Connection around h, which it now owns.  NULL on ENOMEM. */
mproc_conn *mproc__conn_wrap(mproc__handle h, int readable, int writable);
/* The OS handle of c (NOHANDLE once closed). */
mproc__handle mproc__conn_handle(const mproc_conn *c);
/* Free c but keep its handle open and return it. */
mproc__handle mproc__conn_detach(mproc_conn *c);
/*
 * For mproc_wait: 1 if c can be read without blocking now (buffered
 * bytes), else 0 and *item is what to wait on; negative if c is unusable.
 */
int mproc__conn_wait_item(mproc_conn *c, mproc__waititem *item);

/* ---- manager proxies inside values (lib/manager/proxy.c) ------------------ */

/* A proxy travels as CBOR tag 27003 wrapping [address, typeid, id, token]
 * (never the authkey); encoding takes a transit reference, decoding makes
 * a proxy that claims it (docs/manager.md: the transit rule). */
extern const mproc__objtype mproc__proxy_type;
int mproc__proxy_wire_out(void *proxy, mproc_value **plain);
int mproc__proxy_wire_in(const mproc_value *plain, mproc_value **objval);
/* Fuzzing: proxies never contact a server (calls fail with MPROC_ENOTSUP,
 * encoding writes the token a proxy arrived with, freeing gives nothing
 * back), so decoding hostile input connects nowhere. */
void mproc__proxy_offline(int on);

/* ---- processes (process.c) ---------------------------------------------- */

/*
 * Start target(args) (args stolen) as an internal child: not daemonic
 * (also from a daemonic process), not in the process table, never joined
 * (the resource tracker).
 */
int mproc__process_start_internal(mproc_target target, mproc_value *args,
                                  const char *name);
/* Before start: Ctrl-C cannot end the child from its first instruction
 * (MPROC__SPAWN_NOINTR; its target calls mproc__plat_ignore_interrupt). */
void mproc__process_set_nointr(mproc_process *p);
/* For mproc_wait: 1 if p has ended already, else 0 and *item. */
int mproc__process_wait_item(mproc_process *p, mproc__waititem *item);

/* ---- identity (runtime.c) ------------------------------------------------ */

/* The current process's identity: Process-1:2 is {1, 2}; main is {}. */
typedef struct mproc__ident {
  int64_t *v;
  size_t n;
} mproc__ident;
const mproc__ident *mproc__self_ident(void);
int64_t mproc__next_child_number(void);
int mproc__self_daemon(void);
const unsigned char *mproc__authkey(void); /* 32 bytes */
/* mproc_init: a new authkey (main process) / who a child is (it takes
 * ident.v). */
int mproc__runtime_new_authkey(void);
void mproc__runtime_become(mproc__ident ident, int daemon,
                           const unsigned char *authkey);
/* The name of the current process (process.c: "MainProcess" in main). */
const char *mproc__self_name(void);

/* ---- runtime (runtime.c) ------------------------------------------------ */

/* The process table's mutex (process.c holds the table). */
void mproc__runtime_lock(void);
void mproc__runtime_unlock(void);
/* The resource tracker's mutex (it starts a process while holding it, so
 * it cannot be the process table's).  Fails only as ensure_runtime does. */
int mproc__tracker_lock(void);
void mproc__tracker_unlock(void);
/* Under the tracker mutex: the handle every child gets (tracker.c sets it
 * when it starts or loses a tracker), so process.c needs no tracker.c. */
void mproc__tracker_set_handle(mproc__handle h);
/* mproc_init's set-up (0 or the final failure) and its success mark. */
int mproc__runtime_init(void);
void mproc__runtime_set_initialised(void);
/* The one call mproc_init makes upward (lib/pool/mpi.c, or nompi.c
 * without MPI): under mpiexec, MPI is set up; rank 0 returns 0, ranks
 * 1..N serve the MPI pool backend and never return (docs/mpi.md). */
int mproc__pool_mpi_boot(void);

/*
 * Every public entry point that may touch the runtime calls this first: it
 * initialises lazily in a plain process, and stops a process that carries
 * the child mark but never bootstrapped (main() forgot mproc_init), so a
 * forgotten mproc_init cannot become a spawn bomb.  0, or the code of the
 * set-up's failure, which is final (every later call gets it again): the
 * caller returns it.
 */
int mproc__ensure_runtime(void);
int mproc__initialised(void);

/* ---- the resource tracker (tracker.c) -------------------------------------- */

/* Tell the tracker about a name before creating / after unlinking it. */
int mproc__tracker_register(const char *name);
int mproc__tracker_unregister(const char *name);
/* The write end a child gets at spawn (NOHANDLE if none yet; runtime.c). */
mproc__handle mproc__tracker_handle(void);
/* In a child: the write end received at spawn. */
int mproc__tracker_adopt(mproc__handle h);

#endif /* MPROC_INT_H */
