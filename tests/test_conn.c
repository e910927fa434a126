/*
 * test_conn.c - Pipe / Connection: values and bytes both ways, simplex
 * rules, message sizes from 0 B to 16 MiB and past the OS buffer, order,
 * recv_bytes_into, poll, close, EOF from a closed or crashed peer, and
 * mproc_wait over connections and sentinels.  Tcase "python": Python's
 * send_bytes(offset, size), recv_bytes(maxlength), recv_bytes_into(offset)
 * and their ValueError cases, negative and NaN timeouts of poll and wait,
 * messages larger than the first record kept whole, and records that
 * break the framing (POSIX).
 * Tcase "records": sizes on both sides of the 4 KiB and 64 KiB record
 * boundaries and 1 MiB, both ways, with recv_bytes, recv_bytes_into(_at)
 * and recv_bytes_max; a message up to 64 KiB is one record (POSIX); the
 * 12-byte header in a record; a peer killed after a first record; a send
 * buffer too small for a 64 KiB record (POSIX).
 * Tcase "sleep": mproc_sleep to a deadline (under a storm of signals on
 * POSIX), and its NaN, negative and +inf arguments.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* sigaction, pthread_kill */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#if !defined(_WIN32)
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#endif

#include "mproc_int.h"
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

/* ---- Python's send_bytes / recv_bytes / recv_bytes_into arguments ------- */

/* Receive one message on b and check it is want (n bytes). */
static void expect_msg(mproc_conn *b, const char *want, size_t n) {
  void *got;
  size_t len;
  ck_mproc_ok(mproc_conn_recv_bytes(b, &got, &len));
  ck_assert_uint_eq(len, n);
  ck_assert(n == 0 || memcmp(got, want, n) == 0);
  mproc_free(got);
}

/* The detail of the last error ends with tail. */
static void ck_detail_ends(const char *tail) {
  const char *e = mproc_last_error();
  size_t le = strlen(e), lt = strlen(tail);
  ck_assert_msg(le >= lt && strcmp(e + le - lt, tail) == 0,
                "detail '%s' does not end with '%s'", e, tail);
}

