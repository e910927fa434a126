/*
 * mproc_bench.c - the C side of bench/run.sh: mproc and the raw OS
 * primitive on the same workloads, one line per measurement:
 *
 *   RESULT <workload> <impl> <median> <unit> n=<samples> min=<..> max=<..>
 *
 * Workloads (bench/py_bench.py measures Python's on the same names):
 *   spawn_join    start + join of a process whose target returns at once
 *                 (us per process).  Raw: posix_spawn + waitpid of this
 *                 binary in a mode that exits before mproc_init
 *                 (raw_self), of it exiting right after mproc_init
 *                 (raw_self_init), and of bench_tiny (raw_tiny).
 *   rtt_value     send(['spam', 42, 'egg']) -> child echoes -> recv (us).
 *   rtt_bytes8    send_bytes(8 bytes) -> echo -> recv_bytes (us).
 *                 Raw for both: 8-byte write/read ping-pong over a
 *                 socketpair with a forked child (raw), and over two
 *                 pipes (raw_pipe: what Python's simplex Pipe is built
 *                 on).
 *   bw_into       a child sends 1 MiB messages with send_bytes; the parent
 *                 receives with recv_bytes_into into one reused buffer
 *                 (MiB/s).  Raw: the child write()s 1 MiB chunks over a
 *                 socketpair, the parent read()s them into one buffer.
 *   bw_alloc      the same with recv_bytes (a new buffer per message).
 *
 * Synchronization (ns or us per operation; the table's ratio for these is
 * raw / mproc, so 1.0 is raw speed and higher is better):
 *   lock_uncontended  one process: mproc_lock_acquire(FOREVER) +
 *                 mproc_lock_release in a tight loop (ns per pair).  Raw:
 *                 sem_wait/sem_post on a sem_t (pshared) in an
 *                 mmap(MAP_SHARED|MAP_ANONYMOUS) page (raw_sem), and
 *                 lock/unlock of a robust process-shared pthread mutex in
 *                 such a page (raw_mutex).
 *   lock_contended  the parent and one child each do N acquire /
 *                 increment a shared counter / release (ns per pair: wall
 *                 time over 2N).  The counter must come out exact.  mproc:
 *                 a Lock and a RawValue('q') as the child's arguments;
 *                 raw: a forked child sharing the mmap'd page.
 *   lock_handoff  the same with ~100 ns of spinning outside the lock after
 *                 every pair, so the lock changes hands instead of
 *                 bouncing its cache line (calibrated at start).
 *   event_pingpong  two processes, two Events: A sets e1, B waits e1,
 *                 clears it, sets e2, A waits e2, clears it, ... (us per
 *                 one-way hop).  Raw: sem_post/sem_wait on two sem_t in a
 *                 shared page.
 *
 * Queues (rates, higher is better; every item's first 8 bytes are its id,
 * producer << 48 | sequence number, and each producer ends a sample with
 * an end-marker item; the consumers check length, order per producer,
 * count, sum and sum of squares of the ids, and a mismatch is an ERROR
 * line and exit 1):
 *   queue_1to1_64   one producer child, the parent consumes 200 000
 *                 64-byte items per sample (M items/s).  mproc:
 *                 put_bytes/get_bytes (impl mproc) and put/get of a
 *                 64-byte bytes value (mproc_value).  Raw: the raw ring
 *                 (raw_ring, below: single producer, single consumer,
 *                 shared memory) and a pipe with one write/read per item
 *                 (raw_pipe).
 *   queue_2to2_64   two producer children, two consumers (the parent and
 *                 a child), 100 000 items per producer per sample; total
 *                 M items/s.  Raw: one pipe shared by all four (64-byte
 *                 writes are atomic, <= PIPE_BUF); the ring has no 2->2.
 *   queue_1to1_64k  as queue_1to1_64 with 2000 items of 64 KiB (MiB/s);
 *                 mproc put_bytes/get_bytes, raw ring, raw pipe (64 KiB
 *                 writes, default pipe size).
 *   queue_burst_64k one process and nobody reading while it puts: a new
 *                 Queue() (1 MiB first buffer), 256 put_bytes of 64 KiB
 *                 with timeout 0 (the buffer grows to 32 MiB), then 256
 *                 get_bytes (MiB/s through put and get, the queue's
 *                 making and freeing included; no raw ring or pipe, which
 *                 cannot take a burst with no reader).
 *
 * Codec (one process, no I/O; impl mproc; Python's pickle on the same):
 *   codec_bytes64   mproc_encode + mproc_decode of a 64-byte bytes value
 *                 (ns per pair; the per-value cost a Queue of values pays).
 *   codec_ints1000  the same for a list of the ints 0..999 (us per pair).
 *   decode_keys_1mb / decode_keys_2mb  mproc_decode of a dict of int keys
 *                 filling 1 MB / 2 MB (ms): impl crafted (keys that all
 *                 collided under mproc's old fixed hash, which took 7.9 s
 *                 and 35 s) and ordinary (0, 1, 2, ...).  An INFO line
 *                 gives crafted/ordinary and 2mb/1mb: linear is ~1 and ~2.
 *
 * Medians: spawn_join over single processes; the others over batches
 * (the mean of each batch is one sample), after warm-up.  The
 * implementations of a workload run side by side, one sample each per
 * round, so that drift in the machine's speed touches them alike.
 *
 * Options:
 *   --secs S      time per (workload, impl) measurement (default 2)
 *   --only LIST   workloads or groups: spawn, rtt (rtt_value, rtt_bytes8),
 *                 bw (bw_into, bw_alloc), lock (lock_uncontended,
 *                 lock_contended, lock_handoff), event (event_pingpong),
 *                 sync (lock and event), queue (queue_1to1_64,
 *                 queue_2to2_64, queue_1to1_64k, queue_burst_64k), codec
 *                 (codec_bytes64, codec_ints1000, decode_keys_1mb,
 *                 decode_keys_2mb); default spawn,rtt,bw,lock,event,queue,
 *                 codec
 *   --impl LIST   mproc,raw (default both)
 *   --pin MODE    CPUs of the sync and queue workloads' processes: split
 *                 (the parent on one CPU, a child on another; for queues
 *                 the producers on one, the consumers on the other;
 *                 default), same (all on one), none (the scheduler's
 *                 choice)
 *   --tiny PATH   the tiny binary (default: bench_tiny beside this one)
 * Internal modes: --exit-now (return before mproc_init), --init-exit.
 *
 * The mproc side uses only the public API.  The raw baselines are POSIX
 * (the sync ones need process-shared sem_t and robust mutexes: Linux,
 * glibc) and are compiled only there; elsewhere the mproc side still
 * builds.
 */
#if !defined(_WIN32)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define BENCH_RAW 1
#else
#define BENCH_RAW 0
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

#if BENCH_RAW
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#else
#include <windows.h>
#endif

#define MSG_SIZE ((size_t)1 << 20) /* bandwidth message: 1 MiB */
#define BW_BATCH 64u               /* messages per bandwidth sample */
#define RTT_BATCH 1000             /* round trips per latency sample */
#define LOCK_BATCH 200000u         /* pairs per uncontended lock sample */
#define CONTEND_N 100000u          /* pairs per process per contended sample */
#define HANDOFF_N 50000u           /* the same for the hand-off variant */
#define HANDOFF_NS 100.0           /* work outside the lock (ns), hand-off */
#define EVENT_BATCH 1000u          /* round trips (2 hops) per event sample */
#define Q_SMALL 64                 /* queue items: small (bytes) */
#define Q_BIG ((size_t)64 << 10)   /* and big */
#define Q_SMALL_N 200000u          /* items per producer per sample, 1->1 */
#define Q_PAIR_N 100000u           /* the same for 2->2 (200 000 in all) */
#define Q_BIG_N 2000u              /* the same for 64 KiB items */
#define Q_BURST_N 256              /* items of a burst (queue_burst_64k) */
#define Q_END UINT64_MAX           /* the id of a producer's end marker */

static double g_secs = 2.0;
static const char *g_only = "spawn,rtt,bw,lock,event,queue,codec";
static int g_mproc = 1, g_raw = 1;

/* --pin: where the two processes of the sync workloads run.  split: the
 * parent on the first CPU it may use, the child on the second (default);
 * same: both on the first; none: wherever the scheduler puts them. */
enum { PIN_NONE, PIN_SPLIT, PIN_SAME };
static int g_pin = PIN_SPLIT;
static int g_cpu_parent = -1, g_cpu_child = -1;
static const char *g_tiny = NULL;

/* Fail at once: _Exit, not exit, because exit() would wait for the
 * children, which wait for commands (mproc joins its non-daemon children
 * at exit, as Python does), and a forked raw child must not run the
 * parent's atexit handlers.  Our ends of their pipes close with us, so
 * they see EOF and end. */
static void bail(void) {
  fflush(NULL);
  _Exit(1);
}

/* Is workload (or its group) named in the --only list? */
static int wanted(const char *workload, const char *group) {
  const char *p = g_only;
  while (*p) {
    size_t n = strcspn(p, ",");
    if ((n == strlen(workload) && strncmp(p, workload, n) == 0) ||
        (n == strlen(group) && strncmp(p, group, n) == 0))
      return 1;
    p += n;
    if (*p == ',')
      p++;
  }
  return 0;
}

/* A sync workload: named, or its group (lock, event), or "sync". */
static int wanted_sync(const char *workload, const char *group) {
  return wanted(workload, group) || wanted(workload, "sync");
}

