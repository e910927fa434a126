/*
 * platform.h - the seam between lib/ (portable) and the OS.
 *
 * lib/ includes this header and never an OS header.  platform/posix/ and
 * platform/win32/ implement it with the same file names; CMake picks one.
 *
 * Every function returns 0 (or a documented non-negative value) or a
 * negative MPROC_E* code; on failure it has recorded the detail and the OS
 * error with mproc__err_os() (lib/error.c), translating errno or
 * GetLastError() once, here at the boundary.
 *
 * Handles: an fd on POSIX, a HANDLE on Win32, both carried in an intptr_t.
 * Every handle the library creates is private to the process (O_CLOEXEC /
 * not inheritable); only mproc__plat_spawn_self() hands chosen ones to a
 * child.  Stream handles (pipe ends) are always in blocking mode on POSIX
 * and always overlapped on Win32, in every process that holds them.
 */
#ifndef MPROC_PLATFORM_H
#define MPROC_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

typedef intptr_t mproc__handle;
#define MPROC__NOHANDLE ((mproc__handle)-1)

/* The command-line marker of a spawned child: "<exe> MARK <tok> <tok>". */
#define MPROC__CHILD_MARK "--mproc-spawned-child"

/* ---- errors and thread-local state ------------------------------------ */

/* The calling thread's error record (lib/error.c fills it). */
typedef struct mproc__errrec {
  int code;
  long oserr;
  char detail[320];
} mproc__errrec;
mproc__errrec *mproc__plat_errrec(void);
/* The OS's text for an OS error code, into buf (always NUL-terminated). */
void mproc__plat_oserror_text(long oserr, char *buf, size_t cap);
/* The calling thread's last OS error (errno / GetLastError()). */
long mproc__plat_last_oserror(void);

/* ---- streams: the two ends of a Pipe ---------------------------------- */

/*
 * A connected pair.  duplex: both ends read and write.  Simplex: *a reads
 * and *b writes.  POSIX: socketpair(AF_UNIX, SOCK_SEQPACKET) (SOCK_STREAM
 * where that is missing; writes never raise SIGPIPE); Win32: an
 * overlapped byte-mode named pipe pair.
 */
int mproc__plat_stream_pair(mproc__handle *a, mproc__handle *b, int duplex);
/*
 * 1 if h keeps the boundaries of writes (each write of up to 64 KiB is one
 * record and a read returns at most one record: POSIX SOCK_SEQPACKET),
 * 0 for a byte stream (Win32 pipes, the POSIX bootstrap socket).
 */
int mproc__plat_stream_records(mproc__handle h);
/*
 * The bytes a write on h may leave unread in the stream without blocking,
 * as the OS reports it (POSIX: half of SO_SNDBUF, which the kernel doubles
 * for its own bookkeeping; Win32: the smaller of the named pipe's two
 * buffer sizes); 0 when the OS does not say.
 */
size_t mproc__plat_stream_bufsize(mproc__handle h);
/*
 * On a record handle: read the next record whole into buf (len > 0).
 * A record longer than len is MPROC_EBADMSG (its bytes are lost: the
 * writer broke the framing).  Else as stream_read.
 */
int mproc__plat_stream_read_record(mproc__handle h, void *buf, size_t len,
                                   size_t *got);
/* The same, the record scattered: its first na bytes into a, the rest
 * into b (nb bytes); *got is the whole record's length. */
int mproc__plat_stream_read_record2(mproc__handle h, void *a, size_t na,
                                    void *b, size_t nb, size_t *got);
/*
 * Read at most len (> 0) bytes, blocking until at least one arrives.
 * 0 with *got > 0; MPROC_EEOF when the peer has gone (all its copies are
 * closed, or its process died).
 */
int mproc__plat_stream_read(mproc__handle h, void *buf, size_t len,
                            size_t *got);
/* Write all bytes (blocking).  MPROC_EEOF when the peer has gone. */
int mproc__plat_stream_write(mproc__handle h, const void *buf, size_t len);
/* Gather write of two pieces (header + payload) as if one buffer (on a
 * record handle: one record). */
int mproc__plat_stream_write2(mproc__handle h, const void *a, size_t na,
                              const void *b, size_t nb);
int mproc__plat_close(mproc__handle h);

/* ---- waiting ----------------------------------------------------------- */

