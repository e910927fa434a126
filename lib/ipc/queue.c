/*
 * queue.c - Queue, SimpleQueue, JoinableQueue: a byte ring in one
 * nameless shared block (docs/queue.md has the design and its numbers).
 *
 * The ring holds chunks [u32 length, u32 flags, payload padded to 8].  An
 * item is one chunk (FIRST|LAST) when it fits in half the ring, else a
 * run of chunks streamed through it.  Producers take the producer lock,
 * consumers the consumer lock (word locks: a process killed inside put or
 * get gives the next one MPROC_EOWNERDEAD, and it repairs the ring).
 *
 * Positions head (read) and tail (write, published) only grow; the
 * producers' and the consumers' words live on separate cache lines, and
 * each side re-reads the other's position only when the ring looks full
 * or empty.  A consumer sleeps on the low half of tail (a producer that
 * publishes changes it), a producer on the low half of head, and a waker
 * calls the OS only when someone sleeps: a consumer that keeps up costs
 * the producer no system call.  Every sleep is a slice of at most 50 ms,
 * after which the sleeper re-checks close and, in the middle of a
 * streamed item, whether the producer died.
 *
 * put returns only when its item is published (tail moved past its last
 * chunk): nothing is half visible, nothing is lost when the producer
 * exits right after, and there is no feeder thread to deadlock a join.
 * A producer that dies in the middle of a streamed item leaves an ABORT
 * chunk behind (written by whoever takes its lock over), and a consumer
 * drops the partial item; a consumer that dies in the middle of one makes
 * the next consumer skip the rest of it.
 *
 * The ring grows in place, so a put never waits for buffer below the
 * queue's byte cap (maxbytes): the block reserves address space for the
 * cap at creation (a handle reaches other processes only at spawn, so the
 * ring cannot move to a new block), and a producer that finds no room
 * doubles the ring inside it.  The ring's size and the shift that maps a
 * position to an offset are one 64-bit word (geom), so a grower publishes
 * a new layout with one store after copying the wrapped part of the data
 * to free space: a grower killed at any point leaves a valid ring.  It
 * holds the consumer lock too while there is data to move (an empty ring
 * has none, and no consumer reads it).  Items up to the cap are one
 * chunk; larger ones stream.  A get that empties a ring grown to 64 times
 * its first size shrinks it back (and Linux frees the rest).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "mproc_int.h"

enum { KIND_QUEUE = 0x51554555u /* "QUEU" */ };
enum { Q_QUEUE, Q_SIMPLE, Q_JOINABLE };
enum { F_FIRST = 1, F_LAST = 2, F_ABORT = 4 };
enum { P_PLOCK, P_CLOCK, P_TAIL, P_HEAD, P_UNFINISHED, NPARKS };

#define RING_OFF 4096
#define RING_DEFAULT ((uint64_t)1 << 20)
/* The default byte cap: 1 GiB of address space (64 MiB on 32 bits). */
#define MAXBYTES_DEFAULT \
  (sizeof(void *) >= 8 ? (uint64_t)1 << 30 : (uint64_t)1 << 26)
/* Ring sizes are multiples of this; geom holds size / 8 in 32 bits. */
#define RING_UNIT ((uint64_t)4096)
#define MAXBYTES_LIMIT (((uint64_t)1 << 35) - RING_UNIT)
#define CHUNK_HDR 8
#define SLICE 0.05
/* The longest a put below the cap waits, whatever its own timeout, for a
 * consumer that holds a lock the put needs: its own lock mid-item (to grow
 * the ring) or the producer lock (to shrink a drained ring).  Far longer
 * than either takes, unless the consumer is descheduled or stopped. */
#define GROW_GRACE 1.0
/* Polls of the other side's position before sleeping (~10-40 us): a
 * consumer that keeps up then never costs the producer a system call. */
#define SPINS 1000

/*
 * The control block.  Cache lines: what only producers touch (their lock,
 * their copies of the consumers' positions), what producers write and
 * consumers read (tail, put_count), and the same two for consumers; the
 * sleeper counts and flags, written rarely, on a line of their own.  A
 * lock sharing a line with a position the other side reads costs a cache
 * miss per item (measured: ~10% of the throughput).
 */
typedef struct qctl {
  union {
    struct {
      uint64_t geom;     /* ring size / 8 << 32 | shift / 8 (see ring_at) */
      uint64_t maxsize;  /* 0: unbounded */
      uint64_t maxbytes; /* the most the ring grows to */
      uint64_t bufsize;  /* its first size, which it shrinks back to */
      uint32_t kind;
    } v;
    unsigned char pad[64];
  } fixed;
  union {
    struct {
      mproc__lockword lock;
      uint64_t head_cache;
      uint64_t got_cache;
      uint64_t counted; /* JoinableQueue: put_count + 1 of the item being
                           written, counted in unfinished; else 0 */
      uint32_t partial; /* a streamed item is being written */
    } v;
    unsigned char pad[64];
  } prod;
  union {
    struct {
      uint64_t tail;
      uint64_t put_count;
    } v;
    unsigned char pad[64];
  } pub;
  union {
    struct {
      mproc__lockword lock;
      uint64_t tail_cache;
      uint32_t partial; /* a streamed item is being read */
    } v;
    unsigned char pad[64];
  } cons;
  union {
    struct {
      uint64_t head;
      uint64_t got_count;
    } v;
    unsigned char pad[64];
  } sub;
  union {
    struct {
      uint32_t psleep, csleep, jsleep;
      uint32_t closed;
      uint32_t unfinished;
      uint32_t shrinking; /* a consumer holds (or tries) the producer lock
                             to shrink a drained ring */
    } v;
    unsigned char pad[64];
  } rare;
} qctl;

struct mproc_queue {
  mproc__sobj o;
  qctl *c;
  unsigned char *ring;
  volatile uint64_t committed; /* bytes of the block usable in this view */
};

