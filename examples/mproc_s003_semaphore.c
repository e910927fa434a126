/*
 * mproc_s003_semaphore - seed 003, "3. Semaphore 信号": three processes,
 * a Semaphore(2).
 *
 *   def worker(s, i):
 *       s.acquire()
 *       print(multiprocessing.current_process().name + "acquire");
 *       time.sleep(i)
 *       print(multiprocessing.current_process().name + "release\n");
 *       s.release()
 *
 *   s = multiprocessing.Semaphore(2)
 *   for i in range(3):
 *       p = multiprocessing.Process(target = worker, args=(s, i*2))
 *       p.start()
 *
 * What it teaches: a Semaphore(2) lets at most two processes at a time
 * past acquire(); the third waits until one of them releases.  (Like a
 * pool's limit on connections.)  Python runs the name and the word
 * together ("Process-1acquire"); the twin puts a space between them
 * ("Process-1 acquire"), as EXAMPLES.md lists the output.  "release\n"
 * plus print's own newline leaves a blank line, as in Python.
 * The seed sleeps i*2 s (0, 2, 4): Process-1 holds the semaphore for no
 * time at all, so the limit would never show even if there were none.
 * This twin sleeps (i+1)*0.5 s (0.5, 1, 1.5): two processes hold it while
 * the third waits for a release.  Like the seed, main() does not join:
 * mproc waits for the processes when main() returns.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* args is [s, seconds] */
static int worker(mproc_value *args) {
  mproc_sem *s = NULL;
  double i = 0;
  const char *name = mproc_process_name(mproc_current_process());
  CHECK(mproc_value_get_sem(mproc_list_get(args, 0), &s));
  CHECK(mproc_value_get_float(mproc_list_get(args, 1), &i));

  CHECK(mproc_sem_acquire(s, MPROC_FOREVER));
  printf("%s acquire\n", name);
  fflush(stdout); /* each line as it happens */
  mproc_sleep(i);
  printf("%s release\n\n", name);
  fflush(stdout);
  CHECK(mproc_sem_release(s));
  return 0;
}

int main(int argc, char **argv) {
  mproc_sem *s;
  int i;

  CHECK(mproc_init(argc, argv));
  CHECK(mproc_sem_new(&s, 2));
  for (i = 0; i < 3; i++) {
    mproc_process *p;
    CHECK(mproc_process_new(
        &p, worker, mproc_build("[Of]", mproc_sem_ref(s), (i + 1) * 0.5),
        NULL));
    CHECK(mproc_process_start(p));
    mproc_process_free(p); /* still running: mproc joins it at exit */
  }
  mproc_sem_free(s); /* the children hold their own references */
  return 0;
}
