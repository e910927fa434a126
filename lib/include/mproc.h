/**
 * \file mproc.h
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

/** The library's major version (incompatible API changes). */
#define MPROC_VERSION_MAJOR 0
/** The library's minor version (compatible additions). */
#define MPROC_VERSION_MINOR 1
/** The library's patch version (fixes). */
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
/** @name Errors */
/** @{ */

/**
 * The error list, an X-macro: XX(NAME, value, message) for each code; the
 * code is MPROC_ followed by NAME (e.g. MPROC_EINVAL) and the message is
 * what mproc_strerror() returns.  The codes, with where they come from:
 *
 * - MPROC_EINVAL (-1): a bad argument (NULL, NaN timeout, ...) or Python's
 *   ValueError
 * - MPROC_ENOMEM (-2): out of memory (or a fixed table is full)
 * - MPROC_EOS (-3): an OS call failed: mproc_last_oserror() has the errno /
 *   GetLastError()
 * - MPROC_ECLOSED (-4): the object was closed (a Connection, a Queue for
 *   put, a Pool for submit, a cancelled task)
 * - MPROC_EEOF (-5): the peer has gone: a Connection's other end, a drained
 *   closed Queue, a Manager server; the end of an iterator
 * - MPROC_ETIMEDOUT (-6): a timeout passed (Python's False or TimeoutError)
 * - MPROC_ESTARTED (-7): start or set_daemon on a started process
 * - MPROC_ENOTSTARTED (-8): join, terminate, exitcode of a process never
 *   started
 * - MPROC_ERUNNING (-9): exitcode or close of a running process
 * - MPROC_ENOTCHILD (-10): join, terminate, close of a process that is not a
 *   child of this one
 * - MPROC_ETARGET (-11): a target, task or action that is not a function of
 *   a loaded image
 * - MPROC_EINHERIT (-12): an OS object sent other than as a process argument
 *   (Python's RuntimeError)
 * - MPROC_EENCODE (-13): a value the codec cannot encode (nested too deep)
 * - MPROC_EBADMSG (-14): a malformed message or bootstrap
 * - MPROC_ETOOBIG (-15): a message longer than allowed (recv_bytes
 *   maxlength, a broken header)
 * - MPROC_EBUFSIZE (-16): recv_bytes_into's buffer is too small (Python's
 *   BufferTooShort)
 * - MPROC_ETYPE (-17): a value of the wrong type (Python's TypeError)
 * - MPROC_ERANGE (-18): an index out of range (Python's IndexError)
 * - MPROC_EKEY (-19): a key not found (Python's KeyError)
 * - MPROC_EACCESS (-20): send on a receive-only end, or receive on a
 *   send-only one
 * - MPROC_ENOTINIT (-21): start of a child when main() did not call
 *   mproc_init()
 * - MPROC_ESPAWN (-22): a child process or pool worker failed to start (the
 *   reason in mproc_last_error())
 * - MPROC_EFULL (-23): a Queue stayed full (Python's queue.Full)
 * - MPROC_EEMPTY (-24): a Queue stayed empty (Python's queue.Empty)
 * - MPROC_EOWNERDEAD (-25): a lock's holder died: the lock is now the
 *   caller's
 * - MPROC_ENOTOWNER (-26): an RLock or Condition used without holding its
 *   lock
 * - MPROC_EBROKEN (-27): a broken Barrier (Python's BrokenBarrierError)
 * - MPROC_EWORKERDIED (-28): the pool worker running a task died
 * - MPROC_ENOTSUP (-29): an operation the object or OS does not support
 * - MPROC_EEXIST (-30): a shared memory name (or manager type id) that is
 *   taken
 * - MPROC_ENOENT (-31): no shared memory with that name
 * - MPROC_EMFILE (-32): too many open files: no handles left to start a
 *   child
 * - MPROC_EAUTH (-33): a Manager's authkey was refused (Python's
 *   AuthenticationError)
 *
 * @param XX the macro applied to each entry.
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

/**
 * The error codes: MPROC_OK (0) and one negative MPROC_E* constant per
 * entry of MPROC_ERRNO_MAP (MPROC_EINVAL = -1 ... MPROC_EAUTH = -33).
 */
enum {
  MPROC_OK = 0, /**< success */
#define MPROC__XX(name, value, msg) MPROC_##name = (value),
  MPROC_ERRNO_MAP(MPROC__XX)
#undef MPROC__XX
  MPROC__ELAST = -34
};

/**
 * The message for an error code, e.g. "timed out" for MPROC_ETIMEDOUT.
 * @param code an MPROC_E* code, or 0.
 * @return a static string: "success" for 0, "unknown error" for a code
 *         that is not in MPROC_ERRNO_MAP.  Never NULL.
 */
MPROC_API const char *mproc_strerror(int code);
/**
 * The symbolic name of an error code, e.g. "MPROC_EEOF".
 * @param code an MPROC_E* code, or 0.
 * @return a static string ("MPROC_OK" for 0; "MPROC_E?" for a code that
 *         is not in MPROC_ERRNO_MAP).  Never NULL.
 */
MPROC_API const char *mproc_errname(int code);
/**
 * Detail of the calling thread's most recent failure, e.g.
 * "mproc_conn_recv: the peer closed the connection".  Successful calls do
 * not clear it: read it right after a call returned a negative code.
 * @return the message, valid until the thread's next failing mproc call;
 *         "no error" if nothing failed yet.  Never NULL.
 */
MPROC_API const char *mproc_last_error(void);
/**
 * The OS error behind the calling thread's most recent failure.
 * @return errno (POSIX) or GetLastError() (Windows) of that failure, or 0
 *         when it did not come from the OS.
 */
MPROC_API long mproc_last_oserror(void);

/** @} */ /* ---------------------------------------------------------------- */
/* Start-up                                                                 */
/* ------------------------------------------------------------------------ */
/** @name Start-up */
/** @{ */

/**
 * Start-up: call first in main(), before any other mproc call.  In the
 * program the user started it returns 0 at once.  In a child spawned by
 * mproc it reads the bootstrap message, runs the target and exits with its
 * return value: it never returns there (a child that cannot bootstrap exits
 * with code 70 and one line on stderr; its parent's mproc_process_start()
 * returns MPROC_ESPAWN).
 * @param argc main()'s argc.
 * @param argv main()'s argv.
 * @return 0; MPROC_ENOMEM or MPROC_EOS if the runtime could not be set up.
 *         Such a failure is final: every later mproc call that needs the
 *         runtime returns the same code with the same reason.
 */
MPROC_API int mproc_init(int argc, char **argv);

/**
 * The number of logical CPUs (Python's os.cpu_count()).
 * @return the count, at least 1.
 */
MPROC_API int mproc_cpu_count(void);

/**
 * Sleep for seconds (Python's time.sleep; C has no portable one).
 * @param seconds how long; 0 or negative returns at once.
 */
MPROC_API void mproc_sleep(double seconds);
/**
 * Seconds on a monotonic clock (Python's time.monotonic): only differences
 * between two readings mean something.
 * @return the clock's reading in seconds.
 */
MPROC_API double mproc_monotonic(void);

/**
 * Free memory that mproc allocated for the caller: the text of mproc_repr,
 * mproc_str_of, mproc_proxy_str and mproc_proxy_repr, the buffers of
 * mproc_encode, mproc_conn_recv_bytes(_max) and mproc_queue_get_bytes.
 * @param p the pointer; NULL does nothing.
 */
MPROC_API void mproc_free(void *p);

/** @} */ /* ---------------------------------------------------------------- */
/* Values: None, bool, int, float, str, bytes, list, dict, tuple, set, ...   */
/* ------------------------------------------------------------------------ */
/** @name Values: None, bool, int, float, str, bytes, list, dict, tuple, set */
/** @{ */

/** A value: Python's None, bool, int, float, str, bytes, list, dict,
 *  tuple, set, or a reference to an OS object.  An owned tree, freed with
 *  mproc_value_free; what travels in Pipes, Queues and process args. */
typedef struct mproc_value mproc_value;
/** One end of a Pipe (Python's Connection). */
typedef struct mproc_conn mproc_conn;
/** A process: a child (Python's Process), or the current or parent one. */
typedef struct mproc_process mproc_process;

/** The type of a value (mproc_value_type). */
typedef enum mproc_type {
  MPROC_T_NONE = 0, /**< None */
  MPROC_T_BOOL,     /**< True or False */
  MPROC_T_INT,      /**< an int (64-bit) */
  MPROC_T_FLOAT,    /**< a float (double) */
  MPROC_T_STR,      /**< a str (UTF-8) */
  MPROC_T_BYTES,    /**< bytes */
  MPROC_T_LIST,     /**< a list */
  MPROC_T_DICT,     /**< a dict (insertion-ordered) */
  MPROC_T_OBJECT, /**< a reference to an OS object (a Connection, ...) */
  MPROC_T_TUPLE,  /**< a tuple */
  MPROC_T_SET     /**< a set (insertion-ordered) */
} mproc_type;

/*
 * Constructors return NULL only when memory (or, for strings, valid UTF-8)
 * is missing; the functions that take a value treat NULL as that failure,
 * so construction can be nested: mproc_list_append(l, mproc_int(42)).
 */
/**
 * Python's None.
 * @return the shared None value (never NULL; freeing it does nothing).
 */
MPROC_API mproc_value *mproc_none(void);
/**
 * Python's True or False.
 * @param b non-zero for True.
 * @return the shared True or False value (never NULL).
 */
MPROC_API mproc_value *mproc_bool(int b);
/**
 * A Python int (64-bit in mproc).
 * @param i the number.
 * @return a new value (small ints are shared), or NULL with MPROC_ENOMEM
 *         recorded.
 */
MPROC_API mproc_value *mproc_int(int64_t i);
/**
 * A Python float.
 * @param d the number (NaN and infinities are kept).
 * @return a new value, or NULL with MPROC_ENOMEM recorded.
 */
MPROC_API mproc_value *mproc_float(double d);
/**
 * A str from NUL-terminated UTF-8 (copied).
 * @param utf8 the text.
 * @return a new value, or NULL with MPROC_EINVAL recorded (utf8 is NULL or
 *         not valid UTF-8) or MPROC_ENOMEM.
 */
MPROC_API mproc_value *mproc_str(const char *utf8);
/**
 * A str from n bytes of UTF-8 (copied; may contain NUL bytes).
 * @param utf8 the text (may be NULL only when n is 0).
 * @param n its length in bytes.
 * @return a new value, or NULL with MPROC_EINVAL recorded ("invalid UTF-8
 *         at byte N of a string", or utf8 NULL) or MPROC_ENOMEM.
 */
MPROC_API mproc_value *mproc_strn(const char *utf8, size_t n);
/**
 * A bytes value (copied).
 * @param p the bytes (may be NULL only when n is 0).
 * @param n how many.
 * @return a new value, or NULL with MPROC_EINVAL (p NULL) or MPROC_ENOMEM
 *         recorded.
 */
MPROC_API mproc_value *mproc_bytes(const void *p, size_t n);
/**
 * An empty list, to fill with mproc_list_append.
 * @return a new value, or NULL with MPROC_ENOMEM recorded.
 */
MPROC_API mproc_value *mproc_list(void);
/**
 * An empty dict, to fill with mproc_dict_set / mproc_dict_set_str.
 * @return a new value, or NULL with MPROC_ENOMEM recorded.
 */
MPROC_API mproc_value *mproc_dict(void);
/**
 * An empty tuple to fill with mproc_tuple_append (or mproc_build "(...)").
 * @return a new value, or NULL with MPROC_ENOMEM recorded.
 */
MPROC_API mproc_value *mproc_tuple(void);
/**
 * An empty set (Python's set()), to fill with mproc_set_add.
 * @return a new value, or NULL with MPROC_ENOMEM recorded.
 */
MPROC_API mproc_value *mproc_set(void);
/**
 * A value referring to a Connection, to pass it to a child in the process
 * arguments.  The value does not own the connection.
 * @param c the connection.
 * @return a new value, or NULL with MPROC_EINVAL (c NULL) or MPROC_ENOMEM
 *         recorded.
 */
MPROC_API mproc_value *mproc_conn_ref(mproc_conn *c);

/**
 * Build a value from a format, like Python's Py_BuildValue:
 * <pre>
 *   n None   b bool(int)   i int(int)   l int(long)   L int(int64_t)
 *   f float(double)   s str(const char *)   y bytes(const void *, size_t)
 *   C Connection(mproc_conn *)   O a value (mproc_value *, stolen)
 *   [...] list   (...) tuple   {k:v, ...} dict (the ':' and ',' are
 *   optional spacing)   <...> set
 * </pre>
 * Example: mproc_build("[sis]", "spam", 42, "egg").
 * @param fmt the format.
 * @param ... one argument per code of fmt (two for y).
 * @return a new value, or NULL: MPROC_EINVAL recorded for a NULL or bad
 *         format, a NULL 'O' argument or invalid UTF-8 ('s' NULL gives
 *         None);
 *         MPROC_ETYPE for an unhashable dict key or set member;
 *         MPROC_ENOMEM.  'O' arguments are freed on failure too.
 */
MPROC_API mproc_value *mproc_build(const char *fmt, ...);

/**
 * Free a value and everything it holds (OS objects it refers to are not
 * freed: a value does not own them).
 * @param v the value; NULL and the shared values do nothing.
 */
MPROC_API void mproc_value_free(mproc_value *v);
/**
 * A deep copy (immutable shared values are returned as they are).
 * @param v the value.
 * @return the copy, or NULL with MPROC_ENOMEM recorded (or MPROC_EINVAL if
 *         v is NULL or corrupt).
 */
MPROC_API mproc_value *mproc_value_copy(const mproc_value *v);
/**
 * The type of a value.
 * @param v the value.
 * @return its mproc_type; MPROC_T_NONE for NULL.
 */
MPROC_API mproc_type mproc_value_type(const mproc_value *v);
/**
 * Python's == for values (1 == 1.0, lists and dicts by content, sets in
 * any order; a tuple never equals a list; NaN != NaN).  None, True, False,
 * small ints and empty str/bytes/tuple are shared: never compare values by
 * pointer.
 * @param a a value.
 * @param b another.
 * @return 1 if equal, 0 if not (or either is NULL).
 */
MPROC_API int mproc_value_equal(const mproc_value *a, const mproc_value *b);

/**
 * Read a bool.
 * @param v the value.
 * @param out where the flag (0 or 1) goes.
 * @return 0; MPROC_ETYPE "expected bool, got int" for another type;
 *         MPROC_EINVAL if out is NULL or v is NULL (or the failure code a
 *         NULL from a constructor recorded).
 */
MPROC_API int mproc_value_get_bool(const mproc_value *v, int *out);
/**
 * Read an int.
 * @param v the value.
 * @param out where the number goes.
 * @return 0; MPROC_ETYPE "expected int, got ..." for another type (a bool
 *         too); MPROC_EINVAL if v or out is NULL.
 */
