/*
 * server.c - the Manager's server: an object table served to authenticated
 * clients, one thread per connection (a blocking call in one client does
 * not stall the others), in a daemonic child process or in the caller.
 *
 * Map: a small uint64 hash map; the object table, sessions and reference
 * counting; request dispatch; the connection thread (handshake, size cap,
 * decode, dispatch, reply); the accept loop with the connection cap; the
 * server process's target (mproc_manager_start, proxy.c, starts it).
 *
 * Security: a connection first passes auth.c's handshake within the
 * handshake timeout (raw fixed-size frames: nothing is decoded before);
 * then every request is read with the size cap checked against the
 * frame's header before any allocation (mproc_conn_recv_bytes_max), is
 * decoded by the hardened codec, and must have the shape [op, id, name,
 * args]; anything else closes that connection only.  Only the ops below
 * and the methods of the registered types run.  Connections past the cap
 * are closed at accept.
 *
 * References: every object counts its references: each session's (a
 * session is one client process: its connections share a random id sent
 * in the handshake), each transit reference (a proxy in flight, token
 * table) and each reference held by a proxy stored inside another object
 * of this server.  When a session's last connection drops (its process
 * ended or was killed) its references go; an object goes with its last
 * reference.  One nested mutex guards everything (freeing an object may
 * free proxies inside it, which drop references under the same lock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "mgr_int.h"

/* ---- a uint64 -> uint64 map (key 0 is "empty") ------------------------------ */

typedef struct u64map {
  uint64_t *k, *v;
  size_t n, cap; /* cap: a power of two or 0 */
} u64map;

static size_t slot_of(uint64_t k, size_t cap) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return (size_t)k & (cap - 1);
}

static int map_find(const u64map *m, uint64_t k, size_t *at) {
  size_t i;
  if (!m->cap)
    return 0;
  for (i = slot_of(k, m->cap); m->k[i]; i = (i + 1) & (m->cap - 1))
    if (m->k[i] == k) {
      *at = i;
      return 1;
    }
  return 0;
}

static uint64_t *map_get(const u64map *m, uint64_t k) {
  size_t i;
  return map_find(m, k, &i) ? &m->v[i] : NULL;
}

static int map_put(u64map *m, uint64_t k, uint64_t v) {
  size_t i;
  if ((m->n + 1) * 2 > m->cap) {
    u64map g;
    g.cap = m->cap ? m->cap * 2 : 16;
    g.n = 0;
    g.k = calloc(g.cap, sizeof *g.k);
    g.v = calloc(g.cap, sizeof *g.v);
    if (!g.k || !g.v) {
      free(g.k);
      free(g.v);
      return mproc__err(MPROC_ENOMEM, "manager table");
    }
    for (i = 0; i < m->cap; i++)
      if (m->k[i])
        map_put(&g, m->k[i], m->v[i]);
    free(m->k);
    free(m->v);
    *m = g;
  }
  for (i = slot_of(k, m->cap); m->k[i]; i = (i + 1) & (m->cap - 1))
    if (m->k[i] == k) {
      m->v[i] = v;
      return 0;
    }
  m->k[i] = k;
  m->v[i] = v;
  m->n++;
  return 0;
}

static void map_del(u64map *m, uint64_t k) {
  size_t i, j;
  if (!map_find(m, k, &i))
    return;
  m->k[i] = 0;
  m->n--;
  /* Backward shift: re-place the run after the hole. */
  for (j = (i + 1) & (m->cap - 1); m->k[j]; j = (j + 1) & (m->cap - 1)) {
    uint64_t kk = m->k[j], vv = m->v[j];
    m->k[j] = 0;
    m->n--;
    map_put(m, kk, vv);
  }
}

static void map_free(u64map *m) {
  free(m->k);
  free(m->v);
  memset(m, 0, sizeof *m);
}

/* ---- the server state ---------------------------------------------------------- */

struct mproc__mobj {
  uint64_t id;
  const mproc__mtype *t;
  mproc_value *state; /* types.c's types */
  void *c;            /* sync.c's types */
  int64_t refs;
};

typedef struct session {
  unsigned char sid[MPROC__SESSION_LEN];
  uint64_t no; /* owner of locks it holds */
  int nconns;
  u64map refs; /* id -> references this client holds */
  struct session *next;
} session;

