/*
 * mproc_s004_pipe - seed 004, "Pipe和Queue" (Vamei): a duplex Pipe between
 * two processes, one end each.
 *
 *   def proc1(pipe):
 *       pipe.send('hello')
 *       print('proc1 rec:', pipe.recv())
 *   def proc2(pipe):
 *       print('proc2 rec:', pipe.recv())
 *       pipe.send('hello, too')
 *   pipe = mul.Pipe()
 *   p1 = mul.Process(target=proc1, args=(pipe[0],))
 *   p2 = mul.Process(target=proc2, args=(pipe[1],))
 *   p1.start(); p2.start(); p1.join(); p2.join()
 *
 * What it teaches: a duplex Pipe is a two-way line between two processes:
 * each end both sends and receives, and recv() waits for the other side.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

static int proc1(mproc_value *args) {
  mproc_conn *pipe = arg_conn(args, 0);
  mproc_value *hello = mproc_str("hello"), *got = NULL;
  int rc = mproc_conn_send(pipe, hello);
  if (rc == 0)
    rc = mproc_conn_recv(pipe, &got);
  if (rc == 0)
    printf("proc1 rec: %s\n", mproc_value_str(got));
  mproc_value_free(hello);
  mproc_value_free(got);
  return rc < 0;
}

static int proc2(mproc_value *args) {
  mproc_conn *pipe = arg_conn(args, 0);
  mproc_value *too = mproc_str("hello, too"), *got = NULL;
  int rc = mproc_conn_recv(pipe, &got);
  if (rc == 0) {
    printf("proc2 rec: %s\n", mproc_value_str(got));
    fflush(stdout); /* before proc1 can print its line */
    rc = mproc_conn_send(pipe, too);
  }
  mproc_value_free(too);
  mproc_value_free(got);
  return rc < 0;
}

int main(int argc, char **argv) {
  mproc_conn *end0, *end1;
  mproc_process *p1, *p2;
  int code1 = -1, code2 = -1;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_pipe(&end0, &end1, 1)); /* pipe = mul.Pipe() */
  CHECK(mproc_process_new(&p1, proc1, mproc_build("[C]", end0), NULL));
  CHECK(mproc_process_new(&p2, proc2, mproc_build("[C]", end1), NULL));
  CHECK(mproc_process_start(p1));
  CHECK(mproc_process_start(p2));
  CHECK(mproc_process_join(p1, MPROC_FOREVER));
  CHECK(mproc_process_join(p2, MPROC_FOREVER));
  mproc_process_exitcode(p1, &code1);
  mproc_process_exitcode(p2, &code2);
  mproc_process_free(p1);
  mproc_process_free(p2);
  mproc_conn_free(end0);
  mproc_conn_free(end1);
  return code1 == 0 && code2 == 0 ? 0 : 1;
}
