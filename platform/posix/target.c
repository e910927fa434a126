/*
 * posix/target.c - a function pointer as (module, offset), and back.
 *
 * dl_iterate_phdr walks the loaded images in both processes; an image is
 * named by its dlpi_name ("" for the main executable), and an address must
 * fall in one of its executable PT_LOAD segments.  The child is the same
 * binary (spawned from /proc/self/exe), so the same name + offset is the
 * same function there.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "mproc_int.h"

typedef struct find {
  uintptr_t addr;      /* in: the address to find (0: look up by name) */
  const char *name;    /* in (by name) / out */
  uintptr_t base;      /* out */
  int found;
  int in_text;         /* by name: does base + offset hit a PF_X segment */
  uint64_t offset;
} find;

static int in_exec_segment(const struct dl_phdr_info *info, uintptr_t a) {
  int i;
  for (i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && a >= start &&
        a < start + ph->p_memsz)
      return 1;
  }
  return 0;
}

static int by_addr(struct dl_phdr_info *info, size_t size, void *data) {
  find *f = data;
  (void)size;
  if (in_exec_segment(info, f->addr)) {
    f->found = 1;
    f->name = info->dlpi_name ? info->dlpi_name : "";
    f->base = info->dlpi_addr;
    return 1;
  }
  return 0;
}

static int by_name(struct dl_phdr_info *info, size_t size, void *data) {
  find *f = data;
  const char *nm = info->dlpi_name ? info->dlpi_name : "";
  (void)size;
  if (strcmp(nm, f->name) != 0)
    return 0;
  f->found = 1;
  f->base = info->dlpi_addr;
  f->in_text = in_exec_segment(info, info->dlpi_addr + (uintptr_t)f->offset);
  return 1;
}

int mproc__plat_addr_to_ref(const void *addr, char *module, size_t cap,
                            uint64_t *offset) {
  find f;
  memset(&f, 0, sizeof f);
  f.addr = (uintptr_t)addr;
  dl_iterate_phdr(by_addr, &f);
  if (!f.found)
    return mproc__err(MPROC_ETARGET,
                      "address %p is not code in any loaded image", addr);
  if (strlen(f.name) >= cap)
    return mproc__err(MPROC_ETARGET, "module path too long: %s", f.name);
  strcpy(module, f.name);
  *offset = (uint64_t)(f.addr - f.base);
  return 0;
}

int mproc__plat_ref_to_addr(const char *module, uint64_t offset,
                            void **addr) {
  find f;
  memset(&f, 0, sizeof f);
  f.name = module;
  f.offset = offset;
  dl_iterate_phdr(by_name, &f);
  if (!f.found)
    return mproc__err(MPROC_ETARGET, "module '%s' is not loaded in the child",
                      module[0] ? module : "<main executable>");
  if (!f.in_text)
    return mproc__err(MPROC_ETARGET,
                      "offset %llu is not code in module '%s'",
                      (unsigned long long)offset,
                      module[0] ? module : "<main executable>");
  *addr = (void *)(f.base + (uintptr_t)offset);
  return 0;
}

void *mproc__plat_dlopen(const char *name) {
  return dlopen(name, RTLD_NOW | RTLD_GLOBAL);
}

void *mproc__plat_dlsym(void *lib, const char *name) {
  return dlsym(lib, name);
}