MPROC_API int mproc_value_get_int(const mproc_value *v, int64_t *out);
/**
 * Read a float; an int is accepted and converted.
 * @param v the value.
 * @param out where the number goes.
 * @return 0; MPROC_ETYPE "expected float, got ..." for another type;
 *         MPROC_EINVAL if v or out is NULL.
 */
MPROC_API int mproc_value_get_float(const mproc_value *v, double *out);
/**
 * The UTF-8 text of a str (borrowed, NUL-terminated, valid while v lives).
 * @param v the value.
 * @param s where the text pointer goes.
 * @param n where its length in bytes goes (may be NULL).
 * @return 0; MPROC_ETYPE "expected str, got ..."; MPROC_EINVAL if v or s
 *         is NULL.
 */
MPROC_API int mproc_value_get_str(const mproc_value *v, const char **s, size_t *n);
/**
 * The bytes of a bytes value (borrowed, valid while v lives).
 * @param v the value.
 * @param p where the pointer goes.
 * @param n where the length goes (may be NULL).
 * @return 0; MPROC_ETYPE "expected bytes, got ..."; MPROC_EINVAL if v or p
 *         is NULL.
 */
MPROC_API int mproc_value_get_bytes(const mproc_value *v, const void **p, size_t *n);
/**
 * The Connection a value refers to (in a child: the inherited end).
 * Borrowed: it lives until the target returns.
 * @param v the value (from mproc_conn_ref, received as an argument).
 * @param out where the connection goes.
 * @return 0; MPROC_ETYPE "expected Connection, got ..."; MPROC_EINVAL if v
 *         or out is NULL.
 */
MPROC_API int mproc_value_get_conn(const mproc_value *v, mproc_conn **out);
/**
 * Shorthand: the text of a str.
 * @param v the value.
 * @return the text (borrowed), or NULL if v is not a str.
 */
MPROC_API const char *mproc_value_str(const mproc_value *v);

/**
 * Append to a list, stealing item.
 * @param list the list.
 * @param item the item (stolen, also on failure; NULL is the failure a
 *        constructor recorded, returned here).
 * @return 0; MPROC_ETYPE if list is not a list; MPROC_EINVAL if list or
 *         item is NULL or item is list itself; MPROC_ENOMEM.
 */
MPROC_API int mproc_list_append(mproc_value *list, mproc_value *item);
/**
 * The length of a list.
 * @param list the list.
 * @return its length; 0 if it is NULL or not a list.
 */
MPROC_API size_t mproc_list_len(const mproc_value *list);
/**
 * Element i of a list.
 * @param list the list.
 * @param i the index.
 * @return the element (borrowed), NULL when out of range or not a list.
 */
MPROC_API mproc_value *mproc_list_get(const mproc_value *list, size_t i);
/**
 * Replace element i, stealing item (the old element is freed).
 * @param list the list.
 * @param i the index.
 * @param item the new element (stolen, also on failure).
 * @return 0; MPROC_ERANGE "list index N out of range (len M)";
 *         MPROC_ETYPE if list is not a list; MPROC_EINVAL if list or item
 *         is NULL.
 */
MPROC_API int mproc_list_set(mproc_value *list, size_t i, mproc_value *item);

/**
 * Insert or replace; steals key and val.  Keys must be hashable, as in
 * Python: scalars and tuples of hashables; a list, dict or set key gives
 * MPROC_ETYPE "unhashable type: 'list'".  A tuple key can no longer grow.
 * @param dict the dict.
 * @param key the key (stolen, also on failure).
 * @param val the value (stolen, also on failure).
 * @return 0; MPROC_ETYPE (not a dict, or an unhashable key); MPROC_EINVAL
 *         (a NULL argument, or a value that is the dict itself);
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_dict_set(mproc_value *dict, mproc_value *key, mproc_value *val);
/**
 * mproc_dict_set with a str key.
 * @param dict the dict.
 * @param key the key's text (copied).
 * @param val the value (stolen, also on failure).
 * @return as mproc_dict_set; MPROC_EINVAL also if key is NULL or not valid
 *         UTF-8.
 */
MPROC_API int mproc_dict_set_str(mproc_value *dict, const char *key, mproc_value *val);
/**
 * The value for a key.
 * @param dict the dict.
 * @param key the key (borrowed).
 * @return the value (borrowed), NULL if absent, or if dict is not a dict.
 */
MPROC_API mproc_value *mproc_dict_get(const mproc_value *dict, const mproc_value *key);
/**
 * The value for a str key.
 * @param dict the dict.
 * @param key the key's text.
 * @return the value (borrowed), NULL if absent.
 */
MPROC_API mproc_value *mproc_dict_get_str(const mproc_value *dict, const char *key);
/**
 * The number of items of a dict.
 * @param dict the dict.
 * @return the count; 0 if NULL or not a dict.
 */
MPROC_API size_t mproc_dict_len(const mproc_value *dict);
/**
 * The i-th item in insertion order (borrowed).
 * @param dict the dict.
 * @param i the index.
 * @param key where the key goes (may be NULL).
 * @param val where the value goes (may be NULL).
 * @return 0; MPROC_ERANGE "dict item N out of range (len M)"; MPROC_ETYPE
 *         if dict is not a dict; MPROC_EINVAL if it is NULL.
 */
MPROC_API int mproc_dict_item(const mproc_value *dict, size_t i, mproc_value **key,
                    mproc_value **val);

/**
 * Append to a tuple being built, stealing item.
 * @param tuple the tuple.
 * @param item the item (stolen, also on failure).
 * @return 0; MPROC_EINVAL once the tuple is a dict key or set member (then
 *         it is immutable), or for a NULL argument; MPROC_ETYPE if tuple is
 *         not a tuple; MPROC_ENOMEM.
 */
MPROC_API int mproc_tuple_append(mproc_value *tuple, mproc_value *item);
/**
 * The length of a tuple.
 * @param tuple the tuple.
 * @return its length; 0 if NULL or not a tuple.
 */
MPROC_API size_t mproc_tuple_len(const mproc_value *tuple);
/**
 * Element i of a tuple.
 * @param tuple the tuple.
 * @param i the index.
 * @return the element (borrowed), NULL when out of range or not a tuple.
 */
MPROC_API mproc_value *mproc_tuple_get(const mproc_value *tuple, size_t i);

/**
 * Add item (stolen); an equal member already there stays and item is
 * freed.  Members must be hashable (see mproc_dict_set).
 * @param set the set.
 * @param item the member (stolen, also on failure).
 * @return 0; MPROC_ETYPE (not a set, or an unhashable item); MPROC_EINVAL
 *         for a NULL argument; MPROC_ENOMEM.
 */
MPROC_API int mproc_set_add(mproc_value *set, mproc_value *item);
/**
 * Python's "item in set".
 * @param set the set.
 * @param item the item (borrowed).
 * @return 1 if an equal member is in the set, 0 if not; MPROC_ETYPE if set
 *         is not a set or item is unhashable; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_set_contains(const mproc_value *set, const mproc_value *item);
/**
 * The number of members of a set.
 * @param set the set.
 * @return the count; 0 if NULL or not a set.
 */
MPROC_API size_t mproc_set_len(const mproc_value *set);
/**
 * The i-th member in insertion order (Python orders a set by hash; mproc
 * keeps insertion order).
 * @param set the set.
 * @param i the index.
 * @return the member (borrowed), NULL when out of range or not a set.
 */
MPROC_API mproc_value *mproc_set_item(const mproc_value *set, size_t i);

/**
 * Python's repr(), e.g. "{'name': 'Bob', 'spam': 42}".
 * @param v the value.
 * @param out where the new text goes (free it with mproc_free).
 * @return 0; MPROC_EINVAL if v or out is NULL, or v is nested too deep;
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_repr(const mproc_value *v, char **out);
/**
 * Python's str(): like mproc_repr but a str is its text.
 * @param v the value.
 * @param out where the new text goes (free it with mproc_free).
 * @return as mproc_repr.
 */
MPROC_API int mproc_str_of(const mproc_value *v, char **out);

/**
 * Serialise a value with mproc's codec (what travels in a Pipe or Queue).
 * @param v the value; it must hold no OS objects.
 * @param buf where the new buffer goes (free it with mproc_free).
 * @param len where its length goes.
 * @return 0; MPROC_EINHERIT for a value holding an OS object (a
 *         Connection, Lock, Queue, ...: they travel only as process
 *         arguments); MPROC_EENCODE for a value nested too deep;
 *         MPROC_EINVAL for a NULL argument; MPROC_ENOMEM.
 */
MPROC_API int mproc_encode(const mproc_value *v, void **buf, size_t *len);
/**
 * Parse what mproc_encode made.
 * @param buf the bytes.
 * @param len their length.
 * @param out where the new value goes.
 * @return 0; MPROC_EBADMSG for malformed input (where, and why, in
 *         mproc_last_error()); MPROC_EINVAL for a NULL argument;
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_decode(const void *buf, size_t len, mproc_value **out);

/** @} */ /* ---------------------------------------------------------------- */
/* Connections (Pipe)                                                       */
/* ------------------------------------------------------------------------ */
/** @name Connections (Pipe) */
/** @{ */

/**
 * Python's Pipe(duplex).  Duplex: both ends send and receive.  Simplex:
 * *a only receives and *b only sends (as Python's conn1, conn2).
 * @param a where the first end goes.
 * @param b where the second end goes.
 * @param duplex non-zero for a duplex pipe.
 * @return 0; MPROC_EINVAL if a or b is NULL; MPROC_EOS if the OS cannot
 *         make the pair (out of handles: mproc_last_oserror() says
 *         which); MPROC_ENOMEM.
 */
MPROC_API int mproc_pipe(mproc_conn **a, mproc_conn **b, int duplex);

/**
 * Send a value (a list, dict, ...) as one message (Python's send(obj)).
 * @param c the connection.
 * @param v the value (borrowed; encoded with mproc's codec).
 * @return 0; MPROC_EEOF if the peer has gone (closed, or its process
 *         died); MPROC_EINHERIT if v holds an OS object (a Connection,
 *         Lock, Queue, ...); MPROC_EENCODE if v is nested too deep;
 *         MPROC_ECLOSED after mproc_conn_close; MPROC_EACCESS on the
 *         receive-only end of a simplex pipe; MPROC_EINVAL if c or v is
 *         NULL; MPROC_EOS.
 */
MPROC_API int mproc_conn_send(mproc_conn *c, const mproc_value *v);
/**
 * Receive one value (Python's recv()); blocks until a message comes.
 * @param c the connection.
 * @param out where the new value goes (the caller frees it).
 * @return 0; MPROC_EEOF when the peer has gone and nothing is left to
 *         read; MPROC_EBADMSG for a malformed message (one that is not a
 *         value, or a broken stream: then the connection is closed);
 *         MPROC_ETOOBIG for a message header over 2^46 bytes (the
 *         connection is closed); MPROC_ECLOSED; MPROC_EACCESS on the
 *         send-only end; MPROC_EINVAL if c or out is NULL; MPROC_ENOMEM.
 */
MPROC_API int mproc_conn_recv(mproc_conn *c, mproc_value **out);
/**
 * Send n bytes as one message (Python's send_bytes(buf)).
 * @param c the connection.
 * @param buf the bytes (may be NULL when n is 0).
 * @param n how many.
 * @return 0; MPROC_EEOF if the peer has gone; MPROC_ECLOSED;
 *         MPROC_EACCESS on the receive-only end; MPROC_EINVAL if c is NULL
 *         or buf is NULL with n > 0; MPROC_EOS.
 */
MPROC_API int mproc_conn_send_bytes(mproc_conn *c, const void *buf, size_t n);
/**
 * Python's None for the size and length arguments of
 * mproc_conn_send_bytes_range and mproc_conn_recv_bytes_max.
 */
#define MPROC_NOSIZE (-1)
/**
 * Python's send_bytes(buf, offset, size): send size bytes of buf (buflen
 * bytes long) from offset; size MPROC_NOSIZE sends the rest.
 * @param c the connection.
 * @param buf the buffer.
 * @param buflen its length.
 * @param offset where to start.
 * @param size how many bytes, or MPROC_NOSIZE.
 * @return 0; MPROC_EINVAL with Python's words: "offset is negative",
 *         "buffer length < offset", "size is negative" (any other negative
 *         size), "buffer length < offset + size", or a NULL buffer; then as
 *         mproc_conn_send_bytes.
 */
MPROC_API int mproc_conn_send_bytes_range(mproc_conn *c, const void *buf, size_t buflen,
                                int64_t offset, int64_t size);
/**
 * Receive one message into a new buffer (Python's recv_bytes()).
 * @param c the connection.
 * @param buf where the new buffer goes (free it with mproc_free; never
 *        NULL on success, also for an empty message).
 * @param n where its length goes.
 * @return 0; MPROC_EEOF when the peer has gone and nothing is left;
 *         MPROC_ETOOBIG / MPROC_EBADMSG for a broken stream (the
 *         connection is closed); MPROC_ECLOSED; MPROC_EACCESS on the
 *         send-only end; MPROC_EINVAL for a NULL argument; MPROC_ENOMEM.
 */
MPROC_API int mproc_conn_recv_bytes(mproc_conn *c, void **buf, size_t *n);
/**
 * Python's recv_bytes(maxlength).  A longer message is MPROC_ETOOBIG "bad
 * message length" and, as in Python, it stays unread and this end stops
 * receiving: a duplex end becomes write-only, a receive-only end is
 * closed.
 * @param c the connection.
 * @param buf where the buffer goes (free it with mproc_free).
 * @param n where its length goes.
 * @param maxlength the longest message accepted; MPROC_NOSIZE: no limit.
 * @return 0; MPROC_ETOOBIG as above; MPROC_EINVAL "negative maxlength"
 *         (any other negative value) or a NULL argument; otherwise as
 *         mproc_conn_recv_bytes.
 */
MPROC_API int mproc_conn_recv_bytes_max(mproc_conn *c, void **buf, size_t *n,
                              int64_t maxlength);
/**
 * Receive one message into buf (Python's recv_bytes_into(buf)).  If it
 * does not fit, returns MPROC_EBUFSIZE, sets *n to the size needed and
 * keeps the message for the next receive.
 * @param c the connection.
 * @param buf the buffer.
 * @param cap its size.
 * @param n where the message's length goes.
 * @return 0; MPROC_EBUFSIZE as above; MPROC_EINVAL for a NULL argument;
 *         otherwise as mproc_conn_recv_bytes.
 */
MPROC_API int mproc_conn_recv_bytes_into(mproc_conn *c, void *buf, size_t cap,
                               size_t *n);
/**
 * Python's recv_bytes_into(buf, offset): the message goes to buf + offset
 * (cap is the whole buffer's size); *n is its length.  If it does not fit
 * in cap - offset: MPROC_EBUFSIZE, *n the length, and the message is kept
 * for the next receive (Python raises BufferTooShort carrying the consumed
 * message; C has no exception to carry it in).
 * @param c the connection.
 * @param buf the buffer.
 * @param cap the whole buffer's size.
 * @param offset where in buf the message goes.
 * @param n where the message's length goes.
 * @return 0; MPROC_EBUFSIZE as above; MPROC_EINVAL "negative offset" /
 *         "offset too large" (offset > cap) or a NULL argument; otherwise
 *         as mproc_conn_recv_bytes.
 */
