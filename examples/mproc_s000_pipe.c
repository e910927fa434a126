/*
 * mproc_s000_pipe - seed 000, "multiprocessing.Pipe([duplex])": a child
 * sends a list through a Pipe; then a duplex talk with a dict and a reply.
 *
 *   (con1, con2) = Pipe()
 *   sender = Process(target=send, name='send', args=(con1,))
 *   print("con2 got: %s" % con2.recv())
 *   ...
 *   print('parent got:', parentEnd.recv())
 *   parentEnd.send({x * 2 for x in 'spam'})
 *
 * What it teaches: a Connection travels to the child in its argument list
 * ("[C]"); send() and recv() move whole values (lists, dicts, strings,
 * numbers, sets) and a Pipe is duplex by default: both ends send and
 * receive.  The reply {x * 2 for x in 'spam'} is a set (mproc_set); it
 * prints its members in the order they were added, where Python's order
 * follows its hash table.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* Python's print(label, value): the value as str() shows it. */
static void print_value(const char *label, const mproc_value *v) {
  char *text = NULL;
  mproc_str_of(v, &text);
  printf("%s %s\n", label, text);
  mproc_free(text);
}

/* def send(pipe): pipe.send(['spam'] + [42, 'egg']); pipe.close()
 * (named send_list here: send() is also the sockets' function) */
static int send_list(mproc_value *args) {
  mproc_conn *pipe = arg_conn(args, 0);
  mproc_value *msg = mproc_build("[sis]", "spam", 42, "egg");
  int rc = mproc_conn_send(pipe, msg);
  mproc_value_free(msg);
  mproc_conn_close(pipe);
  return rc < 0;
}

/* def talk(pipe): send a dict, wait for the reply, print it. */
static int talk(mproc_value *args) {
  mproc_conn *pipe = arg_conn(args, 0);
  mproc_value *msg = mproc_build("{s:s s:i}", "name", "Bob", "spam", 42);
  mproc_value *reply = NULL;
  int rc = mproc_conn_send(pipe, msg);
  if (rc == 0)
    rc = mproc_conn_recv(pipe, &reply);
  if (rc == 0)
    print_value("talker got:", reply);
  mproc_value_free(msg);
  mproc_value_free(reply);
  return rc < 0;
}

int main(int argc, char **argv) {
  mproc_conn *con1, *con2, *parent_end, *child_end;
  mproc_process *sender, *child;
  mproc_process_opts opts = MPROC_PROCESS_OPTS_INIT;
  mproc_value *got, *reply;
  const char *spam = "spam";
  size_t i;

  CHECK(mproc_init(argc, argv));

  CHECK(mproc_pipe(&con1, &con2, 1));
  opts.name = "send";
  CHECK(mproc_process_new(&sender, send_list, mproc_build("[C]", con1), &opts));
  CHECK(mproc_process_start(sender));
  CHECK(mproc_conn_recv(con2, &got)); /* from send */
  print_value("con2 got:", got);
  mproc_value_free(got);
  mproc_conn_close(con2);

  CHECK(mproc_pipe(&parent_end, &child_end, 1));
  opts.name = "talk";
  CHECK(mproc_process_new(&child, talk, mproc_build("[C]", child_end),
                          &opts));
  fflush(stdout); /* the children share our stdout: ours goes first */
  CHECK(mproc_process_start(child));
  CHECK(mproc_conn_recv(parent_end, &got));
  print_value("parent got:", got);
  fflush(stdout);
  mproc_value_free(got);

  reply = mproc_set(); /* {x * 2 for x in 'spam'} */
  for (i = 0; spam[i]; i++) {
    char twice[3] = {spam[i], spam[i], '\0'};
    mproc_set_add(reply, mproc_str(twice));
  }
  CHECK(mproc_conn_send(parent_end, reply));
  mproc_value_free(reply);

  CHECK(mproc_process_join(child, MPROC_FOREVER));
  CHECK(mproc_process_join(sender, MPROC_FOREVER));
  printf("parent exit\n");

  mproc_process_free(sender);
  mproc_process_free(child);
  mproc_conn_free(con1);
  mproc_conn_free(con2);
  mproc_conn_free(parent_end);
  mproc_conn_free(child_end);
  return 0;
}
