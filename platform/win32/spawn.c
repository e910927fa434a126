/*
 * win32/spawn.c - start the running executable again, with exactly the
 * handles named for the child; collect and end children; the child's side
 * of the spawn.
 *
 * Map: spawn_self (CreateProcessW of GetModuleFileNameW(NULL), suspended,
 * tried again on wine's ERROR_INTERNAL_ERROR,
 * with STARTUPINFOEXW + PROC_THREAD_ATTRIBUTE_HANDLE_LIST; daemons go into
 * a kill-on-close Job object; then ResumeThread), proc_reap
 * (WaitForSingleObject + GetExitCodeProcess, exit codes mapped to -N),
 * proc_signal (TerminateProcess with 0x10000 + N), proc_release,
 * boot_write (an overlapped write with a deadline, cancelled at it),
 * child_args / marked_child (the command-line mark), adopt (not
 * inheritable again), child_setup (nothing: the Job object does it), exit
 * (ExitProcess).  The Job object belongs to the process, not to the thread
 * that started the child: a daemon dies with the process whichever of its
 * threads started it.
 *
 * Handles: every handle the child gets - the child's end of the bootstrap
 * pipe, a SYNCHRONIZE duplicate of this process's handle (the parent
 * sentinel), the n listed handles and the std handles - is first
 * duplicated as an *inheritable* handle that exists only for this spawn;
 * exactly those duplicates are named in the handle list, so concurrent
 * spawns never hand one child's handles to another, and all of them are
 * closed again once CreateProcessW has returned.  An inherited handle keeps
 * its value, so the child's values are the duplicates' values.
 *
 * The bootstrap channel is a duplex mproc stream (an overlapped named
 * pipe), not CreatePipe: the spawn protocol talks both ways on it (hello,
 * bootstrap, ack), and platform.h promises that every stream is
 * overlapped, so either side may wait on it with mproc__plat_wait.
 */
#include "w32_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TerminateProcess codes that read back as -N (N: the POSIX signal). */
#define SIGNAL_BASE 0x10000u
#define SIG_TERM 15u
#define SIG_KILL 9u

#define STATUS_ACCESS_VIOLATION_ 0xC0000005u
#define STATUS_STACK_OVERFLOW_ 0xC00000FDu
#define STATUS_ILLEGAL_INSTRUCTION_ 0xC000001Du
#define STATUS_INTEGER_DIVIDE_BY_ZERO_ 0xC0000094u
#define STATUS_FLOAT_DIVIDE_BY_ZERO_ 0xC000008Eu
#define STATUS_CONTROL_C_EXIT_ 0xC000013Au

/* ---- the executable and the command line -------------------------------- */

static int self_exe(wchar_t **out) {
  DWORD cap = MAX_PATH;
  wchar_t *buf = NULL;
  *out = NULL;
  for (;;) {
    wchar_t *nb = realloc(buf, cap * sizeof *buf);
    DWORD r;
    if (!nb) {
      free(buf);
      return mproc__err(MPROC_ENOMEM, "GetModuleFileNameW");
    }
    buf = nb;
    r = GetModuleFileNameW(NULL, buf, cap);
    if (r == 0) {
      DWORD e = GetLastError();
      free(buf);
      return mproc__w32_fail(MPROC_ESPAWN, e, "GetModuleFileNameW");
    }
    if (r < cap) {
      *out = buf;
      return 0;
    }
    if (cap >= 65536) {
      free(buf);
      return mproc__err(MPROC_ESPAWN, "GetModuleFileNameW: path too long");
    }
    cap *= 2; /* truncated: a long path */
  }
}

int mproc__plat_self_exe(char *buf, size_t cap) {
  wchar_t *w = NULL;
  int rc = self_exe(&w), n;
  if (rc)
    return rc;
  n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int)cap, NULL, NULL);
  free(w);
  if (n <= 0)
    return mproc__err(MPROC_EOS, "the executable's path does not fit");
  return 0;
}

