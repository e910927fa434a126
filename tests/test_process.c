/*
 * test_process.c - Process: start/join, exit codes, names, identity,
 * struct style, terminate/kill, daemons, active_children; and the
 * handshake's limits (tcase "handshake"): a child that writes garbage or
 * stalls, and a parent (this test, playing one through the platform
 * layer) that sends garbage, a truncated message or nothing.
 *
 * Children are this test binary re-executed; each target below runs in a
 * child and reports through a Connection passed as its first argument.
 */
#include <math.h>
#include <stdio.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#include "mproc_int.h"
#include "spawnctx.h"
#include "tests.h"

static int64_t arg_int(mproc_value *args, size_t i) {
  int64_t v = -1;
  mproc_value_get_int(mproc_list_get(args, i), &v);
  return v;
}

/* Start target with args, join it, return its exit code. */
static int run_child(mproc_target target, mproc_value *args) {
  mproc_process *p;
  int code = -1000;
  ck_mproc_ok(mproc_process_new(&p, target, args, NULL));
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  mproc_process_free(p);
  return code;
}

static int return_arg(mproc_value *args) { return (int)arg_int(args, 0); }

START_TEST(exit_code_is_return_value) {
  ck_assert_int_eq(run_child(return_arg, mproc_build("[i]", 0)), 0);
  ck_assert_int_eq(run_child(return_arg, mproc_build("[i]", 7)), 7);
  ck_assert_int_eq(run_child(return_arg, mproc_build("[i]", 42)), 42);
}
END_TEST

/* Sends back its args, its name, pid, parent's pid and name. */
static int report(mproc_value *args) {
  mproc_conn *c = arg_conn(args, 0);
  mproc_process *me = mproc_current_process();
  mproc_process *parent = mproc_parent_process();
  mproc_value *v = mproc_build(
      "[s L L s i O]", mproc_process_name(me), (int64_t)mproc_process_pid(me),
      (int64_t)mproc_process_pid(parent), mproc_process_name(parent),
      mproc_process_is_alive(parent),
      mproc_value_copy(mproc_list_get(args, 1)));
  int rc = mproc_conn_send(c, v);
  mproc_value_free(v);
  return rc == 0 ? 0 : 1;
}

START_TEST(args_name_pid_parent) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got;
  int64_t pid, ppid;
  char *r;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(
      &p, report, mproc_build("[C [s i {s:f}]]", b, "spam", 42, "egg", 1.5),
      NULL));
  ck_assert_str_eq(mproc_process_name(mproc_current_process()), "MainProcess");
  ck_assert_ptr_null(mproc_parent_process());
  ck_assert_int_eq(mproc_process_pid(p), 0);
  ck_mproc_ok(mproc_process_start(p));
  ck_assert_int_gt(mproc_process_pid(p), 0);
  ck_mproc_ok(mproc_conn_recv(a, &got));
  ck_assert_str_eq(mproc_value_str(mproc_list_get(got, 0)),
                   mproc_process_name(p));
  ck_assert_int_eq(strncmp(mproc_process_name(p), "Process-", 8), 0);
  mproc_value_get_int(mproc_list_get(got, 1), &pid);
  mproc_value_get_int(mproc_list_get(got, 2), &ppid);
  ck_assert_int_eq(pid, mproc_process_pid(p));
  ck_assert_int_eq(ppid, mproc_process_pid(mproc_current_process()));
  ck_assert_str_eq(mproc_value_str(mproc_list_get(got, 3)), "MainProcess");
  ck_assert_int_eq(mproc_list_len(got), 6);
  {
    int64_t alive = 0;
    mproc_value_get_int(mproc_list_get(got, 4), &alive);
    ck_assert_int_eq(alive, 1);
  }
  ck_mproc_ok(mproc_repr(mproc_list_get(got, 5), &r));
  ck_assert_str_eq(r, "['spam', 42, {'egg': 1.5}]");
  mproc_free(r);
  mproc_value_free(got);
  ck_mproc_ok(mproc_process_join(p, 60));
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(custom_name) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got;
  mproc_process_opts o = MPROC_PROCESS_OPTS_INIT;
  o.name = "talker";
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, report, mproc_build("[C n]", b), &o));
  ck_assert_str_eq(mproc_process_name(p), "talker");
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_conn_recv(a, &got));
  ck_assert_str_eq(mproc_value_str(mproc_list_get(got, 0)), "talker");
  mproc_value_free(got);
  ck_mproc_ok(mproc_process_join(p, 60));
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* A child that starts a grandchild running report, and relays. */
static int middle(mproc_value *args) {
  mproc_conn *up = arg_conn(args, 0);
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got = NULL;
  int rc;
  if (mproc_pipe(&a, &b, 1) != 0 ||
      mproc_process_new(&p, report, mproc_build("[C n]", b), NULL) != 0 ||
      mproc_process_start(p) != 0)
    return 3;
  rc = mproc_conn_recv(a, &got);
  if (rc == 0) {
    mproc_list_append(got, mproc_str(mproc_process_name(
                               mproc_current_process())));
    rc = mproc_conn_send(up, got);
  }
  mproc_value_free(got);
  mproc_process_join(p, 60);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
  return rc == 0 ? 0 : 4;
}

