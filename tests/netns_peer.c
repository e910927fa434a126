/*
 * netns_peer.c - the two sides of the test "manager_netns" (run by
 * netns_manager.sh, Linux as root): a Manager server on one "host" and its
 * clients on another, two network namespaces joined by a veth pair.
 *
 *   netns_peer server ADDR KEY   serve on ADDR ("10.77.0.1:50000") with
 *                                KEY, objects "queue" and "info" (its pid)
 *                                published; until killed
 *   netns_peer client ADDR KEY   from the other namespace: a wrong key is
 *                                refused (MPROC_EAUTH); with the right one
 *                                list, dict (holding the list), Namespace,
 *                                Array, JoinableQueue, RLock,
 *                                BoundedSemaphore, Condition are used, and
 *                                Value, Queue, Lock, Event, Semaphore,
 *                                Barrier also by three
 *                                child processes that get the proxies as
 *                                arguments; then the server is killed
 *                                while a child is blocked in a get: the
 *                                get, a call and a new connect fail with
 *                                MPROC_EEOF (no hang)
 *   netns_peer partition ADDR KEY   (a fresh server; MPROC_TCP_KEEPALIVE
 *                                short) holding the published "lock",
 *                                with a child blocked in a get, this
 *                                namespace's veth goes down: keepalive
 *                                fails the get with MPROC_EEOF; the link
 *                                back, a new process gets the lock with
 *                                MPROC_EOWNERDEAD (the server ended the
 *                                vanished client's session)
 *
 * The client prints a line per step and "netns client: PASS" at the end;
 * any failed check prints why and exits 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <mproc.h>

#define EXPECT(cond, ...)                                                    \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "netns client: FAILED at line %d: ", __LINE__);       \
      fprintf(stderr, __VA_ARGS__);                                          \
      fprintf(stderr, " (last error: %s)\n", mproc_last_error());           \
      exit(1);                                                               \
    }                                                                        \
  } while (0)
#define OK(call)                                                             \
  do {                                                                       \
    int rc_ = (call);                                                        \
    EXPECT(rc_ == 0, "%s gave %s", #call, mproc_errname(rc_));               \
  } while (0)

static void step(const char *what) {
  printf("netns client: %s: ok\n", what);
  fflush(stdout);
}

/* The repr of p.method(args) (args stolen). */
static char *call_repr(mproc_proxy *p, const char *method, mproc_value *args) {
  mproc_value *r = NULL;
  char *s = NULL;
  int rc = mproc_proxy_call(p, method, args, &r);
  EXPECT(rc == 0, "%s: %s", method, mproc_errname(rc));
  OK(mproc_repr(r, &s));
  mproc_value_free(r);
  return s;
}

static void call_is(mproc_proxy *p, const char *method, mproc_value *args,
                    const char *want) {
  char *s = call_repr(p, method, args);
  EXPECT(!strcmp(s, want), "%s gave %s, wanted %s", method, s, want);
  mproc_free(s);
}

static void str_is(mproc_proxy *p, const char *want) {
  char *s = NULL;
  OK(mproc_proxy_str(p, &s));
  EXPECT(!strcmp(s, want), "str gave %s, wanted %s", s, want);
  mproc_free(s);
}

/* ---- server ------------------------------------------------------------- */

static int serve(const char *addr, const char *key) {
  mproc_manager_opts o = MPROC_MANAGER_OPTS_INIT;
  mproc_server *s = NULL;
  int rc;
  o.address = addr;
  o.authkey = key;
  o.authkey_len = strlen(key);
  if ((rc = mproc_server_new(&s, &o)) != 0 ||
      (rc = mproc_server_publish(s, "queue", "Queue", NULL)) != 0 ||
      (rc = mproc_server_publish(s, "info", "dict", NULL)) != 0 ||
      (rc = mproc_server_publish(s, "lock", "Lock", NULL)) != 0 ||
      (rc = mproc_server_call(s, "info", "__setitem__",
                              mproc_build("[si]", "pid", (int64_t)getpid()),
                              NULL)) != 0) {
    fprintf(stderr, "netns server: %s\n", mproc_last_error());
    return 1;
  }
  printf("netns server: serving on %s\n", mproc_server_address(s));
  fflush(stdout);
  rc = mproc_server_serve_forever(s); /* until killed */
  fprintf(stderr, "netns server: serve_forever returned %s\n",
          mproc_errname(rc));
  return 1;
}