/* "<exe>" MARK <boot> <parent>: exe never holds a '"'. */
static int command_line(const wchar_t *exe, HANDLE boot, HANDLE parent,
                        wchar_t **out) {
  char tail[96];
  size_t ne = wcslen(exe), nt, i;
  wchar_t *cmd;
  snprintf(tail, sizeof tail, "\" %s %llu %llu", MPROC__CHILD_MARK,
           (unsigned long long)(uintptr_t)boot,
           (unsigned long long)(uintptr_t)parent);
  nt = strlen(tail);
  cmd = malloc((ne + nt + 2) * sizeof *cmd);
  if (!cmd)
    return mproc__err(MPROC_ENOMEM, "command line");
  cmd[0] = L'"';
  memcpy(cmd + 1, exe, ne * sizeof *cmd);
  for (i = 0; i < nt; i++)
    cmd[1 + ne + i] = (wchar_t)tail[i];
  cmd[1 + ne + nt] = L'\0';
  *out = cmd;
  return 0;
}

/* ---- the Job object for daemons ----------------------------------------- */

static INIT_ONCE job_once = INIT_ONCE_STATIC_INIT;
static HANDLE job;
static DWORD job_err;

static BOOL CALLBACK job_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  (void)once;
  (void)param;
  (void)ctx;
  /* Not inheritable; never closed: the OS closes it when we end, which
   * kills every process in it. */
  job = CreateJobObjectW(NULL, NULL);
  if (!job) {
    job_err = GetLastError();
    return TRUE;
  }
  memset(&li, 0, sizeof li);
  /* BREAKAWAY_OK: a daemon child's own daemons may leave for their own
   * job where nested jobs are refused; they still die in a chain. */
  li.BasicLimitInformation.LimitFlags =
      JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
  if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &li,
                               sizeof li)) {
    job_err = GetLastError();
    CloseHandle(job);
    job = NULL;
  }
  return TRUE;
}

static HANDLE daemon_job(void) {
  InitOnceExecuteOnce(&job_once, job_init, NULL, NULL);
  if (!job)
    mproc__w32_fail(MPROC_ESPAWN, job_err,
                    "cannot create the Job object for daemon children");
  return job;
}

/* ---- spawn -------------------------------------------------------------- */

static int inheritable_dup(HANDLE h, DWORD access, DWORD opts, HANDLE *out) {
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), out,
                       access, TRUE, opts)) {
    *out = NULL;
    return -1;
  }
  return 0;
}

/*
 * CreateProcessW, tried up to CREATE_TRIES times while it fails with
 * ERROR_INTERNAL_ERROR: wine reports so a new process that ended before
 * it finished loading (seen once in a few hundred spawns under load, in
 * the queue and manager suites); no code of the program ran in it, so
 * starting it again is safe.  MPROC_TEST_FAULT=spawn-internal-error:N
 * makes the next N tries of this process fail that way (tests).
 */
#define CREATE_TRIES 3
static LONG fault_internal = -1; /* tries still to fail; -1: not read yet */

static int fault_fails(void) {
  if (fault_internal < 0) {
    const char *f = getenv("MPROC_TEST_FAULT");
    LONG n = 0;
    if (f && strncmp(f, "spawn-internal-error:", 21) == 0)
      n = atol(f + 21);
    InterlockedCompareExchange(&fault_internal, n, -1);
  }
  for (;;) {
    LONG n = fault_internal;
    if (n <= 0)
      return 0;
    if (InterlockedCompareExchange(&fault_internal, n - 1, n) == n)
      return 1;
  }
}

static int create(const wchar_t *exe, wchar_t *cmd, STARTUPINFOEXW *si,
                  DWORD extra, PROCESS_INFORMATION *pi) {
  DWORD flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT |
                EXTENDED_STARTUPINFO_PRESENT | extra;
  int tries;
  for (tries = 1;; tries++) {
    memset(pi, 0, sizeof *pi);
    if (fault_fails())
      SetLastError(ERROR_INTERNAL_ERROR);
    else if (CreateProcessW(exe, cmd, NULL, NULL, TRUE, flags, NULL, NULL,
                            &si->StartupInfo, pi))
      return 0;
    if (GetLastError() != ERROR_INTERNAL_ERROR || tries == CREATE_TRIES)
      return -1;
    Sleep(10 * tries);
  }
}

