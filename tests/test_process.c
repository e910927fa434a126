/*
 * test_process.c - Process: start/join, exit codes, names, identity,
 * struct style, terminate/kill, daemons, active_children.
 *
 * Children are this test binary re-executed; each target below runs in a
 * child and reports through a Connection passed as its first argument.
 */
#include <stdio.h>

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

START_TEST(daemon_dies_with_killed_parent) {
  mproc_conn *held, *grand, *ctl_a, *ctl_b;
  mproc_process *p;
  mproc_value *got;
  int code;
  ck_mproc_ok(mproc_pipe(&held, &grand, 1));
  ck_mproc_ok(mproc_pipe(&ctl_a, &ctl_b, 1));
  ck_mproc_ok(mproc_process_new(&p, parent_of_daemon,
                                mproc_build("[C C]", grand, ctl_b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(grand); /* only the daemon grandchild holds it now */
  ck_mproc_ok(mproc_conn_recv(ctl_a, &got));
  ck_assert_str_eq(mproc_value_str(got), "ready");
  mproc_value_free(got);
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
  suite_add_tcase(s, tc);
  return s;
}
