/*
 * mproc_s003_process - seed 003, "例1.1：创建函数并将其作为单个进程": the
 * pid, name and is_alive of a started process.
 *
 *   p = multiprocessing.Process(target = worker, args = (2,))
 *   p.start()
 *   print "p.pid:", p.pid
 *   print "p.name:", p.name
 *   print "p.is_alive:", p.is_alive()
 *
 * What it teaches: once started, a process has an OS pid, a default name
 * (Process-1 for the first) and is alive while its target runs.  The main
 * program does not join it: like Python, mproc waits for non-daemon
 * children when main() returns.  (The seed sleeps 2 s; this twin 0.3 s.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example.h"

static int worker(mproc_value *args) {
  double interval = 0;
  int n = 3;
  mproc_value_get_float(mproc_list_get(args, 0), &interval);
  while (n > 0) {
    time_t now = time(NULL);
    printf("The time is %.24s\n", ctime(&now));
    fflush(stdout); /* each line as it happens, not all at exit */
    mproc_sleep(interval);
    n--;
  }
  return 0;
}

int main(int argc, char **argv) {
  mproc_process *p;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_process_new(&p, worker, mproc_build("[f]", 0.3), NULL));
  CHECK(mproc_process_start(p));
  printf("p.pid: %ld\n", mproc_process_pid(p));
  printf("p.name: %s\n", mproc_process_name(p));
  printf("p.is_alive: %s\n", mproc_process_is_alive(p) == 1 ? "True" : "False");
  fflush(stdout); /* the child is printing too */
  mproc_process_free(p); /* still running: mproc joins it at exit */
  return 0;
}
