/*
 * mproc.h - Python's multiprocessing for C, on Linux and Windows.
 *
 * One header, one API, one behaviour on both operating systems.  Children
 * are started by re-executing the program's own binary (never fork()):
 * main() must call mproc_init(argc, argv) before anything else.
 *
 * Conventions
 *  - A target's return value is the exit code, kept to 0..255 on both OSes.
 *  - Functions that can fail return 0 (or a non-negative count/flag where
 *    documented) on success and a negative MPROC_E* code on failure.
 *    mproc_strerror() names a code; mproc_last_error() gives the detail of
 *    the calling thread's most recent failure.
 *  - Timeouts are double seconds, in every blocking call: MPROC_FOREVER
 *    (and +inf) blocks; 0 or any other negative value polls (a deadline
 *    computed as deadline - now that has passed, as in Python); NaN is
 *    MPROC_EINVAL.
 *  - Every _new has a _free.  Freeing never blocks forever.
 *  - Values (mproc_value) are owned trees.  Functions documented as
 *    "steals" take ownership of their argument even when they fail.
 */
#ifndef MPROC_H
#define MPROC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPROC_VERSION_MAJOR 0
#define MPROC_VERSION_MINOR 1
#define MPROC_VERSION_PATCH 0

/*
 * MPROC_API marks every public function.  The build system defines it
 * (CMake, for the library and the users of its target): empty for the
 * static library (the default here), the DLL's export mark while building
 * mproc.dll and its import mark for its users, visibility("default") for
 * libmproc.so (built with -fvisibility=hidden).  A user of mproc.dll who
 * leaves it undefined still links: functions need no import mark.
 */
#ifndef MPROC_API
#define MPROC_API
#endif

/** Block without a time limit. */
#define MPROC_FOREVER (-1.0)

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * The error list: XX(NAME, value, message).  MPROC_E##NAME is the code.
 */
#define MPROC_ERRNO_MAP(XX)                                                  \
  XX(EINVAL, -1, "invalid argument")                                         \
  XX(ENOMEM, -2, "out of memory")                                            \
  XX(EOS, -3, "operating system error")                                      \
  XX(ECLOSED, -4, "object is closed")                                        \
  XX(EEOF, -5, "end of file: the peer closed the connection")                \
  XX(ETIMEDOUT, -6, "timed out")                                             \
  XX(ESTARTED, -7, "process already started")                                \
  XX(ENOTSTARTED, -8, "process not started")                                 \
  XX(ERUNNING, -9, "process is still running")                               \
  XX(ENOTCHILD, -10, "not a child of the calling process")                   \
  XX(ETARGET, -11, "target function cannot travel to a child process")      \
  XX(EINHERIT, -12,                                                          \
     "objects should only be shared between processes through inheritance")  \
  XX(EENCODE, -13, "value cannot be encoded")                                \
  XX(EBADMSG, -14, "malformed message")                                      \
  XX(ETOOBIG, -15, "message too large")                                      \
  XX(EBUFSIZE, -16, "buffer too small for the message")                      \
  XX(ETYPE, -17, "value has another type")                                   \
  XX(ERANGE, -18, "index out of range")                                      \
  XX(EKEY, -19, "key not found")                                             \
  XX(EACCESS, -20, "operation not permitted on this end of the pipe")        \
  XX(ENOTINIT, -21, "mproc_init(argc, argv) was not called")                 \
  XX(ESPAWN, -22, "child process failed to start")                           \
  XX(EFULL, -23, "queue is full")                                            \
  XX(EEMPTY, -24, "queue is empty")                                          \
  XX(EOWNERDEAD, -25, "the previous owner died holding the lock")            \
  XX(ENOTOWNER, -26, "lock is not held by the caller")                       \
  XX(EBROKEN, -27, "barrier is broken")                                      \
  XX(EWORKERDIED, -28, "worker process died")                                \
  XX(ENOTSUP, -29, "operation not supported")                               \
  XX(EEXIST, -30, "shared memory with that name exists")                    \
  XX(ENOENT, -31, "no shared memory with that name")                        \
  XX(EMFILE, -32, "too many open files")                                    \
  XX(EAUTH, -33, "authentication failed (wrong authkey?)")

enum {
  MPROC_OK = 0,
#define MPROC__XX(name, value, msg) MPROC_##name = (value),
  MPROC_ERRNO_MAP(MPROC__XX)
#undef MPROC__XX
  MPROC__ELAST = -34
};

/** The message for an error code ("success" for 0, "unknown error" else). */
MPROC_API const char *mproc_strerror(int code);
/** The symbolic name of an error code, e.g. "MPROC_EEOF". */
MPROC_API const char *mproc_errname(int code);
/**
 * Detail of the calling thread's most recent failure, e.g.
 * "mproc_conn_recv: the peer closed the connection".  Never NULL.
 */
MPROC_API const char *mproc_last_error(void);
/** The OS error (errno / GetLastError()) of that failure, or 0. */
MPROC_API long mproc_last_oserror(void);

/* ------------------------------------------------------------------------ */
/* Start-up                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * Call first in main().  In the program the user started it returns 0 at
 * once.  In a child spawned by mproc it reads the bootstrap message, runs
 * the target and exits with its return value: it never returns there.
 */
MPROC_API int mproc_init(int argc, char **argv);

/** Number of logical CPUs (at least 1). */
MPROC_API int mproc_cpu_count(void);

/** Sleep for seconds (Python's time.sleep; C has no portable one). */
MPROC_API void mproc_sleep(double seconds);
/** Seconds on a monotonic clock (Python's time.monotonic). */
MPROC_API double mproc_monotonic(void);

/** Release free-able memory; optional, used by leak checkers. */
MPROC_API void mproc_free(void *p);

/* ------------------------------------------------------------------------ */
/* Values: None, bool, int, float, str, bytes, list, dict, tuple, set, ...   */
/* ------------------------------------------------------------------------ */

typedef struct mproc_value mproc_value;
typedef struct mproc_conn mproc_conn;
typedef struct mproc_process mproc_process;

typedef enum mproc_type {
  MPROC_T_NONE = 0,
  MPROC_T_BOOL,
  MPROC_T_INT,
  MPROC_T_FLOAT,
  MPROC_T_STR,
  MPROC_T_BYTES,
  MPROC_T_LIST,
  MPROC_T_DICT,
  MPROC_T_OBJECT, /**< a reference to an OS object (a Connection, ...) */
  MPROC_T_TUPLE,
  MPROC_T_SET
} mproc_type;

/*
 * Constructors return NULL only when memory (or, for strings, valid UTF-8)
 * is missing; the functions that take a value treat NULL as that failure,
 * so construction can be nested: mproc_list_append(l, mproc_int(42)).
 */
MPROC_API mproc_value *mproc_none(void);
MPROC_API mproc_value *mproc_bool(int b);
MPROC_API mproc_value *mproc_int(int64_t i);
MPROC_API mproc_value *mproc_float(double d);
/** A str from NUL-terminated UTF-8 (copied).  NULL if not valid UTF-8. */
MPROC_API mproc_value *mproc_str(const char *utf8);
MPROC_API mproc_value *mproc_strn(const char *utf8, size_t n);
MPROC_API mproc_value *mproc_bytes(const void *p, size_t n);
MPROC_API mproc_value *mproc_list(void);
MPROC_API mproc_value *mproc_dict(void);
/** An empty tuple to fill with mproc_tuple_append (or mproc_build "(...)"). */
MPROC_API mproc_value *mproc_tuple(void);
/** An empty set (Python's set()). */
MPROC_API mproc_value *mproc_set(void);
/** A reference to a Connection; the value does not own it. */
MPROC_API mproc_value *mproc_conn_ref(mproc_conn *c);