/* Run the calling process on cpu only (cpu < 0: leave it alone). */
static void pin_self(int cpu) {
#if BENCH_RAW
  cpu_set_t set;
  if (cpu < 0)
    return;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    perror("sched_setaffinity");
    bail();
  }
#else
  (void)cpu;
#endif
}

/* ---- timing and statistics ------------------------------------------------ */

static double now(void) {
#if BENCH_RAW
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#else
  LARGE_INTEGER f, c;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  return (double)c.QuadPart / (double)f.QuadPart;
#endif
}

typedef struct samples {
  double *v;
  size_t n, cap;
} samples;

static void add(samples *s, double x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    double *v = realloc(s->v, cap * sizeof *v);
    if (!v) {
      fputs("mproc_bench: out of memory\n", stderr);
      bail();
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Print the RESULT line and release the samples. */
static void report(const char *workload, const char *impl, samples *s,
                   const char *unit) {
  double med;
  if (s->n == 0) {
    printf("RESULT %s %s nan %s n=0\n", workload, impl, unit);
  } else {
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    med = s->n % 2 ? s->v[s->n / 2]
                   : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
    printf("RESULT %s %s %.3f %s n=%zu min=%.3f max=%.3f\n", workload, impl,
           med, unit, s->n, s->v[0], s->v[s->n - 1]);
  }
  fflush(stdout);
  free(s->v);
  memset(s, 0, sizeof *s);
}

static void die(const char *what, int rc) {
  fprintf(stderr, "mproc_bench: %s: %s (%s)\n", what, mproc_errname(rc),
          mproc_last_error());
  bail();
}

#define CHECK(call)                                                          \
  do {                                                                       \
    int rc_ = (call);                                                        \
    if (rc_ < 0)                                                             \
      die(#call, rc_);                                                       \
  } while (0)

/* ---- queue items, the raw ring, one interface over all kinds ------------- */

/*
 * An item is size bytes whose first 8 are its id: producer << 48 |
 * sequence number (counting on across samples), or Q_END for the marker
 * a producer puts after its items.  A consumer takes items until its
 * first marker (with two producers and two consumers each consumer gets
 * exactly one: it stops there) and keeps these; the parent adds them up
 * and compares with what the producers put.
 */
typedef struct qstats {
  uint64_t count, sum, sumsq, bad; /* bad: wrong length or order */
} qstats;

#define Q_SEQ_MASK (((uint64_t)1 << 48) - 1)

/* Note one item; 1 for an end marker. last[p]: producer p's next seq. */
static int q_note(qstats *st, uint64_t last[2], const void *p, size_t len,
                  size_t size) {
  uint64_t id, who, seq;
  if (len != size) {
    st->bad++;
    return 0;
  }
  memcpy(&id, p, 8);
  if (id == Q_END)
    return 1;
  who = id >> 48;
  seq = id & Q_SEQ_MASK;
  if (who > 1 || seq < last[who]) /* FIFO per producer */
    st->bad++;
  else
    last[who] = seq + 1;
  st->count++;
  st->sum += id;
  st->sumsq += id * id;
  return 0;
}

enum { QK_MPROC, QK_MPROC_VALUE, QK_RING, QK_PIPE };

#if BENCH_RAW
/*
 * The raw ring: the minimal single-producer / single-consumer byte ring
 * in a MAP_SHARED mapping made before fork.  Records [u32 length, u32 0,
 * payload padded to 8] (mproc's chunk layout).  tail (the producer's) and
 * head (the consumer's) are free-running u32 positions on cache lines of
 * their own; each side keeps a private copy of the other's and re-reads
 * it only when the ring looks full / empty.  A side that finds nothing to
 * do polls RING_SPINS times (mproc's queue polls 1000 times too), then
 * raises its sleeping flag and futex-waits on the other's position; a
 * publisher calls futex_wake only when that flag is up (store position,
 * full fence, read flag: the sleeper does flag, fence, position).  No
 * locks, no owner-death or liveness checks, no allocation, no codec: a
 * floor for a queue in shared memory.
 */
#define RING_CAP ((uint32_t)1 << 20) /* mproc's default ring is 1 MiB too */
#define RING_SPINS 1000
#if defined(__x86_64__) || defined(__i386__)
#define cpu_pause() __builtin_ia32_pause()
#else
#define cpu_pause() ((void)0)
#endif

typedef struct rring {
  _Alignas(64) _Atomic uint32_t tail;
  _Alignas(64) _Atomic uint32_t head;
  _Alignas(64) _Atomic uint32_t psleep; /* the producer waits for head */
  _Atomic uint32_t csleep;              /* the consumer waits for tail */
  _Alignas(64) unsigned char data[RING_CAP];
} rring;

/* Wait until *w is no longer seen (poll, then sleep); its new value. */
static uint32_t ring_await(_Atomic uint32_t *w, uint32_t seen,
                           _Atomic uint32_t *sleeping) {
  uint32_t v;
  int i;
  for (i = 0; i < RING_SPINS; i++) {
    if ((v = atomic_load_explicit(w, memory_order_acquire)) != seen)
      return v;
    cpu_pause();
  }
  for (;;) {
    atomic_store_explicit(sleeping, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(w, memory_order_relaxed) == seen)
      syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, seen, NULL, NULL, 0);
    atomic_store_explicit(sleeping, 0, memory_order_relaxed);
    if ((v = atomic_load_explicit(w, memory_order_acquire)) != seen)
      return v;
  }
}

/* Publish a new position; wake the other side only if it sleeps. */
static void ring_publish(_Atomic uint32_t *w, uint32_t v,
                         _Atomic uint32_t *sleeping) {
  atomic_store_explicit(w, v, memory_order_release);
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(sleeping, memory_order_relaxed))
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void ring_copy(rring *r, uint32_t pos, void *p, size_t n, int in) {
  size_t off = pos & (RING_CAP - 1), first = RING_CAP - off;
  if (first > n)
    first = n;
  if (in) {
    memcpy(r->data + off, p, first);
    memcpy(r->data, (unsigned char *)p + first, n - first);
  } else {
    memcpy(p, r->data + off, first);
    memcpy((unsigned char *)p + first, r->data, n - first);
  }
}

/* Producer: *head is its copy of the consumer's position. */
static void ring_put(rring *r, uint32_t *head, const void *p, uint32_t n) {
  uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint32_t need = 8 + ((n + 7) & ~7u), hdr[2];
  while (RING_CAP - (tail - *head) < need)
    *head = ring_await(&r->head, *head, &r->psleep);
  hdr[0] = n;
  hdr[1] = 0;
  ring_copy(r, tail, hdr, 8, 1);
  ring_copy(r, tail + 8, (void *)(uintptr_t)p, n, 1);
  ring_publish(&r->tail, tail + need, &r->csleep);
}

/* Consumer: *tail is its copy of the producer's position.  The length. */
static uint32_t ring_get(rring *r, uint32_t *tail, void *buf, size_t cap) {
  uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  uint32_t hdr[2];
  while (*tail == head)
    *tail = ring_await(&r->tail, head, &r->csleep);
  ring_copy(r, head, hdr, 8, 0);
  if (hdr[0] > cap) {
    fprintf(stderr, "mproc_bench: raw ring: record of %u bytes\n", hdr[0]);
    bail();
  }
  ring_copy(r, head + 8, buf, hdr[0], 0);
  ring_publish(&r->head, head + 8 + ((hdr[0] + 7) & ~7u), &r->psleep);
  return hdr[0];
}

static void wr(int fd, const void *buf, size_t n);
static void rd(int fd, void *buf, size_t n);
#endif /* BENCH_RAW */

/* One process's end of a queue under test, whatever its kind. */
typedef struct qend {
  int kind;
  mproc_queue *q;     /* QK_MPROC, QK_MPROC_VALUE */
  struct rring *ring; /* QK_RING */
  uint32_t other;     /* QK_RING: our copy of the other side's position */
  int fd;             /* QK_PIPE: our end */
  unsigned char *buf; /* Q_BIG bytes: the item to put / the one got */
} qend;

static void q_put(qend *e, size_t size) {
  mproc_value *v;
  switch (e->kind) {
  case QK_MPROC:
    CHECK(mproc_queue_put_bytes(e->q, e->buf, size, MPROC_FOREVER));
    break;
  case QK_MPROC_VALUE:
    v = mproc_bytes(e->buf, size);
    if (!v)
      die("mproc_bytes", MPROC_ENOMEM);
    CHECK(mproc_queue_put(e->q, v, MPROC_FOREVER));
    mproc_value_free(v);
    break;
#if BENCH_RAW
  case QK_RING:
    ring_put(e->ring, &e->other, e->buf, (uint32_t)size);
    break;
  case QK_PIPE:
    wr(e->fd, e->buf, size);
    break;
#endif
  }
}

/* A producer's part of a sample: n items, then the end marker. */
static void q_produce(qend *e, uint64_t who, uint64_t *seq, uint32_t n,
                      size_t size) {
  uint64_t id;
  uint32_t i;
  for (i = 0; i <= n; i++) {
    id = i < n ? who << 48 | (*seq)++ : Q_END;
    memcpy(e->buf, &id, 8);
    q_put(e, size);
  }
}

/* A consumer's part: items until the first end marker. */
static void q_consume(qend *e, size_t size, qstats *st) {
  uint64_t last[2] = {0, 0};
  memset(st, 0, sizeof *st);
  for (;;) {
    const void *p;
    void *m;
    size_t n;
    mproc_value *v;
    int end;
    switch (e->kind) {
    case QK_MPROC:
      CHECK(mproc_queue_get_bytes(e->q, &m, &n, MPROC_FOREVER));
      end = q_note(st, last, m, n, size);
      mproc_free(m);
      break;
    case QK_MPROC_VALUE:
      CHECK(mproc_queue_get(e->q, &v, MPROC_FOREVER));
      CHECK(mproc_value_get_bytes(v, &p, &n));
      end = q_note(st, last, p, n, size);
      mproc_value_free(v);
      break;
#if BENCH_RAW
    case QK_RING:
      n = ring_get(e->ring, &e->other, e->buf, Q_BIG);
      end = q_note(st, last, e->buf, n, size);
      break;
    case QK_PIPE:
      rd(e->fd, e->buf, size);
      end = q_note(st, last, e->buf, size, size);
      break;
#endif
    default:
      end = 1;
    }
    if (end)
      return;
  }
}

static unsigned char *q_buffer(void) {
  unsigned char *b = malloc(Q_BIG);
  if (!b)
    die("malloc", MPROC_ENOMEM);
  memset(b, 'x', Q_BIG);
  return b;
}

/* ---- the children's targets ----------------------------------------------- */

static int t_empty(mproc_value *args) {
  (void)args;
  return 0;
}

static mproc_conn *arg_conn(mproc_value *args) {
  mproc_conn *c = NULL;
  if (mproc_value_get_conn(mproc_list_get(args, 0), &c) != 0)
    return NULL;
  return c;
}

/* Echo values until the parent closes its end. */
static int t_echo_value(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  mproc_value *v;
  if (!c)
    return 2;
  while (mproc_conn_recv(c, &v) == 0) {
    int rc = mproc_conn_send(c, v);
    mproc_value_free(v);
    if (rc)
      return 3;
  }
  return 0;
}

/* Echo byte messages until the parent closes its end. */
static int t_echo_bytes(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  unsigned char buf[4096];
  size_t n;
  if (!c)
    return 2;
  while (mproc_conn_recv_bytes_into(c, buf, sizeof buf, &n) == 0)
    if (mproc_conn_send_bytes(c, buf, n) != 0)
      return 3;
  return 0;
}

/* For each 4-byte count received, send that many 1 MiB messages. */
static int t_bw_sender(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  unsigned char cmd[8];
  unsigned char *buf = malloc(MSG_SIZE);
  size_t n;
  if (!c || !buf)
    return 2;
  memset(buf, 'x', MSG_SIZE);
  while (mproc_conn_recv_bytes_into(c, cmd, sizeof cmd, &n) == 0 && n == 4) {
    uint32_t count, i;
    memcpy(&count, cmd, 4);
    for (i = 0; i < count; i++)
      if (mproc_conn_send_bytes(c, buf, MSG_SIZE) != 0) {
        free(buf);
        return 3;
      }
  }
  free(buf);
  return 0;
}

/* Work outside the lock for the hand-off variant: k stores to a volatile
 * (about one cycle each), k calibrated by spin_iters() in the parent and
 * sent to the child with every command. */
static volatile unsigned g_spin_sink;

static void spin(unsigned k) {
  unsigned i;
  for (i = 0; i < k; i++)
    g_spin_sink = i;
}

/* Iterations of spin() that take about ns nanoseconds (best of 5). */
static unsigned spin_iters(double ns) {
  const unsigned probe = 10000000u;
  double best = 1e9, a, t;
  int i;
  for (i = 0; i < 5; i++) {
    a = now();
    spin(probe);
    t = now() - a;
    if (t < best)
      best = t;
  }
  return (unsigned)(ns * 1e-9 / (best / probe) + 0.5);
}

/*
 * The sync children (mproc: the arguments are [conn, objects..., cpu to
 * pin to or -1]).  Their command loop: the parent sends {n, spin} (two
 * uint32), the child runs its side of the workload and answers "d"
 * (done).  EOF ends the child.  The parent's clock starts before the
 * command and, for the lock workloads, stops when "d" arrives, so the
 * time covers both processes' loops (plus one message each way: some
 * microseconds in samples of milliseconds).
 */
static int t_lock_worker(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  mproc_lock *l = NULL;
  mproc_shared *sh = NULL;
  int64_t cpu;
  long long *cnt;
  uint32_t cmd[2], i;
  size_t n;
  if (!c || mproc_value_get_lock(mproc_list_get(args, 1), &l) != 0 ||
      mproc_value_get_shared(mproc_list_get(args, 2), &sh) != 0 ||
      mproc_value_get_int(mproc_list_get(args, 3), &cpu) != 0)
    return 2;
  pin_self((int)cpu);
  cnt = mproc_shared_data(sh);
  while (mproc_conn_recv_bytes_into(c, cmd, sizeof cmd, &n) == 0 &&
         n == sizeof cmd) {
    for (i = 0; i < cmd[0]; i++) {
      if (mproc_lock_acquire(l, MPROC_FOREVER) != 0)
        return 4;
      (*cnt)++;
      if (mproc_lock_release(l) != 0)
        return 5;
      spin(cmd[1]);
    }
    if (mproc_conn_send_bytes(c, "d", 1) != 0)
      return 3;
  }
  return 0;
}

static int t_event_worker(mproc_value *args) {
  mproc_conn *c = arg_conn(args);
  mproc_event *e1 = NULL, *e2 = NULL;
  int64_t cpu;
  uint32_t cmd[2], i;
  size_t n;
  if (!c || mproc_value_get_event(mproc_list_get(args, 1), &e1) != 0 ||
      mproc_value_get_event(mproc_list_get(args, 2), &e2) != 0 ||
      mproc_value_get_int(mproc_list_get(args, 3), &cpu) != 0)
    return 2;
  pin_self((int)cpu);
  while (mproc_conn_recv_bytes_into(c, cmd, sizeof cmd, &n) == 0 &&
         n == sizeof cmd) {
    for (i = 0; i < cmd[0]; i++) {
      if (mproc_event_wait(e1, MPROC_FOREVER) != 0 ||
          mproc_event_clear(e1) != 0 || mproc_event_set(e2) != 0)
        return 4;
    }
    if (mproc_conn_send_bytes(c, "d", 1) != 0)
      return 3;
  }
  return 0;
}

/*
 * The queue children (mproc: the arguments are [conn, queue, cpu to pin
 * to or -1, producer id, kind]).  Command {n, size} (two uint32): a
 * producer puts n items and its end marker; a consumer takes items until
 * an end marker and answers with its qstats.  EOF ends the child.
 */
static int q_mproc_child(mproc_value *args, qend *e, int64_t *who,
                         mproc_conn **c) {
  int64_t cpu, kind;
  memset(e, 0, sizeof *e);
  *c = arg_conn(args);
  if (!*c || mproc_value_get_queue(mproc_list_get(args, 1), &e->q) != 0 ||
      mproc_value_get_int(mproc_list_get(args, 2), &cpu) != 0 ||
      mproc_value_get_int(mproc_list_get(args, 3), who) != 0 ||
      mproc_value_get_int(mproc_list_get(args, 4), &kind) != 0)
    return 2;
  pin_self((int)cpu);
  e->kind = (int)kind;
  e->buf = q_buffer();
  return 0;
}

static int t_q_producer(mproc_value *args) {
  mproc_conn *c;
  qend e;
  int64_t who;
  uint64_t seq = 0;
  uint32_t cmd[2];
  size_t n;
  if (q_mproc_child(args, &e, &who, &c) != 0)
    return 2;
  while (mproc_conn_recv_bytes_into(c, cmd, sizeof cmd, &n) == 0 &&
         n == sizeof cmd)
    q_produce(&e, (uint64_t)who, &seq, cmd[0], cmd[1]);
  free(e.buf);
  return 0;
}

static int t_q_consumer(mproc_value *args) {
  mproc_conn *c;
  qend e;
  int64_t who;
  qstats st;
  uint32_t cmd[2];
  size_t n;
  if (q_mproc_child(args, &e, &who, &c) != 0)
    return 2;
  while (mproc_conn_recv_bytes_into(c, cmd, sizeof cmd, &n) == 0 &&
         n == sizeof cmd) {
    q_consume(&e, cmd[1], &st);
    if (mproc_conn_send_bytes(c, &st, sizeof st) != 0)
      return 3;
  }
  free(e.buf);
  return 0;
}

/* ---- contestants, measured round-robin ------------------------------------ */

/*
 * Every implementation of one workload is set up first, then sampled in
 * rounds, one sample of each per round (the order rotating), so drift in
 * the machine's speed touches them all alike.
 */
typedef struct contestant contestant;
struct contestant {
  const char *workload, *impl, *unit;
  double (*sample)(contestant *);
  samples s;
  /* mproc */
  mproc_conn *conn;
  mproc_process *proc;
  mproc_value *msg;
  int into;
  /* mproc sync objects */
  mproc_lock *lock;
  mproc_shared *shared;
  mproc_event *ev[2];
  /* sync workloads: pairs (or round trips) per process per sample, and
   * the spin() iterations after every pair */
  uint32_t n;
  unsigned spin_k;
  /* raw */
  int fd;
  int wfd; /* rtt raw_pipe: the write end (fd is the read end) */
  long pid;
  const char *path, *mode;
  unsigned char *buf;
  void *page; /* raw sync: a raw_sync in a MAP_SHARED page */
  int kind;   /* raw sync: RAW_SEM or RAW_MUTEX */
  /* queue workloads */
  qend qe;          /* the parent's end: it consumes */
  contestant *kids; /* the children: producers, then consumers */
  int nprod, ncons; /* (consumer children, beside the parent) */
  size_t size;      /* item size */
  uint64_t base;    /* each producer's first seq of the next sample */
};

static void round_robin(contestant *c, size_t n, size_t warm, size_t min,
                        size_t max) {
  size_t round, k;
  double t0;
  for (round = 0; round < warm; round++)
    for (k = 0; k < n; k++)
      c[k].sample(&c[k]);
  t0 = now();
  for (round = 0; round < min || (round < max && now() - t0 < g_secs * n);
       round++)
    for (k = 0; k < n; k++) {
      contestant *x = &c[(round + k) % n];
      add(&x->s, x->sample(x));
    }
  for (k = 0; k < n; k++)
    report(c[k].workload, c[k].impl, &c[k].s, c[k].unit);
}

/* ---- mproc side ------------------------------------------------------------ */

/* The parts of an mproc spawn_join sample: new+start, and join+free. */
static samples g_start_part, g_join_part;

static double mproc_spawn_sample(contestant *c) {
  mproc_process *p;
  double a = now(), b, e;
  (void)c;
  CHECK(mproc_process_new(&p, t_empty, NULL, NULL));
  CHECK(mproc_process_start(p));
  b = now();
  CHECK(mproc_process_join(p, MPROC_FOREVER));
  mproc_process_free(p);
  e = now();
  add(&g_start_part, (b - a) * 1e6);
  add(&g_join_part, (e - b) * 1e6);
  return (e - a) * 1e6;
}

/* Start target with args, whose first item is b: the child's end of the
 * pipe whose other end is c->conn (kept). */
static void mproc_start_with(contestant *c, mproc_target target,
                             mproc_conn *b, mproc_value *args) {
  if (!args)
    die("mproc_build", MPROC_ENOMEM);
  CHECK(mproc_process_new(&c->proc, target, args, NULL));
  CHECK(mproc_process_start(c->proc));
  mproc_conn_free(b); /* the child has its own copy now */
}

/* Start target with the child's end of a new duplex pipe; keep ours. */
static void mproc_setup(contestant *c, mproc_target target) {
  mproc_conn *b;
  CHECK(mproc_pipe(&c->conn, &b, 1));
  mproc_start_with(c, target, b, mproc_build("[C]", b));
}

static void mproc_teardown(contestant *c) {
  int code = -1;
  mproc_conn_free(c->conn); /* EOF: the child's loop ends */
  CHECK(mproc_process_join(c->proc, MPROC_FOREVER));
  CHECK(mproc_process_exitcode(c->proc, &code));
  if (code != 0) {
    fprintf(stderr, "mproc_bench: child exited with %d\n", code);
    bail();
  }
  mproc_process_free(c->proc);
  mproc_value_free(c->msg);
  free(c->buf);
}

static double mproc_rtt_value_sample(contestant *c) {
  double a = now();
  int i;
  for (i = 0; i < RTT_BATCH; i++) {
    mproc_value *back;
    CHECK(mproc_conn_send(c->conn, c->msg));
    CHECK(mproc_conn_recv(c->conn, &back));
    mproc_value_free(back);
  }
  return (now() - a) * 1e6 / RTT_BATCH;
}

static double mproc_rtt_bytes_sample(contestant *c) {
  unsigned char out[8] = {1, 2, 3, 4, 5, 6, 7, 8}, in[8];
  double a = now();
  int i;
  for (i = 0; i < RTT_BATCH; i++) {
    size_t n;
    CHECK(mproc_conn_send_bytes(c->conn, out, sizeof out));
    CHECK(mproc_conn_recv_bytes_into(c->conn, in, sizeof in, &n));
  }
  return (now() - a) * 1e6 / RTT_BATCH;
}

static double mproc_bw_sample(contestant *c) {
  uint32_t count = BW_BATCH, i;
  double a = now();
  CHECK(mproc_conn_send_bytes(c->conn, &count, 4));
  for (i = 0; i < count; i++) {
    size_t n;
    if (c->into) {
      CHECK(mproc_conn_recv_bytes_into(c->conn, c->buf, MSG_SIZE, &n));
    } else {
      void *m;
      CHECK(mproc_conn_recv_bytes(c->conn, &m, &n));
      mproc_free(m);
    }
    if (n != MSG_SIZE) {
      fputs("mproc_bench: short message\n", stderr);
      bail();
    }
  }
  return (double)count * (double)MSG_SIZE / (1 << 20) / (now() - a);
}

/* -- mproc sync -- */

/* The counter of a contended sample must be exact. */
static void check_counter(const contestant *c, long long got,
                          long long want) {
  if (got != want) {
    printf("ERROR %s %s: shared counter %lld, expected %lld\n", c->workload,
           c->impl, got, want);
    fflush(stdout);
    fprintf(stderr, "mproc_bench: %s %s: counter %lld, expected %lld\n",
            c->workload, c->impl, got, want);
    bail();
  }
}

static double mproc_lock_uncontended_sample(contestant *c) {
  mproc_lock *l = c->lock;
  uint32_t i;
  double a = now();
  for (i = 0; i < LOCK_BATCH; i++) {
    CHECK(mproc_lock_acquire(l, MPROC_FOREVER));
    CHECK(mproc_lock_release(l));
  }
  return (now() - a) * 1e9 / LOCK_BATCH;
}

/* Start the clock and send {n, spin}; returns the start time. */
static double mproc_go(contestant *c) {
  uint32_t cmd[2];
  double a = now();
  cmd[0] = c->n;
  cmd[1] = c->spin_k;
  CHECK(mproc_conn_send_bytes(c->conn, cmd, sizeof cmd));
  return a;
}

static void mproc_done(contestant *c) {
  char d;
  size_t n;
  CHECK(mproc_conn_recv_bytes_into(c->conn, &d, 1, &n));
}

static double mproc_lock_contended_sample(contestant *c) {
  mproc_lock *l = c->lock;
  long long *cnt = mproc_shared_data(c->shared);
  uint32_t i;
  double a, e;
  *cnt = 0;
  a = mproc_go(c);
  for (i = 0; i < c->n; i++) {
    CHECK(mproc_lock_acquire(l, MPROC_FOREVER));
    (*cnt)++;
    CHECK(mproc_lock_release(l));
    spin(c->spin_k);
  }
  mproc_done(c);
  e = now();
  check_counter(c, *cnt, 2LL * c->n);
  return (e - a) * 1e9 / (2.0 * c->n);
}

static double mproc_event_sample(contestant *c) {
  mproc_event *e1 = c->ev[0], *e2 = c->ev[1];
  uint32_t i;
  double a, e;
  a = mproc_go(c);
  for (i = 0; i < c->n; i++) {
    CHECK(mproc_event_set(e1));
    CHECK(mproc_event_wait(e2, MPROC_FOREVER));
    CHECK(mproc_event_clear(e2));
  }
  e = now();
  mproc_done(c);
  return (e - a) * 1e6 / (2.0 * c->n);
}

static void mproc_lock_setup(contestant *c) {
  mproc_conn *b;
  CHECK(mproc_lock_new(&c->lock));
  CHECK(mproc_shared_rawvalue(&c->shared, 'q', NULL));
  CHECK(mproc_pipe(&c->conn, &b, 1));
  mproc_start_with(c, t_lock_worker, b,
                   mproc_build("[COOi]", b, mproc_lock_ref(c->lock),
                               mproc_shared_ref(c->shared), g_cpu_child));
}

static void mproc_event_setup(contestant *c) {
  mproc_conn *b;
  CHECK(mproc_event_new(&c->ev[0]));
  CHECK(mproc_event_new(&c->ev[1]));
  CHECK(mproc_pipe(&c->conn, &b, 1));
  mproc_start_with(c, t_event_worker, b,
                   mproc_build("[COOi]", b, mproc_event_ref(c->ev[0]),
                               mproc_event_ref(c->ev[1]), g_cpu_child));
}

/* mproc_teardown (if a child runs) and the sync objects. */
static void mproc_sync_teardown(contestant *c) {
  if (c->proc)
    mproc_teardown(c);
  if (c->lock)
    mproc_lock_free(c->lock);
  if (c->shared)
    mproc_shared_free(c->shared);
  if (c->ev[0])
    mproc_event_free(c->ev[0]);
  if (c->ev[1])
    mproc_event_free(c->ev[1]);
}

/* ---- raw side (POSIX) -------------------------------------------------------- */

#if BENCH_RAW
static void self_path(char *buf, size_t cap) {
  ssize_t r = readlink("/proc/self/exe", buf, cap - 1);
  if (r < 0 || (size_t)r >= cap - 1) {
    perror("readlink(/proc/self/exe)");
    bail();
  }
  buf[r] = '\0';
}

static double raw_spawn_sample(contestant *c) {
  char *argv[3];
  pid_t pid;
  int st = 0, rc;
  double a = now(), b;
  argv[0] = (char *)c->path;
  argv[1] = (char *)c->mode;
  argv[2] = NULL;
  rc = posix_spawn(&pid, c->path, NULL, NULL, argv, environ);
  if (rc != 0) {
    fprintf(stderr, "posix_spawn(%s): %s\n", c->path, strerror(rc));
    bail();
  }
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  b = now();
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "mproc_bench: %s child failed (status %d)\n", c->impl,
            st);
    bail();
  }
  return (b - a) * 1e6;
}

