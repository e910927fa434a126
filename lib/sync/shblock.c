/*
 * shblock.c - blocks of nameless shared memory, and the head every object
 * in one has (type, references, block).
 *
 * A block is created by mproc__plat_shm_anon, so it has no name and the
 * OS frees it with its last handle and mapping: a process killed with
 * SIGKILL leaves nothing behind.  Its handle (and the parks, on systems
 * that need them) stays open while the block is referenced, because a
 * later child may need it at spawn.
 *
 * A growable block (a Queue's ring) reserves address space for all it may
 * grow to; size is then that reserve, of which the object makes the part
 * it uses usable with mproc__plat_shm_commit.
 *
 * Layout: a 16-byte header {magic, kind, nparks, 0}, then the object.
 * At spawn a block travels as [handle index, size, [park indices]]; in the
 * child the first object that names a handle maps it and later ones share
 * that mapping, so a Value and the Lock inside it, passed separately, are
 * one block in the child as in the parent.
 */
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "mproc_int.h"
#include "spawnctx.h"

#define BLK_MAGIC 0x6d707362u /* "mpsb" */

typedef struct blkhdr {
  uint32_t magic;
  uint32_t kind;
  uint32_t nparks;
  uint32_t zero;
} blkhdr;

static void blk_destroy(mproc__blk *b) {
  int i;
  if (b->addr)
    mproc__plat_shm_unmap(b->addr, b->size);
  if (b->h != MPROC__NOHANDLE)
    mproc__plat_close(b->h);
  for (i = 0; i < b->nparks; i++)
    if (b->park[i] != MPROC__NOHANDLE)
      mproc__plat_close(b->park[i]);
  free(b);
}

static mproc__blk *blk_alloc(void) {
  mproc__blk *b = calloc(1, sizeof *b);
  int i;
  if (!b) {
    mproc__err(MPROC_ENOMEM, "shared block");
    return NULL;
  }
  b->refs = 1;
  b->h = MPROC__NOHANDLE;
  for (i = 0; i < MPROC__MAX_PARKS; i++)
    b->park[i] = MPROC__NOHANDLE;
  return b;
}

/* reserve 0: a fixed block; else a growable one (see the header). */
static int blk_make(size_t size, size_t reserve, size_t min_reserve,
                    uint32_t kind, int nparks, mproc__blk **out) {
  size_t page = mproc__plat_page_size();
  mproc__blk *b;
  blkhdr *hdr;
  int rc, i;
  *out = NULL;
  if ((rc = mproc__ensure_runtime()) != 0) /* a failed mproc_init */
    return rc;
  if (size < MPROC__BLK_HDR || size > SIZE_MAX - page || nparks < 0 ||
      nparks > MPROC__MAX_PARKS || reserve > SIZE_MAX - page)
    return mproc__err(MPROC_EINVAL, "shared block of %zu bytes", size);
  b = blk_alloc();
  if (!b)
    return MPROC_ENOMEM;
  b->size = (size + page - 1) / page * page;
  if (!reserve) {
    rc = mproc__plat_shm_anon(b->size, &b->h);
    if (rc == 0)
      rc = mproc__plat_shm_map(b->h, b->size, (void **)&b->addr);
  } else {
    size_t first = b->size;
    reserve = (reserve + page - 1) / page * page;
    if (reserve < first)
      reserve = first;
    rc = mproc__plat_shm_anon_growable(first, reserve, &b->h);
    b->size = reserve;
    while (rc == 0) {
      size_t half = b->size / 2 / page * page;
      rc = mproc__plat_shm_map(b->h, b->size, (void **)&b->addr);
      /* Less address space than asked (a ulimit -v): halve, to min. */
      if (rc != MPROC_ENOMEM || half < min_reserve || half < first)
        break;
      b->size = half;
      rc = 0;
    }
    if (rc == 0)
      rc = mproc__plat_shm_commit(b->h, b->addr, first);
  }
  if (mproc__plat_park_needed())
    for (i = 0; rc == 0 && i < nparks; i++, b->nparks++)
      rc = mproc__plat_park_new(&b->park[i]);
  if (rc) {
    blk_destroy(b);
    return rc;
  }
  hdr = (blkhdr *)b->addr;
  hdr->kind = kind;
  hdr->nparks = (uint32_t)nparks;
  mproc__st32(&hdr->magic, BLK_MAGIC);
  *out = b;
  return 0;
}

