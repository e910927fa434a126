/*
 * test_conn.c - Pipe / Connection: values and bytes both ways, simplex
 * rules, message sizes from 0 B to 16 MiB and past the OS buffer, order,
 * recv_bytes_into, poll, close, EOF from a closed or crashed peer, and
 * mproc_wait over connections and sentinels.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"

START_TEST(duplex_values_both_ways) {
  mproc_conn *a, *b;
  mproc_value *v = mproc_build("{s:s s:i}", "name", "Bob", "spam", 42), *got;
  char *r;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_assert(mproc_conn_readable(a) && mproc_conn_writable(a));
  ck_mproc_ok(mproc_conn_send(a, v));
  ck_mproc_ok(mproc_conn_recv(b, &got));
  ck_mproc_ok(mproc_repr(got, &r));
  ck_assert_str_eq(r, "{'name': 'Bob', 'spam': 42}");
  mproc_free(r);
  mproc_value_free(got);
  ck_mproc_ok(mproc_conn_send(b, v));
  ck_mproc_ok(mproc_conn_recv(a, &got));
  ck_assert(mproc_value_equal(got, v));
  mproc_value_free(got);
  mproc_value_free(v);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(simplex_wrong_end) {
  mproc_conn *r, *w;
  mproc_value *v = mproc_int(1), *got = NULL;
  void *buf;
  size_t n;
  ck_mproc_ok(mproc_pipe(&r, &w, 0));
  ck_assert(mproc_conn_readable(r) && !mproc_conn_writable(r));
  ck_assert(!mproc_conn_readable(w) && mproc_conn_writable(w));
  ck_mproc(mproc_conn_send(r, v), MPROC_EACCESS);
  ck_mproc(mproc_conn_send_bytes(r, "x", 1), MPROC_EACCESS);
  ck_mproc(mproc_conn_recv(w, &got), MPROC_EACCESS);
  ck_mproc(mproc_conn_recv_bytes(w, &buf, &n), MPROC_EACCESS);
  ck_mproc(mproc_conn_poll(w, 0), MPROC_EACCESS);
  ck_mproc_ok(mproc_conn_send(w, v));
  ck_mproc_ok(mproc_conn_recv(r, &got));
  ck_assert(mproc_value_equal(got, v));
  mproc_value_free(got);
  mproc_value_free(v);
  mproc_conn_free(r);
  mproc_conn_free(w);
}
END_TEST

/* Echo every message back until EOF; return how many. */
static int echo(mproc_value *args) {
  mproc_conn *c = arg_conn(args, 0);
  int count = 0;
  for (;;) {
    void *buf;
    size_t n;
    int rc = mproc_conn_recv_bytes(c, &buf, &n);
    if (rc == MPROC_EEOF)
      return count;
    if (rc)
      return 100;
    rc = mproc_conn_send_bytes(c, buf, n);
    mproc_free(buf);
    if (rc)
      return 101;
    count++;
  }
}

static unsigned char *pattern(size_t n, unsigned seed) {
  unsigned char *p = malloc(n ? n : 1);
  size_t i;
  for (i = 0; i < n; i++)
    p[i] = (unsigned char)((i * 131u + seed) >> 3);
  return p;
}

START_TEST(sizes_through_a_child) {
  static const size_t sizes[] = {0, 1, 2, 4095, 65536, 1 << 20, 16u << 20,
                                 3};
  mproc_conn *a, *b;
  mproc_process *p;
  size_t i;
  int code;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, echo, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(b);
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *out = pattern(sizes[i], (unsigned)i);
    void *back;
    size_t n;
    ck_mproc_ok(mproc_conn_send_bytes(a, out, sizes[i]));
    ck_mproc_ok(mproc_conn_recv_bytes(a, &back, &n));
    ck_assert_uint_eq(n, sizes[i]);
    ck_assert(memcmp(back, out, n) == 0);
    mproc_free(back);
    free(out);
  }
  mproc_conn_close(a); /* the echo child sees EOF and returns its count */
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, (int)(sizeof sizes / sizeof sizes[0]));
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Sends 200 messages of varying sizes, numbered, then returns. */
static int burst(mproc_value *args) {
  mproc_conn *c = arg_conn(args, 0);
  int i;
  for (i = 0; i < 200; i++) {
    unsigned char *p = pattern((size_t)(i * 997) % 70000, (unsigned)i);
    mproc_value *v = mproc_build("[i y]", i, p, (size_t)(i * 997) % 70000);
    int rc = mproc_conn_send(c, v);
    mproc_value_free(v);
    free(p);
    if (rc)
      return 1;
  }
  return 0;
}

