/*
 * win32/misc.c - CPUs, clock, sleep, randomness, environment, and the test
 * helper that lists open handles.
 *
 * Map: cpu_count (GetActiveProcessorCount over all processor groups),
 * monotonic (QueryPerformanceCounter), sleep (Sleep to a deadline,
 * rounded up to whole milliseconds), random (BCryptGenRandom,
 * system-preferred RNG: link bcrypt), setenv (SetEnvironmentVariableW
 * and the C runtime's _wputenv_s, so that getenv sees it too),
 * list_handles (probe handle values 4..16384), atexit (the C runtime's
 * process-wide table, not a DLL's own), a pool worker's Ctrl-C and memory
 * limit (a Job object, and a watchdog thread where the Job's limit is
 * not enforced).  mproc__plat_getpid lives in
 * spawn.c.
 *
 * list_handles is for tests: it leaves out directory handles (the current
 * directory's, which every process has), and GetFileType can block on a
 * synchronous handle while another thread is blocked reading it (e.g. a
 * thread reading the console): call it when no thread does that.
 */
#include "w32_int.h"

#include <bcrypt.h>
#include <psapi.h>
#include <math.h>
#include <stdlib.h>
#if defined(_UCRT) || defined(_MSC_VER)
#include <corecrt_startup.h> /* _crt_atexit */
#else
/* msvcrt.dll's own _onexit (mingw-w64's import of it). */
extern _onexit_t(__cdecl *__imp__onexit)(_onexit_t);
#endif

/* How often the memory limit's watchdog looks at the commit charge. */
#define MEMLIMIT_POLL_MS 10

#ifndef STATUS_SUCCESS
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#endif

int mproc__plat_cpu_count(void) {
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  if (n == 0) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    n = si.dwNumberOfProcessors;
  }
  return n < 1 ? 1 : (int)n;
}

double mproc__plat_monotonic(void) {
  LARGE_INTEGER c, f;
  QueryPerformanceCounter(&c);
  QueryPerformanceFrequency(&f); /* fixed at boot; cheap to ask */
  /* Whole seconds and the rest apart, so no precision is lost. */
  return (double)(c.QuadPart / f.QuadPart) +
         (double)(c.QuadPart % f.QuadPart) / (double)f.QuadPart;
}

/* To a deadline on the monotonic clock, in steps of at most a day
 * (Sleep is not cut short by anything a Win32 process receives, but its
 * ticks may end a step a little early); +inf sleeps for ever, NaN, 0 and
 * negative values return at once. */
void mproc__plat_sleep(double seconds) {
  double deadline, left;
  if (!(seconds > 0))
    return;
  if (seconds > 1e300) {
    for (;;)
      Sleep(INFINITE);
  }
  deadline = mproc__plat_monotonic() + seconds;
  while ((left = deadline - mproc__plat_monotonic()) > 0) {
    double ms = ceil((left > 86400.0 ? 86400.0 : left) * 1000.0);
    Sleep((DWORD)ms);
  }
}

int mproc__plat_random(void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ULONG chunk = n > 0x40000000u ? 0x40000000u : (ULONG)n;
    NTSTATUS st =
        BCryptGenRandom(NULL, p, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG);
    if (st != STATUS_SUCCESS)
      return mproc__err_os(MPROC_EOS, (long)st,
                           "BCryptGenRandom (NTSTATUS 0x%08lx)",
                           (unsigned long)st);
    p += chunk;
    n -= chunk;
  }
  return 0;
}

void mproc__plat_precise_sleeps(void) {} /* Sleep's own granularity */

void mproc__plat_lower_priority(void) {
  SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_BELOW_NORMAL);
}

int mproc__plat_setenv(const char *name, const char *value) {
  wchar_t *wn = NULL, *wv = NULL;
  const char *c;
  int rc;
  if (!name || !*name)
    return mproc__err(MPROC_EINVAL, "setenv: empty name");
  for (c = name; *c; c++)
    if (*c == '=')
      return mproc__err(MPROC_EINVAL, "setenv: '=' in name '%s'", name);
  rc = mproc__w32_wide(name, &wn);
  if (rc)
    return rc;
  if (value) {
    rc = mproc__w32_wide(value, &wv);
    if (rc) {
      free(wn);
      return rc;
    }
  }
  /* The C runtime keeps its own copy (getenv); an empty value removes. */
  if (_wputenv_s(wn, wv ? wv : L"") != 0) {
    rc = mproc__err(MPROC_EOS, "_wputenv_s(%s)", name);
  } else if (!SetEnvironmentVariableW(wn, wv) &&
             !(wv == NULL && GetLastError() == ERROR_ENVVAR_NOT_FOUND)) {
    /* An empty value is a real value for the OS, unlike for the CRT. */
    rc = mproc__w32_fail(MPROC_EOS, GetLastError(),
                         "SetEnvironmentVariableW(%s)", name);
  }
  free(wn);
  free(wv);
  return rc;
}

