/*
 * mproc_s002_manager - seed 002: a Manager dict and list (from range(5))
 * changed by 10 processes (Python's docs example, ten times over).
 *
 *   def f(d, l, i):
 *       d['Process_%d' % i] = '1'; d['2'] = 2; d[0.25] = None; l.append(i)
 *   with Manager() as manager:
 *       d = manager.dict(); l = manager.list(range(5))
 *       ... ten Process(target=f, args=(d, l, i)) ...
 *       print(d); print(l)
 */
#include <string.h>

#include "example.h"

static int f(mproc_value *args) {
  mproc_proxy *d = NULL, *l = NULL;
  int64_t i = 0;
  char key[32];
  mproc_value_get_proxy(mproc_list_get(args, 0), &d);
  mproc_value_get_proxy(mproc_list_get(args, 1), &l);
  mproc_value_get_int(mproc_list_get(args, 2), &i);
  snprintf(key, sizeof key, "Process_%d", (int)i);
  CHECK(mproc_proxy_call(d, "__setitem__", mproc_build("[ss]", key, "1"),
                         NULL));
  CHECK(mproc_proxy_call(d, "__setitem__", mproc_build("[si]", "2", 2), NULL));
  CHECK(mproc_proxy_call(d, "__setitem__", mproc_build("[fn]", 0.25), NULL));
  CHECK(mproc_proxy_call(l, "append", mproc_build("[L]", i), NULL));
  return 0;
}

int main(int argc, char **argv) {
  mproc_manager *m = NULL;
  mproc_proxy *d = NULL, *l = NULL;
  mproc_process *p[10];
  mproc_value *keys = NULL;
  char *s = NULL;
  size_t n = 0;
  int i;
  CHECK(mproc_init(argc, argv));
  CHECK(mproc_manager_start(&m, NULL));
  CHECK(mproc_manager_dict(m, NULL, &d));
  CHECK(mproc_manager_list(m, mproc_build("[iiiii]", 0, 1, 2, 3, 4), &l));
  for (i = 0; i < 10; i++) {
    CHECK(mproc_process_new(&p[i], f,
                            mproc_build("[OOi]", mproc_proxy_ref(d),
                                        mproc_proxy_ref(l), i),
                            NULL));
    CHECK(mproc_process_start(p[i]));
  }
  for (i = 0; i < 10; i++) {
    CHECK(mproc_process_join(p[i], MPROC_FOREVER));
    mproc_process_free(p[i]);
  }
  CHECK(mproc_proxy_str(d, &s)); /* insertion order varies from run to run */
  printf("%s\n", s);
  mproc_free(s);
  CHECK(mproc_proxy_call(d, "keys", NULL, &keys));
  printf("dict has %lu keys\n", (unsigned long)mproc_list_len(keys));
  mproc_value_free(keys);
  CHECK(mproc_proxy_len(l, &n));
  CHECK(mproc_proxy_call(l, "sort", NULL, NULL));
  CHECK(mproc_proxy_str(l, &s));
  printf("list of %lu numbers: %s\n", (unsigned long)n, s);
  mproc_free(s);
  mproc_proxy_free(d);
  mproc_proxy_free(l);
  mproc_manager_free(m);
  return 0;
}