START_TEST(order_preserved) {
  mproc_conn *a, *b;
  mproc_process *p;
  int i;
  ck_mproc_ok(mproc_pipe(&a, &b, 0));
  ck_mproc_ok(mproc_process_new(&p, burst, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  for (i = 0; i < 200; i++) {
    mproc_value *v;
    int64_t k;
    const void *bytes;
    size_t n;
    unsigned char *want = pattern((size_t)(i * 997) % 70000, (unsigned)i);
    ck_mproc_ok(mproc_conn_recv(a, &v));
    ck_mproc_ok(mproc_value_get_int(mproc_list_get(v, 0), &k));
    ck_assert_int_eq(k, i);
    ck_mproc_ok(mproc_value_get_bytes(mproc_list_get(v, 1), &bytes, &n));
    ck_assert_uint_eq(n, (size_t)(i * 997) % 70000);
    ck_assert(memcmp(bytes, want, n) == 0);
    free(want);
    mproc_value_free(v);
  }
  ck_mproc_ok(mproc_process_join(p, 60));
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(recv_bytes_into_keeps_message) {
  mproc_conn *a, *b;
  char small[4], big[64];
  size_t n = 0;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_conn_send_bytes(a, "hello world", 11));
  ck_mproc_ok(mproc_conn_send_bytes(a, "2nd", 3));
  ck_mproc(mproc_conn_recv_bytes_into(b, small, sizeof small, &n),
           MPROC_EBUFSIZE);
  ck_assert_uint_eq(n, 11);
  ck_mproc_ok(mproc_conn_recv_bytes_into(b, big, sizeof big, &n));
  ck_assert_uint_eq(n, 11);
  ck_assert(memcmp(big, "hello world", 11) == 0);
  ck_mproc_ok(mproc_conn_recv_bytes_into(b, small, sizeof small, &n));
  ck_assert_uint_eq(n, 3);
  ck_assert(memcmp(small, "2nd", 3) == 0);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(poll_and_close) {
  mproc_conn *a, *b;
  mproc_value *v = mproc_none(), *got = NULL;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_assert_int_eq(mproc_conn_poll(b, 0), 0);
  ck_assert_int_eq(mproc_conn_poll(b, 0.05), 0);
  ck_mproc_ok(mproc_conn_send(a, v));
  ck_assert_int_eq(mproc_conn_poll(b, 0), 1);
  ck_assert_int_eq(mproc_conn_poll(b, MPROC_FOREVER), 1);
  ck_mproc_ok(mproc_conn_recv(b, &got));
  ck_assert_int_eq(mproc_value_type(got), MPROC_T_NONE);
  mproc_value_free(got);
  ck_mproc_ok(mproc_conn_close(a));
  ck_assert(mproc_conn_closed(a));
  ck_mproc_ok(mproc_conn_close(a)); /* closing twice is harmless */
  ck_mproc(mproc_conn_send(a, v), MPROC_ECLOSED);
  ck_mproc(mproc_conn_recv(a, &got), MPROC_ECLOSED);
  ck_mproc(mproc_conn_poll(a, 0), MPROC_ECLOSED);
  /* The peer sees EOF: poll says readable, recv says EOF, send too. */
  ck_assert_int_eq(mproc_conn_poll(b, 5), 1);
  ck_mproc(mproc_conn_recv(b, &got), MPROC_EEOF);
  ck_mproc(mproc_conn_send(b, v), MPROC_EEOF);
  mproc_value_free(v);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Waits for a word, then crashes (as a segfault or abort would). */
static int crash_after_word(mproc_value *args) {
  mproc_value *v = NULL;
  mproc_conn_recv(arg_conn(args, 0), &v);
  abort();
}

START_TEST(eof_when_peer_process_crashed) {
  mproc_conn *a, *b;
  mproc_process *p;
  mproc_value *v = mproc_str("die"), *got = NULL;
  int code = 0;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, crash_after_word, mproc_build("[C]", b),
                                NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(b); /* the child holds the only other end now */
  ck_mproc_ok(mproc_conn_send(a, v));
  ck_mproc(mproc_conn_recv(a, &got), MPROC_EEOF);
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_ne(code, 0);
  mproc_value_free(v);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

static int wait_then_return(mproc_value *args) {
  mproc_value *v = NULL;
  mproc_conn_recv(arg_conn(args, 0), &v);
  mproc_value_free(v);
  return 0;
}

START_TEST(wait_on_connections_and_sentinels) {
  mproc_conn *a1, *b1, *a2, *b2, *c1, *c2;
  mproc_process *p;
  mproc_waitable *objs[3];
  mproc_value *v = mproc_int(5), *got;
  int ready[3];
  ck_mproc_ok(mproc_pipe(&a1, &b1, 1));
  ck_mproc_ok(mproc_pipe(&a2, &b2, 1));
  ck_mproc_ok(mproc_pipe(&c1, &c2, 1));
  ck_mproc_ok(mproc_process_new(&p, wait_then_return,
                                mproc_build("[C]", c2), NULL));
  ck_mproc_ok(mproc_process_start(p));
  objs[0] = mproc_conn_waitable(b1);
  objs[1] = mproc_conn_waitable(b2);
  objs[2] = mproc_process_sentinel(p);
  ck_assert_int_eq(mproc_wait(objs, 3, 0, ready), 0);
  ck_assert_int_eq(mproc_wait(objs, 3, 0.1, ready), 0);
  ck_assert(!ready[0] && !ready[1] && !ready[2]);
  ck_mproc_ok(mproc_conn_send(a2, v));
  ck_assert_int_eq(mproc_wait(objs, 3, MPROC_FOREVER, ready), 1);
  ck_assert(!ready[0] && ready[1] && !ready[2]);
  ck_mproc_ok(mproc_conn_recv(b2, &got));
  mproc_value_free(got);
  ck_mproc_ok(mproc_conn_send(c1, v)); /* the child returns */
  ck_assert_int_eq(mproc_wait(objs, 3, 60, ready), 1);
  ck_assert(!ready[0] && !ready[1] && ready[2]);
  ck_mproc_ok(mproc_process_join(p, 60));
  /* A joined process stays ready. */
  ck_assert_int_eq(mproc_wait(objs + 2, 1, 0, ready), 1);
  mproc_value_free(v);
  mproc_process_free(p);
  mproc_conn_free(a1);
  mproc_conn_free(b1);
  mproc_conn_free(a2);
  mproc_conn_free(b2);
  mproc_conn_free(c1);
  mproc_conn_free(c2);
}
END_TEST

START_TEST(wait_on_many_connections) {
  /* More objects than mproc_wait keeps on the stack. */
  mproc_conn *a[20], *b[20];
  mproc_waitable *objs[20];
  mproc_value *v = mproc_int(1);
  int ready[20], i;
  for (i = 0; i < 20; i++) {
    ck_mproc_ok(mproc_pipe(&a[i], &b[i], 1));
    objs[i] = mproc_conn_waitable(b[i]);
  }
  ck_assert_int_eq(mproc_wait(objs, 20, 0.05, ready), 0);
  ck_mproc_ok(mproc_conn_send(a[17], v));
  ck_assert_int_eq(mproc_wait(objs, 20, MPROC_FOREVER, ready), 1);
  for (i = 0; i < 20; i++)
    ck_assert_int_eq(ready[i], i == 17);
  mproc_value_free(v);
  for (i = 0; i < 20; i++) {
    mproc_conn_free(a[i]);
    mproc_conn_free(b[i]);
  }
}
END_TEST

START_TEST(objects_only_travel_at_spawn) {
  mproc_conn *a, *b;
  mproc_value *v;
  void *buf;
  size_t n;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  v = mproc_build("[s C]", "inside", b);
  ck_mproc(mproc_conn_send(a, v), MPROC_EINHERIT);
  ck_assert_str_eq(mproc_last_error(),
                   "Connection objects should only be shared between "
                   "processes through inheritance");
  ck_mproc(mproc_encode(v, &buf, &n), MPROC_EINHERIT);
  mproc_value_free(v);
  /* The connection is still fine afterwards. */
  ck_assert_int_eq(mproc_conn_poll(b, 0), 0);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

Suite *mproc_suite_conn(void) {
  Suite *s = suite_create("conn");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, duplex_values_both_ways);
  tcase_add_test(tc, simplex_wrong_end);
  tcase_add_test(tc, sizes_through_a_child);
  tcase_add_test(tc, order_preserved);
  tcase_add_test(tc, recv_bytes_into_keeps_message);
  tcase_add_test(tc, poll_and_close);
  tcase_add_test(tc, eof_when_peer_process_crashed);
  tcase_add_test(tc, wait_on_connections_and_sentinels);
  tcase_add_test(tc, wait_on_many_connections);
  tcase_add_test(tc, objects_only_travel_at_spawn);
  suite_add_tcase(s, tc);
  return s;
}