int mproc__plat_list_handles(long *out, size_t cap) {
  size_t count = 0;
  uintptr_t v;
  for (v = 4; v <= 16384; v += 4) {
    HANDLE h = (HANDLE)v;
    DWORD flags, type;
    if (!GetHandleInformation(h, &flags))
      continue;
    type = GetFileType(h);
    if (type != FILE_TYPE_DISK && type != FILE_TYPE_PIPE &&
        type != FILE_TYPE_CHAR)
      continue;
    if (type == FILE_TYPE_DISK) {
      /* The loader's current-directory handle is no leak (POSIX has no fd
       * for it either): directories are left out. */
      FILE_BASIC_INFO bi;
      if (GetFileInformationByHandleEx(h, FileBasicInfo, &bi, sizeof bi) &&
          (bi.FileAttributes & FILE_ATTRIBUTE_DIRECTORY))
        continue;
    }
    if (count < cap)
      out[count] = (long)v;
    count++;
  }
  return (int)count;
}

/* ---- pool workers ------------------------------------------------------- */

int mproc__plat_ignore_interrupt(void) {
  if (!SetConsoleCtrlHandler(NULL, TRUE))
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "SetConsoleCtrlHandler");
  return 0;
}

/*
 * The memory limit: a Job object of its own with a per-process memory
 * limit (a nested job: Windows 8 and later; the daemon's kill-on-close
 * job stays above it), so an allocation above it fails; and a watchdog
 * thread that ends the process with exit_code once its commit charge
 * (PagefileUsage) is above the limit all the same: a Job's limit is not
 * enforced everywhere (Windows 7 gives a process already in a job no job
 * of its own; wine 8 accepts the limit and enforces nothing).
 */
static size_t memlimit_bytes;
static UINT memlimit_code;

static DWORD WINAPI memlimit_watch(LPVOID arg) {
  PROCESS_MEMORY_COUNTERS pmc;
  (void)arg;
  do {
    Sleep(MEMLIMIT_POLL_MS);
    ZeroMemory(&pmc, sizeof pmc);
  } while (!K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc) ||
           pmc.PagefileUsage <= memlimit_bytes);
  TerminateProcess(GetCurrentProcess(), memlimit_code);
  return 0;
}

int mproc__plat_memory_limit(size_t bytes, int exit_code) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  HANDLE job = CreateJobObjectW(NULL, NULL), t;
  int rc = 0;
  if (!job)
    return mproc__w32_fail(MPROC_EOS, GetLastError(), "CreateJobObjectW");
  ZeroMemory(&li, sizeof li);
  li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_PROCESS_MEMORY;
  li.ProcessMemoryLimit = bytes;
  if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &li,
                               sizeof li) ||
      !AssignProcessToJobObject(job, GetCurrentProcess())) {
    rc = mproc__w32_fail(MPROC_EOS, GetLastError(), "memory limit job");
    CloseHandle(job);
  } /* else the handle stays open for the life of the process */
  memlimit_bytes = bytes;
  memlimit_code = (UINT)exit_code;
  t = CreateThread(NULL, 64 * 1024, memlimit_watch, NULL,
                   STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
  if (!t)
    return mproc__w32_fail(MPROC_EOS, GetLastError(),
                           "memory limit watchdog thread");
  CloseHandle(t);
  return rc;
}

/*
 * atexit() called in a DLL (mproc.dll) fills that DLL's own table, run
 * at DLL_PROCESS_DETACH: after ExitProcess has ended every other thread
 * (a pool's handler thread: the pool's exit hook then waited for it for
 * ever) and under the loader lock.  The C runtime's process-wide table
 * runs in exit(), threads alive, with the program's own atexit functions
 * (an .exe's atexit lands there, so a static mproc is unchanged): UCRT's
 * _crt_atexit (MSVC, mingw-w64 for UCRT), msvcrt.dll's _onexit (mingw-w64's
 * default runtime).  The module holding fn is pinned, so an unloaded DLL
 * cannot leave the table a dangling function.
 */
int mproc__plat_atexit(void (*fn)(void)) {
  HMODULE self = NULL;
  int rc;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                         GET_MODULE_HANDLE_EX_FLAG_PIN,
                     (LPCWSTR)(void *)mproc__plat_atexit, &self);
#if defined(_UCRT) || defined(_MSC_VER)
  rc = _crt_atexit(fn);
#else
  /* void (*)(void) converts to any function type (the int result of an
   * _onexit_t is not read: msvcrt's own atexit registers the same way). */
  rc = __imp__onexit((_onexit_t)fn) ? 0 : -1;
#endif
  return rc == 0 ? 0 : mproc__err(MPROC_ENOMEM, "atexit");
}