enum {
  MPROC__W_STREAM = 1, /* ready when a stream has bytes to read, or EOF */
  MPROC__W_PROCESS = 2 /* ready when a process sentinel says it ended */
};
typedef struct mproc__waititem {
  mproc__handle h;
  int kind;
} mproc__waititem;
/*
 * Wait until one of items is ready or timeout (seconds; < 0 forever, 0
 * poll) passes.  Sets ready[i] to 1/0 for every item and returns how many
 * are ready (0 on timeout).  n may be 0 (then it just sleeps).
 */
int mproc__plat_wait(const mproc__waititem *items, size_t n, double timeout,
                     int *ready);

/* ---- processes --------------------------------------------------------- */

typedef struct mproc__child {
  long pid;
  mproc__handle proc;     /* Win32: process HANDLE; POSIX: NOHANDLE */
  mproc__handle boot;     /* parent's end of the bootstrap channel: a
                             duplex stream, like a duplex stream_pair */
  mproc__waititem sentinel; /* ready once the child has ended; its handle
                               belongs to proc_release, never close it */
} mproc__child;

/*
 * Start the running executable again as "<exe> MARK <tok> <tok>".  The
 * child gets exactly the n handles listed (plus stdin/stdout/stderr and the
 * bootstrap channel); child_values[i] receives the value handles[i] has in
 * the child.  flags: MPROC__SPAWN_DAEMON: the child must die with this
 * process (Win32: a kill-on-close Job object; POSIX: the child arranges it
 * in mproc__plat_child_setup); MPROC__SPAWN_NOINTR: Ctrl-C cannot end the
 * child from its first instruction (POSIX: it starts with SIGINT blocked,
 * until mproc__plat_ignore_interrupt; Win32: CREATE_NEW_PROCESS_GROUP,
 * which starts it with CTRL_C ignored).  On success the child is running
 * and waiting to read its bootstrap message from out->boot.  Safe to call
 * from many threads at once: a child never receives another child's
 * handles.
 */
enum { MPROC__SPAWN_DAEMON = 1, MPROC__SPAWN_NOINTR = 2 };
int mproc__plat_spawn_self(const mproc__handle *handles, size_t n,
                           mproc__handle *child_values, int flags,
                           mproc__child *out);
/*
 * Collect the exit status.  block: wait for the end; else MPROC_ETIMEDOUT
 * if still running.  *exitcode: the code the process exited with, or -N
 * when ended by signal N (Win32: TerminateProcess with the codes used by
 * mproc__plat_proc_signal reads back as -15 / -9; an access violation as
 * -11; STATUS_CONTROL_C_EXIT, the end by Ctrl-C, as -2).  Idempotent after
 * success.
 */
int mproc__plat_proc_reap(mproc__child *c, int block, int *exitcode);
/* hard = 0: terminate (SIGTERM, -15); hard = 1: kill (SIGKILL, -9). */
int mproc__plat_proc_signal(mproc__child *c, int hard);
/* Close what the parent holds for the child (after reaping). */
void mproc__plat_proc_release(mproc__child *c);
/*
 * The handshake's write on a bootstrap channel: write all len bytes, but
 * give up with MPROC_ETIMEDOUT once timeout seconds (>= 0) have passed (a
 * child that stops reading cannot hold start()).  MPROC_EEOF if the peer
 * has gone.  After a timeout the channel is unusable.
 */
int mproc__plat_boot_write(mproc__handle h, const void *buf, size_t len,
                           double timeout);

long mproc__plat_getpid(void);

/* ---- the child side ---------------------------------------------------- */

/*
 * If argv marks this process as a spawned child, set *boot to the
 * bootstrap channel and *parent to the parent's sentinel (an item that
 * becomes ready when the parent ends) and return 1; else return 0.
 */
int mproc__plat_child_args(int argc, char **argv, mproc__handle *boot,
                           mproc__waititem *parent);
/* 1 if this process's own command line carries the child mark. */
int mproc__plat_marked_child(void);
/*
 * Take ownership of a handle received at spawn: make it private again
 * (close-on-exec / not inheritable) so it reaches no grandchild.
 */