int mproc__blk_new(size_t size, uint32_t kind, int nparks, mproc__blk **out) {
  return blk_make(size, 0, 0, kind, nparks, out);
}

int mproc__blk_new_growable(size_t size, size_t reserve, size_t min_reserve,
                            uint32_t kind, int nparks, mproc__blk **out) {
  if (!reserve)
    return mproc__err(MPROC_EINVAL, "growable block with no reserve");
  return blk_make(size, reserve, min_reserve, kind, nparks, out);
}

mproc__blk *mproc__blk_incref(mproc__blk *b) {
  mproc__add32((volatile uint32_t *)&b->refs, 1);
  return b;
}

void mproc__blk_decref(mproc__blk *b) {
  if (b && mproc__add32((volatile uint32_t *)&b->refs, (uint32_t)-1) == 0)
    blk_destroy(b);
}

uint32_t mproc__blk_kind(const mproc__blk *b) {
  return ((const blkhdr *)b->addr)->kind;
}

int mproc__blk_export(mproc__blk *b, mproc__spawn *sp, mproc_value **plain) {
  mproc_value *parks = mproc_list();
  int idx, i;
  if (!parks)
    return mproc__err(MPROC_ENOMEM, "block description");
  for (i = 0; i < b->nparks; i++) {
    idx = mproc__spawn_add_handle(sp, b->park[i]);
    if (idx < 0 || mproc_list_append(parks, mproc_int(idx)) != 0) {
      mproc_value_free(parks);
      return idx < 0 ? idx : MPROC_ENOMEM;
    }
  }
  idx = mproc__spawn_add_handle(sp, b->h);
  if (idx < 0) {
    mproc_value_free(parks);
    return idx;
  }
  *plain = mproc_build("[iLO]", idx, (int64_t)b->size, parks);
  return *plain ? 0 : MPROC_ENOMEM;
}

/* Map the block at handle index idx (not yet mapped in this child). */
static int blk_map(mproc__spawn *sp, int64_t idx, int64_t size,
                   const mproc_value *parks, mproc__blk **out) {
  size_t i, np = mproc_list_len(parks);
  int64_t pidx;
  mproc__blk *b;
  blkhdr *hdr;
  int rc;
  if (size < MPROC__BLK_HDR || (uint64_t)size > SIZE_MAX / 2 ||
      (int64_t)(size_t)size != size || np > MPROC__MAX_PARKS)
    return mproc__err(MPROC_EBADMSG, "malformed shared block in bootstrap");
  b = blk_alloc();
  if (!b)
    return MPROC_ENOMEM;
  b->size = (size_t)size;
  rc = mproc__spawn_get_handle(sp, idx, &b->h);
  for (i = 0; rc == 0 && i < np; i++, b->nparks++) {
    if (mproc_value_get_int(mproc_list_get(parks, i), &pidx) != 0)
      rc = mproc__err(MPROC_EBADMSG, "malformed park in bootstrap");
    else
      rc = mproc__spawn_get_handle(sp, pidx, &b->park[i]);
  }
  if (rc == 0)
    rc = mproc__plat_shm_map(b->h, b->size, (void **)&b->addr);
  if (rc == 0) {
    hdr = (blkhdr *)b->addr;
    if (mproc__ld32(&hdr->magic) != BLK_MAGIC ||
        (mproc__plat_park_needed() && hdr->nparks != np))
      rc = mproc__err(MPROC_EBADMSG, "bootstrap names a handle that is not "
                                     "an mproc shared block");
  }
  if (rc) {
    blk_destroy(b);
    return rc;
  }
  *out = b;
  return 0;
}

void mproc__blk_release_imports(mproc__spawn *sp) {
  size_t i;
  for (i = 0; i < sp->nblk; i++)
    mproc__blk_decref(sp->blks[i]);
  free(sp->blks);
  free(sp->blkidx);
  sp->blks = NULL;
  sp->blkidx = NULL;
  sp->nblk = sp->capblk = 0;
}