START_TEST(nested_names) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got;
  char want[64];
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, middle, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_conn_recv(a, &got));
  /* The grandchild is the first child of its parent: "<parent>:1". */
  snprintf(want, sizeof want, "%s:1", mproc_process_name(p));
  ck_assert_str_eq(mproc_value_str(mproc_list_get(got, 0)), want);
  ck_assert_str_eq(mproc_value_str(mproc_list_get(got, 3)),
                   mproc_process_name(p));
  ck_assert_str_eq(mproc_value_str(mproc_list_get(got, 6)),
                   mproc_process_name(p));
  mproc_value_free(got);
  ck_mproc_ok(mproc_process_join(p, 60));
  {
    int code;
    ck_mproc_ok(mproc_process_exitcode(p, &code));
    ck_assert_int_eq(code, 0);
  }
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

typedef struct clock_proc {
  int interval;
  char label[16];
  double scale;
} clock_proc;

static int clock_run(void *self, mproc_value *args) {
  clock_proc *c = self;
  mproc_value *v = mproc_build("[i s f]", c->interval, c->label, c->scale);
  int rc = mproc_conn_send(arg_conn(args, 0), v);
  mproc_value_free(v);
  return rc == 0 ? c->interval * 2 : 1;
}

START_TEST(struct_style) {
  clock_proc cp = {21, "clock", 0.25};
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got;
  char *r;
  int code;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new_struct(&p, clock_run, &cp, sizeof cp,
                                       mproc_build("[C]", b), NULL));
  cp.interval = 99; /* the child has the copy made at creation */
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_conn_recv(a, &got));
  ck_mproc_ok(mproc_repr(got, &r));
  ck_assert_str_eq(r, "[21, 'clock', 0.25]");
  mproc_free(r);
  mproc_value_free(got);
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 42);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Blocks until its connection says something (or closes). */
static int block_on(mproc_value *args) {
  mproc_value *v = NULL;
  int rc = mproc_conn_recv(arg_conn(args, 0), &v);
  mproc_value_free(v);
  return rc == 0 ? 5 : 6;
}

