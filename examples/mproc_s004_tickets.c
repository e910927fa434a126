/*
 * mproc_s004_tickets - seed 004, the comments (#11 to #18): ticket booths
 * as processes.  A global counter is not shared between processes; a
 * shared Value is.
 *
 * A reader's exercise (#11), ten booths selling from a global i = 100:
 *
 *   def booth(pid):
 *       global i
 *       global lock
 *       while True:
 *           lock.acquire()
 *           if i != 0:
 *               i = i - 1
 *               print os.getpid(), " ", pid, ': now left:', i
 *               doChore()
 *           else:
 *               print "Thread_id", pid, "no more tickers"
 *               os._exit(0)
 *           lock.release()
 *           doChore()
 *
 *   i = 100
 *   lock = multiprocessing.Lock()
 *   for k in range(10):
 *       process = multiprocessing.Process(target=booth, args=(k, ))
 *       process.start()
 *
 * prints "now left: 99" ten times, then 98 ten times...  "Shouldn't 99 be
 * printed only once?"  The author (#14) suspects the Lock and suggests
 * passing it as an argument; another reader (#17) keeps the count in a
 * Queue instead, and is told (#18) that the total is a single object, for
 * which a queue is the wrong tool.
 *
 * What it teaches: each process has its own memory.  A global variable is
 * one per process, so every booth sells from its own 100 tickets
 * and sees 99 after its first sale -- the Lock (passed as an argument, as
 * #14 suggests, so that it is one lock) changes nothing about that.  A
 * single number shared by processes is a shared Value (Python's
 * multiprocessing.Value('i', 20)): one int in shared memory, with a lock
 * of its own; under that lock the booths sell each ticket exactly once and
 * the Value ends at 0.
 * Differences from the seed: in part 1 each booth sells one ticket and
 * stops (the seed's would sell all 100 of its own, 1000 lines in all).
 * Part 2 sells 20 tickets, and a sale reads the count, takes a moment
 * (doChore) and writes the count back, so that without the lock two booths
 * would sell the same ticket (try it).  doChore() sleeps 0.01 s (the seed
 * 0.5 s).  The booth's number is tid, as in #17 (the seed's "pid" is
 * easily taken for the process id), and "no more tickets" loses the seed's
 * typo.  main joins the booths and prints what it sees.  In C (as with
 * Python's spawn start method) a child does not even see a change main
 * makes to a global before start(): the child is the program started
 * afresh.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

#define BOOTHS 10

static int i = 100; /* part 1: the global counter */

static void doChore(void) { mproc_sleep(0.01); }

static long my_pid(void) { return mproc_process_pid(mproc_current_process()); }

/* Part 1, args [lock, tid]: sell one ticket from the global i. */
static int booth_global(mproc_value *args) {
  mproc_lock *lock = arg_lock(args, 0);
  int64_t tid = 0;
  CHECK(mproc_value_get_int(mproc_list_get(args, 1), &tid));
  CHECK(mproc_lock_acquire(lock, MPROC_FOREVER));
  if (i != 0) {
    i = i - 1; /* this process's own i */
    printf("%ld %d : now left: %d\n", my_pid(), (int)tid, i);
    fflush(stdout);
    doChore();
  }
  CHECK(mproc_lock_release(lock));
  return 0;
}

/* Part 2, args [value, tid]: sell from the shared Value until it is 0. */
static int booth_shared(mproc_value *args) {
  mproc_shared *value = NULL;
  int64_t tid = 0;
  int *left;
  CHECK(mproc_value_get_shared(mproc_list_get(args, 0), &value));
  CHECK(mproc_value_get_int(mproc_list_get(args, 1), &tid));
  left = mproc_shared_data(value); /* the one int all booths share */
  for (;;) {
    int n;
    CHECK(mproc_shared_acquire(value, MPROC_FOREVER)); /* value.get_lock() */
    n = *left; /* look at the count... */
    if (n == 0) {
      printf("Thread_id %d no more tickets\n", (int)tid);
      fflush(stdout);
      CHECK(mproc_shared_release(value));
      return 0;
    }
    doChore();     /* ...sell the ticket (it takes a moment)... */
    *left = n - 1; /* ...and write the count back: one step, under the lock */
    printf("%ld %d : now left: %d\n", my_pid(), (int)tid, *left);
    fflush(stdout);
    CHECK(mproc_shared_release(value));
    doChore();
  }
}

/* Start BOOTHS processes running booth([arg0, k]) for k = 0..9 (each gets
 * a copy of arg0, a reference to the lock or Value) and join them all. */
static void run_booths(mproc_target booth, mproc_value *arg0) {
  mproc_process *booths[BOOTHS];
  int k;
  for (k = 0; k < BOOTHS; k++) {
    CHECK(mproc_process_new(&booths[k], booth,
                            mproc_build("[Oi]", mproc_value_copy(arg0), k),
                            NULL));
    CHECK(mproc_process_start(booths[k]));
  }
  for (k = 0; k < BOOTHS; k++) {
    CHECK(mproc_process_join(booths[k], MPROC_FOREVER));
    mproc_process_free(booths[k]);
  }
  mproc_value_free(arg0);
}

int main(int argc, char **argv) {
  mproc_lock *lock;
  mproc_shared *value;
  int tickets = 20;

  CHECK(mproc_init(argc, argv));

  printf("1) a global int is NOT shared: each booth sells from its own "
         "copy of i = 100\n");
  fflush(stdout); /* the booths print to the same stdout */
  CHECK(mproc_lock_new(&lock));
  run_booths(booth_global, mproc_lock_ref(lock));
  mproc_lock_free(lock);
  printf("main: i = %d (main's own copy; no booth changed it)\n", i);

  printf("2) a shared Value IS shared: %d booths sell from one "
         "Value('i', %d)\n",
         BOOTHS, tickets);
  fflush(stdout);
  CHECK(mproc_shared_value(&value, 'i', &tickets, NULL));
  run_booths(booth_shared, mproc_shared_ref(value));
  printf("main: value.value = %d\n", *(int *)mproc_shared_data(value));
  mproc_shared_free(value);
  return 0;
}