static void discard(PROCESS_INFORMATION *pi) {
  TerminateProcess(pi->hProcess, 1);
  CloseHandle(pi->hThread);
  CloseHandle(pi->hProcess);
  memset(pi, 0, sizeof *pi);
}

int mproc__plat_spawn_self(const mproc__handle *handles, size_t n,
                           mproc__handle *child_values, int flags,
                           mproc__child *out) {
  static const DWORD stdids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
                                  STD_ERROR_HANDLE};
  wchar_t *exe = NULL, *cmd = NULL;
  mproc__handle boot_r = MPROC__NOHANDLE, boot_w = MPROC__NOHANDLE;
  HANDLE *inh = NULL, stdh[3] = {NULL, NULL, NULL};
  size_t ninh = 0, i;
  DWORD extra;
  LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
  SIZE_T asize = 0;
  STARTUPINFOEXW si;
  PROCESS_INFORMATION pi;
  int rc;

  memset(&pi, 0, sizeof pi);
  out->pid = 0;
  out->proc = MPROC__NOHANDLE;
  out->boot = MPROC__NOHANDLE;
  out->sentinel.h = MPROC__NOHANDLE;
  out->sentinel.kind = MPROC__W_PROCESS;

  rc = self_exe(&exe);
  if (rc)
    goto done;
  rc = mproc__plat_stream_pair(&boot_r, &boot_w, 1);
  if (rc)
    goto done;
  inh = malloc((n + 5) * sizeof *inh);
  if (!inh) {
    rc = mproc__err(MPROC_ENOMEM, "spawn: handle list");
    goto done;
  }

  /* [0] the bootstrap read end, [1] the parent sentinel, then the n. */
  if (inheritable_dup(MPROC__W32_H(boot_r), 0, DUPLICATE_SAME_ACCESS,
                      &inh[ninh]) != 0) {
    rc = mproc__w32_fail(MPROC_ESPAWN, GetLastError(),
                         "DuplicateHandle (bootstrap channel)");
    goto done;
  }
  ninh++;
  if (inheritable_dup(GetCurrentProcess(),
                      SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, 0,
                      &inh[ninh]) != 0) {
    rc = mproc__w32_fail(MPROC_ESPAWN, GetLastError(),
                         "DuplicateHandle (parent sentinel)");
    goto done;
  }
  ninh++;
  for (i = 0; i < n; i++) {
    /* NOHANDLE is (HANDLE)-1: DuplicateHandle would copy this process. */
    if (handles[i] == MPROC__NOHANDLE) {
      rc = mproc__err(MPROC_ECLOSED, "spawn: handle %lu of %lu is closed",
                      (unsigned long)i, (unsigned long)n);
      goto done;
    }
    if (inheritable_dup(MPROC__W32_H(handles[i]), 0, DUPLICATE_SAME_ACCESS,
                        &inh[ninh]) != 0) {
      DWORD e = GetLastError();
      rc = mproc__err_os(e == ERROR_INVALID_HANDLE ? MPROC_ECLOSED
                                                   : MPROC_ESPAWN,
                         (long)e,
                         "DuplicateHandle (handle %lu of %lu for the child)",
                         (unsigned long)i, (unsigned long)n);
      goto done;
    }
    child_values[i] = MPROC__W32_M(inh[ninh]);
    ninh++;
  }
  /* The std handles that exist; one that cannot be duplicated is left out
   * (the child then has none there), as a NULL one is. */
  for (i = 0; i < 3; i++) {
    HANDLE h = GetStdHandle(stdids[i]);
    if (h == NULL || h == INVALID_HANDLE_VALUE)
      continue;
    if (inheritable_dup(h, 0, DUPLICATE_SAME_ACCESS, &stdh[i]) != 0)
      continue;
    inh[ninh++] = stdh[i];
  }

  InitializeProcThreadAttributeList(NULL, 1, 0, &asize);
  attrs = malloc(asize);
  if (!attrs) {
    rc = mproc__err(MPROC_ENOMEM, "spawn: attribute list");
    goto done;
  }
  if (!InitializeProcThreadAttributeList(attrs, 1, 0, &asize)) {
    rc = mproc__w32_fail(MPROC_ESPAWN, GetLastError(),
                         "InitializeProcThreadAttributeList");
    free(attrs);
    attrs = NULL;
    goto done;
  }
  if (!UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                 inh, ninh * sizeof *inh, NULL, NULL)) {
    rc = mproc__w32_fail(MPROC_ESPAWN, GetLastError(),
                         "UpdateProcThreadAttribute(HANDLE_LIST)");
    goto done;
  }
  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = stdh[0];
  si.StartupInfo.hStdOutput = stdh[1];
  si.StartupInfo.hStdError = stdh[2];
  si.lpAttributeList = attrs;

  rc = command_line(exe, inh[0], inh[1], &cmd);
  if (rc)
    goto done;
  /* NOINTR: a new process group starts with CTRL_C ignored (inherited
   * from its first instruction: no window before the worker ignores it). */
  extra = flags & MPROC__SPAWN_NOINTR ? CREATE_NEW_PROCESS_GROUP : 0;
  if (create(exe, cmd, &si, extra, &pi) != 0) {
    DWORD e = GetLastError();
    char exe8[512], tried[32] = "";
    if (mproc__w32_utf8(exe, exe8, sizeof exe8) != 0)
      strcpy(exe8, "<own executable>");
    if (e == ERROR_INTERNAL_ERROR)
      snprintf(tried, sizeof tried, " (tried %d times)", CREATE_TRIES);
    rc = mproc__w32_fail(MPROC_ESPAWN, e, "CreateProcessW(%s)%s", exe8, tried);
    goto done;
  }
  if (flags & MPROC__SPAWN_DAEMON) {
    HANDLE j = daemon_job();
    if (!j) {
      rc = MPROC_ESPAWN;
      discard(&pi);
      goto done;
    }
    if (!AssignProcessToJobObject(j, pi.hProcess)) {
      /* This process is in a job that refuses a nested one: leave it. */
      DWORD e = GetLastError();
      discard(&pi);
      if (create(exe, cmd, &si, extra | CREATE_BREAKAWAY_FROM_JOB, &pi) != 0 ||
          !AssignProcessToJobObject(j, pi.hProcess)) {
        DWORD e2 = GetLastError();
        if (pi.hProcess)
          discard(&pi);
        rc = mproc__w32_fail(MPROC_ESPAWN, e2,
                             "daemon child: cannot join the Job object "
                             "(AssignProcessToJobObject: error %lu; with "
                             "CREATE_BREAKAWAY_FROM_JOB)",
                             (unsigned long)e);
        goto done;
      }
    }
  }
  if (ResumeThread(pi.hThread) == (DWORD)-1) {
    rc = mproc__w32_fail(MPROC_ESPAWN, GetLastError(), "ResumeThread");
    discard(&pi);
    goto done;
  }
  CloseHandle(pi.hThread);
  out->pid = (long)pi.dwProcessId;
  out->proc = MPROC__W32_M(pi.hProcess);
  out->boot = boot_w;
  out->sentinel.h = out->proc;
  out->sentinel.kind = MPROC__W_PROCESS;
  boot_w = MPROC__NOHANDLE;
  rc = 0;

