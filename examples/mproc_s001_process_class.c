/*
 * mproc_s001_process_class - seed 001, "1.2 类调用": the same three
 * processes, written as a class.
 *
 *   class MyProcess(Process):
 *       def run(self):
 *           time.sleep(1)
 *           print('hello', self.name, time.ctime())
 *
 * What it teaches: C's version of a Process subclass is a struct of your
 * own plus a run function.  mproc_process_new_struct copies the struct's
 * bytes to the child, where run receives them as self.  Each process gets a
 * default name, Process-1, Process-2, ... (self.name in Python).
 * (The seed sleeps 1 s; this twin 0.3 s.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example.h"

/* The "class": its fields travel to the child as plain bytes, so keep
 * them plain data (no pointers into the parent's memory). */
typedef struct my_process {
  double delay; /* seconds to sleep before saying hello */
} my_process;

/* MyProcess.run(self); args is the (here empty) argument list. */
static int my_process_run(void *self, mproc_value *args) {
  my_process *me = self;
  time_t now;
  (void)args;
  mproc_sleep(me->delay);
  now = time(NULL);
  printf("hello %s %.24s\n", mproc_process_name(mproc_current_process()),
         ctime(&now));
  return 0;
}

int main(int argc, char **argv) {
  my_process proto = {0.3};
  mproc_process *p_list[3];
  int i;

  CHECK(mproc_init(argc, argv));
  for (i = 0; i < 3; i++) {
    /* p = MyProcess(); p.start() */
    CHECK(mproc_process_new_struct(&p_list[i], my_process_run, &proto,
                                   sizeof proto, NULL, NULL));
    CHECK(mproc_process_start(p_list[i]));
  }
  for (i = 0; i < 3; i++) {
    CHECK(mproc_process_join(p_list[i], MPROC_FOREVER));
    mproc_process_free(p_list[i]);
  }
  printf("end\n");
  return 0;
}