MPROC_API int mproc_conn_recv_bytes_into_at(mproc_conn *c, void *buf, size_t cap,
                                  int64_t offset, size_t *n);
/**
 * Python's poll(timeout): whether a message (or EOF) can be read now.
 * @param c the connection.
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @return 1 if readable, 0 if not within timeout; MPROC_EINVAL for a NULL
 *         connection or a NaN timeout; MPROC_ECLOSED; MPROC_EACCESS on the
 *         send-only end; MPROC_EOS.
 */
MPROC_API int mproc_conn_poll(mproc_conn *c, double timeout);
/**
 * Python's readable.
 * @param c the connection.
 * @return 1 if this end receives, 0 if not (or c is NULL).
 */
MPROC_API int mproc_conn_readable(const mproc_conn *c);
/**
 * Python's writable.
 * @param c the connection.
 * @return 1 if this end sends, 0 if not (or c is NULL).
 */
MPROC_API int mproc_conn_writable(const mproc_conn *c);
/**
 * Python's closed.
 * @param c the connection.
 * @return 1 if closed (or c is NULL), 0 if open.
 */
MPROC_API int mproc_conn_closed(const mproc_conn *c);
/**
 * Close the OS handle; later calls give MPROC_ECLOSED.  Closing a closed
 * connection does nothing and returns 0 (Python).
 * @param c the connection.
 * @return 0; MPROC_EINVAL if c is NULL; MPROC_EOS if the OS close failed.
 */
MPROC_API int mproc_conn_close(mproc_conn *c);
/**
 * Close (if open) and release.
 * @param c the connection; NULL does nothing.
 */
MPROC_API void mproc_conn_free(mproc_conn *c);

/** @} */ /* ---------------------------------------------------------------- */
/* Processes                                                                */
/* ------------------------------------------------------------------------ */
/** @name Processes */
/** @{ */

/** A target: args is the list given at creation (never NULL; an empty list
 *  when none was given).  It is borrowed: mproc frees it, and the objects
 *  it holds, after the target returns.  The return value (0..255) is the
 *  exit code. */
typedef int (*mproc_target)(mproc_value *args);
/** The struct style (Python's Process subclass): self is a copy of the
 *  struct's bytes, made in the child. */
typedef int (*mproc_run)(void *self, mproc_value *args);

/** The options of mproc_process_new (Python's name= and daemon=). */
typedef struct mproc_process_opts {
  const char *name; /**< NULL: "Process-N" (nested "Process-N:M") */
  int daemon;       /**< -1: as the current process (Python's default) */
} mproc_process_opts;

/** The defaults: mproc_process_opts o = MPROC_PROCESS_OPTS_INIT; */
#define MPROC_PROCESS_OPTS_INIT {NULL, -1}

/**
 * Python's Process(target=f, args=...): a process object, not yet
 * started.  args (a list, may be NULL) is stolen; it may hold OS objects
 * (Connections, Locks, Queues, ...), which reach the child at start.
 * @param p where the new process goes (NULL on failure).
 * @param target the function the child runs: a plain function of the
 *        program (or of a library it loads), found again in the child.
 * @param args the argument list (stolen, also on failure), or NULL.
 * @param opts name and daemon flag, or NULL for the defaults.
 * @return 0; MPROC_EINVAL if p or target is NULL; MPROC_ETYPE if args is
 *         not a list; MPROC_ENOMEM.
 */
MPROC_API int mproc_process_new(mproc_process **p, mproc_target target,
                      mproc_value *args, const mproc_process_opts *opts);
/**
 * The struct style (Python's Process subclass): the size bytes at self
 * travel to the child, where run(copy, args) runs.
 * @param p where the new process goes (NULL on failure).
 * @param run the function the child runs.
 * @param self the struct (copied at start; pointers in it mean nothing in
 *        the child).
 * @param size its size in bytes.
 * @param args the argument list (stolen, also on failure), or NULL.
 * @param opts name and daemon flag, or NULL for the defaults.
 * @return 0; MPROC_EINVAL if p or run is NULL, or self is NULL with
 *         size > 0; MPROC_ETYPE if args is not a list; MPROC_ENOMEM.
 */
MPROC_API int mproc_process_new_struct(mproc_process **p, mproc_run run,
                             const void *self, size_t size, mproc_value *args,
                             const mproc_process_opts *opts);
/**
 * Python's start(): re-execute this program as the child and hand it the
 * target and arguments.  It returns once the child has taken its bootstrap
 * message, so every failure to start is reported here.
 * @param p the process.
 * @return 0; MPROC_ESTARTED if it was started before; MPROC_ENOTINIT if
 *         main() did not call mproc_init(); MPROC_ENOTSUP in a daemonic
 *         process (daemons have no children, as in Python); MPROC_ETARGET
 *         if the target is not a function of a loaded image;
 *         MPROC_ESPAWN if the child failed to start (crashed, could not
 *         find its target, forgot mproc_init, stalled past
 *         MPROC_START_TIMEOUT): the reason is in mproc_last_error();
 *         MPROC_ECLOSED for a closed process or a closed Connection in
 *         args; MPROC_EINVAL for NULL, mproc_current_process() or
 *         mproc_parent_process(); MPROC_EMFILE; MPROC_EOS; MPROC_ENOMEM.
 */
MPROC_API int mproc_process_start(mproc_process *p);
/**
 * Python's join(timeout): wait for the process to end.
 * @param p the process (a started child, or mproc_parent_process()).
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls, as in Python.
 * @return 0 once it has exited; MPROC_ETIMEDOUT if not within timeout;
 *         MPROC_ENOTSTARTED before start; MPROC_ENOTCHILD for
 *         mproc_current_process(); MPROC_ECLOSED after close;
 *         MPROC_EINVAL for NULL or a NaN timeout; MPROC_EOS.
 */
MPROC_API int mproc_process_join(mproc_process *p, double timeout);
/**
 * Python's is_alive() (reaps the child if it has ended).
 * @param p the process.
 * @return 1 alive, 0 not (or not started); MPROC_EINVAL for NULL;
 *         MPROC_ECLOSED after close; MPROC_EOS.
 */
MPROC_API int mproc_process_is_alive(mproc_process *p);
/**
 * Python's terminate(): SIGTERM / TerminateProcess; mproc_process_exitcode
 * then reads -15 on both OSes.  Does nothing (returns 0) if it has ended.
 * @param p the process.
 * @return 0; MPROC_ENOTSTARTED before start; MPROC_ENOTCHILD for the
 *         current or parent process; MPROC_ECLOSED; MPROC_EINVAL for
 *         NULL; MPROC_EOS.
 */
MPROC_API int mproc_process_terminate(mproc_process *p);
/**
 * Python's kill(): SIGKILL / TerminateProcess; mproc_process_exitcode then
 * reads -9 on both OSes.
 * @param p the process.
 * @return as mproc_process_terminate.
 */
MPROC_API int mproc_process_kill(mproc_process *p);
/**
 * Python's close(): release the OS resources of an ended process; 0
 * (nothing to do) if already closed, as in Python.  Afterwards most calls
 * on p give MPROC_ECLOSED; free it with mproc_process_free.
 * @param p the process.
 * @return 0; MPROC_ERUNNING if it is still running; MPROC_ENOTCHILD for
 *         the current or parent process; MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_process_close(mproc_process *p);
/**
 * Release a process object; a running one is detached (it keeps running
 * and is still joined at exit).  The current and parent process objects
 * are not freed.
 * @param p the process; NULL does nothing.
 */
MPROC_API void mproc_process_free(mproc_process *p);

/**
 * Python's exitcode: the target's return value, or -N if signal N ended it
 * (terminate -15, kill -9, a crash -11 ...).
 * @param p the process.
 * @param code where the exit code goes.
 * @return 0; MPROC_ENOTSTARTED before start; MPROC_ERUNNING while it
 *         runs, and for mproc_current_process(), which is running
 *         (Python's exitcode is None for both); MPROC_ENOTCHILD for the
 *         parent process; MPROC_ECLOSED; MPROC_EINVAL if p or code is NULL.
 */
MPROC_API int mproc_process_exitcode(mproc_process *p, int *code);
/**
 * Python's pid.
 * @param p the process.
 * @return the OS pid, or 0 before start (or for NULL).
 */
MPROC_API long mproc_process_pid(const mproc_process *p);
/**
 * Python's name: "Process-N" by default ("Process-N:M" for a grandchild),
 * "MainProcess" for the program the user started.
 * @param p the process.
 * @return the name (borrowed, valid until it is renamed or freed), NULL
 *         for NULL.
 */
MPROC_API const char *mproc_process_name(const mproc_process *p);
/**
 * Set Python's name (at any time, as in Python).
 * @param p the process.
 * @param name the new name (copied).
 * @return 0; MPROC_EINVAL if p or name is NULL; MPROC_ECLOSED;
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_process_set_name(mproc_process *p, const char *name);
/**
 * Python's daemon: a daemonic child is terminated when its parent exits,
 * and cannot have children.
 * @param p the process.
 * @return 1 if daemonic, 0 if not (or p is NULL).
 */
MPROC_API int mproc_process_daemon(const mproc_process *p);
/**
 * Set Python's daemon flag, before start.
 * @param p the process.
 * @param daemon non-zero for daemonic.
 * @return 0; MPROC_ESTARTED after start, or for the current or parent
 *         process (Python's "process has already started"); MPROC_EINVAL
 *         for NULL; MPROC_ECLOSED.
 */
MPROC_API int mproc_process_set_daemon(mproc_process *p, int daemon);

/**
 * Python's current_process().
 * @return the calling process ("MainProcess" in the program the user
 *         started; owned by mproc: mproc_process_free ignores it).  It
 *         is alive (is_alive gives 1, exitcode MPROC_ERUNNING); join,
 *         terminate and kill give MPROC_ENOTCHILD.
 */
MPROC_API mproc_process *mproc_current_process(void);
/**
 * Python's parent_process().
 * @return the parent (owned by mproc), or NULL in the main process.  Only
 *         is_alive, join, pid and name apply to it.
 */
MPROC_API mproc_process *mproc_parent_process(void);
/**
 * Python's active_children(): children started by this process that are
 * still running; finished ones are reaped (and freed, if their object was
 * freed while they ran).
 * @param out where up to cap pointers go (borrowed); may be NULL if cap
 *        is 0.
 * @param cap the size of out.
 * @return the count of all running children (which may exceed cap);
 *         MPROC_EINVAL if out is NULL with cap > 0.
 */
MPROC_API int mproc_active_children(mproc_process **out, size_t cap);

/** @} */ /* ---------------------------------------------------------------- */
/* Waiting on several objects (multiprocessing.connection.wait)             */
/* ------------------------------------------------------------------------ */
/** @name Waiting on several objects (multiprocessing.connection.wait) */
/** @{ */

/** An object mproc_wait can wait on: a Connection or a process sentinel
 *  (owned by its object). */
typedef struct mproc_waitable mproc_waitable;
/**
 * A Connection as an object for mproc_wait: ready when a message or EOF
 * can be read.
 * @param c the connection.
 * @return the waitable (owned by c, valid while c lives), NULL for NULL.
 */
MPROC_API mproc_waitable *mproc_conn_waitable(mproc_conn *c);
/**
 * Python's sentinel: a process as an object for mproc_wait, ready once it
 * has ended.
 * @param p the process.
 * @return the waitable (owned by p, valid while p lives), NULL for NULL.
 */
MPROC_API mproc_waitable *mproc_process_sentinel(mproc_process *p);
/**
 * Python's multiprocessing.connection.wait(objects, timeout): wait until
 * at least one of objs is ready (a Connection has a message or EOF; a
 * process has ended) or timeout passes.
 * @param objs the objects (from mproc_conn_waitable and
 *        mproc_process_sentinel).
 * @param n how many.
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @param ready n flags, each set to 1 (ready) or 0.
 * @return the number ready (0 on timeout); MPROC_EINVAL for a NULL array
 *         or object or a NaN timeout; MPROC_ENOTSTARTED for a sentinel of
 *         a process never started; MPROC_ECLOSED / MPROC_EACCESS for a
 *         closed or send-only connection; MPROC_ENOMEM; MPROC_EOS.
 */
MPROC_API int mproc_wait(mproc_waitable *const *objs, size_t n, double timeout,
               int *ready);

/** @} */ /* ---------------------------------------------------------------- */
/* Synchronization: Lock, RLock, Semaphore, Event, Condition, Barrier       */
/* ------------------------------------------------------------------------ */
/** @name Synchronization: Lock, RLock, Semaphore, Event, Condition, Barrier
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
/** @{ */
/** Python's Lock or RLock, shared between processes and threads. */
typedef struct mproc_lock mproc_lock;
/** Python's Semaphore or BoundedSemaphore. */
typedef struct mproc_sem mproc_sem;
/** Python's Event. */
typedef struct mproc_event mproc_event;
/** Python's Condition. */
typedef struct mproc_cond mproc_cond;
/** Python's Barrier. */
typedef struct mproc_barrier mproc_barrier;

/**
 * Python's Lock(): not recursive; any process or thread may release it.
 * It lives in a small unnamed shared block and reaches children as a
 * process argument (mproc_lock_ref).
 * @param l where the new lock goes (NULL on failure).
 * @return 0; MPROC_EINVAL if l is NULL; MPROC_ENOMEM / MPROC_EOS if the
 *         shared block cannot be made.
 */
MPROC_API int mproc_lock_new(mproc_lock **l);
/**
 * Python's RLock(): recursive; only the owning thread releases it.
 * @param l where the new lock goes (NULL on failure).
 * @return as mproc_lock_new.
 */
MPROC_API int mproc_rlock_new(mproc_lock **l);
/**
 * Python's acquire(block, timeout).  A Lock is not recursive: the owner
 * acquiring again waits (as in Python); an RLock's owner acquires again at
 * once.
 * @param l the lock.
 * @param timeout seconds; MPROC_FOREVER blocks; 0 or another negative
 *        value polls.
 * @return 0 acquired; MPROC_ETIMEDOUT not within timeout;
 *         MPROC_EOWNERDEAD acquired from a process that died holding it
 *         (the lock IS held: release it when the data is consistent
 *         again); MPROC_EINVAL for NULL, a NaN timeout, or an RLock
 *         acquired 2^32-1 times; MPROC_EOS.
 */
MPROC_API int mproc_lock_acquire(mproc_lock *l, double timeout);
/**
 * Python's release().
 * @param l the lock.
 * @return 0; Lock: MPROC_EINVAL "semaphore or lock released too many
 *         times" if it is not locked; RLock: MPROC_ENOTOWNER unless the
 *         calling thread owns it; MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_lock_release(mproc_lock *l);
/**
 * Whether l is an RLock.
 * @param l the lock.
 * @return 1 for an RLock, 0 for a Lock (or NULL).
 */
MPROC_API int mproc_lock_is_recursive(const mproc_lock *l);
/**
 * Python's _is_mine(): whether the calling thread holds l.
 * @param l the lock.
 * @return 1 if it does, 0 if not (or NULL).
 */
