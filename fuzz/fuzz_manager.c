/*
 * fuzz_manager.c - libFuzzer target for the Manager server's handling of
 * what an authenticated client sends (lib/manager/server.c).
 *
 * One server (not listening for anyone: it is only adopted as this
 * process's server, so proxies to it resolve here) serves every input:
 * the input is the raw byte stream of one authenticated connection
 * (framing included: conn.c's headers, then codec messages), written to a
 * SOCK_STREAM socket pair whose other end the server reads until EOF or
 * until it closes the connection for a protocol error.  The input's
 * session ends with it, so every object it made is freed unless a transit
 * reference (an unclaimed proxy in flight) keeps it, as documented.  The
 * sanitizers catch the rest; anything wrong aborts.
 *
 * Linux only (libFuzzer): socketpair here is the test harness, not lib/.
 * Run: fuzz_manager -max_total_time=60 corpus_dir
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "manager/mgr_int.h"

static mproc__mserver *srv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const unsigned char sid[MPROC__SESSION_LEN] = {7};
  int sv[2];
  mproc_conn *c;
  size_t done = 0;
  if (size > 60000)
    return 0; /* the socket buffer holds it all before the server reads */
  if (!srv) {
    if (mproc__mserver_new(NULL, "k", 1, 5, 65536, 64, &srv) != 0)
      abort();
    mproc__mserver_adopt(srv);
  }
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    abort();
  while (done < size) {
    ssize_t w = write(sv[0], data + done, size - done);
    if (w <= 0)
      abort();
    done += (size_t)w;
  }
  close(sv[0]); /* EOF after the input; replies fail with EPIPE */
  c = mproc__conn_wrap(sv[1], 1, 1);
  if (!c)
    abort();
  mproc__mserver_serve_conn(srv, c, sid);
  mproc_conn_free(c);
  return 0;
}
