/*
 * mproc_s004_queue - seed 004, "Pipe和Queue" 2): ten processes put into a
 * Queue(3), ten others get from it and print under a Lock.
 *
 *   def inputQ(queue):
 *       info = str(os.getpid()) + '(put):' + str(time.time())
 *       queue.put(info)
 *
 *   def outputQ(queue, lock):
 *       info = queue.get()
 *       lock.acquire()
 *       print (str(os.getpid()) + '(get):' + info)
 *       lock.release()
 *
 *   record1 = []    # store input processes
 *   record2 = []    # store output processes
 *   lock = multiprocessing.Lock()    # To prevent messy print
 *   queue = multiprocessing.Queue(3)
 *   for i in range(10):
 *       process = multiprocessing.Process(target=inputQ, args=(queue,))
 *       process.start()
 *       record1.append(process)
 *   for i in range(10):
 *       process = multiprocessing.Process(target=outputQ,
 *                                         args=(queue, lock))
 *       process.start()
 *       record2.append(process)
 *   for p in record1:
 *       p.join()
 *   queue.close() # No more object will come, close the queue
 *   for p in record2:
 *       p.join()
 *
 * What it teaches: a Queue takes items from many processes and hands them
 * to many others, each item to exactly one getter.  maxsize 3 is how many
 * items it holds at a time, not how many it can carry (a reader, #24,
 * asks why ten puts into a Queue(3) raise no error): a put waits while the
 * queue is full, until a getter makes room.  The Lock keeps each line
 * whole (#3 asks why it is there: print from ten processes at once could
 * mix them).  Each line is the getter's pid, then the putter's pid and
 * time: which getter gets which item varies.
 * Differences from the seed: str(time.time()) has a fraction of a second
 * ('1355284423.57'); C11 gives no portable sub-second wall clock (MSVC and
 * mingw-w64 differ), so the twin prints the whole seconds as Python would
 * print that float ('1355284423.0').  The seed's queue.close() only closes
 * main's handle; mproc_queue_close() closes the queue for every process
 * (no more puts; getters drain it, then get end-of-file) -- here, after the
 * putters are joined, the same thing.  At the end main prints qsize(): 0,
 * every item was got.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example.h"

static long my_pid(void) {
  return mproc_process_pid(mproc_current_process());
}

/* args is [queue] */
static int inputQ(mproc_value *args) {
  mproc_queue *queue = arg_queue(args, 0);
  mproc_value *now = mproc_float((double)time(NULL)), *item;
  char *now_text = NULL, info[100];
  CHECK(mproc_str_of(now, &now_text)); /* str(time.time()) */
  snprintf(info, sizeof info, "%ld(put):%s", my_pid(), now_text);
  item = mproc_str(info);
  CHECK(mproc_queue_put(queue, item, MPROC_FOREVER)); /* waits for room */
  mproc_value_free(item);
  mproc_value_free(now);
  mproc_free(now_text);
  return 0;
}

/* args is [queue, lock] */
static int outputQ(mproc_value *args) {
  mproc_queue *queue = arg_queue(args, 0);
  mproc_lock *lock = arg_lock(args, 1);
  mproc_value *info;
  const char *text = NULL;
  CHECK(mproc_queue_get(queue, &info, MPROC_FOREVER));
  CHECK(mproc_value_get_str(info, &text, NULL));
  CHECK(mproc_lock_acquire(lock, MPROC_FOREVER));
  printf("%ld(get):%s\n", my_pid(), text);
  fflush(stdout); /* out while we still hold the lock */
  CHECK(mproc_lock_release(lock));
  mproc_value_free(info);
  return 0;
}

/* Join the ten processes of a record and free them; 1 if any failed. */
static int join_all(mproc_process **record) {
  int i, failed = 0;
  for (i = 0; i < 10; i++) {
    int code = -1;
    CHECK(mproc_process_join(record[i], MPROC_FOREVER));
    CHECK(mproc_process_exitcode(record[i], &code));
    failed |= code != 0;
    mproc_process_free(record[i]);
  }
  return failed;
}

int main(int argc, char **argv) {
  mproc_process *record1[10]; /* store input processes */
  mproc_process *record2[10]; /* store output processes */
  mproc_lock *lock;
  mproc_queue *queue;
  int i, failed;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_lock_new(&lock)); /* to prevent messy print */
  CHECK(mproc_queue_new(&queue, 3));
  for (i = 0; i < 10; i++) {
    CHECK(mproc_process_new(&record1[i], inputQ,
                            mproc_build("[O]", mproc_queue_ref(queue)),
                            NULL));
    CHECK(mproc_process_start(record1[i]));
  }
  for (i = 0; i < 10; i++) {
    CHECK(mproc_process_new(
        &record2[i], outputQ,
        mproc_build("[OO]", mproc_queue_ref(queue), mproc_lock_ref(lock)),
        NULL));
    CHECK(mproc_process_start(record2[i]));
  }
  failed = join_all(record1);
  CHECK(mproc_queue_close(queue)); /* no more object will come */
  failed |= join_all(record2);
  printf("main: qsize() = %ld\n", mproc_queue_qsize(queue));

  mproc_queue_free(queue);
  mproc_lock_free(lock);
  return failed;
}