int mproc__blk_import(mproc__spawn *sp, const mproc_value *plain,
                      uint32_t kind, size_t off, size_t len,
                      mproc__blk **out) {
  int64_t idx, size;
  mproc__blk *b = NULL;
  size_t i;
  int rc;
  if (mproc_list_len(plain) != 3 ||
      mproc_value_get_int(mproc_list_get(plain, 0), &idx) != 0 ||
      mproc_value_get_int(mproc_list_get(plain, 1), &size) != 0 ||
      mproc_value_type(mproc_list_get(plain, 2)) != MPROC_T_LIST)
    return mproc__err(MPROC_EBADMSG, "malformed shared block in bootstrap");
  for (i = 0; i < sp->nblk; i++)
    if (sp->blkidx[i] == idx)
      b = sp->blks[i];
  if (!b) {
    if (sp->nblk == sp->capblk) {
      size_t cap = sp->capblk ? sp->capblk * 2 : 4;
      mproc__blk **nb = realloc(sp->blks, cap * sizeof *nb);
      int64_t *ni;
      if (nb)
        sp->blks = nb;
      ni = nb ? realloc(sp->blkidx, cap * sizeof *ni) : NULL;
      if (!ni)
        return mproc__err(MPROC_ENOMEM, "spawn blocks");
      sp->blkidx = ni;
      sp->capblk = cap;
    }
    rc = blk_map(sp, idx, size, mproc_list_get(plain, 2), &b);
    if (rc)
      return rc;
    sp->blks[sp->nblk] = b; /* the spawn context's reference */
    sp->blkidx[sp->nblk++] = idx;
  }
  if ((kind && mproc__blk_kind(b) != kind) || off > b->size ||
      len > b->size - off)
    return mproc__err(MPROC_EBADMSG, "bootstrap: shared block of another "
                                     "kind or size");
  *out = mproc__blk_incref(b);
  return 0;
}

/* ---- the object head ------------------------------------------------------ */

void mproc__sobj_init(mproc__sobj *o, const mproc__objtype *type,
                      mproc__blk *blk) {
  o->type = type;
  o->refs = 1;
  o->blk = blk;
}

void mproc__sobj_incref(mproc__sobj *o) {
  mproc__add32((volatile uint32_t *)&o->refs, 1);
}

int mproc__sobj_decref(mproc__sobj *o) {
  return mproc__add32((volatile uint32_t *)&o->refs, (uint32_t)-1) == 0;
}

mproc_value *mproc__sobj_ref(mproc__sobj *o, const char *what) {
  if (!o) {
    mproc__err(MPROC_EINVAL, "%s: the object is NULL", what);
    return NULL;
  }
  return mproc__value_object(o->type, o, 0);
}

int mproc__sobj_get(const mproc_value *v, const mproc__objtype *const *types,
                    size_t ntypes, const char *what, void **out) {
  const mproc__objtype *t;
  void *obj;
  size_t i;
  int rc;
  if (!out)
    return mproc__err(MPROC_EINVAL, "%s: NULL output", what);
  *out = NULL;
  rc = mproc__value_objinfo(v, &t, &obj);
  if (rc)
    return rc;
  for (i = 0; i < ntypes; i++)
    if (t == types[i]) {
      *out = obj;
      return 0;
    }
  return mproc__err(MPROC_ETYPE, "%s: the value holds a %s", what, t->name);
}

static int sobj_wrap(size_t objsize, const mproc__objtype *type,
                     mproc__blk *blk, void **out) {
  mproc__sobj *o = calloc(1, objsize);
  if (!o) {
    mproc__blk_decref(blk);
    return mproc__err(MPROC_ENOMEM, "%s", type->name);
  }
  mproc__sobj_init(o, type, blk);
  *out = o;
  return 0;
}

int mproc__sobj_new(size_t objsize, const mproc__objtype *type, uint32_t kind,
                    size_t len, int nparks, void **out) {
  mproc__blk *blk;
  int rc = mproc__ensure_runtime();
  if (rc)
    return rc;
  rc = mproc__blk_new(MPROC__BLK_HDR + len, kind, nparks, &blk);
  return rc ? rc : sobj_wrap(objsize, type, blk, out);
}

int mproc__sobj_import(mproc__spawn *sp, const mproc_value *plain,
                       size_t objsize, const mproc__objtype *type,
                       uint32_t kind, size_t len, int nparks, void **out) {
  mproc__blk *blk;
  int rc = mproc__blk_import(sp, plain, kind, MPROC__BLK_HDR, len, &blk);
  if (rc)
    return rc;
  if (mproc__plat_park_needed() && blk->nparks != nparks) {
    mproc__blk_decref(blk);
    return mproc__err(MPROC_EBADMSG, "malformed %s in bootstrap",
                      type->name);
  }
  return sobj_wrap(objsize, type, blk, out);
}

void *mproc__sobj_state(const mproc__sobj *o) {
  return o->blk->addr + MPROC__BLK_HDR;
}