START_TEST(send_bytes_offset_and_size) {
  static const char hw[] = "hello world"; /* 11 bytes */
  mproc_conn *a, *b;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  /* The cases of Python's send_bytes, run with python3 for reference. */
  ck_mproc_ok(mproc_conn_send_bytes_range(a, hw, 11, 5, MPROC_NOSIZE));
  expect_msg(b, " world", 6);
  ck_mproc_ok(mproc_conn_send_bytes_range(a, hw, 11, 5, 6));
  expect_msg(b, " world", 6);
  ck_mproc_ok(mproc_conn_send_bytes_range(a, hw, 11, 5, 5));
  expect_msg(b, " worl", 5);
  ck_mproc_ok(mproc_conn_send_bytes_range(a, hw, 11, 0, 11));
  expect_msg(b, hw, 11);
  ck_mproc_ok(mproc_conn_send_bytes_range(a, hw, 11, 11, 0));
  expect_msg(b, "", 0);
  ck_mproc_ok(mproc_conn_send_bytes_range(a, hw, 11, 11, MPROC_NOSIZE));
  expect_msg(b, "", 0);
  ck_mproc_ok(mproc_conn_send_bytes_range(a, hw, 11, 0, MPROC_NOSIZE));
  expect_msg(b, hw, 11);
  /* Python's ValueErrors, in its words. */
  ck_mproc(mproc_conn_send_bytes_range(a, hw, 11, -1, MPROC_NOSIZE),
           MPROC_EINVAL);
  ck_detail_ends("offset is negative");
  ck_mproc(mproc_conn_send_bytes_range(a, hw, 11, 20, MPROC_NOSIZE),
           MPROC_EINVAL);
  ck_detail_ends("buffer length < offset");
  ck_mproc(mproc_conn_send_bytes_range(a, hw, 11, 12, 0), MPROC_EINVAL);
  ck_detail_ends("buffer length < offset");
  ck_mproc(mproc_conn_send_bytes_range(a, hw, 11, 5, -2), MPROC_EINVAL);
  ck_detail_ends("size is negative");
  ck_mproc(mproc_conn_send_bytes_range(a, hw, 11, 5, INT64_MIN),
           MPROC_EINVAL);
  ck_detail_ends("size is negative");
  ck_mproc(mproc_conn_send_bytes_range(a, hw, 11, 5, 7), MPROC_EINVAL);
  ck_detail_ends("buffer length < offset + size");
  ck_mproc(mproc_conn_send_bytes_range(a, hw, 11, 1, INT64_MAX),
           MPROC_EINVAL);
  ck_detail_ends("buffer length < offset + size");
  ck_mproc(mproc_conn_send_bytes_range(a, NULL, 3, 0, 1), MPROC_EINVAL);
  /* Nothing of the refused calls reached the peer. */
  ck_assert_int_eq(mproc_conn_poll(b, 0), 0);
  /* A range past the one-copy size (two pieces written) from the middle
   * of a buffer, within the OS pipe buffer (no reader runs meanwhile). */
  {
    size_t big = (size_t)1 << 20, i;
    unsigned char *p = malloc(big);
    ck_assert(p != NULL);
    for (i = 0; i < big; i++)
      p[i] = (unsigned char)(i * 7);
    ck_mproc_ok(mproc_conn_send_bytes_range(a, p, big, 3, 30000));
    expect_msg(b, (const char *)p + 3, 30000);
    free(p);
  }
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(empty_messages_without_a_buffer) {
  /* send_bytes(c, NULL, 0) is a 0-byte message (the sanitizer leg runs
   * it: no NULL + 0 on any path), received into NULL, 0 too. */
  mproc_conn *a, *b;
  size_t n = 99;
  ck_mproc_ok(mproc_pipe(&a, &b, 0));
  ck_mproc_ok(mproc_conn_send_bytes(b, NULL, 0));
  ck_mproc_ok(mproc_conn_send_bytes_range(b, NULL, 0, 0, MPROC_NOSIZE));
  ck_mproc_ok(mproc_conn_send_bytes_range(b, NULL, 0, 0, 0));
  ck_mproc_ok(mproc_conn_send_bytes(b, "z", 1));
  ck_mproc_ok(mproc_conn_recv_bytes_into(a, NULL, 0, &n));
  ck_assert_uint_eq(n, 0);
  ck_mproc_ok(mproc_conn_recv_bytes_into_at(a, NULL, 0, 0, &n));
  ck_assert_uint_eq(n, 0);
  expect_msg(a, "", 0);
  ck_mproc(mproc_conn_recv_bytes_into(a, NULL, 0, &n), MPROC_EBUFSIZE);
  ck_assert_uint_eq(n, 1);
  expect_msg(a, "z", 1);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(recv_bytes_maxlength) {
  mproc_conn *a, *b, *r, *w;
  void *got = NULL;
  size_t n = 0;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_conn_send_bytes(a, "0123456789", 10));
  ck_mproc_ok(mproc_conn_send_bytes(a, "abc", 3));
  ck_mproc(mproc_conn_recv_bytes_max(b, &got, &n, -2), MPROC_EINVAL);
  ck_detail_ends("negative maxlength");
  ck_mproc_ok(mproc_conn_recv_bytes_max(b, &got, &n, 10)); /* fits exactly */
  ck_assert_uint_eq(n, 10);
  ck_assert(memcmp(got, "0123456789", 10) == 0);
  mproc_free(got);
  ck_mproc_ok(mproc_conn_recv_bytes_max(b, &got, &n, MPROC_NOSIZE));
  ck_assert_uint_eq(n, 3);
  mproc_free(got);
  /* Longer than maxlength: Python's OSError "bad message length"; a duplex
   * end becomes write-only (Python's _bad_message_length). */
  ck_mproc_ok(mproc_conn_send_bytes(a, "0123456789", 10));
  ck_mproc(mproc_conn_recv_bytes_max(b, &got, &n, 5), MPROC_ETOOBIG);
  ck_assert_msg(strstr(mproc_last_error(), "bad message length") != NULL,
                "%s", mproc_last_error());
  ck_assert(!mproc_conn_closed(b));
  ck_assert(!mproc_conn_readable(b) && mproc_conn_writable(b));
  ck_mproc(mproc_conn_recv_bytes(b, &got, &n), MPROC_EACCESS);
  ck_mproc_ok(mproc_conn_send_bytes(b, "still", 5));
  expect_msg(a, "still", 5);
  mproc_conn_free(a);
  mproc_conn_free(b);
  /* A receive-only end is closed. */
  ck_mproc_ok(mproc_pipe(&r, &w, 0));
  ck_mproc_ok(mproc_conn_send_bytes(w, "0123456789", 10));
  ck_mproc(mproc_conn_recv_bytes_max(r, &got, &n, 0), MPROC_ETOOBIG);
  ck_assert_msg(strstr(mproc_last_error(), "bad message length") != NULL,
                "%s", mproc_last_error());
  ck_assert(mproc_conn_closed(r));
  ck_mproc(mproc_conn_recv_bytes(r, &got, &n), MPROC_ECLOSED);
  ck_mproc_ok(mproc_conn_close(r)); /* closing again: a no-op */
  mproc_conn_free(r);
  mproc_conn_free(w);
}
END_TEST

START_TEST(recv_bytes_into_at_offset) {
  mproc_conn *a, *b;
  char buf[8];
  size_t n = 0;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_conn_send_bytes(a, "abcd", 4));
  memset(buf, '.', sizeof buf);
  ck_mproc(mproc_conn_recv_bytes_into_at(b, buf, 8, -1, &n), MPROC_EINVAL);
  ck_detail_ends("negative offset");
  ck_mproc(mproc_conn_recv_bytes_into_at(b, buf, 8, 9, &n), MPROC_EINVAL);
  ck_detail_ends("offset too large");
  /* Offset 8 of 8 is allowed, and nothing fits there: BufferTooShort. */
  ck_mproc(mproc_conn_recv_bytes_into_at(b, buf, 8, 8, &n), MPROC_EBUFSIZE);
  ck_assert_uint_eq(n, 4);
  ck_mproc(mproc_conn_recv_bytes_into_at(b, buf, 8, 5, &n), MPROC_EBUFSIZE);
  ck_assert_uint_eq(n, 4);
  /* The message was kept: it lands at offset 3 (3 + 4 <= 8). */
  ck_mproc_ok(mproc_conn_recv_bytes_into_at(b, buf, 8, 3, &n));
  ck_assert_uint_eq(n, 4);
  ck_assert(memcmp(buf, "...abcd.", 8) == 0);
  ck_mproc_ok(mproc_conn_send_bytes(a, "wxyz", 4));
  ck_mproc_ok(mproc_conn_recv_bytes_into_at(b, buf, 8, 4, &n));
  ck_assert(memcmp(buf, "...awxyz", 8) == 0);
  ck_assert_int_eq(mproc_conn_poll(b, 0), 0);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(big_message_kept_then_received) {
  /* A message longer than the first record (4 KiB) that does not fit is
   * kept whole, including the part already taken from the OS, and so is
   * the one behind it; values of every size class come through too. */
  mproc_conn *a, *b;
  unsigned char *p = pattern(100000, 9), *got = malloc(100000);
  void *none = NULL;
  size_t n = 0, sizes[] = {10, 600, 3000, 5000, 30000}, i;
  ck_assert(got != NULL);
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_conn_send_bytes(a, p, 10000));
  ck_mproc_ok(mproc_conn_send_bytes(a, p + 1, 4093));
  ck_mproc(mproc_conn_recv_bytes_into(b, got, 100, &n), MPROC_EBUFSIZE);
  ck_assert_uint_eq(n, 10000);
  ck_assert_int_eq(mproc_conn_poll(b, 0), 1);
  ck_mproc(mproc_conn_recv_bytes_into_at(b, got, 10000, 1, &n),
           MPROC_EBUFSIZE);
  ck_mproc_ok(mproc_conn_recv_bytes_into_at(b, got, 100000, 7, &n));
  ck_assert_uint_eq(n, 10000);
  ck_assert(memcmp(got + 7, p, 10000) == 0);
  ck_mproc_ok(mproc_conn_recv_bytes_into(b, got, 100000, &n));
  ck_assert_uint_eq(n, 4093);
  ck_assert(memcmp(got, p + 1, 4093) == 0);
  /* Past maxlength, a multi-record message on a receive-and-send end. */
  ck_mproc_ok(mproc_conn_send_bytes(a, p, 9000));
  ck_mproc(mproc_conn_recv_bytes_max(b, &none, &n, 8999), MPROC_ETOOBIG);
  ck_assert(none == NULL);
  ck_mproc_ok(mproc_conn_send_bytes(b, "ok", 2));
  expect_msg(a, "ok", 2);
  /* (30000: below the smallest OS buffer, Win32's 64 KiB, as nobody
   * reads while it is sent.) */
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    mproc_value *v = mproc_build("[i y]", (int)i, p, sizes[i]), *back;
    ck_mproc_ok(mproc_conn_send(b, v));
    ck_mproc_ok(mproc_conn_recv(a, &back));
    ck_assert(mproc_value_equal(v, back));
    mproc_value_free(v);
    mproc_value_free(back);
  }
  free(got);
  free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Write raw bytes (one record on a record handle) on c's handle. */
