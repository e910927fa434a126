/*
 * mproc_s000_process - seed 000, "multiprocessing中使用子进程概念":
 * one child process, start() and join().
 *
 *   p = Process(target=run_proc, args=('test',))
 *   p.start(); p.join()
 *
 * What it teaches: a target is a plain function taking its arguments as a
 * list; start() runs it in a new process (this same program, re-executed:
 * that is why main() calls mproc_init first); join() waits for it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* The code the child runs: args is ['test']. */
static int run_proc(mproc_value *args) {
  const char *name = mproc_value_str(mproc_list_get(args, 0));
  printf("Run child process %s (%ld)...\n", name,
         mproc_process_pid(mproc_current_process()));
  return 0; /* the exit code; the child flushes stdout as it exits */
}

int main(int argc, char **argv) {
  mproc_process *p;

  CHECK(mproc_init(argc, argv)); /* in the child: runs run_proc, exits */
  printf("Parent process %ld.\n", mproc_process_pid(mproc_current_process()));
  CHECK(mproc_process_new(&p, run_proc, mproc_build("[s]", "test"), NULL));
  printf("Process will start.\n");
  fflush(stdout); /* the child writes to the same stdout: ours goes first */
  CHECK(mproc_process_start(p));
  CHECK(mproc_process_join(p, MPROC_FOREVER));
  printf("Process end.\n");
  mproc_process_free(p);
  return 0;
}
