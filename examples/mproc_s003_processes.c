/*
 * mproc_s003_processes - seed 003, "例1.2：创建函数并将其作为多个进程": two
 * processes, cpu_count() and active_children().
 *
 *   p1 = multiprocessing.Process(target = worker_1, args = (2,))
 *   p2 = multiprocessing.Process(target = worker_2, args = (3,))
 *   p1.start(); p2.start()
 *   print("The number of CPU is:" + str(multiprocessing.cpu_count()))
 *   for p in multiprocessing.active_children():
 *       print("child   p.name:" + p.name + "\tp.id" + str(p.pid))
 *   print "END!!!!!!!!!!!!!!!!!"
 *
 * What it teaches: active_children() lists the children still running;
 * the main program can finish its own work (END!!!) while they run, and
 * mproc, like Python, waits for them when main() returns.
 * Like the seed it sleeps 2 s and 3 s: both children must still run when
 * active_children() is called, also when a loaded machine (or wine) takes
 * a while to start the second one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

static double arg_float(mproc_value *args, size_t i) {
  double d = 0;
  mproc_value_get_float(mproc_list_get(args, i), &d);
  return d;
}

static int worker_1(mproc_value *args) {
  printf("worker_1\n");
  fflush(stdout);
  mproc_sleep(arg_float(args, 0));
  printf("end worker_1\n");
  return 0;
}

static int worker_2(mproc_value *args) {
  printf("worker_2\n");
  fflush(stdout);
  mproc_sleep(arg_float(args, 0));
  printf("end worker_2\n");
  return 0;
}

int main(int argc, char **argv) {
  mproc_process *p1, *p2, *children[8];
  int i, n;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_process_new(&p1, worker_1, mproc_build("[f]", 2.0), NULL));
  CHECK(mproc_process_new(&p2, worker_2, mproc_build("[f]", 3.0), NULL));
  CHECK(mproc_process_start(p1));
  CHECK(mproc_process_start(p2));

  printf("The number of CPU is:%d\n", mproc_cpu_count());
  n = mproc_active_children(children, 8);
  CHECK(n);
  for (i = 0; i < n && i < 8; i++)
    printf("child   p.name:%s\tp.id%ld\n", mproc_process_name(children[i]),
           mproc_process_pid(children[i]));
  printf("END!!!!!!!!!!!!!!!!!\n");
  fflush(stdout); /* the children are printing too */
  mproc_process_free(p1); /* still running: mproc joins them at exit */
  mproc_process_free(p2);
  return 0;
}