START_TEST(alive_join_timeout_terminate_kill) {
  mproc_conn *a, *b;
  mproc_process *p, *q;
  int code;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, block_on, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_new(&q, block_on, mproc_build("[C]", b), NULL));
  ck_assert_int_eq(mproc_process_is_alive(p), 0);
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_process_start(q));
  ck_assert_int_eq(mproc_process_is_alive(p), 1);
  ck_mproc(mproc_process_join(p, 0.2), MPROC_ETIMEDOUT);
  ck_mproc(mproc_process_exitcode(p, &code), MPROC_ERUNNING);
  ck_mproc(mproc_process_close(p), MPROC_ERUNNING);
  ck_mproc_ok(mproc_process_terminate(p));
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_assert_int_eq(mproc_process_is_alive(p), 0);
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, -15);
  ck_mproc_ok(mproc_process_kill(q));
  ck_mproc_ok(mproc_process_join(q, 60));
  ck_mproc_ok(mproc_process_exitcode(q, &code));
  ck_assert_int_eq(code, -9);
  /* Signalling an ended process is harmless. */
  ck_mproc_ok(mproc_process_terminate(p));
  ck_mproc_ok(mproc_process_close(p));
  ck_mproc(mproc_process_join(p, 1), MPROC_ECLOSED);
  ck_mproc(mproc_process_is_alive(p), MPROC_ECLOSED);
  mproc_process_free(p);
  mproc_process_free(q);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(active_children_reaps) {
  mproc_conn *a, *b;
  mproc_process *p[3], *act[8];
  int i, n;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  for (i = 0; i < 3; i++) {
    ck_mproc_ok(mproc_process_new(&p[i], block_on, mproc_build("[C]", b),
                                  NULL));
    ck_mproc_ok(mproc_process_start(p[i]));
  }
  n = mproc_active_children(act, 8);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(mproc_active_children(act, 1), 3);
  /* Closing the only other end wakes all three readers with EOF (three
   * readers of one end must not race for messages: as in Python, a
   * shared end needs a lock, which is what a Queue adds). */
  mproc_conn_close(a);
  for (i = 0; i < 3; i++) {
    int code;
    ck_mproc_ok(mproc_process_join(p[i], 60));
    ck_mproc_ok(mproc_process_exitcode(p[i], &code));
    ck_assert_int_eq(code, 6);
    mproc_process_free(p[i]);
  }
  ck_assert_int_eq(mproc_active_children(act, 8), 0);
  ck_assert_int_ge(mproc_cpu_count(), 1);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Reports whether it is a daemon, then starts a grandchild (which a
 * daemon may not). */
static int daemon_report(mproc_value *args) {
  mproc_process *g;
  mproc_value *v;
  int rc;
  /* No check macros in a child: it has no test runner around it. */
  if (mproc_process_new(&g, return_arg, mproc_build("[i]", 1), NULL) != 0)
    return 3;
  rc = mproc_process_start(g);
  v = mproc_build("[b i]", mproc_process_daemon(mproc_current_process()), rc);
  mproc_conn_send(arg_conn(args, 0), v);
  mproc_value_free(v);
  mproc_process_free(g);
  return 0;
}

START_TEST(daemon_flag) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *got;
  mproc_process_opts o = MPROC_PROCESS_OPTS_INIT;
  char *r, want[32];
  o.daemon = 1;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, daemon_report, mproc_build("[C]", b), &o));
  ck_assert_int_eq(mproc_process_daemon(p), 1);
  ck_mproc_ok(mproc_process_set_daemon(p, 1));
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc(mproc_process_set_daemon(p, 0), MPROC_ESTARTED);
  ck_mproc_ok(mproc_conn_recv(a, &got));
  ck_mproc_ok(mproc_repr(got, &r));
  /* A daemon knows it is one and may not have children (as Python). */
  snprintf(want, sizeof want, "[True, %d]", MPROC_ENOTSUP);
  ck_assert_str_eq(r, want);
  mproc_free(r);
  mproc_value_free(got);
  ck_mproc_ok(mproc_process_join(p, 60));
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Starts a daemon grandchild that holds args[0] and blocks on args[1];
 * says "ready", then waits to be killed. */
static int parent_of_daemon(mproc_value *args) {
  mproc_process *g;
  mproc_process_opts o = MPROC_PROCESS_OPTS_INIT;
  mproc_value *v = NULL, *ready = mproc_str("ready");
  o.daemon = 1;
  if (mproc_process_new(&g, block_on,
                        mproc_build("[C]", arg_conn(args, 0)), &o) != 0 ||
      mproc_process_start(g) != 0)
    return 3;
  mproc_conn_send(arg_conn(args, 1), ready);
  mproc_value_free(ready);
  mproc_conn_recv(arg_conn(args, 1), &v); /* never comes: we are killed */
  return 4;
}

/*
 * middle(args = [grand, ctl]) starts a daemon grandchild that holds grand
 * and says "ready" on ctl.  The middle process is then killed: the daemon
 * must die with it, seen as EOF on the other end of grand.  still_there:
 * first check that the daemon is alive half a second after "ready".
 */