/* ---- clients ------------------------------------------------------------ */

static mproc_proxy *arg_proxy(mproc_value *args, size_t i) {
  mproc_proxy *p = NULL;
  mproc_value_get_proxy(mproc_list_get(args, i), &p);
  return p;
}

static int exit_for(int rc) { return rc < 0 ? -rc : rc ? 100 : 0; }

/* The key for the address: a child's process authkey is its tree's, not
 * the remote server's (as a Python process that did not spawn with it). */
static int child_connect(mproc_value *args, mproc_manager **m) {
  const char *key = mproc_value_str(mproc_list_get(args, 1));
  return mproc_manager_connect(m, mproc_value_str(mproc_list_get(args, 0)),
                               key, strlen(key));
}

/* Child: [addr, key, list, value, lock, queue, event, barrier, sem, i]:
 * wait for the event, 20 locked increments, append i, put i, then the
 * barrier (three children) and the semaphore. */
static int child_worker(mproc_value *args) {
  mproc_manager *m = NULL;
  mproc_proxy *l = arg_proxy(args, 2), *v = arg_proxy(args, 3),
              *lk = arg_proxy(args, 4), *q = arg_proxy(args, 5),
              *ev = arg_proxy(args, 6), *b = arg_proxy(args, 7),
              *sem = arg_proxy(args, 8);
  mproc_value *r = NULL;
  int64_t i = 0, x = 0;
  int k, rc;
  mproc_value_get_int(mproc_list_get(args, 9), &i);
  if ((rc = child_connect(args, &m)) != 0)
    return exit_for(rc);
  if ((rc = mproc_proxy_call(ev, "wait", mproc_build("[i]", 60), &r)) != 0)
    return exit_for(rc);
  k = 0;
  mproc_value_get_bool(r, &k);
  mproc_value_free(r);
  if (!k)
    return 90; /* the event was not set in time */
  for (k = 0; k < 20; k++) {
    if ((rc = mproc_proxy_call(lk, "acquire", NULL, NULL)) != 0 ||
        (rc = mproc_proxy_call(v, "get", NULL, &r)) != 0)
      return exit_for(rc);
    mproc_value_get_int(r, &x);
    mproc_value_free(r);
    if ((rc = mproc_proxy_call(v, "set", mproc_build("[i]", x + 1), NULL)) ||
        (rc = mproc_proxy_call(lk, "release", NULL, NULL)) != 0)
      return exit_for(rc);
  }
  if ((rc = mproc_proxy_call(l, "append", mproc_build("[i]", i), NULL)) ||
      (rc = mproc_proxy_call(q, "put", mproc_build("[i]", i), NULL)) ||
      (rc = mproc_proxy_call(b, "wait", mproc_build("[i]", 60), NULL)) ||
      (rc = mproc_proxy_call(sem, "release", NULL, NULL)))
    return exit_for(rc);
  mproc_manager_free(m);
  return 0;
}

/* Child: [addr, key, queue, conn]: says "ready" on conn, then a get that
 * blocks until the server is killed; its code is the get's error
 * (MPROC_EEOF expected). */
static int child_blocked_get(mproc_value *args) {
  mproc_manager *m = NULL;
  mproc_conn *c = NULL;
  mproc_value *r = NULL, *ready = mproc_str("ready");
  int rc = child_connect(args, &m);
  if (rc)
    return exit_for(rc);
  mproc_value_get_conn(mproc_list_get(args, 3), &c);
  if ((rc = mproc_conn_send(c, ready)) != 0)
    return exit_for(rc);
  mproc_value_free(ready);
  rc = mproc_proxy_call(arg_proxy(args, 2), "get", NULL, &r);
  mproc_value_free(r);
  mproc_manager_free(m);
  return exit_for(rc ? rc : 100);
}

/* Start child_blocked_get on q and give its get 0.3 s to reach the
 * server. */