static void rd(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 0)
        fputs("mproc_bench: the raw child has gone\n", stderr);
      else
        perror("read");
      bail();
    }
    p += r;
    n -= (size_t)r;
  }
}

/* 0 on EOF (or error), 1 when n bytes were read. */
static int rd_or_eof(int fd, void *buf, size_t n) {
  char *p = buf;
  size_t left = n;
  while (left > 0) {
    ssize_t r = read(fd, p, left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return 0;
    p += r;
    left -= (size_t)r;
  }
  return 1;
}

static void wr(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      perror("write");
      bail();
    }
    p += r;
    n -= (size_t)r;
  }
}

/* A forked child running fn(its end of a socketpair, arg); keep ours. */
static void raw_setup(contestant *c, void (*fn)(int, void *), void *arg) {
  int sv[2];
  pid_t pid;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    perror("socketpair");
    bail();
  }
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    perror("fork");
    bail();
  }
  if (pid == 0) {
    close(sv[0]);
    fn(sv[1], arg);
    _exit(0); /* never exit(): mproc's atexit handler is the parent's */
  }
  close(sv[1]);
  c->fd = sv[0];
  c->pid = (long)pid;
}

static void raw_teardown(contestant *c) {
  int st = 0;
  /* shutdown, not only close: a raw child forked later holds a copy of
   * this end, and close alone would not give this child its EOF. */
  shutdown(c->fd, SHUT_RDWR);
  close(c->fd);
  while (waitpid((pid_t)c->pid, &st, 0) < 0 && errno == EINTR)
    ;
  free(c->buf);
}

