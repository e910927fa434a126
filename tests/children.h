/*
 * children.h - helpers shared by the suites that start child processes
 * (sync, shmem, queue): reading a child's arguments, a child's exit code
 * for an mproc result, starting and finishing a child in the parent.
 *
 * A child never uses check's macros (it is another process): it returns
 * an exit code - the negated MPROC_E* code of a call that failed, 100 for
 * a wrong value - and the parent asserts it with ck_exit().
 */
#ifndef MPROC_TESTS_CHILDREN_H
#define MPROC_TESTS_CHILDREN_H

#include "platform.h"
#include "tests.h"

/* In a child: leave with the code of a call that did not return want. */
#define CHILD_CK(call, want)                                                 \
  do {                                                                       \
    int child_rc_ = (call);                                                  \
    if (child_rc_ != (want))                                                 \
      return child_rc_ < 0 ? -child_rc_ : 100;                               \
  } while (0)

/* The exit code a child gives for the mproc error code rc. */
#define EXIT_FOR(rc) (-(rc))

/* A child's exit code for a result that should be 0. */
static inline int code_of(int rc) { return rc < 0 ? -rc : rc > 0 ? 100 : 0; }

static inline int64_t arg_i64(mproc_value *args, size_t i) {
  int64_t v = -1;
  mproc_value_get_int(mproc_list_get(args, i), &v);
  return v;
}

static inline double arg_f(mproc_value *args, size_t i) {
  double v = -1;
  mproc_value_get_float(mproc_list_get(args, i), &v);
  return v;
}

/* The object a child received as its i-th argument (NULL if none). */
#define MPROC__TEST_ARG(T, name)                                             \
  static inline T *arg_##name(mproc_value *args, size_t i) {                 \
    T *o = NULL;                                                             \
    mproc_value_get_##name(mproc_list_get(args, i), &o);                     \
    return o;                                                                \
  }
MPROC__TEST_ARG(mproc_lock, lock)
MPROC__TEST_ARG(mproc_sem, sem)
MPROC__TEST_ARG(mproc_event, event)
MPROC__TEST_ARG(mproc_cond, cond)
MPROC__TEST_ARG(mproc_barrier, barrier)
MPROC__TEST_ARG(mproc_shared, shared)
MPROC__TEST_ARG(mproc_queue, queue)

/* Send one word to the parent. */
static inline int say(mproc_conn *c, const char *word) {
  mproc_value *v = mproc_str(word);
  int rc = mproc_conn_send(c, v);
  mproc_value_free(v);
  return rc;
}

static inline double now(void) { return mproc__plat_monotonic(); }

/* Start t(args) (args stolen); daemonic, so a failed test leaves none. */
static inline mproc_process *start_opt(mproc_target t, mproc_value *args,
                                       int daemon) {
  mproc_process *p = NULL;
  mproc_process_opts o = MPROC_PROCESS_OPTS_INIT;
  o.daemon = daemon;
  ck_mproc_ok(mproc_process_new(&p, t, args, &o));
  ck_mproc_ok(mproc_process_start(p));
  return p;
}

static inline mproc_process *start(mproc_target t, mproc_value *args) {
  return start_opt(t, args, 1);
}

/* Join (the child must end within 120 s), free, return the exit code. */
static inline int finish(mproc_process *p) {
  int code = -1000;
  ck_mproc_ok(mproc_process_join(p, 120));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  mproc_process_free(p);
  return code;
}

/* Words for a child's exit code in a failure message. */
static inline const char *explain(int code) {
  if (code > 0 && code < 32)
    return mproc_errname(-code);
  if (code >= 50 && code < 100)
    return "a barrier index";
  if (code == -9)
    return "killed";
  return code == 0 ? "success" : "wrong value";
}

#define ck_exit(p, want)                                                     \
  do {                                                                       \
    int ck_code_ = finish(p);                                                \
    ck_assert_msg(ck_code_ == (want), "child exited with %d (%s), wanted %d", \
                  ck_code_, explain(ck_code_), (want));                      \
  } while (0)

/*
 * A start gate: children started with gated() args call pass_gate() and
 * wait until gate_open() has seen every one of them ready (wine starts
 * processes so slowly that without it each child may finish before the
 * next begins, and a stress test would measure nothing).
 */
typedef struct gate {
  mproc_sem *ready;
  mproc_event *go;
  int n;
} gate;

static inline void gate_new(gate *g) {
  g->n = 0;
  ck_mproc_ok(mproc_sem_new(&g->ready, 0));
  ck_mproc_ok(mproc_event_new(&g->go));
}

/* A child's args with the gate appended (its last two). */
static inline mproc_value *gated(gate *g, mproc_value *args) {
  ck_assert_ptr_nonnull(args);
  ck_mproc_ok(mproc_list_append(args, mproc_sem_ref(g->ready)));
  ck_mproc_ok(mproc_list_append(args, mproc_event_ref(g->go)));
  g->n++;
  return args;
}

/* Wait until every gated child is ready, then let them all go. */
static inline void gate_open(gate *g) {
  int i;
  for (i = 0; i < g->n; i++)
    ck_mproc_ok(mproc_sem_acquire(g->ready, 60));
  ck_mproc_ok(mproc_event_set(g->go));
}

static inline void gate_free(gate *g) {
  mproc_sem_free(g->ready);
  mproc_event_free(g->go);
}

/* In a child: the gate, from the last two arguments. */
static inline int pass_gate(mproc_value *args) {
  size_t n = mproc_list_len(args);
  int rc = mproc_sem_release(arg_sem(args, n - 2));
  return rc ? rc : mproc_event_wait(arg_event(args, n - 1), 60);
}

#endif
