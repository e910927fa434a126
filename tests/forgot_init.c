/*
 * forgot_init.c - a program whose children forget mproc_init.
 *
 * Run as "forgot_init parent": it calls mproc_init and starts a child.
 * The child is this program again, whose main() (like a careless user's)
 * goes straight to other mproc calls without mproc_init.  mproc must stop
 * that child with a clear message instead of letting it start children
 * of its own (a spawn bomb), and the parent's start() must report it.
 * Prints "PASS" when both happened.
 */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static int target(mproc_value *args) {
  (void)args;
  return 0;
}

int main(int argc, char **argv) {
  mproc_process *p;
  int rc;
  if (argc > 1 && strcmp(argv[1], "parent") == 0) {
    if (mproc_init(argc, argv) != 0)
      return 2;
    if (mproc_process_new(&p, target, NULL, NULL) != 0)
      return 2;
    rc = mproc_process_start(p);
    printf("start: %s: %s\n", mproc_errname(rc), mproc_last_error());
    mproc_process_free(p);
    if (rc == MPROC_ESPAWN && strstr(mproc_last_error(), "mproc_init")) {
      puts("PASS");
      return 0;
    }
    return 1;
  }
  /* The forgetful path: no mproc_init, straight to starting a process. */
  if (mproc_process_new(&p, target, NULL, NULL) == 0)
    mproc_process_start(p);
  puts("FAIL: a child without mproc_init went on to start processes");
  return 0;
}
