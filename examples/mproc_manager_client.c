/*
 * mproc_manager_client - the client of Python's "Using a remote manager":
 * an unrelated process connects to mproc_manager_server's address with
 * the authkey and puts into its Queue.  It first shows that a wrong key
 * is refused (on stderr).
 *
 *   class QueueManager(BaseManager): pass
 *   QueueManager.register('get_queue')
 *   m = QueueManager(address=('foo.bar.org', 50000), authkey=b'abracadabra')
 *   m.connect(); queue = m.get_queue(); queue.put('hello')
 */
#include <string.h>

#include "example.h"

/* Connect, waiting up to 60 s for the server to come up. */
static int connect_to(const char *addr, const char *key, mproc_manager **m) {
  int i, rc = 0;
  for (i = 0; i < 600; i++) {
    rc = mproc_manager_connect(m, addr, key, strlen(key));
    if (rc != MPROC_EEOF)
      return rc;
    mproc_sleep(0.1);
  }
  return rc;
}

int main(int argc, char **argv) {
  const char *addr = argc > 1 ? argv[1] : "127.0.0.1:50000";
  mproc_manager *m = NULL;
  mproc_proxy *q = NULL;
  mproc_value *v;
  int rc;
  CHECK(mproc_init(argc, argv));
  rc = connect_to(addr, "wrong key", &m);
  if (rc == MPROC_EAUTH)
    fprintf(stderr, "client: a wrong authkey is refused: %s\n",
            mproc_last_error());
  else
    fprintf(stderr, "client: a wrong authkey gave %s\n", mproc_errname(rc));
  CHECK(connect_to(addr, "abracadabra", &m));
  CHECK(mproc_manager_get(m, "get_queue", NULL, &q));
  v = mproc_str("hello");
  CHECK(mproc_proxy_call(q, "put", mproc_build("[O]", v), NULL));
  printf("client put: 'hello'\n");
  mproc_proxy_free(q);
  mproc_manager_free(m);
  return 0;
}