extern const mproc__objtype mproc__queue_type, mproc__simplequeue_type,
    mproc__joinablequeue_type;

static const mproc__objtype *type_of(uint32_t kind) {
  return kind == Q_SIMPLE     ? &mproc__simplequeue_type
         : kind == Q_JOINABLE ? &mproc__joinablequeue_type
                              : &mproc__queue_type;
}

static mproc__handle park(mproc_queue *q, int i) {
  return q->o.blk->park[i];
}

/* ---- the ring's layout --------------------------------------------------- */

static uint64_t g_size(uint64_t g) { return (g >> 32) * 8; }
static uint64_t g_shift(uint64_t g) { return (g & 0xFFFFFFFFu) * 8; }
static uint64_t geom_of(uint64_t size, uint64_t shift) {
  return (size / 8) << 32 | shift / 8;
}

/* Make the ring of layout g usable in this process's view (Win32 commits
 * the pages; Linux grows the file once, in the process that grows). */
static int ensure(mproc_queue *q, uint64_t g) {
  uint64_t need = RING_OFF + g_size(g);
  int rc;
  if (need <= mproc__ld64(&q->committed))
    return 0;
  rc = mproc__plat_shm_commit(q->o.blk->h, q->o.blk->addr, (size_t)need);
  if (rc == 0)
    mproc__st64_relaxed(&q->committed, need); /* a race: one more commit */
  return rc;
}

/* ---- making ---------------------------------------------------------------- */

static mproc_queue *view(mproc__blk *blk) {
  mproc_queue *q = calloc(1, sizeof *q);
  if (!q) {
    mproc__err(MPROC_ENOMEM, "queue");
    return NULL;
  }
  q->c = (qctl *)(blk->addr + 64);
  q->ring = blk->addr + RING_OFF;
  mproc__sobj_init(&q->o, type_of(q->c->fixed.v.kind), mproc__blk_incref(blk));
  if (ensure(q, mproc__ld64(&q->c->fixed.v.geom)) != 0) {
    mproc__blk_decref(blk);
    free(q);
    return NULL;
  }
  return q;
}

static uint64_t round_unit(uint64_t n) {
  return (n + RING_UNIT - 1) / RING_UNIT * RING_UNIT;
}

static int make(mproc_queue **out, uint32_t kind,
                const mproc_queue_opts *opts, const char *what) {
  mproc__blk *blk;
  qctl *c;
  uint64_t buf, maxb, avail;
  long maxsize = opts->maxsize;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "%s: NULL output", what);
  *out = NULL;
  if (maxsize > INT_MAX)
    return mproc__err(MPROC_EINVAL, "%s: maxsize %ld is above 2^31-1", what,
                      maxsize);
  if (kind == Q_SIMPLE && maxsize > 0)
    return mproc__err(MPROC_EINVAL, "%s: a SimpleQueue has no maxsize", what);
  if ((uint64_t)opts->maxbytes > MAXBYTES_LIMIT ||
      (uint64_t)opts->bufsize > MAXBYTES_LIMIT)
    return mproc__err(MPROC_EINVAL, "%s: bufsize %zu / maxbytes %zu: at most "
                      "%llu", what, opts->bufsize, opts->maxbytes,
                      (unsigned long long)MAXBYTES_LIMIT);
  maxb = opts->maxbytes ? round_unit(opts->maxbytes) : MAXBYTES_DEFAULT;
  buf = opts->bufsize ? round_unit(opts->bufsize) : RING_DEFAULT;
  if (buf > maxb) {
    if (opts->bufsize)
      return mproc__err(MPROC_EINVAL, "%s: bufsize %zu is above maxbytes %zu",
                        what, opts->bufsize, opts->maxbytes);
    buf = maxb; /* a cap below the default first size */
  }
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  /* A default cap is lowered to the address space the OS grants. */
  rc = mproc__blk_new_growable((size_t)(RING_OFF + buf), (size_t)(RING_OFF + maxb),
                               (size_t)(RING_OFF + (opts->maxbytes ? maxb : buf)),
                               KIND_QUEUE, NPARKS, &blk);
  if (rc)
    return rc;
  avail = (blk->size - RING_OFF) / RING_UNIT * RING_UNIT;
  c = (qctl *)(blk->addr + 64);
  c->fixed.v.geom = geom_of(buf, 0);
  c->fixed.v.maxbytes = maxb < avail ? maxb : avail;
  c->fixed.v.bufsize = buf;
  c->fixed.v.maxsize = maxsize > 0 ? (uint64_t)maxsize : 0;
  c->fixed.v.kind = kind;
  *out = view(blk);
  mproc__blk_decref(blk);
  return *out ? 0 : MPROC_ENOMEM;
}

int mproc_queue_new_opts(mproc_queue **q, int kind,
                         const mproc_queue_opts *opts) {
  static const mproc_queue_opts dflt = MPROC_QUEUE_OPTS_INIT;
  if (kind != MPROC_QUEUE_PLAIN && kind != MPROC_QUEUE_SIMPLE &&
      kind != MPROC_QUEUE_JOINABLE) {
    if (q)
      *q = NULL;
    return mproc__err(MPROC_EINVAL, "mproc_queue_new_opts: no queue kind %d",
                      kind);
  }
  return make(q,
              kind == MPROC_QUEUE_SIMPLE     ? Q_SIMPLE
              : kind == MPROC_QUEUE_JOINABLE ? Q_JOINABLE
                                             : Q_QUEUE,
              opts ? opts : &dflt, "mproc_queue_new_opts");
}

int mproc_queue_new(mproc_queue **q, long maxsize) {
  mproc_queue_opts o = MPROC_QUEUE_OPTS_INIT;
  o.maxsize = maxsize;
  return make(q, Q_QUEUE, &o, "mproc_queue_new");
}

