/*
 * spawn.c - the spawn context (see spawnctx.h).
 *
 * In the parent every object in the arguments is exported as
 * [type name, plain description]; the handles it names are collected once
 * each.  In the child the description is imported back into an object
 * the arguments own; the same object named twice is rebuilt once, so a
 * Connection passed twice is one Connection, closed once.
 */
#include <stdlib.h>
#include <string.h>

#include "spawnctx.h"

/* Every type that can travel at spawn. */
extern const mproc__objtype mproc__sem_type, mproc__bsem_type,
    mproc__event_type, mproc__cond_type, mproc__barrier_type,
    mproc__value_type, mproc__array_type, mproc__rawvalue_type,
    mproc__rawarray_type, mproc__shm_type, mproc__queue_type,
    mproc__simplequeue_type, mproc__joinablequeue_type;
static const mproc__objtype *const travel_types[] = {
    &mproc__conn_type,    &mproc__lock_type,     &mproc__rlock_type,
    &mproc__sem_type,     &mproc__bsem_type,     &mproc__event_type,
    &mproc__cond_type,    &mproc__barrier_type,  &mproc__value_type,
    &mproc__array_type,   &mproc__rawvalue_type, &mproc__rawarray_type,
    &mproc__shm_type,     &mproc__queue_type,    &mproc__simplequeue_type,
    &mproc__joinablequeue_type};

static int export_obj(mproc__codec_ctx *ctx, const mproc__objtype *type,
                      void *obj, mproc_value **plain) {
  mproc__spawn *sp = (mproc__spawn *)ctx;
  mproc_value *inner = NULL;
  int rc;
  if (!type->spawn_export)
    return mproc__err(MPROC_EINHERIT,
                      "%s objects should only be shared between processes "
                      "through inheritance",
                      type->name);
  rc = type->spawn_export(obj, sp, &inner);
  if (rc)
    return rc;
  *plain = mproc_build("[sO]", type->name, inner);
  return *plain ? 0 : MPROC_ENOMEM;
}

static int import_obj(mproc__codec_ctx *ctx, const mproc_value *plain,
                      mproc_value **objval) {
  mproc__spawn *sp = (mproc__spawn *)ctx;
  const mproc__objtype *type = NULL;
  const char *name = mproc_value_str(mproc_list_get(plain, 0));
  void *obj = NULL;
  size_t i;
  int rc;
  for (i = 0; i < sp->nseen; i++)
    if (mproc_value_equal(sp->seen[i].plain, plain)) {
      *objval = mproc__value_object(sp->seen[i].type, sp->seen[i].obj, 0);
      return *objval ? 0 : MPROC_ENOMEM;
    }
  for (i = 0; name && i < sizeof travel_types / sizeof travel_types[0]; i++)
    if (strcmp(travel_types[i]->name, name) == 0)
      type = travel_types[i];
  if (!type || mproc_list_len(plain) != 2)
    return mproc__err(MPROC_EBADMSG, "unknown object '%s' in bootstrap",
                      name ? name : "?");
  if (sp->nseen == sp->capseen) {
    size_t cap = sp->capseen ? sp->capseen * 2 : 4;
    mproc__seen *s = realloc(sp->seen, cap * sizeof *s);
    if (!s)
      return mproc__err(MPROC_ENOMEM, "spawn objects");
    sp->seen = s;
    sp->capseen = cap;
  }
  rc = type->spawn_import(sp, mproc_list_get(plain, 1), &obj);
  if (rc)
    return rc;
  *objval = mproc__value_object(type, obj, 1);
  sp->seen[sp->nseen].plain = mproc_value_copy(plain);
  if (!*objval || !sp->seen[sp->nseen].plain) {
    if (*objval)
      mproc_value_free(*objval);
    else
      type->release(obj);
    mproc_value_free(sp->seen[sp->nseen].plain);
    return mproc__err(MPROC_ENOMEM, "spawn objects");
  }
  sp->seen[sp->nseen].type = type;
  sp->seen[sp->nseen].obj = obj;
  sp->nseen++;
  return 0;
}

void mproc__spawn_init_parent(mproc__spawn *sp) {
  memset(sp, 0, sizeof *sp);
  sp->codec.export_obj = export_obj;
  sp->codec.import_obj = import_obj;
}

void mproc__spawn_init_child(mproc__spawn *sp, const mproc_value *values) {
  mproc__spawn_init_parent(sp);
  sp->values = values;
}

void mproc__spawn_free(mproc__spawn *sp) {
  size_t i;
  for (i = 0; i < sp->nseen; i++)
    mproc_value_free(sp->seen[i].plain);
  free(sp->seen);
  for (i = 0; i < sp->nblk; i++)
    mproc__blk_decref(sp->blks[i]);
  free(sp->blks);
  free(sp->blkidx);
  free(sp->h);
  memset(sp, 0, sizeof *sp);
}

int mproc__spawn_add_handle(mproc__spawn *sp, mproc__handle h) {
  size_t i;
  for (i = 0; i < sp->n; i++)
    if (sp->h[i] == h)
      return (int)i;
  if (sp->n == sp->cap) {
    size_t cap = sp->cap ? sp->cap * 2 : 8;
    mproc__handle *nh = realloc(sp->h, cap * sizeof *nh);
    if (!nh)
      return mproc__err(MPROC_ENOMEM, "handle table");
    sp->h = nh;
    sp->cap = cap;
  }
  sp->h[sp->n] = h;
  return (int)sp->n++;
}

int mproc__spawn_get_handle(mproc__spawn *sp, int64_t i, mproc__handle *h) {
  int64_t v;
  int rc;
  if (!sp->values || i < 0 || (uint64_t)i >= mproc_list_len(sp->values) ||
      mproc_value_get_int(mproc_list_get(sp->values, (size_t)i), &v) != 0)
    return mproc__err(MPROC_EBADMSG, "bootstrap names handle %lld, which it "
                                     "does not pass",
                      (long long)i);
  rc = mproc__plat_adopt((mproc__handle)v);
  if (rc)
    return rc;
  *h = (mproc__handle)v;
  return 0;
}
