/*
 * mgr_int.h - what the files of lib/manager/ share (not public).
 *
 * Map: the handshake (auth.c), the wire protocol's op codes and limits,
 * the server's object table and type methods (server.c, types.c), the
 * client side: connections to a manager, proxies and the hooks the codec
 * calls for a proxy inside a value (proxy.c).
 */
#ifndef MPROC_MGR_INT_H
#define MPROC_MGR_INT_H

#include "mproc_int.h"

/* ---- handshake (auth.c) ---------------------------------------------------- */

#define MPROC__SESSION_LEN 16
/* Server side: challenge the client on h, check its answer, answer its
 * challenge; all within deadline (monotonic).  On success *session is
 * the client's session id.  MPROC_EAUTH for a wrong key, MPROC_ETIMEDOUT,
 * MPROC_EEOF.  Nothing is decoded: fixed-size raw frames only.  admit
 * (if not NULL) runs once the client's answer is right and before the
 * final ok is written: whatever it records (the server joins the session)
 * is done before the client can use the connection; an error from it
 * refuses the client; if the final write fails after admit, undoing
 * what admit recorded is the caller's. */
int mproc__auth_serve(mproc__handle h, const unsigned char *key, size_t keylen,
                      double deadline, unsigned char *session,
                      int (*admit)(void *ctx, const unsigned char *session),
                      void *ctx);
/* Client side of the same. */
int mproc__auth_client(mproc__handle h, const unsigned char *key,
                       size_t keylen, double deadline,
                       const unsigned char *session);

/* ---- addresses (address.c) ------------------------------------------------ */

/* addr parsed: tcp 0 for a local endpoint (or NULL), else host and port.
 * MPROC_EINVAL with a clear message for a malformed "host:port". */
typedef struct mproc__mgr_addr {
  int tcp;
  char host[128];
  unsigned port;
} mproc__mgr_addr;
int mproc__mgr_addr_parse(const char *addr, mproc__mgr_addr *a);
/* Listen on want (NULL: private local); the address used into addr. */
int mproc__mgr_listen(const char *want, char *addr, size_t cap,
                      mproc__listener **out);
/* Connect to addr within timeout seconds (< 0: forever): MPROC_EEOF when
 * nobody listens there, MPROC_ETIMEDOUT when nobody answers in time. */
int mproc__mgr_connect(const char *addr, double timeout, mproc__handle *h);

/* ---- protocol -------------------------------------------------------------- */

/* Request: [op, id, name, args, tid] (tid: the caller's thread, which
 * owns an RLock; it may be left out); reply: [0, result] or [code,
 * message]. */
enum {
  MPROC__OP_CREATE = 1,  /* name: typeid; args: constructor's; -> id */
  MPROC__OP_CALL = 2,    /* id, name: method, args -> result */
  MPROC__OP_DECREF = 3,  /* id, args [token]: drop a ref (token 0: own) */
  MPROC__OP_TRANSIT = 4, /* id -> token: a reference for a proxy in flight */
  MPROC__OP_CLAIM = 5,   /* id, args [token]: the transit ref becomes ours */
  MPROC__OP_COUNT = 6,   /* -> the number of objects */
  MPROC__OP_SHUTDOWN = 7 /* stop serving (the starter's connection only) */
};
#define MPROC__MGR_MAX_MESSAGE ((size_t)64 << 20)
#define MPROC__MGR_MAX_CONNS 1024
#define MPROC__MGR_HANDSHAKE 5.0

/* ---- server (server.c) and types (types.c) ----------------------------------- */

typedef struct mproc__mobj mproc__mobj;
typedef struct mproc_server mproc__mserver; /* public: mproc_server */

/*
 * A call in progress, for the types whose methods block (sync.c): who
 * calls (session number: one per client process; the client's thread id)
 * and the means to wait.  mcall_wait releases the server's lock, sleeps
 * until a wake or a short slice passes, takes the lock back and returns
 * 0 (re-check the condition), MPROC_ETIMEDOUT once deadline (monotonic;
 * < 0 none) has passed, or MPROC_EEOF when the caller's connection has
 * gone (a killed client stops waiting: it takes no item, no lock).
 */
typedef struct mproc__mcall {
  mproc__mserver *s;
  mproc_conn *c;
  uint64_t sess;
  uint64_t tid;
} mproc__mcall;
int mproc__mcall_wait(mproc__mcall *k, double deadline);
/* Wake every waiter to re-check (after a change that may unblock one). */
void mproc__mcall_wake(mproc__mcall *k);