int mproc__plat_adopt(mproc__handle h);
/*
 * Called in the child before the target runs.  daemon: die when the
 * parent *process* dies, even by SIGKILL, whichever of its threads started
 * this child.  POSIX: a thread watches the lifeline (the bootstrap
 * channel, whose other end only the parent process holds) and kills this
 * process with SIGKILL at its EOF; Win32: the kill-on-close Job object the
 * parent put this process in (nothing to do here).
 */
int mproc__plat_child_setup(mproc__waititem parent, int daemon);
/* Flushing is the caller's job; this ends the process with code. */
void mproc__plat_exit(int code);
/* The running executable's path (UTF-8) into buf; MPROC_EOS if unknown
 * (the MPI backend hashes it). */
int mproc__plat_self_exe(char *buf, size_t cap);

/* ---- functions that travel: (module, offset) --------------------------- */

/*
 * Name the loaded image that holds addr (module, "" for the main
 * executable on POSIX) and addr's offset in it.  MPROC_ETARGET if addr is
 * in no loaded image.
 */
int mproc__plat_addr_to_ref(const void *addr, char *module, size_t cap,
                            uint64_t *offset);
/* The inverse, in the child: MPROC_ETARGET if no such image or offset. */
int mproc__plat_ref_to_addr(const char *module, uint64_t offset, void **addr);
/* Load a shared library by name or path, its symbols global (POSIX
 * dlopen RTLD_NOW | RTLD_GLOBAL; Win32 LoadLibraryA); NULL if it cannot
 * be.  The MPI backend loads MPI this way, only under mpiexec. */
void *mproc__plat_dlopen(const char *name);
/* A symbol of a library mproc__plat_dlopen gave; NULL if none. */
void *mproc__plat_dlsym(void *lib, const char *name);

/* ---- shared memory ------------------------------------------------------ */

/*
 * A new zero-filled block of size bytes that has no name: Linux
 * memfd_create(MFD_CLOEXEC | MFD_ALLOW_SEALING) + ftruncate + seals
 * SHRINK | GROW | SEAL; Win32 CreateFileMappingW(INVALID_HANDLE_VALUE,
 * not inheritable, no name).  The OS frees it when the last handle and
 * mapping are gone, even if every user is killed.  *h travels at spawn.
 */
int mproc__plat_shm_anon(size_t size, mproc__handle *h);
/*
 * A named block (SharedMemory).  create: make it (size bytes, zero-filled)
 * or fail with MPROC_EEXIST if the name exists; else open it or fail with
 * MPROC_ENOENT.  *size: in for create, out (the block's size) for open.
 * POSIX shm_open("/" name, O_CLOEXEC, 0600); Win32 CreateFileMappingW /
 * OpenFileMappingW on L"Local\\" name, size from VirtualQuery of a view.
 * name is [A-Za-z0-9_.-], at most 200 bytes (lib/ checks).
 */
int mproc__plat_shm_named(const char *name, int create, size_t *size,
                          mproc__handle *h);
/* POSIX shm_unlink (MPROC_ENOENT if no such name); Win32: 0 (a name
 * dies with its last handle). */
int mproc__plat_shm_unlink(const char *name);
/*
 * A nameless block that grows in place (a Queue's ring): size bytes
 * usable at first, reserve bytes of address space in every mapping of it
 * (map it with size = reserve).  Linux: a memfd of size bytes sealed
 * against shrinking only; Win32: CreateFileMappingW(SEC_RESERVE) of
 * reserve bytes.  Growing needs no new handle, so the children that got
 * the block at spawn see the growth.
 */
int mproc__plat_shm_anon_growable(size_t size, size_t reserve,
                                  mproc__handle *h);
/*
 * Make the first size bytes of this process's mapping addr of growable
 * block h usable (idempotent; never shrinks; keeps the contents).  Linux:
 * ftruncate the file up to size (no-op when it is that long; pages come
 * when first written); Win32: VirtualAlloc(MEM_COMMIT) in this view
 * (MPROC_ENOMEM past the commit limit).
 */
int mproc__plat_shm_commit(mproc__handle h, void *addr, size_t size);
/*
 * The bytes [off, off + len) of growable block h are no longer used: give
 * their memory back; they read as zeros later.  Linux: fallocate
 * PUNCH_HOLE | KEEP_SIZE; Win32: nothing (a section's committed pages
 * cannot be decommitted; they stay for the next growth).
 */
