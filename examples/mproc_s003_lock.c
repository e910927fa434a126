/*
 * mproc_s003_lock - seed 003, "2. Lock 锁": two processes append to one
 * file under one Lock.
 *
 *   def worker_with(lock, f):
 *       with lock:
 *           fs = open(f, 'a+')
 *           n = 5
 *           while n > 1:
 *               fs.write("Lockd acquired via with\n")
 *               n -= 1
 *           fs.close()
 *
 *   def worker_no_with(lock, f):
 *       lock.acquire()
 *       try:
 *           ... the same, writing "Lock acquired directly\n" ...
 *       finally:
 *           lock.release()
 *
 *   lock = multiprocessing.Lock()
 *   w = multiprocessing.Process(target = worker_with, args=(lock, f))
 *   nw = multiprocessing.Process(target = worker_no_with, args=(lock, f))
 *   w.start(); nw.start()
 *   print "end"
 *
 * What it teaches: when several processes use one resource (a file), a
 * Lock lets one of them at a time use it: each worker writes its four lines
 * as a block, never mixed with the other's.  Which worker goes first
 * varies.
 * C has no `with` and no `finally`: both workers acquire, write and
 * release; the two styles differ only in their text here.  The differences
 * from the seed: the file is in the temp directory and has the pid in its
 * name (the seed's "file.txt" in the current directory); each line is
 * flushed and followed by a short pause, so that without the Lock the two
 * workers' lines would mix (try it); and main, after "end", waits for the
 * workers, prints the file (what the seed shows as its result) and removes
 * it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example.h"

/* Append 4 lines of text to the file, one at a time. */
static int write_lines(const char *f, const char *text) {
  FILE *fs = fopen(f, "a+");
  int n = 5;
  if (fs == NULL) {
    perror(f);
    return 1;
  }
  while (n > 1) {
    fputs(text, fs);
    fflush(fs);        /* into the file now, not at fclose */
    mproc_sleep(0.05); /* time for the other worker to cut in, if it could */
    n -= 1;
  }
  fclose(fs);
  return 0;
}

/* args is [lock, f] */
static int worker_with(mproc_value *args) {
  mproc_lock *lock = arg_lock(args, 0);
  int rc;
  CHECK(mproc_lock_acquire(lock, MPROC_FOREVER)); /* with lock: */
  rc = write_lines(mproc_value_str(mproc_list_get(args, 1)),
                   "Lockd acquired via with\n");
  CHECK(mproc_lock_release(lock));
  return rc;
}

static int worker_no_with(mproc_value *args) {
  mproc_lock *lock = arg_lock(args, 0);
  int rc;
  CHECK(mproc_lock_acquire(lock, MPROC_FOREVER));
  rc = write_lines(mproc_value_str(mproc_list_get(args, 1)),
                   "Lock acquired directly\n");
  CHECK(mproc_lock_release(lock));
  return rc;
}

/* The temp directory: TMPDIR on POSIX, TEMP or TMP on Windows. */
static const char *temp_dir(void) {
  const char *names[] = {"TMPDIR", "TEMP", "TMP"};
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *d = getenv(names[i]);
    if (d != NULL && d[0] != '\0')
      return d;
  }
  return "/tmp";
}

int main(int argc, char **argv) {
  char f[1024];
  char buf[256];
  size_t n;
  FILE *fs;
  mproc_lock *lock;
  mproc_process *w, *nw;
  int code_w = -1, code_nw = -1;

  CHECK(mproc_init(argc, argv));
  snprintf(f, sizeof f, "%s/mproc_s003_lock_%ld.txt", temp_dir(),
           mproc_process_pid(mproc_current_process()));
  remove(f); /* start empty: the workers append */

  CHECK(mproc_lock_new(&lock));
  CHECK(mproc_process_new(&w, worker_with,
                          mproc_build("[Os]", mproc_lock_ref(lock), f), NULL));
  CHECK(mproc_process_new(&nw, worker_no_with,
                          mproc_build("[Os]", mproc_lock_ref(lock), f), NULL));
  CHECK(mproc_process_start(w));
  CHECK(mproc_process_start(nw));
  printf("end\n");
  fflush(stdout);

  /* The seed stops here (Python joins the workers at exit); the twin waits
   * for them and shows the file. */
  CHECK(mproc_process_join(w, MPROC_FOREVER));
  CHECK(mproc_process_join(nw, MPROC_FOREVER));
  CHECK(mproc_process_exitcode(w, &code_w));
  CHECK(mproc_process_exitcode(nw, &code_nw));
  fs = fopen(f, "r");
  if (fs == NULL) {
    perror(f);
    return 1;
  }
  while ((n = fread(buf, 1, sizeof buf, fs)) > 0)
    fwrite(buf, 1, n, stdout);
  fclose(fs);
  remove(f);

  mproc_process_free(w);
  mproc_process_free(nw);
  mproc_lock_free(lock);
  return code_w == 0 && code_nw == 0 ? 0 : 1;
}
