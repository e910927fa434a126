/*
 * mproc_s003_process_class - seed 003, "例1.3：将进程定义为类": a clock
 * process with an interval field.
 *
 *   class ClockProcess(multiprocessing.Process):
 *       def __init__(self, interval):
 *           multiprocessing.Process.__init__(self)
 *           self.interval = interval
 *       def run(self):
 *           n = 3
 *           while n > 0:
 *               print("the time is {0}".format(time.ctime()))
 *               time.sleep(self.interval)
 *               n -= 1
 *   p = ClockProcess(2)
 *   p.start()
 *
 * What it teaches: the C form of a Process subclass is a struct (its
 * fields, set like __init__ would) and a run function; start() calls run
 * in the child with a copy of the struct as self.  Like Python, mproc
 * waits for the process when main() returns.
 * (The seed's interval is 2 s; this twin's 0.3 s.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example.h"

typedef struct clock_process {
  double interval;
} clock_process;

/* ClockProcess.run(self) */
static int clock_process_run(void *self, mproc_value *args) {
  clock_process *clock = self;
  int n = 3;
  (void)args; /* no arguments: everything is in the struct */
  while (n > 0) {
    time_t now = time(NULL);
    printf("the time is %.24s\n", ctime(&now));
    fflush(stdout); /* each line as it happens, not all at exit */
    mproc_sleep(clock->interval);
    n--;
  }
  return 0;
}

int main(int argc, char **argv) {
  clock_process clock = {0.3}; /* ClockProcess(2) */
  mproc_process *p;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_process_new_struct(&p, clock_process_run, &clock, sizeof clock,
                                 NULL, NULL));
  CHECK(mproc_process_start(p));
  mproc_process_free(p); /* still running: mproc joins it at exit */
  return 0;
}
