/*
 * mproc_s003_event - seed 003, "4. Event 进程间同步": one process waits
 * for an Event, another waits with a timeout.
 *
 *   def wait_for_event(e):
 *       print("wait_for_event: starting")
 *       e.wait()
 *       print("wairt_for_event: e.is_set()->" + str(e.is_set()))
 *
 *   def wait_for_event_timeout(e, t):
 *       print("wait_for_event_timeout:starting")
 *       e.wait(t)
 *       print("wait_for_event_timeout:e.is_set->" + str(e.is_set()))
 *
 *   e = multiprocessing.Event()
 *   w1 = multiprocessing.Process(name = "block",
 *           target = wait_for_event, args = (e,))
 *   w2 = multiprocessing.Process(name = "non-block",
 *           target = wait_for_event_timeout, args = (e, 2))
 *   w1.start(); w2.start()
 *   time.sleep(3)
 *   e.set()
 *   print("main: event is set")
 *
 * What it teaches: wait() blocks until another process sets the Event;
 * wait(t) gives up after t seconds, and is_set() then tells which
 * happened: "non-block" stops waiting before main sets the Event (False),
 * "block" waits until it does (True).  The printed lines are the seed's,
 * typo ("wairt") included; whether main's last line or "block"'s comes
 * first varies.  (The seed's timeout is 2 s and main sleeps 3 s; this twin
 * 0.5 s and 1.5 s.)  Like the seed, main() does not join: mproc waits for
 * the processes when main() returns.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* The Event a process received as its first argument. */
static mproc_event *arg_event(mproc_value *args) {
  mproc_event *e = NULL;
  CHECK(mproc_value_get_event(mproc_list_get(args, 0), &e));
  return e;
}

static const char *py_bool(int b) { return b ? "True" : "False"; }

/* args is [e] */
static int wait_for_event(mproc_value *args) {
  mproc_event *e = arg_event(args);
  printf("wait_for_event: starting\n");
  fflush(stdout); /* each line as it happens */
  CHECK(mproc_event_wait(e, MPROC_FOREVER));
  printf("wairt_for_event: e.is_set()->%s\n", py_bool(mproc_event_is_set(e)));
  return 0;
}

/* args is [e, t] */
static int wait_for_event_timeout(mproc_value *args) {
  mproc_event *e = arg_event(args);
  double t = 0;
  int rc;
  CHECK(mproc_value_get_float(mproc_list_get(args, 1), &t));
  printf("wait_for_event_timeout:starting\n");
  fflush(stdout);
  rc = mproc_event_wait(e, t); /* 0 if set, MPROC_ETIMEDOUT after t */
  if (rc != MPROC_ETIMEDOUT)
    CHECK(rc);
  printf("wait_for_event_timeout:e.is_set->%s\n",
         py_bool(mproc_event_is_set(e)));
  return 0;
}

int main(int argc, char **argv) {
  mproc_process_opts block = MPROC_PROCESS_OPTS_INIT;
  mproc_process_opts non_block = MPROC_PROCESS_OPTS_INIT;
  mproc_event *e;
  mproc_process *w1, *w2;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_event_new(&e));
  block.name = "block";
  non_block.name = "non-block";
  CHECK(mproc_process_new(&w1, wait_for_event,
                          mproc_build("[O]", mproc_event_ref(e)), &block));
  CHECK(mproc_process_new(&w2, wait_for_event_timeout,
                          mproc_build("[Of]", mproc_event_ref(e), 0.5),
                          &non_block));
  CHECK(mproc_process_start(w1));
  CHECK(mproc_process_start(w2));
  mproc_sleep(1.5);
  CHECK(mproc_event_set(e));
  printf("main: event is set\n");
  fflush(stdout); /* now, not when main() returns */

  mproc_process_free(w1); /* still running: mproc joins them at exit */
  mproc_process_free(w2);
  mproc_event_free(e);
  return 0;
}
