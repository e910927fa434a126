/*
 * mproc_s001_process - seed 001, "1.1 函数式调用": three processes running
 * one function.
 *
 *   for i in range(3):
 *       p = Process(target=f, args=('alvin',)); p_list.append(p); p.start()
 *   for p in p_list: p.join()
 *   print('end')
 *
 * What it teaches: start several processes first, join them afterwards, so
 * they run at the same time: the three lines come out together, after one
 * sleep, not one sleep apart.  (The seed sleeps 1 s; this twin 0.3 s.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example.h"

/* time.sleep(1); print('hello', name, time.ctime()) */
static int f(mproc_value *args) {
  time_t now;
  mproc_sleep(0.3);
  now = time(NULL);
  printf("hello %s %.24s\n", mproc_value_str(mproc_list_get(args, 0)),
         ctime(&now)); /* ctime() ends in '\n': %.24s leaves it out */
  return 0;
}

int main(int argc, char **argv) {
  mproc_process *p_list[3];
  int i;

  CHECK(mproc_init(argc, argv));
  for (i = 0; i < 3; i++) {
    CHECK(mproc_process_new(&p_list[i], f, mproc_build("[s]", "alvin"),
                            NULL));
    CHECK(mproc_process_start(p_list[i]));
  }
  for (i = 0; i < 3; i++) {
    CHECK(mproc_process_join(p_list[i], MPROC_FOREVER));
    mproc_process_free(p_list[i]);
  }
  printf("end\n");
  return 0;
}