static void raw_write(mproc_conn *c, const void *p, size_t n) {
  ck_mproc_ok(mproc__plat_stream_write(mproc__conn_handle(c), p, n));
}

START_TEST(broken_records_close_the_connection) {
  /* Records that break the framing (a writer that is not mproc): the
   * receiver says so and closes the end; it never takes bytes of another
   * message.  Byte streams (Win32 pipes) have no records to check. */
  static const unsigned char too_short[3] = {0, 0, 0};
  static const unsigned char too_long[10] = {0, 0, 0, 2, 'a', 'b',
                                             'c', 'd', 'e', 'f'};
  static const unsigned char head[6] = {0, 0, 0, 10, 'a', 'b'};
  static const unsigned char rest[20] = {0};
  mproc_conn *a, *b;
  void *got = NULL;
  size_t n = 0;
  int round;
  for (round = 0; round < 3; round++) {
    ck_mproc_ok(mproc_pipe(&a, &b, 1));
    if (!mproc__plat_stream_records(mproc__conn_handle(a))) {
      mproc_conn_free(a);
      mproc_conn_free(b);
      return;
    }
    if (round == 0) {
      raw_write(b, too_short, sizeof too_short);
    } else if (round == 1) {
      raw_write(b, too_long, sizeof too_long);
    } else {
      raw_write(b, head, sizeof head); /* 10 bytes due, 2 here ... */
      raw_write(b, rest, sizeof rest); /* ... and 20 more in one record */
    }
    raw_write(b, "\0\0\0\1z", 5); /* a good message behind */
    ck_mproc(mproc_conn_recv_bytes(a, &got, &n), MPROC_EBADMSG);
    ck_assert_msg(strstr(mproc_last_error(), "connection is closed") != NULL,
                  "%s", mproc_last_error());
    ck_assert(mproc_conn_closed(a));
    ck_assert(got == NULL);
    mproc_conn_free(a);
    mproc_conn_free(b);
  }
}
END_TEST

/* ---- record boundaries (tcase "records") ---------------------------------
 * On POSIX a message whose header and body fit 64 KiB is one record (one
 * send, one recv); larger ones are a first record of 64 KiB and pieces.
 * The sizes sit on both sides of each boundary: the old 4 KiB first
 * record, the 64 KiB one, and a 1 MiB streamed message. */
static const size_t rec_sizes[] = {4091,  4092,  4093,    4095,  4096,
                                   4097,  65531, 65532,   65533, 65535,
                                   65536, 65537, 1u << 20};
