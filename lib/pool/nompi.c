/*
 * nompi.c - the pool's MPI backend when mproc is built without MPI
 * (MPROC_WITH_MPI off, e.g. the Windows builds): mproc_init has nothing
 * to start, and asking for the backend says why it is missing.  mpi.c is
 * the real one (docs/mpi.md).
 */
#include "engine.h"

int mproc__pool_mpi_boot(void) { return 0; }

int mproc__pool_backend_open(mproc_pool_opts *o,
                             const mproc__pool_backend **be) {
  (void)be;
  if (o->backend != MPROC_POOL_MPI)
    return mproc__err(MPROC_EINVAL, "mproc_pool_new: unknown backend %d",
                      o->backend);
  return mproc__err(MPROC_ENOTSUP,
                    "mproc_pool_new: this mproc was built without MPI "
                    "(cmake -DMPROC_WITH_MPI=ON with an MPI installed; see "
                    "docs/mpi.md)");
}