MPROC_API int mproc_lock_is_mine(const mproc_lock *l);
/**
 * Another reference: the object is released by the last mproc_lock_free
 * (in this process; other processes hold their own).
 * @param l the lock (NULL is returned as is).
 * @return l.
 */
MPROC_API mproc_lock *mproc_lock_incref(mproc_lock *l);
/**
 * Drop a reference; the last one releases the lock's memory in this
 * process.  Freeing a held lock does not release it for other processes.
 * @param l the lock; NULL does nothing.
 */
MPROC_API void mproc_lock_free(mproc_lock *l);

/**
 * Python's Semaphore(value).
 * @param s where the new semaphore goes (NULL on failure).
 * @param value the initial value.
 * @return 0; MPROC_EINVAL if s is NULL or value < 0 ("semaphore initial
 *         value must be >= 0"); MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_sem_new(mproc_sem **s, int value);
/**
 * Python's BoundedSemaphore(value): releasing above value is an error.
 * @param s where the new semaphore goes (NULL on failure).
 * @param value the initial and largest value.
 * @return as mproc_sem_new.
 */
MPROC_API int mproc_bsem_new(mproc_sem **s, int value);
/**
 * Python's acquire(block, timeout): take one unit, waiting for one.
 * @param s the semaphore.
 * @param timeout seconds; MPROC_FOREVER blocks; 0 or another negative
 *        value polls.
 * @return 0; MPROC_ETIMEDOUT; MPROC_EINVAL for NULL or a NaN timeout;
 *         MPROC_EOS.
 */
MPROC_API int mproc_sem_acquire(mproc_sem *s, double timeout);
/**
 * Python's release(): give one unit back, waking one waiter.
 * @param s the semaphore.
 * @return 0; MPROC_EINVAL "semaphore or lock released too many times" for
 *         a BoundedSemaphore at its value, "semaphore value would exceed
 *         2147483647" beyond 2^31-1, or for NULL; MPROC_EOS.
 */
MPROC_API int mproc_sem_release(mproc_sem *s);
/**
 * Python's get_value() (works on every OS, unlike Python's on macOS).
 * @param s the semaphore.
 * @return the current value (>= 0); MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_sem_get_value(const mproc_sem *s);
/**
 * Another reference (see mproc_lock_incref).
 * @param s the semaphore (NULL is returned as is).
 * @return s.
 */
MPROC_API mproc_sem *mproc_sem_incref(mproc_sem *s);
/**
 * Drop a reference (see mproc_lock_free).
 * @param s the semaphore; NULL does nothing.
 */
MPROC_API void mproc_sem_free(mproc_sem *s);

/**
 * Python's Event(): a flag, initially clear.
 * @param e where the new event goes (NULL on failure).
 * @return 0; MPROC_EINVAL if e is NULL; MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_event_new(mproc_event **e);
/**
 * Python's set(): set the flag and wake every waiter.
 * @param e the event.
 * @return 0; MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_event_set(mproc_event *e);
/**
 * Python's clear().
 * @param e the event.
 * @return 0; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_event_clear(mproc_event *e);
/**
 * Python's is_set().
 * @param e the event.
 * @return 1 if set, 0 if not (or NULL).
 */
MPROC_API int mproc_event_is_set(const mproc_event *e);
/**
 * Python's wait(timeout), except that the result is a code: 0 once the
 * flag is set (Python's True), MPROC_ETIMEDOUT (Python's False).
 * @param e the event.
 * @param timeout seconds; MPROC_FOREVER blocks; 0 or another negative
 *        value polls.
 * @return 0; MPROC_ETIMEDOUT if not set within timeout; MPROC_EINVAL for
 *         NULL or a NaN timeout; MPROC_EOS.
 */
MPROC_API int mproc_event_wait(mproc_event *e, double timeout);
/**
 * Another reference (see mproc_lock_incref).
 * @param e the event (NULL is returned as is).
 * @return e.
 */
MPROC_API mproc_event *mproc_event_incref(mproc_event *e);
/**
 * Drop a reference (see mproc_lock_free).
 * @param e the event; NULL does nothing.
 */
MPROC_API void mproc_event_free(mproc_event *e);

/**
 * Python's Condition(lock): lock is a Lock or RLock (the Condition keeps a
 * reference), or NULL for a new RLock of its own (Python's default).
 * @param c where the new condition goes (NULL on failure).
 * @param lock the lock, or NULL.
 * @return 0; MPROC_EINVAL if c is NULL; MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_cond_new(mproc_cond **c, mproc_lock *lock);
/**
 * The Condition's lock.
 * @param c the condition.
 * @return the lock (borrowed), NULL for NULL.
 */
MPROC_API mproc_lock *mproc_cond_lock(mproc_cond *c);
/**
 * Shorthand for mproc_lock_acquire on the Condition's lock.
 * @param c the condition.
 * @param timeout as for mproc_lock_acquire.
 * @return as mproc_lock_acquire; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_cond_acquire(mproc_cond *c, double timeout);
/**
 * Shorthand for mproc_lock_release on the Condition's lock.
 * @param c the condition.
 * @return as mproc_lock_release; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_cond_release(mproc_cond *c);
/**
 * Python's wait(timeout): release the lock (all levels of an RLock), sleep
 * until notified or timeout, take the lock back (always, also on timeout).
 * @param c the condition.
 * @param timeout seconds; MPROC_FOREVER blocks; 0 or another negative
 *        value polls.
 * @return 0 notified; MPROC_ETIMEDOUT; MPROC_ENOTOWNER if the caller does
 *         not hold the lock; MPROC_EOWNERDEAD if taking it back found its
 *         holder dead (the lock is held); MPROC_ENOMEM if more than 1024
 *         waiters wait on one Condition; MPROC_EINVAL for NULL or a NaN
 *         timeout; MPROC_EOS.
 */
MPROC_API int mproc_cond_wait(mproc_cond *c, double timeout);
/**
 * Python's wait_for(predicate, timeout): wait until pred(ctx) is non-zero
 * (checked first, then after each wake-up, with the lock held).
 * @param c the condition (its lock held by the caller).
 * @param pred the predicate.
 * @param ctx its argument.
 * @param timeout seconds for the whole wait; MPROC_FOREVER blocks.
 * @return 0 when the predicate holds; MPROC_ETIMEDOUT when it still does
 *         not at the timeout; MPROC_EINVAL if c or pred is NULL or the
 *         timeout is NaN; otherwise as mproc_cond_wait.
 */
MPROC_API int mproc_cond_wait_for(mproc_cond *c, int (*pred)(void *ctx), void *ctx,
                        double timeout);
/**
 * Python's notify(n): wake up to n waiters, oldest first.
 * @param c the condition (its lock held by the caller).
 * @param n how many.
 * @return 0; MPROC_ENOTOWNER if the caller does not hold the lock;
 *         MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_cond_notify(mproc_cond *c, unsigned n);
/**
 * Python's notify_all(): wake every waiter.
 * @param c the condition (its lock held by the caller).
 * @return as mproc_cond_notify.
 */
MPROC_API int mproc_cond_notify_all(mproc_cond *c);
/**
 * Another reference (see mproc_lock_incref).
 * @param c the condition (NULL is returned as is).
 * @return c.
 */
MPROC_API mproc_cond *mproc_cond_incref(mproc_cond *c);
/**
 * Drop a reference (see mproc_lock_free); the last one also drops the
 * Condition's reference to its lock.
 * @param c the condition; NULL does nothing.
 */
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
 * Python's Barrier(parties, action, timeout).  A negative default timeout
 * polls, as in Python (a waiter that is not the last breaks the barrier at
 * once).
 * @param b where the new barrier goes (NULL on failure).
 * @param parties how many waiters release each other (>= 1).
 * @param action run by the last to arrive, or NULL.
 * @param timeout the default of mproc_barrier_wait: MPROC_FOREVER or
 *        seconds.
 * @return 0; MPROC_EINVAL if b is NULL, parties < 1, or timeout is NaN or
 *         MPROC_DEFAULT_TIMEOUT; MPROC_ETARGET if action is not a function
 *         of a loaded image; MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_barrier_new(mproc_barrier **b, int parties,
                      mproc_barrier_action action, double timeout);
/**
 * Python's wait(timeout): wait for all parties.
 * @param b the barrier.
 * @param timeout seconds, MPROC_FOREVER, or MPROC_DEFAULT_TIMEOUT for the
 *        barrier's own.
 * @return the arrival index 0 .. parties-1; MPROC_EBROKEN (the barrier
 *         was, or became, broken: abort, a timeout of any waiter - this
 *         one's included -, a failed or missing action, a reset while
 *         waiting); MPROC_ETIMEDOUT if the previous round did not drain in
 *         time; MPROC_EINVAL for NULL or a NaN timeout; MPROC_EOS.
 */
MPROC_API int mproc_barrier_wait(mproc_barrier *b, double timeout);
/**
 * Python's abort(): break the barrier; current and future waiters get
 * MPROC_EBROKEN until a reset.
 * @param b the barrier.
 * @return 0; MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_barrier_abort(mproc_barrier *b);
/**
 * Python's reset(): back to the empty state; current waiters get
 * MPROC_EBROKEN.
 * @param b the barrier.
 * @return 0; MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_barrier_reset(mproc_barrier *b);
/**
 * Python's broken.
 * @param b the barrier.
 * @return 1 if broken, 0 if not; MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_barrier_broken(mproc_barrier *b);
/**
 * Python's n_waiting.
 * @param b the barrier.
 * @return how many wait in the current round; MPROC_EINVAL for NULL;
 *         MPROC_EOS.
 */
MPROC_API int mproc_barrier_n_waiting(mproc_barrier *b);
/**
 * Python's parties.
 * @param b the barrier.
 * @return the number of parties; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_barrier_parties(const mproc_barrier *b);
/**
 * Another reference (see mproc_lock_incref).
 * @param b the barrier (NULL is returned as is).
 * @return b.
 */
MPROC_API mproc_barrier *mproc_barrier_incref(mproc_barrier *b);
/**
 * Drop a reference (see mproc_lock_free).
 * @param b the barrier; NULL does nothing.
 */
MPROC_API void mproc_barrier_free(mproc_barrier *b);

/** @} */ /* ---------------------------------------------------------------- */
/* Shared memory: Value, Array, RawValue, RawArray, SharedMemory             */
/* ------------------------------------------------------------------------ */
/** @name Shared memory: Value, Array, RawValue, RawArray, SharedMemory */
/** @{ */

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
/**
 * Python's Value(typecode, init, lock=True): one item of typed shared
 * memory with a lock.
 * @param v where the new object goes (NULL on failure).
 * @param typecode one of b B h H i I l L q Q f d c.
 * @param init one item of that C type to start from, or NULL for zero.
 * @param lock NULL for an RLock of its own, or a Lock/RLock to use (it is
 *        referenced).
 * @return 0; MPROC_EINVAL if v is NULL or the typecode is unknown;
 *         MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_shared_value(mproc_shared **v, char typecode, const void *init,
                       mproc_lock *lock);
/**
 * Python's RawValue(typecode, init): a Value without a lock.
 * @param v where the new object goes (NULL on failure).
 * @param typecode one of b B h H i I l L q Q f d c.
 * @param init one item to start from, or NULL for zero.
 * @return as mproc_shared_value.
 */
MPROC_API int mproc_shared_rawvalue(mproc_shared **v, char typecode, const void *init);
/**
 * Python's Array(typecode, length, lock=True).
 * @param a where the new object goes (NULL on failure).
 * @param typecode one of b B h H i I l L q Q f d c.
 * @param length the number of items (0 is allowed).
 * @param init length items of that C type to start from, or NULL for
 *        zeros.
 * @param lock NULL for an RLock of its own, or a Lock/RLock to use.
 * @return 0; MPROC_EINVAL if a is NULL, the typecode is unknown or length
 *         is too large for the address space; MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_shared_array(mproc_shared **a, char typecode, size_t length,
                       const void *init, mproc_lock *lock);
/**
 * Python's RawArray(typecode, length): an Array without a lock.
 * @param a where the new object goes (NULL on failure).
 * @param typecode one of b B h H i I l L q Q f d c.
 * @param length the number of items.
 * @param init length items to start from, or NULL for zeros.
 * @return as mproc_shared_array.
 */
MPROC_API int mproc_shared_rawarray(mproc_shared **a, char typecode, size_t length,
                          const void *init);
/**
 * The items, shared with every process: `int *n = mproc_shared_data(v)`.
 * No locking: take mproc_shared_acquire around read-modify-write.
 * @param s the object.
 * @return the first item, NULL for NULL.
 */
MPROC_API void *mproc_shared_data(mproc_shared *s);
/**
 * The number of items (Python's len(); 1 for a Value).
 * @param s the object.
 * @return the count, 0 for NULL.
 */
MPROC_API size_t mproc_shared_len(const mproc_shared *s);
/**
 * The size of one item in bytes.
 * @param s the object.
 * @return the size, 0 for NULL.
 */
MPROC_API size_t mproc_shared_itemsize(const mproc_shared *s);
/**
 * The typecode given at creation.
 * @param s the object.
 * @return the typecode, 0 for NULL.
 */
MPROC_API char mproc_shared_typecode(const mproc_shared *s);
/**
 * Python's get_lock().
 * @param s the object.
 * @return the lock (borrowed), NULL for a Raw one (or NULL).
 */
MPROC_API mproc_lock *mproc_shared_get_lock(mproc_shared *s);
/**
 * Python's get_lock().acquire(timeout) (or "with v:").
 * @param s the object.
 * @param timeout as for mproc_lock_acquire.
 * @return as mproc_lock_acquire; MPROC_EINVAL for a Raw one ("a RawValue
 *         has no lock") or NULL.
 */
MPROC_API int mproc_shared_acquire(mproc_shared *s, double timeout);
/**
 * Python's get_lock().release().
 * @param s the object.
 * @return as mproc_lock_release; MPROC_EINVAL for a Raw one or NULL.
 */
MPROC_API int mproc_shared_release(mproc_shared *s);
/**
 * Item i as an int64_t (no locking).
 * @param s the object.
 * @param i the index.
 * @param out where the item goes.
 * @return 0; MPROC_ERANGE for a bad index, or a 'Q' or 64-bit 'L' item
 *         above INT64_MAX (use mproc_shared_get_uint); MPROC_ETYPE for a
 *         float typecode 'f' or 'd' (Python's TypeError); MPROC_EINVAL for
 *         a NULL argument.
 */
MPROC_API int mproc_shared_get_int(mproc_shared *s, size_t i, int64_t *out);
/**
 * Store an int64_t into item i (no locking).
 * @param s the object.
 * @param i the index.
 * @param val the value.
 * @return 0; MPROC_ERANGE for a bad index; MPROC_EINVAL for a value the
 *         typecode cannot hold ('c' is a byte, 0..255, as Python's bytes of
 *         length 1) or NULL.  An integer into 'f' or 'd' is fine, as in
 *         Python.
 */