#define N_REC_SIZES (sizeof rec_sizes / sizeof rec_sizes[0])
#define REC_ROOM ((size_t)2 << 20)

/* Receive one message with recv_bytes, recv_bytes_into or
 * recv_bytes_max (mode 0, 1, 2); *buf is freed with free(). */
static int recv_mode(mproc_conn *c, int mode, unsigned char **buf, size_t *n) {
  void *p = NULL;
  int rc;
  if (mode == 1) {
    *buf = malloc(REC_ROOM);
    if (!*buf)
      return MPROC_ENOMEM;
    rc = mproc_conn_recv_bytes_into(c, *buf, REC_ROOM, n);
    if (rc) {
      free(*buf);
      *buf = NULL;
    }
    return rc;
  }
  rc = mode == 0 ? mproc_conn_recv_bytes(c, &p, n)
                 : mproc_conn_recv_bytes_max(c, &p, n, (int64_t)REC_ROOM);
  if (rc)
    return rc;
  *buf = malloc(*n ? *n : 1);
  if (*n)
    memcpy(*buf, p, *n);
  mproc_free(p);
  return 0;
}

/* Echoes every message back, receiving with the three functions in turn;
 * returns the count at EOF. */
static int echo_modes(mproc_value *args) {
  mproc_conn *c = arg_conn(args, 0);
  int count = 0;
  for (;;) {
    unsigned char *buf = NULL;
    size_t n = 0;
    int rc = recv_mode(c, count % 3, &buf, &n);
    if (rc == MPROC_EEOF)
      return count;
    if (rc)
      return 100;
    rc = mproc_conn_send_bytes(c, buf, n);
    free(buf);
    if (rc)
      return 101;
    count++;
  }
}

START_TEST(boundary_sizes_both_ways) {
  mproc_conn *a, *b;
  mproc_process *p;
  size_t i;
  int mode, code, k = 0;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, echo_modes, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(b);
  for (mode = 0; mode < 3; mode++)
    for (i = 0; i < N_REC_SIZES; i++, k++) {
      unsigned char *out = pattern(rec_sizes[i], (unsigned)k), *back = NULL;
      size_t n = 0;
      ck_mproc_ok(mproc_conn_send_bytes(a, out, rec_sizes[i]));
      ck_mproc_ok(recv_mode(a, mode, &back, &n));
      ck_assert_uint_eq(n, rec_sizes[i]);
      ck_assert_msg(memcmp(back, out, n) == 0, "size %lu mode %d damaged",
                    (unsigned long)n, mode);
      free(back);
      free(out);
    }
  mproc_conn_close(a);
  ck_mproc_ok(mproc_process_join(p, 120));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, k);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Sends each of rec_sizes once, then returns. */
static int send_rec_sizes(mproc_value *args) {
  mproc_conn *c = arg_conn(args, 0);
  size_t i;
  for (i = 0; i < N_REC_SIZES; i++) {
    unsigned char *out = pattern(rec_sizes[i], (unsigned)i);
    int rc = mproc_conn_send_bytes(c, out, rec_sizes[i]);
    free(out);
    if (rc)
      return 1;
  }
  return 0;
}