/* One shared type: a constructor and its methods. */
typedef struct mproc__mtype {
  const char *typeid;
  const char *proxy_name; /* "ListProxy" */
  /* Types kept as a value (types.c): build the state from the
   * constructor's args (a list); run method on *state (may replace it)
   * with args; *result set on 0. */
  int (*create)(mproc_value *args, mproc_value **state);
  int (*call)(mproc_value **state, const char *method, mproc_value *args,
              mproc_value **result);
  /* Types kept as a C struct (sync.c: their methods may block). */
  int (*ccreate)(mproc_value *args, void **c);
  int (*ccall)(mproc__mcall *k, void *c, const char *method,
               mproc_value *args, mproc_value **result);
  void (*cfree)(void *c);
  /* A client process ended: release what session sess held. */
  void (*cdead)(mproc__mcall *k, void *c, uint64_t sess);
  int (*crepr)(void *c, char **out);
  /* A registered type (register.c): its functions, its exposed names. */
  const mproc_manager_type *user;
} mproc__mtype;
/* Registered types (register.c): find one; as a plain value for the
 * server process's arguments, and back (registers them there). */
const mproc__mtype *mproc__mreg_find(const char *typeid);
int mproc__mreg_export(mproc_value **plain);
int mproc__mreg_import(const mproc_value *plain);
/* Create / call a registered type's object. */
int mproc__mreg_create(const mproc__mtype *t, mproc_value *args, void **c);
int mproc__mreg_call(const mproc__mtype *t, void *c, const char *method,
                     mproc_value *args, mproc_value **result);
const mproc__mtype *mproc__msync_find(const char *typeid);
const mproc__mtype *mproc__mtype_find(const char *typeid);
/* The repr of a state (for __repr__/__str__ of every type). */
int mproc__mtype_repr(const mproc__mtype *t, const mproc_value *state,
                      char **out);

/* The server of this process, if any: proxies to it are resolved here. */
int mproc__mserver_local_incref(const char *addr, uint64_t id,
                                uint64_t token);
void mproc__mserver_local_decref(const char *addr, uint64_t id);
int mproc__mserver_local_transit(const char *addr, uint64_t id,
                                 uint64_t *token);
int mproc__mserver_is_local(const char *addr);
/* 1 if this process runs a server (it then accepts only its own proxies
 * inside requests: never a proxy that would make it connect elsewhere). */
int mproc__mserver_running(void);
/* A server listening on want (NULL: private) - not yet serving. */
int mproc__mserver_new(const char *want, const void *key, size_t keylen,
                       double hs_timeout, size_t max_msg, int max_conns,
                       mproc__mserver **out);
/* Free a server that has stopped serving (0), or leave it (1) when a
 * client still holds a connection (its thread still uses it). */
int mproc__mserver_free(mproc__mserver *s);
/* Make s the server of this process (proxies to it resolve locally). */
void mproc__mserver_adopt(mproc__mserver *s);
/* Serve one authenticated connection until it ends or breaks the
 * protocol (the post-handshake loop; fuzz/fuzz_manager.c drives it). */
int mproc__mserver_serve_conn(mproc__mserver *s, mproc_conn *c,
                              const unsigned char *sid);
/* The objects s holds. */
size_t mproc__mserver_count(mproc__mserver *s);

/* ---- proxies (proxy.c) ---------------------------------------------------- */

extern const mproc__objtype mproc__proxy_type;
/* Codec hooks: a proxy as the plain [address, typeid, id, token] (this
 * takes a transit reference) and back (the receiver claims it). */
int mproc__proxy_wire_out(void *proxy, mproc_value **plain);
int mproc__proxy_wire_in(const mproc_value *plain, mproc_value **objval);
/* A deep copy that takes a reference for every proxy inside. */
mproc_value *mproc__mgr_copy(const mproc_value *v);
/* A proxy for (addr, typeid, id) owning one reference (server side). */
int mproc__proxy_make(const char *addr, const char *typeid, uint64_t id,
                      uint64_t token, mproc_proxy **out);
const char *mproc__proxy_name(const char *typeid);
/* Tests: the server process a manager started (NULL if connected). */
mproc_process *mproc__manager_process(mproc_manager *m);

#endif /* MPROC_MGR_INT_H */