static mproc_process *start_blocked_get(const char *addr, const char *key,
                                        mproc_proxy *q) {
  mproc_process *p = NULL;
  mproc_conn *pr = NULL, *pw = NULL;
  mproc_value *r = NULL;
  OK(mproc_pipe(&pr, &pw, 0));
  OK(mproc_process_new(&p, child_blocked_get,
                       mproc_build("[ssOC]", addr, key, mproc_proxy_ref(q),
                                   pw),
                       NULL));
  OK(mproc_process_start(p));
  OK(mproc_conn_recv(pr, &r)); /* it is about to get */
  mproc_value_free(r);
  mproc_conn_free(pr);
  mproc_conn_free(pw);
  mproc_sleep(0.3); /* its get reaches the server */
  return p;
}

/* The blocked child ends within 30 s, its get failed with MPROC_EEOF
 * (what: for the message); frees it; the seconds it took from t0. */
static double blocked_get_failed(mproc_process *p, double t0,
                                 const char *what) {
  int code = -1;
  EXPECT(mproc_process_join(p, 30) == 0, "%s: still waiting after 30 s",
         what);
  OK(mproc_process_exitcode(p, &code));
  EXPECT(code == -MPROC_EEOF, "%s ended with exit %d, wanted %d (MPROC_EEOF)",
         what, code, -MPROC_EEOF);
  mproc_process_free(p);
  return mproc_monotonic() - t0;
}

/* Child: [addr, key]: the published lock, whose holder vanished, is
 * taken with MPROC_EOWNERDEAD (exit 0), within 60 s. */
static int child_lock_orphaned(mproc_value *args) {
  mproc_manager *m = NULL;
  mproc_proxy *lk = NULL;
  int i, rc = MPROC_EEOF;
  for (i = 0; i < 100 && rc == MPROC_EEOF; i++) { /* the link comes back */
    if ((rc = child_connect(args, &m)) == MPROC_EEOF)
      mproc_sleep(0.1);
  }
  if (rc || (rc = mproc_manager_get(m, "lock", NULL, &lk)) != 0)
    return exit_for(rc);
  rc = mproc_proxy_call(lk, "acquire", mproc_build("[bi]", 1, 60), NULL);
  if (rc != MPROC_EOWNERDEAD)
    return 80 + exit_for(rc) % 20; /* not the vanished owner's lock */
  mproc_proxy_call(lk, "release", NULL, NULL);
  mproc_proxy_free(lk);
  mproc_manager_free(m);
  return 0;
}

/* Connect with key, waiting up to 30 s for the server to come up. */
static int connect_wait(const char *addr, const char *key, mproc_manager **m) {
  int i, rc = 0;
  for (i = 0; i < 300; i++) {
    rc = mproc_manager_connect(m, addr, key, strlen(key));
    if (rc != MPROC_EEOF)
      return rc;
    mproc_sleep(0.1);
  }
  return rc;
}