static void echo8(int fd, void *arg) {
  char b[8];
  (void)arg;
  while (rd_or_eof(fd, b, 8))
    wr(fd, b, 8);
}

static double raw_rtt_sample(contestant *c) {
  char out[8] = {1, 2, 3, 4, 5, 6, 7, 8}, in[8];
  double a = now();
  int i;
  for (i = 0; i < RTT_BATCH; i++) {
    wr(c->fd, out, 8);
    rd(c->fd, in, 8);
  }
  return (now() - a) * 1e6 / RTT_BATCH;
}

/* A forked child echoing 8-byte messages from one pipe into another. */
static void raw_pipe_setup(contestant *c) {
  int down[2], up[2];
  pid_t pid;
  char b[8];
  if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0) {
    perror("pipe2");
    bail();
  }
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    perror("fork");
    bail();
  }
  if (pid == 0) {
    close(down[1]);
    close(up[0]);
    while (rd_or_eof(down[0], b, 8))
      wr(up[1], b, 8);
    _exit(0);
  }
  close(down[0]);
  close(up[1]);
  c->fd = up[0];
  c->wfd = down[1];
  c->pid = (long)pid;
}

static double raw_pipe_rtt_sample(contestant *c) {
  char out[8] = {1, 2, 3, 4, 5, 6, 7, 8}, in[8];
  double a = now();
  int i;
  for (i = 0; i < RTT_BATCH; i++) {
    wr(c->wfd, out, 8);
    rd(c->fd, in, 8);
  }
  return (now() - a) * 1e6 / RTT_BATCH;
}

