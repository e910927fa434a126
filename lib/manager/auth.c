/*
 * auth.c - the Manager's handshake: HMAC-SHA256 challenge-response in both
 * directions (libsodium), before any message is decoded.
 *
 * Frames (fixed sizes, raw bytes, under one deadline):
 *   server -> client  "MPM1" S                       4 + 32
 *   client -> server  C session HMAC(k, "c" S C session)   32 + 16 + 32
 *   server -> client  ok HMAC(k, "s" C S session)    1 + 32
 * S and C are 32 random bytes (randombytes_buf), k the authkey, which
 * never travels.  Each side compares in constant time (crypto_verify_32).
 * A wrong answer gets ok = 0 and a closed connection; a client whose
 * server cannot answer its challenge refuses the server (MPROC_EAUTH).
 * Tagging the two MACs "c"/"s" stops a reflection of one side's answer.
 */
#include <string.h>

#include <sodium.h>

#include "mgr_int.h"

#define CH 32
#define MAC 32

static void mac(const unsigned char *key, size_t keylen, char tag,
                const unsigned char *a, const unsigned char *b,
                const unsigned char *session, unsigned char *out) {
  crypto_auth_hmacsha256_state st;
  unsigned char t = (unsigned char)tag;
  crypto_auth_hmacsha256_init(&st, key, keylen);
  crypto_auth_hmacsha256_update(&st, &t, 1);
  crypto_auth_hmacsha256_update(&st, a, CH);
  crypto_auth_hmacsha256_update(&st, b, CH);
  crypto_auth_hmacsha256_update(&st, session, MPROC__SESSION_LEN);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

/* Read exactly n bytes before deadline. */
static int read_full(mproc__handle h, void *buf, size_t n, double deadline) {
  unsigned char *p = (unsigned char *)buf;
  size_t done = 0;
  while (done < n) {
    mproc__waititem it;
    int ready = 0, rc;
    size_t got = 0;
    double left = deadline - mproc__plat_monotonic();
    if (left <= 0)
      return mproc__err(MPROC_ETIMEDOUT, "manager handshake: timed out");
    it.h = h;
    it.kind = MPROC__W_STREAM;
    rc = mproc__plat_wait(&it, 1, left, &ready);
    if (rc < 0)
      return rc;
    if (rc == 0)
      continue; /* the deadline check above ends it */
    rc = mproc__plat_stream_read(h, p + done, n - done, &got);
    if (rc)
      return rc;
    done += got;
  }
  return 0;
}

static int init(void) {
  if (sodium_init() < 0)
    return mproc__err(MPROC_EOS, "libsodium could not initialise");
  return 0;
}

int mproc__auth_serve(mproc__handle h, const unsigned char *key, size_t keylen,
                      double deadline, unsigned char *session,
                      int (*admit)(void *ctx, const unsigned char *session),
                      void *ctx) {
  unsigned char hello[4 + CH], ans[CH + MPROC__SESSION_LEN + MAC],
      want[MAC], reply[1 + MAC];
  const unsigned char *c = ans, *sess = ans + CH, *m = ans + CH + MPROC__SESSION_LEN;
  int rc;
  if ((rc = init()) != 0)
    return rc;
  memcpy(hello, "MPM1", 4);
  randombytes_buf(hello + 4, CH);
  if ((rc = mproc__plat_stream_write(h, hello, sizeof hello)) != 0)
    return rc;
  if ((rc = read_full(h, ans, sizeof ans, deadline)) != 0)
    return rc;
  mac(key, keylen, 'c', hello + 4, c, sess, want);
  memset(reply, 0, sizeof reply);
  if (crypto_verify_32(want, m) != 0) {
    mproc__plat_stream_write(h, reply, sizeof reply);
    return mproc__err(MPROC_EAUTH, "manager: a client failed to authenticate");
  }
  /* Admitted before the client hears ok (the server counts this
   * connection in its session first: see mproc__auth_serve in mgr_int.h). */
  if (admit && (rc = admit(ctx, sess)) != 0) {
    mproc__plat_stream_write(h, reply, sizeof reply);
    return rc;
  }
  reply[0] = 1;
  mac(key, keylen, 's', c, hello + 4, sess, reply + 1);
  memcpy(session, sess, MPROC__SESSION_LEN);
  return mproc__plat_stream_write(h, reply, sizeof reply);
}

int mproc__auth_client(mproc__handle h, const unsigned char *key,
                       size_t keylen, double deadline,
                       const unsigned char *session) {
  unsigned char hello[4 + CH], ans[CH + MPROC__SESSION_LEN + MAC],
      reply[1 + MAC], want[MAC];
  int rc;
  if ((rc = init()) != 0)
    return rc;
  if ((rc = read_full(h, hello, sizeof hello, deadline)) != 0)
    return rc;
  if (memcmp(hello, "MPM1", 4) != 0)
    return mproc__err(MPROC_EAUTH, "manager: not an mproc manager (bad "
                                   "greeting)");
  randombytes_buf(ans, CH);
  memcpy(ans + CH, session, MPROC__SESSION_LEN);
  mac(key, keylen, 'c', hello + 4, ans, session, ans + CH + MPROC__SESSION_LEN);
  if ((rc = mproc__plat_stream_write(h, ans, sizeof ans)) != 0)
    return rc;
  rc = read_full(h, reply, sizeof reply, deadline);
  if (rc == MPROC_EEOF || (rc == 0 && reply[0] != 1))
    return mproc__err(MPROC_EAUTH, "manager: authentication failed (the "
                                   "server refused our authkey)");
  if (rc)
    return rc;
  mac(key, keylen, 's', ans, hello + 4, session, want);
  if (crypto_verify_32(want, reply + 1) != 0)
    return mproc__err(MPROC_EAUTH, "manager: the server does not know the "
                                   "authkey");
  return 0;
}
