# FindCheck: the check unit-test framework (https://libcheck.github.io/check).
#
# Provides the imported target Check::Check and Check_FOUND, CHECK_VERSION.
#
# POSIX: pkg-config check (Debian's libcheck_pic.a plus -lsubunit -lrt -lm
# -pthread, all as the .pc file says). Windows: check.h and the static
# library under CHECK_ROOT / CMAKE_PREFIX_PATH (check's own CMake package
# installs there too, but its exported target omits the winpthreads it
# needs). winpthreads is linked statically so test executables need no
# libwinpthread-1.dll under wine or on a Windows runner.

include(FindPackageHandleStandardArgs)

set(_check_extra "")
if(NOT WIN32)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_CHECK QUIET IMPORTED_TARGET check)
  endif()
  find_path(CHECK_INCLUDE_DIR check.h HINTS ${PC_CHECK_INCLUDEDIRS})
  find_library(CHECK_LIBRARY NAMES check_pic check HINTS ${PC_CHECK_LIBDIRS})
  if(TARGET PkgConfig::PC_CHECK)
    # Everything else the .pc file lists (subunit, rt, m, -pthread).
    set(_check_extra PkgConfig::PC_CHECK)
  endif()
else()
  find_path(CHECK_INCLUDE_DIR check.h
            HINTS ${CHECK_ROOT} ENV CHECK_ROOT PATH_SUFFIXES include)
  find_library(CHECK_LIBRARY NAMES libcheck.a check
               HINTS ${CHECK_ROOT} ENV CHECK_ROOT PATH_SUFFIXES lib)
  if(MINGW)
    find_library(CHECK_WINPTHREAD_LIBRARY NAMES libwinpthread.a winpthread)
    if(CHECK_WINPTHREAD_LIBRARY)
      set(_check_extra "${CHECK_WINPTHREAD_LIBRARY}")
    else()
      set(_check_extra -pthread)
    endif()
  endif()
endif()

if(CHECK_INCLUDE_DIR AND EXISTS "${CHECK_INCLUDE_DIR}/check.h")
  file(STRINGS "${CHECK_INCLUDE_DIR}/check.h" _check_ver
       REGEX "^#define CHECK_(MAJOR|MINOR|MICRO)_VERSION[ \t]+\\(?[0-9]+")
  string(REGEX REPLACE ".*MAJOR_VERSION[ \t]+\\(?([0-9]+).*" "\\1" _check_major "${_check_ver}")
  string(REGEX REPLACE ".*MINOR_VERSION[ \t]+\\(?([0-9]+).*" "\\1" _check_minor "${_check_ver}")
  string(REGEX REPLACE ".*MICRO_VERSION[ \t]+\\(?([0-9]+).*" "\\1" _check_micro "${_check_ver}")
  set(CHECK_VERSION "${_check_major}.${_check_minor}.${_check_micro}")
endif()

find_package_handle_standard_args(Check
  REQUIRED_VARS CHECK_LIBRARY CHECK_INCLUDE_DIR
  VERSION_VAR CHECK_VERSION)

if(Check_FOUND AND NOT TARGET Check::Check)
  add_library(Check::Check UNKNOWN IMPORTED)
  set_target_properties(Check::Check PROPERTIES
    IMPORTED_LOCATION "${CHECK_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CHECK_INCLUDE_DIR}")
  if(_check_extra)
    set_property(TARGET Check::Check APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES ${_check_extra})
  endif()
endif()

mark_as_advanced(CHECK_INCLUDE_DIR CHECK_LIBRARY CHECK_WINPTHREAD_LIBRARY)