static void raw_pipe_teardown(contestant *c) {
  int st = 0;
  close(c->wfd); /* EOF: the child's loop ends */
  close(c->fd);
  while (waitpid((pid_t)c->pid, &st, 0) < 0 && errno == EINTR)
    ;
}

static void bw_writer(int fd, void *arg) {
  char *buf = malloc(MSG_SIZE);
  uint32_t count, i;
  (void)arg;
  if (!buf)
    _exit(2);
  memset(buf, 'x', MSG_SIZE);
  while (rd_or_eof(fd, &count, 4))
    for (i = 0; i < count; i++)
      wr(fd, buf, MSG_SIZE);
  free(buf);
}

static double raw_bw_sample(contestant *c) {
  uint32_t count = BW_BATCH, i;
  double a = now();
  wr(c->fd, &count, 4);
  for (i = 0; i < count; i++)
    rd(c->fd, c->buf, MSG_SIZE);
  return (double)count * (double)MSG_SIZE / (1 << 20) / (now() - a);
}

/* -- raw sync: sem_t and a robust mutex in a MAP_SHARED|MAP_ANONYMOUS
 * page (mapped before the fork, so the child shares it) -- */

enum { RAW_SEM, RAW_MUTEX };

/* One cache line each, as mproc's objects (one block each) do not share
 * lines either. */
typedef struct raw_sync {
  _Alignas(64) sem_t sem;            /* the sem_t lock, value 1 */
  _Alignas(64) pthread_mutex_t mu;   /* robust, process-shared */
  _Alignas(64) sem_t ev1;            /* event ping-pong: A posts, B waits */
  _Alignas(64) sem_t ev2;            /* B posts, A waits */
  _Alignas(64) long long counter;    /* the contended workloads' counter */
} raw_sync;

static void raw_fail(const char *what, int err) {
  fprintf(stderr, "mproc_bench: %s: %s\n", what, strerror(err));
  bail();
}

static raw_sync *raw_sync_new(void) {
  pthread_mutexattr_t at;
  raw_sync *r = mmap(NULL, sizeof(raw_sync), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int e;
  if (r == MAP_FAILED)
    raw_fail("mmap", errno);
  if (sem_init(&r->sem, 1, 1) != 0 || sem_init(&r->ev1, 1, 0) != 0 ||
      sem_init(&r->ev2, 1, 0) != 0)
    raw_fail("sem_init", errno);
  if ((e = pthread_mutexattr_init(&at)) != 0 ||
      (e = pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED)) != 0 ||
      (e = pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST)) != 0 ||
      (e = pthread_mutex_init(&r->mu, &at)) != 0)
    raw_fail("pthread_mutex_init", e);
  pthread_mutexattr_destroy(&at);
  r->counter = 0;
  return r;
}

static void raw_sync_free(raw_sync *r) {
  sem_destroy(&r->sem);
  sem_destroy(&r->ev1);
  sem_destroy(&r->ev2);
  pthread_mutex_destroy(&r->mu);
  munmap(r, sizeof(raw_sync));
}

static void raw_sem_wait(sem_t *s) {
  while (sem_wait(s) != 0)
    if (errno != EINTR)
      raw_fail("sem_wait", errno);
}

static void raw_sem_post(sem_t *s) {
  if (sem_post(s) != 0)
    raw_fail("sem_post", errno);
}

static void raw_mutex_lock(pthread_mutex_t *m) {
  int e = pthread_mutex_lock(m);
  if (e != 0)
    raw_fail("pthread_mutex_lock", e); /* EOWNERDEAD: nobody dies here */
}

static void raw_mutex_unlock(pthread_mutex_t *m) {
  int e = pthread_mutex_unlock(m);
  if (e != 0)
    raw_fail("pthread_mutex_unlock", e);
}

/* n acquire / increment / release / spin pairs. */
static void raw_lock_loop(raw_sync *r, int kind, uint32_t n, unsigned k) {
  uint32_t i;
  if (kind == RAW_SEM) {
    for (i = 0; i < n; i++) {
      raw_sem_wait(&r->sem);
      r->counter++;
      raw_sem_post(&r->sem);
      spin(k);
    }
  } else {
    for (i = 0; i < n; i++) {
      raw_mutex_lock(&r->mu);
      r->counter++;
      raw_mutex_unlock(&r->mu);
      spin(k);
    }
  }
}

/* The forked child of the raw lock workloads: commands {kind, n, spin}. */
static void raw_lock_worker(int fd, void *arg) {
  uint32_t cmd[3];
  pin_self(g_cpu_child);
  while (rd_or_eof(fd, cmd, sizeof cmd)) {
    raw_lock_loop(arg, (int)cmd[0], cmd[1], cmd[2]);
    wr(fd, "d", 1);
  }
}

/* The forked child of the raw event ping-pong: {kind, n, spin}, n used. */
static void raw_event_worker(int fd, void *arg) {
  raw_sync *r = arg;
  uint32_t cmd[3], i;
  pin_self(g_cpu_child);
  while (rd_or_eof(fd, cmd, sizeof cmd)) {
    for (i = 0; i < cmd[1]; i++) {
      raw_sem_wait(&r->ev1);
      raw_sem_post(&r->ev2);
    }
    wr(fd, "d", 1);
  }
}

/* Start the clock and send {kind, n, spin}; returns the start time. */
static double raw_go(contestant *c) {
  uint32_t cmd[3];
  double a = now();
  cmd[0] = (uint32_t)c->kind;
  cmd[1] = c->n;
  cmd[2] = c->spin_k;
  wr(c->fd, cmd, sizeof cmd);
  return a;
}

static double raw_sem_uncontended_sample(contestant *c) {
  raw_sync *r = c->page;
  uint32_t i;
  double a = now();
  for (i = 0; i < LOCK_BATCH; i++) {
    raw_sem_wait(&r->sem);
    raw_sem_post(&r->sem);
  }
  return (now() - a) * 1e9 / LOCK_BATCH;
}

static double raw_mutex_uncontended_sample(contestant *c) {
  raw_sync *r = c->page;
  uint32_t i;
  double a = now();
  for (i = 0; i < LOCK_BATCH; i++) {
    raw_mutex_lock(&r->mu);
    raw_mutex_unlock(&r->mu);
  }
  return (now() - a) * 1e9 / LOCK_BATCH;
}

static double raw_lock_contended_sample(contestant *c) {
  raw_sync *r = c->page;
  char b;
  double a, e;
  r->counter = 0;
  a = raw_go(c);
  raw_lock_loop(r, c->kind, c->n, c->spin_k);
  rd(c->fd, &b, 1);
  e = now();
  check_counter(c, r->counter, 2LL * c->n);
  return (e - a) * 1e9 / (2.0 * c->n);
}

static double raw_event_sample(contestant *c) {
  raw_sync *r = c->page;
  uint32_t i;
  char b;
  double a, e;
  a = raw_go(c);
  for (i = 0; i < c->n; i++) {
    raw_sem_post(&r->ev1);
    raw_sem_wait(&r->ev2);
  }
  e = now();
  rd(c->fd, &b, 1);
  return (e - a) * 1e6 / (2.0 * c->n);
}