/**
 * Build a value from a format, like Python's Py_BuildValue:
 *   n None   b bool(int)   i int(int)   l int(long)   L int(int64_t)
 *   f float(double)   s str(const char *)   y bytes(const void *, size_t)
 *   C Connection(mproc_conn *)   O a value (mproc_value *, stolen)
 *   [...] list   (...) tuple   {k:v, ...} dict (the ':' and ',' are
 *   optional spacing)   <...> set
 * Example: mproc_build("[sis]", "spam", 42, "egg").  NULL on failure.
 */
MPROC_API mproc_value *mproc_build(const char *fmt, ...);

MPROC_API void mproc_value_free(mproc_value *v);
MPROC_API mproc_value *mproc_value_copy(const mproc_value *v);
MPROC_API mproc_type mproc_value_type(const mproc_value *v);
/** Python's == for values (1 == 1.0, lists and dicts by content, sets in
 *  any order; a tuple never equals a list).  None, True, False, small ints
 *  and empty str/bytes/tuple are shared: never compare values by pointer. */
MPROC_API int mproc_value_equal(const mproc_value *a, const mproc_value *b);

MPROC_API int mproc_value_get_bool(const mproc_value *v, int *out);
MPROC_API int mproc_value_get_int(const mproc_value *v, int64_t *out);
/** Accepts int and float. */
MPROC_API int mproc_value_get_float(const mproc_value *v, double *out);
/** The UTF-8 text of a str (NUL-terminated; *n may be NULL). */
MPROC_API int mproc_value_get_str(const mproc_value *v, const char **s, size_t *n);
MPROC_API int mproc_value_get_bytes(const mproc_value *v, const void **p, size_t *n);
MPROC_API int mproc_value_get_conn(const mproc_value *v, mproc_conn **out);
/** Shorthand: the text of a str, or NULL. */
MPROC_API const char *mproc_value_str(const mproc_value *v);

/** Append, stealing item. */
MPROC_API int mproc_list_append(mproc_value *list, mproc_value *item);
MPROC_API size_t mproc_list_len(const mproc_value *list);
/** Borrowed element, NULL when out of range or not a list. */
MPROC_API mproc_value *mproc_list_get(const mproc_value *list, size_t i);
/** Replace element i, stealing item. */
MPROC_API int mproc_list_set(mproc_value *list, size_t i, mproc_value *item);

/** Insert or replace; steals key and val.  Keys must be hashable, as in
 *  Python: scalars and tuples of hashables; a list, dict or set key gives
 *  MPROC_ETYPE "unhashable type: 'list'".  A tuple key can no longer grow. */
MPROC_API int mproc_dict_set(mproc_value *dict, mproc_value *key, mproc_value *val);
MPROC_API int mproc_dict_set_str(mproc_value *dict, const char *key, mproc_value *val);
/** Borrowed value for key, NULL if absent. */
MPROC_API mproc_value *mproc_dict_get(const mproc_value *dict, const mproc_value *key);
MPROC_API mproc_value *mproc_dict_get_str(const mproc_value *dict, const char *key);
MPROC_API size_t mproc_dict_len(const mproc_value *dict);
/** The i-th item in insertion order (borrowed). */
MPROC_API int mproc_dict_item(const mproc_value *dict, size_t i, mproc_value **key,
                    mproc_value **val);

/** Append to a tuple being built, stealing item.  MPROC_EINVAL once the
 *  tuple is a dict key or set member (then it is immutable). */
MPROC_API int mproc_tuple_append(mproc_value *tuple, mproc_value *item);
MPROC_API size_t mproc_tuple_len(const mproc_value *tuple);
/** Borrowed element, NULL when out of range or not a tuple. */
MPROC_API mproc_value *mproc_tuple_get(const mproc_value *tuple, size_t i);

/** Add item (stolen); an equal member already there stays and item is
 *  freed.  Members must be hashable (see mproc_dict_set). */
MPROC_API int mproc_set_add(mproc_value *set, mproc_value *item);
/** 1 if an equal member is in the set, 0 if not, or a negative error. */
MPROC_API int mproc_set_contains(const mproc_value *set, const mproc_value *item);
MPROC_API size_t mproc_set_len(const mproc_value *set);
/** The i-th member in insertion order (borrowed), NULL when out of range.
 *  (Python orders a set by hash; mproc keeps insertion order.) */
MPROC_API mproc_value *mproc_set_item(const mproc_value *set, size_t i);

/** Python's repr(), e.g. "{'name': 'Bob', 'spam': 42}".  Free with
 *  mproc_free. */
MPROC_API int mproc_repr(const mproc_value *v, char **out);
/** Python's str(): like repr but a str is its text. */
MPROC_API int mproc_str_of(const mproc_value *v, char **out);

/**
 * Serialise a value that holds no OS objects (those give MPROC_EINHERIT).
 * *buf is freed with mproc_free.
 */
MPROC_API int mproc_encode(const mproc_value *v, void **buf, size_t *len);
/** Parse what mproc_encode made; malformed input gives MPROC_EBADMSG. */
MPROC_API int mproc_decode(const void *buf, size_t len, mproc_value **out);

/* ------------------------------------------------------------------------ */
/* Connections (Pipe)                                                       */
/* ------------------------------------------------------------------------ */

/**
 * Python's Pipe(duplex).  Duplex: both ends send and receive.  Simplex:
 * *a only receives and *b only sends (as Python's conn1, conn2).
 */
MPROC_API int mproc_pipe(mproc_conn **a, mproc_conn **b, int duplex);

/** Send a value (a list, dict, ...) as one message. */
MPROC_API int mproc_conn_send(mproc_conn *c, const mproc_value *v);
/** Receive one value; MPROC_EEOF when the peer has gone. */
MPROC_API int mproc_conn_recv(mproc_conn *c, mproc_value **out);
/** Send n bytes as one message (buf may be NULL when n is 0). */
MPROC_API int mproc_conn_send_bytes(mproc_conn *c, const void *buf, size_t n);
/** Python's None for the size and length arguments below. */
#define MPROC_NOSIZE (-1)
/**
 * Python's send_bytes(buf, offset, size): send size bytes of buf (buflen
 * bytes long) from offset; size MPROC_NOSIZE sends the rest.  MPROC_EINVAL
 * with Python's words: "offset is negative", "buffer length < offset",
 * "size is negative" (any other negative size), "buffer length < offset +
 * size".
 */
MPROC_API int mproc_conn_send_bytes_range(mproc_conn *c, const void *buf, size_t buflen,
                                int64_t offset, int64_t size);
/** Receive one message into a new buffer (free with mproc_free). */
MPROC_API int mproc_conn_recv_bytes(mproc_conn *c, void **buf, size_t *n);
/**
 * Python's recv_bytes(maxlength) (MPROC_NOSIZE: no limit; another negative
 * value is MPROC_EINVAL "negative maxlength").  A longer message is
 * MPROC_ETOOBIG "bad message length" and, as in Python, it stays unread
 * and this end stops receiving: a duplex end becomes write-only, a
 * receive-only end is closed.
 */
MPROC_API int mproc_conn_recv_bytes_max(mproc_conn *c, void **buf, size_t *n,
                              int64_t maxlength);
/**
 * Receive one message into buf.  If it does not fit, returns
 * MPROC_EBUFSIZE, sets *n to the size needed and keeps the message.
 */
MPROC_API int mproc_conn_recv_bytes_into(mproc_conn *c, void *buf, size_t cap,
                               size_t *n);
/**
 * Python's recv_bytes_into(buf, offset): the message goes to buf + offset
 * (cap is the whole buffer's size); *n is its length.  MPROC_EINVAL
 * "negative offset" / "offset too large" (offset > cap).  If it does not
 * fit in cap - offset: MPROC_EBUFSIZE, *n the length, and the message is
 * kept for the next receive (Python raises BufferTooShort carrying the
 * consumed message; C has no exception to carry it in).
 */
