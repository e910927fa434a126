/*
 * proxy.c - the Manager's client side: managers (started or connected),
 * connections to a server, proxies, and the codec hooks that let a proxy
 * travel inside any value.
 *
 * Map: the process's client registry (one client per address: its
 * authkey and a pool of idle authenticated connections), a request round
 * trip, proxies (make, call, repr, reference counting), the codec hooks
 * (wire_out / wire_in) and copying, the public manager functions.
 *
 * Connections: a call takes an idle connection of the address (or opens
 * and authenticates a new one), sends [op, id, name, args], waits for the
 * reply on that connection and puts it back; so threads of one process
 * never wait for each other's calls, and a server that dies is seen as
 * EOF on the connection at once (MPROC_EEOF; nothing hangs).  All the
 * connections of a process carry one random session id: the server counts
 * this process's references per session and drops them when the last
 * connection goes (the process ended).
 *
 * Travelling proxies (the transit rule): encoding a proxy asks the server
 * for a transit reference (a token) that keeps the object alive while the
 * message is in flight; the receiver claims it on its first use of the
 * proxy (or gives it back when it frees an unused proxy), after which the
 * reference is the receiver's.  A message that is never received keeps
 * its object until the manager shuts down.  A proxy decoded inside the
 * server itself (a dict holding a list proxy) claims at once, for the
 * server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_thread_mutex.h>
#include <sodium.h>

#include "mgr_int.h"

#define MAX_IDLE 16
#define ADDR_MAX 256
#define CONNECT_TIMEOUT 10.0

typedef struct mclient {
  char addr[ADDR_MAX];
  unsigned char key[256];
  size_t keylen;
  int process_key; /* use this process's authkey (read at connect) */
  mproc_conn *anchor; /* idle for life: keeps the session (references) */
  mproc_conn *idle[MAX_IDLE];
  int nidle;
  struct mclient *next;
} mclient;

struct mproc_proxy {
  int refs;
  int local; /* in the server process itself */
  mclient *cl;
  char addr[ADDR_MAX];
  char typeid[64];
  uint64_t id;
  uint64_t token; /* an unclaimed transit reference, or 0 */
};

struct mproc_manager {
  mclient *cl;
  mproc_process *proc; /* the server we started, or NULL */
  int down;
};

static apr_pool_t *g_pool;
static apr_thread_mutex_t *g_mu;
static mclient *g_clients;
static unsigned char g_session[MPROC__SESSION_LEN];
static int g_offline;

void mproc__proxy_offline(int on) { g_offline = on; }

static int registry(void) {
  int rc = mproc__ensure_runtime();
  if (rc)
    return rc;
  mproc__runtime_lock();
  if (!g_mu) {
    if (apr_pool_create(&g_pool, NULL) != APR_SUCCESS ||
        apr_thread_mutex_create(&g_mu, APR_THREAD_MUTEX_DEFAULT, g_pool) !=
            APR_SUCCESS)
      rc = mproc__err(MPROC_ENOMEM, "manager registry");
    else if (sodium_init() < 0)
      rc = mproc__err(MPROC_EOS, "libsodium could not initialise");
    else
      randombytes_buf(g_session, sizeof g_session);
  }
  mproc__runtime_unlock();
  return rc;
}

/* The client of addr (made with key, or this process's authkey). */
static int client_get(const char *addr, const void *key, size_t keylen,
                      mclient **out) {
  mclient *c;
  int rc = registry();
  if (rc)
    return rc;
  if (strlen(addr) >= ADDR_MAX)
    return mproc__err(MPROC_EINVAL, "manager: address too long");
  if (keylen > sizeof c->key)
    return mproc__err(MPROC_EINVAL, "manager: authkey too long");
  apr_thread_mutex_lock(g_mu);
  for (c = g_clients; c; c = c->next)
    if (!strcmp(c->addr, addr))
      break;
  if (!c && (c = calloc(1, sizeof *c)) != NULL) {
    strcpy(c->addr, addr);
    c->next = g_clients;
    g_clients = c;
    c->process_key = !key;
  }
  if (c && key) { /* an explicit key is the one for this address */
    memcpy(c->key, key, keylen);
    c->keylen = keylen;
    c->process_key = 0;
  }
  apr_thread_mutex_unlock(g_mu);
  if (!c)
    return mproc__err(MPROC_ENOMEM, "manager client");
  *out = c;
  return 0;
}

