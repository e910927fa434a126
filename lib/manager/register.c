/*
 * register.c - user types of the Manager (Python's BaseManager.register):
 * C functions that build a state and run its exposed methods in the
 * server.
 *
 * Map: the process's registry (mproc_manager_register), its travel to the
 * server process (functions by (module, offset) reference, as a process
 * target; names by value), and the object glue (a registered object is
 * {type, user state}, so the generic free and repr know the type).
 *
 * Only names in the type's exposed list reach its call function: any
 * other is MPROC_ENOTSUP, checked here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgr_int.h"

#define MAX_TYPES 32
#define MAX_EXPOSED 64
#define MODULE_MAX 1024

typedef struct reg {
  mproc__mtype t;           /* what the server looks up */
  mproc_manager_type user;  /* the user's functions, names copied */
  char typeid[64];
  char *names[MAX_EXPOSED + 1];
} reg;

static reg g_reg[MAX_TYPES];
static int g_nreg;

typedef struct robj {
  const mproc__mtype *t;
  void *state;
} robj;

static void robj_free(void *c) {
  robj *o = (robj *)c;
  if (o->t->user->free)
    o->t->user->free(o->state);
  free(o);
}

static int robj_repr(void *c, char **out) {
  robj *o = (robj *)c;
  char buf[128];
  snprintf(buf, sizeof buf, "<%s object at 0x%llx>", o->t->typeid,
           (unsigned long long)(uintptr_t)o->state);
  *out = malloc(strlen(buf) + 1);
  if (!*out)
    return mproc__err(MPROC_ENOMEM, "repr");
  strcpy(*out, buf);
  return 0;
}

const mproc__mtype *mproc__mreg_find(const char *typeid) {
  int i;
  for (i = 0; i < g_nreg; i++)
    if (!strcmp(g_reg[i].typeid, typeid))
      return &g_reg[i].t;
  return NULL;
}

/* Add a type whose names are copied; functions as given. */
static int add(const char *typeid, int (*create)(mproc_value *, void **),
               int (*call)(void *, const char *, mproc_value *,
                           mproc_value **),
               void (*fr)(void *), const mproc_value *names,
               const char *const *cnames) {
  reg *r;
  size_t i, n = names ? mproc_list_len(names) : 0;
  if (cnames)
    for (n = 0; cnames[n]; n++)
      ;
  if (!typeid || !typeid[0] || strlen(typeid) >= sizeof r->typeid ||
      !create || !call || n > MAX_EXPOSED)
    return mproc__err(MPROC_EINVAL, "mproc_manager_register: a type id (< 64 "
                                    "bytes), create, call and at most %d "
                                    "exposed names are needed",
                      MAX_EXPOSED);
  if (mproc__mtype_find(typeid))
    return mproc__err(MPROC_EEXIST, "mproc_manager_register: '%s' exists",
                      typeid);
  if (g_nreg == MAX_TYPES)
    return mproc__err(MPROC_ENOMEM, "mproc_manager_register: at most %d "
                                    "types",
                      MAX_TYPES);
  r = &g_reg[g_nreg];
  memset(r, 0, sizeof *r);
  strcpy(r->typeid, typeid);
  for (i = 0; i < n; i++) {
    const char *s = cnames ? cnames[i] : mproc_value_str(mproc_list_get(names, i));
    if (!s || !(r->names[i] = malloc(strlen(s) + 1))) {
      while (i--)
        free(r->names[i]);
      return mproc__err(MPROC_ENOMEM, "mproc_manager_register");
    }
    strcpy(r->names[i], s);
  }
  r->user.typeid = r->typeid;
  r->user.create = create;
  r->user.call = call;
  r->user.free = fr;
  r->user.exposed = (const char *const *)r->names;
  r->t.typeid = r->typeid;
  r->t.proxy_name = "AutoProxy";
  r->t.cfree = robj_free;
  r->t.crepr = robj_repr;
  r->t.user = &r->user;
  g_nreg++;
  return 0;
}

int mproc_manager_register(const mproc_manager_type *t) {
  if (!t)
    return mproc__err(MPROC_EINVAL, "mproc_manager_register: NULL type");
  return add(t->typeid, t->create, t->call, t->free, NULL, t->exposed);
}