MPROC_API int mproc_shared_set_int(mproc_shared *s, size_t i, int64_t val);
/**
 * Item i as a uint64_t (no locking).
 * @param s the object.
 * @param i the index.
 * @param out where the item goes.
 * @return 0; MPROC_ERANGE for a bad index or a negative item; MPROC_ETYPE
 *         for a float typecode; MPROC_EINVAL for a NULL argument.
 */
MPROC_API int mproc_shared_get_uint(mproc_shared *s, size_t i, uint64_t *out);
/**
 * Store a uint64_t into item i (no locking).
 * @param s the object.
 * @param i the index.
 * @param val the value.
 * @return 0; MPROC_ERANGE for a bad index; MPROC_EINVAL for a value the
 *         typecode cannot hold or NULL.
 */
MPROC_API int mproc_shared_set_uint(mproc_shared *s, size_t i, uint64_t val);
/**
 * Item i as a double; reads any typecode (no locking).
 * @param s the object.
 * @param i the index.
 * @param out where the item goes.
 * @return 0; MPROC_ERANGE for a bad index; MPROC_EINVAL for a NULL
 *         argument.
 */
MPROC_API int mproc_shared_get_float(mproc_shared *s, size_t i, double *out);
/**
 * Store a double into item i of an 'f' or 'd' object (no locking).
 * @param s the object.
 * @param i the index.
 * @param val the value.
 * @return 0; MPROC_ETYPE for an integer typecode (use
 *         mproc_shared_set_int; Python's TypeError); MPROC_EINVAL for a
 *         finite value out of a 'f' item's range, or NULL; MPROC_ERANGE
 *         for a bad index.
 */
MPROC_API int mproc_shared_set_float(mproc_shared *s, size_t i, double val);
/**
 * Another reference (see mproc_lock_incref).
 * @param s the object (NULL is returned as is).
 * @return s.
 */
MPROC_API mproc_shared *mproc_shared_incref(mproc_shared *s);
/**
 * Drop a reference (see mproc_lock_free).
 * @param s the object; NULL does nothing.
 */
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
/**
 * Python's shared_memory.SharedMemory(name, create, size): a block any
 * process can attach to by name.  On POSIX the creating process tree
 * unlinks forgotten names when it ends, even when killed (a resource
 * tracker, as CPython's); on Windows a name lives while a handle to it
 * does.
 * @param m where the new object goes (NULL on failure).
 * @param name 1 to 200 characters of A-Z a-z 0-9 _ . - (a leading '/'
 *        is ignored); NULL (with create) picks a random "mproc_<hex>".
 * @param create non-zero to create the block, 0 to attach to it.
 * @param size the size to create (> 0); ignored when attaching.
 * @return 0; MPROC_EEXIST if create and the name is taken; MPROC_ENOENT
 *         if attaching and there is no such block; MPROC_EINVAL for a NULL
 *         m, a bad name, no name when attaching, or size 0 when creating;
 *         MPROC_ENOMEM (also when the OS has no room for the block);
 *         MPROC_EOS.
 */
MPROC_API int mproc_shm_new(mproc_shm **m, const char *name, int create, size_t size);
/**
 * Python's buf.
 * @param m the object.
 * @return the bytes, NULL after mproc_shm_close (or for NULL).
 */
MPROC_API void *mproc_shm_buf(mproc_shm *m);
/**
 * Python's size.
 * @param m the object.
 * @return the size, 0 for NULL.
 */
MPROC_API size_t mproc_shm_size(const mproc_shm *m);
/**
 * Python's name (without a leading '/').
 * @param m the object.
 * @return the name (borrowed), NULL for NULL.
 */
MPROC_API const char *mproc_shm_name(const mproc_shm *m);
/**
 * Python's close(): unmap and close this process's access; the block
 * stays.  Closing twice does nothing.
 * @param m the object.
 * @return 0; MPROC_EINVAL for NULL; MPROC_EOS if unmapping failed.
 */
MPROC_API int mproc_shm_close(mproc_shm *m);
/**
 * Python's unlink(): remove the name (POSIX); the block goes when its last
 * user closes.  On Windows it does nothing and returns 0.
 * @param m the object.
 * @return 0; MPROC_ENOENT if the name is already gone; MPROC_EINVAL for
 *         NULL; MPROC_EOS.
 */
MPROC_API int mproc_shm_unlink(mproc_shm *m);
/**
 * Another reference (see mproc_lock_incref).
 * @param m the object (NULL is returned as is).
 * @return m.
 */
MPROC_API mproc_shm *mproc_shm_incref(mproc_shm *m);
/**
 * Drop a reference; the last one closes (if open) and releases.  It does
 * not unlink.
 * @param m the object; NULL does nothing.
 */
MPROC_API void mproc_shm_free(mproc_shm *m);

/* References for process arguments (the value does not own the object)
 * and the typed getters for the child. */
/**
 * A value referring to a Lock or RLock, for a process's argument list
 * (the value does not own the lock).  Sent anywhere else it gives
 * MPROC_EINHERIT.
 * @param l the lock.
 * @return a new value, or NULL with MPROC_EINVAL (l NULL) or MPROC_ENOMEM
 *         recorded.
 */
MPROC_API mproc_value *mproc_lock_ref(mproc_lock *l);
/**
 * A value referring to a Semaphore (see mproc_lock_ref).
 * @param s the semaphore.
 * @return a new value, or NULL (MPROC_EINVAL / MPROC_ENOMEM recorded).
 */
MPROC_API mproc_value *mproc_sem_ref(mproc_sem *s);
/**
 * A value referring to an Event (see mproc_lock_ref).
 * @param e the event.
 * @return a new value, or NULL (MPROC_EINVAL / MPROC_ENOMEM recorded).
 */
MPROC_API mproc_value *mproc_event_ref(mproc_event *e);
/**
 * A value referring to a Condition (see mproc_lock_ref); its lock travels
 * with it.
 * @param c the condition.
 * @return a new value, or NULL (MPROC_EINVAL / MPROC_ENOMEM recorded).
 */
MPROC_API mproc_value *mproc_cond_ref(mproc_cond *c);
/**
 * A value referring to a Barrier (see mproc_lock_ref).
 * @param b the barrier.
 * @return a new value, or NULL (MPROC_EINVAL / MPROC_ENOMEM recorded).
 */
MPROC_API mproc_value *mproc_barrier_ref(mproc_barrier *b);
/**
 * A value referring to a Value or Array (see mproc_lock_ref).
 * @param s the object.
 * @return a new value, or NULL (MPROC_EINVAL / MPROC_ENOMEM recorded).
 */
MPROC_API mproc_value *mproc_shared_ref(mproc_shared *s);
/**
 * A value referring to a SharedMemory (see mproc_lock_ref); an open one
 * travels (a closed one fails the start with MPROC_ECLOSED).
 * @param m the object.
 * @return a new value, or NULL (MPROC_EINVAL / MPROC_ENOMEM recorded).
 */
MPROC_API mproc_value *mproc_shm_ref(mproc_shm *m);
/**
 * In the child: the Lock or RLock an argument refers to.  Borrowed: it
 * lives until the target returns (mproc_lock_incref to keep it longer).
 * @param v the argument.
 * @param out where the lock goes.
 * @return 0; MPROC_ETYPE if v is not a value of that kind of object;
 *         MPROC_EINVAL if v or out is NULL.
 */
MPROC_API int mproc_value_get_lock(const mproc_value *v, mproc_lock **out);
/**
 * In the child: the Semaphore an argument refers to (see
 * mproc_value_get_lock).
 * @param v the argument.
 * @param out where the semaphore goes.
 * @return as mproc_value_get_lock.
 */
MPROC_API int mproc_value_get_sem(const mproc_value *v, mproc_sem **out);
/**
 * In the child: the Event an argument refers to (see
 * mproc_value_get_lock).
 * @param v the argument.
 * @param out where the event goes.
 * @return as mproc_value_get_lock.
 */
MPROC_API int mproc_value_get_event(const mproc_value *v, mproc_event **out);
/**
 * In the child: the Condition an argument refers to (see
 * mproc_value_get_lock).
 * @param v the argument.
 * @param out where the condition goes.
 * @return as mproc_value_get_lock.
 */
MPROC_API int mproc_value_get_cond(const mproc_value *v, mproc_cond **out);
/**
 * In the child: the Barrier an argument refers to (see
 * mproc_value_get_lock).
 * @param v the argument.
 * @param out where the barrier goes.
 * @return as mproc_value_get_lock.
 */
MPROC_API int mproc_value_get_barrier(const mproc_value *v, mproc_barrier **out);
/**
 * In the child: the Value or Array an argument refers to (see
 * mproc_value_get_lock).
 * @param v the argument.
 * @param out where the object goes.
 * @return as mproc_value_get_lock.
 */
MPROC_API int mproc_value_get_shared(const mproc_value *v, mproc_shared **out);
/**
 * In the child: the SharedMemory an argument refers to (see
 * mproc_value_get_lock).
 * @param v the argument.
 * @param out where the object goes.
 * @return as mproc_value_get_lock.
 */
MPROC_API int mproc_value_get_shm(const mproc_value *v, mproc_shm **out);

/** @} */ /* ---------------------------------------------------------------- */
/* Queues: Queue, SimpleQueue, JoinableQueue                                */
/* ------------------------------------------------------------------------ */
/** @name Queues: Queue, SimpleQueue, JoinableQueue
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
/** @{ */
/** Python's Queue, SimpleQueue or JoinableQueue. */
typedef struct mproc_queue mproc_queue;
/**
 * Python's Queue(maxsize).
 * @param q where the new queue goes (NULL on failure).
 * @param maxsize the most items it holds; <= 0 is unbounded; at most
 *        2^31-1.
 * @return 0; MPROC_EINVAL if q is NULL or maxsize > 2^31-1; MPROC_ENOMEM /
 *         MPROC_EOS if the shared buffer cannot be made.
 */
MPROC_API int mproc_queue_new(mproc_queue **q, long maxsize);
/**
 * Python's SimpleQueue(): unbounded; no task_done/join.
 * @param q where the new queue goes (NULL on failure).
 * @return as mproc_queue_new.
 */
MPROC_API int mproc_simplequeue_new(mproc_queue **q);
/**
 * Python's JoinableQueue(maxsize): a Queue with task_done and join.
 * @param q where the new queue goes (NULL on failure).
 * @param maxsize as for mproc_queue_new.
 * @return as mproc_queue_new.
 */
MPROC_API int mproc_joinablequeue_new(mproc_queue **q, long maxsize);
/**
 * The kinds of queue, for mproc_queue_new_opts: Queue, SimpleQueue,
 * JoinableQueue.
 */
enum { MPROC_QUEUE_PLAIN, MPROC_QUEUE_SIMPLE, MPROC_QUEUE_JOINABLE };
/** The options of mproc_queue_new_opts. */
typedef struct mproc_queue_opts {
  long maxsize;    /**< items; <= 0: unbounded (SimpleQueue: must be) */
  size_t bufsize;  /**< the buffer's first size in bytes; 0: 1 MiB */
  size_t maxbytes; /**< the most it grows to (address space reserved at
                      once, memory used as it grows); 0: 1 GiB (64 MiB on
                      32-bit systems); both rounded up to 4 KiB, at most
                      2^35 - 4096 */
} mproc_queue_opts;
/** The defaults: mproc_queue_opts o = MPROC_QUEUE_OPTS_INIT; */
#define MPROC_QUEUE_OPTS_INIT {0, 0, 0}
/**
 * A queue of that kind with the buffer sizes of opts.
 * @param q where the new queue goes (NULL on failure).
 * @param kind MPROC_QUEUE_PLAIN, MPROC_QUEUE_SIMPLE or
 *        MPROC_QUEUE_JOINABLE.
 * @param opts the sizes, or NULL for the defaults.
 * @return 0; MPROC_EINVAL for an unknown kind, a NULL q, maxsize above
 *         2^31-1 (or any maxsize for a SimpleQueue), bufsize or maxbytes
 *         above 2^35-4096, or a bufsize above maxbytes; MPROC_ENOMEM /
 *         MPROC_EOS.
 */
MPROC_API int mproc_queue_new_opts(mproc_queue **q, int kind,
                         const mproc_queue_opts *opts);
/**
 * Python's put(obj, timeout=...): put a copy of v (a value holding no OS
 * objects).  It returns once the item is in shared memory (there is no
 * feeder thread).
 * @param q the queue.
 * @param v the item (borrowed).
 * @param timeout seconds to wait for room; MPROC_FOREVER blocks; 0 or
 *        another negative value does not wait (Python's block=False).
 * @return 0; MPROC_EFULL when the queue stays full (maxsize items, or
 *         maxbytes of buffer) for timeout; MPROC_ECLOSED after
 *         mproc_queue_close; MPROC_EINHERIT if v holds an OS object;
 *         MPROC_EENCODE if v is nested too deep; MPROC_EINVAL for NULL or
 *         a NaN timeout; MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_queue_put(mproc_queue *q, const mproc_value *v, double timeout);
/**
 * Python's get(timeout=...): take the next item.
 * @param q the queue.
 * @param out where the new value goes (the caller frees it).
 * @param timeout seconds to wait for an item; MPROC_FOREVER blocks; 0 or
 *        another negative value does not wait (Python's block=False).
 * @return 0; MPROC_EEMPTY when nothing arrives within timeout; MPROC_EEOF
 *         once the queue is closed and drained; MPROC_EBADMSG for a
 *         corrupt item; MPROC_EINVAL for NULL or a NaN timeout;
 *         MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_queue_get(mproc_queue *q, mproc_value **out, double timeout);
/**
 * Python's put_nowait(obj): mproc_queue_put with timeout 0.
 * @param q the queue.
 * @param v the item (borrowed).
 * @return as mproc_queue_put (MPROC_EFULL at once when full).
 */
MPROC_API int mproc_queue_put_nowait(mproc_queue *q, const mproc_value *v);
/**
 * Python's get_nowait(): mproc_queue_get with timeout 0.
 * @param q the queue.
 * @param out where the new value goes.
 * @return as mproc_queue_get (MPROC_EEMPTY at once when empty).
 */
MPROC_API int mproc_queue_get_nowait(mproc_queue *q, mproc_value **out);
/**
 * Put n raw bytes as one item (no codec; any size).
 * @param q the queue.
 * @param p the bytes (may be NULL when n is 0).
 * @param n how many.
 * @param timeout as for mproc_queue_put.
 * @return as mproc_queue_put (without the codec's errors).
 */
MPROC_API int mproc_queue_put_bytes(mproc_queue *q, const void *p, size_t n,
                          double timeout);
/**
 * Take the next item as raw bytes.
 * @param q the queue.
 * @param p where the new buffer goes (free it with mproc_free).
 * @param n where its length goes.
 * @param timeout as for mproc_queue_get.
 * @return as mproc_queue_get.
 */
MPROC_API int mproc_queue_get_bytes(mproc_queue *q, void **p, size_t *n,
                          double timeout);
/**
 * Python's qsize(): the exact number of items in the queue (on every OS;
 * Python's raises NotImplementedError on macOS).
 * @param q the queue.
 * @return the count; MPROC_EINVAL for NULL.
 */