typedef struct cthread cthread;
struct mproc_server {
  apr_pool_t *pool;
  apr_thread_mutex_t *mu; /* nested */
  apr_thread_cond_t *cv;  /* blocked calls wait here (sync.c) */
  mproc__listener *lst;
  char addr[256];
  unsigned char key[256];
  size_t keylen;
  double hs_timeout;
  size_t max_msg;
  int max_conns;
  int nconns;
  int stopping;
  u64map objs;    /* id -> mproc__mobj * */
  u64map transit; /* token -> id */
  uint64_t next_id, next_token, next_sess;
  session *sessions;
  cthread *done; /* finished connection threads to join */
  struct {
    char name[64];
    uint64_t id;
  } pub[32]; /* published objects (mproc_server_publish) */
  int npub;
};

struct cthread {
  mproc__mserver *s;
  mproc__handle h;
  mproc_thread *t;
  session *x; /* the session it joined in the handshake (admit) */
  cthread *next;
};

/* The server running in this process (proxies to it resolve here). */
static mproc__mserver *g_srv;

static void lock(mproc__mserver *s) { apr_thread_mutex_lock(s->mu); }
static void unlock(mproc__mserver *s) { apr_thread_mutex_unlock(s->mu); }

static mproc__mobj *obj_find(mproc__mserver *s, uint64_t id) {
  uint64_t *p = map_get(&s->objs, id);
  return p ? (mproc__mobj *)(uintptr_t)*p : NULL;
}

/* Under the lock. */
static void obj_decref(mproc__mserver *s, mproc__mobj *o) {
  if (--o->refs > 0)
    return;
  map_del(&s->objs, o->id);
  mproc_value_free(o->state); /* may drop proxies: nested lock */
  if (o->c)
    o->t->cfree(o->c);
  free(o);
}

int mproc__mcall_wait(mproc__mcall *k, double deadline) {
  double left = 0.1;
  if (deadline >= 0) {
    left = deadline - mproc__plat_monotonic();
    if (left <= 0)
      return MPROC_ETIMEDOUT;
    if (left > 0.1)
      left = 0.1; /* wake up to see whether the caller is still there */
  }
  apr_thread_cond_timedwait(k->s->cv, k->s->mu,
                            (apr_interval_time_t)(left * 1e6) + 1);
  /* Clients send nothing while they wait for a reply: a readable
   * connection means it has gone (EOF). */
  if (k->c && mproc_conn_poll(k->c, 0) != 0)
    return mproc__err(MPROC_EEOF, "manager: the caller has gone");
  return 0;
}

void mproc__mcall_wake(mproc__mcall *k) {
  apr_thread_cond_broadcast(k->s->cv);
}

static session *session_get(mproc__mserver *s, const unsigned char *sid) {
  session *x;
  for (x = s->sessions; x; x = x->next)
    if (!memcmp(x->sid, sid, MPROC__SESSION_LEN))
      return x;
  x = calloc(1, sizeof *x);
  if (!x)
    return NULL;
  memcpy(x->sid, sid, MPROC__SESSION_LEN);
  x->no = ++s->next_sess;
  x->next = s->sessions;
  s->sessions = x;
  return x;
}

/* A session's last connection went: drop its references. */
static void session_end(mproc__mserver *s, session *x) {
  session **pp;
  size_t i;
  for (pp = &s->sessions; *pp; pp = &(*pp)->next)
    if (*pp == x) {
      *pp = x->next;
      break;
    }
  /* Locks it held are released first (the next acquirer hears of it). */
  for (i = 0; i < s->objs.cap; i++)
    if (s->objs.k[i]) {
      mproc__mobj *o = (mproc__mobj *)(uintptr_t)s->objs.v[i];
      if (o->t->cdead) {
        mproc__mcall k;
        k.s = s;
        k.c = NULL;
        k.sess = x->no;
        k.tid = 0;
        o->t->cdead(&k, o->c, x->no);
      }
    }
  apr_thread_cond_broadcast(s->cv);
  for (i = 0; i < x->refs.cap; i++) {
    uint64_t id = x->refs.k[i], n = x->refs.v[i];
    mproc__mobj *o;
    if (!id || !(o = obj_find(s, id)))
      continue;
    o->refs -= (int64_t)n - 1;
    obj_decref(s, o);
  }
  map_free(&x->refs);
  free(x);
}