/* Close the raw child (if any) and unmap the page. */
static void raw_sync_teardown(contestant *c) {
  if (c->pid)
    raw_teardown(c);
  raw_sync_free(c->page);
}

/* -- raw queue children: forked with a copy of a qraw; commands {n, size}
 * on the socketpair, as the mproc children's -- */

typedef struct qraw {
  qend e; /* kind QK_RING (the ring) or QK_PIPE (fd: the pipe's end) */
  int who, cpu, consumer;
} qraw;

static void raw_q_child(int fd, void *arg) {
  qraw *a = arg;
  uint32_t cmd[2];
  uint64_t seq = 0;
  qstats st;
  pin_self(a->cpu);
  a->e.buf = q_buffer();
  while (rd_or_eof(fd, cmd, sizeof cmd)) {
    if (a->consumer) {
      q_consume(&a->e, cmd[1], &st);
      wr(fd, &st, sizeof st);
    } else {
      q_produce(&a->e, (uint64_t)a->who, &seq, cmd[0], cmd[1]);
    }
  }
  free(a->e.buf);
}

static void default_tiny(char *buf, size_t cap) {
  char *slash;
  self_path(buf, cap);
  slash = strrchr(buf, '/');
  if (!slash || (size_t)(slash - buf) + sizeof "/bench_tiny" > cap) {
    fputs("mproc_bench: cannot find bench_tiny; use --tiny\n", stderr);
    bail();
  }
  strcpy(slash, "/bench_tiny");
}
#endif /* BENCH_RAW */

/* ---- the workloads ------------------------------------------------------------ */

static unsigned char *msg_buffer(void) {
  unsigned char *b = malloc(MSG_SIZE);
  if (!b)
    die("malloc", MPROC_ENOMEM);
  memset(b, 0, MSG_SIZE); /* fault the pages in before timing */
  return b;
}

static void bench_spawn(void) {
  contestant c[4];
  size_t n = 0;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  static char self[PATH_MAX], tiny[PATH_MAX];
  self_path(self, sizeof self);
  if (!g_tiny) {
    default_tiny(tiny, sizeof tiny);
    g_tiny = tiny;
  }
  if (g_raw) {
    c[n].impl = "raw_tiny";
    c[n].path = g_tiny;
    c[n++].sample = raw_spawn_sample;
    c[n].impl = "raw_self";
    c[n].path = self;
    c[n].mode = "--exit-now";
    c[n++].sample = raw_spawn_sample;
    c[n].impl = "raw_self_init";
    c[n].path = self;
    c[n].mode = "--init-exit";
    c[n++].sample = raw_spawn_sample;
  }
#endif
  if (g_mproc) {
    c[n].impl = "mproc";
    c[n++].sample = mproc_spawn_sample;
  }
  {
    size_t k;
    for (k = 0; k < n; k++) {
      c[k].workload = "spawn_join";
      c[k].unit = "us";
    }
  }
  round_robin(c, n, 3, 10, 5000);
  if (g_mproc) {
    /* Where an mproc sample's time goes (warm-up samples included). */
    report("spawn_join", "mproc.start", &g_start_part, "us");
    report("spawn_join", "mproc.join", &g_join_part, "us");
  }
}

static void bench_rtt(void) {
  contestant c[4];
  size_t n = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    c[n].workload = "rtt";
    c[n].impl = "raw";
    raw_setup(&c[n], echo8, NULL);
    c[n++].sample = raw_rtt_sample;
    c[n].workload = "rtt";
    c[n].impl = "raw_pipe";
    raw_pipe_setup(&c[n]);
    c[n++].sample = raw_pipe_rtt_sample;
  }
#endif
  if (g_mproc && wanted("rtt_value", "rtt")) {
    c[n].workload = "rtt_value";
    c[n].impl = "mproc";
    mproc_setup(&c[n], t_echo_value);
    c[n].msg = mproc_build("[sis]", "spam", 42, "egg");
    if (!c[n].msg)
      die("mproc_build", MPROC_ENOMEM);
    c[n++].sample = mproc_rtt_value_sample;
  }
  if (g_mproc && wanted("rtt_bytes8", "rtt")) {
    c[n].workload = "rtt_bytes8";
    c[n].impl = "mproc";
    mproc_setup(&c[n], t_echo_bytes);
    c[n++].sample = mproc_rtt_bytes_sample;
  }
  for (k = 0; k < n; k++)
    c[k].unit = "us";
  round_robin(c, n, 1, 5, 100000);
  for (k = 0; k < n; k++) {
    if (c[k].msg) {
      /* The echo must be the same value. */
      mproc_value *back;
      CHECK(mproc_conn_send(c[k].conn, c[k].msg));
      CHECK(mproc_conn_recv(c[k].conn, &back));
      if (!mproc_value_equal(c[k].msg, back)) {
        fputs("mproc_bench: echo differs\n", stderr);
        bail();
      }
      mproc_value_free(back);
    }
#if BENCH_RAW
    if (c[k].sample == raw_rtt_sample) {
      raw_teardown(&c[k]);
      continue;
    }
    if (c[k].sample == raw_pipe_rtt_sample) {
      raw_pipe_teardown(&c[k]);
      continue;
    }
#endif
    mproc_teardown(&c[k]);
  }
}

static void bench_bw(void) {
  contestant c[3];
  size_t n = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    c[n].workload = "bw";
    c[n].impl = "raw";
    raw_setup(&c[n], bw_writer, NULL);
    c[n].buf = msg_buffer();
    c[n++].sample = raw_bw_sample;
  }
#endif
  for (k = 0; g_mproc && k < 2; k++) {
    if (wanted(k == 0 ? "bw_into" : "bw_alloc", "bw")) {
      c[n].workload = k == 0 ? "bw_into" : "bw_alloc";
      c[n].impl = "mproc";
      c[n].into = k == 0;
      mproc_setup(&c[n], t_bw_sender);
      c[n].buf = msg_buffer();
      c[n++].sample = mproc_bw_sample;
    }
  }
  for (k = 0; k < n; k++)
    c[k].unit = "MiB/s";
  round_robin(c, n, 1, 5, 100000);
  for (k = 0; k < n; k++) {
#if BENCH_RAW
    if (c[k].sample == raw_bw_sample) {
      raw_teardown(&c[k]);
      continue;
    }
#endif
    mproc_teardown(&c[k]);
  }
}

static void sync_teardown(contestant *c, size_t n) {
  size_t k;
  for (k = 0; k < n; k++) {
#if BENCH_RAW
    if (c[k].page) {
      raw_sync_teardown(&c[k]);
      continue;
    }
#endif
    mproc_sync_teardown(&c[k]);
  }
}

static void bench_lock_uncontended(void) {
  contestant c[3];
  size_t n = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    c[n].impl = "raw_sem";
    c[n].page = raw_sync_new();
    c[n++].sample = raw_sem_uncontended_sample;
    c[n].impl = "raw_mutex";
    c[n].page = raw_sync_new();
    c[n++].sample = raw_mutex_uncontended_sample;
  }
#endif
  if (g_mproc) {
    c[n].impl = "mproc";
    CHECK(mproc_lock_new(&c[n].lock));
    c[n++].sample = mproc_lock_uncontended_sample;
  }
  for (k = 0; k < n; k++) {
    c[k].workload = "lock_uncontended";
    c[k].unit = "ns";
  }
  round_robin(c, n, 2, 5, 100000);
  sync_teardown(c, n);
}

/* lock_contended (spin 0) or lock_handoff: the parent and one child. */
static void bench_lock_two(const char *workload, uint32_t pairs,
                           unsigned spin_k) {
  contestant c[3];
  size_t n = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    for (k = 0; k < 2; k++) {
      c[n].impl = k == 0 ? "raw_sem" : "raw_mutex";
      c[n].kind = k == 0 ? RAW_SEM : RAW_MUTEX;
      c[n].page = raw_sync_new();
      raw_setup(&c[n], raw_lock_worker, c[n].page);
      c[n++].sample = raw_lock_contended_sample;
    }
  }
#endif
  if (g_mproc) {
    c[n].impl = "mproc";
    mproc_lock_setup(&c[n]);
    c[n++].sample = mproc_lock_contended_sample;
  }
  for (k = 0; k < n; k++) {
    c[k].workload = workload;
    c[k].unit = "ns";
    c[k].n = pairs;
    c[k].spin_k = spin_k;
  }
  round_robin(c, n, 2, 5, 100000);
  sync_teardown(c, n);
}

static void bench_event(void) {
  contestant c[2];
  size_t n = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    c[n].impl = "raw_sem";
    c[n].page = raw_sync_new();
    raw_setup(&c[n], raw_event_worker, c[n].page);
    c[n++].sample = raw_event_sample;
  }
#endif
  if (g_mproc) {
    c[n].impl = "mproc";
    mproc_event_setup(&c[n]);
    c[n++].sample = mproc_event_sample;
  }
  for (k = 0; k < n; k++) {
    c[k].workload = "event_pingpong";
    c[k].unit = "us";
    c[k].n = EVENT_BATCH;
  }
  round_robin(c, n, 2, 5, 100000);
  sync_teardown(c, n);
}

/* -- queues -- */

static int q_is_mproc(const contestant *c) {
  return c->qe.kind == QK_MPROC || c->qe.kind == QK_MPROC_VALUE;
}