static int client(const char *addr, const char *key) {
  mproc_manager *m = NULL, *c2 = NULL;
  mproc_proxy *info, *q, *l, *d, *l2, *ns, *v, *a, *lk, *ev, *b, *sem;
  mproc_proxy *jq, *rl, *bs, *cv;
  mproc_process *kids[3], *blocked;
  mproc_value *r = NULL;
  int64_t pid = 0, got[3] = {0, 0, 0}, x;
  double t0;
  int i, rc, code = -1;

  rc = connect_wait(addr, "not the key", &m);
  EXPECT(rc == MPROC_EAUTH && m == NULL, "a wrong key gave %s",
         mproc_errname(rc));
  EXPECT(strstr(mproc_last_error(), "authentication"), "the message");
  printf("netns client: a wrong authkey is refused: %s\n", mproc_last_error());
  OK(mproc_manager_connect(&m, addr, key, strlen(key)));
  step("connected with the right key");
  rc = mproc_manager_connect(&c2, addr, "not the key", 11);
  EXPECT(rc == MPROC_EAUTH && c2 == NULL, "a wrong key, connected, gave %s",
         mproc_errname(rc));
  step("a wrong key is refused while connected with the right one");

  OK(mproc_manager_get(m, "info", NULL, &info));
  OK(mproc_proxy_call(info, "__getitem__", mproc_build("[s]", "pid"), &r));
  OK(mproc_value_get_int(r, &pid));
  mproc_value_free(r);
  EXPECT(pid > 0 && pid != (int64_t)getpid(), "server pid %lld",
         (long long)pid);
  OK(mproc_manager_get(m, "queue", NULL, &q));

  OK(mproc_manager_list(m, mproc_build("[ii]", 1, 2), &l));
  call_is(l, "append", mproc_build("[i]", 3), "None");
  call_is(l, "extend", mproc_build("[[ii]]", 4, 5), "None");
  call_is(l, "__getitem__", mproc_build("[(iin)]", 1, 3), "[2, 3]");
  call_is(l, "__len__", NULL, "5");
  str_is(l, "[1, 2, 3, 4, 5]");
  step("list");

  OK(mproc_manager_dict(m, NULL, &d));
  call_is(d, "__setitem__", mproc_build("[si]", "a", 1), "None");
  call_is(d, "update", mproc_build("[{si}]", "b", 2), "None");
  call_is(d, "get", mproc_build("[s]", "a"), "1");
  call_is(d, "__setitem__", mproc_build("[sO]", "l", mproc_proxy_ref(l)),
          "None");
  OK(mproc_proxy_call(d, "__getitem__", mproc_build("[s]", "l"), &r));
  OK(mproc_value_get_proxy(r, &l2));
  call_is(l2, "append", mproc_build("[i]", 6), "None");
  mproc_value_free(r);
  str_is(l, "[1, 2, 3, 4, 5, 6]");
  call_is(d, "__len__", NULL, "3");
  step("dict (holding the list)");

  OK(mproc_manager_namespace(m, &ns));
  call_is(ns, "__setattr__", mproc_build("[si]", "x", 7), "None");
  call_is(ns, "__getattribute__", mproc_build("[s]", "x"), "7");
  OK(mproc_manager_array(m, 'i', mproc_build("[iii]", 1, 2, 3), &a));
  call_is(a, "__setitem__", mproc_build("[ii]", 0, 9), "None");
  str_is(a, "array('i', [9, 2, 3])");
  step("Namespace, Array");

  OK(mproc_manager_joinablequeue(m, 0, &jq));
  call_is(jq, "put", mproc_build("[s]", "job"), "None");
  call_is(jq, "get", NULL, "'job'");
  call_is(jq, "task_done", NULL, "None");
  call_is(jq, "join", NULL, "None");
  OK(mproc_manager_rlock(m, &rl));
  call_is(rl, "acquire", NULL, "True");
  call_is(rl, "acquire", NULL, "True");
  call_is(rl, "release", NULL, "None");
  call_is(rl, "release", NULL, "None");
  OK(mproc_manager_bsemaphore(m, 1, &bs));
  call_is(bs, "acquire", NULL, "True");
  call_is(bs, "release", NULL, "None");
  rc = mproc_proxy_call(bs, "release", NULL, NULL);
  EXPECT(rc == MPROC_EINVAL, "BoundedSemaphore over-release gave %s",
         mproc_errname(rc));
  OK(mproc_manager_condition(m, &cv));
  call_is(cv, "acquire", NULL, "True");
  call_is(cv, "wait", mproc_build("[f]", 0.05), "False");
  call_is(cv, "notify_all", NULL, "None");
  call_is(cv, "release", NULL, "None");
  step("JoinableQueue, RLock, BoundedSemaphore, Condition");

  OK(mproc_manager_value(m, 'i', mproc_int(0), &v));
  OK(mproc_manager_lock(m, &lk));
  OK(mproc_manager_event(m, &ev));
  OK(mproc_manager_barrier(m, 3, MPROC_FOREVER, &b));
  OK(mproc_manager_semaphore(m, 0, &sem));
  for (i = 0; i < 3; i++) {
    OK(mproc_process_new(
        &kids[i], child_worker,
        mproc_build("[ssOOOOOOOi]", addr, key, mproc_proxy_ref(l),
                    mproc_proxy_ref(v), mproc_proxy_ref(lk),
                    mproc_proxy_ref(q), mproc_proxy_ref(ev),
                    mproc_proxy_ref(b), mproc_proxy_ref(sem), (int64_t)i),
        NULL));
    OK(mproc_process_start(kids[i]));
  }
  call_is(ev, "set", NULL, "None");
  for (i = 0; i < 3; i++) /* each child releases once at its end */
    call_is(sem, "acquire", mproc_build("[bi]", 1, 60), "True");
  for (i = 0; i < 3; i++) {
    OK(mproc_process_join(kids[i], 60));
    OK(mproc_process_exitcode(kids[i], &code));
    EXPECT(code == 0, "child %d exit %d", i, code);
    mproc_process_free(kids[i]);
  }
  call_is(v, "get", NULL, "60");
  for (i = 0; i < 3; i++) {
    OK(mproc_proxy_call(q, "get", mproc_build("[bi]", 1, 10), &r));
    OK(mproc_value_get_int(r, &x));
    mproc_value_free(r);
    EXPECT(x >= 0 && x < 3 && !got[x]++, "queue item %lld", (long long)x);
  }
  call_is(l, "__len__", NULL, "9");
  step("3 children: Event, Lock + Value (60 increments), list, Queue, "
       "Barrier, Semaphore");

  /* The server killed while a child waits in a get. */
  blocked = start_blocked_get(addr, key, q);
  EXPECT(kill((pid_t)pid, SIGKILL) == 0, "kill the server");
  t0 = mproc_monotonic();
  printf("netns client: the blocked get failed with MPROC_EEOF %.2f s after "
         "the kill\n",
         blocked_get_failed(blocked, t0, "the blocked get"));
  rc = mproc_proxy_call(l, "__len__", NULL, &r);
  EXPECT(rc == MPROC_EEOF, "a call after the kill gave %s",
         mproc_errname(rc));
  rc = mproc_manager_connect(&c2, addr, key, strlen(key));
  EXPECT(rc == MPROC_EEOF, "a connect after the kill gave %s",
         mproc_errname(rc));
  step("server killed: blocked get, call and connect fail with MPROC_EEOF");

  mproc_proxy_free(info);
  mproc_proxy_free(q);
  mproc_proxy_free(l);
  mproc_proxy_free(d);
  mproc_proxy_free(ns);
  mproc_proxy_free(a);
  mproc_proxy_free(v);
  mproc_proxy_free(lk);
  mproc_proxy_free(ev);
  mproc_proxy_free(b);
  mproc_proxy_free(sem);
  mproc_proxy_free(jq);
  mproc_proxy_free(rl);
  mproc_proxy_free(bs);
  mproc_proxy_free(cv);
  mproc_manager_free(m);
  printf("netns client: PASS\n");
  return 0;
}

