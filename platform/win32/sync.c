/*
 * win32/sync.c - sleeping on a word of shared memory, identity and
 * liveness of processes and threads, and the resource tracker (not needed
 * here).
 *
 * Map: park_new / park_needed (an unnamed semaphore per waited word),
 * word_wait / word_wake (the sleepers counter beside the word, then
 * WaitForSingleObject / ReleaseSemaphore on the park), proc_identity
 * (GetCurrentProcessId and the creation time, computed once),
 * proc_alive (OpenProcess, a zero wait, the creation time again),
 * thread_id (GetCurrentThreadId), tracker_detach (MPROC_ENOTSUP),
 * names_persist (0).
 *
 * Wait and wake pair up like a futex: a sleeper counts itself in
 * *sleepers, then re-checks *word; a waker changes *word, then reads
 * *sleepers.  Both steps go through Interlocked operations (full
 * barriers), so either the sleeper sees the new word or the waker sees the
 * sleeper and posts a token.  A semaphore keeps tokens posted before the
 * sleeper reaches WaitForSingleObject; tokens left over (a sleeper that
 * left on its re-check, or timed out, after being counted) only cause
 * spurious wakeups, and callers loop.
 */
#include "w32_int.h"

#include <limits.h>
#include <math.h>

/* ---- waiting on a word in shared memory ---------------------------------- */

/* The longest single sleep of word_wait, in seconds (see there). */
#define SLICE 0.05

int mproc__plat_park_new(mproc__handle *park) {
  HANDLE s = CreateSemaphoreW(NULL, 0, LONG_MAX, NULL);
  *park = MPROC__NOHANDLE;
  if (!s)
    return mproc__w32_fail(MPROC_EOS, GetLastError(), "CreateSemaphoreW");
  *park = MPROC__W32_M(s);
  return 0;
}

int mproc__plat_park_needed(void) { return 1; }

/* Seconds (< 0: forever) -> milliseconds rounded up, below INFINITE. */
static DWORD timeout_ms(double timeout) {
  double ms;
  if (timeout < 0)
    return INFINITE;
  ms = ceil(timeout * 1000.0);
  if (!(ms < (double)INFINITE))
    return INFINITE - 1;
  return (DWORD)ms;
}

int mproc__plat_word_wait(mproc__handle park, volatile uint32_t *word,
                          uint32_t expect, volatile uint32_t *sleepers,
                          double timeout) {
  volatile LONG *count = (volatile LONG *)sleepers;
  DWORD r, e = 0;
  int capped;

  /* NOHANDLE is (HANDLE)-1, this process, which is never signalled. */
  if (park == MPROC__NOHANDLE)
    return mproc__err(MPROC_ECLOSED, "waiting on a word: no park");
  if (timeout != timeout)
    timeout = 0; /* NaN polls (lib/ refuses it before) */
  InterlockedIncrement(count); /* a full barrier: the read comes after */
  if (*word != expect) {
    InterlockedDecrement(count);
    return 0;
  }
  /*
   * A sleep is at most SLICE: a token posted for a sleeper that has
   * counted itself but not yet blocked can be taken by a later sleeper
   * that waits for a newer value of the word, and the first would then
   * sleep through its wake-up.  Returning after a slice turns that rare
   * loss into a delay (callers re-check the word and sleep again).
   */
  capped = timeout < 0 || timeout > SLICE;
  r = WaitForSingleObject(MPROC__W32_H(park),
                          timeout_ms(capped ? SLICE : timeout));
  if (r == WAIT_FAILED)
    e = GetLastError();
  InterlockedDecrement(count);
  if (r == WAIT_OBJECT_0 || (r == WAIT_TIMEOUT && capped))
    return 0;
  if (r == WAIT_TIMEOUT)
    return MPROC_ETIMEDOUT; /* expected: lib/ words the message */
  if (r == WAIT_FAILED)
    return mproc__w32_fail(MPROC_EOS, e, "WaitForSingleObject (park)");
  return mproc__err(MPROC_EOS, "WaitForSingleObject (park): result 0x%lx",
                    (unsigned long)r);
}