/* A new authenticated connection to cl's server. */
static int conn_open(mclient *cl, mproc_conn **out) {
  mproc__handle h;
  unsigned char key[256];
  size_t keylen;
  int rc;
  apr_thread_mutex_lock(g_mu);
  /* The process authkey is read now: a child learns it at bootstrap,
   * after its arguments (which may hold proxies) are decoded. */
  keylen = cl->process_key ? 32 : cl->keylen;
  memcpy(key, cl->process_key ? mproc__authkey() : cl->key, keylen);
  apr_thread_mutex_unlock(g_mu);
  rc = mproc__mgr_connect(cl->addr, CONNECT_TIMEOUT, &h);
  if (rc) {
    sodium_memzero(key, sizeof key);
    if (rc == MPROC_EEOF)
      mproc__err(MPROC_EEOF, "manager at %s: the server has gone (%s)",
                 cl->addr, mproc_last_error());
    return rc;
  }
  rc = mproc__auth_client(h, key, keylen,
                          mproc__plat_monotonic() + CONNECT_TIMEOUT,
                          g_session);
  sodium_memzero(key, sizeof key);
  if (rc) {
    mproc__plat_close(h);
    return rc;
  }
  *out = mproc__conn_wrap(h, 1, 1);
  if (!*out) {
    mproc__plat_close(h);
    return MPROC_ENOMEM;
  }
  return 0;
}

/*
 * An idle connection, or a new one.  The first connection to a server
 * becomes the anchor: never used for requests (so a request that breaks
 * its connection, e.g. one over the size cap, cannot end the session), it
 * stays open while this process lives and the server keeps this process's
 * references for as long.
 */
static int conn_take(mclient *cl, mproc_conn **out) {
  mproc_conn *a = NULL;
  int rc;
  apr_thread_mutex_lock(g_mu);
  if (cl->nidle) {
    *out = cl->idle[--cl->nidle];
    apr_thread_mutex_unlock(g_mu);
    return 0;
  }
  a = cl->anchor;
  apr_thread_mutex_unlock(g_mu);
  if (!a) {
    if ((rc = conn_open(cl, &a)) != 0)
      return rc;
    apr_thread_mutex_lock(g_mu);
    if (!cl->anchor) {
      cl->anchor = a;
      a = NULL;
    }
    apr_thread_mutex_unlock(g_mu);
    mproc_conn_free(a);
  }
  return conn_open(cl, out);
}

static void conn_give(mclient *cl, mproc_conn *c) {
  apr_thread_mutex_lock(g_mu);
  if (cl->nidle < MAX_IDLE) {
    cl->idle[cl->nidle++] = c;
    c = NULL;
  }
  apr_thread_mutex_unlock(g_mu);
  /* Beyond the pool: close it; its references stay with the session,
   * which the pooled connections keep open. */
  mproc_conn_free(c);
}