/* ---- hooks for proxies held inside this server's objects ------------------------ */

int mproc__mserver_running(void) { return g_srv != NULL; }

void mproc__mserver_adopt(mproc__mserver *s) { g_srv = s; }

size_t mproc__mserver_count(mproc__mserver *s) {
  size_t n;
  lock(s);
  n = s->objs.n;
  unlock(s);
  return n;
}

int mproc__mserver_is_local(const char *addr) {
  return g_srv && !strcmp(g_srv->addr, addr);
}

int mproc__mserver_local_incref(const char *addr, uint64_t id,
                                uint64_t token) {
  mproc__mserver *s = g_srv;
  mproc__mobj *o;
  uint64_t *tid;
  int rc = 0;
  if (!mproc__mserver_is_local(addr))
    return mproc__err(MPROC_EINVAL, "not this server");
  lock(s);
  tid = token ? map_get(&s->transit, token) : NULL;
  if (tid && *tid == id) {
    map_del(&s->transit, token); /* the transit reference is now ours */
  } else if ((o = obj_find(s, id)) != NULL) {
    o->refs++;
  } else {
    rc = mproc__err(MPROC_EKEY, "manager: object %llu is gone",
                    (unsigned long long)id);
  }
  unlock(s);
  return rc;
}

void mproc__mserver_local_decref(const char *addr, uint64_t id) {
  mproc__mserver *s = g_srv;
  mproc__mobj *o;
  if (!mproc__mserver_is_local(addr))
    return;
  lock(s);
  if ((o = obj_find(s, id)) != NULL)
    obj_decref(s, o);
  unlock(s);
}

static int transit_new(mproc__mserver *s, uint64_t id, uint64_t *token) {
  mproc__mobj *o = obj_find(s, id);
  int rc;
  if (!o)
    return mproc__err(MPROC_EKEY, "manager: object %llu is gone",
                      (unsigned long long)id);
  *token = ++s->next_token;
  if ((rc = map_put(&s->transit, *token, id)) != 0)
    return rc;
  o->refs++;
  return 0;
}

int mproc__mserver_local_transit(const char *addr, uint64_t id,
                                 uint64_t *token) {
  mproc__mserver *s = g_srv;
  int rc;
  if (!mproc__mserver_is_local(addr))
    return mproc__err(MPROC_EINVAL, "not this server");
  lock(s);
  rc = transit_new(s, id, token);
  unlock(s);
  return rc;
}

/* ---- dispatch ---------------------------------------------------------------- */

static int get_u64(const mproc_value *v, uint64_t *out) {
  if (!v || v->type != MPROC_T_INT || v->u.i < 0)
    return mproc__err(MPROC_EBADMSG, "manager: a bad id");
  *out = (uint64_t)v->u.i;
  return 0;
}

/* A new object of type typeid (one reference, the caller's). */
static int obj_new(mproc__mserver *s, const char *typeid, mproc_value *args,
                   mproc__mobj **out) {
  const mproc__mtype *t = typeid ? mproc__mtype_find(typeid) : NULL;
  mproc_value *state = NULL;
  void *cs = NULL;
  mproc__mobj *o;
  int rc;
  if (!t)
    return mproc__err(MPROC_ENOTSUP, "manager: unknown type id '%s'",
                      typeid ? typeid : "");
  if (t->user)
    rc = mproc__mreg_create(t, args, &cs);
  else
    rc = t->ccreate ? t->ccreate(args, &cs) : t->create(args, &state);
  if (rc)
    return rc;
  o = calloc(1, sizeof *o);
  if (!o || map_put(&s->objs, s->next_id + 1, (uintptr_t)o) != 0) {
    free(o);
    mproc_value_free(state);
    if (cs)
      t->cfree(cs);
    return mproc__err(MPROC_ENOMEM, "manager: object");
  }
  o->id = ++s->next_id;
  o->t = t;
  o->state = state;
  o->c = cs;
  o->refs = 1;
  *out = o;
  return 0;
}