START_TEST(boundary_sizes_kept_when_short) {
  /* A buffer one byte short keeps the message (the part already taken
   * from the OS included); the exact buffer, at an offset, then gets it. */
  mproc_conn *a, *b;
  mproc_process *p;
  unsigned char *got = malloc(REC_ROOM + 3);
  size_t i;
  int code;
  ck_assert(got != NULL);
  ck_mproc_ok(mproc_pipe(&a, &b, 0));
  ck_mproc_ok(
      mproc_process_new(&p, send_rec_sizes, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(b);
  for (i = 0; i < N_REC_SIZES; i++) {
    unsigned char *want = pattern(rec_sizes[i], (unsigned)i);
    size_t n = 0;
    ck_mproc(mproc_conn_recv_bytes_into_at(a, got, rec_sizes[i] + 2, 3, &n),
             MPROC_EBUFSIZE);
    ck_assert_uint_eq(n, rec_sizes[i]);
    ck_assert_int_eq(mproc_conn_poll(a, 0), 1);
    ck_mproc_ok(mproc_conn_recv_bytes_into_at(a, got, rec_sizes[i] + 3, 3, &n));
    ck_assert_uint_eq(n, rec_sizes[i]);
    ck_assert_msg(memcmp(got + 3, want, n) == 0, "size %lu damaged",
                  (unsigned long)n);
    free(want);
  }
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 0);
  mproc_process_free(p);
  free(got);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Sends one message of the size in args[1], then returns. */
static int send_one_size(mproc_value *args) {
  int64_t size = 0;
  unsigned char *out;
  int rc;
  mproc_value_get_int(mproc_list_get(args, 1), &size);
  out = pattern((size_t)size, 5);
  rc = mproc_conn_send_bytes(arg_conn(args, 0), out, (size_t)size);
  free(out);
  return rc ? 1 : 0;
}

START_TEST(boundary_sizes_past_maxlength) {
  /* maxlength one byte short, on either side of the 64 KiB record: the
   * message is refused and the duplex end becomes write-only; maxlength
   * equal to the size takes it. */
  static const size_t sizes[] = {65532, 65533, 1u << 20};
  size_t i;
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    mproc_conn *a, *b;
    mproc_process *p;
    void *got = NULL;
    size_t n = 0;
    int ok;
    for (ok = 0; ok < 2; ok++) {
      ck_mproc_ok(mproc_pipe(&a, &b, 1));
      ck_mproc_ok(mproc_process_new(
          &p, send_one_size, mproc_build("[C L]", b, (int64_t)sizes[i]), NULL));
      ck_mproc_ok(mproc_process_start(p));
      mproc_conn_close(b);
      if (ok) {
        unsigned char *want = pattern(sizes[i], 5);
        ck_mproc_ok(mproc_conn_recv_bytes_max(a, &got, &n, (int64_t)sizes[i]));
        ck_assert_uint_eq(n, sizes[i]);
        ck_assert(memcmp(got, want, n) == 0);
        mproc_free(got);
        free(want);
      } else {
        ck_mproc(mproc_conn_recv_bytes_max(a, &got, &n, (int64_t)sizes[i] - 1),
                 MPROC_ETOOBIG);
        ck_assert(got == NULL);
        ck_assert(!mproc_conn_readable(a));
        ck_assert(mproc_conn_writable(a));
      }
      mproc_conn_close(a); /* a sender still writing sees EOF */
      ck_mproc_ok(mproc_process_join(p, 60));
      mproc_process_free(p);
      mproc_conn_free(a);
      mproc_conn_free(b);
    }
  }
}
END_TEST

/* Writes a header claiming args[2] bytes and args[1] of them (one raw
 * write: one record on POSIX), then dies without writing the rest. */
static int die_mid_message(mproc_value *args) {
  int64_t part = 0, claim = 0;
  unsigned char *buf;
  mproc_conn *c = arg_conn(args, 0);
  mproc_value_get_int(mproc_list_get(args, 1), &part);
  mproc_value_get_int(mproc_list_get(args, 2), &claim);
  buf = pattern((size_t)part + 4, 1);
  buf[0] = (unsigned char)(claim >> 24);
  buf[1] = (unsigned char)(claim >> 16);
  buf[2] = (unsigned char)(claim >> 8);
  buf[3] = (unsigned char)claim;
  mproc__plat_stream_write(mproc__conn_handle(c), buf, (size_t)part + 4);
  abort();
}

START_TEST(peer_killed_mid_message) {
  /* The peer dies after the first record of a longer message (the most
   * a first record holds, and less): every receive function reports
   * EEOF in the middle of a message, never a short or damaged one. */
  static const int64_t parts[][2] = {
      {65532, 65533}, {65532, 1 << 20}, {4092, 65532}, {100, 65536}};
  size_t i;
  for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    mproc_conn *a, *b;
    mproc_process *p;
    unsigned char *into = malloc(REC_ROOM);
    void *got = NULL;
    size_t n = 0;
    int mode = (int)(i % 3), code = 0;
    ck_assert(into != NULL);
    ck_mproc_ok(mproc_pipe(&a, &b, 0));
    ck_mproc_ok(mproc_process_new(
        &p, die_mid_message,
        mproc_build("[C L L]", b, parts[i][0], parts[i][1]), NULL));
    ck_mproc_ok(mproc_process_start(p));
    mproc_conn_close(b);
    if (mode == 0)
      ck_mproc(mproc_conn_recv_bytes(a, &got, &n), MPROC_EEOF);
    else if (mode == 1)
      ck_mproc(mproc_conn_recv_bytes_into(a, into, REC_ROOM, &n), MPROC_EEOF);
    else
      ck_mproc(mproc_conn_recv_bytes_max(a, &got, &n, (int64_t)REC_ROOM),
               MPROC_EEOF);
    ck_assert_msg(strstr(mproc_last_error(), "middle of a message") != NULL,
                  "%s", mproc_last_error());
    ck_assert(got == NULL);
    ck_mproc_ok(mproc_process_join(p, 60));
    ck_mproc_ok(mproc_process_exitcode(p, &code));
    ck_assert_int_ne(code, 0);
    mproc_process_free(p);
    free(into);
    mproc_conn_free(a);
    mproc_conn_free(b);
  }
}
END_TEST

/* Says its last words, waits until the parent has written to it and
 * ends without reading that: its end closes with unread data. */
static int last_words(mproc_value *args) {
  mproc_conn *c = arg_conn(args, 0);
  if (mproc_conn_send_bytes(c, "bye", 3) != 0)
    return 2;
  return mproc_conn_poll(c, 60) == 1 ? 0 : 3;
}