MPROC_API long mproc_queue_qsize(mproc_queue *q);
/**
 * Python's empty().
 * @param q the queue.
 * @return 1 if empty, 0 if not; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_queue_empty(mproc_queue *q);
/**
 * Python's full().
 * @param q the queue.
 * @return 1 if it holds maxsize items, 0 if not (always 0 unbounded);
 *         MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_queue_full(mproc_queue *q);
/**
 * Python's close(), for every process: no more puts (they get
 * MPROC_ECLOSED); readers drain what is there, then get MPROC_EEOF.
 * Closing twice does nothing.
 * @param q the queue.
 * @return 0; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_queue_close(mproc_queue *q);
/**
 * JoinableQueue's task_done(): one item taken is done.
 * @param q the queue.
 * @return 0; MPROC_EINVAL "task_done() called too many times" or NULL;
 *         MPROC_ENOTSUP if q is not a JoinableQueue; MPROC_EOS.
 */
MPROC_API int mproc_queue_task_done(mproc_queue *q);
/**
 * JoinableQueue's join(): wait until every item put has been task_done.
 * (Python's has no timeout; MPROC_FOREVER is that.)
 * @param q the queue.
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @return 0; MPROC_ETIMEDOUT; MPROC_ENOTSUP if q is not a JoinableQueue;
 *         MPROC_EINVAL for NULL or a NaN timeout; MPROC_EOS.
 */
MPROC_API int mproc_queue_join(mproc_queue *q, double timeout);
/**
 * Another reference (see mproc_lock_incref).
 * @param q the queue (NULL is returned as is).
 * @return q.
 */
MPROC_API mproc_queue *mproc_queue_incref(mproc_queue *q);
/**
 * Drop a reference; the last one unmaps the queue in this process (other
 * processes keep theirs; freeing does not close it).
 * @param q the queue; NULL does nothing.
 */
MPROC_API void mproc_queue_free(mproc_queue *q);
/**
 * A value referring to a queue, for a process's argument list (or a
 * Pool's initargs); inside a value put anywhere else it gives
 * MPROC_EINHERIT.
 * @param q the queue.
 * @return a new value, or NULL (MPROC_EINVAL / MPROC_ENOMEM recorded).
 */
MPROC_API mproc_value *mproc_queue_ref(mproc_queue *q);
/**
 * In the child: the queue an argument refers to (borrowed until the
 * target returns; mproc_queue_incref to keep it).
 * @param v the argument.
 * @param out where the queue goes.
 * @return 0; MPROC_ETYPE if v refers to no queue; MPROC_EINVAL if v or out
 *         is NULL.
 */
MPROC_API int mproc_value_get_queue(const mproc_value *v, mproc_queue **out);

/** @} */ /* ---------------------------------------------------------------- */
/* Pool and futures (Python's multiprocessing.Pool, concurrent.futures)     */
/* ------------------------------------------------------------------------ */
/** @name Pool and futures (Python's multiprocessing.Pool, concurrent.futures)
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
/** @{ */
/** A task: reads arg (borrowed), sets *result (a new value, or NULL for
 *  None) and returns 0, or fails with a negative MPROC_E* code (best
 *  through mproc_fail()).  A plain function of the program: no
 *  registration. */
typedef int (*mproc_task_fn)(const mproc_value *arg, mproc_value **result);
/** Runs once in each worker with opts.initargs; non-zero fails the start. */
typedef int (*mproc_pool_init_fn)(const mproc_value *initargs);

/**
 * In a task or initializer: record a message for code and return code,
 * as in `return mproc_fail(MPROC_EINVAL, "bad item %d", x);`.  The caller
 * of the pool gets that code and "task failed in worker <pid>: <message>".
 * @param code a negative MPROC_E* code (a code >= 0 becomes MPROC_EINVAL).
 * @param fmt a printf format for the message, or NULL for none.
 * @param ... its arguments.
 * @return the code.
 */
MPROC_API int mproc_fail(int code, const char *fmt, ...);
/**
 * In a task: whether the soft time limit of the running task (the pool's
 * or the call's soft_time_limit) has passed; the task may then stop early.
 * @return 1 once it has passed, 0 if not (or there is none).
 */
MPROC_API int mproc_task_expired(void);

/** Python's Pool (also the ProcessPoolExecutor of the futures). */
typedef struct mproc_pool mproc_pool;
/** Python's AsyncResult (also the iterator of imap). */
typedef struct mproc_async mproc_async;

/** The options of mproc_pool_new (Python's Pool arguments, plus
 *  billiard's limits). */
typedef struct mproc_pool_opts {
  int processes;                  /**< 0: mproc_cpu_count() */
  mproc_pool_init_fn initializer; /**< NULL: none */
  const mproc_value *initargs;    /**< borrowed list, may hold OS objects */
  long maxtasksperchild;          /**< 0: workers live as long as the pool */
  double time_limit;      /**< hard limit per task, seconds; 0: none */
  double soft_time_limit; /**< mproc_task_expired() after it; 0: none */
  size_t memory_limit;    /**< memory cap per worker, bytes (POSIX: its
                               address space; Win32: its commit charge);
                               0: none.  Over it an allocation fails (or,
                               where Windows does not enforce it, the
                               worker is ended within 10 ms); the task
                               fails, the worker is replaced */
  int backend; /**< MPROC_POOL_LOCAL (0) or MPROC_POOL_MPI (docs/mpi.md) */
} mproc_pool_opts;
/** The defaults: mproc_pool_opts o = MPROC_POOL_OPTS_INIT; */
#define MPROC_POOL_OPTS_INIT {0, NULL, NULL, 0, 0.0, 0.0, 0, 0}
/**
 * Where a pool's workers are (mproc_pool_opts.backend).  Not started by
 * mpiexec, or built without MPI: MPROC_POOL_MPI gives MPROC_ENOTSUP.  See
 * docs/mpi.md.
 */
enum mproc_pool_backend {
  MPROC_POOL_LOCAL = 0, /**< child processes of this one (the default) */
  /** the ranks 1 to N of a job started as mpiexec -n N+1 (rank 0 runs
   *  main(); processes 0 means every worker rank) */
  MPROC_POOL_MPI = 1
};

/** result: the value (apply) or the list of values (map). */
typedef void (*mproc_result_cb)(mproc_async *r, const mproc_value *result,
                                void *ctx);
/** error_callback: a failed task's code and message ("task failed in
 *  worker <pid>: ..."). */
typedef void (*mproc_error_cb)(mproc_async *r, int code, const char *message,
                               void *ctx);
/** progress: done of total tasks are finished. */
typedef void (*mproc_progress_cb)(mproc_async *r, size_t done, size_t total,
                                  void *ctx);

/** The options of the _async calls (Python's chunksize, callback,
 *  error_callback; progress and limits are mproc's).  Callbacks run on the
 *  pool's result thread. */
typedef struct mproc_call_opts {
  size_t chunksize; /**< 0: Python's default for map */
  mproc_result_cb callback;      /**< once the call succeeded, or NULL */
  mproc_error_cb error_callback; /**< once it failed, or NULL */
  mproc_progress_cb progress; /**< after each finished task */
  void *ctx;                  /**< given to the callbacks */
  double time_limit;      /**< 0: the pool's */
  double soft_time_limit; /**< 0: the pool's */
} mproc_call_opts;
/** The defaults: mproc_call_opts o = MPROC_CALL_OPTS_INIT; */
#define MPROC_CALL_OPTS_INIT {0, NULL, NULL, NULL, NULL, 0.0, 0.0}

/**
 * Python's Pool(processes, initializer, initargs, maxtasksperchild): start
 * the workers (this binary re-executed, daemonic).  The first workers
 * start here, so a start failure is reported here.
 * @param pool where the new pool goes (NULL on failure).
 * @param opts the options, or NULL for the defaults.
 * @return 0; MPROC_EINVAL if pool is NULL, processes or maxtasksperchild
 *         is negative or a time limit is negative or NaN; MPROC_ETYPE if
 *         initargs is not a list; MPROC_ESPAWN if a worker could not start
 *         (the reason in mproc_last_error()); MPROC_ETARGET if the
 *         initializer is not a function of a loaded image; MPROC_ENOTINIT
 *         if main() did not call mproc_init(); MPROC_ENOMEM / MPROC_EOS.
 */
MPROC_API int mproc_pool_new(mproc_pool **pool, const mproc_pool_opts *opts);
/**
 * Python's apply(fn, (arg,)): run fn(arg) in a worker and wait.
 * @param pool the pool.
 * @param fn the task.
 * @param arg its argument (borrowed; encoded at once).
 * @param result where the task's value goes (the caller frees it; NULL
 *        when the value is None).
 * @return 0; the task's code if it failed (its message, with the worker's
 *         pid, in mproc_last_error()): the code it returned,
 *         MPROC_EWORKERDIED if its worker died, MPROC_ETIMEDOUT past the
 *         hard time limit, MPROC_ECLOSED if cancelled or the pool was
 *         terminated; MPROC_EINHERIT if arg holds an OS object (or the
 *         result did); MPROC_ECLOSED if the pool is closed; MPROC_ESPAWN if
 *         the pool cannot start workers any more; MPROC_ETARGET if fn is
 *         not a function of a loaded image; MPROC_EINVAL for a NULL
 *         argument; MPROC_ENOMEM.
 */
MPROC_API int mproc_pool_apply(mproc_pool *pool, mproc_task_fn fn,
                     const mproc_value *arg, mproc_value **result);
/**
 * Python's apply_async(fn, (arg,), callback, error_callback): submit and
 * return at once.
 * @param pool the pool.
 * @param fn the task.
 * @param arg its argument (borrowed; encoded at once).
 * @param opts callbacks, their ctx and time limits, or NULL.
 * @param r where the new AsyncResult goes (free it with mproc_async_free).
 * @return 0; MPROC_ECLOSED if the pool is closed; MPROC_EINHERIT if arg
 *         holds an OS object; MPROC_ESPAWN if the pool cannot start workers
 *         any more; MPROC_ETARGET; MPROC_EINVAL for a NULL argument or a
 *         negative time limit; MPROC_ENOMEM.  The task's own outcome comes
 *         from mproc_async_get.
 */
MPROC_API int mproc_pool_apply_async(mproc_pool *pool, mproc_task_fn fn,
                           const mproc_value *arg,
                           const mproc_call_opts *opts, mproc_async **r);
/**
 * Python's map(fn, list, chunksize): fn over each item of list, in chunks,
 * and wait.  A failed task gives its code (the first failed one's); the
 * others still ran.
 * @param pool the pool.
 * @param fn the task.
 * @param list the items (a list; borrowed).
 * @param chunksize items per chunk; 0: Python's default.
 * @param results where the list of values, in order, goes (the caller
 *        frees it; also set when a task failed, failed items None).
 * @return 0; a failed task's code; MPROC_ETYPE if list is not a list;
 *         otherwise as mproc_pool_apply.
 */
MPROC_API int mproc_pool_map(mproc_pool *pool, mproc_task_fn fn,
                   const mproc_value *list, size_t chunksize,
                   mproc_value **results);
/**
 * Python's map_async(fn, list, chunksize, callback, error_callback).
 * @param pool the pool.
 * @param fn the task.
 * @param list the items (a list; borrowed).
 * @param opts chunksize, callbacks, ctx and time limits, or NULL.
 * @param r where the new AsyncResult goes (free it with mproc_async_free).
 * @return 0; MPROC_ETYPE if list is not a list; otherwise as
 *         mproc_pool_apply_async.
 */
MPROC_API int mproc_pool_map_async(mproc_pool *pool, mproc_task_fn fn,
                         const mproc_value *list, const mproc_call_opts *opts,
                         mproc_async **r);
/**
 * Python's starmap: each item is a list of arguments, given to fn as its
 * arg.
 * @param pool the pool.
 * @param fn the task.
 * @param list the items, each a list (borrowed).
 * @param chunksize items per chunk; 0: Python's default.
 * @param results where the list of values goes (the caller frees it).
 * @return as mproc_pool_map; MPROC_ETYPE also if an item is not a list.
 */
MPROC_API int mproc_pool_starmap(mproc_pool *pool, mproc_task_fn fn,
                       const mproc_value *list, size_t chunksize,
                       mproc_value **results);
/**
 * Python's starmap_async.
 * @param pool the pool.
 * @param fn the task.
 * @param list the items, each a list (borrowed).
 * @param opts chunksize, callbacks, ctx and time limits, or NULL.
 * @param r where the new AsyncResult goes (free it with mproc_async_free).
 * @return as mproc_pool_map_async; MPROC_ETYPE also if an item is not a
 *         list.
 */
MPROC_API int mproc_pool_starmap_async(mproc_pool *pool, mproc_task_fn fn,
                             const mproc_value *list,
                             const mproc_call_opts *opts, mproc_async **r);
/**
 * Python's imap (chunksize 0 means 1, as Python): the tasks run at once
 * and mproc_async_next gives the results in order while later tasks still
 * run.
 * @param pool the pool.
 * @param fn the task.
 * @param list the items (a list; borrowed).
 * @param chunksize items per chunk; 0: 1.
 * @param it where the iterator goes (free it with mproc_async_free).
 * @return as mproc_pool_map_async.
 */
MPROC_API int mproc_pool_imap(mproc_pool *pool, mproc_task_fn fn,
                    const mproc_value *list, size_t chunksize,
                    mproc_async **it);
/**
 * Python's imap_unordered: as mproc_pool_imap, the results in completion
 * order.
 * @param pool the pool.
 * @param fn the task.
 * @param list the items (a list; borrowed).
 * @param chunksize items per chunk; 0: 1.
 * @param it where the iterator goes (free it with mproc_async_free).
 * @return as mproc_pool_map_async.
 */
MPROC_API int mproc_pool_imap_unordered(mproc_pool *pool, mproc_task_fn fn,
                              const mproc_value *list, size_t chunksize,
                              mproc_async **it);
/**
 * Python's next(it, timeout) on an imap iterator.
 * @param it the iterator.
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @param out where the value goes (the caller's to free; None if the task
 *        set none).
 * @return 0; the task's code if it failed (the iterator moves on, as
 *         Python's next() raising); MPROC_ETIMEDOUT; MPROC_EEOF once all
 *         were given (StopIteration); MPROC_EINVAL for NULL, an
 *         AsyncResult that is not an imap iterator, or a NaN timeout.
 */
MPROC_API int mproc_async_next(mproc_async *it, double timeout, mproc_value **out);
/**
 * Python's close(): no more submissions (they get MPROC_ECLOSED); workers
 * exit when all is done.
 * @param pool the pool.
 * @return 0; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_pool_close(mproc_pool *pool);
/**
 * Python's terminate(): fail every unfinished task (MPROC_ECLOSED), stop
 * the workers and wait for them (from a callback it takes effect when the
 * callback returns, without waiting).
 * @param pool the pool.
 * @return 0; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_pool_terminate(mproc_pool *pool);
/**
 * Python's join(): wait for the workers to exit.
 * @param pool the pool (closed or terminated).
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @return 0; MPROC_EINVAL unless closed/terminated (Python's "Pool is
 *         still running"), from a callback, for NULL or a NaN timeout;
 *         MPROC_ETIMEDOUT.
 */
