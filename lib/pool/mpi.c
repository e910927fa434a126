/*
 * mpi.c - the pool's MPI backend (built with MPROC_WITH_MPI; nompi.c
 * stands in otherwise).  docs/mpi.md has the user's view.
 *
 * Map:
 *  - boot (mproc_init's hook): under mpiexec, X.Init_thread(SERIALIZED)
 *    on a private communicator; every rank hashes its executable
 *    (crypto_generichash) and rank 0 gathers the hashes: a rank whose
 *    binary differs is refused (it says so and idles until the job ends).
 *    Rank 0 returns into main(); ranks 1..N run rank_main and never return.
 *  - rank side (rank_main): sessions.  A session is one pool's worker on
 *    this rank: D_SESSION runs the initializer and answers M_READY (or
 *    M_INITFAIL then U_ENDED); each D_CHUNK runs through worker.c's
 *    mproc__pool_run_chunk on a private progress block and its results go
 *    back as the same wire bytes a local worker writes to its pipe;
 *    TAG_END ends the session (U_ENDED); D_EXIT finalizes and exits.
 *  - rank 0 side: the engine sees each rank as a worker through a bridge
 *    (engine.h's backend hook): a local duplex Pipe (the engine's end is
 *    w->conn), a local progress block (w->w) and a local sentinel (a
 *    simplex Pipe whose writing end the hub closes when the rank is lost).
 *    One hub thread is the only thread of this process that calls MPI
 *    (MPI_THREAD_SERIALIZED is enough): it forwards chunks from the
 *    bridges' pipes to the ranks, and writes the ranks' replies into the
 *    pipes: small ones itself, big ones (or ones behind them) through a
 *    feeder thread (so the hub never waits on a pipe while the engine
 *    waits on another: test_big_values).
 *  - claims: the hub claims a chunk (SENT -> STARTED on the local block)
 *    when it forwards it, and a batch's tasks one by one (a task already
 *    taken back travels as cancelled in the D_CHUNK's mask).  So cancel and
 *    the idle-worker steal act on every chunk not forwarded yet.  The
 *    engine gives a bridge up to NSLOT_MAX chunks (the backend's slots);
 *    they wait in the bridge's queue, unclaimed, and go to the rank in
 *    order while it holds fewer than its depth (0.4 ms of work at its
 *    measured pace: the rank never waits for its next chunk, nor for the
 *    engine's turnaround); a batch goes only when the rank has nothing in
 *    flight.  A rank sends without waiting (UP_MAX sends in flight).
 *  - time limits: for a timed chunk the rank sends U_TSTART before each
 *    task and the hub stamps W_RUN/W_TASK/W_START on the local block, so
 *    the engine's limit check works unchanged.  A rank cannot be killed:
 *    "kill" takes the bridge out (its sentinel becomes ready, the engine
 *    fails the task and starts a new bridge on that rank), and the new
 *    session begins once the rank has finished the over-time task.
 *  - waiting: MPI has no handle an OS wait can take, and Open MPI's
 *    blocking calls spin, so no MPI call here blocks: sends and receives
 *    are non-blocking ones polled to their end, and both sides poll
 *    MPI_Iprobe (twice a look: probe), spinning 50 us, then sleeping a
 *    little longer each time (backoff_wait); the hub sleeps in
 *    mproc_wait on its pipes, as long as the ranks' stock allows
 *    (hub_cap), and for good while it expects nothing from any rank.  On
 *    rank 0's oversubscribed node the ranks give way (lower priority).
 *  - exit (rank 0's atexit, after the pools' own): the hub sends D_EXIT to
 *    every rank and stops; MPI_Finalize.  A rank still busy with a task
 *    that overran its limit 5 s later ends the job with MPI_Abort.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <sodium.h>

#include "atomics.h"
#include "engine.h"

/*
 * MPI is loaded only under mpiexec (dlopen, with its symbols global, as
 * Open MPI's plugins need), so the rest of the time an mproc program and
 * each child it starts load no MPI library (linking libmpi cost every
 * process start about 0.6-1.3 ms).  Every MPI call and handle goes
 * through this table.  Open MPI's handles are addresses of its objects
 * (dlsym'd); MPICH's and MS-MPI's are plain constants.
 */
static struct {
  int (*Init_thread)(int *, char ***, int, int *);
  int (*Comm_dup)(MPI_Comm, MPI_Comm *);
  int (*Comm_set_errhandler)(MPI_Comm, MPI_Errhandler);
  int (*Comm_rank)(MPI_Comm, int *);
  int (*Comm_size)(MPI_Comm, int *);
  int (*Get_processor_name)(char *, int *);
  int (*Gather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype,
                int, MPI_Comm);
  int (*Scatter)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype,
                 int, MPI_Comm);
  int (*Abort)(MPI_Comm, int);
  int (*Iprobe)(int, int, MPI_Comm, int *, MPI_Status *);
  int (*Get_count)(const MPI_Status *, MPI_Datatype, int *);
  int (*Isend)(const void *, int, MPI_Datatype, int, int, MPI_Comm,
               MPI_Request *);
  int (*Irecv)(void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Request *);
  int (*Test)(MPI_Request *, int *, MPI_Status *);
  int (*Send)(const void *, int, MPI_Datatype, int, int, MPI_Comm);
  int (*Comm_free)(MPI_Comm *);
  int (*Finalize)(void);
  MPI_Comm world;
  MPI_Datatype byte, int_;
  MPI_Errhandler errors_return;
} X;

#ifndef MPROC_MPI_LIBRARY
#define MPROC_MPI_LIBRARY ""
#endif

