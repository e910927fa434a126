# Toolchain file: cross-compile for 64-bit Windows with Debian's mingw-w64
# and run the results under wine.
#
#   cmake -S . -B build/mingw \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
#     -DMPROC_DEPS_PREFIX="$(scripts/deps.sh --win --print-prefix)"
#
# x86_64 only: this machine has only 64-bit wine, and a 32-bit exe under it
# prints nothing and exits 0 -- a silent false pass.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MPROC_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${MPROC_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MPROC_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${MPROC_MINGW_TRIPLE}-windres)

# The dependency prefix built by scripts/deps.sh --win. A -D value is not
# passed on to try_compile projects, which re-read this file, so it is
# handed over through the environment as well.
if(MPROC_DEPS_PREFIX)
  set(ENV{MPROC_DEPS_PREFIX} "${MPROC_DEPS_PREFIX}")
elseif(DEFINED ENV{MPROC_DEPS_PREFIX})
  set(MPROC_DEPS_PREFIX "$ENV{MPROC_DEPS_PREFIX}")
endif()
set(MPROC_DEPS_PREFIX "${MPROC_DEPS_PREFIX}" CACHE PATH
    "Prefix holding APR, check and libcbor built for mingw-w64")

set(CMAKE_FIND_ROOT_PATH /usr/${MPROC_MINGW_TRIPLE})
if(MPROC_DEPS_PREFIX)
  list(PREPEND CMAKE_FIND_ROOT_PATH "${MPROC_DEPS_PREFIX}")
endif()
# Tools come from the host; headers, libraries and packages only from the
# target roots, so a host /usr/include never leaks into a Windows build.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Fully static executables: no libgcc/winpthread/libssp DLLs to find under
# wine (a missing DLL makes wine exit 53 silently).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc")

# Run target executables (ctest, custom commands naming a target) through
# 64-bit wine. /usr/bin/wine is a launcher script that complains about the
# missing wine32 on every run; wine64 itself is quiet.
find_program(MPROC_WINE NAMES wine64 wine
             PATHS /usr/lib/wine /usr/lib64/wine /opt/wine-stable/bin
             NO_CMAKE_FIND_ROOT_PATH)
if(MPROC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${MPROC_WINE}")
endif()