START_TEST(last_words_before_an_unread_close) {
  /* A peer that ends with data it never read (a pool worker killed with
   * its next chunk queued) resets the connection (POSIX: ECONNRESET once,
   * before its queued messages): what it sent first is still received,
   * then EEOF; before, its last words were lost. */
  mproc_conn *a, *b;
  mproc_process *p;
  void *got = NULL;
  size_t n = 0;
  int code = -1;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_mproc_ok(mproc_process_new(&p, last_words, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(b);
  ck_mproc_ok(mproc_conn_send_bytes(a, "unread", 6));
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 0);
  ck_mproc_ok(mproc_conn_recv_bytes(a, &got, &n));
  ck_assert_uint_eq(n, 3);
  ck_assert(memcmp(got, "bye", 3) == 0);
  mproc_free(got);
  got = NULL;
  ck_mproc(mproc_conn_recv_bytes(a, &got, &n), MPROC_EEOF);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(long_header_in_a_record) {
  /* POSIX: the 12-byte header (0xFFFFFFFF and a 64-bit length) in a
   * record with its body is read as such, by every receive function; a
   * record cut inside it breaks the framing. */
  static const unsigned char msg[17] = {
      0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  mproc_conn *a, *b;
  mproc_value *v = NULL;
  void *got = NULL;
  char into[8];
  size_t n = 0;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  if (!mproc__plat_stream_records(mproc__conn_handle(a))) {
    mproc_conn_free(a);
    mproc_conn_free(b);
    return;
  }
  {
    /* After a 5000-byte message the next header is read apart (recvmsg):
     * the first long header below goes that way, the rest plainly. */
    unsigned char *big = pattern(5000, 3);
    ck_mproc_ok(mproc_conn_send_bytes(b, big, 5000));
    ck_mproc_ok(mproc_conn_recv_bytes(a, &got, &n));
    ck_assert_uint_eq(n, 5000);
    ck_assert(memcmp(got, big, 5000) == 0);
    mproc_free(got);
    free(big);
  }
  raw_write(b, msg, sizeof msg);
  ck_mproc_ok(mproc_conn_recv_bytes(a, &got, &n));
  ck_assert_uint_eq(n, 5);
  ck_assert(memcmp(got, "hello", 5) == 0);
  mproc_free(got);
  raw_write(b, msg, sizeof msg);
  ck_mproc(mproc_conn_recv_bytes_into(a, into, 4, &n), MPROC_EBUFSIZE);
  ck_assert_uint_eq(n, 5);
  ck_mproc_ok(mproc_conn_recv_bytes_into_at(a, into, 8, 3, &n));
  ck_assert(memcmp(into + 3, "hello", 5) == 0);
  {
    /* A value of 600 bytes (past recv's stack buffer), long header. */
    mproc__buf e = MPROC__BUF_INIT;
    mproc_value *s = mproc_bytes(msg, 1), *big = mproc_list();
    int k;
    for (k = 0; k < 300; k++)
      mproc_list_append(big, mproc_value_copy(s));
    ck_mproc_ok(mproc__buf_append(&e, msg, 12));
    ck_mproc_ok(mproc__encode(big, &e, NULL));
    e.p[11] = (unsigned char)(e.len - 12);
    e.p[10] = (unsigned char)((e.len - 12) >> 8);
    ck_assert_uint_gt(e.len - 12, 512);
    raw_write(b, e.p, e.len);
    ck_mproc_ok(mproc_conn_recv(a, &v));
    ck_assert(mproc_value_equal(v, big));
    mproc_value_free(v);
    mproc_value_free(big);
    mproc_value_free(s);
    mproc__buf_free(&e);
  }
  raw_write(b, msg, 10); /* cut inside the long header */
  ck_mproc(mproc_conn_recv_bytes(a, &got, &n), MPROC_EBADMSG);
  ck_assert(mproc_conn_closed(a));
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

#if !defined(_WIN32)
/* Shrinks its end's send buffer below one 64 KiB record, then sends
 * messages that need a first record and pieces; 2 if the buffer stayed
 * big (the test would prove nothing). */
static int send_small_sndbuf(mproc_value *args) {
  static const size_t sizes[] = {5000, 60000, 65532, 300000};
  mproc_conn *c = arg_conn(args, 0);
  int fd = (int)mproc__conn_handle(c), one = 1, now = 0;
  socklen_t len = sizeof now;
  size_t i;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &now, &len) != 0 || now >= 32768)
    return 2;
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *out = pattern(sizes[i], (unsigned)i);
    int rc = mproc_conn_send_bytes(c, out, sizes[i]);
    free(out);
    if (rc)
      return 1;
  }
  return 0;
}

START_TEST(small_send_buffer_smaller_records) {
  /* POSIX: a socket whose send buffer cannot take a 64 KiB record gets
   * smaller first records and pieces; every message arrives whole. */
  static const size_t sizes[] = {5000, 60000, 65532, 300000};
  mproc_conn *a, *b;
  mproc_process *p;
  size_t i;
  int code = -1;
  ck_mproc_ok(mproc_pipe(&a, &b, 0));
  ck_mproc_ok(
      mproc_process_new(&p, send_small_sndbuf, mproc_build("[C]", b), NULL));
  ck_mproc_ok(mproc_process_start(p));
  mproc_conn_close(b);
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *want = pattern(sizes[i], (unsigned)i);
    void *got = NULL;
    size_t n = 0;
    ck_mproc_ok(mproc_conn_recv_bytes(a, &got, &n));
    ck_assert_uint_eq(n, sizes[i]);
    ck_assert(memcmp(got, want, n) == 0);
    mproc_free(got);
    free(want);
  }
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, 0);
  mproc_process_free(p);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST
#endif

