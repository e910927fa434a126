/*
 * spawnctx.h - the spawn context: how OS objects inside a process's arguments
 * become handles passed to the child, and objects again in the child; and
 * the framing of the handshake messages on the bootstrap channel.
 * Shared by process.c (parent) and runtime.c (child); spawn.c holds both.
 */
#ifndef MPROC_SPAWNCTX_H
#define MPROC_SPAWNCTX_H

#include "mproc_int.h"

#define MPROC__PROTO 1
#define MPROC__HELLO "mproc-hello/1"
/* Exit code of a child that could not bootstrap. */
#define MPROC__EXIT_BOOT 70
/* The child's answer when it cannot go on: "error: <reason>". */
#define MPROC__BOOT_ERROR "error: "
/* The most a hello or a reply may hold (the parent reads no more). */
#define MPROC__BOOT_SMALL 1024
/* The most a bootstrap message may claim (memory follows the bytes that
 * actually arrive, and the deadline bounds the wait for them). */
#define MPROC__BOOT_BIG ((uint64_t)1 << 40)

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
  mproc__handle reserved[2]; /* the bootstrap channel and parent sentinel:
                                no object may claim them */
  mproc__seen *seen;
  size_t nseen, capseen;
  /* child: shared blocks already mapped, by handle index */
  mproc__blk **blks;
  int64_t *blkidx;
  size_t nblk, capblk;
};

/* The export half (process.c); child.c adds the import half. */
void mproc__spawn_init_parent(mproc__spawn *sp);
void mproc__spawn_free(mproc__spawn *sp);

/*
 * The handshake on the bootstrap channel h, each step bounded by one
 * absolute deadline (mproc__plat_monotonic() seconds).  Messages are framed
 * as a Connection's (4-byte big-endian length, or 0xFFFFFFFF and 8 bytes).
 * recv: MPROC_ETOOBIG if the header claims more than cap bytes (nothing is
 * allocated for it), MPROC_ETIMEDOUT at the deadline, MPROC_EEOF if the
 * peer went before a byte of the message, MPROC_EBADMSG if it went in the
 * middle (detail says after how many bytes); the buffer grows as bytes
 * arrive, never from the header alone.
 */
int mproc__boot_send(mproc__handle h, const void *p, size_t n,
                     double deadline);
int mproc__boot_recv(mproc__handle h, uint64_t cap, double deadline,
                     unsigned char **out, size_t *n);
/* Seconds a whole handshake may take: MPROC_START_TIMEOUT or 60. */
double mproc__start_timeout(void);

/* process.c, for child.c: the objects for this process and its parent
 * (set_self makes them mproc_current/parent_process), and the exit hook
 * that ends daemonic children and joins the others. */
mproc_process *mproc__process_new_self(const char *name, long pid,
                                       int daemon);
mproc_process *mproc__process_new_parent(const char *name, long pid,
                                         mproc__waititem sentinel);
void mproc__process_set_self(mproc_process *self, mproc_process *parent);
void mproc__process_at_exit(void);

#endif