MPROC_API int mproc_pool_join(mproc_pool *pool, double timeout);
/**
 * Terminate (if needed), join and release the pool.  AsyncResults stay
 * usable (free them too).  In a callback (the pool's result thread) it
 * only terminates the pool: free it again from another thread.
 * @param pool the pool; NULL does nothing.
 */
MPROC_API void mproc_pool_free(mproc_pool *pool);
/**
 * The pids of the current workers (they change as workers are replaced).
 * @param pool the pool.
 * @param pids where up to cap pids go (may be NULL).
 * @param cap the size of pids.
 * @return the number of workers (may exceed cap); MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_pool_pids(mproc_pool *pool, long *pids, size_t cap);

/**
 * Python's AsyncResult.wait(timeout), except that the result is a code.
 * @param r the AsyncResult.
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @return 0 when ready (succeeded or not); MPROC_ETIMEDOUT if not within
 *         timeout; MPROC_EINVAL for NULL or a NaN timeout.
 */
MPROC_API int mproc_async_wait(mproc_async *r, double timeout);
/**
 * Python's AsyncResult.get(timeout): wait, then the value (apply) or list
 * (map), or the failed task's code with its message in
 * mproc_last_error().
 * @param r the AsyncResult (not an imap iterator).
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @param out where the value goes (borrowed, valid until mproc_async_free;
 *        out may be NULL; *out is NULL for an apply whose value is None;
 *        for a map it is the list even when a task failed, failed items
 *        None).
 * @return 0; the first failed task's code (see mproc_pool_apply);
 *         MPROC_ETIMEDOUT; MPROC_EINVAL for NULL, an imap iterator or a NaN
 *         timeout.
 */
MPROC_API int mproc_async_get(mproc_async *r, double timeout, const mproc_value **out);
/**
 * Python's ready().
 * @param r the AsyncResult.
 * @return 1 if every task is finished, 0 if not; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_async_ready(mproc_async *r);
/**
 * Python's successful().
 * @param r the AsyncResult.
 * @return 1 if every task succeeded, 0 if not; MPROC_EINVAL if not ready
 *         (Python's ValueError) or NULL.
 */
MPROC_API int mproc_async_successful(mproc_async *r);
/**
 * Task i of the call: its code and, each if not NULL, its value, message
 * and worker pid (borrowed, valid until mproc_async_free).
 * @param r the AsyncResult.
 * @param i the task's index (its item's, for a map).
 * @param value where its value goes (NULL for None; value may be NULL).
 * @param message where its failure message goes (NULL on success; may be
 *        NULL).
 * @param pid where the pid of the worker that ran it goes (may be NULL).
 * @return the task's code (0 success); MPROC_EINVAL if it is not finished
 *         or r is NULL; MPROC_ERANGE if i is not a task of the call.
 */
MPROC_API int mproc_async_task(mproc_async *r, size_t i, const mproc_value **value,
                     const char **message, long *pid);
/**
 * How many tasks are finished, of how many.
 * @param r the AsyncResult.
 * @param done where the finished count goes (may be NULL).
 * @param total where the task count goes (may be NULL).
 * @return 0; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_async_progress(mproc_async *r, size_t *done, size_t *total);
/**
 * Cancel the call (not in Python's Pool; billiard's): queued tasks never
 * run and fail with MPROC_ECLOSED ("cancelled"); with kill_running the
 * workers running its tasks are killed (and replaced), those tasks fail
 * the same way; else they finish.
 * @param r the AsyncResult.
 * @param kill_running non-zero to kill the workers running its tasks.
 * @return how many tasks were cancelled (0 if it was ready, or when called
 *         from a callback: then it acts when the callback returns);
 *         MPROC_EINVAL for NULL; MPROC_ENOMEM.
 */
MPROC_API int mproc_async_cancel(mproc_async *r, int kill_running);
/**
 * Release an AsyncResult (an unfinished call still completes; callbacks
 * still run).
 * @param r the AsyncResult; NULL does nothing.
 */
MPROC_API void mproc_async_free(mproc_async *r);

/*
 * The concurrent.futures face, on the same pool (a pool is the executor:
 * ProcessPoolExecutor(max_workers) is mproc_pool_new with processes =
 * max_workers).  A future is an mproc_async of one task.  wait and
 * as_completed take futures of one pool (MPROC_EINVAL otherwise).
 */
/** Python's concurrent.futures.Future: an mproc_async of one task. */
typedef struct mproc_async mproc_future;
/**
 * Python's executor.submit(fn, arg): a future of one task.
 * @param pool the pool.
 * @param fn the task.
 * @param arg its argument (borrowed; encoded at once).
 * @param f where the new future goes (free it with mproc_future_free).
 * @return as mproc_pool_apply_async (MPROC_ECLOSED after shutdown:
 *         Python's "cannot schedule new futures after shutdown").
 */
MPROC_API int mproc_pool_submit(mproc_pool *pool, mproc_task_fn fn,
                      const mproc_value *arg, mproc_future **f);
/**
 * Python's shutdown(wait, cancel_futures): no more submissions; with
 * cancel_futures every future not started is cancelled; with wait, waits
 * for the running ones and the workers' exit.
 * @param pool the pool.
 * @param wait non-zero to wait.
 * @param cancel_futures non-zero to cancel the futures not started.
 * @return 0; MPROC_EINVAL for NULL or from a callback with wait.
 */
MPROC_API int mproc_pool_shutdown(mproc_pool *pool, int wait, int cancel_futures);
/**
 * Python's Future.result(timeout).
 * @param f the future.
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @param out where the value goes (borrowed, valid until
 *        mproc_future_free; out may be NULL; *out is NULL when the value
 *        is None).
 * @return 0; the task's code if it failed (its message in
 *         mproc_last_error()); MPROC_ETIMEDOUT; MPROC_ECLOSED if
 *         cancelled; MPROC_EINVAL for NULL or a NaN timeout.
 */
MPROC_API int mproc_future_result(mproc_future *f, double timeout,
                        const mproc_value **out);
/**
 * Python's Future.exception(timeout): the task's failure, if any.
 * @param f the future.
 * @param timeout as for mproc_future_result.
 * @param message where the failure message goes (borrowed; NULL on
 *        success; may be NULL).
 * @return 0 if it succeeded, the task's code if it failed;
 *         MPROC_ETIMEDOUT; MPROC_ECLOSED if cancelled; MPROC_EINVAL.
 */
MPROC_API int mproc_future_exception(mproc_future *f, double timeout,
                           const char **message);
/**
 * Python's done(): finished, failed or cancelled.
 * @param f the future.
 * @return 1 if done, 0 if not; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_future_done(mproc_future *f);
/**
 * Python's running().
 * @param f the future.
 * @return 1 once the task has gone to a worker and is not done, else 0;
 *         MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_future_running(mproc_future *f);
/**
 * Python's cancel().
 * @param f the future.
 * @return 1 if cancelled now (it will never run), 0 if running or done;
 *         MPROC_EINVAL for NULL; MPROC_ENOMEM.
 */
MPROC_API int mproc_future_cancel(mproc_future *f);
/**
 * Python's cancelled().
 * @param f the future.
 * @return 1 if it was cancelled, 0 if not; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_future_cancelled(mproc_future *f);
/**
 * Python's add_done_callback(fn): fn(f, ctx) once f is done: at once in
 * the caller if it is, else on the pool's result thread (callbacks run in
 * the order added).
 * @param f the future.
 * @param fn the callback.
 * @param ctx its argument.
 * @return 0; MPROC_EINVAL if f or fn is NULL; MPROC_ENOMEM.
 */
MPROC_API int mproc_future_add_done_callback(mproc_future *f,
                                   void (*fn)(mproc_future *f, void *ctx),
                                   void *ctx);
/**
 * Release a future (see mproc_async_free).
 * @param f the future; NULL does nothing.
 */
MPROC_API void mproc_future_free(mproc_future *f);

/** Python's return_when of concurrent.futures.wait (mproc_futures_wait). */
enum {
  MPROC_FIRST_COMPLETED = 1, /**< as soon as one future is done */
  MPROC_FIRST_EXCEPTION = 2, /**< as soon as one fails, or all are done */
  MPROC_ALL_COMPLETED = 3    /**< when all are done */
};
/**
 * Python's wait(fs, timeout, return_when).
 * @param fs the futures, all of one pool.
 * @param n how many.
 * @param timeout seconds; MPROC_FOREVER blocks; another negative value
 *        polls.
 * @param return_when MPROC_FIRST_COMPLETED, MPROC_FIRST_EXCEPTION or
 *        MPROC_ALL_COMPLETED.
 * @param done n flags, each set to 1 (done) or 0.
 * @return how many are done (the condition may not hold at the timeout:
 *         that is not an error, as in Python); MPROC_EINVAL for a NULL
 *         array, future or done, futures of different pools, an unknown
 *         return_when or a NaN timeout.
 */
MPROC_API int mproc_futures_wait(mproc_future *const *fs, size_t n, double timeout,
                       int return_when, int *done);
/**
 * Python's as_completed(fs, timeout) as an iterator.
 */
typedef struct mproc_completed mproc_completed;
/**
 * Python's as_completed(fs, timeout): an iterator over fs in completion
 * order; the timeout counts from this call, as in Python.
 * @param it where the new iterator goes (free it with
 *        mproc_completed_free).
 * @param fs the futures, all of one pool (the array is copied).
 * @param n how many.
 * @param timeout seconds for the whole iteration; MPROC_FOREVER: none.
 * @return 0; MPROC_EINVAL for a NULL argument, futures of different pools
 *         or a NaN timeout; MPROC_ENOMEM.
 */
MPROC_API int mproc_as_completed(mproc_completed **it, mproc_future *const *fs,
                       size_t n, double timeout);
/**
 * The next future to complete.
 * @param it the iterator.
 * @param f where the future goes (borrowed: the caller's own; may be NULL).
 * @param index where its index in fs goes (may be NULL).
 * @return 0; MPROC_EEOF when all were given; MPROC_ETIMEDOUT at the
 *         timeout (Python's TimeoutError); MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_completed_next(mproc_completed *it, mproc_future **f,
                         size_t *index);
/**
 * Release the iterator (not the futures).
 * @param it the iterator; NULL does nothing.
 */
MPROC_API void mproc_completed_free(mproc_completed *it);

/** @} */ /* ---------------------------------------------------------------- */
/* Manager                                                                  */
/* ------------------------------------------------------------------------ */
/** @name Manager
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
/** @{ */
/** A Manager: a started server process, or one connected to. */
typedef struct mproc_manager mproc_manager;
/** A proxy to an object held by a Manager's server. */
typedef struct mproc_proxy mproc_proxy;

/** The options of mproc_manager_start and mproc_server_new. */
typedef struct mproc_manager_opts {
  /** NULL: a private local address (a socket in a 0700 directory / an
   *  owner-only named pipe).  "host:port" listens there (never on every
   *  interface unless host is "0.0.0.0" or "::"). */
  const char *address;
  /** NULL: this process's authkey (inherited by children, as Python's). */
  const void *authkey;
  size_t authkey_len; /**< authkey's length in bytes */
  /** Seconds a client may take to authenticate (<= 0: 5). */
  double handshake_timeout;
  /** The largest request the server reads, in bytes (0: 64 MiB); larger
   *  requests close that connection before anything is allocated. */
  size_t max_message;
  /** Open client connections at most (0: 1024); more are closed at once. */
  int max_connections;
} mproc_manager_opts;
/** The defaults: mproc_manager_opts o = MPROC_MANAGER_OPTS_INIT; */
#define MPROC_MANAGER_OPTS_INIT {NULL, NULL, 0, 5.0, 0, 0}

/**
 * Python's Manager() / SyncManager.start(): a server process (daemonic),
 * ready to serve when this returns; it dies with this process (even when
 * this one is killed).  Types registered with mproc_manager_register
 * before this call are served.
 * @param m where the new manager goes (NULL on failure).
 * @param opts address, authkey and limits, or NULL for the defaults.
 * @return 0; MPROC_ESPAWN if the server process could not start or ended
 *         at start; the server's code (MPROC_EOS, MPROC_EINVAL, ...) if it
 *         could not listen on the address (e.g. a "host:port" in use);
 *         MPROC_EINVAL if m is NULL or the authkey is too long;
 *         MPROC_ENOTSUP in a daemonic process (it cannot have children);
 *         MPROC_ENOTINIT if main() did not call mproc_init();
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_manager_start(mproc_manager **m, const mproc_manager_opts *opts);
/**
 * Python's BaseManager(address, authkey).connect(): a manager served by
 * another process.  Like Python's connect() it checks that the server is
 * there and knows the key.
 * @param m where the new manager goes (NULL on failure).
 * @param address the server's address (mproc_manager_address on its side).
 * @param authkey the key, or NULL for this process's (inherited from the
 *        parent, as Python's).
 * @param authkey_len its length.
 * @return 0; MPROC_EAUTH if the server does not accept the key (or does
 *         not prove it knows it); MPROC_EEOF if nobody listens there;
 *         MPROC_ETIMEDOUT if the handshake stalls; MPROC_EINVAL for a NULL
 *         m or address, or an address or key too long; MPROC_ENOMEM /
 *         MPROC_EOS.
 */
MPROC_API int mproc_manager_connect(mproc_manager **m, const char *address,
                          const void *authkey, size_t authkey_len);
/**
 * The address clients connect to.
 * @param m the manager.
 * @return the address (borrowed), NULL for NULL.
 */
MPROC_API const char *mproc_manager_address(const mproc_manager *m);
/**
 * Python's shutdown(): stop a started server (its objects go; it is
 * terminated, then killed, if it does not stop within 2 s each); a
 * connected manager just lets go.  Proxies of a stopped server fail with
 * MPROC_EEOF; later creations on m with MPROC_ECLOSED.  Shutting down
 * twice does nothing.
 * @param m the manager.
 * @return 0; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_manager_shutdown(mproc_manager *m);
/**
 * Shut down (see mproc_manager_shutdown) and release.
 * @param m the manager; NULL does nothing.
 */
MPROC_API void mproc_manager_free(mproc_manager *m);
/**
 * The number of objects the server holds (tests, leak checks).
 * @param m the manager.
 * @return the count; MPROC_EEOF if the server has gone; MPROC_EINVAL for
 *         NULL.
 */
MPROC_API int mproc_manager_object_count(mproc_manager *m);

/**
 * Python's SyncManager.list(seq): a list in the server.
 * @param m the manager.
 * @param init a list to start from (stolen, also on failure), or NULL.
 * @param out where the new proxy goes (free it with mproc_proxy_free).
 * @return 0; MPROC_ECLOSED after shutdown; MPROC_EEOF if the server has
 *         gone; MPROC_EINHERIT if init holds an OS object (a proxy may be
 *         inside); the server's MPROC_ETYPE / MPROC_EINVAL for a bad init;
 *         MPROC_EINVAL if m or out is NULL; MPROC_ENOMEM.
 */
