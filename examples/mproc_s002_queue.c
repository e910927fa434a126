/*
 * mproc_s002_queue - seed 002, "Queue": three processes put into one
 * Queue, main gets three items.
 *
 *   def func(q, name):
 *       q.put('My Process_name is %s and put the data to the id %d queue'
 *             % (name, id(q)))
 *
 *   q = Queue()
 *   process_list = []
 *   print("main queue id: %d" % id(q))
 *   for i in range(3):
 *       proc = Process(target=func, args=(q, 'Process-%d' % i))
 *       process_list.append(proc)
 *       proc.start()
 *   print(q.get())
 *   print(q.get())
 *   print(q.get())
 *   for each_process in process_list:
 *       each_process.join()
 *
 * What it teaches: the queue each child receives is its own object, at its
 * own address (the "id" differs from main's), and yet it is one queue: what
 * the three children put, main gets.  (The seed explains it by pickling;
 * in C each process has its own handle on one block of shared memory.)
 * get() waits until an item is there; the items come in the order the
 * children put them, which varies.
 * id(q) is Python's address of the object; the twin prints the address of
 * each process's mproc_queue handle.  On Linux every address differs;
 * under wine the children's often come out equal (each child is the same
 * program, started the same way), but they are still three handles, each
 * in its own process's memory.  The names
 * are the seed's 'Process-0'..'Process-2' arguments, not the processes' own
 * names (Process-1..3).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* Python's id(): the object's address, as a number. */
static unsigned long long id(const void *object) {
  return (unsigned long long)(uintptr_t)object;
}

/* args is [q, name] */
static int func(mproc_value *args) {
  mproc_queue *q = arg_queue(args, 0);
  const char *name = mproc_value_str(mproc_list_get(args, 1));
  char text[200];
  mproc_value *item;
  snprintf(text, sizeof text,
           "My Process_name is %s and put the data to the id %llu queue",
           name, id(q));
  item = mproc_str(text);
  CHECK(mproc_queue_put(q, item, MPROC_FOREVER));
  mproc_value_free(item);
  return 0;
}

int main(int argc, char **argv) {
  mproc_queue *q;
  mproc_process *process_list[3];
  int i, failed = 0;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_queue_new(&q, 0));
  printf("main queue id: %llu\n", id(q));
  fflush(stdout);
  for (i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "Process-%d", i);
    CHECK(mproc_process_new(&process_list[i], func,
                            mproc_build("[Os]", mproc_queue_ref(q), name),
                            NULL));
    CHECK(mproc_process_start(process_list[i]));
  }
  for (i = 0; i < 3; i++) { /* print(q.get()), three times */
    mproc_value *item;
    char *text = NULL;
    CHECK(mproc_queue_get(q, &item, MPROC_FOREVER));
    CHECK(mproc_str_of(item, &text));
    printf("%s\n", text);
    mproc_free(text);
    mproc_value_free(item);
  }
  for (i = 0; i < 3; i++) {
    int code = -1;
    CHECK(mproc_process_join(process_list[i], MPROC_FOREVER));
    CHECK(mproc_process_exitcode(process_list[i], &code));
    failed |= code != 0;
    mproc_process_free(process_list[i]);
  }
  mproc_queue_free(q);
  return failed;
}