int mproc_simplequeue_new(mproc_queue **q) {
  mproc_queue_opts o = MPROC_QUEUE_OPTS_INIT;
  return make(q, Q_SIMPLE, &o, "mproc_simplequeue_new");
}

int mproc_joinablequeue_new(mproc_queue **q, long maxsize) {
  mproc_queue_opts o = MPROC_QUEUE_OPTS_INIT;
  o.maxsize = maxsize;
  return make(q, Q_JOINABLE, &o, "mproc_joinablequeue_new");
}

/* ---- the ring -------------------------------------------------------------- */

static uint64_t padded(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* Copy n bytes in/out of the ring of layout g at position pos (wrapping):
 * position pos is at offset (pos + shift) % size. */
static void ring_write(mproc_queue *q, uint64_t g, uint64_t pos,
                       const void *p, size_t n) {
  size_t size = (size_t)g_size(g), off = (size_t)((pos + g_shift(g)) % size);
  size_t first = size - off;
  if (first > n)
    first = n;
  memcpy(q->ring + off, p, first);
  memcpy(q->ring, (const unsigned char *)p + first, n - first);
}

static void ring_read(mproc_queue *q, uint64_t g, uint64_t pos, void *p,
                      size_t n) {
  size_t size = (size_t)g_size(g), off = (size_t)((pos + g_shift(g)) % size);
  size_t first = size - off;
  if (first > n)
    first = n;
  memcpy(p, q->ring + off, first);
  memcpy((unsigned char *)p + first, q->ring, n - first);
}

/* Sleep on the low half of *pos while it reads low (one slice at most). */
static int sleep_on(mproc_queue *q, int which, uint64_t *pos, uint64_t seen,
                    uint32_t *sleepers, double left) {
  double t = left < 0 || left > SLICE ? SLICE : left;
  int rc = mproc__plat_word_wait(park(q, which), mproc__low_half(pos),
                                 (uint32_t)seen, sleepers, t);
  return rc == MPROC_ETIMEDOUT ? 0 : rc;
}

static int wake(mproc_queue *q, int which, uint64_t *pos, uint32_t *sleepers,
                int n) {
  if (mproc__ld32(sleepers) == 0)
    return 0;
  return mproc__plat_word_wake(park(q, which), mproc__low_half(pos),
                               sleepers, n);
}

/* Tests only (NULL otherwise): called at each step of a growth, to kill
 * the grower there.  1: new memory usable, 2: data copied, 3: layout
 * published (both locks still held); 4: a ring shrunk (see shrink). */
void (*mproc__queue_grow_hook)(int step);

/* What stopped a put at its deadline (for its message). */
enum { WHY_LOCK, WHY_COUNT, WHY_CAP, WHY_RING };

/*
 * Producer lock held, maxsize allows a new item, and the ring lacks room
 * for need bytes that the cap could give: grow the ring, at least
 * doubling it (up to the cap).  The data between head and tail keeps its
 * positions; its wrapped part (or the other part, whichever is smaller
 * and fits) is copied to the new space, which nobody reads yet, and the
 * new layout is published with one store, so a grower killed at any point
 * leaves the old ring or the new one.  Data to move needs the consumer
 * lock (taken in short tries: a consumer holding it while the ring has
 * data soon lets go; one that sleeps in get on an empty ring is no
 * obstacle, as there is nothing to move).  0: grown or room came (look
 * again); 1: not now (the layout does not fit in the cap yet); 2: the
 * consumer lock stayed busy until the deadline; < 0: an error.
 */
static int grow(mproc_queue *q, uint64_t need, double deadline) {
  qctl *c = q->c;
  uint64_t g = c->fixed.v.geom, size = g_size(g), cap = c->fixed.v.maxbytes;
  uint64_t tail = c->pub.v.tail, head, used, ns, ho, a, b, nho;
  int locked = 0, rc = 0, move_b;
  head = mproc__ld64(&c->sub.v.head);
  if (head != tail) {
    /* A put with no time left still waits a while for a consumer that is
     * copying out one item (it may be descheduled on a loaded machine):
     * a put_nowait below the cap should not fail for lack of buffer. */
    double grace = mproc__deadline(GROW_GRACE);
    for (;;) {
      rc = mproc__lk_acquire(&c->cons.v.lock, park(q, P_CLOCK), 0.002);
      if (rc != MPROC_ETIMEDOUT)
        break;
      head = mproc__ld64(&c->sub.v.head);
      if (head == tail || size - (tail - head) >= need ||
          mproc__ld32(&c->rare.v.closed))
        return 0; /* emptied, room came or closed: look again */
      if (mproc__left(deadline) == 0 && mproc__left(grace) == 0)
        return 2;
    }
    /* From a dead consumer: head is where it was before the chunk it
     * was copying, and the rest of an item it had begun is skipped by
     * the next get (a chunk that is not FIRST with no item begun). */
    if (rc && rc != MPROC_EOWNERDEAD)
      return rc;
    rc = 0;
    locked = 1;
    head = mproc__ld64(&c->sub.v.head);
    c->prod.v.head_cache = head;
  }
  used = tail - head;
  if (size - used >= need)
    goto out; /* a consumer made room meanwhile */
  for (ns = size * 2; ns < used + need && ns < cap; ns *= 2)
    ;
  if (ns > cap)
    ns = cap;
  rc = 1;
  if (ns < used + need)
    goto out;
  ho = (head + g_shift(g)) % size;
  a = size - ho < used ? size - ho : used;
  b = used - a;
  move_b = b <= ns - size && (b <= a || a > ns - size);
  if (b && !move_b && a > ns - size)
    goto out; /* neither part fits in what the cap adds: wait */
  rc = ensure(q, geom_of(ns, 0));
  if (rc)
    goto out;
  if (mproc__queue_grow_hook)
    mproc__queue_grow_hook(1);
  nho = ho;
  if (b && move_b) {
    memcpy(q->ring + size, q->ring, (size_t)b); /* after the first part */
  } else if (b) {
    nho = ho + (ns - size); /* the first part to the end */
    memcpy(q->ring + nho, q->ring + ho, (size_t)a);
  }
  if (mproc__queue_grow_hook)
    mproc__queue_grow_hook(2);
  mproc__st64_release(&c->fixed.v.geom,
                      geom_of(ns, (nho + ns - head % ns) % ns));
  if (mproc__queue_grow_hook)
    mproc__queue_grow_hook(3);
out:
  if (locked)
    mproc__lk_release(&c->cons.v.lock, park(q, P_CLOCK));
  return rc;
}

/*
 * Producer side, lock held: wait until need bytes are free (and, for a
 * new item, the queue holds fewer than maxsize), growing the ring if
 * may_grow.  0, MPROC_EFULL at the deadline (*why says what stopped it),
 * MPROC_ECLOSED.
 */
static int wait_space(mproc_queue *q, uint64_t need, int new_item,
                      int may_grow, double deadline, int *why) {
  qctl *c = q->c;
  uint64_t tail = c->pub.v.tail, max = c->fixed.v.maxsize, head, size;
  double left;
  int spins = 0, rc, count_ok, grown = 0;
  for (;;) {
    size = g_size(c->fixed.v.geom); /* only producers change it */
    count_ok = !new_item || !max ||
               c->pub.v.put_count - c->prod.v.got_cache < max;
    if (size - (tail - c->prod.v.head_cache) >= need && count_ok)
      return 0;
    head = mproc__ld64(&c->sub.v.head);
    c->prod.v.head_cache = head;
    c->prod.v.got_cache = mproc__ld64(&c->sub.v.got_count);
    count_ok = !new_item || !max ||
               c->pub.v.put_count - c->prod.v.got_cache < max;
    if (size - (tail - head) >= need && count_ok)
      return 0;
    if (mproc__ld32(&c->rare.v.closed))
      return MPROC_ECLOSED;
    /* A consumer that keeps up frees room within the spins: the ring
     * grows only for one that does not (or none), so a streaming pair
     * keeps a small ring that stays in the caches. */
    if (spins++ < SPINS) {
      mproc__cpu_relax();
      continue;
    }
    grown = 0;
    if (may_grow && count_ok && tail - head + need <= c->fixed.v.maxbytes) {
      rc = grow(q, need, deadline);
      if (rc == 0)
        continue;
      if (rc < 0)
        return rc;
      grown = rc;
    }
    left = mproc__left(deadline);
    if (left == 0) {
      if (why)
        *why = !count_ok        ? WHY_COUNT
               : !may_grow      ? WHY_RING
               : grown == 2     ? WHY_LOCK
                                : WHY_CAP;
      return MPROC_EFULL;
    }
    rc = sleep_on(q, P_HEAD, &c->sub.v.head, head, &c->rare.v.psleep, left);
    if (rc)
      return rc;
  }
}

/*
 * Write one chunk (space is there) and publish it.  The wake-up of a
 * sleeping consumer needs a full barrier between this store of tail and
 * the read of its sleeper count: for a whole item that is the exchange
 * that releases the producer lock (put_raw wakes after it), so the common
 * case pays one barrier per item; the chunks of a streamed item (now)
 * pay their own.
 */
static int put_chunk(mproc_queue *q, const void *p, uint32_t n,
                     uint32_t flags, int now) {
  qctl *c = q->c;
  uint32_t hdr[2];
  uint64_t tail = c->pub.v.tail, g = c->fixed.v.geom;
  hdr[0] = n;
  hdr[1] = flags;
  ring_write(q, g, tail, hdr, sizeof hdr);
  if (n)
    ring_write(q, g, tail + CHUNK_HDR, p, n);
  if (flags & F_LAST) /* ordered by the exchange of tail below */
    mproc__st64_relaxed(&c->pub.v.put_count, c->pub.v.put_count + 1);
  /* Publish: the chunk is complete before tail moves past it. */
  if (!now) {
    mproc__st64_release(&c->pub.v.tail, tail + CHUNK_HDR + padded(n));
    return 0;
  }
  mproc__xchg64(&c->pub.v.tail, tail + CHUNK_HDR + padded(n));
  return wake(q, P_TAIL, &c->pub.v.tail, &c->rare.v.csleep, 1);
}

static int unfinish(mproc_queue *q);

/*
 * Producer lock held: a JoinableQueue item that its producer counted but
 * never published (it died, or its put failed) is not a task.
 */
static void settle_count(mproc_queue *q) {
  qctl *c = q->c;
  if (c->prod.v.counted) {
    if (mproc__ld64(&c->pub.v.put_count) < c->prod.v.counted)
      unfinish(q);
    c->prod.v.counted = 0;
  }
}

/*
 * Take the producer lock.  A streamed item left unfinished - its producer
 * died in it, or timed out when the ring was full - gets its ABORT chunk
 * now (if that cannot be written by the deadline, the flag stays for the
 * next producer, and a consumer drops the part anyway).  A producer that
 * died while growing the ring left the old layout or the new one.
 */
static int lock_producers(mproc_queue *q, double deadline) {
  qctl *c = q->c;
  int rc = mproc__lk_acquire(&c->prod.v.lock, park(q, P_PLOCK),
                             deadline < 0 ? MPROC_FOREVER
                                          : mproc__left(deadline));
  if (rc == MPROC_ETIMEDOUT && mproc__ld32(&c->rare.v.shrinking)) {
    /* A consumer shrinking a drained ring holds it for a moment: a put
     * below the cap, put_nowait included, waits that out (short tries
     * while the flag stays up, at most GROW_GRACE). */
    double grace = mproc__deadline(GROW_GRACE);
    do
      rc = mproc__lk_acquire(&c->prod.v.lock, park(q, P_PLOCK), 0.002);
    while (rc == MPROC_ETIMEDOUT && mproc__ld32(&c->rare.v.shrinking) &&
           mproc__left(grace) > 0);
  }
  if (rc == MPROC_ETIMEDOUT)
    return MPROC_EFULL;
  if (rc != 0 && rc != MPROC_EOWNERDEAD)
    return rc;
  rc = ensure(q, c->fixed.v.geom);
  if (rc == 0)
    settle_count(q);
  if (rc == 0 && c->prod.v.partial) {
    rc = wait_space(q, CHUNK_HDR, 0, 0, deadline, NULL);
    if (rc == 0)
      rc = put_chunk(q, NULL, 0, F_ABORT, 1);
    if (rc == 0)
      c->prod.v.partial = 0;
  }
  if (rc)
    mproc__lk_release(&c->prod.v.lock, park(q, P_PLOCK));
  return rc;
}

/* One unfinished task less; wake joiners at zero.  MPROC_EINVAL at 0. */
static int unfinish(mproc_queue *q) {
  qctl *c = q->c;
  uint32_t v = mproc__ld32(&c->rare.v.unfinished);
  do {
    if (v == 0)
      return mproc__err(MPROC_EINVAL, "task_done() called too many times");
  } while (!mproc__cas32(&c->rare.v.unfinished, &v, v - 1));
  if (v == 1 && mproc__ld32(&c->rare.v.jsleep))
    return mproc__plat_word_wake(park(q, P_UNFINISHED), &c->rare.v.unfinished,
                                 &c->rare.v.jsleep, INT_MAX);
  return 0;
}

static int put_raw(mproc_queue *q, const void *p, size_t n, double timeout,
                   const char *what) {
  qctl *c;
  double deadline;
  uint64_t half, size;
  size_t off = 0;
  int rc, joinable, why = WHY_LOCK;
  if (!q)
    return mproc__err(MPROC_EINVAL, "%s: NULL queue", what);
  if (!p && n)
    return mproc__err(MPROC_EINVAL, "%s: NULL data", what);
  rc = mproc__timeout(&timeout, what);
  if (rc)
    return rc;
  deadline = mproc__deadline(timeout);
  c = q->c;
  if (mproc__ld32(&c->rare.v.closed))
    return mproc__err(MPROC_ECLOSED, "%s: the queue is closed", what);
  rc = lock_producers(q, deadline);
  if (rc)
    goto fail;
  /* Counted before it is visible: a consumer's task_done may come at once. */
  joinable = c->fixed.v.kind == Q_JOINABLE;
  if (joinable) {
    c->prod.v.counted = c->pub.v.put_count + 1;
    mproc__add32(&c->rare.v.unfinished, 1);
  }
  if (CHUNK_HDR + padded(n) <= c->fixed.v.maxbytes && n <= 0xFFFFFFF0u) {
    /* One chunk, the ring grown for it if need be. */
    rc = wait_space(q, CHUNK_HDR + padded(n), 1, 1, deadline, &why);
    if (rc == 0)
      rc = put_chunk(q, p, (uint32_t)n, F_FIRST | F_LAST, 0);
  } else {
    /* Larger than the cap: stream it, in chunks of up to half the ring. */
    rc = wait_space(q, CHUNK_HDR + 8, 1, 0, deadline, &why);
    size = g_size(c->fixed.v.geom);
    half = size / 2;
    while (rc == 0 && off < n) {
      uint64_t room, k;
      room = size - (c->pub.v.tail - c->prod.v.head_cache);
      if (room > half)
        room = half;
      k = room - CHUNK_HDR;
      k &= ~(uint64_t)7;
      if (k > n - off)
        k = n - off;
      c->prod.v.partial = 1;
      rc = put_chunk(q, (const unsigned char *)p + off, (uint32_t)k,
                     (off == 0 ? F_FIRST : 0) |
                         (off + k == n ? F_LAST : 0),
                     1);
      off += (size_t)k;
      if (rc == 0 && off < n)
        rc = wait_space(q, CHUNK_HDR + 64, 0, 0, deadline, &why);
    }
    if (rc == 0) {
      c->prod.v.partial = 0;
    } else if (c->prod.v.partial &&
               wait_space(q, CHUNK_HDR, 0, 0, mproc__deadline(0), NULL) ==
                   0 &&
               put_chunk(q, NULL, 0, F_ABORT, 1) == 0) {
      c->prod.v.partial = 0; /* timed out half way; else the next one */
    }
  }
  if (joinable)
    settle_count(q); /* uncounts the item if it was not published */
  mproc__lk_release(&c->prod.v.lock, park(q, P_PLOCK)); /* a barrier */
  if (rc == 0)
    rc = wake(q, P_TAIL, &c->pub.v.tail, &c->rare.v.csleep, 1);
fail:
  if (rc == MPROC_EFULL && why == WHY_CAP)
    return mproc__err(rc, "%s: the queue's buffer is at its cap (maxbytes "
                      "%llu, mproc_queue_opts) and no room came in %g s",
                      what, (unsigned long long)c->fixed.v.maxbytes, timeout);
  if (rc == MPROC_EFULL && why == WHY_RING)
    return mproc__err(rc, "%s: an item of %zu bytes, larger than the queue's "
                      "cap (maxbytes %llu), was not read in %g s",
                      what, n, (unsigned long long)c->fixed.v.maxbytes,
                      timeout);
  if (rc == MPROC_EFULL && why == WHY_COUNT)
    return mproc__err(rc, "%s: the queue stayed full (maxsize %llu) for %g s",
                      what, (unsigned long long)c->fixed.v.maxsize, timeout);
  if (rc == MPROC_EFULL)
    return mproc__err(rc, "%s: the queue stayed full for %g s", what,
                      timeout);
  if (rc == MPROC_ECLOSED)
    return mproc__err(rc, "%s: the queue is closed", what);
  return rc;
}

int mproc_queue_put_bytes(mproc_queue *q, const void *p, size_t n,
                          double timeout) {
  return put_raw(q, p, n, timeout, "mproc_queue_put_bytes");
}

/* Small values are encoded and received on the stack: no malloc per item. */
#define SMALL_ITEM 256

int mproc_queue_put(mproc_queue *q, const mproc_value *v, double timeout) {
  unsigned char small[SMALL_ITEM];
  mproc__buf b;
  int rc;
  mproc__buf_init_on(&b, small, sizeof small);
  if (!q || !v)
    return mproc__err(MPROC_EINVAL, "mproc_queue_put: NULL %s",
                      q ? "value" : "queue");
  rc = mproc__encode(v, &b, NULL);
  if (rc == 0)
    rc = put_raw(q, b.p ? b.p : (const unsigned char *)"", b.len, timeout,
                 "mproc_queue_put");
  mproc__buf_free(&b);
  return rc;
}

int mproc_queue_put_nowait(mproc_queue *q, const mproc_value *v) {
  return mproc_queue_put(q, v, 0);
}

/* ---- consumer side ------------------------------------------------------------ */

/*
 * Consumer lock held: wait until a chunk is there.  mid: in the middle of
 * a streamed item (then the deadline does not apply, and a dead producer
 * is looked for after every slice: MPROC_EEOF-like abort is reported as
 * 1).  0 when there is a chunk, 1 when the producer died mid-item,
 * MPROC_EEMPTY, MPROC_EEOF (closed and empty).
 */
static int wait_chunk(mproc_queue *q, int mid, double deadline) {
  qctl *c = q->c;
  uint64_t head = c->sub.v.head, tail;
  double left;
  int spins = 0, rc;
  for (;;) {
    if (c->cons.v.tail_cache != head)
      return 0;
    tail = mproc__ld64(&c->pub.v.tail);
    c->cons.v.tail_cache = tail;
    if (tail != head)
      return 0;
    if (!mid && mproc__ld32(&c->rare.v.closed))
      return MPROC_EEOF;
    if (spins++ < SPINS) {
      mproc__cpu_relax();
      continue;
    }
    left = mid ? SLICE : mproc__left(deadline);
    if (left == 0)
      return MPROC_EEMPTY;
    rc = sleep_on(q, P_TAIL, &c->pub.v.tail, tail, &c->rare.v.csleep, left);
    if (rc)
      return rc;
    if (mid && mproc__ld64(&c->pub.v.tail) == head) {
      /* Still nothing: is the writer of this item alive? */
      rc = mproc__lk_acquire(&c->prod.v.lock, park(q, P_PLOCK), 0);
      if (rc == 0 || rc == MPROC_EOWNERDEAD) {
        int died = rc == MPROC_EOWNERDEAD && c->prod.v.partial;
        c->prod.v.partial = 0;
        settle_count(q);
        mproc__lk_release(&c->prod.v.lock, park(q, P_PLOCK));
        if (died || mproc__ld64(&c->pub.v.tail) == head)
          return 1; /* nobody will finish this item */
      } else if (rc != MPROC_ETIMEDOUT) {
        return rc;
      }
    }
  }
}

/* Take one chunk: its header, its payload appended to out (if any).
 * now: wake a sleeping producer at once (see put_chunk). */
static int take_chunk(mproc_queue *q, mproc__buf *out, uint32_t *flags,
                      int now) {
  qctl *c = q->c;
  uint64_t head = c->sub.v.head, g;
  uint32_t hdr[2];
  int rc;
  /* The layout changes only with the consumer lock or an empty ring: read
   * after the chunk was seen, it is the one the chunk was written in. */
  g = mproc__ld64(&c->fixed.v.geom);
  rc = ensure(q, g);
  if (rc)
    return rc;
  ring_read(q, g, head, hdr, sizeof hdr);
  if (hdr[0] > g_size(g) - CHUNK_HDR || padded(hdr[0]) + CHUNK_HDR >
                                            c->cons.v.tail_cache - head)
    return mproc__err(MPROC_EBADMSG, "queue: a corrupt chunk header");
  if (out && hdr[0]) {
    rc = mproc__buf_reserve(out, hdr[0]);
    if (rc)
      return rc;
    ring_read(q, g, head + CHUNK_HDR, out->p + out->len, hdr[0]);
    out->len += hdr[0];
  }
  *flags = hdr[1];
  if (hdr[1] & F_LAST) /* ordered by the exchange of head below */
    mproc__st64_relaxed(&c->sub.v.got_count, c->sub.v.got_count + 1);
  if (!now) {
    mproc__st64_release(&c->sub.v.head, head + CHUNK_HDR + padded(hdr[0]));
    return 0;
  }
  mproc__xchg64(&c->sub.v.head, head + CHUNK_HDR + padded(hdr[0]));
  return wake(q, P_HEAD, &c->sub.v.head, &c->rare.v.psleep, 1);
}

/*
 * Consumer lock just taken over from a dead consumer: if it died in the
 * middle of a streamed item, skip the rest of it.  The lock stays held.
 */
static int repair_consumers(mproc_queue *q) {
  qctl *c = q->c;
  uint32_t flags;
  int rc = 0;
  while (c->cons.v.partial) {
    rc = wait_chunk(q, 1, -1.0);
    if (rc == 1) {
      rc = 0;
      break;
    }
    if (rc == 0)
      rc = take_chunk(q, NULL, &flags, 1);
    if (rc)
      break;
    if (flags & (F_LAST | F_ABORT))
      break;
  }
  c->cons.v.partial = 0;
  return rc;
}

/*
 * Consumer lock held, after a get: a ring that grew to SHRINK_AT times its
 * first size or more and is now empty goes back to its first size, and
 * (Linux) gives the memory of the rest back.  It needs the producer lock
 * too (taken only if free: the order is producer, then consumer): with
 * both and no data, nobody touches the ring.  Positions stay; the shift
 * puts head at offset 0.
 */
/* 64 (64 MiB for the default first size): a streaming pair whose ring
 * grew to 8 MiB shrank and grew again at every drain, at 2/3 of the
 * speed; a burst this large pays its page faults anyway. */
#define SHRINK_AT 64
static void shrink(mproc_queue *q) {
  qctl *c = q->c;
  uint64_t g = mproc__ld64(&c->fixed.v.geom), size = g_size(g);
  uint64_t first = c->fixed.v.bufsize, head = c->sub.v.head;
  int rc;
  if (size / SHRINK_AT < first || c->cons.v.tail_cache != head)
    return;
  /* Up before the try and until the release, so a put that finds the
   * lock taken knows to wait (lock_producers). */
  mproc__st32(&c->rare.v.shrinking, 1);
  rc = mproc__lk_acquire(&c->prod.v.lock, park(q, P_PLOCK), 0);
  if (rc != 0 && rc != MPROC_EOWNERDEAD) {
    mproc__st32(&c->rare.v.shrinking, 0);
    return; /* a producer is at work: not empty for long */
  }
  /* From a dead producer: what it counted or left half streamed is
   * settled by the next producer, as after any lock_producers. */
  if (!c->prod.v.partial && mproc__ld64(&c->pub.v.tail) == head) {
    /* The producers' copy of head may be older by more than the new
     * size: room is counted from it (tail - head_cache <= size). */
    c->prod.v.head_cache = head;
    mproc__st64_release(&c->fixed.v.geom,
                        geom_of(first, (first - head % first) % first));
    mproc__plat_shm_discard(q->o.blk->h, q->o.blk->addr,
                            (size_t)(RING_OFF + first), (size_t)(size - first));
    if (mproc__queue_grow_hook)
      mproc__queue_grow_hook(4);
  }
  mproc__lk_release(&c->prod.v.lock, park(q, P_PLOCK));
  mproc__st32(&c->rare.v.shrinking, 0);
}

static int lock_consumers(mproc_queue *q, double deadline) {
  qctl *c = q->c;
  int rc = mproc__lk_acquire(&c->cons.v.lock, park(q, P_CLOCK),
                             deadline < 0 ? MPROC_FOREVER
                                          : mproc__left(deadline));
  if (rc == MPROC_ETIMEDOUT)
    return MPROC_EEMPTY;
  if (rc != MPROC_EOWNERDEAD)
    return rc;
  rc = repair_consumers(q);
  if (rc)
    mproc__lk_release(&c->cons.v.lock, park(q, P_CLOCK));
  return rc;
}

static int get_raw(mproc_queue *q, mproc__buf *out, double timeout,
                   const char *what) {
  qctl *c;
  double deadline;
  uint32_t flags;
  size_t before;
  int rc, mid = 0;
  if (!q)
    return mproc__err(MPROC_EINVAL, "%s: NULL queue", what);
  rc = mproc__timeout(&timeout, what);
  if (rc)
    return rc;
  deadline = mproc__deadline(timeout);
  c = q->c;
  rc = lock_consumers(q, deadline);
  if (rc)
    goto done;
  for (;;) {
    rc = wait_chunk(q, mid, deadline);
    if (rc == 1) { /* its producer died half way: drop the part */
      out->len = 0;
      mid = 0;
      c->cons.v.partial = 0;
      continue;
    }
    if (rc)
      break;
    before = out->len;
    /* A whole item wakes producers after the unlock; parts at once. */
    rc = take_chunk(q, out, &flags, mid);
    if (rc)
      break;
    if (flags & F_ABORT) {
      out->len = 0;
      mid = 0;
    } else if (flags & F_FIRST) {
      if (before) { /* cannot happen (an ABORT comes first): keep the new */
        memmove(out->p, out->p + before, out->len - before);
        out->len -= before;
      }
      mid = !(flags & F_LAST);
      if (!mid)
        break;
    } else if (!mid) {
      out->len = before; /* the rest of an item nobody began: skip */
    } else if (flags & F_LAST) {
      mid = 0;
      break;
    }
    c->cons.v.partial = (uint32_t)mid;
  }
  c->cons.v.partial = (uint32_t)mid;
  if (rc == 0 && c->cons.v.tail_cache == c->sub.v.head)
    shrink(q);
  mproc__lk_release(&c->cons.v.lock, park(q, P_CLOCK)); /* a barrier */
  if (rc == 0)
    rc = wake(q, P_HEAD, &c->sub.v.head, &c->rare.v.psleep, 1);
done:
  if (rc == MPROC_EEMPTY)
    return mproc__err(rc, "%s: nothing arrived in %g s", what, timeout);
  if (rc == MPROC_EEOF)
    return mproc__err(rc, "%s: the queue is closed and empty", what);
  return rc;
}

int mproc_queue_get_bytes(mproc_queue *q, void **p, size_t *n,
                          double timeout) {
  mproc__buf b = MPROC__BUF_INIT;
  int rc;
  if (!p || !n)
    return mproc__err(MPROC_EINVAL, "mproc_queue_get_bytes: NULL output");
  *p = NULL;
  *n = 0;
  rc = get_raw(q, &b, timeout, "mproc_queue_get_bytes");
  if (rc) {
    mproc__buf_free(&b);
    return rc;
  }
  if (!b.p && (rc = mproc__buf_reserve(&b, 1)) != 0)
    return rc;
  *p = b.p;
  *n = b.len;
  return 0;
}

int mproc_queue_get(mproc_queue *q, mproc_value **out, double timeout) {
  unsigned char small[SMALL_ITEM];
  mproc__buf b;
  int rc;
  mproc__buf_init_on(&b, small, sizeof small);
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_queue_get: NULL output");
  *out = NULL;
  rc = get_raw(q, &b, timeout, "mproc_queue_get");
  if (rc == 0)
    rc = mproc__decode(b.p, b.len, out, NULL);
  mproc__buf_free(&b);
  return rc;
}

int mproc_queue_get_nowait(mproc_queue *q, mproc_value **out) {
  return mproc_queue_get(q, out, 0);
}

/* ---- size, close, join ----------------------------------------------------- */

long mproc_queue_qsize(mproc_queue *q) {
  uint64_t got, put;
  if (!q)
    return mproc__err(MPROC_EINVAL, "mproc_queue_qsize: NULL queue");
  got = mproc__ld64(&q->c->sub.v.got_count);
  put = mproc__ld64(&q->c->pub.v.put_count);
  return put > got ? (long)(put - got) : 0;
}

int mproc_queue_empty(mproc_queue *q) {
  long n = mproc_queue_qsize(q);
  return n < 0 ? (int)n : n == 0;
}

int mproc_queue_full(mproc_queue *q) {
  long n = mproc_queue_qsize(q);
  if (n < 0)
    return (int)n;
  return q->c->fixed.v.maxsize && (uint64_t)n >= q->c->fixed.v.maxsize;
}

int mproc_queue_close(mproc_queue *q) {
  qctl *c;
  if (!q)
    return mproc__err(MPROC_EINVAL, "mproc_queue_close: NULL queue");
  c = q->c;
  mproc__st32(&c->rare.v.closed, 1);
  /* Waiters re-check close when woken (and after each slice anyway). */
  wake(q, P_TAIL, &c->pub.v.tail, &c->rare.v.csleep, INT_MAX);
  wake(q, P_HEAD, &c->sub.v.head, &c->rare.v.psleep, INT_MAX);
  return 0;
}

int mproc_queue_task_done(mproc_queue *q) {
  if (!q)
    return mproc__err(MPROC_EINVAL, "mproc_queue_task_done: NULL queue");
  if (q->c->fixed.v.kind != Q_JOINABLE)
    return mproc__err(MPROC_ENOTSUP, "mproc_queue_task_done: not a "
                                     "JoinableQueue");
  return unfinish(q);
}

int mproc_queue_join(mproc_queue *q, double timeout) {
  qctl *c;
  double deadline, left;
  uint32_t v;
  int rc;
  if (!q)
    return mproc__err(MPROC_EINVAL, "mproc_queue_join: NULL queue");
  rc = mproc__timeout(&timeout, "mproc_queue_join");
  if (rc)
    return rc;
  deadline = mproc__deadline(timeout);
  c = q->c;
  if (c->fixed.v.kind != Q_JOINABLE)
    return mproc__err(MPROC_ENOTSUP, "mproc_queue_join: not a "
                                     "JoinableQueue");
  for (;;) {
    v = mproc__ld32(&c->rare.v.unfinished);
    if (v == 0)
      return 0;
    left = mproc__left(deadline);
    if (left == 0)
      return mproc__err(MPROC_ETIMEDOUT, "mproc_queue_join: %u items not "
                                         "done after %g s",
                        v, timeout);
    rc = mproc__plat_word_wait(park(q, P_UNFINISHED), &c->rare.v.unfinished,
                               v, &c->rare.v.jsleep, left);
    if (rc < 0 && rc != MPROC_ETIMEDOUT)
      return rc;
  }
}

/* ---- references and travel ---------------------------------------------------- */

MPROC__SOBJ_REFS(queue, MPROC__NO_FINI)

int mproc_value_get_queue(const mproc_value *v, mproc_queue **out) {
  static const mproc__objtype *const types[] = {
      &mproc__queue_type, &mproc__simplequeue_type,
      &mproc__joinablequeue_type};
  return mproc__sobj_get(v, types, 3, "mproc_value_get_queue", (void **)out);
}

static int queue_export_obj(void *obj, mproc__spawn *sp, mproc_value **plain) {
  return mproc__blk_export(((mproc_queue *)obj)->o.blk, sp, plain);
}

static int queue_import_obj(mproc__spawn *sp, const mproc_value *plain,
                            void **obj) {
  mproc__blk *blk;
  mproc_queue *q;
  qctl *c;
  int rc = mproc__blk_import(sp, plain, KIND_QUEUE, 64, sizeof(qctl), &blk);
  if (rc)
    return rc;
  c = (qctl *)(blk->addr + 64);
  if (blk->size < RING_OFF + RING_UNIT ||
      g_size(c->fixed.v.geom) < RING_UNIT ||
      g_size(c->fixed.v.geom) > c->fixed.v.maxbytes ||
      g_shift(c->fixed.v.geom) >= g_size(c->fixed.v.geom) ||
      c->fixed.v.bufsize < RING_UNIT ||
      c->fixed.v.bufsize > c->fixed.v.maxbytes ||
      c->fixed.v.maxbytes > blk->size - RING_OFF ||
      c->fixed.v.kind > Q_JOINABLE ||
      (mproc__plat_park_needed() && blk->nparks != NPARKS)) {
    mproc__blk_decref(blk);
    return mproc__err(MPROC_EBADMSG, "malformed Queue in bootstrap");
  }
  q = view(blk);
  mproc__blk_decref(blk);
  if (!q)
    return MPROC_ENOMEM;
  *obj = q;
  return 0;
}

static void queue_release_obj(void *obj) { mproc_queue_free(obj); }

const mproc__objtype mproc__queue_type = {"Queue", queue_release_obj,
                                          queue_export_obj, queue_import_obj};
const mproc__objtype mproc__simplequeue_type = {
    "SimpleQueue", queue_release_obj, queue_export_obj, queue_import_obj};
const mproc__objtype mproc__joinablequeue_type = {
    "JoinableQueue", queue_release_obj, queue_export_obj, queue_import_obj};
