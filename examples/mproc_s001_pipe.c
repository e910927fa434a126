/*
 * mproc_s001_pipe - seed 001, "2、管道pipe": a child sends a UTF-8 string
 * through a Pipe and the parent replies.
 *
 *   def func(contact):
 *       contact.send("这是管道测试信息"); contact.close()
 *   a_con, b_con = Pipe()
 *   p = Process(target=func, args=(a_con,))
 *   print(b_con.recv())
 *   b_con.send("管道返回信息")
 *
 * What it teaches: strings are UTF-8 and cross the pipe unchanged; both
 * ends of a (duplex) Pipe can send.
 * The seed is buggy: it never calls p.start(), so b_con.recv() waits
 * forever, and its reply is never read.  This twin starts the child, and
 * the child reads the reply and prints it before it closes its end; then
 * the parent joins the child and the program ends.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

static int func(mproc_value *args) {
  mproc_conn *contact = arg_conn(args, 0);
  mproc_value *msg = mproc_str("这是管道测试信息"), *reply = NULL;
  int rc = mproc_conn_send(contact, msg);
  if (rc == 0)
    rc = mproc_conn_recv(contact, &reply); /* not in the seed: see above */
  if (rc == 0)
    printf("child got: %s\n", mproc_value_str(reply));
  mproc_value_free(msg);
  mproc_value_free(reply);
  mproc_conn_close(contact);
  return rc < 0;
}

int main(int argc, char **argv) {
  mproc_conn *a_con, *b_con;
  mproc_process *p;
  mproc_value *got, *reply;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_pipe(&a_con, &b_con, 1));
  CHECK(mproc_process_new(&p, func, mproc_build("[C]", a_con), NULL));
  CHECK(mproc_process_start(p)); /* missing in the seed */
  CHECK(mproc_conn_recv(b_con, &got));
  printf("%s\n", mproc_value_str(got));
  fflush(stdout); /* before the child prints its line */
  mproc_value_free(got);
  reply = mproc_str("管道返回信息");
  CHECK(mproc_conn_send(b_con, reply));
  mproc_value_free(reply);
  CHECK(mproc_process_join(p, MPROC_FOREVER));
  mproc_process_free(p);
  mproc_conn_free(a_con);
  mproc_conn_free(b_con);
  return 0;
}