static void daemon_dies_with_middle(mproc_target middle, int still_there) {
  mproc_conn *held, *grand, *ctl_a, *ctl_b;
  mproc_process *p;
  mproc_value *got;
  int code;
  ck_mproc_ok(mproc_pipe(&held, &grand, 1));
  ck_mproc_ok(mproc_pipe(&ctl_a, &ctl_b, 1));
  ck_mproc_ok(mproc_process_new(&p, middle,
                                mproc_build("[C C]", grand, ctl_b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(grand); /* only the daemon grandchild holds it now */
  ck_mproc_ok(mproc_conn_recv(ctl_a, &got));
  ck_assert_str_eq(mproc_value_str(got), "ready");
  mproc_value_free(got);
  if (still_there)
    ck_assert_int_eq(mproc_conn_poll(held, 0.5), 0);
  ck_mproc_ok(mproc_process_kill(p));
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, -9);
  /* The grandchild died with its parent: its end of the pipe is gone. */
  ck_assert_int_eq(mproc_conn_poll(held, 30), 1);
  ck_mproc(mproc_conn_recv(held, &got), MPROC_EEOF);
  mproc_process_free(p);
  mproc_conn_free(held);
  mproc_conn_free(grand);
  mproc_conn_free(ctl_a);
  mproc_conn_free(ctl_b);
}

START_TEST(daemon_dies_with_killed_parent) {
  daemon_dies_with_middle(parent_of_daemon, 0);
}
END_TEST

/* Sleeps a little, then reports, then ends. */
static int slow_reporter(mproc_value *args) {
  mproc_value *v = mproc_str("late");
  mproc_conn_poll(arg_conn(args, 1), 0.3);
  mproc_conn_send(arg_conn(args, 0), v);
  mproc_value_free(v);
  return 0;
}

/* Returns at once, leaving a daemon (blocked) and a non-daemon child. */
static int leave_children(mproc_value *args) {
  mproc_process *d, *n;
  mproc_process_opts o = MPROC_PROCESS_OPTS_INIT;
  o.daemon = 1;
  if (mproc_process_new(&d, block_on, mproc_build("[C]", arg_conn(args, 1)),
                        &o) != 0 ||
      mproc_process_start(d) != 0 ||
      mproc_process_new(&n, slow_reporter,
                        mproc_build("[C C]", arg_conn(args, 0),
                                    arg_conn(args, 2)),
                        NULL) != 0 ||
      mproc_process_start(n) != 0)
    return 3;
  /* Freeing a running process detaches it: it is still ended (daemon)
   * or joined (the other) when this process exits. */
  mproc_process_free(d);
  mproc_process_free(n);
  return 0;
}

START_TEST(exit_joins_children_and_ends_daemons) {
  mproc_conn *rep_a, *rep_b, *d_a, *d_b, *q_a, *q_b;
  mproc_process *p;
  mproc_value *got;
  int code;
  ck_mproc_ok(mproc_pipe(&rep_a, &rep_b, 1));
  ck_mproc_ok(mproc_pipe(&d_a, &d_b, 1));
  ck_mproc_ok(mproc_pipe(&q_a, &q_b, 1));
  ck_mproc_ok(mproc_process_new(&p, leave_children,
                                mproc_build("[C C C]", rep_b, d_b, q_b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(rep_b);
  mproc_conn_close(d_b);
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 0);
  /* The non-daemon child was joined before its parent ended... */
  ck_assert_int_eq(mproc_conn_poll(rep_a, 0), 1);
  ck_mproc_ok(mproc_conn_recv(rep_a, &got));
  ck_assert_str_eq(mproc_value_str(got), "late");
  mproc_value_free(got);
  /* ...and the daemon was terminated: its pipe end is gone. */
  ck_assert_int_eq(mproc_conn_poll(d_a, 30), 1);
  ck_mproc(mproc_conn_recv(d_a, &got), MPROC_EEOF);
  mproc_process_free(p);
  mproc_conn_free(rep_a);
  mproc_conn_free(rep_b);
  mproc_conn_free(d_a);
  mproc_conn_free(d_b);
  mproc_conn_free(q_a);
  mproc_conn_free(q_b);
}
END_TEST

/* ---- process details: timeouts, close, the current process -------------- */

START_TEST(join_timeouts_negative_and_nan) {
  mproc_conn *a, *b;
  mproc_process *p;
  int code;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, block_on, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  /* A negative timeout other than MPROC_FOREVER polls (a passed deadline,
   * as in Python): it must return at once, not block on the child. */
  ck_mproc(mproc_process_join(p, -0.5), MPROC_ETIMEDOUT);
  ck_mproc(mproc_process_join(p, -1e9), MPROC_ETIMEDOUT);
  ck_mproc(mproc_process_join(p, NAN), MPROC_EINVAL);
  ck_mproc_ok(mproc_conn_send_bytes(a, "x", 1)); /* not a value: 6 */
  ck_mproc_ok(mproc_process_join(p, MPROC_FOREVER));
  ck_mproc_ok(mproc_process_join(p, -3)); /* ended: 0 at once */
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 6);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(close_twice_and_current_exitcode) {
  mproc_process *p, *never;
  int code = 12345;
  ck_mproc_ok(mproc_process_new(&p, return_arg, mproc_build("[i]", 3), NULL));
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_close(p));
  ck_mproc_ok(mproc_process_close(p)); /* Python: a no-op */
  ck_mproc(mproc_process_exitcode(p, &code), MPROC_ECLOSED);
  mproc_process_free(p);
  ck_mproc_ok(mproc_process_new(&never, return_arg, NULL, NULL));
  ck_mproc_ok(mproc_process_close(never));
  ck_mproc_ok(mproc_process_close(never));
  mproc_process_free(never);
  /* The current process has no exit code yet (Python: None). */
  ck_mproc(mproc_process_exitcode(mproc_current_process(), &code),
           MPROC_ERUNNING);
  ck_assert_int_eq(code, 12345);
}
END_TEST

/* ---- daemons started from a thread ---------------------------------------- */

typedef struct daemon_job {
  mproc_conn *held;
  int rc;
} daemon_job;

static int start_daemon_thread(void *arg) {
  daemon_job *j = arg;
  mproc_process *g;
  mproc_process_opts o = MPROC_PROCESS_OPTS_INIT;
  o.daemon = 1;
  j->rc = mproc_process_new(&g, block_on, mproc_build("[C]", j->held), &o);
  if (j->rc == 0)
    j->rc = mproc_process_start(g);
  /* The thread outlives the child's set-up, then ends (a thread that ends
   * at once may beat a PR_SET_PDEATHSIG and hide the fault). */
  mproc_sleep(0.3);
  /* g stays in the table: freeing would only detach it. */
  return 0;
}

/* Starts a daemon grandchild from a thread that then ends; says "ready";
 * waits to be killed. */
static int daemon_from_thread(mproc_value *args) {
  daemon_job j;
  mproc_thread *t;
  mproc_value *v = NULL, *ready = mproc_str("ready");
  j.held = arg_conn(args, 0);
  j.rc = -1;
  if (mproc_thread_start(&t, start_daemon_thread, &j) != 0 ||
      mproc_thread_join(t, NULL) != 0 || j.rc != 0)
    return 3;
  /* Only the daemon holds that end now: its EOF is the daemon's end. */
  mproc_conn_close(j.held);
  mproc_conn_send(arg_conn(args, 1), ready);
  mproc_value_free(ready);
  mproc_conn_recv(arg_conn(args, 1), &v); /* never comes: we are killed */
  return 4;
}

START_TEST(daemon_of_ended_thread_lives_until_process_dies) {
  /* The thread that started it has ended: the daemon is still there, and
   * dies when the process does. */
  daemon_dies_with_middle(daemon_from_thread, 1);
}
END_TEST

/* ---- the handshake's limits ------------------------------------------------- */

#include "capture.h"

/* Reap c within 60 s (else kill it and fail); return its exit code. */
static int reap_within(mproc__child *c, double limit) {
  double end = mproc__plat_monotonic() + limit;
  int code = -1000, rc;
  for (;;) {
    rc = mproc__plat_proc_reap(c, 0, &code);
    if (rc != MPROC_ETIMEDOUT || mproc__plat_monotonic() > end)
      break;
    mproc__plat_sleep(0.01);
  }
  if (rc == MPROC_ETIMEDOUT) {
    mproc__plat_proc_signal(c, 1);
    mproc__plat_proc_reap(c, 1, &code);
  }
  mproc__plat_proc_release(c);
  ck_assert_msg(rc == 0, "the child did not end within %g s", limit);
  return code;
}

/*
 * Play a parent: spawn this binary as a child, take its hello, write raw
 * bytes (frame included) on the bootstrap channel, close it if asked, read
 * a reply if one comes; return the child's exit code, its reply and its
 * stderr.  The child's deadline is MPROC_START_TIMEOUT = 2 s.
 */
static int hostile_parent(const void *raw, size_t n, int close_after,
                          char *reply, size_t rcap, char *err,
                          size_t ecap) {
  mproc__child c;
  unsigned char *hello = NULL, *r = NULL;
  size_t hn = 0, rn = 0;
  int code, rc;
  reply[0] = '\0';
  ck_mproc_ok(mproc__plat_setenv("MPROC_START_TIMEOUT", "2"));
  ck_assert_int_eq(capture_begin(), 0);
  rc = mproc__plat_spawn_self(NULL, 0, NULL, 0, &c);
  capture_end();
  ck_mproc_ok(mproc__plat_setenv("MPROC_START_TIMEOUT", NULL));
  ck_mproc_ok(rc);
  ck_mproc_ok(mproc__boot_recv(c.boot, 64, mproc__plat_monotonic() + 60,
                               &hello, &hn));
  ck_assert(hn == strlen(MPROC__HELLO) && memcmp(hello, MPROC__HELLO, hn) == 0);
  free(hello);
  if (n)
    ck_mproc_ok(mproc__plat_boot_write(c.boot, raw, n, 30));
  if (close_after) {
    mproc__plat_close(c.boot);
    c.boot = MPROC__NOHANDLE;
  } else if (mproc__boot_recv(c.boot, 1024, mproc__plat_monotonic() + 60,
                              &r, &rn) == 0) {
    snprintf(reply, rcap, "%.*s", (int)rn, (const char *)r);
    free(r);
  }
  code = reap_within(&c, 60);
  captured(err, ecap);
  return code;
}

/* A 4-byte frame header for len. */
static void frame(unsigned char *h, uint32_t len) {
  h[0] = (unsigned char)(len >> 24);
  h[1] = (unsigned char)(len >> 16);
  h[2] = (unsigned char)(len >> 8);
  h[3] = (unsigned char)len;
}

START_TEST(child_ends_on_garbage_bootstrap) {
  unsigned char msg[40];
  char reply[1100], err[2000];
  frame(msg, 20);
  memcpy(msg + 4, "this is no CBOR ....", 20);
  ck_assert_int_eq(hostile_parent(msg, 24, 0, reply, sizeof reply, err,
                                  sizeof err),
                   70);
  /* The reason goes to the parent and, in one line, to stderr. */
  ck_assert_msg(strncmp(reply, "error: bad bootstrap message", 28) == 0,
                "reply: %s", reply);
  ck_assert_msg(strstr(err, "could not start: bad bootstrap message") &&
                    strchr(err, '\n') == err + strlen(err) - 1,
                "stderr: %s", err);
}
END_TEST

START_TEST(child_ends_on_truncated_bootstrap) {
  unsigned char msg[14];
  char reply[1100], err[2000];
  frame(msg, 100);
  memcpy(msg + 4, "0123456789", 10);
  /* The parent dies in the middle of its message. */
  ck_assert_int_eq(hostile_parent(msg, 14, 1, reply, sizeof reply, err,
                                  sizeof err),
                   70);
  ck_assert_msg(strstr(err, "after 10 of 100 bytes"), "stderr: %s", err);
  /* A header that lies about the length, on a channel kept open: the
   * child gives up at its deadline instead of waiting forever. */
  frame(msg, 0x7fffffffu);
  ck_assert_int_eq(hostile_parent(msg, 14, 0, reply, sizeof reply, err,
                                  sizeof err),
                   70);
  ck_assert_msg(strstr(err, "within 2 s") && strstr(err, "10 of 2147483647"),
                "stderr: %s", err);
  ck_assert_msg(strncmp(reply, "error: no complete bootstrap", 28) == 0,
                "reply: %s", reply);
}
END_TEST

START_TEST(child_ends_on_silent_parent) {
  char reply[1100], err[2000];
  ck_assert_int_eq(hostile_parent(NULL, 0, 0, reply, sizeof reply, err,
                                  sizeof err),
                   70);
  ck_assert_msg(strstr(err, "no complete bootstrap message from the parent "
                            "within 2 s"),
                "stderr: %s", err);
}
END_TEST

#ifndef _WIN32
static int exported(mproc__codec_ctx *ctx, const mproc__objtype *type,
                    void *obj, mproc_value **plain) {
  (void)ctx;
  (void)type;
  /* obj is 1 + the handle index the Connection claims. */
  *plain =
      mproc_build("[s[ibb]]", "Connection", (int)(intptr_t)obj - 1, 1, 1);
  return *plain ? 0 : MPROC_ENOMEM;
}

/* A bootstrap whose args hold Connections on handle indices i0 and i1,
 * where the handle list names the values h0 (and nothing for i1). */
static void evil_bootstrap(mproc__buf *out, int64_t h0) {
  mproc__codec_ctx ctx = {exported, NULL};
  mproc__buf args = MPROC__BUF_INIT;
  mproc_value *a, *msg;
  char module[1024];
  uint64_t off;
  void *fn;
  mproc_target t = return_arg;
  unsigned char key[32] = {0};
  memcpy(&fn, &t, sizeof fn);
  ck_mproc_ok(mproc__plat_addr_to_ref(fn, module, sizeof module, &off));
  a = mproc_build("[OO]",
                  mproc__value_object(&mproc__conn_type, (void *)(intptr_t)1,
                                      0),
                  mproc__value_object(&mproc__conn_type, (void *)(intptr_t)2,
                                      0));
  ck_mproc_ok(mproc__encode(a, &args, &ctx));
  mproc_value_free(a);
  msg = mproc_build("{s:i s:s s:L s:b s:y s:y s:[L] s:s s:b s:L s:s s:y "
                    "s:[i]}",
                    "proto", MPROC__PROTO, "module", module, "offset",
                    (int64_t)off, "struct", 0, "self", "", (size_t)0, "args",
                    (const void *)args.p, args.len, "handles", h0, "name",
                    "evil", "daemon", 0, "ppid",
                    (int64_t)mproc__plat_getpid(), "pname", "MainProcess",
                    "authkey", (const void *)key, sizeof key, "ident", 9);
  ck_assert_ptr_nonnull(msg);
  ck_mproc_ok(mproc__buf_reserve(out, 4));
  out->len = 4;
  ck_mproc_ok(mproc__encode(msg, out, NULL));
  frame(out->p, (uint32_t)(out->len - 4));
  mproc_value_free(msg);
  mproc__buf_free(&args);
}
#endif

START_TEST(failed_import_keeps_the_reply_channel) {
#ifdef _WIN32
  /* The child's value of its bootstrap handle is not known here. */
#else
  mproc__buf b = MPROC__BUF_INIT;
  char reply[1100], err[2000];
  /* Handle 0 is the child's own bootstrap channel (fd 3); handle 1 does
   * not exist, so the import fails after the first Connection. */
  evil_bootstrap(&b, 3);
  ck_assert_int_eq(hostile_parent(b.p, b.len, 0, reply, sizeof reply, err,
                                  sizeof err),
                   70);
  ck_assert_msg(strstr(reply, "error: bad bootstrap message") &&
                    strstr(reply, "bootstrap channel"),
                "reply: %s", reply);
  mproc__buf_free(&b);
#endif
}
END_TEST

static int nothing_at_all(mproc_value *args) {
  (void)args;
  return 0;
}

/* start() with the child fault fault and a 5 s handshake deadline (a
 * loaded machine under wine may take a second or two to start a child). */
static void start_with_fault(const char *fault, const char *want) {
  mproc_process *p;
  double t0;
  ck_mproc_ok(mproc__plat_setenv("MPROC_START_TIMEOUT", "5"));
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", fault));
  ck_mproc_ok(mproc_process_new(&p, nothing_at_all, NULL, NULL));
  t0 = mproc__plat_monotonic();
  ck_mproc(mproc_process_start(p), MPROC_ESPAWN);
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", NULL));
  ck_mproc_ok(mproc__plat_setenv("MPROC_START_TIMEOUT", NULL));
  ck_assert_msg(strstr(mproc_last_error(), want), "detail: %s",
                mproc_last_error());
  /* Bounded: the deadline is 5 s; 60 s is only "it did not hang". */
  ck_assert(mproc__plat_monotonic() - t0 < 60);
  ck_assert_int_eq(mproc_process_is_alive(p), 0);
  mproc_process_free(p);
}

START_TEST(child_writes_garbage_before_hello) {
  start_with_fault("garbage-hello", "did not send its hello");
}
END_TEST

START_TEST(child_stalls_after_hello) {
  start_with_fault("stall-after-hello",
                   "did not answer its bootstrap message within 5 s");
}
END_TEST

#if defined(_WIN32)
/* In a child started with MPROC_TEST_FAULT=spawn-internal-error:N: start
 * a grandchild (exit 0); 0 if it ran, 7 if the start failed with
 * MPROC_ESPAWN after its 3 tries, 9 otherwise. */
static int start_one(mproc_value *args) {
  mproc_process *p;
  int rc, code = -1;
  (void)args;
  if (mproc_process_new(&p, return_arg, mproc_build("[i]", 0), NULL) != 0)
    return 9;
  rc = mproc_process_start(p);
  if (rc == 0 && mproc_process_join(p, 60) == 0 &&
      mproc_process_exitcode(p, &code) == 0 && code == 0)
    rc = 0;
  else if (rc == MPROC_ESPAWN &&
           strstr(mproc_last_error(), "(tried 3 times)") != NULL)
    rc = 7;
  else
    rc = 9;
  mproc_process_free(p);
  return rc;
}

START_TEST(spawn_retries_wine_internal_error) {
  /* wine's CreateProcessW says ERROR_INTERNAL_ERROR when the new process
   * ended before it finished loading: it is tried up to 3 times. Two
   * such failures: the third try starts it; three: MPROC_ESPAWN. */
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT",
                                 "spawn-internal-error:2"));
  ck_assert_int_eq(run_child(start_one, NULL), 0);
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT",
                                 "spawn-internal-error:3"));
  ck_assert_int_eq(run_child(start_one, NULL), 7);
  ck_mproc_ok(mproc__plat_setenv("MPROC_TEST_FAULT", NULL));
}
END_TEST
#endif