/* One round trip: args stolen; *result on 0 (may be NULL to drop). */
static int request(mclient *cl, int op, uint64_t id, const char *name,
                   mproc_value *args, mproc_value **result) {
  mproc_value *req = mproc_list(), *rep = NULL;
  mproc_conn *c = NULL;
  int64_t code;
  int rc;
  if (result)
    *result = NULL;
  if (g_offline) {
    mproc_value_free(req);
    mproc_value_free(args);
    return mproc__err(MPROC_ENOTSUP, "manager: proxies are offline");
  }
  if (!req || mproc_list_append(req, mproc_int(op)) ||
      mproc_list_append(req, mproc_int((int64_t)id)) ||
      mproc_list_append(req, name ? mproc_str(name) : mproc_none()) ||
      mproc_list_append(req, args ? args : mproc_none()) ||
      mproc_list_append(req, mproc_int((int64_t)mproc_thread_ident()))) {
    mproc_value_free(req);
    return MPROC_ENOMEM;
  }
  rc = conn_take(cl, &c);
  if (rc == 0) {
    rc = mproc_conn_send(c, req);
    if (rc == 0)
      rc = mproc_conn_recv(c, &rep);
    if (rc == MPROC_EEOF)
      mproc__err(MPROC_EEOF, "manager at %s: the server has gone",
                 cl->addr);
    if (rc == 0 || rc == MPROC_EENCODE || rc == MPROC_EINHERIT)
      conn_give(cl, c); /* an unsendable argument leaves it usable */
    else
      mproc_conn_free(c);
  }
  mproc_value_free(req);
  if (rc)
    return rc;
  if (mproc_value_type(rep) != MPROC_T_LIST || mproc_list_len(rep) != 2 ||
      mproc_value_get_int(mproc_list_get(rep, 0), &code) != 0) {
    mproc_value_free(rep);
    return mproc__err(MPROC_EBADMSG, "manager: a malformed reply");
  }
  if (code != 0) {
    const char *msg = mproc_value_str(mproc_list_get(rep, 1));
    rc = code < 0 && code > MPROC__ELAST ? (int)code : MPROC_EOS;
    mproc__err(rc, "%s", msg ? msg : "manager: an error");
    mproc_value_free(rep);
    return rc;
  }
  if (result) {
    *result = rep->u.list.items[1];
    rep->u.list.items[1] = mproc_none();
  }
  mproc_value_free(rep);
  return 0;
}

/* ---- proxies ------------------------------------------------------------------- */