int mproc__mreg_create(const mproc__mtype *t, mproc_value *args, void **c) {
  robj *o = calloc(1, sizeof *o);
  int rc;
  if (!o)
    return mproc__err(MPROC_ENOMEM, "manager: object");
  o->t = t;
  rc = t->user->create(args, &o->state);
  if (rc) {
    free(o);
    return rc < 0 ? rc : mproc__err(MPROC_EINVAL, "%s: create failed",
                                    t->typeid);
  }
  *c = o;
  return 0;
}

int mproc__mreg_call(const mproc__mtype *t, void *c, const char *method,
                     mproc_value *args, mproc_value **result) {
  robj *o = (robj *)c;
  const char *const *e;
  int rc;
  for (e = t->user->exposed; e && *e; e++)
    if (!strcmp(*e, method))
      break;
  if (!e || !*e)
    return mproc__err(MPROC_ENOTSUP, "'%s' exposes no method '%s'",
                      t->typeid, method);
  *result = NULL;
  rc = t->user->call(o->state, method, args, result);
  if (rc == 0 && !*result)
    *result = mproc_none();
  if (rc > 0)
    rc = mproc__err(MPROC_EINVAL, "%s.%s failed", t->typeid, method);
  if (rc) {
    mproc_value_free(*result);
    *result = NULL;
  }
  return rc;
}

/* [[typeid, [module, off] x3 (free may be None), [names]], ...] */
static mproc_value *fn_ref(const void *fn, int *rc) {
  char module[MODULE_MAX];
  uint64_t off = 0;
  if (!fn)
    return mproc_none();
  *rc = mproc__plat_addr_to_ref(fn, module, sizeof module, &off);
  return *rc ? NULL : mproc_build("[sL]", module, (int64_t)off);
}

int mproc__mreg_export(mproc_value **plain) {
  mproc_value *l = mproc_list();
  int i, rc = 0;
  for (i = 0; l && rc == 0 && i < g_nreg; i++) {
    const mproc_manager_type *u = &g_reg[i].user;
    mproc_value *names = mproc_list(), *e;
    size_t k;
    for (k = 0; names && u->exposed[k]; k++)
      mproc_list_append(names, mproc_str(u->exposed[k]));
    e = mproc_build("[sOOOO]", u->typeid,
                    fn_ref((const void *)(uintptr_t)u->create, &rc),
                    fn_ref((const void *)(uintptr_t)u->call, &rc),
                    fn_ref((const void *)(uintptr_t)u->free, &rc), names);
    if (rc == 0)
      rc = e ? mproc_list_append(l, e) : MPROC_ENOMEM;
    else
      mproc_value_free(e);
  }
  if (!l || rc) {
    mproc_value_free(l);
    return rc ? rc : MPROC_ENOMEM;
  }
  *plain = l;
  return 0;
}

static int fn_get(const mproc_value *v, void **fn) {
  const char *module = mproc_value_str(mproc_list_get(v, 0));
  int64_t off = -1;
  *fn = NULL;
  if (mproc_value_type(v) == MPROC_T_NONE)
    return 0;
  if (!module || mproc_value_get_int(mproc_list_get(v, 1), &off) != 0 ||
      off < 0)
    return mproc__err(MPROC_EBADMSG, "manager: a bad function reference");
  return mproc__plat_ref_to_addr(module, (uint64_t)off, fn);
}

int mproc__mreg_import(const mproc_value *plain) {
  size_t i;
  int rc = 0;
  for (i = 0; rc == 0 && i < mproc_list_len(plain); i++) {
    const mproc_value *e = mproc_list_get(plain, i);
    void *cr = NULL, *ca = NULL, *fr = NULL;
    const char *typeid = mproc_value_str(mproc_list_get(e, 0));
    if ((rc = fn_get(mproc_list_get(e, 1), &cr)) == 0 &&
        (rc = fn_get(mproc_list_get(e, 2), &ca)) == 0 &&
        (rc = fn_get(mproc_list_get(e, 3), &fr)) == 0) {
      if (typeid && mproc__mreg_find(typeid))
        continue; /* already here (registered before mproc_init) */
      rc = add(typeid, (int (*)(mproc_value *, void **))(uintptr_t)cr,
               (int (*)(void *, const char *, mproc_value *,
                        mproc_value **))(uintptr_t)ca,
               (void (*)(void *))(uintptr_t)fr, mproc_list_get(e, 4), NULL);
    }
  }
  return rc;
}
