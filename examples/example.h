/*
 * example.h - the helpers the examples share, so each example shows only
 * its lesson.
 */
#ifndef MPROC_EXAMPLE_H
#define MPROC_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>

#include <mproc.h>

/* Stop with mproc's explanation if a call fails. */
#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) < 0) {                                                        \
      fprintf(stderr, "%s failed: %s\n", #call, mproc_last_error());        \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

/* The Connection a process received as its i-th argument (NULL if none). */
static inline mproc_conn *arg_conn(mproc_value *args, size_t i) {
  mproc_conn *c = NULL;
  mproc_value_get_conn(mproc_list_get(args, i), &c);
  return c;
}

/* The Lock a process received as its i-th argument (NULL if none): the
 * parent put it there with mproc_lock_ref(lock).  Borrowed: it lives until
 * the target returns. */
static inline mproc_lock *arg_lock(mproc_value *args, size_t i) {
  mproc_lock *l = NULL;
  mproc_value_get_lock(mproc_list_get(args, i), &l);
  return l;
}

/* The Queue a process received as its i-th argument (NULL if none): the
 * parent put it there with mproc_queue_ref(q).  Borrowed, like a Lock. */
static inline mproc_queue *arg_queue(mproc_value *args, size_t i) {
  mproc_queue *q = NULL;
  mproc_value_get_queue(mproc_list_get(args, i), &q);
  return q;
}

#endif