done:
  /* Every temporary inheritable duplicate goes, whatever happened. */
  for (i = 0; i < ninh; i++)
    CloseHandle(inh[i]);
  if (attrs) {
    DeleteProcThreadAttributeList(attrs);
    free(attrs);
  }
  if (boot_r != MPROC__NOHANDLE)
    CloseHandle(MPROC__W32_H(boot_r));
  if (boot_w != MPROC__NOHANDLE)
    CloseHandle(MPROC__W32_H(boot_w));
  free(inh);
  free(cmd);
  free(exe);
  return rc;
}

/* ---- the parent's view of a child --------------------------------------- */

static int exit_code(DWORD code) {
  if (code > SIGNAL_BASE && code < SIGNAL_BASE + 65u)
    return -(int)(code - SIGNAL_BASE);
  switch (code) {
  case STATUS_ACCESS_VIOLATION_:
  case STATUS_STACK_OVERFLOW_:
    return -11;
  case STATUS_ILLEGAL_INSTRUCTION_:
    return -4;
  case STATUS_INTEGER_DIVIDE_BY_ZERO_:
  case STATUS_FLOAT_DIVIDE_BY_ZERO_:
    return -8;
  case STATUS_CONTROL_C_EXIT_: /* ended by Ctrl-C: SIGINT */
    return -2;
  default:
    return (int)code;
  }
}