MPROC_API int mproc_conn_recv_bytes_into_at(mproc_conn *c, void *buf, size_t cap,
                                  int64_t offset, size_t *n);
/**
 * 1 if a message (or EOF) can be read now, 0 if not within timeout
 * (MPROC_FOREVER blocks; another negative timeout polls; NaN is
 * MPROC_EINVAL).
 */
MPROC_API int mproc_conn_poll(mproc_conn *c, double timeout);
MPROC_API int mproc_conn_readable(const mproc_conn *c);
MPROC_API int mproc_conn_writable(const mproc_conn *c);
MPROC_API int mproc_conn_closed(const mproc_conn *c);
/** Close the OS handle; later calls give MPROC_ECLOSED.  Closing a closed
 *  connection does nothing and returns 0 (Python). */
MPROC_API int mproc_conn_close(mproc_conn *c);
/** Close (if open) and release. */
MPROC_API void mproc_conn_free(mproc_conn *c);

/* ------------------------------------------------------------------------ */
/* Processes                                                                */
/* ------------------------------------------------------------------------ */

/** A target: args is the list given at creation (never NULL; an empty list
 *  when none was given).  It is borrowed: mproc frees it, and the objects
 *  it holds, after the target returns.  The return value (0..255) is the
 *  exit code. */
typedef int (*mproc_target)(mproc_value *args);
/** The struct style (Python's Process subclass): self is a copy of the
 *  struct's bytes, made in the child. */
typedef int (*mproc_run)(void *self, mproc_value *args);

typedef struct mproc_process_opts {
  const char *name; /**< NULL: "Process-N" (nested "Process-N:M") */
  int daemon;       /**< -1: as the current process (Python's default) */
} mproc_process_opts;

#define MPROC_PROCESS_OPTS_INIT {NULL, -1}

/**
 * Python's Process(target=f, args=...).  args (a list, may be NULL) is
 * stolen; it may hold Connections, which reach the child at start.
 */
MPROC_API int mproc_process_new(mproc_process **p, mproc_target target,
                      mproc_value *args, const mproc_process_opts *opts);
/** The struct style: the size bytes at self travel to the child. */
MPROC_API int mproc_process_new_struct(mproc_process **p, mproc_run run,
                             const void *self, size_t size, mproc_value *args,
                             const mproc_process_opts *opts);
MPROC_API int mproc_process_start(mproc_process *p);
/**
 * 0 once the process has exited, MPROC_ETIMEDOUT if not within timeout
 * (MPROC_FOREVER blocks; another negative value polls, as in Python; NaN
 * is MPROC_EINVAL).
 */
MPROC_API int mproc_process_join(mproc_process *p, double timeout);
/** 1 alive, 0 not (or not started), negative on error. */
MPROC_API int mproc_process_is_alive(mproc_process *p);
/** SIGTERM / TerminateProcess: exitcode reads -15 on both OSes. */
MPROC_API int mproc_process_terminate(mproc_process *p);
/** SIGKILL / TerminateProcess: exitcode reads -9 on both OSes. */
MPROC_API int mproc_process_kill(mproc_process *p);
/** Release OS resources; MPROC_ERUNNING if still running; 0 (nothing to
 * do) if already closed, as in Python. */
MPROC_API int mproc_process_close(mproc_process *p);
/** Release; a running process is detached (still joined at exit). */
MPROC_API void mproc_process_free(mproc_process *p);

/**
 * The exit code: the target's return value, or -N if a signal N ended it
 * (terminate -15, kill -9, a crash -11 ...).  MPROC_ENOTSTARTED before
 * start, MPROC_ERUNNING while it runs - and for mproc_current_process(),
 * which is running (Python's exitcode is None for both).
 */
MPROC_API int mproc_process_exitcode(mproc_process *p, int *code);
/** The OS pid, or 0 before start. */
MPROC_API long mproc_process_pid(const mproc_process *p);
MPROC_API const char *mproc_process_name(const mproc_process *p);
MPROC_API int mproc_process_set_name(mproc_process *p, const char *name);
MPROC_API int mproc_process_daemon(const mproc_process *p);
/** MPROC_ESTARTED after start (Python's "process has already started"). */
MPROC_API int mproc_process_set_daemon(mproc_process *p, int daemon);

/** The calling process ("MainProcess" in the program the user started). */
MPROC_API mproc_process *mproc_current_process(void);
/** The parent (NULL in the main process).  Only is_alive, join, pid and
 *  name apply to it. */
MPROC_API mproc_process *mproc_parent_process(void);
/**
 * Children started by this process that are still running; finished ones
 * are reaped.  Fills up to cap pointers (borrowed) and returns the count
 * of all of them (which may exceed cap), or an error.
 */
MPROC_API int mproc_active_children(mproc_process **out, size_t cap);

/* ------------------------------------------------------------------------ */
/* Waiting on several objects (multiprocessing.connection.wait)             */
/* ------------------------------------------------------------------------ */

typedef struct mproc_waitable mproc_waitable;
MPROC_API mproc_waitable *mproc_conn_waitable(mproc_conn *c);
/** A process's sentinel: ready once it has ended. */
MPROC_API mproc_waitable *mproc_process_sentinel(mproc_process *p);
/**
 * Wait until at least one of objs is ready (a Connection has a message or
 * EOF; a process has ended) or timeout passes (MPROC_FOREVER blocks;
 * another negative timeout polls; NaN is MPROC_EINVAL).  ready[i] is set
 * to 1 or 0.  Returns the number ready (0 on timeout) or an error.
 */
MPROC_API int mproc_wait(mproc_waitable *const *objs, size_t n, double timeout,
               int *ready);

/* ------------------------------------------------------------------------ */
/* Synchronization: Lock, RLock, Semaphore, Event, Condition, Barrier       */
/* ------------------------------------------------------------------------ */
/*
 * Python's multiprocessing.synchronize, for processes and threads alike.
 * Every object lives in a small block of shared memory that has no name
 * (it cannot leak) and reaches a child only as an argument of the
 * process (mproc_lock_ref(l) etc. in the args list): "shared through
 * inheritance".  Inside a value sent anywhere else (a Pipe, a Queue) an
 * object gives MPROC_EINHERIT.  In the child, mproc_value_get_lock() and
 * friends borrow the object from the argument; it lives until the target
 * returns (take a reference with mproc_lock_incref() to keep it longer).
 *
 * Blocking calls take a timeout in seconds on a monotonic clock
 * (MPROC_FOREVER blocks, 0 or another negative value polls, NaN is
 * MPROC_EINVAL) and return 0 on success or MPROC_ETIMEDOUT.
 *
 * Owner death: when a process dies holding a Lock or RLock, the next
 * acquirer gets the lock *and* MPROC_EOWNERDEAD (a negative code, but the
 * lock IS held: release it when the protected data is consistent again).
 * Detected at once by a poll (timeout 0) and within 50 ms by a blocked
 * acquirer.  Semaphores, Events, Conditions and Barriers have no owner
 * to detect (docs/sync.md says what happens to each).
 */
typedef struct mproc_lock mproc_lock;
typedef struct mproc_sem mproc_sem;
typedef struct mproc_event mproc_event;
typedef struct mproc_cond mproc_cond;
typedef struct mproc_barrier mproc_barrier;

/** Python's Lock(): any process or thread may release it. */
MPROC_API int mproc_lock_new(mproc_lock **l);
/** Python's RLock(): recursive; only the owning thread releases it. */
MPROC_API int mproc_rlock_new(mproc_lock **l);
/**
 * 0 acquired; MPROC_ETIMEDOUT not within timeout; MPROC_EOWNERDEAD
 * acquired from a process that died holding it.  A Lock is not recursive:
 * the owner acquiring again waits (as in Python).
 */
