/*
 * posix/shm.c - shared memory blocks.
 *
 * Map: shm_anon (memfd_create + ftruncate + seals: a block with no name,
 * freed by the kernel with its last fd and mapping, so nothing can leak
 * when every user is SIGKILLed), shm_named / shm_unlink (shm_open, for
 * SharedMemory: the resource tracker in lib/ unlinks forgotten names),
 * shm_map / shm_unmap (mmap MAP_SHARED), page_size; shm_anon_growable,
 * shm_commit and shm_discard for a block that grows in place (a Queue's
 * ring; discard punches a hole, giving pages back).
 *
 * The seals stop any holder from shrinking the block under the others
 * (which would turn their next access into SIGBUS).  A growable block is
 * sealed against shrinking only: every process maps its whole reserve
 * (mapping past the end of the file is allowed; touching it is not), and
 * the process that grows it extends the file with ftruncate before anyone
 * uses the new part.  Pages exist only once written, as for the first
 * part (fallocate, which would make running out of memory an error code,
 * zeroes every page at once: a burst of puts ran at 2/3 of the speed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mproc_int.h"

#ifndef MFD_CLOEXEC
#error "memfd_create is needed (glibc >= 2.27, Linux >= 3.17)"
#endif

static int shm_code(int e) {
  if (e == ENOMEM || e == ENOSPC)
    return MPROC_ENOMEM;
  if (e == EEXIST)
    return MPROC_EEXIST;
  if (e == ENOENT)
    return MPROC_ENOENT;
  return MPROC_EOS;
}

size_t mproc__plat_page_size(void) {
  long n = sysconf(_SC_PAGESIZE);
  return n > 0 ? (size_t)n : 4096;
}

/* A memfd of size bytes with seals (a growable one may not shrink). */
static int sealed_memfd(size_t size, int seals, mproc__handle *h) {
  int fd, e;
  fd = memfd_create("mproc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return mproc__err_os(shm_code(errno), errno, "memfd_create");
  if (ftruncate(fd, (off_t)size) != 0) {
    e = errno;
    close(fd);
    return mproc__err_os(shm_code(e), e, "ftruncate(memfd, %zu)", size);
  }
  if (fcntl(fd, F_ADD_SEALS, seals | F_SEAL_SEAL) != 0) {
    e = errno;
    close(fd);
    return mproc__err_os(MPROC_EOS, e, "fcntl(F_ADD_SEALS)");
  }
  *h = fd;
  return 0;
}

int mproc__plat_shm_anon(size_t size, mproc__handle *h) {
  if (size == 0 || (off_t)size < 0)
    return mproc__err(MPROC_EINVAL, "shared block of %zu bytes", size);
  return sealed_memfd(size, F_SEAL_SHRINK | F_SEAL_GROW, h);
}

int mproc__plat_shm_anon_growable(size_t size, size_t reserve,
                                   mproc__handle *h) {
  if (size == 0 || reserve < size || (off_t)reserve < 0)
    return mproc__err(MPROC_EINVAL, "growable block of %zu of %zu bytes",
                      size, reserve);
  return sealed_memfd(size, F_SEAL_SHRINK, h);
}

int mproc__plat_shm_commit(mproc__handle h, void *addr, size_t size) {
  struct stat st;
  (void)addr;
  if (fstat((int)h, &st) != 0)
    return mproc__err_os(MPROC_EOS, errno, "fstat(memfd)");
  if ((size_t)st.st_size >= size)
    return 0;
  if (ftruncate((int)h, (off_t)size) != 0)
    return mproc__err_os(shm_code(errno), errno,
                         "growing a shared block to %zu bytes", size);
  return 0;
}

int mproc__plat_shm_discard(mproc__handle h, void *addr, size_t off,
                            size_t len) {
  (void)addr;
  if (len && fallocate((int)h, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                       (off_t)off, (off_t)len) != 0)
    return mproc__err_os(MPROC_EOS, errno, "fallocate(PUNCH_HOLE)");
  return 0;
}

int mproc__plat_shm_named(const char *name, int create, size_t *size,
                          mproc__handle *h) {
  char path[256];
  struct stat st;
  int fd, e;
  if (snprintf(path, sizeof path, "/%s", name) >= (int)sizeof path)
    return mproc__err(MPROC_EINVAL, "shared memory name too long");
  if (create) {
    if (*size == 0 || (off_t)*size < 0)
      return mproc__err(MPROC_EINVAL, "shared memory of %zu bytes", *size);
    fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      return mproc__err_os(shm_code(errno), errno, "shm_open(%s)", path);
    if (ftruncate(fd, (off_t)*size) != 0) {
      e = errno;
      close(fd);
      shm_unlink(path);
      return mproc__err_os(shm_code(e), e, "ftruncate(%s, %zu)", path, *size);
    }
  } else {
    fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
      return mproc__err_os(shm_code(errno), errno, "shm_open(%s)", path);
    if (fstat(fd, &st) != 0) {
      e = errno;
      close(fd);
      return mproc__err_os(MPROC_EOS, e, "fstat(%s)", path);
    }
    *size = (size_t)st.st_size;
  }
  *h = fd;
  return 0;
}

int mproc__plat_shm_unlink(const char *name) {
  char path[256];
  if (snprintf(path, sizeof path, "/%s", name) >= (int)sizeof path)
    return mproc__err(MPROC_EINVAL, "shared memory name too long");
  if (shm_unlink(path) != 0)
    return mproc__err_os(shm_code(errno), errno, "shm_unlink(%s)", path);
  return 0;
}

int mproc__plat_shm_map(mproc__handle h, size_t size, void **addr) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)h, 0);
  if (p == MAP_FAILED)
    return mproc__err_os(shm_code(errno), errno, "mmap(%zu bytes)", size);
  *addr = p;
  return 0;
}

int mproc__plat_shm_unmap(void *addr, size_t size) {
  if (munmap(addr, size) != 0)
    return mproc__err_os(MPROC_EOS, errno, "munmap");
  return 0;
}