static int load_mpi(void) {
  static const char *const names[] = {MPROC_MPI_LIBRARY, "libmpi.so.40",
                                      "libmpi.so.12", "libmpi.so",
                                      "msmpi.dll"};
  void *lib = NULL, *sym;
  size_t i;
  for (i = 0; !lib && i < sizeof names / sizeof names[0]; i++)
    if (names[i][0])
      lib = mproc__plat_dlopen(names[i]);
  if (!lib)
    return mproc__err(MPROC_ENOTSUP, "no MPI library could be loaded (%s)",
                      MPROC_MPI_LIBRARY);
#define LOAD(f)                                                              \
  if (!(sym = mproc__plat_dlsym(lib, "MPI_" #f)))                            \
    return mproc__err(MPROC_ENOTSUP, "the MPI library has no MPI_" #f);      \
  memcpy(&X.f, &sym, sizeof sym);
  LOAD(Init_thread) LOAD(Comm_dup) LOAD(Comm_set_errhandler)
  LOAD(Comm_rank) LOAD(Comm_size) LOAD(Get_processor_name) LOAD(Gather) LOAD(Scatter) LOAD(Abort)
  LOAD(Iprobe) LOAD(Get_count) LOAD(Isend) LOAD(Irecv) LOAD(Test)
  LOAD(Send) LOAD(Comm_free) LOAD(Finalize)
#undef LOAD
#ifdef OPEN_MPI
  {
    void *w = mproc__plat_dlsym(lib, "ompi_mpi_comm_world"),
         *b = mproc__plat_dlsym(lib, "ompi_mpi_byte"),
         *n = mproc__plat_dlsym(lib, "ompi_mpi_int"),
         *e = mproc__plat_dlsym(lib, "ompi_mpi_errors_return");
    if (!w || !b || !n || !e)
      return mproc__err(MPROC_ENOTSUP, "not the Open MPI mproc was built "
                                       "with");
    X.world = (MPI_Comm)w;
    X.byte = (MPI_Datatype)b;
    X.int_ = (MPI_Datatype)n;
    X.errors_return = (MPI_Errhandler)e;
  }
#else
  X.world = MPI_COMM_WORLD;
  X.byte = MPI_BYTE;
  X.int_ = MPI_INT;
  X.errors_return = MPI_ERRORS_RETURN;
#endif
  return 0;
}

enum { TAG_DOWN = 7101, TAG_END = 7102, TAG_UP = 7103 };
/* down (rank 0 -> rank), TAG_DOWN:
 *   D_SESSION: u32 type, u32 init (0: none, else module length + 1),
 *              u64 session,
 *              u64 init offset, u64 initargs length, module, initargs.
 *   D_CHUNK:   u32 type, u32 mask (batch tasks already cancelled), then
 *              the engine's M_CHUNK bytes.
 *   D_EXIT:    u32 type.
 * TAG_END: u64 session (end it after what runs now; unrun chunks skipped).
 * up (rank -> rank 0), TAG_UP: the wire's M_* messages as they are (an
 *   M_RESULTS with a trailer: f64 seconds the chunk ran, which the hub
 *   strips: its depth below), or
 *   U_TSTART: u32 type, u32 k, u64 chunk id (a timed task starts);
 *   U_ENDED:  u32 type, i32 exit code, u64 session. */
enum { D_SESSION = 1, D_CHUNK = 2, D_EXIT = 3 };
enum { U_TSTART = 0x54525453u, U_ENDED = 0x444e4555u };

static struct {
  int up;   /* rank 0 of an MPI job mproc_init set up */
  int size; /* ranks, rank 0 included */
  MPI_Comm comm;
  unsigned char *refused; /* per rank: another binary */
  apr_pool_t *ap;
  apr_thread_mutex_t *mu;
  mproc_thread *th;
  mproc_conn *wake_r, *wake_w;
  struct bridge *list; /* under mu */
  int nopen;           /* bridges started and not released (under mu) */
  int stop;            /* under mu */
  uint64_t next_session;
  struct rankst *rk;
  /* the feeder: writes the ranks' replies into the bridges' pipes */
  apr_thread_cond_t *fcv;
  struct feed *fhead, *ftail; /* under mu */
  int fstop;                  /* under mu */
  mproc_thread *fth;
} M;

/* ---- waiting on MPI ---------------------------------------------------- */

/* The longest sleep between two looks while something is expected: the
 * hub's bounds the latency a chunk's results wait before the engine sees
 * them; longer (up to HUB_CAP_MAX) while every rank holds enough work to
 * wait for it (hub_cap); a rank's bounds its start on a new chunk. */
#define HUB_CAP 50e-6
#define HUB_CAP_MAX 1e-3
#define RANK_CAP 50e-6

typedef struct backoff {
  int idle;
  double since;
} backoff;

static void backoff_reset(backoff *b) {
  b->idle = 0;
  b->since = 0;
}

/* Nothing came: spin (the caller looks again at once) for spin seconds,
 * then sleep, 10 us longer each time up to cap (1 ms after a second of
 * quiet); backoff_next gives the sleep (0: look again now) to a caller
 * that waits on something else meanwhile (the hub: on its pipes).
 * The spin trades CPU for latency: 50 us by default (2 shared cores
 * here); MPROC_MPI_SPIN=<seconds> (at most 1) on dedicated nodes.
 * A sleep costs at least the timer slack (50 us on Linux), so an answer
 * that comes within the spin is seen at once. */
static double spin = 50e-6; /* MPROC_MPI_SPIN overrides it (docs/mpi.md) */
static double backoff_next(backoff *b, double cap) {
  double s, now = mproc__plat_monotonic();
  if (b->idle++ == 0)
    b->since = now;
  if (now - b->since < spin) {
    b->idle = 1;
    return 0;
  }
  s = 10e-6 * (double)(b->idle - 1);
  if (s > cap)
    s = now - b->since > 1.0 ? 1e-3 : cap;
  return s;
}

static void backoff_wait(backoff *b, double cap) {
  double s = backoff_next(b, cap);
  if (s > 0)
    mproc__plat_sleep(s);
}
/*
 * Is a message there?  Open MPI's MPI_Iprobe matches first and moves the
 * transport on after: a message that has come is seen by the second
 * probe, not the first (measured: 3 in 4 found by the second).  With one
 * probe per look, a reply waited a look longer: a 1 ms task's result came
 * to the hub a task late (the 1 ms map at 1.24 x ideal).
 */
static int probe(int src, int tag, MPI_Status *st) {
  int flag = 0;
  if (X.Iprobe(src, tag, M.comm, &flag, st) == MPI_SUCCESS && !flag)
    X.Iprobe(src, tag, M.comm, &flag, st);
  return flag;
}

/*
 * Blocking sends and receives, made of non-blocking ones and the backoff:
 * Open MPI's blocking calls spin for as long as a message's rendezvous
 * waits on the other side (anything over its 4 KiB eager limit), taking a
 * core from the processes that would answer.
 */
static void wait_req(MPI_Request *r, double cap) {
  backoff bo;
  backoff_reset(&bo);
  for (;;) {
    int done = 0;
    if (X.Test(r, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done)
      return;
    backoff_wait(&bo, cap);
  }
}

static void send_wait(const void *p, size_t n, int rank, int tag,
                      double cap) {
  MPI_Request r;
  if (X.Isend((void *)p, (int)n, X.byte, rank, tag, M.comm, &r) ==
      MPI_SUCCESS)
    wait_req(&r, cap);
}

static void recv_wait(void *p, int n, int rank, int tag, double cap) {
  MPI_Request r;
  if (X.Irecv(p, n, X.byte, rank, tag, M.comm, &r) == MPI_SUCCESS)
    wait_req(&r, cap);
}

/* ---- the executable's hash ---------------------------------------------- */

static int exe_hash(unsigned char h[32], char *path, size_t cap) {
  crypto_generichash_state st;
  unsigned char buf[65536];
  FILE *f;
  size_t n;
  memset(h, 0, 32);
  if (mproc__plat_self_exe(path, cap) != 0)
    return -1;
  f = fopen(path, "rb");
  if (!f)
    return -1;
  crypto_generichash_init(&st, NULL, 0, 32);
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    crypto_generichash_update(&st, buf, n);
  fclose(f);
  crypto_generichash_final(&st, h, 32);
  return 0;
}

/* ---- the rank side -------------------------------------------------------- */

/*
 * What a rank sends up goes without waiting: a chunk's results (over Open
 * MPI's 4 KiB eager limit at chunksize 1000) are a rendezvous that ends
 * only once the hub has taken them, and waiting for it here kept the rank
 * from the next chunk it already holds (the tiny map: 120 us a chunk
 * waiting, for 30 us of work).  Up to UP_MAX sends are in flight, oldest
 * first (MPI keeps their order); their buffers are kept for reuse.
 */
#define UP_MAX 8
static struct {
  MPI_Request req[UP_MAX];
  mproc__buf buf[UP_MAX];
  int head, n;
} U;

/* Finish the sends that are done; 1 if any is still in flight. */
static int up_test(void) {
  while (U.n) {
    int done = 0;
    if (X.Test(&U.req[U.head], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS &&
        !done)
      return 1;
    U.head = (U.head + 1) % UP_MAX;
    U.n--;
  }
  return 0;
}

/* The next free entry (waiting for the oldest send if all are taken). */
static mproc__buf *up_slot(void) {
  if (!up_test() || U.n < UP_MAX)
    return &U.buf[(U.head + U.n) % UP_MAX];
  wait_req(&U.req[U.head], RANK_CAP);
  U.head = (U.head + 1) % UP_MAX;
  U.n--;
  return &U.buf[(U.head + U.n) % UP_MAX];
}

/* Send the entry up_slot gave.  The Test moves it on: Open MPI may leave
 * even a small send queued until the sender's next MPI call, and the
 * rank's next call may come only after its next chunk (1 ms tasks: rank
 * 0 saw each result a task late). */
static void up_go(mproc__buf *b) {
  int i = (U.head + U.n) % UP_MAX;
  if (X.Isend(b->p, (int)b->len, X.byte, 0, TAG_UP, M.comm, &U.req[i]) ==
      MPI_SUCCESS) {
    U.n++;
    up_test();
  }
}

static void up_send(const void *p, size_t n) {
  mproc__buf *b = up_slot();
  b->len = 0;
  if (mproc__buf_append(b, p, n) == 0)
    up_go(b);
}

/* Send out's bytes, handing its storage over (no copy): out gets the
 * entry's old storage. */
static void up_send_buf(mproc__buf *out) {
  mproc__buf *b = up_slot(), t = *b;
  *b = *out;
  *out = t;
  out->len = 0;
  up_go(b);
}

/* Before MPI_Finalize: every send finished. */
static void up_drain(void) {
  int i;
  while (U.n) {
    wait_req(&U.req[U.head], RANK_CAP);
    U.head = (U.head + 1) % UP_MAX;
    U.n--;
  }
  for (i = 0; i < UP_MAX; i++)
    mproc__buf_free(&U.buf[i]);
}

static void send_ended(int code, uint64_t session) {
  unsigned char m[16];
  uint32_t t = U_ENDED;
  int32_t c = code;
  memcpy(m, &t, 4);
  memcpy(m + 4, &c, 4);
  memcpy(m + 8, &session, 8);
  up_send(m, 16);
}

static void tstart(void *ctx, uint64_t id, uint32_t k) {
  unsigned char m[16];
  uint32_t t = U_TSTART;
  (void)ctx;
  memcpy(m, &t, 4);
  memcpy(m + 4, &k, 4);
  memcpy(m + 8, &id, 8);
  up_send(m, 16);
}

/* An END for the running session is waiting: skip its chunks. */
static int end_pending(void) {
  int flag = 0;
  MPI_Status st;
  flag = probe(0, TAG_END, &st);
  return flag;
}

static void rank_main(int refused, int give_way) {
  uint64_t blk[W_NWORDS];
  volatile uint64_t *w = blk;
  uint64_t session = 0;
  mproc__buf out = MPROC__BUF_INIT;
  char cache_mod[1024] = "";
  uint64_t cache_off = 0;
  void *cache_fn = NULL;
  backoff bo;
  memset(blk, 0, sizeof blk);
  backoff_reset(&bo);
  mproc__plat_ignore_interrupt();
  mproc__plat_precise_sleeps();
  if (give_way)
    mproc__plat_lower_priority();
  mproc__value_cache_own(); /* as a local worker: results' int blocks */
  for (;;) {
    MPI_Status st;
    int flag = 0, count = 0;
    unsigned char *msg;
    uint32_t type;
    flag = probe(0, MPI_ANY_TAG, &st);
    if (!flag) {
      up_test();
      backoff_wait(&bo, RANK_CAP);
      continue;
    }
    backoff_reset(&bo);
    X.Get_count(&st, X.byte, &count);
    msg = malloc(count > 0 ? (size_t)count : 1);
    if (!msg) {
      fprintf(stderr, "mproc: MPI rank out of memory\n");
      X.Abort(M.comm, 70);
    }
    recv_wait(msg, count, 0, st.MPI_TAG, RANK_CAP);
    if (st.MPI_TAG == TAG_END) {
      uint64_t s = 0;
      if (count >= 8)
        memcpy(&s, msg, 8);
      free(msg);
      if (session && s == session) {
        send_ended(0, session);
        session = 0;
      }
      continue;
    }
    if (st.MPI_TAG != TAG_DOWN || count < 4) {
      free(msg);
      continue;
    }
    memcpy(&type, msg, 4);
    if (type == D_EXIT) {
      free(msg);
      up_drain();
      mproc__buf_free(&out);
      X.Comm_free(&M.comm);
      X.Finalize();
      exit(0); /* a refused rank too: rank 0 decides the job's status */
    } else if (type == D_SESSION && count >= 32 && !refused) {
      uint32_t ml, init;
      uint64_t s, ioff, alen;
      mproc_value *initargs = NULL;
      char mod[1024];
      int rc = 0;
      memcpy(&init, msg + 4, 4);
      ml = init ? init - 1 : 0;
      memcpy(&s, msg + 8, 8);
      memcpy(&ioff, msg + 16, 8);
      memcpy(&alen, msg + 24, 8);
      if (ml >= sizeof mod || 32 + (uint64_t)ml + alen > (uint64_t)count) {
        free(msg);
        send_ended(4, s);
        continue;
      }
      memcpy(mod, msg + 32, ml);
      mod[ml] = 0;
      session = s;
      memset(blk, 0, sizeof blk);
      cache_fn = NULL;
      if (alen)
        rc = mproc_decode(msg + 32 + ml, (size_t)alen, &initargs);
      if (rc == 0)
        rc = mproc__pool_run_init(init ? mod : NULL, ioff, initargs, &out);
      else {
        const char *t = mproc_last_error();
        out.len = 0;
        mproc__put32(&out, M_INITFAIL);
        mproc__put32(&out, (uint32_t)rc);
        mproc__buf_append(&out, t, strlen(t));
      }
      mproc_value_free(initargs);
      free(msg);
      if (rc) {
        up_send(out.p, out.len);
        send_ended(1, session);
        session = 0;
      } else {
        uint32_t r = M_READY;
        up_send(&r, 4);
      }
    } else if (type == D_CHUNK && count >= 32 && session) {
      uint32_t mask, slot, n, k;
      uint64_t id;
      int nomem = 0, rc;
      double t0;
      const unsigned char *c = msg + 8;
      memcpy(&mask, msg + 4, 4);
      memcpy(&slot, c + 4, 4);
      memcpy(&id, c + 8, 8);
      memcpy(&n, c + 16, 4);
      if (end_pending()) { /* the session is over: do not run it */
        free(msg);
        continue;
      }
      mproc__st64_relaxed(&w[W_SLOT0 + (slot & 0xff) % NSLOT_MAX],
                          (id << 2) | SL_SENT);
      if (slot & 0x200)
        for (k = 0; k < n && k < BATCH_MAX; k++)
          mproc__st64_relaxed(&w[W_MEM0 + (slot & 0xff) % NSLOT_MAX * BATCH_MAX +
                                 k],
                              (id << 2) |
                                  ((mask >> k) & 1 ? SL_CANCELLED : SL_SENT));
      t0 = mproc__plat_monotonic();
      rc = mproc__pool_run_chunk(w, c, (size_t)count - 8, &out, cache_mod,
                                 &cache_off, &cache_fn, &nomem, tstart, NULL);
      free(msg);
      if (rc == 0) {
        double took = mproc__plat_monotonic() - t0;
        mproc__buf_append(&out, &took, 8); /* the trailer (hub strips it) */
        up_send_buf(&out);
      }
      else if (rc < 0) { /* garbled: the session ends */
        send_ended(4, session);
        session = 0;
      }
    } else {
      free(msg);
    }
  }
}

/* ---- boot (mproc_init) ---------------------------------------------------- */

static int under_mpiexec(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") ||
         getenv("PMI_RANK") || getenv("PMIX_RANK");
}

static void at_exit(void);

/* What each rank sends rank 0 at start: its executable's hash and its
 * node's name (MPI_Get_processor_name, cut to 63 bytes). */
enum { ID_HASH = 32, ID_NODE = 64, ID_LEN = ID_HASH + ID_NODE };
/* Rank 0's verdict on a rank: refused (another binary), and whether it
 * shares rank 0's node when that node has more ranks than cores (it then
 * runs below rank 0's threads: rank_main). */
enum { V_REFUSED = 1, V_GIVE_WAY = 2 };

int mproc__pool_mpi_boot(void) {
  int prov = 0, rank = 0, i, mine_ok, rc, over = 0, nl = 0;
  unsigned char h[ID_LEN], *all = NULL;
  char path[4096] = "", node[MPI_MAX_PROCESSOR_NAME + 1];
  int *verdict = NULL, mine = 0;
  if (!under_mpiexec())
    return 0;
  /* More ranks on this node than cores (mpiexec --oversubscribe): a
   * spinning rank takes the core rank 0 needs to feed it, so none spins. */
  {
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!local)
      local = getenv("MPI_LOCALNRANKS"); /* MPICH's Hydra */
    over = local && atoi(local) >= mproc__plat_cpu_count();
    if (over)
      spin = 0;
  }
  if (getenv("MPROC_MPI_SPIN")) {
    double v = strtod(getenv("MPROC_MPI_SPIN"), NULL);
    if (v >= 0 && v <= 1)
      spin = v;
  }
  /* Open MPI yields the CPU inside every MPI_Iprobe that finds nothing when
   * the node is oversubscribed; mproc's loops sleep on their own between
   * looks, and the yield only delays them on a busy machine (the 1 ms
   * sleep bench: 1.04-1.11 x ideal without it, 1.14-1.21 with it).  The
   * user's own setting wins. */
  if (!getenv("OMPI_MCA_mpi_yield_when_idle"))
    mproc__plat_setenv("OMPI_MCA_mpi_yield_when_idle", "0");
  if ((rc = load_mpi()) != 0)
    return rc;
  if (X.Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &prov) !=
      MPI_SUCCESS)
    return mproc__err(MPROC_EOS, "MPI_Init_thread failed");
  X.Comm_dup(X.world, &M.comm);
  X.Comm_set_errhandler(M.comm, X.errors_return);
  X.Comm_rank(M.comm, &rank);
  X.Comm_size(M.comm, &M.size);
  if (sodium_init() < 0)
    return mproc__err(MPROC_EOS, "sodium_init failed");
  mine_ok = exe_hash(h, path, sizeof path) == 0;
  if (!mine_ok)
    memset(h, 0xff, ID_HASH);
  memset(node, 0, sizeof node);
  if (X.Get_processor_name(node, &nl) != MPI_SUCCESS)
    node[0] = 0;
  memcpy(h + ID_HASH, node, ID_NODE);
  h[ID_LEN - 1] = 0;
  if (rank == 0) {
    all = malloc((size_t)M.size * ID_LEN);
    verdict = calloc((size_t)M.size, sizeof *verdict);
    M.refused = calloc((size_t)M.size, 1);
    if (!all || !verdict || !M.refused) {
      fprintf(stderr, "mproc: out of memory at MPI start\n");
      X.Abort(M.comm, 70);
    }
  }
  X.Gather(h, ID_LEN, X.byte, all, ID_LEN, X.byte, 0, M.comm);
  if (rank == 0)
    for (i = 1; i < M.size; i++) {
      if (!mine_ok || memcmp(all + ID_LEN * i, h, ID_HASH) != 0) {
        verdict[i] |= V_REFUSED;
        M.refused[i] = 1;
      }
      /* Rank 0's threads (hub, handler) share the cores with the ranks
       * there: the ranks give way, so the threads that feed them run the
       * moment they wake (the tiny map: 23 -> 31 M tasks/s, steadier). */
      if (over && h[ID_HASH] &&
          memcmp(all + ID_LEN * i + ID_HASH, h + ID_HASH, ID_NODE) == 0)
        verdict[i] |= V_GIVE_WAY;
    }
  X.Scatter(verdict, 1, X.int_, &mine, 1, X.int_, 0, M.comm);
  free(all);
  free(verdict);
  if (rank != 0) {
    if (mine & V_REFUSED)
      fprintf(stderr,
              "mproc: MPI rank %d runs another binary than rank 0 (%s, a "
              "different build?): refused, it serves no pool and waits for "
              "the job's end\n",
              rank, path);
    rank_main(mine & V_REFUSED, (mine & V_GIVE_WAY) != 0); /* no return */
  }
  (void)prov;
  M.up = 1;
  mproc__plat_atexit(at_exit);
  return 0;
}

/* ---- rank 0: bridges and the hub ------------------------------------------------ */

enum { B_WAIT, B_SESSION, B_ENDING, B_GONE };

/* The chunks a bridge's queue holds: the engine's slots, and room for
 * ones it took back (their slots given again) not dropped yet. */
#define HELD_MAX (2 * NSLOT_MAX)

typedef struct bridge {
  int rank;
  mproc_conn *loc;            /* the hub's end of the engine's pipe */
  mproc_conn *sent_r, *sent_w; /* the sentinel: sent_w closed = gone */
  uint64_t blk[W_NWORDS];     /* the progress block the engine reads */
  mproc__buf sess;            /* its D_SESSION message */
  /* under M.mu */
  int kill_req, gone, exitcode, released;
  int pending; /* entries for it in the feeder's queue */
  /* the hub's */
  int state;
  uint64_t session;
  uint64_t fl[NSLOT_MAX]; /* forwarded to the rank, oldest first */
  double took; /* the rank's time per chunk (moving average; 0: none yet) */
  int fl_timed[NSLOT_MAX], fl_slot[NSLOT_MAX], nfl, said_ready, loc_eof;
  /* results the hub wrote into the pipe itself that the engine may not
   * have read yet: bytes per slot, and their sum (DIRECT_BUDGET) */
  size_t unread[NSLOT_MAX], unread_sum;
  unsigned char *held[HELD_MAX]; /* from the engine, not forwarded yet */
  size_t heldn[HELD_MAX];
  int nheld;
  struct bridge *next;
} bridge;

typedef struct rankst {
  bridge *b;       /* its session's bridge (SESSION sent, no END yet) */
  bridge *ending_b; /* END sent: gone once ENDED comes (NULL: already) */
  uint64_t session; /* the session open or ending (0: none) */
  int ending;
} rankst;

typedef struct sendq {
  MPI_Request *req;
  void **buf;
  size_t n, cap;
} sendq;

static void sq_test(sendq *q) {
  size_t i = 0;
  while (i < q->n) {
    int done = 0;
    X.Test(&q->req[i], &done, MPI_STATUS_IGNORE);
    if (done) {
      free(q->buf[i]);
      q->req[i] = q->req[q->n - 1];
      q->buf[i] = q->buf[q->n - 1];
      q->n--;
    } else {
      i++;
    }
  }
}

/* Send buf (taken) to rank without waiting; 0 or -1. */
static int sq_send(sendq *q, void *buf, size_t len, int rank) {
  if (q->n == q->cap) {
    size_t nc = q->cap ? 2 * q->cap : 16;
    MPI_Request *r = realloc(q->req, nc * sizeof *r);
    void **b;
    if (r)
      q->req = r;
    b = realloc(q->buf, nc * sizeof *b);
    if (b)
      q->buf = b;
    if (!r || !b) {
      free(buf);
      return -1;
    }
    q->cap = nc;
  }
  if (X.Isend(buf, (int)len, X.byte, rank, TAG_DOWN, M.comm,
                &q->req[q->n]) != MPI_SUCCESS) {
    free(buf);
    return -1;
  }
  q->buf[q->n++] = buf;
  return 0;
}

static void hub_wake(void) {
  static const char one = 1;
  mproc_conn_send_bytes(M.wake_w, &one, 1);
}

/*
 * The feeder thread writes what the ranks send into the bridges' pipes, in
 * order, so the hub never blocks on a pipe: the engine may itself be
 * blocked writing a big chunk into another bridge's pipe, which only the
 * hub reads.  An entry without a message closes the bridge's sentinel.
 */
typedef struct feed {
  struct bridge *b;
  void *m;
  size_t n;
  struct feed *next;
} feed;

static void feed_push(struct bridge *b, void *m, size_t n);

/* A reply this small the hub writes itself when nothing of that bridge
 * waits in the feeder and the results in the pipe (its own and the
 * feeder's) that the engine may not have read yet stay within
 * DIRECT_BUDGET (the pipe's buffer is 64 KiB on
 * Windows; a Linux SEQPACKET pair takes 26 messages of 6 KB but only 13
 * of 8-16 KB), so the write cannot wait on the engine.  Results are known
 * read once the engine sends a chunk in their slot again (it frees a
 * slot by reading its results); the few other replies (READY, INITFAIL)
 * are small and not counted. */
#define DIRECT_MAX 16384
#define DIRECT_BUDGET 49152

/* The bridge is gone: the engine sees its sentinel. */
static void gone(bridge *b, int code) {
  int r;
  if (b->state == B_GONE)
    return;
  b->state = B_GONE;
  for (r = 1; r < M.size; r++) {
    if (M.rk[r].b == b)
      M.rk[r].b = NULL;
    if (M.rk[r].ending_b == b)
      M.rk[r].ending_b = NULL;
  }
  apr_thread_mutex_lock(M.mu);
  b->gone = 1;
  b->exitcode = code;
  apr_thread_mutex_unlock(M.mu);
  feed_push(b, NULL, 0); /* the sentinel, after the replies before it */
}

/* End the session of rank r (its bridge b stays until ENDED if keep). */
static void end_session(int r, int keep) {
  rankst *k = &M.rk[r];
  bridge *b = k->b;
  if (!b)
    return;
  send_wait(&k->session, 8, r, TAG_END, HUB_CAP);
  k->b = NULL;
  k->ending = 1;
  k->ending_b = keep ? b : NULL;
  if (keep)
    b->state = B_ENDING;
}

static void set_head(bridge *b) {
  if (b->nfl == 0) {
    mproc__st64_release(&b->blk[W_TASK], 0);
    mproc__st64_release(&b->blk[W_RUN], 0);
    return;
  }
  /* A timed chunk's task is stamped when the rank says it starts. */
  mproc__st64_release(&b->blk[W_TASK], 0);
  mproc__st64_release(&b->blk[W_RUN], b->fl[0]);
  if (!b->fl_timed[0])
    mproc__st64_release(&b->blk[W_TASK], 1);
}

static sendq *hubq; /* the hub's sends in flight */

/*
 * A chunk from the engine: claim it, then forward it.  A batch (queued
 * apply/submit tasks) behind a chunk the rank already holds waits here,
 * unclaimed, until that chunk's results come: until then cancel and the
 * idle-worker steal can still take its tasks back.  A map's chunks go at
 * once (the rank never waits for its next one).
 */
static void forward(sendq *q, bridge *b, unsigned char *msg, size_t len) {
  uint32_t type, slot, n, mask = 0, k;
  uint64_t id, want;
  unsigned char *out;
  if (len < 32) {
    free(msg);
    return;
  }
  memcpy(&type, msg, 4);
  memcpy(&slot, msg + 4, 4);
  memcpy(&id, msg + 8, 8);
  memcpy(&n, msg + 16, 4);
  want = (id << 2) | SL_SENT;
  if (type != M_CHUNK || (slot & 0xff) >= NSLOT_MAX ||
      !mproc__cas64(&b->blk[W_SLOT0 + (slot & 0xff)], &want,
                    (id << 2) | SL_STARTED)) {
    free(msg); /* cancelled or taken back before it left */
    return;
  }
  if (slot & 0x200)
    for (k = 0; k < n && k < BATCH_MAX; k++) {
      uint64_t wm = (id << 2) | SL_SENT;
      if (!mproc__cas64(&b->blk[W_MEM0 + (slot & 0xff) * BATCH_MAX + k], &wm,
                        (id << 2) | SL_STARTED))
        mask |= 1u << k;
    }
  out = malloc(len + 8);
  if (!out) {
    free(msg);
    gone(b, 70);
    return;
  }
  type = D_CHUNK;
  memcpy(out, &type, 4);
  memcpy(out + 4, &mask, 4);
  memcpy(out + 8, msg, len);
  free(msg);
  if (b->nfl < NSLOT_MAX) {
    b->fl[b->nfl] = id;
    b->fl_timed[b->nfl] = (slot & 0x100) != 0;
    b->fl_slot[b->nfl] = (int)(slot & 0xff);
    b->nfl++;
    if (b->nfl == 1)
      set_head(b);
  }
  if (sq_send(q, out, len + 8, b->rank) != 0)
    gone(b, 71);
}

/*
 * The bridge's queue: the engine's chunks wait here, unclaimed, and go to
 * the rank in order while it holds fewer than depth() forwarded ones
 * (a batch only when it holds none).  So a rank always has its next
 * chunks (the hub refills it from here as its results come, without
 * waiting for the engine's next chunk), and the ones not forwarded yet
 * can still be cancelled or taken back by the idle-worker steal.
 */
#define DEPTH_TIME 400e-6

/* The chunks the rank may hold: enough for DEPTH_TIME of work at its
 * pace (2 to NSLOT_MAX), so the hub may be late by that much before the
 * rank runs dry; a map's tiny chunks (12 us each) fill it, 1 ms tasks
 * keep one running and one next, the rest here (still stealable). */
static int depth(const bridge *b) {
  double d;
  if (b->took <= 0)
    return NSLOT;
  d = DEPTH_TIME / b->took + 1;
  return d < 2 ? 2 : d > NSLOT_MAX ? NSLOT_MAX : (int)d;
}

static void pump(sendq *q, bridge *b) {
  while (b->nheld) {
    unsigned char *h = b->held[0];
    size_t hn = b->heldn[0];
    uint32_t slot = 0;
    int g;
    if (hn >= 8)
      memcpy(&slot, h + 4, 4);
    if ((slot & 0x200) ? b->nfl > 0 : b->nfl >= depth(b))
      return;
    for (g = 0; g + 1 < b->nheld; g++) {
      b->held[g] = b->held[g + 1];
      b->heldn[g] = b->heldn[g + 1];
    }
    b->nheld--;
    forward(q, b, h, hn); /* (one taken back is dropped) */
  }
}

/* A chunk the engine cancelled or took back (its slot word moved on). */
static int stale(bridge *b, const unsigned char *h, size_t hn) {
  uint32_t slot;
  uint64_t id;
  if (hn < 32)
    return 1;
  memcpy(&slot, h + 4, 4);
  memcpy(&id, h + 8, 8);
  return (slot & 0xff) >= NSLOT_MAX ||
         mproc__ld64(&b->blk[W_SLOT0 + (slot & 0xff)]) !=
             ((id << 2) | SL_SENT);
}

/* A chunk from the engine's pipe. */
static void take(sendq *q, bridge *b, unsigned char *msg, size_t len) {
  uint32_t slot;
  if (len >= 8) { /* the engine read the results of this slot's last */
    memcpy(&slot, msg + 4, 4);
    if ((slot & 0xff) < NSLOT_MAX) {
      b->unread_sum -= b->unread[slot & 0xff];
      b->unread[slot & 0xff] = 0;
    }
  }
  if (b->nheld == HELD_MAX) { /* drop the ones taken back */
    int g, k = 0;
    for (g = 0; g < b->nheld; g++) {
      if (stale(b, b->held[g], b->heldn[g])) {
        free(b->held[g]);
        continue;
      }
      b->held[k] = b->held[g];
      b->heldn[k++] = b->heldn[g];
    }
    b->nheld = k;
  }
  if (b->nheld == HELD_MAX) { /* cannot be (the engine has NSLOT_MAX) */
    unsigned char *h = b->held[0];
    size_t hn = b->heldn[0];
    memmove(b->held, b->held + 1, (HELD_MAX - 1) * sizeof b->held[0]);
    memmove(b->heldn, b->heldn + 1, (HELD_MAX - 1) * sizeof b->heldn[0]);
    b->nheld--;
    forward(q, b, h, hn);
  }
  b->held[b->nheld] = msg;
  b->heldn[b->nheld++] = len;
  pump(q, b);
}

static void feed_push(bridge *b, void *m, size_t n) {
  feed *e = malloc(sizeof *e);
  if (!e) {
    /* no room: write it here (the rare case may wait on the engine) */
    if (m)
      mproc_conn_send_bytes(b->loc, m, n);
    else
      mproc_conn_close(b->sent_w);
    free(m);
    return;
  }
  e->b = b;
  e->m = m;
  e->n = n;
  e->next = NULL;
  apr_thread_mutex_lock(M.mu);
  b->pending++;
  if (M.ftail)
    M.ftail->next = e;
  else
    M.fhead = e;
  M.ftail = e;
  apr_thread_cond_signal(M.fcv);
  apr_thread_mutex_unlock(M.mu);
}

static int feeder_main(void *arg) {
  (void)arg;
  for (;;) {
    feed *e;
    apr_thread_mutex_lock(M.mu);
    while (!M.fhead && !M.fstop)
      apr_thread_cond_wait(M.fcv, M.mu);
    e = M.fhead;
    if (!e) {
      apr_thread_mutex_unlock(M.mu);
      return 0;
    }
    M.fhead = e->next;
    if (!M.fhead)
      M.ftail = NULL;
    apr_thread_mutex_unlock(M.mu);
    if (e->m)
      mproc_conn_send_bytes(e->b->loc, e->m, e->n); /* fails: engine gone */
    else
      mproc_conn_close(e->b->sent_w);
    free(e->m);
    apr_thread_mutex_lock(M.mu);
    e->b->pending--;
    apr_thread_mutex_unlock(M.mu);
    free(e);
  }
}

/* A message from rank r; 1 if m was taken (the feeder frees it). */
static int from_rank(int r, unsigned char *m, size_t n) {
  rankst *k = &M.rk[r];
  bridge *b = k->b;
  uint32_t type = 0;
  int slot = -1, direct; /* slot: of the results' chunk */
  if (n >= 4)
    memcpy(&type, m, 4);
  if (type == U_ENDED && n >= 16) {
    int32_t code;
    uint64_t s;
    memcpy(&code, m + 4, 4);
    memcpy(&s, m + 8, 8);
    if (s != k->session)
      return 0;
    k->session = 0;
    k->ending = 0;
    if (k->ending_b)
      gone(k->ending_b, code);
    if (k->b)
      gone(k->b, code); /* ended on its own (initializer failed) */
    return 0;
  }
  if (k->ending || !b || b->state != B_SESSION)
    return 0; /* the rest of a session already over */
  if (type == U_TSTART && n >= 16) {
    uint32_t t;
    uint64_t id;
    memcpy(&t, m + 4, 4);
    memcpy(&id, m + 8, 8);
    mproc__st64_relaxed(&b->blk[W_START],
                        (uint64_t)(mproc__plat_monotonic() * 1e9));
    mproc__st64_release(&b->blk[W_RUN], id);
    mproc__st64_release(&b->blk[W_TASK], t + 1);
    return 0;
  }
  if (type == M_RESULTS && n >= 24) {
    uint64_t id;
    int f, g;
    double took;
    memcpy(&id, m + 8, 8);
    memcpy(&took, m + n - 8, 8);
    n -= 8;
    if (took >= 0 && took < 1e6)
      b->took = b->took > 0 ? 0.75 * b->took + 0.25 * took : took;
    for (f = 0; f < b->nfl && b->fl[f] != id; f++)
      ;
    if (f < b->nfl) {
      slot = b->fl_slot[f];
      for (g = f; g + 1 < b->nfl; g++) {
        b->fl[g] = b->fl[g + 1];
        b->fl_timed[g] = b->fl_timed[g + 1];
        b->fl_slot[g] = b->fl_slot[g + 1];
      }
      b->nfl--;
    }
    set_head(b);
    pump(hubq, b);
  } else if (type == M_READY) {
    b->said_ready = 1;
  }
  direct = n <= DIRECT_MAX &&
           (slot < 0 || b->unread_sum + n <= DIRECT_BUDGET);
  if (slot >= 0) { /* counted however it goes: the feeder's fill it too */
    b->unread_sum += n - b->unread[slot];
    b->unread[slot] = n;
  }
  if (direct) {
    int queued;
    apr_thread_mutex_lock(M.mu);
    queued = b->pending;
    apr_thread_mutex_unlock(M.mu);
    if (!queued) {
      mproc_conn_send_bytes(b->loc, m, n); /* fails: the engine let go */
      return 0;
    }
  }
  feed_push(b, m, n);
  return 1;
}

/* How long the hub may sleep between looks at the ranks: 0 when it
 * expects nothing from any (it then waits on its pipes alone); else
 * HUB_CAP, or longer while every rank that works holds enough of it:
 * half of what it has left ((chunks held - 1/2) x its time per chunk),
 * so it never runs dry waiting for the hub (a rank of 1 ms tasks holds
 * two: the hub looks every 0.75 ms instead of every 50 us, which took
 * CPU from the ranks on a shared node). */
static double hub_cap(void) {
  double cap = HUB_CAP_MAX;
  int r, any = 0;
  for (r = 1; r < M.size; r++) {
    rankst *k = &M.rk[r];
    bridge *b = k->b;
    double c;
    if (k->ending || (b && !b->said_ready))
      return HUB_CAP;
    if (!b || !b->nfl)
      continue;
    any = 1;
    c = b->took > 0 ? ((double)b->nfl - 0.5) * b->took / 2 : HUB_CAP;
    if (c < cap)
      cap = c;
  }
  return !any ? 0 : cap < HUB_CAP ? HUB_CAP : cap;
}

static void hub_exit(sendq *q) {
  double until = mproc__plat_monotonic() + 5.0;
  int r, busy;
  backoff bo;
  backoff_reset(&bo);
  for (r = 1; r < M.size; r++)
    if (M.rk[r].b)
      end_session(r, 0);
  /* ranks finishing a session: wait for them (bounded) */
  for (;;) {
    MPI_Status st;
    int flag = 0;
    busy = 0;
    for (r = 1; r < M.size; r++)
      busy |= M.rk[r].ending;
    if (!busy || mproc__plat_monotonic() > until)
      break;
    flag = probe(MPI_ANY_SOURCE, TAG_UP, &st);
    if (flag) {
      int count = 0;
      unsigned char *m;
      X.Get_count(&st, X.byte, &count);
      m = malloc(count > 0 ? (size_t)count : 1);
      if (!m)
        break;
      recv_wait(m, count, st.MPI_SOURCE, TAG_UP, HUB_CAP);
      if (!from_rank(st.MPI_SOURCE, m, (size_t)count))
        free(m);
      backoff_reset(&bo);
    } else {
      sq_test(q);
      backoff_wait(&bo, HUB_CAP);
    }
  }
  if (busy) {
    fprintf(stderr,
            "mproc: an MPI rank still runs a task that overran its time "
            "limit 5 s after rank 0's end: ending the job (MPI_Abort)\n");
    fflush(stderr);
    X.Abort(M.comm, 1);
  }
  for (r = 1; r < M.size; r++) {
    uint32_t *t = malloc(4);
    if (t) {
      *t = D_EXIT;
      sq_send(q, t, 4, r);
    }
  }
  while (q->n) {
    sq_test(q);
    if (q->n)
      mproc__plat_sleep(50e-6);
  }
}

static void bridge_free(bridge *b) {
  mproc_conn_free(b->loc);
  mproc_conn_free(b->sent_r);
  mproc_conn_free(b->sent_w);
  mproc__buf_free(&b->sess);
  for (; b->nheld > 0; b->nheld--)
    free(b->held[b->nheld - 1]);
  free(b);
}

static int hub_main(void *arg) {
  sendq q = {NULL, NULL, 0, 0};
  hubq = &q;
  mproc__plat_precise_sleeps();
  mproc_waitable **ws = NULL;
  bridge **wb = NULL;
  int *ready = NULL;
  size_t cap = 0;
  backoff bo;
  double tmo = 0.05; /* the next wait on the pipes (the look's sleep) */
  (void)arg;
  backoff_reset(&bo);
  for (;;) {
    bridge *b, **pp, *live;
    double look;
    size_t nws = 0, i;
    int stop, busy = 0, flag = 0, r;
    MPI_Status st;
    /* requests from the engine's threads, and bridges let go */
    apr_thread_mutex_lock(M.mu);
    stop = M.stop;
    for (pp = &M.list; (b = *pp) != NULL;) {
      if (b->released && b->gone && !b->pending) {
        *pp = b->next;
        bridge_free(b);
        continue;
      }
      pp = &b->next;
    }
    live = M.list;
    apr_thread_mutex_unlock(M.mu);
    for (b = live; b; b = b->next) {
      int kill;
      apr_thread_mutex_lock(M.mu);
      kill = b->kill_req || b->released;
      apr_thread_mutex_unlock(M.mu);
      if (kill && b->state != B_GONE) {
        if (M.rk[b->rank].b == b)
          end_session(b->rank, 0);
        gone(b, -9);
        busy = 1;
      }
    }
    if (stop)
      break;
    /* new sessions, once their rank is free */
    for (b = live; b; b = b->next) {
      rankst *k = &M.rk[b->rank];
      if (b->state != B_WAIT || k->ending || k->b)
        continue;
      k->session = b->session;
      k->b = b;
      b->state = B_SESSION;
      send_wait(b->sess.p, b->sess.len, b->rank, TAG_DOWN, HUB_CAP);
      busy = 1;
    }
    /* the engine's side: chunks, or EOF (the pool is done with it) */
    for (b = live; b; b = b->next)
      nws += (b->state == B_SESSION || b->state == B_WAIT) && !b->loc_eof;
    if (nws + 1 > cap) {
      size_t nc = 2 * (nws + 1);
      mproc_waitable **a = realloc(ws, nc * sizeof *a);
      bridge **c;
      int *d;
      if (a)
        ws = a;
      c = realloc(wb, nc * sizeof *c);
      if (c)
        wb = c;
      d = realloc(ready, nc * sizeof *d);
      if (d)
        ready = d;
      if (!a || !c || !d) {
        mproc__plat_sleep(1e-3);
        continue;
      }
      cap = nc;
    }
    nws = 0;
    ws[nws] = mproc_conn_waitable(M.wake_r);
    wb[nws++] = NULL;
    for (b = live; b; b = b->next)
      if ((b->state == B_SESSION || b->state == B_WAIT) && !b->loc_eof) {
        ws[nws] = mproc_conn_waitable(b->loc);
        wb[nws++] = b;
      }
    if (mproc_wait(ws, nws, busy ? 0.0 : tmo, ready) > 0) {
      for (i = 0; i < nws; i++) {
        void *m = NULL;
        size_t n = 0;
        if (!ready[i])
          continue;
        busy = 1;
        if (!wb[i]) {
          while (mproc_conn_poll(M.wake_r, 0) == 1 &&
                 mproc_conn_recv_bytes(M.wake_r, &m, &n) == 0)
            mproc_free(m);
          continue;
        }
        b = wb[i];
        if (mproc_conn_recv_bytes(b->loc, &m, &n) != 0) {
          b->loc_eof = 1;
          if (b->state == B_WAIT)
            gone(b, 0); /* never started: its rank is still busy */
          else
            end_session(b->rank, 1);
          continue;
        }
        if (b->state == B_SESSION)
          take(&q, b, m, n);
        else
          mproc_free(m); /* not for a rank that has not started it */
      }
    }
    /* the ranks' side */
    for (;;) {
      int count = 0;
      unsigned char *m;
      flag = probe(MPI_ANY_SOURCE, TAG_UP, &st);
      if (!flag)
        break;
      busy = 1;
      X.Get_count(&st, X.byte, &count);
      m = malloc(count > 0 ? (size_t)count : 1);
      if (!m)
        break;
      recv_wait(m, count, st.MPI_SOURCE, TAG_UP, HUB_CAP);
      r = st.MPI_SOURCE;
      if (r <= 0 || r >= M.size || !from_rank(r, m, (size_t)count))
        free(m);
    }
    sq_test(&q);
    /* The sleep before the next look at the ranks is a wait on the pipes,
     * so the engine's chunks go on at once: the rank's queue is refilled
     * within the engine's own turnaround. */
    if (busy) {
      backoff_reset(&bo);
      tmo = 0;
    } else if ((look = hub_cap()) > 0) {
      tmo = look > HUB_CAP ? look : backoff_next(&bo, look);
    } else {
      tmo = 0.05;
    }
  }
  hub_exit(&q);
  free(q.req);
  free(q.buf);
  free(ws);
  free(wb);
  free(ready);
  return 0;
}

static void at_exit(void) {
  if (M.th) {
    apr_thread_mutex_lock(M.mu);
    M.stop = 1;
    apr_thread_mutex_unlock(M.mu);
    hub_wake();
    mproc_thread_join(M.th, NULL);
  }
  if (M.fth) {
    apr_thread_mutex_lock(M.mu);
    M.fstop = 1;
    apr_thread_cond_signal(M.fcv);
    apr_thread_mutex_unlock(M.mu);
    mproc_thread_join(M.fth, NULL);
  }
  if (!M.th) {
    /* no pool ever: the ranks only wait for the word */
    uint32_t t = D_EXIT;
    int r;
    for (r = 1; r < M.size; r++)
      X.Send(&t, 4, X.byte, r, TAG_DOWN, M.comm);
  }
  X.Comm_free(&M.comm);
  X.Finalize();
  /* what the backend kept for the process's life */
  while (M.list) {
    bridge *b = M.list;
    M.list = b->next;
    bridge_free(b);
  }
  mproc_conn_free(M.wake_r);
  mproc_conn_free(M.wake_w);
  free(M.rk);
  free(M.refused);
  if (M.ap)
    apr_pool_destroy(M.ap);
}

/* ---- the engine's backend hook (engine.h) ---------------------------------- */

static int b_start(mproc_pool *p, worker *w) {
  bridge *b = calloc(1, sizeof *b);
  mproc_conn *eng = NULL;
  int init = p->opts.initializer != NULL;
  size_t ml = init ? strlen(p->init_module) : 0;
  int rc;
  if (!b)
    return mproc__err(MPROC_ENOMEM, "MPI bridge");
  b->rank = (int)(w - p->wk) + 1;
  if ((rc = mproc_pipe(&eng, &b->loc, 1)) != 0 ||
      (rc = mproc_pipe(&b->sent_r, &b->sent_w, 0)) != 0)
    goto fail;
  apr_thread_mutex_lock(M.mu);
  b->session = ++M.next_session;
  apr_thread_mutex_unlock(M.mu);
  /* D_SESSION: the initializer and its arguments, encoded */
  mproc__put32(&b->sess, D_SESSION);
  mproc__put32(&b->sess, init ? (uint32_t)ml + 1 : 0);
  mproc__put64(&b->sess, b->session);
  mproc__put64(&b->sess, p->opts.initializer ? p->init_offset : 0);
  mproc__put64(&b->sess, 0);
  mproc__buf_append(&b->sess, p->init_module, ml);
  if (init && p->initargs) {
    size_t at = b->sess.len;
    uint64_t alen;
    if ((rc = mproc__encode(p->initargs, &b->sess, NULL)) != 0) {
      rc = mproc__err(rc, "the initargs cannot travel to an MPI rank: %s",
                      mproc_last_error());
      goto fail;
    }
    alen = b->sess.len - at;
    memcpy(b->sess.p + 24, &alen, 8);
  }
  if (!b->sess.p) {
    rc = mproc__err(MPROC_ENOMEM, "MPI session message");
    goto fail;
  }
  w->be = b;
  w->conn = eng;
  w->w = b->blk;
  w->pid = b->rank;
  w->live = 1;
  w->ready = 0; /* its READY comes once the rank is free and set up */
  LOCK(p);
  p->pids[w - p->wk] = w->pid;
  UNLOCK(p);
  apr_thread_mutex_lock(M.mu);
  b->next = M.list;
  M.list = b;
  M.nopen++;
  apr_thread_mutex_unlock(M.mu);
  hub_wake();
  return 0;
fail:
  mproc_conn_free(eng);
  bridge_free(b);
  return rc;
}

static mproc_waitable *b_sentinel(worker *w) {
  return mproc_conn_waitable(((bridge *)w->be)->sent_r);
}

static void b_kill(worker *w) {
  bridge *b = w->be;
  apr_thread_mutex_lock(M.mu);
  b->kill_req = 1;
  apr_thread_mutex_unlock(M.mu);
  hub_wake();
}

static int b_alive(worker *w) {
  bridge *b = w->be;
  int g;
  apr_thread_mutex_lock(M.mu);
  g = b->gone;
  apr_thread_mutex_unlock(M.mu);
  return !g;
}

static int b_reap(worker *w, double wait) {
  bridge *b = w->be;
  mproc_waitable *s = mproc_conn_waitable(b->sent_r);
  int ready = 0, ec;
  if (mproc_wait(&s, 1, wait, &ready) <= 0) {
    b_kill(w);
    mproc_wait(&s, 1, MPROC_FOREVER, &ready);
  }
  apr_thread_mutex_lock(M.mu);
  ec = b->exitcode;
  apr_thread_mutex_unlock(M.mu);
  return ec;
}

static void b_release(worker *w) {
  bridge *b = w->be;
  apr_thread_mutex_lock(M.mu);
  b->released = 1;
  M.nopen--;
  apr_thread_mutex_unlock(M.mu);
  w->be = NULL;
  hub_wake();
}

/* drains: the hub reads the bridges' pipes at once (the feeder does its
 * writing), so a rank gets its next chunk whatever its size. */
static const mproc__pool_backend mpi_backend = {
    b_start, b_sentinel, b_kill, b_alive, b_reap, b_release, 1, NSLOT_MAX};

int mproc__pool_backend_open(mproc_pool_opts *o,
                             const mproc__pool_backend **be) {
  int r, rc, busy;
  if (o->backend != MPROC_POOL_MPI)
    return mproc__err(MPROC_EINVAL, "mproc_pool_new: unknown backend %d",
                      o->backend);
  if (!M.up) {
    if (under_mpiexec() && !mproc__initialised())
      return mproc__err(MPROC_ENOTINIT,
                        "mproc_pool_new: the MPI backend needs "
                        "mproc_init(argc, argv) first in main()");
    return mproc__err(MPROC_ENOTSUP,
                      "mproc_pool_new: the MPI backend needs the program "
                      "started by mpiexec (e.g. mpiexec -n 3 ./app): this "
                      "process is not an MPI rank");
  }
  if (M.size < 2)
    return mproc__err(MPROC_EINVAL, "mproc_pool_new: no MPI rank to work "
                                    "(start with mpiexec -n 2 or more)");
  if (o->processes == 0)
    o->processes = M.size - 1;
  if (o->processes < 0 || o->processes > M.size - 1)
    return mproc__err(MPROC_EINVAL,
                      "mproc_pool_new: %d processes, but the job has %d "
                      "worker ranks (mpiexec -n %d)",
                      o->processes, M.size - 1, M.size);
  if (o->maxtasksperchild || o->memory_limit)
    return mproc__err(MPROC_ENOTSUP,
                      "mproc_pool_new: the MPI backend has no "
                      "maxtasksperchild or memory_limit (a rank is not "
                      "restarted)");
  for (r = 1; r <= o->processes; r++)
    if (M.refused[r])
      return mproc__err(MPROC_ESPAWN,
                        "mproc_pool_new: MPI rank %d runs another binary "
                        "than rank 0 (a different build): refused",
                        r);
  if (!M.ap) {
    if (apr_pool_create_unmanaged_ex(&M.ap, NULL, NULL) != APR_SUCCESS ||
        apr_thread_mutex_create(&M.mu, APR_THREAD_MUTEX_DEFAULT, M.ap) !=
            APR_SUCCESS ||
        apr_thread_cond_create(&M.fcv, M.ap) != APR_SUCCESS)
      return mproc__err(MPROC_EOS, "MPI backend mutex");
    M.rk = calloc((size_t)M.size, sizeof *M.rk);
    if (!M.rk)
      return mproc__err(MPROC_ENOMEM, "MPI backend");
    if ((rc = mproc_pipe(&M.wake_r, &M.wake_w, 0)) != 0)
      return rc;
  }
  apr_thread_mutex_lock(M.mu);
  busy = M.nopen > 0;
  apr_thread_mutex_unlock(M.mu);
  if (busy)
    return mproc__err(MPROC_EINVAL, "mproc_pool_new: another MPI pool "
                                    "still uses the ranks (one at a time)");
  if (!M.fth && (rc = mproc_thread_start(&M.fth, feeder_main, NULL)) != 0)
    return rc;
  if (!M.th && (rc = mproc_thread_start(&M.th, hub_main, NULL)) != 0)
    return rc;
  *be = &mpi_backend;
  return 0;
}