MPROC_API int mproc_lock_acquire(mproc_lock *l, double timeout);
/**
 * Lock: MPROC_EINVAL "semaphore or lock released too many times" if it is
 * not locked.  RLock: MPROC_ENOTOWNER unless the calling thread owns it.
 */
MPROC_API int mproc_lock_release(mproc_lock *l);
/** 1 for an RLock, 0 for a Lock. */
MPROC_API int mproc_lock_is_recursive(const mproc_lock *l);
/** 1 if the calling thread holds l (Python's _is_mine()). */
MPROC_API int mproc_lock_is_mine(const mproc_lock *l);
/** Another reference: the object is released by the last mproc_lock_free. */
MPROC_API mproc_lock *mproc_lock_incref(mproc_lock *l);
MPROC_API void mproc_lock_free(mproc_lock *l);

/** Python's Semaphore(value): MPROC_EINVAL if value < 0. */
MPROC_API int mproc_sem_new(mproc_sem **s, int value);
/** Python's BoundedSemaphore(value): releasing above value is an error. */
MPROC_API int mproc_bsem_new(mproc_sem **s, int value);
MPROC_API int mproc_sem_acquire(mproc_sem *s, double timeout);
/** BoundedSemaphore at its value: MPROC_EINVAL "semaphore or lock
 *  released too many times". */
MPROC_API int mproc_sem_release(mproc_sem *s);
/** The current value (works on every OS).  A release beyond 2^31-1 is
 *  MPROC_EINVAL. */
MPROC_API int mproc_sem_get_value(const mproc_sem *s);
MPROC_API mproc_sem *mproc_sem_incref(mproc_sem *s);
MPROC_API void mproc_sem_free(mproc_sem *s);

MPROC_API int mproc_event_new(mproc_event **e);
MPROC_API int mproc_event_set(mproc_event *e);
MPROC_API int mproc_event_clear(mproc_event *e);
/** 1 if set, 0 if not. */
MPROC_API int mproc_event_is_set(const mproc_event *e);
/** 0 once the flag is set, MPROC_ETIMEDOUT if not within timeout. */
MPROC_API int mproc_event_wait(mproc_event *e, double timeout);
MPROC_API mproc_event *mproc_event_incref(mproc_event *e);
MPROC_API void mproc_event_free(mproc_event *e);

/**
 * Python's Condition(lock): lock is a Lock or RLock (the Condition keeps a
 * reference), or NULL for a new RLock of its own (Python's default).
 */
MPROC_API int mproc_cond_new(mproc_cond **c, mproc_lock *lock);
/** The Condition's lock (borrowed). */
MPROC_API mproc_lock *mproc_cond_lock(mproc_cond *c);
/** Shorthands for mproc_lock_acquire/release on the Condition's lock. */
MPROC_API int mproc_cond_acquire(mproc_cond *c, double timeout);
MPROC_API int mproc_cond_release(mproc_cond *c);
/**
 * Release the lock (all levels of an RLock), sleep until notified or
 * timeout, take the lock back (always, also on timeout).  0 notified,
 * MPROC_ETIMEDOUT, MPROC_ENOTOWNER if the caller does not hold the lock,
 * MPROC_EOWNERDEAD if taking it back found its holder dead.
 */
MPROC_API int mproc_cond_wait(mproc_cond *c, double timeout);
/** Python's wait_for: wait until pred(ctx) is non-zero.  0 when it is,
 *  MPROC_ETIMEDOUT when it still is not at the timeout. */
MPROC_API int mproc_cond_wait_for(mproc_cond *c, int (*pred)(void *ctx), void *ctx,
                        double timeout);
/** Wake up to n waiters (caller holds the lock, else MPROC_ENOTOWNER). */
MPROC_API int mproc_cond_notify(mproc_cond *c, unsigned n);
MPROC_API int mproc_cond_notify_all(mproc_cond *c);
MPROC_API mproc_cond *mproc_cond_incref(mproc_cond *c);
MPROC_API void mproc_cond_free(mproc_cond *c);

/**
 * A Barrier's action runs in the last process to arrive, before the others
 * are released; non-zero breaks the barrier.  Like a target it travels to
 * children as a reference to the function in the program's binary.
 */
typedef int (*mproc_barrier_action)(void);
/**
 * For mproc_barrier_wait: the timeout given to mproc_barrier_new (Python's
 * wait(None)).  The one negative timeout that neither blocks nor polls.
 */
#define MPROC_DEFAULT_TIMEOUT (-2.0)
/**
 * Python's Barrier(parties, action, timeout): action may be NULL; timeout
 * (MPROC_FOREVER or seconds) is the default of mproc_barrier_wait.  A
 * negative default polls, as in Python (a waiter that is not the last
 * breaks the barrier at once).  MPROC_EINVAL if parties < 1, or timeout is
 * NaN or MPROC_DEFAULT_TIMEOUT.
 */
MPROC_API int mproc_barrier_new(mproc_barrier **b, int parties,
                      mproc_barrier_action action, double timeout);
/**
 * Wait for all parties.  Returns the arrival index 0 .. parties-1, or
 * MPROC_EBROKEN (the barrier was, or became, broken: abort, a timeout of
 * any waiter, a failed action, a reset while waiting).
 */
MPROC_API int mproc_barrier_wait(mproc_barrier *b, double timeout);
/** Break the barrier: current and future waiters get MPROC_EBROKEN. */
MPROC_API int mproc_barrier_abort(mproc_barrier *b);
/** Back to the empty state; current waiters get MPROC_EBROKEN. */
MPROC_API int mproc_barrier_reset(mproc_barrier *b);
MPROC_API int mproc_barrier_broken(mproc_barrier *b);
MPROC_API int mproc_barrier_n_waiting(mproc_barrier *b);
MPROC_API int mproc_barrier_parties(const mproc_barrier *b);
MPROC_API mproc_barrier *mproc_barrier_incref(mproc_barrier *b);
MPROC_API void mproc_barrier_free(mproc_barrier *b);

/* ------------------------------------------------------------------------ */
/* Shared memory: Value, Array, RawValue, RawArray, SharedMemory             */
/* ------------------------------------------------------------------------ */

/**
 * Typed shared memory, Python's sharedctypes.  typecode is one of Python's
 * b B h H i I l L q Q f d c (signed char, unsigned char, short, unsigned
 * short, int, unsigned int, long, unsigned long, long long, unsigned long
 * long, float, double, char); l and L are the C compiler's long, as in
 * Python (8 bytes on Linux, 4 on Windows).  Items start zeroed unless
 * init (length items of that C type) is given.  A Value is an Array of
 * one item.  With a lock, lock == NULL makes an RLock of its own
 * (Python's default) and any other Lock/RLock is used (and referenced).
 */
typedef struct mproc_shared mproc_shared;
MPROC_API int mproc_shared_value(mproc_shared **v, char typecode, const void *init,
                       mproc_lock *lock);
MPROC_API int mproc_shared_rawvalue(mproc_shared **v, char typecode, const void *init);
MPROC_API int mproc_shared_array(mproc_shared **a, char typecode, size_t length,
                       const void *init, mproc_lock *lock);
MPROC_API int mproc_shared_rawarray(mproc_shared **a, char typecode, size_t length,
                          const void *init);
