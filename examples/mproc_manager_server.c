/*
 * mproc_manager_server - Python's docs, "Using a remote manager": a server
 * exposes a Queue by name with an authkey; unrelated clients connect with
 * the address and the key (mproc_manager_client is one).
 *
 *   queue = queue.Queue()
 *   class QueueManager(BaseManager): pass
 *   QueueManager.register('get_queue', callable=lambda: queue)
 *   m = QueueManager(address=('', 50000), authkey=b'abracadabra')
 *   s = m.get_server(); s.serve_forever()
 *
 * Python listens on every interface (''); this one on 127.0.0.1 unless
 * told otherwise (argv[1]: "host:port", or a \\.\pipe\ name on Windows).
 * It serves from a thread and reads what a client puts, then stops.
 */
#include "example.h"

static int serve(void *arg) {
  return mproc_server_serve_forever((mproc_server *)arg) ? 1 : 0;
}

int main(int argc, char **argv) {
  mproc_manager_opts o = MPROC_MANAGER_OPTS_INIT;
  mproc_server *s = NULL;
  mproc_thread *t = NULL;
  mproc_value *item = NULL;
  char *text = NULL;
  CHECK(mproc_init(argc, argv));
  o.address = argc > 1 ? argv[1] : "127.0.0.1:50000";
  o.authkey = "abracadabra";
  o.authkey_len = 11;
  CHECK(mproc_server_new(&s, &o));
  CHECK(mproc_server_publish(s, "get_queue", "Queue", NULL));
  printf("serving on %s\n", mproc_server_address(s));
  fflush(stdout);
  CHECK(mproc_thread_start(&t, serve, s));
  CHECK(mproc_server_call(s, "get_queue", "get", NULL, &item));
  CHECK(mproc_repr(item, &text));
  printf("server got: %s\n", text);
  mproc_free(text);
  mproc_value_free(item);
  mproc_server_stop(s);
  CHECK(mproc_thread_join(t, NULL));
  mproc_server_free(s);
  return 0;
}
