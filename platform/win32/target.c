/*
 * win32/target.c - a function pointer as (module, offset), and back.
 *
 * Map: nt_headers / exec_rva (read a loaded image's PE headers: its
 * SizeOfImage and its IMAGE_SCN_MEM_EXECUTE sections), addr_to_ref
 * (GetModuleHandleExW(FROM_ADDRESS) -> base and path), ref_to_addr
 * (GetModuleHandleW of an image that is already loaded - no DLL is ever
 * loaded here).
 *
 * A module is named by its full UTF-8 path, except the main executable,
 * which is "" as on POSIX: the child is the same binary, so the same name
 * + offset is the same function there.  Both directions insist that the
 * address falls in an executable section of the image.
 */
#include "w32_int.h"

#include <stdlib.h>
#include <string.h>

static const IMAGE_NT_HEADERS *nt_headers(HMODULE m) {
  const unsigned char *base = (const unsigned char *)m;
  const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)m;
  const IMAGE_NT_HEADERS *nt;
  if (dos->e_magic != IMAGE_DOS_SIGNATURE || dos->e_lfanew <= 0)
    return NULL;
  nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
  if (nt->Signature != IMAGE_NT_SIGNATURE ||
      nt->OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR_MAGIC)
    return NULL;
  return nt;
}

/* 1 if rva is inside the image and inside one of its executable sections. */
static int exec_rva(const IMAGE_NT_HEADERS *nt, uint64_t rva) {
  const IMAGE_SECTION_HEADER *s = IMAGE_FIRST_SECTION(nt);
  WORD i;
  if (rva >= nt->OptionalHeader.SizeOfImage)
    return 0;
  for (i = 0; i < nt->FileHeader.NumberOfSections; i++, s++) {
    uint64_t size = s->Misc.VirtualSize ? s->Misc.VirtualSize
                                        : s->SizeOfRawData;
    if ((s->Characteristics & IMAGE_SCN_MEM_EXECUTE) &&
        rva >= s->VirtualAddress && rva < (uint64_t)s->VirtualAddress + size)
      return 1;
  }
  return 0;
}

int mproc__plat_addr_to_ref(const void *addr, char *module, size_t cap,
                            uint64_t *offset) {
  HMODULE m = NULL;
  const IMAGE_NT_HEADERS *nt;
  uint64_t off;

  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                              GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          (LPCWSTR)addr, &m) ||
      !m)
    return mproc__err(MPROC_ETARGET, "address %p is in no loaded image",
                      addr);
  nt = nt_headers(m);
  off = (uint64_t)((uintptr_t)addr - (uintptr_t)m);
  if (!nt || !exec_rva(nt, off))
    return mproc__err(MPROC_ETARGET,
                      "address %p is not code in any loaded image", addr);
  if (m == GetModuleHandleW(NULL)) {
    if (cap < 1)
      return mproc__err(MPROC_ETARGET, "module name: no room");
    module[0] = '\0';
  } else {
    /* A long path can reach 32767 UTF-16 units: not on the stack. */
    const DWORD wcap = 32768;
    wchar_t *path = malloc(wcap * sizeof *path);
    DWORD len;
    int rc;
    if (!path)
      return mproc__err(MPROC_ENOMEM, "module path");
    len = GetModuleFileNameW(m, path, wcap);
    if (len == 0 || len >= wcap) {
      DWORD e = GetLastError();
      free(path);
      return mproc__w32_fail(MPROC_ETARGET, e,
                             "GetModuleFileNameW (image of %p)", addr);
    }
    rc = mproc__w32_utf8(path, module, cap);
    free(path);
    if (rc != 0)
      return mproc__err(MPROC_ETARGET,
                        "module path of %p longer than %lu bytes", addr,
                        (unsigned long)cap);
  }
  *offset = off;
  return 0;
}

int mproc__plat_ref_to_addr(const char *module, uint64_t offset,
                            void **addr) {
  HMODULE m;
  const IMAGE_NT_HEADERS *nt;
  const char *shown = module[0] ? module : "<main executable>";

  if (module[0] == '\0') {
    m = GetModuleHandleW(NULL);
  } else {
    wchar_t *w;
    int rc = mproc__w32_wide(module, &w);
    if (rc)
      return mproc__err(MPROC_ETARGET, "module name is not UTF-8");
    m = GetModuleHandleW(w);
    free(w);
  }
  if (!m)
    return mproc__err(MPROC_ETARGET, "module '%s' is not loaded in the child",
                      shown);
  nt = nt_headers(m);
  if (!nt || !exec_rva(nt, offset))
    return mproc__err(MPROC_ETARGET, "offset %llu is not code in module '%s'",
                      (unsigned long long)offset, shown);
  *addr = (void *)((uintptr_t)m + (uintptr_t)offset);
  return 0;
}

void *mproc__plat_dlopen(const char *name) {
  return (void *)LoadLibraryA(name);
}

void *mproc__plat_dlsym(void *lib, const char *name) {
  FARPROC f = GetProcAddress((HMODULE)lib, name);
  void *p;
  memcpy(&p, &f, sizeof p);
  return p;
}