static int partition(const char *addr, const char *key) {
  mproc_manager *m = NULL;
  mproc_proxy *q = NULL, *lk = NULL;
  mproc_process *p;
  double t0;
  int code = -1;
  OK(connect_wait(addr, key, &m));
  OK(mproc_manager_get(m, "queue", NULL, &q));
  OK(mproc_manager_get(m, "lock", NULL, &lk));
  call_is(lk, "acquire", NULL, "True");
  p = start_blocked_get(addr, key, q);
  step("holding the lock, a child blocked in queue.get()");
  EXPECT(system("ip link set dev mproc-b down") == 0, "link down");
  t0 = mproc_monotonic();
  printf("netns client: the network cut: the blocked get failed with "
         "MPROC_EEOF %.1f s later (keepalive %s)\n",
         blocked_get_failed(p, t0, "the get cut off"),
         getenv("MPROC_TCP_KEEPALIVE"));
  EXPECT(system("ip link set dev mproc-b up") == 0, "link up");
  /* The server saw this vanished client's connections fail too. */
  OK(mproc_process_new(&p, child_lock_orphaned,
                       mproc_build("[ss]", addr, key), NULL));
  OK(mproc_process_start(p));
  OK(mproc_process_join(p, 90));
  OK(mproc_process_exitcode(p, &code));
  EXPECT(code == 0, "the lock of the vanished client: child exit %d", code);
  step("the link back: a new client takes the lock with MPROC_EOWNERDEAD");
  mproc_proxy_free(q);
  mproc_proxy_free(lk);
  mproc_manager_free(m);
  printf("netns client: partition PASS\n");
  return 0;
}

int main(int argc, char **argv) {
  int rc = mproc_init(argc, argv);
  if (rc) {
    fprintf(stderr, "mproc_init: %s\n", mproc_last_error());
    return 1;
  }
  if (argc == 4 && !strcmp(argv[1], "server"))
    return serve(argv[2], argv[3]);
  if (argc == 4 && !strcmp(argv[1], "client"))
    return client(argv[2], argv[3]);
  if (argc == 4 && !strcmp(argv[1], "partition"))
    return partition(argv[2], argv[3]);
  fprintf(stderr, "usage: netns_peer server|client|partition ADDR KEY\n");
  return 2;
}
