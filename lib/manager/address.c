/*
 * address.c - a Manager's address, read once for both OSes: a local
 * endpoint (a POSIX socket path, a Windows \\.\pipe\ name, or NULL for a
 * private one) or TCP "host:port", then handed to the platform's local or
 * TCP functions (platform/{posix,win32}/listen.c), which get the host and
 * the port already split and checked.
 *
 * Map: parse ("host:port", "[v6]:port", ":port"; anything starting with
 * '/', '\' or '.', or holding no ':', is local), listen (the address that
 * was bound: the user's words, or the numeric host and the chosen port
 * for port 0), connect (with the caller's timeout).
 *
 * TCP rules: the port is 0..65535 in decimal (0 only to listen: the OS
 * picks); an IPv6 literal is written in brackets ("[::1]:5000": a bare
 * "::1:5000" is ambiguous and refused); an empty host ("" or "[]") means
 * every interface and is only for listening.  Every refusal is
 * MPROC_EINVAL with the address and the rule in the message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgr_int.h"

static int bad(const char *addr, const char *why) {
  return mproc__err(MPROC_EINVAL, "manager address '%s': %s", addr, why);
}

int mproc__mgr_addr_parse(const char *addr, mproc__mgr_addr *a) {
  const char *colon, *host, *port;
  size_t hlen;
  unsigned long p = 0;
  memset(a, 0, sizeof *a);
  if (!addr || addr[0] == '/' || addr[0] == '\\' || addr[0] == '.' ||
      !strchr(addr, ':'))
    return 0; /* local: the platform checks the form */
  if (addr[0] == '[') { /* [v6]:port */
    const char *close = strchr(addr, ']');
    if (!close)
      return bad(addr, "no ']' after the IPv6 address ([host]:port)");
    if (close[1] != ':')
      return bad(addr, "':port' must follow ']' ([host]:port)");
    host = addr + 1;
    hlen = (size_t)(close - host);
    port = close + 2;
  } else {
    colon = strrchr(addr, ':');
    host = addr;
    hlen = (size_t)(colon - addr);
    port = colon + 1;
    if (memchr(host, ':', hlen))
      return bad(addr, "write an IPv6 address in brackets: [host]:port");
  }
  if (hlen >= sizeof a->host)
    return bad(addr, "host name too long");
  if (!port[0])
    return bad(addr, "no port after ':' (host:port)");
  if (strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
    return bad(addr, "the port is not a number 0..65535");
  for (; *port; port++)
    p = p * 10 + (unsigned long)(*port - '0');
  if (p > 65535)
    return bad(addr, "the port is not a number 0..65535");
  memcpy(a->host, host, hlen);
  a->host[hlen] = 0;
  a->port = (unsigned)p;
  a->tcp = 1;
  return 0;
}

/* The keepalive: the defaults, or MPROC_TCP_KEEPALIVE's numbers. */
static void keepalive(mproc__keepalive *ka) {
  const char *env = getenv("MPROC_TCP_KEEPALIVE");
  long v[3] = {10, 5, 3};
  int i;
  for (i = 0; env && *env && i < 3; i++) {
    char *end;
    long x = strtol(env, &end, 10);
    if (end == env || x < 0 || x > 86400)
      break;
    v[i] = x;
    if (*end != ',')
      break;
    env = end + 1;
  }
  ka->idle = (int)v[0]; /* 0: off */
  ka->interval = v[1] > 0 ? (int)v[1] : 1;
  ka->count = v[2] > 0 ? (int)v[2] : 1;
}

int mproc__mgr_listen(const char *want, char *addr, size_t cap,
                      mproc__listener **out) {
  mproc__mgr_addr a;
  char bound[128];
  unsigned port = 0;
  mproc__keepalive ka;
  int rc = mproc__mgr_addr_parse(want, &a);
  *out = NULL;
  if (rc)
    return rc;
  if (!a.tcp)
    return mproc__plat_listen_local(want, addr, cap, out);
  keepalive(&ka);
  rc = mproc__plat_listen_tcp(a.host, a.port, &ka, bound, sizeof bound,
                              &port, out);
  if (rc)
    return rc;
  /* Port 0: say which port the OS chose, with the numeric host. */
  if (a.port == 0)
    rc = snprintf(addr, cap, strchr(bound, ':') ? "[%s]:%u" : "%s:%u",
                  bound, port);
  else
    rc = snprintf(addr, cap, "%s", want);
  if (rc < 0 || (size_t)rc >= cap) {
    mproc__plat_listener_free(*out);
    *out = NULL;
    return mproc__err(MPROC_EINVAL, "listen: address too long");
  }
  return 0;
}

int mproc__mgr_connect(const char *addr, double timeout, mproc__handle *h) {
  mproc__mgr_addr a;
  mproc__keepalive ka;
  int rc = mproc__mgr_addr_parse(addr, &a);
  if (rc)
    return rc;
  if (!addr)
    return mproc__err(MPROC_EINVAL, "connect: no address");
  if (!a.tcp)
    return mproc__plat_connect_local(addr, timeout, h);
  if (!a.host[0])
    return bad(addr, "no host to connect to (an empty host is only for "
                     "listening on every interface)");
  if (a.port == 0)
    return bad(addr, "port 0 is only for listening");
  keepalive(&ka);
  return mproc__plat_connect_tcp(addr, a.host, a.port, &ka, timeout, h);
}
