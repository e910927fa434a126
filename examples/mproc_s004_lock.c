/*
 * mproc_s004_lock - seed 004, "Similarity and difference of multi thread
 * vs. multi process": five threads and five processes print their pid,
 * one at a time under a Lock.
 *
 *   def worker(sign, lock):
 *       lock.acquire()
 *       print(sign, os.getpid())
 *       lock.release()
 *
 *   print('Main:', os.getpid())
 *   lock = threading.Lock()
 *   for i in range(5):
 *       thread = threading.Thread(target=worker, args=('thread', lock))
 *       thread.start(); record.append(thread)
 *   for thread in record: thread.join()
 *
 *   lock = multiprocessing.Lock()
 *   for i in range(5):
 *       process = multiprocessing.Process(target=worker,
 *                                         args=('process', lock))
 *       process.start(); record.append(process)
 *   for process in record: process.join()
 *
 * What it teaches: threads and processes are used alike (start, join, a
 * Lock so their lines do not mix) but differ in the result: every thread
 * prints the main program's pid, every process a pid of its own.
 * The seed uses a threading.Lock for the threads; C has none of its own,
 * and an mproc Lock works between threads as well as between processes,
 * so the twin uses one for both.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

static void worker(const char *sign, mproc_lock *lock) {
  CHECK(mproc_lock_acquire(lock, MPROC_FOREVER));
  printf("%s %ld\n", sign, mproc_process_pid(mproc_current_process()));
  fflush(stdout); /* out while we still hold the lock */
  CHECK(mproc_lock_release(lock));
}

/* A thread's function takes one pointer: here the lock. */
static int thread_worker(void *lock) {
  worker("thread", lock);
  return 0;
}

/* A process's target takes its argument list: here ['process', lock]. */
static int process_worker(mproc_value *args) {
  worker(mproc_value_str(mproc_list_get(args, 0)), arg_lock(args, 1));
  return 0;
}

int main(int argc, char **argv) {
  mproc_thread *threads[5];
  mproc_process *processes[5];
  mproc_lock *lock;
  int i;

  CHECK(mproc_init(argc, argv));
  printf("Main: %ld\n", mproc_process_pid(mproc_current_process()));
  fflush(stdout); /* the children print to the same stdout */

  /* Multi-thread */
  CHECK(mproc_lock_new(&lock));
  for (i = 0; i < 5; i++)
    CHECK(mproc_thread_start(&threads[i], thread_worker, lock));
  for (i = 0; i < 5; i++)
    CHECK(mproc_thread_join(threads[i], NULL));
  mproc_lock_free(lock);

  /* Multi-process */
  CHECK(mproc_lock_new(&lock));
  for (i = 0; i < 5; i++) {
    CHECK(mproc_process_new(
        &processes[i], process_worker,
        mproc_build("[sO]", "process", mproc_lock_ref(lock)), NULL));
    CHECK(mproc_process_start(processes[i]));
  }
  for (i = 0; i < 5; i++) {
    CHECK(mproc_process_join(processes[i], MPROC_FOREVER));
    mproc_process_free(processes[i]);
  }
  mproc_lock_free(lock);
  return 0;
}
