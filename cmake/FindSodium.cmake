# FindSodium: libsodium (https://libsodium.org).
#
# Provides the imported target Sodium::Sodium and Sodium_FOUND,
# Sodium_VERSION.
#
# POSIX: pkg-config libsodium. Elsewhere (mingw-w64, MSVC + vcpkg): sodium.h
# and the library under SODIUM_ROOT (CMake variable or environment) and
# CMAKE_PREFIX_PATH. A static libsodium on Windows needs SODIUM_STATIC in its
# users, or sodium/export.h declares every function dllimport (MSVC).

include(FindPackageHandleStandardArgs)

if(NOT WIN32)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_SODIUM QUIET libsodium)
  endif()
endif()

find_path(SODIUM_INCLUDE_DIR sodium.h
          HINTS ${PC_SODIUM_INCLUDEDIRS} ${SODIUM_ROOT} ENV SODIUM_ROOT
          PATH_SUFFIXES include)
if(WIN32)
  # Static first, as for libcbor; vcpkg names it libsodium.lib.
  set(_sodium_names libsodium.a sodium libsodium)
else()
  set(_sodium_names sodium)
endif()
find_library(SODIUM_LIBRARY NAMES ${_sodium_names}
             HINTS ${PC_SODIUM_LIBDIRS} ${SODIUM_ROOT} ENV SODIUM_ROOT
             PATH_SUFFIXES lib)

if(SODIUM_INCLUDE_DIR AND EXISTS "${SODIUM_INCLUDE_DIR}/sodium/version.h")
  file(STRINGS "${SODIUM_INCLUDE_DIR}/sodium/version.h" _sodium_ver
       REGEX "^#define SODIUM_VERSION_STRING[ \t]+\"[^\"]+\"")
  string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" Sodium_VERSION "${_sodium_ver}")
endif()

find_package_handle_standard_args(Sodium
  REQUIRED_VARS SODIUM_LIBRARY SODIUM_INCLUDE_DIR
  VERSION_VAR Sodium_VERSION)

if(Sodium_FOUND AND NOT TARGET Sodium::Sodium)
  add_library(Sodium::Sodium UNKNOWN IMPORTED)
  set_target_properties(Sodium::Sodium PROPERTIES
    IMPORTED_LOCATION "${SODIUM_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SODIUM_INCLUDE_DIR}")
  if(WIN32 AND NOT SODIUM_LIBRARY MATCHES "(\\.dll\\.a|sodium\\.dll\\.lib)$")
    set_property(TARGET Sodium::Sodium APPEND PROPERTY
      INTERFACE_COMPILE_DEFINITIONS SODIUM_STATIC)
  endif()
endif()

mark_as_advanced(SODIUM_INCLUDE_DIR SODIUM_LIBRARY)
