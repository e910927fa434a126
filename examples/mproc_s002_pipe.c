/*
 * mproc_s002_pipe - seed 002, "Pipe (類似socket通信)": two children share
 * one end of a Pipe; each says hello and waits for the parent's answer.
 *
 *   def func(conn):
 *       conn.send("Hi I'm your subprocess. My ID is %d" % os.getpid())
 *       print("ID %d receive main_process message: " % os.getpid(),
 *             conn.recv())
 *   main_conn, sub_conn = Pipe()
 *   for i in range(2):
 *       proc = Process(target=func, args=(sub_conn,)); proc.start()
 *       print("I'm mainprocess, I receive my sub_process message: ",
 *             main_conn.recv())
 *       main_conn.send("Remember I'm your Master")
 *
 * What it teaches: one Connection can be handed to several processes; the
 * parent talks to each child in turn over the other end.  Two readers on
 * one end could take each other's messages; here each answer goes out only
 * after its child has spoken, one child at a time, so each child receives
 * one answer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

static int func(mproc_value *args) {
  mproc_conn *conn = arg_conn(args, 0);
  long pid = mproc_process_pid(mproc_current_process());
  char hello[80];
  mproc_value *msg, *got = NULL;
  int rc;

  snprintf(hello, sizeof hello, "Hi I'm your subprocess. My ID is %ld", pid);
  msg = mproc_str(hello);
  rc = mproc_conn_send(conn, msg);
  if (rc == 0)
    rc = mproc_conn_recv(conn, &got);
  if (rc == 0) {
    printf("ID %ld receive main_process message: %s\n", pid,
           mproc_value_str(got));
    fflush(stdout); /* now, not at exit: the parent's next line follows */
  }
  mproc_value_free(msg);
  mproc_value_free(got);
  mproc_conn_close(conn);
  return rc < 0;
}

int main(int argc, char **argv) {
  mproc_conn *main_conn, *sub_conn;
  mproc_process *processlist[2];
  mproc_value *got, *answer = mproc_str("Remember I'm your Master");
  int i;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_pipe(&main_conn, &sub_conn, 1));
  for (i = 0; i < 2; i++) {
    CHECK(mproc_process_new(&processlist[i], func,
                            mproc_build("[C]", sub_conn), NULL));
    CHECK(mproc_process_start(processlist[i]));
    CHECK(mproc_conn_recv(main_conn, &got));
    printf("I'm mainprocess, I receive my sub_process message: %s\n",
           mproc_value_str(got));
    fflush(stdout);
    mproc_value_free(got);
    CHECK(mproc_conn_send(main_conn, answer));
  }
  for (i = 0; i < 2; i++) {
    CHECK(mproc_process_join(processlist[i], MPROC_FOREVER));
    mproc_process_free(processlist[i]);
  }
  mproc_value_free(answer);
  mproc_conn_free(main_conn);
  mproc_conn_free(sub_conn);
  return 0;
}