/** The items, shared with every process: `int *n = mproc_shared_data(v)`. */
MPROC_API void *mproc_shared_data(mproc_shared *s);
MPROC_API size_t mproc_shared_len(const mproc_shared *s);
MPROC_API size_t mproc_shared_itemsize(const mproc_shared *s);
MPROC_API char mproc_shared_typecode(const mproc_shared *s);
/** The lock (borrowed), NULL for a Raw one (Python's get_lock()). */
MPROC_API mproc_lock *mproc_shared_get_lock(mproc_shared *s);
/** acquire/release of that lock; MPROC_EINVAL for a Raw one. */
MPROC_API int mproc_shared_acquire(mproc_shared *s, double timeout);
MPROC_API int mproc_shared_release(mproc_shared *s);
/**
 * Item i converted from / to int64, uint64 or double (no locking).
 * MPROC_ERANGE for a bad index, or an item the output cannot hold (get_int
 * of a 'Q' or 64-bit 'L' above INT64_MAX: use get_uint; get_uint of a
 * negative item); MPROC_EINVAL for a value the typecode cannot hold ('c'
 * is a byte, 0..255, as Python's bytes of length 1); MPROC_ETYPE for a
 * float into or out of an integer typecode (set_float on 'i', get_int on
 * 'd': Python's TypeError).  An integer into 'f' or 'd' is fine, as in
 * Python, and get_float reads any typecode.
 */
MPROC_API int mproc_shared_get_int(mproc_shared *s, size_t i, int64_t *out);
MPROC_API int mproc_shared_set_int(mproc_shared *s, size_t i, int64_t val);
MPROC_API int mproc_shared_get_uint(mproc_shared *s, size_t i, uint64_t *out);
MPROC_API int mproc_shared_set_uint(mproc_shared *s, size_t i, uint64_t val);
MPROC_API int mproc_shared_get_float(mproc_shared *s, size_t i, double *out);
MPROC_API int mproc_shared_set_float(mproc_shared *s, size_t i, double val);
MPROC_API mproc_shared *mproc_shared_incref(mproc_shared *s);
MPROC_API void mproc_shared_free(mproc_shared *s);

/**
 * Python's shared_memory.SharedMemory(name, create, size): a block any
 * process can attach to by name.  name NULL (with create) picks a random
 * "mproc_<hex>" name.  create: MPROC_EEXIST if the name is taken; else
 * MPROC_ENOENT if there is no such block.  On POSIX the creating process
 * tree unlinks forgotten names when it ends, even when killed (a resource
 * tracker, as CPython); on Windows a name lives while a handle to it does.
 */
typedef struct mproc_shm mproc_shm;
MPROC_API int mproc_shm_new(mproc_shm **m, const char *name, int create, size_t size);
/** The bytes (NULL after close). */
MPROC_API void *mproc_shm_buf(mproc_shm *m);
MPROC_API size_t mproc_shm_size(const mproc_shm *m);
MPROC_API const char *mproc_shm_name(const mproc_shm *m);
/** Unmap and close this process's access; the block stays. */
MPROC_API int mproc_shm_close(mproc_shm *m);
/** Remove the name (POSIX); the block goes when its last user closes. */
MPROC_API int mproc_shm_unlink(mproc_shm *m);
MPROC_API mproc_shm *mproc_shm_incref(mproc_shm *m);
/** Close (if open) and release; does not unlink. */
MPROC_API void mproc_shm_free(mproc_shm *m);

/* References for process arguments (the value does not own the object)
 * and the typed getters for the child. */
MPROC_API mproc_value *mproc_lock_ref(mproc_lock *l);
MPROC_API mproc_value *mproc_sem_ref(mproc_sem *s);
MPROC_API mproc_value *mproc_event_ref(mproc_event *e);
MPROC_API mproc_value *mproc_cond_ref(mproc_cond *c);
MPROC_API mproc_value *mproc_barrier_ref(mproc_barrier *b);
MPROC_API mproc_value *mproc_shared_ref(mproc_shared *s);
MPROC_API mproc_value *mproc_shm_ref(mproc_shm *m);
MPROC_API int mproc_value_get_lock(const mproc_value *v, mproc_lock **out);
MPROC_API int mproc_value_get_sem(const mproc_value *v, mproc_sem **out);
MPROC_API int mproc_value_get_event(const mproc_value *v, mproc_event **out);
MPROC_API int mproc_value_get_cond(const mproc_value *v, mproc_cond **out);
MPROC_API int mproc_value_get_barrier(const mproc_value *v, mproc_barrier **out);
MPROC_API int mproc_value_get_shared(const mproc_value *v, mproc_shared **out);
MPROC_API int mproc_value_get_shm(const mproc_value *v, mproc_shm **out);

/* ------------------------------------------------------------------------ */
/* Queues: Queue, SimpleQueue, JoinableQueue                                */
/* ------------------------------------------------------------------------ */
/*
 * Python's multiprocessing queues, without the feeder thread: put()
 * returns once the item is in shared memory, so a producer that exits or
 * is killed right after put() loses nothing, and joining a producer never
 * waits for its items to be read.  Items are values (put/get) or raw
 * bytes (put_bytes/get_bytes), 0 bytes to any size; FIFO per producer.
 * Queues reach children as process arguments (mproc_queue_ref); inside a
 * value put anywhere else they give MPROC_EINHERIT.
 *
 * The buffer grows as items come (no put waits for buffer below the
 * byte cap, maxbytes, whatever maxsize is), up to memory; maxsize counts
 * items, as in Python.
 *
 * put: MPROC_EFULL when the queue stays full (maxsize items, or maxbytes
 * of buffer) for timeout (0: at once), MPROC_ECLOSED after close.  get:
 * MPROC_EEMPTY when nothing arrives within timeout, MPROC_EEOF once the
 * queue is closed and drained.  Timeouts: MPROC_FOREVER blocks, any other
 * negative value polls, NaN is MPROC_EINVAL.  An item larger than maxbytes
 * streams through the buffer: its put returns once its last part is in
 * the buffer (a reader takes the rest meanwhile), and a get that has begun
 * it finishes it.
 */
typedef struct mproc_queue mproc_queue;
/** Python's Queue(maxsize): maxsize <= 0 is unbounded; at most 2^31-1. */
MPROC_API int mproc_queue_new(mproc_queue **q, long maxsize);
MPROC_API int mproc_simplequeue_new(mproc_queue **q);
MPROC_API int mproc_joinablequeue_new(mproc_queue **q, long maxsize);
/** The kinds of queue, for mproc_queue_new_opts. */
enum { MPROC_QUEUE_PLAIN, MPROC_QUEUE_SIMPLE, MPROC_QUEUE_JOINABLE };
typedef struct mproc_queue_opts {
  long maxsize;    /* items; <= 0: unbounded (SimpleQueue: must be) */
  size_t bufsize;  /* the buffer's first size in bytes; 0: 1 MiB */
  size_t maxbytes; /* the most it grows to (address space reserved at
                      once, memory used as it grows); 0: 1 GiB (64 MiB on
                      32-bit systems); both rounded up to 4 KiB, at most
                      2^35 - 4096 */
} mproc_queue_opts;
#define MPROC_QUEUE_OPTS_INIT {0, 0, 0}
/** A queue of that kind (MPROC_QUEUE_*); opts NULL: the defaults. */
MPROC_API int mproc_queue_new_opts(mproc_queue **q, int kind,
                         const mproc_queue_opts *opts);
/** Put a copy of v (a value holding no OS objects). */
MPROC_API int mproc_queue_put(mproc_queue *q, const mproc_value *v, double timeout);
MPROC_API int mproc_queue_get(mproc_queue *q, mproc_value **out, double timeout);
MPROC_API int mproc_queue_put_nowait(mproc_queue *q, const mproc_value *v);
MPROC_API int mproc_queue_get_nowait(mproc_queue *q, mproc_value **out);
MPROC_API int mproc_queue_put_bytes(mproc_queue *q, const void *p, size_t n,
                          double timeout);
/** *p is freed with mproc_free. */
MPROC_API int mproc_queue_get_bytes(mproc_queue *q, void **p, size_t *n,
                          double timeout);
