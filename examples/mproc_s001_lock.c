/*
 * mproc_s001_lock - seed 001, "四、进程同步": ten processes print under
 * one Lock.
 *
 *   def f(l, i):
 *       with l.acquire():
 *           print('hello world %s'%i)
 *
 *   lock = Lock()
 *   for num in range(10):
 *       Process(target=f, args=(lock, num)).start()
 *
 * What it teaches: a Lock made in the parent and passed to each process as
 * an argument is one lock for all of them: one process at a time holds it,
 * so each line is printed whole while the others wait.  The order of the
 * lines varies with the order in which the processes get the lock.
 * The seed's `with l.acquire():` is a bug (acquire() returns True, which is
 * no context manager: the first process fails holding the lock and the
 * others wait forever); it means `with l:`, which in C is acquire, the
 * work, release.  Like the seed, main() does not join: mproc waits for the
 * processes when main() returns.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* args is [lock, i] */
static int f(mproc_value *args) {
  mproc_lock *l = arg_lock(args, 0);
  int64_t i = 0;
  CHECK(mproc_value_get_int(mproc_list_get(args, 1), &i));
  CHECK(mproc_lock_acquire(l, MPROC_FOREVER));
  printf("hello world %d\n", (int)i);
  fflush(stdout); /* out while we still hold the lock */
  CHECK(mproc_lock_release(l));
  return 0;
}

int main(int argc, char **argv) {
  mproc_lock *lock;
  int num;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_lock_new(&lock));
  for (num = 0; num < 10; num++) {
    mproc_process *p;
    CHECK(mproc_process_new(
        &p, f, mproc_build("[Oi]", mproc_lock_ref(lock), num), NULL));
    CHECK(mproc_process_start(p));
    mproc_process_free(p); /* still running: mproc joins it at exit */
  }
  mproc_lock_free(lock); /* the children hold their own references */
  return 0;
}