int mproc__proxy_make(const char *addr, const char *typeid, uint64_t id,
                      uint64_t token, mproc_proxy **out) {
  mproc_proxy *p;
  int rc;
  if (strlen(addr) >= ADDR_MAX || strlen(typeid) >= sizeof p->typeid)
    return mproc__err(MPROC_EBADMSG, "manager: a bad proxy");
  if (!(p = calloc(1, sizeof *p)))
    return mproc__err(MPROC_ENOMEM, "proxy");
  p->refs = 1;
  strcpy(p->addr, addr);
  strcpy(p->typeid, typeid);
  p->id = id;
  p->token = token;
  if (mproc__mserver_running() && !mproc__mserver_is_local(addr)) {
    /* A server stores only its own proxies: one naming another address
     * would make it connect wherever a client says. */
    free(p);
    return mproc__err(MPROC_EINVAL,
                      "manager: a proxy naming %s is not this server's (a "
                      "server stores only its own proxies: connect with "
                      "the address it reports)",
                      addr);
  }
  if (mproc__mserver_is_local(addr)) {
    p->local = 1;
    rc = mproc__mserver_local_incref(addr, id, token);
    p->token = 0;
  } else {
    rc = client_get(addr, NULL, 0, &p->cl);
  }
  if (rc) {
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

/* Make the transit reference this proxy arrived with our own. */
static int claim(mproc_proxy *p) {
  uint64_t token;
  int rc;
  apr_thread_mutex_lock(g_mu);
  token = p->token;
  p->token = 0;
  apr_thread_mutex_unlock(g_mu);
  if (!token)
    return 0;
  rc = request(p->cl, MPROC__OP_CLAIM, p->id, NULL,
               mproc_build("[L]", (int64_t)token), NULL);
  if (rc) {
    apr_thread_mutex_lock(g_mu);
    if (!p->token)
      p->token = token; /* not claimed: still ours to give back */
    apr_thread_mutex_unlock(g_mu);
  }
  return rc;
}

static int check_proxy(const mproc_proxy *p, const char *what) {
  if (!p)
    return mproc__err(MPROC_EINVAL, "%s: NULL proxy", what);
  if (p->local)
    return mproc__err(MPROC_ENOTSUP, "%s: a proxy inside its own server",
                      what);
  return 0;
}

int mproc_proxy_call(mproc_proxy *p, const char *method, mproc_value *args,
                     mproc_value **result) {
  int rc = check_proxy(p, "mproc_proxy_call");
  if (result)
    *result = NULL;
  if (rc == 0 && !method)
    rc = mproc__err(MPROC_EINVAL, "mproc_proxy_call: NULL method");
  if (rc == 0 && args && args->type != MPROC_T_LIST &&
      args->type != MPROC_T_TUPLE)
    rc = mproc__err(MPROC_ETYPE, "mproc_proxy_call: args must be a list "
                                 "or tuple");
  if (rc == 0 && p->token)
    rc = claim(p);
  if (rc) {
    mproc_value_free(args);
    return rc;
  }
  return request(p->cl, MPROC__OP_CALL, p->id, method, args, result);
}

int mproc_proxy_str(mproc_proxy *p, char **out) {
  mproc_value *r = NULL;
  const char *s;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_proxy_str: NULL output");
  *out = NULL;
  if ((rc = mproc_proxy_call(p, "__str__", NULL, &r)) != 0)
    return rc;
  s = mproc_value_str(r);
  if (!s || !(*out = malloc(strlen(s) + 1))) {
    mproc_value_free(r);
    return mproc__err(MPROC_ENOMEM, "mproc_proxy_str");
  }
  strcpy(*out, s);
  mproc_value_free(r);
  return 0;
}

int mproc_proxy_repr(const mproc_proxy *p, char **out) {
  char buf[200];
  if (!p || !out)
    return mproc__err(MPROC_EINVAL, "mproc_proxy_repr: NULL argument");
  snprintf(buf, sizeof buf, "<%s object, typeid '%s' at 0x%llx>",
           mproc__proxy_name(p->typeid), p->typeid,
           (unsigned long long)(uintptr_t)p);
  if (!(*out = malloc(strlen(buf) + 1)))
    return mproc__err(MPROC_ENOMEM, "mproc_proxy_repr");
  strcpy(*out, buf);
  return 0;
}

int mproc_proxy_len(mproc_proxy *p, size_t *n) {
  mproc_value *r = NULL;
  int64_t v = 0;
  int rc = mproc_proxy_call(p, "__len__", NULL, &r);
  if (rc == 0)
    rc = mproc_value_get_int(r, &v);
  mproc_value_free(r);
  if (rc == 0 && n)
    *n = (size_t)v;
  return rc;
}

const char *mproc_proxy_typeid(const mproc_proxy *p) {
  return p ? p->typeid : NULL;
}

mproc_proxy *mproc_proxy_incref(mproc_proxy *p) {
  if (p) {
    if (registry() == 0)
      apr_thread_mutex_lock(g_mu);
    p->refs++;
    if (g_mu)
      apr_thread_mutex_unlock(g_mu);
  }
  return p;
}

void mproc_proxy_free(mproc_proxy *p) {
  int last;
  if (!p)
    return;
  if (p->local) { /* held by an object of this very server */
    mproc__mserver_local_decref(p->addr, p->id);
    free(p);
    return;
  }
  apr_thread_mutex_lock(g_mu);
  last = --p->refs == 0;
  apr_thread_mutex_unlock(g_mu);
  if (!last)
    return;
  /* Give back our reference (or the unclaimed transit one).  A server
   * that has gone has nothing to give back to. */
  request(p->cl, MPROC__OP_DECREF, p->id, NULL,
          mproc_build("[L]", (int64_t)p->token), NULL);
  free(p);
}

static void proxy_release(void *obj) { mproc_proxy_free((mproc_proxy *)obj); }

const mproc__objtype mproc__proxy_type = {"Proxy", proxy_release, NULL, NULL};

mproc_value *mproc_proxy_ref(mproc_proxy *p) {
  if (!p) {
    mproc__err(MPROC_EINVAL, "mproc_proxy_ref: NULL proxy");
    return NULL;
  }
  return mproc__value_object(&mproc__proxy_type, p, 0);
}

int mproc_value_get_proxy(const mproc_value *v, mproc_proxy **out) {
  const mproc__objtype *t = NULL;
  void *obj = NULL;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_value_get_proxy: NULL output");
  *out = NULL;
  if (!v || mproc__value_objinfo(v, &t, &obj) != 0 ||
      t != &mproc__proxy_type)
    return mproc__err(MPROC_ETYPE, "mproc_value_get_proxy: not a proxy");
  *out = (mproc_proxy *)obj;
  return 0;
}

/* ---- the codec hooks ------------------------------------------------------------- */

int mproc__proxy_wire_out(void *obj, mproc_value **plain) {
  mproc_proxy *p = (mproc_proxy *)obj;
  mproc_value *r = NULL;
  int64_t token = 0;
  int rc;
  if (g_offline) {
    token = (int64_t)p->token;
    rc = 0;
  } else if (p->local) {
    uint64_t t = 0;
    rc = mproc__mserver_local_transit(p->addr, p->id, &t);
    token = (int64_t)t;
  } else {
    rc = request(p->cl, MPROC__OP_TRANSIT, p->id, NULL, NULL, &r);
    if (rc == 0)
      rc = mproc_value_get_int(r, &token);
    mproc_value_free(r);
  }
  if (rc)
    return rc;
  *plain = mproc_build("[ssLL]", p->addr, p->typeid, (int64_t)p->id, token);
  return *plain ? 0 : MPROC_ENOMEM;
}

int mproc__proxy_wire_in(const mproc_value *plain, mproc_value **objval) {
  const char *addr, *typeid;
  int64_t id, token;
  mproc_proxy *p;
  int rc;
  if (mproc_value_type(plain) != MPROC_T_LIST || mproc_list_len(plain) != 4 ||
      !(addr = mproc_value_str(mproc_list_get(plain, 0))) ||
      !(typeid = mproc_value_str(mproc_list_get(plain, 1))) ||
      mproc_value_get_int(mproc_list_get(plain, 2), &id) != 0 ||
      mproc_value_get_int(mproc_list_get(plain, 3), &token) != 0 || id < 0 ||
      token < 0)
    return mproc__err(MPROC_EBADMSG, "malformed message: a bad proxy");
  if ((rc = mproc__proxy_make(addr, typeid, (uint64_t)id, (uint64_t)token,
                              &p)) != 0)
    return rc;
  *objval = mproc__value_object(&mproc__proxy_type, p, 1);
  if (!*objval) {
    mproc_proxy_free(p);
    return MPROC_ENOMEM;
  }
  return 0;
}

mproc_value *mproc__mgr_copy(const mproc_value *v) {
  const mproc__objtype *t = NULL;
  void *obj = NULL;
  size_t i;
  mproc_value *c;
  if (!v || v->type != MPROC_T_OBJECT) {
    if (v && (v->type == MPROC_T_LIST || v->type == MPROC_T_TUPLE)) {
      c = mproc__seq_new((mproc_type)v->type, v->u.list.n);
      for (i = 0; c && i < v->u.list.n; i++) {
        mproc_value *it = mproc__mgr_copy(v->u.list.items[i]);
        if (!it) {
          mproc_value_free(c);
          return NULL;
        }
        c->u.list.items[c->u.list.n++] = it;
      }
      return c;
    }
    if (v && v->type == MPROC_T_DICT) {
      c = mproc_dict();
      for (i = 0; c && i < mproc__table_used(v); i++)
        if (v->u.dict.e[i].key && /* not a hole */
            mproc_dict_set(c, mproc__mgr_copy(v->u.dict.e[i].key),
                           mproc__mgr_copy(v->u.dict.e[i].val)) != 0) {
          mproc_value_free(c);
          return NULL;
        }
      return c;
    }
    return mproc_value_copy(v); /* scalars and sets hold no proxies */
  }
  mproc__value_objinfo(v, &t, &obj);
  if (t != &mproc__proxy_type)
    return mproc_value_copy(v);
  {
    mproc_proxy *p = (mproc_proxy *)obj, *q;
    /* A proxy copy is a new proxy with its own reference. */
    if (p->local) {
      if (mproc__proxy_make(p->addr, p->typeid, p->id, 0, &q) != 0)
        return NULL;
    } else {
      q = mproc_proxy_incref(p);
    }
    return mproc__value_object(&mproc__proxy_type, q, 1);
  }
}

/* ---- managers ------------------------------------------------------------------ */

int mproc__mserver_main(mproc_value *args);

int mproc_manager_start(mproc_manager **out, const mproc_manager_opts *opts) {
  mproc_manager_opts o = MPROC_MANAGER_OPTS_INIT;
  mproc_process_opts po = MPROC_PROCESS_OPTS_INIT;
  mproc_conn *r = NULL, *w = NULL;
  mproc_value *args, *rep = NULL;
  mproc_manager *m;
  const void *key;
  size_t keylen;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_manager_start: NULL output");
  *out = NULL;
  if (opts)
    o = *opts;
  if ((rc = registry()) != 0)
    return rc;
  if (o.address) { /* a malformed address fails here, not in the server */
    mproc__mgr_addr a;
    if ((rc = mproc__mgr_addr_parse(o.address, &a)) != 0)
      return rc;
  }
  key = o.authkey ? o.authkey : (const void *)mproc__authkey();
  keylen = o.authkey ? o.authkey_len : 32;
  if (!(m = calloc(1, sizeof *m)))
    return mproc__err(MPROC_ENOMEM, "manager");
  if ((rc = mproc_pipe(&r, &w, 0)) != 0) {
    free(m);
    return rc;
  }
  {
    mproc_value *types = NULL;
    rc = mproc__mreg_export(&types);
    args = rc ? NULL
              : mproc_build("[COyfLLO]", w,
                            o.address ? mproc_str(o.address) : mproc_none(),
                            key, keylen, o.handshake_timeout,
                            (int64_t)o.max_message,
                            (int64_t)o.max_connections, types);
  }
  po.name = "SyncManager";
  po.daemon = 1; /* dies with this process, even when it is killed */
  if (rc == 0)
    rc = args ? mproc_process_new(&m->proc, mproc__mserver_main, args, &po)
              : MPROC_ENOMEM;
  if (rc == 0)
    rc = mproc_process_start(m->proc);
  mproc_conn_free(w); /* the child has its copy */
  if (rc == 0) {
    rc = mproc_conn_recv(r, &rep); /* EOF if the server died at start */
    if (rc == MPROC_EEOF)
      mproc__err(MPROC_ESPAWN, "manager: the server process ended at start");
    if (rc == MPROC_EEOF)
      rc = MPROC_ESPAWN;
  }
  mproc_conn_free(r);
  if (rc == 0) {
    int64_t code = -1;
    const char *addr = mproc_value_str(mproc_list_get(rep, 1));
    if (mproc_value_get_int(mproc_list_get(rep, 0), &code) != 0 || !addr) {
      rc = mproc__err(MPROC_EBADMSG, "manager: a bad start reply");
    } else if (code != 0) {
      rc = mproc__err(code < 0 && code > MPROC__ELAST ? (int)code : MPROC_EOS,
                      "%s", addr);
    } else {
      rc = client_get(addr, key, keylen, &m->cl);
    }
  }
  mproc_value_free(rep);
  if (rc) {
    if (m->proc) {
      if (mproc_process_is_alive(m->proc) == 1)
        mproc_process_kill(m->proc);
      mproc_process_join(m->proc, 5);
      mproc_process_free(m->proc);
    }
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

int mproc_manager_connect(mproc_manager **out, const char *address,
                          const void *authkey, size_t authkey_len) {
  mproc_manager *m;
  mproc_conn *c = NULL;
  int rc;
  if (!out || !address)
    return mproc__err(MPROC_EINVAL, "mproc_manager_connect: NULL argument");
  *out = NULL;
  if (!(m = calloc(1, sizeof *m)))
    return mproc__err(MPROC_ENOMEM, "manager");
  {
    mclient *old = NULL;
    unsigned char key[256];
    size_t keylen = 0;
    int pk = 1;
    /* Remember the address's key: a failed connect keeps it. */
    if ((rc = client_get(address, NULL, 0, &old)) == 0) {
      apr_thread_mutex_lock(g_mu);
      memcpy(key, old->key, old->keylen);
      keylen = old->keylen;
      pk = old->process_key;
      apr_thread_mutex_unlock(g_mu);
      rc = client_get(address, authkey, authkey_len, &m->cl);
    }
    /* Python's connect() checks the server is there and knows the key:
     * on a new connection (an idle one may be from before the server
     * died, or have been made with another key). */
    if (rc == 0 && (rc = conn_take(m->cl, &c)) == 0) {
      conn_give(m->cl, c);
      if ((rc = conn_open(m->cl, &c)) == 0)
        conn_give(m->cl, c);
    }
    if (rc && old) {
      apr_thread_mutex_lock(g_mu);
      memcpy(old->key, key, keylen);
      old->keylen = keylen;
      old->process_key = pk;
      apr_thread_mutex_unlock(g_mu);
    }
    sodium_memzero(key, sizeof key);
  }
  if (rc) {
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

const char *mproc_manager_address(const mproc_manager *m) {
  return m ? m->cl->addr : NULL;
}

int mproc_manager_shutdown(mproc_manager *m) {
  int i;
  if (!m)
    return mproc__err(MPROC_EINVAL, "mproc_manager_shutdown: NULL manager");
  if (m->down)
    return 0;
  m->down = 1;
  if (!m->proc)
    return 0;
  request(m->cl, MPROC__OP_SHUTDOWN, 0, NULL, NULL, NULL);
  /* Wake the accept loop: one connection attempt after the stop. */
  {
    mproc__handle h;
    if (mproc__mgr_connect(m->cl->addr, 1.0, &h) == 0)
      mproc__plat_close(h);
  }
  /* Drop our idle connections: their threads end with them. */
  apr_thread_mutex_lock(g_mu);
  for (i = 0; i < m->cl->nidle; i++)
    mproc_conn_free(m->cl->idle[i]);
  m->cl->nidle = 0;
  mproc_conn_free(m->cl->anchor);
  m->cl->anchor = NULL;
  apr_thread_mutex_unlock(g_mu);
  if (mproc_process_join(m->proc, 2.0) == MPROC_ETIMEDOUT) {
    mproc_process_terminate(m->proc);
    if (mproc_process_join(m->proc, 2.0) == MPROC_ETIMEDOUT) {
      mproc_process_kill(m->proc);
      mproc_process_join(m->proc, MPROC_FOREVER);
    }
  }
  return 0;
}

void mproc_manager_free(mproc_manager *m) {
  if (!m)
    return;
  mproc_manager_shutdown(m);
  mproc_process_free(m->proc);
  free(m);
}

int mproc_manager_object_count(mproc_manager *m) {
  mproc_value *r = NULL;
  int64_t n = 0;
  int rc;
  if (!m)
    return mproc__err(MPROC_EINVAL, "mproc_manager_object_count: NULL");
  rc = request(m->cl, MPROC__OP_COUNT, 0, NULL, NULL, &r);
  if (rc == 0)
    rc = mproc_value_get_int(r, &n);
  mproc_value_free(r);
  return rc ? rc : (int)n;
}

static int create(mproc_manager *m, const char *typeid, mproc_value *args,
                  mproc_proxy **out) {
  mproc_value *r = NULL;
  int64_t id = 0;
  mproc_proxy *p;
  int rc;
  if (out)
    *out = NULL;
  if (!m || !out) {
    mproc_value_free(args);
    return mproc__err(MPROC_EINVAL, "manager: NULL argument");
  }
  if (m->down) {
    mproc_value_free(args);
    return mproc__err(MPROC_ECLOSED, "manager: shut down");
  }
  if (!args)
    return MPROC_ENOMEM;
  rc = request(m->cl, MPROC__OP_CREATE, 0, typeid, args, &r);
  if (rc == 0 && (mproc_value_get_int(mproc_list_get(r, 0), &id) != 0 ||
                  !mproc_value_str(mproc_list_get(r, 1))))
    rc = mproc__err(MPROC_EBADMSG, "manager: a bad create reply");
  if (rc == 0 && !(p = calloc(1, sizeof *p)))
    rc = mproc__err(MPROC_ENOMEM, "proxy"); /* freed with the session */
  if (rc) {
    mproc_value_free(r);
    return rc;
  }
  p->refs = 1;
  p->cl = m->cl;
  strcpy(p->addr, m->cl->addr);
  snprintf(p->typeid, sizeof p->typeid, "%s",
           mproc_value_str(mproc_list_get(r, 1)));
  p->id = (uint64_t)id;
  mproc_value_free(r);
  *out = p;
  return 0;
}

int mproc_manager_list(mproc_manager *m, mproc_value *init, mproc_proxy **out) {
  return create(m, "list", init ? mproc_build("[O]", init) : mproc_list(), out);
}

int mproc_manager_dict(mproc_manager *m, mproc_value *init, mproc_proxy **out) {
  return create(m, "dict", init ? mproc_build("[O]", init) : mproc_list(), out);
}

int mproc_manager_namespace(mproc_manager *m, mproc_proxy **out) {
  return create(m, "Namespace", mproc_list(), out);
}

int mproc_manager_value(mproc_manager *m, char typecode, mproc_value *init,
                        mproc_proxy **out) {
  char tc[2] = {typecode, 0};
  return create(m, "Value",
                init ? mproc_build("[sO]", tc, init) : mproc_build("[s]", tc),
                out);
}

int mproc_manager_array(mproc_manager *m, char typecode, mproc_value *init,
                        mproc_proxy **out) {
  char tc[2] = {typecode, 0};
  return create(m, "Array",
                init ? mproc_build("[sO]", tc, init) : mproc_build("[s]", tc),
                out);
}

int mproc_manager_create(mproc_manager *m, const char *typeid,
                         mproc_value *args, mproc_proxy **out) {
  if (!typeid) {
    mproc_value_free(args);
    return mproc__err(MPROC_EINVAL, "mproc_manager_create: NULL typeid");
  }
  if (args && args->type != MPROC_T_LIST) {
    mproc_value_free(args);
    return mproc__err(MPROC_ETYPE, "mproc_manager_create: args must be a "
                                   "list");
  }
  return create(m, typeid, args ? args : mproc_list(), out);
}

int mproc_manager_queue(mproc_manager *m, long maxsize, mproc_proxy **out) {
  return create(m, "Queue", mproc_build("[l]", maxsize), out);
}

int mproc_manager_joinablequeue(mproc_manager *m, long maxsize,
                                mproc_proxy **out) {
  return create(m, "JoinableQueue", mproc_build("[l]", maxsize), out);
}

int mproc_manager_lock(mproc_manager *m, mproc_proxy **out) {
  return create(m, "Lock", mproc_list(), out);
}

int mproc_manager_rlock(mproc_manager *m, mproc_proxy **out) {
  return create(m, "RLock", mproc_list(), out);
}

int mproc_manager_semaphore(mproc_manager *m, int value, mproc_proxy **out) {
  return create(m, "Semaphore", mproc_build("[i]", value), out);
}

int mproc_manager_bsemaphore(mproc_manager *m, int value, mproc_proxy **out) {
  return create(m, "BoundedSemaphore", mproc_build("[i]", value), out);
}

int mproc_manager_event(mproc_manager *m, mproc_proxy **out) {
  return create(m, "Event", mproc_list(), out);
}

int mproc_manager_condition(mproc_manager *m, mproc_proxy **out) {
  return create(m, "Condition", mproc_list(), out);
}

int mproc_manager_barrier(mproc_manager *m, int parties, double timeout,
                          mproc_proxy **out) {
  return create(m, "Barrier",
                timeout < 0 ? mproc_build("[inn]", parties)
                            : mproc_build("[inf]", parties, timeout),
                out);
}

mproc_process *mproc__manager_process(mproc_manager *m) {
  return m ? m->proc : NULL;
}

int mproc_manager_get(mproc_manager *m, const char *name, mproc_value *args,
                      mproc_proxy **out) {
  return mproc_manager_create(m, name, args, out);
}