/* Call method on o (under the lock). */
static int obj_call(mproc__mserver *s, mproc__mobj *o, mproc_conn *c,
                    uint64_t sess, uint64_t tid, const char *name,
                    mproc_value *args, mproc_value **res) {
  int rc;
  if (!strcmp(name, "__repr__") || !strcmp(name, "__str__")) {
    char *r = NULL;
    if ((rc = o->t->crepr ? o->t->crepr(o->c, &r)
                          : mproc__mtype_repr(o->t, o->state, &r)) != 0)
      return rc;
    *res = mproc_str(r);
    mproc_free(r);
    return *res ? 0 : MPROC_ENOMEM;
  }
  if (o->t->user)
    return mproc__mreg_call(o->t, o->c, name, args, res);
  if (o->t->ccall) {
    mproc__mcall k;
    k.s = s;
    k.c = c;
    k.sess = sess;
    k.tid = tid;
    o->refs++; /* it may wait: the object stays while it does */
    rc = o->t->ccall(&k, o->c, name, args, res);
    obj_decref(s, o);
    return rc;
  }
  return o->t->call(&o->state, name, args, res);
}

/* Run one request under the lock; *res on 0. */
static int dispatch(mproc__mserver *s, session *x, mproc_conn *c,
                    uint64_t tid, int64_t op, uint64_t id, const char *name,
                    mproc_value *args, mproc_value **res) {
  mproc__mobj *o;
  uint64_t token = 0, *cnt;
  int rc;
  switch (op) {
  case MPROC__OP_CREATE: {
    int i;
    for (i = 0; name && i < s->npub; i++)
      if (!strcmp(s->pub[i].name, name) &&
          (o = obj_find(s, s->pub[i].id)) != NULL)
        break;
    if (!name || i == s->npub) {
      if ((rc = obj_new(s, name, args, &o)) != 0)
        return rc;
    } else {
      o->refs++; /* a published object: a new reference to it */
    }
    cnt = map_get(&x->refs, o->id);
    if ((rc = map_put(&x->refs, o->id, cnt ? *cnt + 1 : 1)) != 0) {
      obj_decref(s, o);
      return rc;
    }
    *res = mproc_build("[Ls]", (int64_t)o->id, o->t->typeid);
    return *res ? 0 : MPROC_ENOMEM;
  }
  case MPROC__OP_CALL:
    if (!(o = obj_find(s, id)) || !name)
      return mproc__err(MPROC_EKEY, "manager: no object %llu",
                        (unsigned long long)id);
    return obj_call(s, o, c, x->no, tid, name, args, res);
  case MPROC__OP_DECREF:
  case MPROC__OP_CLAIM:
    if (!args || mproc_list_len(args) != 1 ||
        get_u64(mproc_list_get(args, 0), &token) != 0)
      return mproc__err(MPROC_EBADMSG, "manager: a bad token");
    if (token) {
      uint64_t *tid = map_get(&s->transit, token);
      if (tid && *tid == id) {
        map_del(&s->transit, token);
        if (op == MPROC__OP_DECREF) {
          if ((o = obj_find(s, id)) != NULL)
            obj_decref(s, o);
        } else {
          cnt = map_get(&x->refs, id);
          if ((rc = map_put(&x->refs, id, cnt ? *cnt + 1 : 1)) != 0)
            return rc;
        }
        *res = mproc_none();
        return 0;
      }
    }
    if (op == MPROC__OP_CLAIM) { /* the token went already: a new ref */
      if (!(o = obj_find(s, id)))
        return mproc__err(MPROC_EKEY, "manager: object %llu is gone",
                          (unsigned long long)id);
      cnt = map_get(&x->refs, id);
      if ((rc = map_put(&x->refs, id, cnt ? *cnt + 1 : 1)) != 0)
        return rc;
      o->refs++;
    } else if (!token) {
      cnt = map_get(&x->refs, id);
      if (!cnt)
        return mproc__err(MPROC_EINVAL, "manager: decref of an object this "
                                        "client holds no reference to");
      if (--*cnt == 0)
        map_del(&x->refs, id);
      if ((o = obj_find(s, id)) != NULL)
        obj_decref(s, o);
    }
    *res = mproc_none();
    return 0;
  case MPROC__OP_TRANSIT:
    if ((rc = transit_new(s, id, &token)) != 0)
      return rc;
    *res = mproc_int((int64_t)token);
    return *res ? 0 : MPROC_ENOMEM;
  case MPROC__OP_COUNT:
    *res = mproc_int((int64_t)s->objs.n);
    return *res ? 0 : MPROC_ENOMEM;
  case MPROC__OP_SHUTDOWN:
    s->stopping = 1;
    mproc__plat_listener_stop(s->lst);
    *res = mproc_none();
    return 0;
  default:
    return mproc__err(MPROC_EBADMSG, "manager: unknown op %lld",
                      (long long)op);
  }
}