Suite *mproc_suite_process(void) {
  Suite *s = suite_create("process");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, exit_code_is_return_value);
  tcase_add_test(tc, args_name_pid_parent);
  tcase_add_test(tc, custom_name);
  tcase_add_test(tc, nested_names);
  tcase_add_test(tc, struct_style);
  tcase_add_test(tc, alive_join_timeout_terminate_kill);
  tcase_add_test(tc, active_children_reaps);
  tcase_add_test(tc, daemon_flag);
  tcase_add_test(tc, daemon_dies_with_killed_parent);
  tcase_add_test(tc, exit_joins_children_and_ends_daemons);
  tcase_add_test(tc, join_timeouts_negative_and_nan);
  tcase_add_test(tc, close_twice_and_current_exitcode);
  tcase_add_test(tc, daemon_of_ended_thread_lives_until_process_dies);
#if defined(_WIN32)
  tcase_add_test(tc, spawn_retries_wine_internal_error);
#endif
  suite_add_tcase(s, tc);
  tc = tcase_create("handshake");
  tcase_add_test(tc, child_writes_garbage_before_hello);
  tcase_add_test(tc, child_stalls_after_hello);
  tcase_add_test(tc, child_ends_on_garbage_bootstrap);
  tcase_add_test(tc, child_ends_on_truncated_bootstrap);
  tcase_add_test(tc, child_ends_on_silent_parent);
  tcase_add_test(tc, failed_import_keeps_the_reply_channel);
  suite_add_tcase(s, tc);
  return s;
}
