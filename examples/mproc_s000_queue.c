/*
 * mproc_s000_queue - seed 000, "多个子进程间的通信": a writer process and a
 * reader process share one Queue.
 *
 *   def write(q):
 *       for value in ['A', 'B', 'C']:
 *           print 'Put %s to queue...' % value
 *           q.put(value)
 *           time.sleep(random.random())
 *
 *   def read(q):
 *       while True:
 *           if not q.empty():
 *               value = q.get(True)
 *               print 'Get %s from queue.' % value
 *               time.sleep(random.random())
 *           else:
 *               break
 *
 *   q = Queue()
 *   pw = Process(target=write, args=(q,))
 *   pr = Process(target=read, args=(q,))
 *   pw.start()
 *   pw.join()
 *   pr.start()
 *   pr.join()
 *   print
 *   print '所有数据都写入并且读完'
 *
 * What it teaches: a Queue made by the parent and given to two processes
 * as an argument is one queue: what the writer puts, the reader gets, in
 * the same order.  The reader's end test, empty(), is sound here only
 * because the writer has finished (main joined it before starting the
 * reader): with both running, the reader could find the queue empty
 * between two puts and stop too early.
 * The seed's comment (pr进程里是死循环...) says the reader loops forever
 * and must be terminated: a comment left from the usual version of this
 * example, whose reader has no `break` and runs beside the writer.  The
 * seed's code stops when the queue is empty, and so does the twin: it
 * ends on its own, no terminate() needed.  The sleeps (random.random(),
 * up to 1 s) are 0.1 s here: they only spread the lines out.  An mproc put
 * returns once the item is in the queue, so after pw.join() all three are
 * there (Python's feeder thread, too, has flushed them by then).
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* The seed's write(q) and read(q): C's library has its own write and read. */
static int writer(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  const char *values[] = {"A", "B", "C"};
  size_t i;
  for (i = 0; i < 3; i++) {
    mproc_value *value = mproc_str(values[i]);
    printf("Put %s to queue...\n", values[i]);
    fflush(stdout);
    CHECK(mproc_queue_put(q, value, MPROC_FOREVER));
    mproc_value_free(value);
    mproc_sleep(0.1);
  }
  return 0;
}

static int reader(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  for (;;) {
    int empty = mproc_queue_empty(q);
    mproc_value *value;
    const char *text = NULL;
    CHECK(empty);
    if (empty)
      break;
    CHECK(mproc_queue_get(q, &value, MPROC_FOREVER)); /* q.get(True) */
    CHECK(mproc_value_get_str(value, &text, NULL));
    printf("Get %s from queue.\n", text);
    fflush(stdout);
    mproc_value_free(value);
    mproc_sleep(0.1);
  }
  return 0;
}

int main(int argc, char **argv) {
  mproc_queue *q;
  mproc_process *pw, *pr;
  int code_w = -1, code_r = -1;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_queue_new(&q, 0)); /* Queue(): no size limit */
  CHECK(mproc_process_new(&pw, writer, mproc_build("[O]", mproc_queue_ref(q)),
                          NULL));
  CHECK(mproc_process_new(&pr, reader, mproc_build("[O]", mproc_queue_ref(q)),
                          NULL));
  CHECK(mproc_process_start(pw));
  CHECK(mproc_process_join(pw, MPROC_FOREVER)); /* all written... */
  CHECK(mproc_process_start(pr));
  CHECK(mproc_process_join(pr, MPROC_FOREVER)); /* ...and all read */
  printf("\n");
  printf("所有数据都写入并且读完\n"); /* all data written and read */

  CHECK(mproc_process_exitcode(pw, &code_w));
  CHECK(mproc_process_exitcode(pr, &code_r));
  mproc_process_free(pw);
  mproc_process_free(pr);
  mproc_queue_free(q);
  return code_w == 0 && code_r == 0 ? 0 : 1;
}