/* Send a command to a child of a queue workload / read its answer. */
static void q_send(const contestant *c, contestant *kid, const void *p,
                   size_t n) {
  if (q_is_mproc(c)) {
    CHECK(mproc_conn_send_bytes(kid->conn, p, n));
    return;
  }
#if BENCH_RAW
  wr(kid->fd, p, n);
#endif
}

static void q_recv(const contestant *c, contestant *kid, void *p, size_t n) {
  size_t got = n;
  if (q_is_mproc(c)) {
    CHECK(mproc_conn_recv_bytes_into(kid->conn, p, n, &got));
  } else {
#if BENCH_RAW
    rd(kid->fd, p, n);
#endif
  }
  if (got != n) {
    fputs("mproc_bench: short answer from a consumer\n", stderr);
    bail();
  }
}

/* Every item of the sample exactly once: count, sum and sum of squares
 * of the ids the producers put, no item of a wrong length or order. */
static void q_verify(const contestant *c, const qstats *st) {
  uint64_t sum = 0, sq = 0, id, want = (uint64_t)c->nprod * c->n;
  uint64_t p, s;
  for (p = 0; p < (uint64_t)c->nprod; p++)
    for (s = c->base; s < c->base + c->n; s++) {
      id = p << 48 | s;
      sum += id;
      sq += id * id;
    }
  if (st->count != want || st->sum != sum || st->sumsq != sq || st->bad) {
    printf("ERROR %s %s: %llu items (expected %llu), checksum %s, %llu of "
           "a wrong length or order\n",
           c->workload, c->impl, (unsigned long long)st->count,
           (unsigned long long)want,
           st->sum == sum && st->sumsq == sq ? "ok" : "WRONG",
           (unsigned long long)st->bad);
    fflush(stdout);
    fprintf(stderr, "mproc_bench: %s %s: items lost, duplicated or "
                    "damaged\n", c->workload, c->impl);
    bail();
  }
}

/* One sample: the producers put n items each (+ a marker), the parent and
 * the consumer children take them; from the first command to the last
 * consumer's answer.  M items/s, or MiB/s for big items. */
static double queue_sample(contestant *c) {
  uint32_t cmd[2];
  qstats st, ks;
  double a, e, items = (double)c->nprod * c->n;
  int k, nk = c->nprod + c->ncons;
  cmd[0] = c->n;
  cmd[1] = (uint32_t)c->size;
  a = now();
  for (k = 0; k < nk; k++)
    q_send(c, &c->kids[k], cmd, sizeof cmd);
  q_consume(&c->qe, c->size, &st);
  for (k = c->nprod; k < nk; k++) {
    q_recv(c, &c->kids[k], &ks, sizeof ks);
    st.count += ks.count;
    st.sum += ks.sum;
    st.sumsq += ks.sumsq;
    st.bad += ks.bad;
  }
  e = now();
  q_verify(c, &st);
  c->base += c->n;
  if (c->size > Q_SMALL)
    return items * (double)c->size / (1 << 20) / (e - a);
  return items / (e - a) * 1e-6;
}

/*
 * CPUs of the queue children (pinned modes): the producers on the child
 * CPU, the consumers (the parent and, 2->2, the consumer child) on the
 * parent's.  2->2 has four busy processes on this VM's two CPUs, so the
 * placement matters (docs/bench.md gives the other placements' numbers).
 */
static int q_cpu(int k, int nprod) {
  return k < nprod ? g_cpu_child : g_cpu_parent;
}

static void q_setup(contestant *c, int kind, int nprod, int ncons,
                    size_t size, uint32_t n) {
  int k, nk = nprod + ncons;
  c->nprod = nprod;
  c->ncons = ncons;
  c->size = size;
  c->n = n;
  c->qe.kind = kind;
  c->qe.buf = q_buffer();
  c->kids = calloc((size_t)nk, sizeof *c->kids);
  if (!c->kids)
    die("calloc", MPROC_ENOMEM);
  if (kind == QK_MPROC || kind == QK_MPROC_VALUE) {
    CHECK(mproc_queue_new(&c->qe.q, 0));
    for (k = 0; k < nk; k++) {
      mproc_conn *b;
      CHECK(mproc_pipe(&c->kids[k].conn, &b, 1));
      mproc_start_with(&c->kids[k], k < nprod ? t_q_producer : t_q_consumer,
                       b,
                       mproc_build("[COiii]", b, mproc_queue_ref(c->qe.q),
                                   q_cpu(k, nprod), k, kind));
    }
    return;
  }
#if BENCH_RAW
  {
    int fds[2] = {-1, -1};
    qraw arg;
    if (kind == QK_RING) {
      void *m = mmap(NULL, sizeof(rring), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED)
        raw_fail("mmap", errno);
      c->qe.ring = m; /* zeroed: empty, nobody asleep */
    } else if (pipe2(fds, O_CLOEXEC) != 0) {
      raw_fail("pipe2", errno);
    }
    for (k = 0; k < nk; k++) {
      memset(&arg, 0, sizeof arg);
      arg.e.kind = kind;
      arg.e.ring = c->qe.ring;
      arg.e.fd = k < nprod ? fds[1] : fds[0];
      arg.who = k;
      arg.cpu = q_cpu(k, nprod);
      arg.consumer = k >= nprod;
      raw_setup(&c->kids[k], raw_q_child, &arg);
    }
    if (kind == QK_PIPE) {
      close(fds[1]);
      c->qe.fd = fds[0];
    }
  }
#endif
}

static void q_teardown(contestant *c) {
  int k;
  for (k = 0; k < c->nprod + c->ncons; k++) {
    if (q_is_mproc(c)) {
      mproc_teardown(&c->kids[k]);
      continue;
    }
#if BENCH_RAW
    raw_teardown(&c->kids[k]);
#endif
  }
  free(c->kids);
  free(c->qe.buf);
  if (c->qe.q)
    mproc_queue_free(c->qe.q);
#if BENCH_RAW
  if (c->qe.ring)
    munmap(c->qe.ring, sizeof(rring));
  if (c->qe.kind == QK_PIPE)
    close(c->qe.fd);
#endif
}

/* A queue workload: raw first (forked children must not hold copies of
 * the mproc children's pipe ends), then mproc. */
static void bench_queue(const char *workload, int nprod, int ncons,
                        size_t size, uint32_t n) {
  contestant c[4];
  size_t m = 0, k;
  memset(c, 0, sizeof c);
#if BENCH_RAW
  if (g_raw) {
    if (nprod == 1) {
      c[m].impl = "raw_ring";
      q_setup(&c[m++], QK_RING, nprod, ncons, size, n);
    }
    c[m].impl = "raw_pipe";
    q_setup(&c[m++], QK_PIPE, nprod, ncons, size, n);
  }
#endif
  if (g_mproc) {
    c[m].impl = "mproc";
    q_setup(&c[m++], QK_MPROC, nprod, ncons, size, n);
    if (size == Q_SMALL) {
      c[m].impl = "mproc_value";
      q_setup(&c[m++], QK_MPROC_VALUE, nprod, ncons, size, n);
    }
  }
  for (k = 0; k < m; k++) {
    c[k].workload = workload;
    c[k].unit = size > Q_SMALL ? "MiB/s" : "Mitem/s";
    c[k].sample = queue_sample;
  }
  round_robin(c, m, 2, 5, 100000);
  for (k = 0; k < m; k++)
    q_teardown(&c[k]);
}

/*
 * Before the sync and queue workloads (on = 1): choose the CPUs for
 * --pin and pin this process (its children pin themselves); after them
 * (on = 0): back to the CPUs it had.  On this 2-vCPU VM, unpinned, the
 * event ping-pong
 * is bimodal (~2 us when both ends share a CPU, ~6 us across CPUs) and
 * whichever implementation's child happened to share the parent's CPU
 * won; pinning makes the implementations meet the same placement.
 */
static void pin_sync_section(int on) {
#if BENCH_RAW
  static cpu_set_t saved;
  static int have_saved;
  int cpus[2] = {-1, -1}, k = 0, i;
  if (!on) {
    if (have_saved && sched_setaffinity(0, sizeof saved, &saved) != 0)
      perror("sched_setaffinity");
    have_saved = 0;
    return;
  }
  if (g_pin == PIN_NONE || sched_getaffinity(0, sizeof saved, &saved) != 0)
    return;
  for (i = 0; i < CPU_SETSIZE && k < 2; i++)
    if (CPU_ISSET(i, &saved))
      cpus[k++] = i;
  if (k < (g_pin == PIN_SPLIT ? 2 : 1)) {
    puts("INFO pin: not enough CPUs; sync workloads not pinned");
    return;
  }
  have_saved = 1;
  g_cpu_parent = cpus[0];
  g_cpu_child = g_pin == PIN_SPLIT ? cpus[1] : cpus[0];
  printf("INFO pin %s: parent on cpu %d, child on cpu %d\n",
         g_pin == PIN_SPLIT ? "split" : "same", g_cpu_parent, g_cpu_child);
  fflush(stdout);
  pin_self(g_cpu_parent);
#else
  (void)on;
  (void)g_cpu_parent;
#endif
}

/* ---- codec ------------------------------------------------------------------ */

static void codec_pair(const mproc_value *v) {
  void *buf = NULL;
  size_t len = 0;
  mproc_value *out = NULL;
  int rc = mproc_encode(v, &buf, &len);
  if (rc)
    die("mproc_encode", rc);
  rc = mproc_decode(buf, len, &out);
  if (rc)
    die("mproc_decode", rc);
  mproc_free(buf);
  mproc_value_free(out);
}

