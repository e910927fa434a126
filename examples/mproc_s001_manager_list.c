/*
 * mproc_s001_manager_list - seed 001: two processes append to one Manager
 * list while the parent looks on (Python's manager.list()).
 *
 *   def add(l, start, n):
 *       for i in range(start, start + n): l.append(i)
 *   with Manager() as m:
 *       l = m.list()
 *       p1 = Process(target=add, args=(l, 100, 5)); p2 = ... (l, 300, 9)
 *       ...; print(sorted(l))
 */
#include "example.h"

static int add(mproc_value *args) {
  mproc_proxy *l = NULL;
  int64_t start = 0, n = 0, i;
  mproc_value_get_proxy(mproc_list_get(args, 0), &l);
  mproc_value_get_int(mproc_list_get(args, 1), &start);
  mproc_value_get_int(mproc_list_get(args, 2), &n);
  for (i = start; i < start + n; i++)
    CHECK(mproc_proxy_call(l, "append", mproc_build("[L]", i), NULL));
  return 0;
}

int main(int argc, char **argv) {
  mproc_manager *m = NULL;
  mproc_proxy *l = NULL;
  mproc_process *p1 = NULL, *p2 = NULL;
  char *s = NULL;
  size_t n = 0;
  CHECK(mproc_init(argc, argv));
  CHECK(mproc_manager_start(&m, NULL));
  CHECK(mproc_manager_list(m, NULL, &l));
  CHECK(mproc_process_new(&p1, add,
                          mproc_build("[Oii]", mproc_proxy_ref(l), 100, 5),
                          NULL));
  CHECK(mproc_process_new(&p2, add,
                          mproc_build("[Oii]", mproc_proxy_ref(l), 300, 9),
                          NULL));
  CHECK(mproc_process_start(p1));
  CHECK(mproc_process_start(p2));
  CHECK(mproc_proxy_len(l, &n)); /* the parent looks while they append */
  printf("while running: %lu items\n", (unsigned long)n);
  CHECK(mproc_process_join(p1, MPROC_FOREVER));
  CHECK(mproc_process_join(p2, MPROC_FOREVER));
  CHECK(mproc_proxy_call(l, "sort", NULL, NULL));
  CHECK(mproc_proxy_str(l, &s));
  printf("final: %s\n", s);
  mproc_free(s);
  mproc_process_free(p1);
  mproc_process_free(p2);
  mproc_proxy_free(l);
  mproc_manager_free(m);
  return 0;
}