/** The exact number of items in the queue (on every OS). */
MPROC_API long mproc_queue_qsize(mproc_queue *q);
MPROC_API int mproc_queue_empty(mproc_queue *q);
MPROC_API int mproc_queue_full(mproc_queue *q);
/** No more puts, from any process; readers drain, then get MPROC_EEOF. */
MPROC_API int mproc_queue_close(mproc_queue *q);
/** JoinableQueue: one item done (MPROC_EINVAL if called too often). */
MPROC_API int mproc_queue_task_done(mproc_queue *q);
/** JoinableQueue: wait until every item put has been task_done. */
MPROC_API int mproc_queue_join(mproc_queue *q, double timeout);
MPROC_API mproc_queue *mproc_queue_incref(mproc_queue *q);
MPROC_API void mproc_queue_free(mproc_queue *q);
MPROC_API mproc_value *mproc_queue_ref(mproc_queue *q);
MPROC_API int mproc_value_get_queue(const mproc_value *v, mproc_queue **out);

/* ------------------------------------------------------------------------ */
/* Pool and futures (Python's multiprocessing.Pool, concurrent.futures)     */
/* ------------------------------------------------------------------------ */
/*
 * A pool of worker processes (daemons, this binary re-executed) that run
 * task functions: plain C functions, travelling like process targets (no
 * registration).  A task reads its argument and sets *result (NULL means
 * None); it returns 0, or fails by returning a negative MPROC_E* code,
 * best through mproc_fail() which records a message.  The caller then gets
 * that code and mproc_last_error() reads "task failed in worker <pid>:
 * <message>".  Arguments and results travel with the codec: an OS object
 * (Queue, Lock, Connection, ...) in an argument is MPROC_EINHERIT at submit
 * ("Queue objects should only be shared between processes through
 * inheritance"); in a result that task fails with it.  OS objects reach the
 * workers through initargs, at spawn.
 *
 * Nothing hangs: a worker that dies fails only the task it was running
 * (MPROC_EWORKERDIED, with the pid and signal or exit code), its other
 * tasks run again elsewhere, it is replaced and the pool stays usable
 * (docs/pool.md).  Callbacks (result, error, progress) run in the parent on
 * the pool's result thread: keep them short and do not wait there on the
 * same pool.
 */
typedef int (*mproc_task_fn)(const mproc_value *arg, mproc_value **result);
/** Runs once in each worker with opts.initargs; non-zero fails the start. */
typedef int (*mproc_pool_init_fn)(const mproc_value *initargs);

/** In a task or initializer: record a message for code, return code. */
MPROC_API int mproc_fail(int code, const char *fmt, ...);
/** In a task: 1 once the soft time limit of the running task has passed. */
MPROC_API int mproc_task_expired(void);

typedef struct mproc_pool mproc_pool;
/** Python's AsyncResult (also the iterator of imap). */
typedef struct mproc_async mproc_async;

typedef struct mproc_pool_opts {
  int processes;                  /**< 0: mproc_cpu_count() */
  mproc_pool_init_fn initializer; /**< NULL: none */
  const mproc_value *initargs;    /**< borrowed list, may hold OS objects */
  long maxtasksperchild;          /**< 0: workers live as long as the pool */
  double time_limit;      /**< hard limit per task, seconds; 0: none */
  double soft_time_limit; /**< mproc_task_expired() after it; 0: none */
  size_t memory_limit;    /**< address space cap per worker; 0: none */
  int backend; /**< MPROC_POOL_LOCAL (0) or MPROC_POOL_MPI (docs/mpi.md) */
} mproc_pool_opts;
#define MPROC_POOL_OPTS_INIT {0, NULL, NULL, 0, 0.0, 0.0, 0, 0}
/**
 * Where the workers are: MPROC_POOL_LOCAL, child processes of this one;
 * MPROC_POOL_MPI, the ranks 1..N of an `mpiexec -n N+1 ./app` job (rank 0
 * runs main(); processes 0 means every rank).  Not started by mpiexec, or
 * built without MPI: MPROC_ENOTSUP.  See docs/mpi.md.
 */
enum { MPROC_POOL_LOCAL = 0, MPROC_POOL_MPI = 1 };

/** result: the value (apply) or the list of values (map). */
typedef void (*mproc_result_cb)(mproc_async *r, const mproc_value *result,
                                void *ctx);
typedef void (*mproc_error_cb)(mproc_async *r, int code, const char *message,
                               void *ctx);
typedef void (*mproc_progress_cb)(mproc_async *r, size_t done, size_t total,
                                  void *ctx);

typedef struct mproc_call_opts {
  size_t chunksize; /**< 0: Python's default for map */
  mproc_result_cb callback;
  mproc_error_cb error_callback;
  mproc_progress_cb progress; /**< after each finished task */
  void *ctx;
  double time_limit;      /**< 0: the pool's */
  double soft_time_limit; /**< 0: the pool's */
} mproc_call_opts;
#define MPROC_CALL_OPTS_INIT {0, NULL, NULL, NULL, NULL, 0.0, 0.0}

MPROC_API int mproc_pool_new(mproc_pool **pool, const mproc_pool_opts *opts);
/** Python's apply: *result is the task's value (caller frees). */
MPROC_API int mproc_pool_apply(mproc_pool *pool, mproc_task_fn fn,
                     const mproc_value *arg, mproc_value **result);
MPROC_API int mproc_pool_apply_async(mproc_pool *pool, mproc_task_fn fn,
                           const mproc_value *arg,
                           const mproc_call_opts *opts, mproc_async **r);
/**
 * fn over each item of list, in chunks.  *results: the list of values in
 * order (caller frees).  A failed task gives its code (the first failed
 * one's); the others still ran, and mproc_async_task tells each one.
 */
MPROC_API int mproc_pool_map(mproc_pool *pool, mproc_task_fn fn,
                   const mproc_value *list, size_t chunksize,
                   mproc_value **results);
MPROC_API int mproc_pool_map_async(mproc_pool *pool, mproc_task_fn fn,
                         const mproc_value *list, const mproc_call_opts *opts,
                         mproc_async **r);
/** starmap: each item is a list of arguments, given as the task's arg. */
MPROC_API int mproc_pool_starmap(mproc_pool *pool, mproc_task_fn fn,
                       const mproc_value *list, size_t chunksize,
                       mproc_value **results);
MPROC_API int mproc_pool_starmap_async(mproc_pool *pool, mproc_task_fn fn,
                             const mproc_value *list,
                             const mproc_call_opts *opts, mproc_async **r);
/**
 * Python's imap / imap_unordered (chunksize 0 means 1, as Python): the
 * tasks run at once and mproc_async_next gives the results as they come
 * (in order / in completion order) while later tasks still run.
 */
MPROC_API int mproc_pool_imap(mproc_pool *pool, mproc_task_fn fn,
                    const mproc_value *list, size_t chunksize,
                    mproc_async **it);
MPROC_API int mproc_pool_imap_unordered(mproc_pool *pool, mproc_task_fn fn,
                              const mproc_value *list, size_t chunksize,
                              mproc_async **it);
/**
 * The next result of an imap: 0 and *out (the caller's), the task's code
 * if it failed (the iterator moves on, as Python's next() raising),
 * MPROC_ETIMEDOUT, or MPROC_EEOF once all were given (StopIteration).
 */
MPROC_API int mproc_async_next(mproc_async *it, double timeout, mproc_value **out);
/** No more submissions (MPROC_ECLOSED); workers exit when all is done. */
MPROC_API int mproc_pool_close(mproc_pool *pool);
/** Fail every unfinished task (MPROC_ECLOSED) and stop the workers. */
MPROC_API int mproc_pool_terminate(mproc_pool *pool);
/** Wait for the workers to exit: MPROC_EINVAL unless closed/terminated. */
MPROC_API int mproc_pool_join(mproc_pool *pool, double timeout);
/** Terminate (if needed), join and release.  Results stay usable.  In a
 *  callback (the pool's result thread) it only terminates; join there is
 *  MPROC_EINVAL. */
