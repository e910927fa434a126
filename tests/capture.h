/*
 * capture.h - catch what children write to stderr, for tests that check a
 * child's one-line reason (the handshake's limits in test_process.c, a
 * failed mproc_init in init_fail.c).  Children started between
 * capture_begin() and capture_end() inherit a file as their stderr;
 * captured() reads it back and removes it.  The includer provides
 * <windows.h> or <fcntl.h> + <unistd.h>, and <stdio.h>.
 */
#ifndef MPROC_TESTS_CAPTURE_H
#define MPROC_TESTS_CAPTURE_H

static char cap_path[64];
#ifdef _WIN32
static HANDLE cap_saved;
/* 0, or -1 if the file cannot be made (stderr is then unchanged). */
static int capture_begin(void) {
  HANDLE f;
  snprintf(cap_path, sizeof cap_path, "mproc-stderr-%lu.txt",
           (unsigned long)GetCurrentProcessId());
  f = CreateFileA(cap_path, GENERIC_WRITE,
                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                  NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
  if (f == INVALID_HANDLE_VALUE)
    return -1;
  cap_saved = GetStdHandle(STD_ERROR_HANDLE);
  SetStdHandle(STD_ERROR_HANDLE, f);
  return 0;
}
static void capture_end(void) {
  HANDLE f = GetStdHandle(STD_ERROR_HANDLE);
  SetStdHandle(STD_ERROR_HANDLE, cap_saved);
  CloseHandle(f);
}
#else
static int cap_saved = -1;
static int capture_begin(void) {
  int fd;
  snprintf(cap_path, sizeof cap_path, "mproc-stderr-%ld.txt",
           (long)getpid());
  fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  fflush(stderr);
  cap_saved = fcntl(2, F_DUPFD_CLOEXEC, 10);
  if (cap_saved < 0) {
    close(fd);
    return -1;
  }
  dup2(fd, 2);
  close(fd);
  return 0;
}
static void capture_end(void) {
  fflush(stderr);
  dup2(cap_saved, 2);
  close(cap_saved);
  cap_saved = -1;
}
#endif

/* What the captured children wrote (at most cap - 1 bytes, NUL-ended);
 * returns its length.  The file is removed. */
static size_t captured(char *buf, size_t cap) {
  FILE *f = fopen(cap_path, "rb");
  size_t n = 0;
  if (f) {
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
  remove(cap_path);
  return n;
}

#endif /* MPROC_TESTS_CAPTURE_H */
