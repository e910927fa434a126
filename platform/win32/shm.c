/*
 * win32/shm.c - blocks of shared memory, unnamed and named.
 *
 * Map: shm_anon (CreateFileMappingW on the paging file, no name),
 * shm_named (CreateFileMappingW / OpenFileMappingW on L"Local\\" name; an
 * opened block's size from VirtualQuery of a temporary view, as CPython's
 * SharedMemory does), shm_unlink (nothing to do), shm_map / shm_unmap
 * (MapViewOfFile / UnmapViewOfFile), page_size (GetSystemInfo);
 * shm_anon_growable and shm_commit for a block that grows in place (a
 * Queue's ring): a SEC_RESERVE section of the whole reserve, whose pages
 * each process commits in its own view (VirtualAlloc MEM_COMMIT, which is
 * idempotent and keeps what another process wrote) before it touches
 * them; shm_map commits a growable block's first page, where its header
 * is.  shm_discard does nothing (committed pages of a section cannot be
 * decommitted).
 *
 * A block backed by the paging file is zero-filled by the OS and lives
 * while any handle or view of it remains, in any process; its name dies
 * with it.  No handle made here is inheritable: spawn_self passes the
 * chosen ones.  Names share the session's namespace with every other kind
 * of named object; a name held by one of another kind makes
 * CreateFileMappingW / OpenFileMappingW fail with ERROR_INVALID_HANDLE,
 * reported as MPROC_EEXIST / MPROC_ENOENT (there is no such block).
 */
#include "w32_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_PREFIX "Local\\"
/* lib/ allows 200 bytes; the buffer holds the prefix and some more. */
#define NAME_CAP 256

/* L"Local\\" name, malloc'ed. */
static int wide_name(const char *name, wchar_t **out) {
  char full[NAME_CAP];
  size_t len = strlen(name);
  *out = NULL;
  if (len == 0 || len >= sizeof full - sizeof NAME_PREFIX)
    return mproc__err(MPROC_EINVAL, "shared memory name of %lu bytes",
                      (unsigned long)len);
  memcpy(full, NAME_PREFIX, sizeof NAME_PREFIX - 1);
  memcpy(full + sizeof NAME_PREFIX - 1, name, len + 1);
  return mproc__w32_wide(full, out);
}

/* A new block backed by the paging file; wname NULL: no name. */
static HANDLE create_mapping(size_t size, const wchar_t *wname) {
  uint64_t s = (uint64_t)size;
  return CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                            (DWORD)(s >> 32), (DWORD)(s & 0xFFFFFFFFu),
                            wname);
}

int mproc__plat_shm_anon(size_t size, mproc__handle *h) {
  HANDLE m;
  *h = MPROC__NOHANDLE;
  if (size == 0)
    return mproc__err(MPROC_EINVAL, "shared memory of size 0");
  m = create_mapping(size, NULL);
  if (!m)
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "CreateFileMappingW (%zu bytes)", size);
  *h = MPROC__W32_M(m);
  return 0;
}

int mproc__plat_shm_anon_growable(size_t size, size_t reserve,
                                   mproc__handle *h) {
  uint64_t s = (uint64_t)reserve;
  HANDLE m;
  *h = MPROC__NOHANDLE;
  if (size == 0 || reserve < size)
    return mproc__err(MPROC_EINVAL, "growable block of %zu of %zu bytes",
                      size, reserve);
  m = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL,
                         PAGE_READWRITE | SEC_RESERVE, (DWORD)(s >> 32),
                         (DWORD)(s & 0xFFFFFFFFu), NULL);
  if (!m)
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "CreateFileMappingW (SEC_RESERVE, %zu bytes)",
                           reserve);
  *h = MPROC__W32_M(m);
  return 0;
}

int mproc__plat_shm_commit(mproc__handle h, void *addr, size_t size) {
  DWORD e;
  (void)h;
  if (VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE))
    return 0;
  e = GetLastError();
  return mproc__w32_fail(e == ERROR_NOT_ENOUGH_MEMORY ||
                                 e == ERROR_COMMITMENT_LIMIT ||
                                 e == ERROR_OUTOFMEMORY
                             ? MPROC_ENOMEM
                             : MPROC_EOS,
                         e, "VirtualAlloc(MEM_COMMIT, %zu bytes)", size);
}

int mproc__plat_shm_discard(mproc__handle h, void *addr, size_t off,
                            size_t len) {
  /* A section's committed pages cannot be decommitted (VirtualFree
   * refuses a view): they stay, and are used again when the ring grows. */
  (void)h;
  (void)addr;
  (void)off;
  (void)len;
  return 0;
}

