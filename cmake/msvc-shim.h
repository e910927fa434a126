/*
 * Force-included (-include) by scripts/msvc-check.sh, which parses mproc's
 * sources as MSVC would (clang --target=x86_64-pc-windows-msvc) over the
 * mingw-w64 headers, because there is no Windows SDK on a Linux machine.
 * It is not part of any build.
 *
 * (a) Without __GNUC__, mingw's _mingw.h defines __attribute__(x) as
 *     nothing; clang's intrinsics headers, which winnt.h includes, then lose
 *     their vector types. So __attribute__ is kept working while the system
 *     headers a source may use are read here, and emptied afterwards as
 *     mingw and apr.h do for a non-GNU compiler. (msvc-check.sh rejects the
 *     word __attribute__ in the checked .c files itself: poisoning the macro
 *     here would also break apr.h, which defines it only when undefined.)
 * (b) mingw spells noreturn as a trailing __declspec(noreturn) in places
 *     MSVC mode rejects; the GNU spelling is kept for the system headers.
 * (c) mingw's sys/types.h makes pid_t a 64-bit type while apr.h, seeing no
 *     __GNUC__, typedefs it as int: _PID_T_ keeps mingw's out.
 */
#ifndef MPROC_MSVC_SHIM_H
#define MPROC_MSVC_SHIM_H

#define _PID_T_ 1

#include <_mingw.h>
#undef __attribute__
#undef __MINGW_ATTRIB_NORETURN
#define __MINGW_ATTRIB_NORETURN __attribute__((__noreturn__))
#undef __MINGW_ATTRIB_DEPRECATED
#define __MINGW_ATTRIB_DEPRECATED __attribute__((__deprecated__))
#undef __MINGW_ATTRIB_DEPRECATED_MSG
#define __MINGW_ATTRIB_DEPRECATED_MSG(x) __attribute__((__deprecated__(x)))

#include <x86intrin.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <winternl.h>
#include <shellapi.h>
#include <process.h>
#include <io.h>
#include <fcntl.h>
#include <direct.h>
#include <malloc.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>
#include <float.h>

/* From here on, what a non-GNU compiler sees. */
#undef __attribute__
#define __attribute__(x)

#endif