int mproc__plat_word_wake(mproc__handle park, volatile uint32_t *word,
                          volatile uint32_t *sleepers, int n) {
  LONG s;
  (void)word;
  if (park == MPROC__NOHANDLE)
    return mproc__err(MPROC_ECLOSED, "waking a word: no park");
  if (n <= 0)
    return 0;
  /* An atomic read that is also a full barrier: it comes after the
   * caller's change to the word (the other half of word_wait's pairing). */
  s = InterlockedCompareExchange((volatile LONG *)sleepers, 0, 0);
  if (s <= 0)
    return 0;
  if (!ReleaseSemaphore(MPROC__W32_H(park), n < s ? (LONG)n : s, NULL)) {
    DWORD e = GetLastError();
    /* Too many tokens already: every sleeper will wake anyway. */
    if (e == ERROR_TOO_MANY_POSTS)
      return 0;
    return mproc__w32_fail(MPROC_EOS, e, "ReleaseSemaphore (park)");
  }
  return 0;
}

/* ---- identity and liveness of processes and threads ---------------------- */

/* The tag of a process: its creation time folded to 32 bits, never 0. */
static uint32_t time_tag(const FILETIME *created) {
  return (uint32_t)(created->dwLowDateTime ^ created->dwHighDateTime) | 1u;
}

static INIT_ONCE ident_once = INIT_ONCE_STATIC_INIT;
static uint32_t ident_pid, ident_tag;

static BOOL CALLBACK ident_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  FILETIME created, exited, kernel, user;
  (void)once;
  (void)param;
  (void)ctx;
  /* On failure the error stays in GetLastError for the caller; the next
   * call tries again. */
  if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel,
                       &user))
    return FALSE;
  ident_pid = (uint32_t)GetCurrentProcessId();
  ident_tag = time_tag(&created);
  return TRUE;
}

int mproc__plat_proc_identity(uint32_t *pid, uint32_t *tag) {
  if (!InitOnceExecuteOnce(&ident_once, ident_init, NULL, NULL)) {
    /* Not seen in practice; tag 1 means "the pid alone" (proc_alive). */
    *pid = (uint32_t)GetCurrentProcessId();
    *tag = 1;
    return 0;
  }
  *pid = ident_pid;
  *tag = ident_tag;
  return 0;
}

int mproc__plat_proc_alive(uint32_t pid, uint32_t tag) {
  FILETIME created, exited, kernel, user;
  HANDLE h;
  DWORD r;
  int alive;

  h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE,
                  (DWORD)pid);
  if (!h) {
    DWORD e = GetLastError();
    if (e == ERROR_INVALID_PARAMETER)
      return 0; /* no process has that id */
    if (e == ERROR_ACCESS_DENIED)
      return 1; /* it exists but is not ours to inspect */
    return mproc__w32_fail(MPROC_EOS, e, "OpenProcess(%lu)",
                           (unsigned long)pid);
  }
  r = WaitForSingleObject(h, 0);
  if (r == WAIT_OBJECT_0) {
    alive = 0; /* ended; someone still holds a handle to it */
  } else if (r == WAIT_TIMEOUT) {
    if (tag == 1) /* identity without a creation time: the pid alone */
      alive = 1;
    else if (GetProcessTimes(h, &created, &exited, &kernel, &user))
      alive = time_tag(&created) == tag;
    else
      alive = mproc__w32_fail(MPROC_EOS, GetLastError(),
                              "GetProcessTimes(%lu)", (unsigned long)pid);
  } else {
    alive = mproc__w32_fail(MPROC_EOS, GetLastError(),
                            "WaitForSingleObject (process %lu)",
                            (unsigned long)pid);
  }
  CloseHandle(h);
  return alive;
}

uint32_t mproc__plat_thread_id(void) {
  return (uint32_t)GetCurrentThreadId();
}

/* ---- the resource tracker ------------------------------------------------ */

int mproc__plat_tracker_detach(void) {
  return mproc__err(MPROC_ENOTSUP,
                    "the resource tracker is not used on Windows");
}

int mproc__plat_names_persist(void) { return 0; }
