/*
 * shm.c - SharedMemory: a block that any process can attach to by name,
 * with Python's bytes layout (no header).
 *
 * Names are [A-Za-z0-9_.-], at most 200 bytes (a leading '/' is
 * accepted and dropped, as POSIX spells them).  The creator registers the
 * name with the resource tracker (tracker.c) *before* creating it, so no
 * moment exists in which a killed creator leaves an untracked name; an
 * attacher does not register (it does not own the name: CPython's
 * bpo-39959).  unlink unregisters.  At spawn the block travels as its
 * handle (it keeps working in the child even after an unlink), with its
 * name and size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_int.h"

#define NAME_MAX_LEN 200

struct mproc_shm {
  mproc__sobj o; /* blk unused (NULL) */
  char name[NAME_MAX_LEN + 1];
  mproc__handle h;
  void *buf;
  size_t size;
};

extern const mproc__objtype mproc__shm_type;

static int check_name(const char *name, const char **out) {
  const char *p;
  if (*name == '/')
    name++;
  if (!*name || strlen(name) > NAME_MAX_LEN)
    return mproc__err(MPROC_EINVAL, "mproc_shm_new: a name is 1 to %d "
                                    "characters",
                      NAME_MAX_LEN);
  for (p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
      return mproc__err(MPROC_EINVAL, "mproc_shm_new: '%c' in a name (use "
                                      "A-Z a-z 0-9 _ . -)",
                        *p);
  *out = name;
  return 0;
}

/* Create name (registered first); MPROC_EEXIST if it is taken. */
static int create(mproc_shm *m, const char *name, size_t size) {
  int rc = mproc__tracker_register(name);
  if (rc)
    return rc;
  rc = mproc__plat_shm_named(name, 1, &size, &m->h);
  if (rc) {
    int keep = mproc_last_oserror();
    char detail[sizeof ((mproc__errrec *)0)->detail];
    snprintf(detail, sizeof detail, "%s", mproc_last_error());
    mproc__tracker_unregister(name);
    mproc__err_os(rc, keep, "%s", detail); /* the first failure's words */
    return rc;
  }
  m->size = size;
  return 0;
}

int mproc_shm_new(mproc_shm **out, const char *name, int create_it,
                  size_t size) {
  mproc_shm *m;
  int rc, tries;
  if (!out)
    return mproc__err(MPROC_EINVAL, "mproc_shm_new: NULL output");
  *out = NULL;
  if (!name && !create_it)
    return mproc__err(MPROC_EINVAL, "mproc_shm_new: attaching needs a name");
  if (create_it && size == 0)
    return mproc__err(MPROC_EINVAL, "mproc_shm_new: size must be a positive "
                                    "number different from zero");
  if (name && (rc = check_name(name, &name)) != 0)
    return rc;
  if ((rc = mproc__ensure_runtime()) != 0)
    return rc;
  m = calloc(1, sizeof *m);
  if (!m)
    return mproc__err(MPROC_ENOMEM, "SharedMemory");
  mproc__sobj_init(&m->o, &mproc__shm_type, NULL);
  m->h = MPROC__NOHANDLE;
  if (name) {
    strcpy(m->name, name);
    rc = create_it ? create(m, name, size)
                   : mproc__plat_shm_named(name, 0, &m->size, &m->h);
  } else {
    /* A random name, as Python's psm_<hex>; another try if taken. */
    rc = MPROC_EEXIST;
    for (tries = 0; rc == MPROC_EEXIST && tries < 8; tries++) {
      unsigned char r[8];
      int i;
      if ((rc = mproc__plat_random(r, sizeof r)) != 0)
        break;
      strcpy(m->name, "mproc_");
      for (i = 0; i < 8; i++)
        sprintf(m->name + 6 + 2 * i, "%02x", r[i]);
      rc = create(m, m->name, size);
    }
  }
  if (rc == 0)
    rc = mproc__plat_shm_map(m->h, m->size, &m->buf);
  if (rc) {
    if (m->h != MPROC__NOHANDLE) {
      if (create_it) {
        mproc__plat_shm_unlink(m->name);
        mproc__tracker_unregister(m->name);
      }
      mproc__plat_close(m->h);
    }
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

void *mproc_shm_buf(mproc_shm *m) { return m ? m->buf : NULL; }
size_t mproc_shm_size(const mproc_shm *m) { return m ? m->size : 0; }
const char *mproc_shm_name(const mproc_shm *m) { return m ? m->name : NULL; }

int mproc_shm_close(mproc_shm *m) {
  int rc = 0;
  if (!m)
    return mproc__err(MPROC_EINVAL, "mproc_shm_close: NULL SharedMemory");
  if (m->buf) {
    rc = mproc__plat_shm_unmap(m->buf, m->size);
    m->buf = NULL;
  }
  if (m->h != MPROC__NOHANDLE) {
    mproc__plat_close(m->h);
    m->h = MPROC__NOHANDLE;
  }
  return rc;
}

int mproc_shm_unlink(mproc_shm *m) {
  int rc;
  if (!m)
    return mproc__err(MPROC_EINVAL, "mproc_shm_unlink: NULL SharedMemory");
  rc = mproc__plat_shm_unlink(m->name);
  if (rc == 0)
    mproc__tracker_unregister(m->name);
  return rc;
}

/* The block is the mapping itself (o.blk is NULL): close unmaps it. */
MPROC__SOBJ_REFS(shm, mproc_shm_close)

int mproc_value_get_shm(const mproc_value *v, mproc_shm **out) {
  static const mproc__objtype *const types[] = {&mproc__shm_type};
  return mproc__sobj_get(v, types, 1, "mproc_value_get_shm", (void **)out);
}

/* At spawn: [handle, name, size]. */
static int shm_export_obj(void *obj, mproc__spawn *sp, mproc_value **plain) {
  mproc_shm *m = obj;
  int idx;
  if (m->h == MPROC__NOHANDLE)
    return mproc__err(MPROC_ECLOSED, "a closed SharedMemory cannot be "
                                     "passed to a process");
  idx = mproc__spawn_add_handle(sp, m->h);
  if (idx < 0)
    return idx;
  *plain = mproc_build("[isL]", idx, m->name, (int64_t)m->size);
  return *plain ? 0 : MPROC_ENOMEM;
}

static int shm_import_obj(mproc__spawn *sp, const mproc_value *plain,
                          void **obj) {
  const char *name;
  int64_t idx, size;
  mproc_shm *m;
  int rc;
  if (mproc_list_len(plain) != 3 ||
      mproc_value_get_int(mproc_list_get(plain, 0), &idx) != 0 ||
      mproc_value_get_str(mproc_list_get(plain, 1), &name, NULL) != 0 ||
      mproc_value_get_int(mproc_list_get(plain, 2), &size) != 0 ||
      size <= 0 || (uint64_t)size > SIZE_MAX / 2 ||
      check_name(name, &name) != 0)
    return mproc__err(MPROC_EBADMSG, "malformed SharedMemory in bootstrap");
  m = calloc(1, sizeof *m);
  if (!m)
    return mproc__err(MPROC_ENOMEM, "SharedMemory");
  mproc__sobj_init(&m->o, &mproc__shm_type, NULL);
  strcpy(m->name, name);
  m->size = (size_t)size;
  rc = mproc__spawn_get_handle(sp, idx, &m->h);
  if (rc == 0)
    rc = mproc__plat_shm_map(m->h, m->size, &m->buf);
  if (rc) {
    free(m);
    return rc;
  }
  *obj = m;
  return 0;
}

static void shm_release_obj(void *obj) { mproc_shm_free(obj); }

const mproc__objtype mproc__shm_type = {"SharedMemory", shm_release_obj,
                                        shm_export_obj, shm_import_obj};