MPROC_API int mproc_manager_list(mproc_manager *m, mproc_value *init, mproc_proxy **out);
/**
 * Python's SyncManager.dict(d): a dict in the server.
 * @param m the manager.
 * @param init a dict to start from (stolen, also on failure), or NULL.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_dict(mproc_manager *m, mproc_value *init, mproc_proxy **out);
/**
 * Python's SyncManager.Namespace(): attributes by __getattribute__,
 * __setattr__, __delattr__.
 * @param m the manager.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_namespace(mproc_manager *m, mproc_proxy **out);
/**
 * Python's SyncManager.Value(typecode, value): methods get() and set(v)
 * (and the "value" attribute through __getattribute__/__setattr__).
 * @param m the manager.
 * @param typecode one of mproc_shared_value's typecodes.
 * @param init the value (stolen, also on failure), or NULL for zero.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list; MPROC_EINVAL "bad typecode" for an
 *         unknown typecode.
 */
MPROC_API int mproc_manager_value(mproc_manager *m, char typecode, mproc_value *init,
                        mproc_proxy **out);
/**
 * Python's SyncManager.Array(typecode, sequence).
 * @param m the manager.
 * @param typecode one of mproc_shared_value's typecodes.
 * @param init a list of the items (stolen, also on failure), or NULL for
 *        none.
 * @param out where the new proxy goes.
 * @return as mproc_manager_value.
 */
MPROC_API int mproc_manager_array(mproc_manager *m, char typecode, mproc_value *init,
                        mproc_proxy **out);
/**
 * Python's SyncManager.Queue(maxsize), JoinableQueue, Lock, RLock,
 * Semaphore(value), BoundedSemaphore(value), Event, Condition (with its
 * own RLock) and Barrier(parties, timeout) (timeout MPROC_FOREVER: none;
 * no action: functions do not travel to the server).  Their methods are
 * called with mproc_proxy_call by Python's names with Python's positional
 * arguments: put(item, block=True, timeout=None), get(block=True,
 * timeout=None) (a timeout gives MPROC_EFULL / MPROC_EEMPTY),
 * acquire(blocking=True, timeout=-1) -> True/False, release(),
 * wait(timeout=None), notify(n=1), notify_all(), set(), clear(),
 * is_set(), task_done(), join(), qsize(), abort(), reset(), parties(),
 * n_waiting(), broken().  A client process that dies holding a Lock or
 * RLock (or a Condition's lock) has it released by the server: the next
 * acquire returns MPROC_EOWNERDEAD with the lock held.  A blocked call
 * returns MPROC_EEOF at once if the server dies.
 * @param m the manager.
 * @param maxsize the most items (<= 0: unbounded).
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_queue(mproc_manager *m, long maxsize, mproc_proxy **out);
/**
 * Python's SyncManager.JoinableQueue(maxsize) (see mproc_manager_queue).
 * @param m the manager.
 * @param maxsize the most items (<= 0: unbounded).
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_joinablequeue(mproc_manager *m, long maxsize,
                                mproc_proxy **out);
/**
 * Python's SyncManager.Lock() (see mproc_manager_queue).
 * @param m the manager.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_lock(mproc_manager *m, mproc_proxy **out);
/**
 * Python's SyncManager.RLock() (see mproc_manager_queue).
 * @param m the manager.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_rlock(mproc_manager *m, mproc_proxy **out);
/**
 * Python's SyncManager.Semaphore(value) (see mproc_manager_queue).
 * @param m the manager.
 * @param value the initial value.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list; MPROC_EINVAL for a negative value.
 */
MPROC_API int mproc_manager_semaphore(mproc_manager *m, int value, mproc_proxy **out);
/**
 * Python's SyncManager.BoundedSemaphore(value) (see mproc_manager_queue).
 * @param m the manager.
 * @param value the initial and largest value.
 * @param out where the new proxy goes.
 * @return as mproc_manager_semaphore.
 */
MPROC_API int mproc_manager_bsemaphore(mproc_manager *m, int value, mproc_proxy **out);
/**
 * Python's SyncManager.Event() (see mproc_manager_queue).
 * @param m the manager.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_event(mproc_manager *m, mproc_proxy **out);
/**
 * Python's SyncManager.Condition() with its own RLock (see
 * mproc_manager_queue).
 * @param m the manager.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list.
 */
MPROC_API int mproc_manager_condition(mproc_manager *m, mproc_proxy **out);
/**
 * Python's SyncManager.Barrier(parties, timeout) without an action (see
 * mproc_manager_queue).
 * @param m the manager.
 * @param parties the number of parties (>= 1).
 * @param timeout the default timeout of wait, or MPROC_FOREVER.
 * @param out where the new proxy goes.
 * @return as mproc_manager_list; MPROC_EINVAL for parties < 1.
 */
MPROC_API int mproc_manager_barrier(mproc_manager *m, int parties, double timeout,
                          mproc_proxy **out);
/**
 * Any registered type (or a built-in one) by its type id.
 * @param m the manager.
 * @param typeid the type id ("list", "dict", "Queue", a registered one...).
 * @param args the constructor's positional arguments: a list or tuple
 *        (stolen, also on failure), or NULL for none.
 * @param out where the new proxy goes.
 * @return 0; MPROC_ENOTSUP for a type id the server does not know;
 *         MPROC_ETYPE if args is not a list or tuple; the code the type's
 *         create returned (MPROC_EINVAL if it returned a non-negative
 *         failure); MPROC_EINVAL for a NULL typeid; otherwise as
 *         mproc_manager_list.
 */
MPROC_API int mproc_manager_create(mproc_manager *m, const char *typeid,
                         mproc_value *args, mproc_proxy **out);

/**
 * Call a method of the referent, by Python's name: "append",
 * "__getitem__", "__len__", "keys", ...  A slice is the tuple (start,
 * stop[, step]) of ints or None where Python writes l[start:stop:step].
 * @param p the proxy.
 * @param method the method's name.
 * @param args a list or tuple of the positional arguments (stolen, also
 *        on failure), or NULL for none.
 * @param result where the return value goes (a new value; None for none);
 *        NULL to drop it.
 * @return 0; MPROC_EKEY / MPROC_ERANGE / MPROC_ETYPE / MPROC_EINVAL as
 *         Python's KeyError / IndexError / TypeError / ValueError, with
 *         Python's words in mproc_last_error(); MPROC_ENOTSUP for a method
 *         the type does not expose; MPROC_EEOF when the server has gone;
 *         MPROC_EKEY if the object is gone; MPROC_EINHERIT if args holds
 *         an OS object other than a proxy; MPROC_EINVAL for a NULL proxy
 *         or method; MPROC_ETYPE if args is not a list or tuple;
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_proxy_call(mproc_proxy *p, const char *method, mproc_value *args,
                     mproc_value **result);
/**
 * Python's BaseManager.register('get_queue', callable=...): the name a
 * server published (mproc_server_publish) gives a proxy to that one
 * object, for any client.  (A type id gives a new object, as
 * mproc_manager_create.)
 * @param m the manager.
 * @param name the published name.
 * @param args ignored by a published object (stolen); NULL for none.
 * @param out where the new proxy goes.
 * @return 0; MPROC_ENOTSUP if the server knows no such name; otherwise as
 *         mproc_manager_create.
 */
MPROC_API int mproc_manager_get(mproc_manager *m, const char *name, mproc_value *args,
                      mproc_proxy **out);

/**
 * A server in the current process (Python's get_server().serve_forever()),
 * for a program that is itself the manager, e.g. on "host:port" for
 * remote clients.  Objects it publishes under a name live as long as it.
 */
typedef struct mproc_server mproc_server;
/**
 * A manager server in the current process (Python's
 * get_server().serve_forever()), for a program that is itself the
 * manager, e.g. on "host:port" for remote clients.  It listens when this
 * returns; mproc_server_serve_forever serves.
 * @param s where the new server goes (NULL on failure).
 * @param opts address, authkey and limits, or NULL for the defaults.
 * @return 0; MPROC_EOS if it cannot listen there (an address in use...);
 *         MPROC_EINVAL if s is NULL, or an address or authkey too long;
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_server_new(mproc_server **s, const mproc_manager_opts *opts);
/**
 * The address clients connect to.
 * @param s the server.
 * @return the address (borrowed), NULL for NULL.
 */
MPROC_API const char *mproc_server_address(const mproc_server *s);
/**
 * A new object of typeid that clients reach by name with
 * mproc_manager_get.  It lives as long as the server.
 * @param s the server.
 * @param name the name (under 64 bytes; not a type id).
 * @param typeid the object's type id.
 * @param args the constructor's positional arguments (stolen, also on
 *        failure), or NULL for none.
 * @return 0; MPROC_EEXIST if name is a type id; MPROC_ENOTSUP for an
 *         unknown typeid; the type's create's code; MPROC_EINVAL for a
 *         NULL argument or a name too long; MPROC_ENOMEM (also past 32
 *         names).
 */
MPROC_API int mproc_server_publish(mproc_server *s, const char *name,
                         const char *typeid, mproc_value *args);
/**
 * Call a method of a published object from the server program itself (it
 * may block, e.g. a Queue get, while other clients are served).
 * @param s the server.
 * @param name the published name.
 * @param method the method's name.
 * @param args the positional arguments (stolen, also on failure), or NULL.
 * @param result where the return value goes (a new value; may be NULL).
 * @return 0; MPROC_EKEY if nothing is published under name; otherwise as
 *         mproc_proxy_call.
 */
MPROC_API int mproc_server_call(mproc_server *s, const char *name, const char *method,
                      mproc_value *args, mproc_value **result);
/**
 * Serve until mproc_server_stop (called from another thread, e.g. a
 * signal-watching one).
 * @param s the server.
 * @return 0 once stopped; MPROC_ECLOSED if it was stopped before;
 *         MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_server_serve_forever(mproc_server *s);
/**
 * Stop serving: mproc_server_serve_forever returns.  Safe from another
 * thread.
 * @param s the server; NULL does nothing.
 */
MPROC_API void mproc_server_stop(mproc_server *s);
/**
 * Free a stopped server (with its objects; clients get MPROC_EEOF).
 * @param s the server; NULL does nothing.
 */
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
  const char *typeid; /**< the type id (under 64 bytes) */
  /** Build the state from args (borrowed); 0 or a negative code. */
  int (*create)(mproc_value *args, void **state);
  /** Run method with args (borrowed), set *result; 0 or a code. */
  int (*call)(void *state, const char *method, mproc_value *args,
              mproc_value **result);
  void (*free)(void *state); /**< release the state (may be NULL) */
  const char *const *exposed; /**< the method names, NULL-terminated */
} mproc_manager_type;
/**
 * Register a type for the managers started (or servers made) afterwards
 * by this process.
 * @param t the type (its strings are copied).
 * @return 0; MPROC_EEXIST if the type id is taken (also by a built-in
 *         type); MPROC_EINVAL for NULL, a type id empty or of 64 bytes or
 *         more, a NULL create or call, or too many exposed names;
 *         MPROC_ENOMEM (also past the most types).
 */
MPROC_API int mproc_manager_register(const mproc_manager_type *t);

/**
 * Python's str(proxy): the referent's str, e.g. "[100, 300, 101]".
 * @param p the proxy.
 * @param out where the new text goes (free it with mproc_free).
 * @return 0; MPROC_EINVAL if out is NULL; otherwise as mproc_proxy_call.
 */
MPROC_API int mproc_proxy_str(mproc_proxy *p, char **out);
/**
 * Python's repr(proxy): "<ListProxy object, typeid 'list' at 0x...>" (no
 * call to the server).
 * @param p the proxy.
 * @param out where the new text goes (free it with mproc_free).
 * @return 0; MPROC_EINVAL if p or out is NULL; MPROC_ENOMEM.
 */
MPROC_API int mproc_proxy_repr(const mproc_proxy *p, char **out);
/**
 * Python's len(proxy).
 * @param p the proxy.
 * @param n where the length goes (may be NULL).
 * @return 0; MPROC_ENOTSUP if the type has no __len__; otherwise as
 *         mproc_proxy_call.
 */
MPROC_API int mproc_proxy_len(mproc_proxy *p, size_t *n);
/**
 * The type id ("list", "dict", "Namespace", ...).
 * @param p the proxy.
 * @return the type id (borrowed), NULL for NULL.
 */
MPROC_API const char *mproc_proxy_typeid(const mproc_proxy *p);
/**
 * Another reference to the proxy (the server's object lives while any
 * proxy in any process refers to it).
 * @param p the proxy (NULL is returned as is).
 * @return p.
 */
MPROC_API mproc_proxy *mproc_proxy_incref(mproc_proxy *p);
/**
 * Drop a reference; the last one tells the server (the object goes with
 * its last proxy in every process).
 * @param p the proxy; NULL does nothing.
 */
MPROC_API void mproc_proxy_free(mproc_proxy *p);
/**
 * A value referring to p, to send anywhere: process arguments, a Pipe, a
 * Queue, inside another manager object (the value does not own p).  The
 * receiver reaches the same object.
 * @param p the proxy.
 * @return a new value, or NULL with MPROC_EINVAL (p NULL) or MPROC_ENOMEM
 *         recorded.
 */
MPROC_API mproc_value *mproc_proxy_ref(mproc_proxy *p);
/**
 * The proxy a received value holds (borrowed, valid while v lives;
 * mproc_proxy_incref to keep it).
 * @param v the value.
 * @param out where the proxy goes.
 * @return 0; MPROC_ETYPE if v holds no proxy; MPROC_EINVAL if out is
 *         NULL.
 */
MPROC_API int mproc_value_get_proxy(const mproc_value *v, mproc_proxy **out);

/** @} */ /* ---------------------------------------------------------------- */
/* Threads (for programs that mix threads and processes, as Python's)       */
/* ------------------------------------------------------------------------ */
/** @name Threads (for programs that mix threads and processes, as Python's) */
/** @{ */

/** A thread of this process (Python's threading.Thread). */
typedef struct mproc_thread mproc_thread;
/**
 * Python's threading.Thread(target=fn, args=(arg,)).start(): run fn(arg)
 * in a new thread of this process.
 * @param t where the new thread goes (NULL on failure).
 * @param fn the function.
 * @param arg its argument.
 * @return 0; MPROC_EINVAL if t or fn is NULL; MPROC_ENOMEM / MPROC_EOS if
 *         the thread cannot be made.
 */
MPROC_API int mproc_thread_start(mproc_thread **t, int (*fn)(void *arg), void *arg);
/**
 * Python's join(): wait for the thread to end, store fn's return value
 * (if result is not NULL) and release t.
 * @param t the thread (released on success).
 * @param result where fn's return value goes (may be NULL).
 * @return 0; MPROC_EINVAL for NULL; MPROC_EOS.
 */
MPROC_API int mproc_thread_join(mproc_thread *t, int *result);
/**
 * Python's threading.get_ident().
 * @return the calling thread's OS id (never 0).
 */
MPROC_API unsigned long mproc_thread_ident(void);

/** @} */
#ifdef __cplusplus
}
#endif
#endif /* MPROC_H */