/* Check a decoded request's shape: [op, id, name|None, list|tuple|None
 * (, tid)]. */
static int parse(mproc_value *req, int64_t *op, uint64_t *id,
                 const char **name, mproc_value **args, uint64_t *tid) {
  mproc_value *n, *a;
  if (req->type != MPROC_T_LIST ||
      (req->u.list.n != 4 && req->u.list.n != 5) ||
      req->u.list.items[0]->type != MPROC_T_INT ||
      get_u64(req->u.list.items[1], id) != 0)
    return MPROC_EBADMSG;
  *tid = 0;
  if (req->u.list.n == 5 && get_u64(req->u.list.items[4], tid) != 0)
    return MPROC_EBADMSG;
  *op = req->u.list.items[0]->u.i;
  n = req->u.list.items[2];
  a = req->u.list.items[3];
  if (n->type == MPROC_T_STR)
    *name = n->u.s.p;
  else if (n->type == MPROC_T_NONE)
    *name = NULL;
  else
    return MPROC_EBADMSG;
  if (a->type == MPROC_T_NONE) {
    *args = NULL;
  } else if (a->type == MPROC_T_LIST || a->type == MPROC_T_TUPLE) {
    *args = a;
  } else {
    return MPROC_EBADMSG;
  }
  return 0;
}

/* Answer [0, result] or [code, message]; steals res. */
static int reply(mproc_conn *c, int rc, mproc_value *res) {
  mproc_value *r = mproc_list();
  int wrc;
  if (!r)
    return MPROC_ENOMEM;
  if (rc == 0) {
    mproc_list_append(r, mproc_int(0));
    mproc_list_append(r, res);
  } else {
    mproc_value_free(res);
    mproc_list_append(r, mproc_int(rc));
    mproc_list_append(r, mproc_str(mproc_last_error()));
  }
  wrc = mproc_conn_send(c, r);
  if (wrc == MPROC_EENCODE || wrc == MPROC_EINHERIT || wrc == MPROC_EKEY) {
    /* The result cannot travel: say so instead. */
    mproc_value_free(r);
    r = mproc_build("[is]", wrc, mproc_last_error());
    wrc = r ? mproc_conn_send(c, r) : MPROC_ENOMEM;
  }
  mproc_value_free(r);
  return wrc;
}

/* Count one more connection in the session sid (made if new). */
static session *session_join(mproc__mserver *s, const unsigned char *sid) {
  session *x;
  lock(s);
  x = session_get(s, sid);
  if (x)
    x->nconns++;
  unlock(s);
  return x;
}

/* One connection of x went: the session ends with its last. */
static void session_leave(mproc__mserver *s, session *x) {
  lock(s);
  if (--x->nconns == 0)
    session_end(s, x);
  unlock(s);
}

static int serve_joined(mproc__mserver *s, mproc_conn *c, session *x);

/* Serve one client until it goes or breaks the protocol. */
int mproc__mserver_serve_conn(mproc__mserver *s, mproc_conn *c,
                              const unsigned char *sid) {
  session *x = session_join(s, sid);
  if (!x)
    return MPROC_ENOMEM;
  return serve_joined(s, c, x);
}