int mproc__plat_shm_discard(mproc__handle h, void *addr, size_t off,
                            size_t len);
/* Map the whole block read-write, shared, at a page-aligned address (a
 * growable block: its first page is usable, the rest after shm_commit). */
int mproc__plat_shm_map(mproc__handle h, size_t size, void **addr);
int mproc__plat_shm_unmap(void *addr, size_t size);
/* The page size (allocation granularity of a block). */
size_t mproc__plat_page_size(void);

/* ---- waiting on a word in shared memory ---------------------------------- */

/*
 * A parking place for the sleepers on one 32-bit word of a shared block.
 * Linux: none is needed (futex on the address): *park = MPROC__NOHANDLE.
 * Win32: an unnamed semaphore, count 0, max LONG_MAX, not inheritable; it
 * travels at spawn with its block.  One park per waited word, never shared
 * between words.  Close it with mproc__plat_close (NOHANDLE: nothing).
 */
int mproc__plat_park_new(mproc__handle *park);
/* 1 when this OS needs parks (the handle travels), 0 when not. */
int mproc__plat_park_needed(void);
/*
 * Sleep while *word == expect, at most timeout seconds (< 0 forever).
 * sleepers is a counter beside word in the same block.  Returns 0 when
 * woken, when *word differed, or spuriously (Win32 returns after at most
 * 50 ms: see win32/sync.c); MPROC_ETIMEDOUT when the time passed.  Callers
 * always loop and re-check.  Linux: FUTEX_WAIT (shared)
 * with a relative timeout (CLOCK_MONOTONIC), sleepers counted too so a
 * waker can skip the system call; Win32: sleepers++, re-check,
 * WaitForSingleObject(park, ms rounded up), sleepers--.
 */
int mproc__plat_word_wait(mproc__handle park, volatile uint32_t *word,
                          uint32_t expect, volatile uint32_t *sleepers,
                          double timeout);
/*
 * Wake up to n sleepers of word (INT_MAX: all).  A no-op when *sleepers
 * is 0.  Linux FUTEX_WAKE; Win32 ReleaseSemaphore(park, min(n, sleepers)).
 */
int mproc__plat_word_wake(mproc__handle park, volatile uint32_t *word,
                          volatile uint32_t *sleepers, int n);

/* ---- identity and liveness of processes and threads ---------------------- */

/*
 * This process's (pid, tag).  tag tells this incarnation of pid from a
 * later process that reuses the number, and is never 0 (Linux: the start
 * time from /proc/self/stat, or 1 without /proc; Win32: the creation
 * time).  pid < 2^31.  Never fails.
 */
int mproc__plat_proc_identity(uint32_t *pid, uint32_t *tag);
/* 1 if (pid, tag) still runs, 0 if it ended or pid now names another
 * process. */
int mproc__plat_proc_alive(uint32_t pid, uint32_t tag);
/* The calling thread's OS id (gettid / GetCurrentThreadId), never 0. */
uint32_t mproc__plat_thread_id(void);

/* ---- the resource tracker (POSIX named blocks) --------------------------- */

/*
 * In the tracker process: leave the parent's session and process group
 * (setsid) and ignore SIGINT/SIGTERM/SIGHUP/SIGPIPE, so that killing the
 * user's process group does not take the tracker with it.  Win32 (which
 * needs no tracker): MPROC_ENOTSUP.
 */
int mproc__plat_tracker_detach(void);
/* 1 on systems whose named blocks outlive their users (POSIX), else 0. */
int mproc__plat_names_persist(void);

/* ---- misc --------------------------------------------------------------- */

int mproc__plat_cpu_count(void);
/* Seconds on a monotonic clock. */
double mproc__plat_monotonic(void);
void mproc__plat_sleep(double seconds);
/* Fill buf with n cryptographically random bytes. */
int mproc__plat_random(void *buf, size_t n);
/* Set (value != NULL) or unset an environment variable. */
int mproc__plat_setenv(const char *name, const char *value);
/* The calling thread's short sleeps end on time (Linux: a timer slack of
 * 1 us instead of 50; elsewhere nothing): the MPI backend's polling. */
void mproc__plat_precise_sleeps(void);
/* The calling thread gives way to the other threads of the machine (POSIX:
 * nice + 5; Win32: below normal): a worker MPI rank on rank 0's
 * oversubscribed node, so rank 0's threads run the moment they wake. */