/* The size of the block behind m: its one view's region, page-rounded. */
static int mapping_size(HANDLE m, const char *name, size_t *size) {
  MEMORY_BASIC_INFORMATION mbi;
  void *view = MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0);
  SIZE_T got;
  if (!view)
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "MapViewOfFile(" NAME_PREFIX "%s)", name);
  got = VirtualQuery(view, &mbi, sizeof mbi);
  if (got == 0) {
    DWORD e = GetLastError();
    UnmapViewOfFile(view);
    return mproc__w32_fail(MPROC_EOS, e, "VirtualQuery(" NAME_PREFIX "%s)",
                           name);
  }
  UnmapViewOfFile(view);
  if (mbi.RegionSize == 0)
    return mproc__err(MPROC_EINVAL, "shared memory '%s' has size 0", name);
  *size = (size_t)mbi.RegionSize;
  return 0;
}

int mproc__plat_shm_named(const char *name, int create, size_t *size,
                          mproc__handle *h) {
  wchar_t *wname;
  HANDLE m;
  DWORD e;
  int rc;

  *h = MPROC__NOHANDLE;
  if (create && *size == 0)
    return mproc__err(MPROC_EINVAL, "shared memory of size 0");
  rc = wide_name(name, &wname);
  if (rc)
    return rc;

  if (create) {
    m = create_mapping(*size, wname);
    e = GetLastError();
    free(wname);
    if (m && e == ERROR_ALREADY_EXISTS) {
      /* An existing block was opened instead: not ours to use. */
      CloseHandle(m);
      return mproc__w32_fail(MPROC_EEXIST, e,
                             "CreateFileMappingW(" NAME_PREFIX "%s)", name);
    }
    if (!m && e == ERROR_INVALID_HANDLE)
      return mproc__err(MPROC_EEXIST,
                        "CreateFileMappingW(" NAME_PREFIX
                        "%s): the name is another kind of object",
                        name);
    if (!m)
      return mproc__w32_fail(MPROC_EOS, e,
                             "CreateFileMappingW(" NAME_PREFIX "%s)", name);
    *h = MPROC__W32_M(m);
    return 0;
  }

  m = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wname);
  e = GetLastError();
  free(wname);
  if (!m) {
    if (e == ERROR_FILE_NOT_FOUND)
      return mproc__w32_fail(MPROC_ENOENT, e,
                             "OpenFileMappingW(" NAME_PREFIX "%s)", name);
    if (e == ERROR_INVALID_HANDLE)
      return mproc__err(MPROC_ENOENT,
                        "OpenFileMappingW(" NAME_PREFIX
                        "%s): the name is another kind of object",
                        name);
    return mproc__w32_fail(MPROC_EOS, e, "OpenFileMappingW(" NAME_PREFIX "%s)",
                           name);
  }
  rc = mapping_size(m, name, size);
  if (rc) {
    CloseHandle(m);
    return rc;
  }
  *h = MPROC__W32_M(m);
  return 0;
}

int mproc__plat_shm_unlink(const char *name) {
  (void)name;
  return 0;
}

int mproc__plat_shm_map(mproc__handle h, size_t size, void **addr) {
  MEMORY_BASIC_INFORMATION mbi;
  void *p;
  *addr = NULL;
  if (size == 0)
    return mproc__err(MPROC_EINVAL, "mapping shared memory of size 0");
  /* NOHANDLE is (HANDLE)-1, which MapViewOfFile would not name. */
  if (h == MPROC__NOHANDLE)
    return mproc__err(MPROC_ECLOSED, "mapping shared memory: no handle");
  p = MapViewOfFile(MPROC__W32_H(h), FILE_MAP_ALL_ACCESS, 0, 0, size);
  if (!p)
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "MapViewOfFile (%zu bytes)", size);
  /* A growable block (SEC_RESERVE): its header page must be usable. */
  if (VirtualQuery(p, &mbi, sizeof mbi) != 0 && mbi.State == MEM_RESERVE &&
      !VirtualAlloc(p, mproc__plat_page_size(), MEM_COMMIT,
                    PAGE_READWRITE)) {
    DWORD e = GetLastError();
    UnmapViewOfFile(p);
    return mproc__w32_fail(MPROC_EOS, e, "VirtualAlloc(MEM_COMMIT)");
  }
  *addr = p;
  return 0;
}

int mproc__plat_shm_unmap(void *addr, size_t size) {
  (void)size;
  if (!UnmapViewOfFile(addr))
    return mproc__w32_fail(MPROC_EOS, GetLastError(), "UnmapViewOfFile");
  return 0;
}

size_t mproc__plat_page_size(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return (size_t)si.dwPageSize;
}