MPROC_API void mproc_pool_free(mproc_pool *pool);
/** The pids of the current workers (up to cap); returns their number. */
MPROC_API int mproc_pool_pids(mproc_pool *pool, long *pids, size_t cap);

/** 0 when ready, MPROC_ETIMEDOUT if not within timeout. */
MPROC_API int mproc_async_wait(mproc_async *r, double timeout);
/**
 * Wait, then: 0 and *out (borrowed, valid until mproc_async_free; may be
 * NULL) the value (apply) or list (map); or the failed task's code with
 * its message in mproc_last_error() (for a map *out is still the list,
 * failed items None).
 */
MPROC_API int mproc_async_get(mproc_async *r, double timeout, const mproc_value **out);
MPROC_API int mproc_async_ready(mproc_async *r);
/** 1 if every task succeeded, 0 if not, MPROC_EINVAL if not ready. */
MPROC_API int mproc_async_successful(mproc_async *r);
/**
 * Task i of the call: its code (0 success, MPROC_EINVAL if not finished)
 * and, each if not NULL, its value, message and worker pid (borrowed).
 */
MPROC_API int mproc_async_task(mproc_async *r, size_t i, const mproc_value **value,
                     const char **message, long *pid);
/** How many tasks are finished, of how many. */
MPROC_API int mproc_async_progress(mproc_async *r, size_t *done, size_t *total);
/**
 * Queued tasks never run and fail with MPROC_ECLOSED ("cancelled"); with
 * kill_running the workers running its tasks are killed (and replaced),
 * those tasks fail the same way; else they finish.  Returns how many
 * tasks were cancelled.
 */
MPROC_API int mproc_async_cancel(mproc_async *r, int kill_running);
/** Release (an unfinished call still completes; callbacks still run). */
MPROC_API void mproc_async_free(mproc_async *r);

/*
 * The concurrent.futures face, on the same pool (a pool is the executor:
 * ProcessPoolExecutor(max_workers) is mproc_pool_new with processes =
 * max_workers).  A future is an mproc_async of one task.  wait and
 * as_completed take futures of one pool (MPROC_EINVAL otherwise).
 */
typedef struct mproc_async mproc_future;
/** Python's executor.submit(fn, arg). */
MPROC_API int mproc_pool_submit(mproc_pool *pool, mproc_task_fn fn,
                      const mproc_value *arg, mproc_future **f);
/**
 * Python's shutdown(wait, cancel_futures): no more submissions; with
 * cancel_futures every future not started is cancelled; with wait, waits
 * for the running ones and the workers' exit.
 */
MPROC_API int mproc_pool_shutdown(mproc_pool *pool, int wait, int cancel_futures);
/** result(timeout): 0 and *out (borrowed), the task's code (its message in
 *  mproc_last_error()), MPROC_ETIMEDOUT, or MPROC_ECLOSED if cancelled. */
MPROC_API int mproc_future_result(mproc_future *f, double timeout,
                        const mproc_value **out);
/** exception(timeout): 0 if it succeeded, else as result (message, may be
 *  NULL, borrowed). */
MPROC_API int mproc_future_exception(mproc_future *f, double timeout,
                           const char **message);
MPROC_API int mproc_future_done(mproc_future *f);
/** 1 once the task has gone to a worker and is not done. */
MPROC_API int mproc_future_running(mproc_future *f);
/** 1 if cancelled now (it will never run), 0 if running or done. */
MPROC_API int mproc_future_cancel(mproc_future *f);
MPROC_API int mproc_future_cancelled(mproc_future *f);
/** fn(f, ctx) once f is done: at once in the caller if it is, else on the
 *  pool's result thread. */
MPROC_API int mproc_future_add_done_callback(mproc_future *f,
                                   void (*fn)(mproc_future *f, void *ctx),
                                   void *ctx);
MPROC_API void mproc_future_free(mproc_future *f);

enum {
  MPROC_FIRST_COMPLETED = 1,
  MPROC_FIRST_EXCEPTION = 2,
  MPROC_ALL_COMPLETED = 3
};
/**
 * Python's wait(fs, timeout, return_when): done[i] is set to 1/0; returns
 * how many are done (the condition may not hold at the timeout).
 */
MPROC_API int mproc_futures_wait(mproc_future *const *fs, size_t n, double timeout,
                       int return_when, int *done);
/** Python's as_completed(fs, timeout) as an iterator. */
typedef struct mproc_completed mproc_completed;
MPROC_API int mproc_as_completed(mproc_completed **it, mproc_future *const *fs,
                       size_t n, double timeout);
/** The next future to complete (its index in *index if not NULL):
 *  0, MPROC_EEOF when all were given, MPROC_ETIMEDOUT at the timeout. */
MPROC_API int mproc_completed_next(mproc_completed *it, mproc_future **f,
                         size_t *index);
MPROC_API void mproc_completed_free(mproc_completed *it);

/* ------------------------------------------------------------------------ */
/* Manager                                                                  */
/* ------------------------------------------------------------------------ */
/*
 * Python's multiprocessing.managers: a server process holds objects (list,
 * dict, Namespace, Value, Array, ...) and every process reaches them
 * through proxies.  A proxy is a value (mproc_proxy_ref) that travels
 * anywhere: process arguments, a Pipe, a Queue, inside another manager
 * object; the receiver reaches the same object.  Objects live while any
 * proxy in any process refers to them, and go when the last proxy is freed
 * or its process dies.  docs/manager.md has the protocol, the security
 * model and the fault model.
 *
 * Addresses are strings: a local socket path ("/tmp/.../manager", POSIX),
 * a named pipe ("\\.\pipe\name", Windows) or "host:port" (TCP).
 * Clients prove they know the authkey (and the server proves it too) with
 * an HMAC-SHA256 challenge in both directions; the key never travels.
 */
typedef struct mproc_manager mproc_manager;
typedef struct mproc_proxy mproc_proxy;

typedef struct mproc_manager_opts {
  /** NULL: a private local address (a socket in a 0700 directory / an
   *  owner-only named pipe).  "host:port" listens there (never on every
   *  interface unless host is "0.0.0.0" or "::"). */
  const char *address;
  /** NULL: this process's authkey (inherited by children, as Python's). */
  const void *authkey;
  size_t authkey_len;
  /** Seconds a client may take to authenticate (<= 0: 5). */
  double handshake_timeout;
  /** The largest request the server reads, in bytes (0: 64 MiB); larger
   *  requests close that connection before anything is allocated. */
  size_t max_message;
  /** Open client connections at most (0: 1024); more are closed at once. */
  int max_connections;
} mproc_manager_opts;
#define MPROC_MANAGER_OPTS_INIT {NULL, NULL, 0, 5.0, 0, 0}

/** Python's Manager() / SyncManager.start(): a server process, ready to
 *  serve when this returns; it dies with this process (even when killed). */
MPROC_API int mproc_manager_start(mproc_manager **m, const mproc_manager_opts *opts);
/** Python's BaseManager(address, authkey).connect(): a manager served by
 *  another process.  authkey NULL: this process's. */
MPROC_API int mproc_manager_connect(mproc_manager **m, const char *address,
                          const void *authkey, size_t authkey_len);
/** The address clients connect to. */
MPROC_API const char *mproc_manager_address(const mproc_manager *m);
/** Stop a started server (its objects go); a connected one just lets go.
 *  Proxies of a stopped server fail with MPROC_EEOF.  Freeing shuts down. */
MPROC_API int mproc_manager_shutdown(mproc_manager *m);
MPROC_API void mproc_manager_free(mproc_manager *m);
/** The number of objects the server holds (tests, leak checks). */
MPROC_API int mproc_manager_object_count(mproc_manager *m);

/** Python's SyncManager.list(seq) / dict(d) / Namespace().  init (stolen,
 *  may be NULL) is a list / dict to start from. */