void mproc__plat_lower_priority(void);
/* atexit for the library's exit hooks: fn runs in exit() while the
 * process's other threads still run, among the program's own atexit
 * functions (last registered first), also when mproc is a DLL. */
int mproc__plat_atexit(void (*fn)(void));

/* ---- pool workers ---------------------------------------------------------- */

/* Ignore Ctrl-C in this process (SIGINT ignored / SetConsoleCtrlHandler(
 * NULL, TRUE)): in a pool only the parent reacts to it.  POSIX: a SIGINT
 * held pending since a MPROC__SPAWN_NOINTR start is dropped, and SIGINT
 * is unblocked again in the calling thread. */
int mproc__plat_ignore_interrupt(void);
/* Cap this process's memory at bytes (POSIX RLIMIT_AS; Win32 a Job object
 * with a process memory limit): allocations above it fail.  Win32 also
 * starts a watchdog thread that ends the process with exit_code once its
 * commit charge is above bytes, for where the Job's limit is not enforced
 * (Windows 7 inside a job, wine); POSIX ignores exit_code. */
int mproc__plat_memory_limit(size_t bytes, int exit_code);
/* ---- listening endpoints (the Manager; posix|win32/listen.c) ------------ */

/*
 * A server endpoint that accepts stream connections.  Local addresses are
 * UTF-8 strings: POSIX "/path" (AF_UNIX), Win32 "\\.\pipe\name" (an
 * overlapped byte-mode named pipe, owner-only DACL, remote clients
 * rejected).  NULL asks for a private local address: POSIX a socket in a
 * new 0700 directory under $TMPDIR (or /tmp), Win32 a pipe of random name
 * with an owner-only DACL.  The address actually used is written to addr
 * (cap bytes).  TCP endpoints get the host and port already parsed
 * (lib/manager/address.c reads "host:port" for both OSes).  Accepted and
 * connected handles are stream handles as a Pipe's (conn.c wraps them):
 * blocking on POSIX, overlapped on Win32; both private to the process.
 */
typedef struct mproc__listener mproc__listener;
/* TCP keepalive for every TCP connection (both ends): a peer that vanishes
 * without closing (host down, network cut) is found after about idle +
 * interval * count seconds of silence (also as TCP_USER_TIMEOUT where the
 * OS has it); idle 0: off. */
typedef struct mproc__keepalive {
  int idle, interval, count;
} mproc__keepalive;
int mproc__plat_listen_local(const char *want, char *addr, size_t cap,
                             mproc__listener **out);
/* TCP on host ("" every interface) and port (0: the OS picks); the bound
 * numeric host and port are written to bound (hcap bytes) and *bport. */
int mproc__plat_listen_tcp(const char *host, unsigned port,
                           const mproc__keepalive *ka, char *bound,
                           size_t hcap, unsigned *bport,
                           mproc__listener **out);
/* Block until a client connects. MPROC_ECLOSED once listener_stop ran. */
int mproc__plat_accept(mproc__listener *l, mproc__handle *h);
/* Make a blocked or later accept return MPROC_ECLOSED (any thread). */
void mproc__plat_listener_stop(mproc__listener *l);
/* Close and free (removes a private socket and its directory). */
void mproc__plat_listener_free(mproc__listener *l);
/* Connect to a listening address within timeout seconds (< 0: forever):
 * MPROC_EEOF when nobody listens, MPROC_ETIMEDOUT when nobody answers in
 * time.  The TCP one says addr (the user's words) in its messages. */
int mproc__plat_connect_local(const char *addr, double timeout,
                              mproc__handle *h);
int mproc__plat_connect_tcp(const char *addr, const char *host,
                            unsigned port, const mproc__keepalive *ka,
                            double timeout, mproc__handle *h);

/* ---- tests only: list this process's open handles ----------------------- */

/*
 * Test support: write the values of this process's open handles that are
 * files, pipes or sockets (POSIX: every fd in /proc/self/fd except the
 * one used to list them; Win32: every valid handle of file type disk, pipe
 * or char) into out, ascending; return how many (may exceed cap).
 */
int mproc__plat_list_handles(long *out, size_t cap);

#endif /* MPROC_PLATFORM_H */
