/*
 * spawnctx.h - the spawn context: how OS objects inside a process's arguments
 * become handles passed to the child, and objects again in the child.
 * Shared by process.c (parent) and runtime.c (child).
 */
#ifndef MPROC_SPAWNCTX_H
#define MPROC_SPAWNCTX_H

#include "mproc_int.h"

#define MPROC__PROTO 1
#define MPROC__HELLO "mproc-hello/1"
/* Exit code of a child that could not bootstrap. */
#define MPROC__EXIT_BOOT 70

typedef struct mproc__seen {
  mproc_value *plain;
  const mproc__objtype *type;
  void *obj;
} mproc__seen;

struct mproc__spawn {
  mproc__codec_ctx codec; /* first: the codec hands this back */
  /* parent: the handles to pass */
  mproc__handle *h;
  size_t n, cap;
  /* child: the handle values received, and objects already rebuilt */
  const mproc_value *values;
  mproc__seen *seen;
  size_t nseen, capseen;
  /* child: shared blocks already mapped, by handle index */
  mproc__blk **blks;
  int64_t *blkidx;
  size_t nblk, capblk;
};

void mproc__spawn_init_parent(mproc__spawn *sp);
void mproc__spawn_init_child(mproc__spawn *sp, const mproc_value *values);
void mproc__spawn_free(mproc__spawn *sp);

/* process.c's constructors for the runtime's own process objects. */
mproc_process *mproc__process_new_self(const char *name, long pid,
                                       int daemon);
mproc_process *mproc__process_new_parent(const char *name, long pid,
                                         mproc__waititem sentinel);
void mproc__process_destroy(mproc_process *p);
/* 1 still running, 0 ended (status collected), negative error. */
int mproc__process_reap_nowait(mproc_process *p);
int mproc__process_detached(const mproc_process *p);

#endif
