/*
 * mproc_s003_daemon - seed 003, "例1.4：daemon程序对比结果": a daemon
 * process, joined.
 *
 *   p = multiprocessing.Process(target = worker, args = (3,))
 *   p.daemon = True
 *   p.start()
 *   p.join()
 *   print "end!"
 *
 * What it teaches: daemon must be set before start().  A daemon process
 * is ended when the main program ends -- unless the main program waits for
 * it, as here with join(): then it runs to the end and "end!" comes last.
 * (Without the join, main() would return at once and the daemon would be
 * terminated before "work end".)  (The seed sleeps 3 s; this twin 0.3 s.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example.h"

static int worker(mproc_value *args) {
  double interval = 0;
  time_t now = time(NULL);
  mproc_value_get_float(mproc_list_get(args, 0), &interval);
  printf("work start:%.24s\n", ctime(&now));
  fflush(stdout);
  mproc_sleep(interval);
  now = time(NULL);
  printf("work end:%.24s\n", ctime(&now));
  return 0;
}

int main(int argc, char **argv) {
  mproc_process_opts opts = MPROC_PROCESS_OPTS_INIT;
  mproc_process *p;

  CHECK(mproc_init(argc, argv));
  opts.daemon = 1; /* p.daemon = True (or mproc_process_set_daemon) */
  CHECK(mproc_process_new(&p, worker, mproc_build("[f]", 0.3), &opts));
  CHECK(mproc_process_start(p));
  CHECK(mproc_process_join(p, MPROC_FOREVER));
  printf("end!\n");
  mproc_process_free(p);
  return 0;
}