int mproc__plat_proc_reap(mproc__child *c, int block, int *exitcode) {
  HANDLE p = MPROC__W32_H(c->proc);
  DWORD r, code;
  if (c->proc == MPROC__NOHANDLE)
    return mproc__err(MPROC_EINVAL, "process %ld: already released", c->pid);
  r = WaitForSingleObject(p, block ? INFINITE : 0);
  if (r == WAIT_TIMEOUT)
    return mproc__err(MPROC_ETIMEDOUT, "process %ld is still running",
                      c->pid);
  if (r != WAIT_OBJECT_0)
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "WaitForSingleObject(process %ld)", c->pid);
  /* The handle keeps the code: asking again gives the same answer. */
  if (!GetExitCodeProcess(p, &code))
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "GetExitCodeProcess(%ld)", c->pid);
  *exitcode = exit_code(code);
  return 0;
}

int mproc__plat_proc_signal(mproc__child *c, int hard) {
  HANDLE p = MPROC__W32_H(c->proc);
  if (c->proc == MPROC__NOHANDLE)
    return mproc__err(MPROC_EINVAL, "process %ld: already released", c->pid);
  if (!TerminateProcess(p, SIGNAL_BASE + (hard ? SIG_KILL : SIG_TERM))) {
    DWORD e = GetLastError();
    /* Windows refuses (ERROR_ACCESS_DENIED) once the process has ended. */
    if (WaitForSingleObject(p, 0) == WAIT_OBJECT_0)
      return 0;
    return mproc__w32_fail(MPROC_EOS, e, "TerminateProcess(%ld)", c->pid);
  }
  return 0;
}

void mproc__plat_proc_release(mproc__child *c) {
  if (c->proc != MPROC__NOHANDLE)
    CloseHandle(MPROC__W32_H(c->proc));
  if (c->boot != MPROC__NOHANDLE)
    CloseHandle(MPROC__W32_H(c->boot));
  c->proc = MPROC__NOHANDLE;
  c->boot = MPROC__NOHANDLE;
  c->sentinel.h = MPROC__NOHANDLE;
}

long mproc__plat_getpid(void) { return (long)GetCurrentProcessId(); }

/* ---- the child side ----------------------------------------------------- */

/* A handle value in decimal: digits only, 1 .. 2^32 - 1. */
static int parse_handle(const char *s, mproc__handle *h) {
  unsigned long long v = 0;
  if (!s || !*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    v = v * 10 + (unsigned long long)(*s - '0');
    if (v > 0xFFFFFFFFull)
      return -1;
  }
  if (v == 0)
    return -1;
  *h = (mproc__handle)(uintptr_t)v;
  return 0;
}

