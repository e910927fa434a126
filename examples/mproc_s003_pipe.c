/*
 * mproc_s003_pipe - seed 003, "6. Pipe": a sender process and a receiver
 * process on the two ends of one Pipe.
 *
 *   def proc1(pipe):
 *       while True:
 *           for i in xrange(5):
 *               print "send: %s" %(i)
 *               pipe.send(i)
 *               time.sleep(1)
 *   def proc2(pipe):
 *       while True:
 *           print "proc2 rev:", pipe.recv()
 *           time.sleep(1)
 *
 * What it teaches: send() and recv() carry values between two processes;
 * recv() blocks until a message comes, and reports end-of-file once every
 * copy of the other end is closed.
 * The seed never ends (both loops are `while True`, and main joins them).
 * This twin sends 0..4 once and closes its end; the receiver reads until
 * end-of-file.  For that, the parent closes its own copies of both ends
 * after starting the children -- otherwise the receiver would wait forever.
 * (The seed sleeps 1 s between messages; this twin 0.1 s.)
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

static int proc1(mproc_value *args) {
  mproc_conn *pipe = arg_conn(args, 0);
  int i, rc = 0;
  for (i = 0; i < 5 && rc == 0; i++) {
    mproc_value *v = mproc_int(i);
    printf("send: %d\n", i);
    fflush(stdout);
    rc = mproc_conn_send(pipe, v);
    mproc_value_free(v);
    mproc_sleep(0.1);
  }
  mproc_conn_close(pipe); /* the receiver's recv() now reports EOF */
  return rc < 0;
}

static int proc2(mproc_value *args) {
  mproc_conn *pipe = arg_conn(args, 0);
  mproc_value *v;
  int rc;
  while ((rc = mproc_conn_recv(pipe, &v)) == 0) {
    char *text = NULL;
    mproc_str_of(v, &text);
    printf("proc2 rev: %s\n", text);
    fflush(stdout);
    mproc_free(text);
    mproc_value_free(v);
    mproc_sleep(0.1);
  }
  return rc != MPROC_EEOF; /* EOF is the normal end */
}

int main(int argc, char **argv) {
  mproc_conn *pipe0, *pipe1;
  mproc_process *p1, *p2;
  int code1 = -1, code2 = -1;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_pipe(&pipe0, &pipe1, 1));
  CHECK(mproc_process_new(&p1, proc1, mproc_build("[C]", pipe0), NULL));
  CHECK(mproc_process_new(&p2, proc2, mproc_build("[C]", pipe1), NULL));
  CHECK(mproc_process_start(p1));
  CHECK(mproc_process_start(p2));
  /* The children have their copies now; close ours, or proc2 would never
   * see EOF: an end stays open while any process holds it. */
  mproc_conn_close(pipe0);
  mproc_conn_close(pipe1);

  CHECK(mproc_process_join(p1, MPROC_FOREVER));
  CHECK(mproc_process_join(p2, MPROC_FOREVER));
  mproc_process_exitcode(p1, &code1);
  mproc_process_exitcode(p2, &code2);
  mproc_process_free(p1);
  mproc_process_free(p2);
  mproc_conn_free(pipe0);
  mproc_conn_free(pipe1);
  return code1 == 0 && code2 == 0 ? 0 : 1;
}