START_TEST(pipe_holds_a_pools_queued_chunks) {
  /* The pool sends a busy worker further chunks only while they fit what
   * the OS says its pipe holds (engine.c pipe_qmax: 3/4 of it, at most 48
   * KiB): both ends of a Pipe report at least 64 KiB, and 48 KiB of
   * messages sit in it unread without the writer blocking. */
  mproc_conn *a, *b;
  unsigned char *msg = pattern(16384 - 16, 7);
  int i;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  ck_assert_uint_ge(mproc__plat_stream_bufsize(mproc__conn_handle(a)), 65536);
  ck_assert_uint_ge(mproc__plat_stream_bufsize(mproc__conn_handle(b)), 65536);
  for (i = 0; i < 3; i++)
    ck_mproc_ok(mproc_conn_send_bytes(a, msg, 16384 - 16));
  for (i = 0; i < 3; i++) {
    void *got = NULL;
    size_t n = 0;
    ck_mproc_ok(mproc_conn_recv_bytes(b, &got, &n));
    ck_assert_uint_eq(n, 16384 - 16);
    ck_assert(memcmp(got, msg, n) == 0);
    mproc_free(got);
  }
  free(msg);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

START_TEST(message_up_to_64k_is_one_record) {
  /* POSIX: header and body up to 64 KiB travel as one record (one send,
   * one recv); the next byte makes a first record of 64 KiB and a second
   * one.  Byte streams (Win32 pipes) have no records. */
  static const size_t sizes[] = {1, 4093, 30000, 65532, 65533};
  mproc_conn *a, *b;
  unsigned char *buf = malloc(REC_ROOM);
  size_t i, got = 0;
  ck_assert(buf != NULL);
  ck_mproc_ok(mproc_pipe(&a, &b, 0));
  if (!mproc__plat_stream_records(mproc__conn_handle(a))) {
    free(buf);
    mproc_conn_free(a);
    mproc_conn_free(b);
    return;
  }
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *out = pattern(sizes[i], 2);
    size_t first = sizes[i] + 4 <= 65536 ? sizes[i] + 4 : 65536;
    ck_mproc_ok(mproc_conn_send_bytes(b, out, sizes[i]));
    ck_mproc_ok(mproc__plat_stream_read_record(mproc__conn_handle(a), buf,
                                               REC_ROOM, &got));
    ck_assert_uint_eq(got, first);
    ck_assert_uint_eq(buf[3] | (size_t)buf[2] << 8 | (size_t)buf[1] << 16,
                      sizes[i]);
    ck_assert(memcmp(buf + 4, out, first - 4) == 0);
    if (first - 4 < sizes[i]) {
      ck_mproc_ok(mproc__plat_stream_read_record(mproc__conn_handle(a), buf,
                                                 REC_ROOM, &got));
      ck_assert_uint_eq(got, sizes[i] - (first - 4));
      ck_assert(memcmp(buf, out + first - 4, got) == 0);
    }
    free(out);
  }
  /* A value up to 64 KiB is one record too. */
  {
    mproc_value *v = mproc_build("y", buf, (size_t)60000), *back = NULL;
    ck_mproc_ok(mproc_conn_send(b, v));
    ck_assert_int_eq(mproc_conn_poll(a, 0), 1);
    ck_mproc_ok(mproc_conn_recv(a, &back));
    ck_assert(mproc_value_equal(v, back));
    mproc_value_free(v);
    mproc_value_free(back);
  }
  free(buf);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* Sends one message on the connection after a second. */
static int send_later(void *arg) {
  mproc_sleep(1.0);
  return mproc_conn_send_bytes(arg, "late", 4);
}

START_TEST(negative_and_nan_timeouts) {
  /* A negative timeout other than MPROC_FOREVER polls (Python): it must
   * return 0 now, not block until the message sent a second later. */
  mproc_conn *a, *b;
  mproc_thread *t;
  mproc_waitable *w[1];
  int ready[1] = {7}, res = -1;
  ck_mproc_ok(mproc_pipe(&a, &b, 1));
  w[0] = mproc_conn_waitable(b);
  ck_mproc_ok(mproc_thread_start(&t, send_later, a));
  ck_assert_int_eq(mproc_conn_poll(b, -0.5), 0);
  ck_assert_int_eq(mproc_conn_poll(b, -1e300), 0);
  ck_assert_int_eq(mproc_wait(w, 1, -0.5, ready), 0);
  ck_assert_int_eq(ready[0], 0);
  ck_assert_int_eq(mproc_wait(NULL, 0, -3, NULL), 0);
  ck_mproc(mproc_conn_poll(b, NAN), MPROC_EINVAL);
  ck_mproc(mproc_wait(w, 1, NAN, ready), MPROC_EINVAL);
  ck_mproc(mproc_wait(NULL, 0, NAN, NULL), MPROC_EINVAL);
  /* FOREVER still blocks: until the late message. */
  ck_assert_int_eq(mproc_wait(w, 1, MPROC_FOREVER, ready), 1);
  ck_assert_int_eq(ready[0], 1);
  ck_mproc_ok(mproc_thread_join(t, &res));
  ck_assert_int_eq(res, 0);
  /* With a message there, a negative timeout finds it. */
  ck_assert_int_eq(mproc_conn_poll(b, -0.5), 1);
  ck_assert_int_eq(mproc_wait(w, 1, -2, ready), 1);
  expect_msg(b, "late", 4);
  mproc_conn_free(a);
  mproc_conn_free(b);
}
END_TEST

/* ---- mproc_sleep --------------------------------------------------------- */

START_TEST(sleep_odd_arguments) {
  double t0 = mproc__plat_monotonic();
  mproc_sleep(NAN);
  mproc_sleep(-NAN);
  mproc_sleep(-1.0);
  mproc_sleep(-INFINITY);
  mproc_sleep(0.0);
  mproc_sleep(1e-12);
  /* "Returns at once" (a generous bound: none of them waits at all). */
  ck_assert(mproc__plat_monotonic() - t0 < 5.0);
}
END_TEST

static int sleep_forever(mproc_value *args) {
  (void)args;
  mproc_sleep(INFINITY);
  return 3; /* never */
}

START_TEST(sleep_infinity_sleeps) {
  /* +inf sleeps (no undefined conversion: the sanitizer leg runs it in
   * the child) until killed. */
  mproc_process *p;
  int code = 0;
  ck_mproc_ok(mproc_process_new(&p, sleep_forever, NULL, NULL));
  ck_mproc_ok(mproc_process_start(p));
  ck_mproc(mproc_process_join(p, 0.5), MPROC_ETIMEDOUT);
  ck_assert_int_eq(mproc_process_is_alive(p), 1);
  ck_mproc_ok(mproc_process_kill(p));
  ck_mproc_ok(mproc_process_join(p, 60));
  ck_mproc_ok(mproc_process_exitcode(p, &code));
  ck_assert_int_eq(code, -9);
  mproc_process_free(p);
}
END_TEST

START_TEST(sleep_reaches_its_deadline) {
  /* Never short (the same monotonic clock), and not long. */
  double t0 = mproc__plat_monotonic(), took;
  mproc_sleep(0.3);
  took = mproc__plat_monotonic() - t0;
  ck_assert_msg(took >= 0.3, "slept %.6f s of 0.3", took);
  ck_assert_msg(took < 10.0, "slept %.6f s of 0.3", took);
}
END_TEST

#if !defined(_WIN32)
/*
 * A storm of signals: a thread sends SIGUSR1 (a no-op handler, no
 * SA_RESTART) to the sleeping thread as fast as it can.  A sleep that
 * restarts a relative interval after each one ends late by the restarts'
 * rounding and slack (0.5 s took 0.75 s); a sleep to a deadline ends on
 * time.  Win32 has no equivalent: nothing a process receives interrupts
 * Sleep (no asynchronous signals; a console Ctrl+C handler runs on a new
 * thread), so there is nothing to restart: the test above checks the
 * deadline arithmetic there.
 */
static volatile sig_atomic_t storm_hits;
static void on_usr1(int sig) {
  (void)sig;
  storm_hits++;
}

typedef struct storm {
  pthread_t target;
  volatile int stop;
  long sent;
} storm;

static int storm_thread(void *arg) {
  storm *s = arg;
  while (!s->stop) {
    struct timespec ts = {0, 20000}; /* 20 us */
    if (pthread_kill(s->target, SIGUSR1) != 0)
      return 1;
    s->sent++;
    nanosleep(&ts, NULL);
  }
  return 0;
}

START_TEST(sleep_under_a_signal_storm) {
  struct sigaction sa, old;
  storm s;
  mproc_thread *t;
  double t0, took;
  int res = -1;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: every signal interrupts the sleep */
  ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
  memset(&s, 0, sizeof s);
  s.target = pthread_self();
  storm_hits = 0;
  ck_mproc_ok(mproc_thread_start(&t, storm_thread, &s));
  mproc_sleep(0.05); /* the storm is up */
  t0 = mproc__plat_monotonic();
  mproc_sleep(0.5);
  took = mproc__plat_monotonic() - t0;
  s.stop = 1;
  ck_mproc_ok(mproc_thread_join(t, &res));
  ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
  ck_assert_int_eq(res, 0);
  /* The storm happened (hundreds of interruptions at least) ... */
  ck_assert_msg(storm_hits >= 100, "only %d signals arrived",
                (int)storm_hits);
  /* ... and the sleep still ended at its deadline (generously). */
  ck_assert_msg(took >= 0.5 && took <= 0.7,
                "0.5 s sleep took %.3f s under %d signals", took,
                (int)storm_hits);
}
END_TEST
#endif

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
  tc = tcase_create("python");
  tcase_add_test(tc, send_bytes_offset_and_size);
  tcase_add_test(tc, empty_messages_without_a_buffer);
  tcase_add_test(tc, recv_bytes_maxlength);
  tcase_add_test(tc, recv_bytes_into_at_offset);
  tcase_add_test(tc, big_message_kept_then_received);
  tcase_add_test(tc, broken_records_close_the_connection);
  tcase_add_test(tc, negative_and_nan_timeouts);
  suite_add_tcase(s, tc);
  tc = tcase_create("records");
  tcase_add_test(tc, message_up_to_64k_is_one_record);
  tcase_add_test(tc, long_header_in_a_record);
  tcase_add_test(tc, boundary_sizes_both_ways);
  tcase_add_test(tc, boundary_sizes_kept_when_short);
  tcase_add_test(tc, boundary_sizes_past_maxlength);
  tcase_add_test(tc, peer_killed_mid_message);
  tcase_add_test(tc, last_words_before_an_unread_close);
  tcase_add_test(tc, pipe_holds_a_pools_queued_chunks);
#if !defined(_WIN32)
  tcase_add_test(tc, small_send_buffer_smaller_records);
#endif
  suite_add_tcase(s, tc);
  tc = tcase_create("sleep");
  tcase_add_test(tc, sleep_odd_arguments);
  tcase_add_test(tc, sleep_infinity_sleeps);
  tcase_add_test(tc, sleep_reaches_its_deadline);
#if !defined(_WIN32)
  tcase_add_test(tc, sleep_under_a_signal_storm);
#endif
  suite_add_tcase(s, tc);
  return s;
}