int mproc__plat_child_args(int argc, char **argv, mproc__handle *boot,
                           mproc__waititem *parent) {
  mproc__handle b, p;
  /* The spawn puts the mark right after the program name. */
  if (argc < 4 || !argv || !argv[1] ||
      strcmp(argv[1], MPROC__CHILD_MARK) != 0)
    return 0;
  if (parse_handle(argv[2], &b) != 0 || parse_handle(argv[3], &p) != 0) {
    mproc__err(MPROC_EBADMSG, "malformed %s arguments", MPROC__CHILD_MARK);
    return 0;
  }
  *boot = b;
  parent->h = p;
  parent->kind = MPROC__W_PROCESS;
  return 1;
}

int mproc__plat_marked_child(void) {
  static const wchar_t mark[] = L"" MPROC__CHILD_MARK;
  const wchar_t *s = GetCommandLineW();
  size_t n = sizeof mark / sizeof mark[0] - 1;
  if (!s)
    return 0;
  /* Skip argv[0] as the C runtime does: quoted, or up to white space. */
  if (*s == L'"') {
    s++;
    while (*s && *s != L'"')
      s++;
    if (*s == L'"')
      s++;
  } else {
    while (*s && *s != L' ' && *s != L'\t')
      s++;
  }
  while (*s == L' ' || *s == L'\t')
    s++;
  return wcsncmp(s, mark, n) == 0 &&
         (s[n] == L'\0' || s[n] == L' ' || s[n] == L'\t');
}

int mproc__plat_adopt(mproc__handle h) {
  DWORD flags;
  if (h == MPROC__NOHANDLE || h == 0 ||
      !GetHandleInformation(MPROC__W32_H(h), &flags))
    return mproc__err_os(MPROC_EBADMSG,
                         h == MPROC__NOHANDLE || h == 0
                             ? (long)ERROR_INVALID_HANDLE
                             : (long)GetLastError(),
                         "handle %lld named by the bootstrap message",
                         (long long)h);
  if ((flags & HANDLE_FLAG_INHERIT) &&
      !SetHandleInformation(MPROC__W32_H(h), HANDLE_FLAG_INHERIT, 0))
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "SetHandleInformation(%lld)", (long long)h);
  return 0;
}

int mproc__plat_child_setup(mproc__waititem parent, int daemon) {
  /* A daemon is in its parent's kill-on-close Job object since before its
   * first instruction ran: nothing to do. */
  (void)parent;
  (void)daemon;
  return 0;
}

int mproc__plat_boot_write(mproc__handle h, const void *buf, size_t len,
                           double timeout) {
  HANDLE fh = MPROC__W32_H(h);
  HANDLE ev = mproc__w32_io_event();
  const char *p = buf;
  double deadline = mproc__plat_monotonic() + timeout;
  if (!ev)
    return mproc__plat_errrec()->code;
  while (len > 0) {
    OVERLAPPED ov;
    DWORD n = 0, chunk = len > 65536 ? 65536 : (DWORD)len, ms, r;
    double left = deadline - mproc__plat_monotonic();
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    if (!WriteFile(fh, p, chunk, NULL, &ov) &&
        GetLastError() != ERROR_IO_PENDING) {
      DWORD e = GetLastError();
      return mproc__w32_fail(MPROC_EOS, e, "WriteFile (bootstrap channel)");
    }
    ms = left <= 0 ? 0 : left > 86400.0 ? 86400000u
                                         : (DWORD)(left * 1000.0 + 0.999);
    r = WaitForSingleObject(ev, ms);
    if (r != WAIT_OBJECT_0) {
      /* Not written in time: cancel, and wait for the cancel to land. */
      CancelIoEx(fh, &ov);
      if (GetOverlappedResult(fh, &ov, &n, TRUE) && n == chunk) {
        p += n;
        len -= n;
        continue;
      }
      return mproc__err(MPROC_ETIMEDOUT, "bootstrap channel: the peer does "
                                         "not read");
    }
    if (!GetOverlappedResult(fh, &ov, &n, TRUE))
      return mproc__w32_fail(MPROC_EOS, GetLastError(),
                             "WriteFile (bootstrap channel)");
    p += n;
    len -= n;
  }
  return 0;
}

void mproc__plat_exit(int code) { ExitProcess((UINT)code); }