/* Median time of batch encode+decode pairs of v, in unit (scale per s). */
static void bench_codec_one(const char *workload, const mproc_value *v,
                            unsigned batch, double scale, const char *unit) {
  samples s = {NULL, 0, 0};
  double t0 = now(), t;
  unsigned k;
  for (k = 0; k < batch; k++) /* warm-up */
    codec_pair(v);
  while (now() - t0 < g_secs || s.n < 5) {
    t = now();
    for (k = 0; k < batch; k++)
      codec_pair(v);
    add(&s, (now() - t) * scale / batch);
  }
  report(workload, "mproc", &s, unit);
}

/* The inverse of mproc's old key hash (splitmix64's finalizer): keys whose
 * old hashes are k << 32 all shared one index slot. */
static int64_t crafted_key(uint64_t k) {
  uint64_t x = (k + 1) << 32;
  x ^= (x >> 31) ^ (x >> 62);
  x *= 0x319642b2d24d8ec3ULL;
  x ^= (x >> 27) ^ (x >> 54);
  x *= 0x96de1b173f119089ULL;
  x ^= (x >> 30) ^ (x >> 60);
  return (int64_t)x;
}

/* A message of int keys (each to None) of about mb MB. */
static void keys_message(int crafted, size_t mb, void **buf, size_t *len) {
  mproc_value *d = mproc_dict();
  size_t n = mb * 1000000 / 10, i; /* 9-byte int keys and None */
  int rc;
  for (i = 0; i < n; i++) {
    int64_t k = crafted ? crafted_key(i) : (int64_t)i + ((int64_t)1 << 40);
    rc = mproc_dict_set(d, mproc_int(k), mproc_none());
    if (rc)
      die("mproc_dict_set", rc);
  }
  rc = mproc_encode(d, buf, len);
  if (rc)
    die("mproc_encode", rc);
  mproc_value_free(d);
}

static void bench_decode_keys(void) {
  static const char *const names[2] = {"decode_keys_1mb", "decode_keys_2mb"};
  double med[2][2] = {{0, 0}, {0, 0}};
  int crafted, m;
  for (m = 0; m < 2; m++)
    for (crafted = 1; crafted >= 0; crafted--) {
      samples s = {NULL, 0, 0};
      void *buf = NULL;
      size_t len = 0;
      double t0 = now(), t;
      keys_message(crafted, (size_t)m + 1, &buf, &len);
      while ((now() - t0 < g_secs || s.n < 3) && s.n < 1000) {
        mproc_value *out = NULL;
        int rc;
        t = now();
        rc = mproc_decode(buf, len, &out);
        if (rc)
          die("mproc_decode", rc);
        add(&s, (now() - t) * 1e3);
        mproc_value_free(out);
      }
      qsort(s.v, s.n, sizeof *s.v, cmp_double);
      med[m][crafted] = s.v[s.n / 2];
      report(names[m], crafted ? "crafted" : "ordinary", &s, "ms");
      mproc_free(buf);
    }
  printf("INFO decode_keys crafted/ordinary 1mb %.2f 2mb %.2f; 2mb/1mb "
         "crafted %.2f ordinary %.2f (linear: ~1 and ~2)\n",
         med[0][1] / med[0][0], med[1][1] / med[1][0], med[1][1] / med[0][1],
         med[1][0] / med[0][0]);
}

static void bench_codec(void) {
  unsigned char b64[64];
  mproc_value *v;
  int i, rc;
  memset(b64, 'x', sizeof b64);
  if (wanted("codec_bytes64", "codec")) {
    v = mproc_bytes(b64, sizeof b64);
    bench_codec_one("codec_bytes64", v, 100000, 1e9, "ns");
    mproc_value_free(v);
  }
  if (wanted("codec_ints1000", "codec")) {
    v = mproc_list();
    for (i = 0; i < 1000; i++)
      if ((rc = mproc_list_append(v, mproc_int(i))) != 0)
        die("mproc_list_append", rc);
    bench_codec_one("codec_ints1000", v, 1000, 1e6, "us");
    mproc_value_free(v);
  }
  if (wanted("decode_keys_1mb", "codec") || wanted("decode_keys_2mb", "codec"))
    bench_decode_keys();
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
  fputs("usage: mproc_bench [--secs S] "
        "[--only spawn,rtt,bw,lock,event,queue,codec,...] "
        "[--impl mproc,raw] [--pin split|same|none] [--tiny PATH]\n",
        stderr);
  exit(2);
}

/* queue_burst_64k (see the header): one sample per burst. */
static void bench_queue_burst(void) {
  samples s;
  unsigned char *buf = malloc(Q_BIG);
  double t0 = now(), t;
  int round, i;
  memset(&s, 0, sizeof s);
  if (!buf)
    die("malloc", MPROC_ENOMEM);
  memset(buf, 0xab, Q_BIG);
  for (round = 0; round < 3 || (round < 1000 && now() - t0 < g_secs);
       round++) {
    mproc_queue *q;
    t = now();
    CHECK(mproc_queue_new(&q, 0));
    for (i = 0; i < Q_BURST_N; i++) {
      uint64_t id = (uint64_t)i;
      memcpy(buf, &id, sizeof id);
      CHECK(mproc_queue_put_bytes(q, buf, Q_BIG, 0));
    }
    for (i = 0; i < Q_BURST_N; i++) {
      void *p = NULL;
      size_t n = 0;
      uint64_t id = ~(uint64_t)0;
      CHECK(mproc_queue_get_bytes(q, &p, &n, 0));
      if (n == Q_BIG)
        memcpy(&id, p, sizeof id);
      mproc_free(p);
      if (id != (uint64_t)i) {
        printf("ERROR queue_burst_64k mproc: item %d of %lu bytes, id %llu\n",
               i, (unsigned long)n, (unsigned long long)id);
        bail();
      }
    }
    mproc_queue_free(q);
    if (round > 0) /* the first is a warm-up */
      add(&s, (double)Q_BURST_N * Q_BIG / (1 << 20) / (now() - t));
  }
  report("queue_burst_64k", "mproc", &s, "MiB/s");
  free(buf);
}

int main(int argc, char **argv) {
  int i, rc;
  /* The raw spawn baseline's modes: exec + dynamic loading only, and that
   * plus mproc's runtime set-up (no protocol). */
  if (argc == 2 && strcmp(argv[1], "--exit-now") == 0)
    return 0;
  rc = mproc_init(argc, argv);
  if (rc)
    die("mproc_init", rc);
  if (argc == 2 && strcmp(argv[1], "--init-exit") == 0)
    return 0;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--secs") == 0 && v) {
      g_secs = atof(v);
      i++;
    } else if (strcmp(a, "--only") == 0 && v) {
      g_only = v;
      i++;
    } else if (strcmp(a, "--impl") == 0 && v) {
      g_mproc = strstr(v, "mproc") != NULL;
      g_raw = strstr(v, "raw") != NULL;
      i++;
    } else if (strcmp(a, "--pin") == 0 && v) {
      if (strcmp(v, "split") == 0)
        g_pin = PIN_SPLIT;
      else if (strcmp(v, "same") == 0)
        g_pin = PIN_SAME;
      else if (strcmp(v, "none") == 0)
        g_pin = PIN_NONE;
      else
        usage();
      i++;
    } else if (strcmp(a, "--tiny") == 0 && v) {
      g_tiny = v;
      i++;
    } else {
      usage();
    }
  }
  if (g_secs <= 0)
    usage();

  printf("INFO cpus %d\n", mproc_cpu_count());
#if !BENCH_RAW
  (void)g_tiny;
  if (g_raw)
    puts("INFO raw baselines are POSIX-only");
#endif
  if (wanted("spawn_join", "spawn"))
    bench_spawn();
  if (wanted("rtt_value", "rtt") || wanted("rtt_bytes8", "rtt"))
    bench_rtt();
  if (wanted("bw_into", "bw") || wanted("bw_alloc", "bw"))
    bench_bw();
  if (wanted_sync("lock_uncontended", "lock") ||
      wanted_sync("lock_contended", "lock") ||
      wanted_sync("lock_handoff", "lock") ||
      wanted_sync("event_pingpong", "event") ||
      wanted("queue_1to1_64", "queue") || wanted("queue_2to2_64", "queue") ||
      wanted("queue_1to1_64k", "queue"))
    pin_sync_section(1);
  if (wanted_sync("lock_uncontended", "lock"))
    bench_lock_uncontended();
  if (wanted_sync("lock_contended", "lock"))
    bench_lock_two("lock_contended", CONTEND_N, 0);
  if (wanted_sync("lock_handoff", "lock")) {
    unsigned k = spin_iters(HANDOFF_NS);
    printf("INFO lock_handoff spin %u iterations = %.0f ns outside the lock\n",
           k, HANDOFF_NS);
    bench_lock_two("lock_handoff", HANDOFF_N, k);
  }
  if (wanted_sync("event_pingpong", "event"))
    bench_event();
  if (wanted("queue_1to1_64", "queue"))
    bench_queue("queue_1to1_64", 1, 0, Q_SMALL, Q_SMALL_N);
  if (wanted("queue_2to2_64", "queue"))
    bench_queue("queue_2to2_64", 2, 1, Q_SMALL, Q_PAIR_N);
  if (wanted("queue_1to1_64k", "queue"))
    bench_queue("queue_1to1_64k", 1, 0, Q_BIG, Q_BIG_N);
  if (g_mproc && wanted("queue_burst_64k", "queue"))
    bench_queue_burst();
  pin_sync_section(0);
  if (wanted("codec_bytes64", "codec") || wanted("codec_ints1000", "codec") ||
      wanted("decode_keys_1mb", "codec") || wanted("decode_keys_2mb", "codec"))
    bench_codec();
  return 0;
}
