/*
 * mproc_s003_queue - seed 003, "5. Queue 队列,进程间数据传递": put and get
 * with block=False, and the Full and Empty errors.
 *
 *   def writer_proc(q):
 *       q.put(1, block = False)
 *       ...
 *
 *   q = multiprocessing.Queue()
 *   writer = multiprocessing.Process(target=writer_proc, args=(q,))
 *   writer.start()
 *   writer.join()
 *   ...
 *
 * The seed's text: put(block=True, timeout) waits up to timeout for room
 * and then raises Queue.Full; put(block=False) on a full queue raises Full
 * at once.  get(block=True, timeout) raises Queue.Empty when nothing comes
 * in time; get(block=False) returns a value if there is one, else raises
 * Empty at once.
 *
 * What it teaches: a put or get that must not wait either succeeds at once
 * or fails with Full / Empty (MPROC_EFULL / MPROC_EEMPTY), which the caller
 * handles; with a timeout it waits that long first.
 * The seed's code is cut short ("..."): it shows only the writer's
 * put(1, block=False).  The twin completes it as the "..." suggests: a
 * reader process, started after the writer is joined, gets the 1 with
 * get(block=False).  To show Full, the queue is Queue(1) (the seed's
 * Queue() has no limit, so it is never full): the writer's second put
 * fails, at once with block=False and after 0.1 s with a timeout; the
 * reader's second get finds the queue empty.  A failed call's line names
 * the exception Python would raise, then mproc's message for it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* Print how a put or get that must not wait, or not long, came out: "ok",
 * or the exception Python raises and mproc's message.  Other errors stop. */
static void show(const char *who, const char *call, int rc) {
  if (rc == MPROC_EFULL || rc == MPROC_EEMPTY) {
    printf("%s: %s -> %s: %s\n", who, call,
           rc == MPROC_EFULL ? "Full" : "Empty", mproc_strerror(rc));
  } else {
    CHECK(rc);
    printf("%s: %s -> ok\n", who, call);
  }
}

/* args is [q] */
static int writer_proc(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  mproc_value *one = mproc_int(1), *two = mproc_int(2);
  int full;

  CHECK(mproc_queue_put_nowait(q, one)); /* q.put(1, block=False) */
  full = mproc_queue_full(q);
  CHECK(full);
  printf("writer: put(1, block=False) -> ok; qsize() = %ld, full() = %s\n",
         mproc_queue_qsize(q), full ? "True" : "False");
  show("writer", "put(2, block=False)", mproc_queue_put_nowait(q, two));
  show("writer", "put(2, timeout=0.1)", mproc_queue_put(q, two, 0.1));
  mproc_value_free(one);
  mproc_value_free(two);
  return 0;
}

static int reader_proc(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  mproc_value *value = NULL;
  char *text = NULL;
  int rc;

  CHECK(mproc_queue_get_nowait(q, &value)); /* print(q.get(block=False)) */
  CHECK(mproc_repr(value, &text));
  printf("reader: get(block=False) -> %s\n", text);
  mproc_free(text);
  mproc_value_free(value);

  rc = mproc_queue_get_nowait(q, &value); /* again: nothing is left */
  show("reader", "get(block=False)", rc);
  mproc_value_free(value);
  return 0;
}

int main(int argc, char **argv) {
  mproc_queue *q;
  mproc_process *writer, *reader;
  int code_w = -1, code_r = -1;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_queue_new(&q, 1)); /* Queue(1): full after one item */
  CHECK(mproc_process_new(&writer, writer_proc,
                          mproc_build("[O]", mproc_queue_ref(q)), NULL));
  CHECK(mproc_process_new(&reader, reader_proc,
                          mproc_build("[O]", mproc_queue_ref(q)), NULL));
  CHECK(mproc_process_start(writer));
  CHECK(mproc_process_join(writer, MPROC_FOREVER));
  CHECK(mproc_process_start(reader));
  CHECK(mproc_process_join(reader, MPROC_FOREVER));

  CHECK(mproc_process_exitcode(writer, &code_w));
  CHECK(mproc_process_exitcode(reader, &code_r));
  mproc_process_free(writer);
  mproc_process_free(reader);
  mproc_queue_free(q);
  return code_w == 0 && code_r == 0 ? 0 : 1;
}