/* The same for a connection already counted in its session x. */
static int serve_joined(mproc__mserver *s, mproc_conn *c, session *x) {
  int rc = 0;
  while (!s->stopping) {
    void *buf = NULL;
    size_t n = 0;
    mproc_value *req = NULL, *res = NULL, *args = NULL;
    const char *name = NULL;
    int64_t op = 0;
    uint64_t id = 0, tid = 0;
    int bigint = 0;
    rc = mproc_conn_recv_bytes_max(c, &buf, &n, (int64_t)s->max_msg);
    if (rc)
      break; /* EOF, too big (nothing allocated), or broken framing */
    rc = mproc__decode_ex(buf, n, &req, NULL, NULL, &bigint);
    mproc_free(buf);
    if (rc == MPROC_EINVAL || rc == MPROC_EKEY || bigint) {
      /* A well-formed message with a proxy this server cannot take (of
       * another address, or to an object that is gone), or with an int
       * that mproc's values cannot hold (a Python client's 2**64): say
       * so; the framing is intact, so the connection goes on. */
      if ((rc = reply(c, rc, NULL)) != 0)
        break;
      continue;
    }
    if (rc == 0 && (rc = parse(req, &op, &id, &name, &args, &tid)) != 0)
      mproc__err(rc, "manager: a request of the wrong shape");
    if (rc) {
      mproc_value_free(req);
      break; /* malformed: close this connection only */
    }
    lock(s);
    rc = dispatch(s, x, c, tid, op, id, name, args, &res);
    unlock(s);
    rc = reply(c, rc, res);
    mproc_value_free(req);
    if (rc)
      break;
  }
  session_leave(s, x);
  return rc;
}

/* ---- connections and the accept loop --------------------------------------------- */

/* The handshake's admit hook: the connection joins its session before
 * the client hears ok.  Joining after (in serve_conn) let a client's
 * first connection (proxy.c's anchor, which keeps the session) still be
 * uncounted while its second one, already serving, broke (a request over
 * the size cap): the session ended and dropped the client's objects. */
static int admit(void *arg, const unsigned char *sid) {
  cthread *ct = (cthread *)arg;
  ct->x = session_join(ct->s, sid);
  return ct->x ? 0 : mproc__err(MPROC_ENOMEM, "manager: a session");
}

static int conn_thread(void *arg) {
  cthread *ct = (cthread *)arg;
  mproc__mserver *s = ct->s;
  unsigned char sid[MPROC__SESSION_LEN];
  double deadline = mproc__plat_monotonic() + s->hs_timeout;
  int rc = mproc__auth_serve(ct->h, s->key, s->keylen, deadline, sid, admit,
                             ct);
  mproc_conn *c = rc == 0 ? mproc__conn_wrap(ct->h, 1, 1) : NULL;
  if (c) {
    serve_joined(s, c, ct->x); /* leaves the session */
    mproc_conn_free(c);
  } else {
    mproc__plat_close(ct->h);
    if (ct->x)
      session_leave(s, ct->x);
  }
  lock(s);
  s->nconns--;
  ct->next = s->done;
  s->done = ct;
  unlock(s);
  return 0;
}

static void join_done(mproc__mserver *s) {
  cthread *d;
  lock(s);
  d = s->done;
  s->done = NULL;
  unlock(s);
  while (d) {
    cthread *next = d->next;
    if (d->t)
      mproc_thread_join(d->t, NULL);
    free(d);
    d = next;
  }
}

static void serve(mproc__mserver *s) {
  while (!s->stopping) {
    mproc__handle h;
    cthread *ct;
    int rc = mproc__plat_accept(s->lst, &h), full;
    join_done(s);
    if (rc)
      break;
    lock(s);
    full = s->nconns >= s->max_conns;
    if (!full)
      s->nconns++;
    unlock(s);
    if (full || !(ct = calloc(1, sizeof *ct))) {
      mproc__plat_close(h); /* over the cap: refused at once */
      if (!full) {
        lock(s);
        s->nconns--;
        unlock(s);
      }
      continue;
    }
    ct->s = s;
    ct->h = h;
    /* The thread may finish before ct->t is set: hold the lock. */
    lock(s);
    rc = mproc_thread_start(&ct->t, conn_thread, ct);
    if (rc) {
      s->nconns--;
      unlock(s);
      mproc__plat_close(h);
      free(ct);
      continue;
    }
    unlock(s);
  }
}

/* ---- set-up -------------------------------------------------------------------- */