MPROC_API int mproc_manager_list(mproc_manager *m, mproc_value *init, mproc_proxy **out);
MPROC_API int mproc_manager_dict(mproc_manager *m, mproc_value *init, mproc_proxy **out);
MPROC_API int mproc_manager_namespace(mproc_manager *m, mproc_proxy **out);
/** Value(typecode, value) and Array(typecode, list) (the typecodes of
 *  mproc_shared_value); init is stolen, NULL for zero. */
MPROC_API int mproc_manager_value(mproc_manager *m, char typecode, mproc_value *init,
                        mproc_proxy **out);
MPROC_API int mproc_manager_array(mproc_manager *m, char typecode, mproc_value *init,
                        mproc_proxy **out);
/**
 * Python's SyncManager.Queue(maxsize), JoinableQueue, Lock, RLock,
 * Semaphore(value), BoundedSemaphore(value), Event, Condition (with its
 * own RLock) and Barrier(parties, timeout) (timeout MPROC_FOREVER: none;
 * no action: functions do not travel to the server).  Their methods are
 * called by Python's names with Python's positional arguments:
 * put(item, block=True, timeout=None), get(block=True, timeout=None) (a
 * timeout gives MPROC_EFULL / MPROC_EEMPTY), acquire(blocking=True,
 * timeout=-1) -> True/False, release(), wait(timeout=None), notify(n=1),
 * notify_all(), set(), clear(), is_set(), task_done(), join(), qsize(),
 * abort(), reset(), parties(), n_waiting(), broken().  A client process
 * that dies holding a Lock or RLock (or a Condition's lock) has it
 * released by the server: the next acquire returns MPROC_EOWNERDEAD with
 * the lock held.  A blocked call returns MPROC_EEOF at once if the
 * server dies.
 */
MPROC_API int mproc_manager_queue(mproc_manager *m, long maxsize, mproc_proxy **out);
MPROC_API int mproc_manager_joinablequeue(mproc_manager *m, long maxsize,
                                mproc_proxy **out);
MPROC_API int mproc_manager_lock(mproc_manager *m, mproc_proxy **out);
MPROC_API int mproc_manager_rlock(mproc_manager *m, mproc_proxy **out);
MPROC_API int mproc_manager_semaphore(mproc_manager *m, int value, mproc_proxy **out);
MPROC_API int mproc_manager_bsemaphore(mproc_manager *m, int value, mproc_proxy **out);
MPROC_API int mproc_manager_event(mproc_manager *m, mproc_proxy **out);
MPROC_API int mproc_manager_condition(mproc_manager *m, mproc_proxy **out);
MPROC_API int mproc_manager_barrier(mproc_manager *m, int parties, double timeout,
                          mproc_proxy **out);
/** Any registered type by its type id; args (stolen, NULL for none) are
 *  the constructor's positional arguments. */
MPROC_API int mproc_manager_create(mproc_manager *m, const char *typeid,
                         mproc_value *args, mproc_proxy **out);

/**
 * Call a method of the referent, by Python's name: "append", "__getitem__",
 * "__len__", "keys", ...  args (stolen, NULL for none) is a list or tuple
 * of the positional arguments.  *result (may be NULL to drop it) is the
 * return value (None for none).  A slice is the tuple (start, stop[,
 * step]) of ints or None where Python writes l[start:stop:step].  Errors:
 * MPROC_EKEY / ERANGE / ETYPE / EINVAL as Python's KeyError / IndexError /
 * TypeError / ValueError, with Python's words in mproc_last_error();
 * MPROC_ENOTSUP for a method the type does not expose; MPROC_EEOF when the
 * server has gone.
 */
MPROC_API int mproc_proxy_call(mproc_proxy *p, const char *method, mproc_value *args,
                     mproc_value **result);
/**
 * Python's BaseManager.register('get_queue', callable=...): the name a
 * server published (mproc_server_publish) gives a proxy to that one
 * object, for any client; args (stolen, NULL for none) are ignored by a
 * published object.
 */
MPROC_API int mproc_manager_get(mproc_manager *m, const char *name, mproc_value *args,
                      mproc_proxy **out);

/**
 * A server in the current process (Python's get_server().serve_forever()),
 * for a program that is itself the manager, e.g. on "host:port" for
 * remote clients.  Objects it publishes under a name live as long as it.
 */
typedef struct mproc_server mproc_server;
MPROC_API int mproc_server_new(mproc_server **s, const mproc_manager_opts *opts);
MPROC_API const char *mproc_server_address(const mproc_server *s);
/** A new object of typeid (args stolen, NULL for none) that clients reach
 *  by name with mproc_manager_get. */
MPROC_API int mproc_server_publish(mproc_server *s, const char *name,
                         const char *typeid, mproc_value *args);
/** Call a method of a published object from the server program itself
 *  (it may block, e.g. a Queue get, while other clients are served). */
MPROC_API int mproc_server_call(mproc_server *s, const char *name, const char *method,
                      mproc_value *args, mproc_value **result);
/** Serve until mproc_server_stop (from another thread). */
MPROC_API int mproc_server_serve_forever(mproc_server *s);
MPROC_API void mproc_server_stop(mproc_server *s);
/** Free a stopped server (with its objects). */
MPROC_API void mproc_server_free(mproc_server *s);

/**
 * Python's BaseManager.register(typeid, callable, exposed): a type whose
 * state and methods are plain C functions run in the server.  create
 * builds the state from the constructor's positional args (borrowed);
 * call runs method (one of exposed, a NULL-terminated list; any other
 * name is MPROC_ENOTSUP before call runs) with args (borrowed) and sets
 * *result (a new value) on 0; free releases the state.  Register before
 * mproc_manager_start / mproc_server_new: the functions travel to the
 * server process by reference (as a target), the names by value.
 * Clients make objects with mproc_manager_create(m, typeid, args, &p).
 */
typedef struct mproc_manager_type {
  const char *typeid;
  int (*create)(mproc_value *args, void **state);
  int (*call)(void *state, const char *method, mproc_value *args,
              mproc_value **result);
  void (*free)(void *state);
  const char *const *exposed;
} mproc_manager_type;
MPROC_API int mproc_manager_register(const mproc_manager_type *t);

/** Python's str(proxy): the referent's repr, e.g. "[100, 300, 101]". */
MPROC_API int mproc_proxy_str(mproc_proxy *p, char **out);
/** Python's repr(proxy): "<ListProxy object, typeid 'list' at 0x...>". */
MPROC_API int mproc_proxy_repr(const mproc_proxy *p, char **out);
/** Python's len(proxy). */
MPROC_API int mproc_proxy_len(mproc_proxy *p, size_t *n);
/** The type id ("list", "dict", "Namespace", ...). */
MPROC_API const char *mproc_proxy_typeid(const mproc_proxy *p);
MPROC_API mproc_proxy *mproc_proxy_incref(mproc_proxy *p);
MPROC_API void mproc_proxy_free(mproc_proxy *p);
/** A value referring to p, to send anywhere (the value does not own p). */
MPROC_API mproc_value *mproc_proxy_ref(mproc_proxy *p);
/** The proxy a received value holds (borrowed; incref to keep it). */
MPROC_API int mproc_value_get_proxy(const mproc_value *v, mproc_proxy **out);

/* ------------------------------------------------------------------------ */
/* Threads (for programs that mix threads and processes, as Python's)       */
/* ------------------------------------------------------------------------ */

typedef struct mproc_thread mproc_thread;
/** Start fn(arg) in a new thread of this process. */
MPROC_API int mproc_thread_start(mproc_thread **t, int (*fn)(void *arg), void *arg);
/** Wait for the thread to end, store fn's return value (if result is not
 *  NULL) and release t. */
MPROC_API int mproc_thread_join(mproc_thread *t, int *result);
/** The calling thread's OS id (never 0). */
MPROC_API unsigned long mproc_thread_ident(void);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_H */