int mproc__mserver_new(const char *want, const void *key, size_t keylen,
                       double hs_timeout, size_t max_msg, int max_conns,
                       mproc__mserver **out) {
  mproc__mserver *s;
  int rc = mproc__ensure_runtime();
  if (rc)
    return rc;
  if (!(s = calloc(1, sizeof *s)))
    return mproc__err(MPROC_ENOMEM, "manager server");
  if (keylen > sizeof s->key) {
    free(s);
    return mproc__err(MPROC_EINVAL, "manager: authkey longer than %lu bytes",
                      (unsigned long)sizeof s->key);
  }
  memcpy(s->key, key, keylen);
  s->keylen = keylen;
  s->hs_timeout = hs_timeout > 0 ? hs_timeout : MPROC__MGR_HANDSHAKE;
  s->max_msg = max_msg ? max_msg : MPROC__MGR_MAX_MESSAGE;
  s->max_conns = max_conns > 0 ? max_conns : MPROC__MGR_MAX_CONNS;
  if (apr_pool_create(&s->pool, NULL) != APR_SUCCESS ||
      apr_thread_mutex_create(&s->mu, APR_THREAD_MUTEX_NESTED, s->pool) !=
          APR_SUCCESS ||
      apr_thread_cond_create(&s->cv, s->pool) != APR_SUCCESS) {
    if (s->pool)
      apr_pool_destroy(s->pool);
    free(s);
    return mproc__err(MPROC_ENOMEM, "manager mutex");
  }
  rc = mproc__mgr_listen(want, s->addr, sizeof s->addr, &s->lst);
  if (rc) {
    apr_pool_destroy(s->pool);
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

const char *mproc__mserver_addr(const mproc__mserver *s);
const char *mproc__mserver_addr(const mproc__mserver *s) { return s->addr; }

/* Serve until a shutdown request; then free everything (0), or 1 when a
 * client still holds a connection (the caller just exits). */
int mproc__mserver_run(mproc__mserver *s);
int mproc__mserver_run(mproc__mserver *s) {
  double deadline;
  g_srv = s;
  serve(s);
  mproc__plat_listener_free(s->lst);
  s->lst = NULL;
  /* Let the clients' connections close (the owner closes its own at
   * shutdown); a client that keeps one open leaves its thread blocked,
   * and the server cannot be freed (1). */
  for (deadline = mproc__plat_monotonic() + 2;; mproc__plat_sleep(0.01)) {
    int n;
    join_done(s);
    lock(s);
    n = s->nconns;
    unlock(s);
    if (n == 0)
      return 0;
    if (mproc__plat_monotonic() > deadline)
      return 1;
  }
}

int mproc__mserver_free(mproc__mserver *s) {
  size_t i;
  int n;
  if (!s)
    return 0;
  lock(s);
  n = s->nconns;
  unlock(s);
  if (n)
    return 1; /* a connection thread still runs: leave it all */
  join_done(s);
  if (g_srv == s)
    g_srv = NULL; /* proxies inside objects need not give anything back */
  mproc__plat_listener_free(s->lst);
  while (s->sessions) {
    session *x = s->sessions;
    s->sessions = x->next;
    map_free(&x->refs);
    free(x);
  }
  for (i = 0; i < s->objs.cap; i++)
    if (s->objs.k[i]) {
      mproc__mobj *o = (mproc__mobj *)(uintptr_t)s->objs.v[i];
      mproc_value_free(o->state);
      if (o->c)
        o->t->cfree(o->c);
      free(o);
    }
  map_free(&s->objs);
  map_free(&s->transit);
  apr_pool_destroy(s->pool);
  free(s);
  return 0;
}

/* ---- a server in this process (public) -------------------------------------------- */

int mproc_server_new(mproc_server **out, const mproc_manager_opts *opts) {
  mproc_manager_opts o = MPROC_MANAGER_OPTS_INIT;
  const void *key;
  size_t keylen;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_server_new: NULL output");
  *out = NULL;
  if (opts)
    o = *opts;
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  key = o.authkey ? o.authkey : (const void *)mproc__authkey();
  keylen = o.authkey ? o.authkey_len : 32;
  return mproc__mserver_new(o.address, key, keylen, o.handshake_timeout,
                            o.max_message, o.max_connections, out);
}

const char *mproc_server_address(const mproc_server *s) {
  return s ? s->addr : NULL;
}

int mproc_server_publish(mproc_server *s, const char *name,
                         const char *typeid, mproc_value *args) {
  mproc__mobj *o = NULL;
  int rc;
  if (!s || !name || !typeid || strlen(name) >= sizeof s->pub[0].name) {
    mproc_value_free(args);
    return mproc__err(MPROC_EINVAL, "mproc_server_publish: bad argument");
  }
  if (!args && !(args = mproc_list()))
    return MPROC_ENOMEM;
  lock(s);
  if (s->npub == (int)(sizeof s->pub / sizeof s->pub[0]))
    rc = mproc__err(MPROC_ENOMEM, "mproc_server_publish: too many names");
  else if (mproc__mtype_find(name))
    rc = mproc__err(MPROC_EEXIST, "mproc_server_publish: '%s' is a type id",
                    name);
  else if ((rc = obj_new(s, typeid, args, &o)) == 0) {
    strcpy(s->pub[s->npub].name, name);
    s->pub[s->npub++].id = o->id; /* the server's own reference */
  }
  unlock(s);
  mproc_value_free(args);
  return rc;
}

int mproc_server_call(mproc_server *s, const char *name, const char *method,
                      mproc_value *args, mproc_value **result) {
  mproc__mobj *o = NULL;
  mproc_value *r = NULL;
  int i, rc;
  if (result)
    *result = NULL;
  if (!s || !name || !method) {
    mproc_value_free(args);
    return mproc__err(MPROC_EINVAL, "mproc_server_call: NULL argument");
  }
  if (!args && !(args = mproc_list()))
    return MPROC_ENOMEM;
  lock(s);
  for (i = 0; i < s->npub; i++)
    if (!strcmp(s->pub[i].name, name))
      o = obj_find(s, s->pub[i].id);
  rc = o ? obj_call(s, o, NULL, UINT64_MAX, mproc_thread_ident(), method, args,
                    &r)
         : mproc__err(MPROC_EKEY, "mproc_server_call: no object '%s'", name);
  unlock(s);
  mproc_value_free(args);
  if (rc == 0 && result)
    *result = r;
  else
    mproc_value_free(r);
  return rc;
}

int mproc_server_serve_forever(mproc_server *s) {
  if (!s)
    return mproc__err(MPROC_EINVAL, "mproc_server_serve_forever: NULL");
  if (!s->lst)
    return mproc__err(MPROC_ECLOSED, "mproc_server_serve_forever: stopped");
  mproc__mserver_run(s);
  return 0;
}

void mproc_server_stop(mproc_server *s) {
  if (!s)
    return;
  lock(s);
  s->stopping = 1;
  if (s->lst)
    mproc__plat_listener_stop(s->lst);
  unlock(s);
  apr_thread_cond_broadcast(s->cv);
}

void mproc_server_free(mproc_server *s) { mproc__mserver_free(s); }

/* The server process: args [ready conn, address|None, authkey, timeout,
 * max_msg, max_conns, registered types].  It reports [0, address] or [code, message] on the
 * ready connection once it listens, then serves. */
int mproc__mserver_main(mproc_value *args);
int mproc__mserver_main(mproc_value *args) {
  mproc_conn *ready = NULL;
  mproc__mserver *s = NULL;
  const char *want = mproc_value_str(mproc_list_get(args, 1));
  const void *key = NULL;
  size_t keylen = 0;
  double hs = 0;
  int64_t maxmsg = 0, maxconns = 0;
  mproc_value *r;
  int rc = mproc_value_get_conn(mproc_list_get(args, 0), &ready);
  if (rc == 0)
    rc = mproc_value_get_bytes(mproc_list_get(args, 2), &key, &keylen);
  if (rc == 0)
    rc = mproc_value_get_float(mproc_list_get(args, 3), &hs);
  if (rc == 0)
    rc = mproc_value_get_int(mproc_list_get(args, 4), &maxmsg);
  if (rc == 0)
    rc = mproc_value_get_int(mproc_list_get(args, 5), &maxconns);
  if (rc == 0 && mproc_list_len(args) > 6)
    rc = mproc__mreg_import(mproc_list_get(args, 6));
  if (rc == 0)
    rc = mproc__mserver_new(want, key, keylen, hs, (size_t)maxmsg,
                            (int)maxconns, &s);
  if (!ready)
    return 1;
  r = rc ? mproc_build("[is]", rc, mproc_last_error())
         : mproc_build("[is]", 0, s->addr);
  mproc_conn_send(ready, r);
  mproc_value_free(r);
  mproc_conn_close(ready);
  if (rc)
    return 1;
  if (mproc__mserver_run(s) != 0 || mproc__mserver_free(s) != 0) {
    fflush(NULL);
    mproc__plat_exit(0); /* threads still blocked on clients */
  }
  return 0;
}
