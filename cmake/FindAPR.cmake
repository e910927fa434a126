# FindAPR: the Apache Portable Runtime 1.x.
#
# Provides the imported target APR::APR and APR_FOUND, APR_VERSION.
#
# POSIX: pkg-config apr-1 (what libapr1-dev installs).
# Windows (mingw-w64 or MSVC + vcpkg): headers and library are searched under
# APR_ROOT (CMake variable or environment) and CMAKE_PREFIX_PATH. A static
# APR (apr-1.lib / libapr-1.a, as scripts/deps.sh --win builds it) needs
# APR_DECLARE_STATIC in every user and the Windows libraries APR calls; a DLL
# build (libapr-1.lib / libapr-1.dll.a) needs neither.

include(FindPackageHandleStandardArgs)

if(NOT WIN32)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_APR QUIET apr-1)
  endif()
  find_path(APR_INCLUDE_DIR apr.h
            HINTS ${PC_APR_INCLUDEDIRS} ${APR_ROOT} ENV APR_ROOT
            PATH_SUFFIXES apr-1 apr-1.0 include/apr-1 include)
  # MPROC_STATIC_APR (default ON): link APR's static archive when there is
  # one. Every child re-executes the program, so every shared library is
  # loaded again per spawn: static APR (+ uuid) takes ~150 us off each start
  # (docs/bench.md).
  # A shared mproc links the shared APR (the archive is not PIC).
  if(BUILD_SHARED_LIBS)
    option(MPROC_STATIC_APR "Link APR statically where an archive exists" OFF)
  else()
    option(MPROC_STATIC_APR "Link APR statically where an archive exists" ON)
  endif()
  if(MPROC_STATIC_APR)
    find_library(APR_LIBRARY NAMES libapr-1.a apr-1
                 HINTS ${PC_APR_LIBDIRS} ${APR_ROOT} ENV APR_ROOT
                 PATH_SUFFIXES lib)
  else()
    find_library(APR_LIBRARY NAMES apr-1
                 HINTS ${PC_APR_LIBDIRS} ${APR_ROOT} ENV APR_ROOT
                 PATH_SUFFIXES lib)
  endif()
  set(_apr_private "")
  if(APR_LIBRARY MATCHES "\\.a$")
    # What apr-1.pc's Libs.private names (uuid, crypt, pthread), as
    # archives where they exist.
    foreach(_lib IN LISTS PC_APR_STATIC_LIBRARIES)
      if(_lib STREQUAL "apr-1" OR _lib STREQUAL "pthread")
        continue()
      endif()
      find_library(APR_PRIVATE_${_lib} NAMES lib${_lib}.a ${_lib})
      mark_as_advanced(APR_PRIVATE_${_lib})
      if(APR_PRIVATE_${_lib})
        list(APPEND _apr_private "${APR_PRIVATE_${_lib}}")
      else()
        list(APPEND _apr_private ${_lib})
      endif()
    endforeach()
  endif()
  set(_apr_defs ${PC_APR_CFLAGS_OTHER})
  # apr-1.pc carries -D_GNU_SOURCE -D_LARGEFILE64_SOURCE etc.; keep only
  # the definitions (APR's headers assume the large-file ones).
  list(FILTER _apr_defs INCLUDE REGEX "^-D")
  list(TRANSFORM _apr_defs REPLACE "^-D" "")
  set(_apr_static OFF)
else()
  find_path(APR_INCLUDE_DIR apr.h
            HINTS ${APR_ROOT} ENV APR_ROOT
            PATH_SUFFIXES include include/apr-1 include/apr)
  # Prefer the static library: no DLL to ship or to find under wine.
  find_library(APR_LIBRARY NAMES apr-1 libapr-1.a
               HINTS ${APR_ROOT} ENV APR_ROOT PATH_SUFFIXES lib)
  set(_apr_static ON)
  if(APR_LIBRARY MATCHES "(libapr-1\\.lib|\\.dll\\.a)$")
    set(_apr_static OFF)
  endif()
  set(_apr_defs "")
endif()

if(APR_INCLUDE_DIR AND EXISTS "${APR_INCLUDE_DIR}/apr_version.h")
  file(STRINGS "${APR_INCLUDE_DIR}/apr_version.h" _apr_ver
       REGEX "^#define APR_(MAJOR|MINOR|PATCH)_VERSION[ \t]+[0-9]+")
  string(REGEX REPLACE ".*MAJOR_VERSION[ \t]+([0-9]+).*" "\\1" _apr_major "${_apr_ver}")
  string(REGEX REPLACE ".*MINOR_VERSION[ \t]+([0-9]+).*" "\\1" _apr_minor "${_apr_ver}")
  string(REGEX REPLACE ".*PATCH_VERSION[ \t]+([0-9]+).*" "\\1" _apr_patch "${_apr_ver}")
  set(APR_VERSION "${_apr_major}.${_apr_minor}.${_apr_patch}")
endif()

find_package_handle_standard_args(APR
  REQUIRED_VARS APR_LIBRARY APR_INCLUDE_DIR
  VERSION_VAR APR_VERSION)

if(APR_FOUND AND NOT TARGET APR::APR)
  add_library(APR::APR UNKNOWN IMPORTED)
  set_target_properties(APR::APR PROPERTIES
    IMPORTED_LOCATION "${APR_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${APR_INCLUDE_DIR}")
  if(_apr_defs)
    set_property(TARGET APR::APR APPEND PROPERTY
      INTERFACE_COMPILE_DEFINITIONS ${_apr_defs})
  endif()
  if(WIN32)
    if(_apr_static)
      set_property(TARGET APR::APR APPEND PROPERTY
        INTERFACE_COMPILE_DEFINITIONS APR_DECLARE_STATIC)
    endif()
    # APR's Windows code calls Winsock, RPC (apr_os_uuid_get), the registry
    # and security APIs, and shell32 (CommandLineToArgvW).
    set_property(TARGET APR::APR APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES ws2_32 mswsock rpcrt4 advapi32 shell32)
  else()
    if(_apr_private)
      set_property(TARGET APR::APR APPEND PROPERTY
        INTERFACE_LINK_LIBRARIES ${_apr_private})
    endif()
    find_package(Threads QUIET)
    if(Threads_FOUND)
      set_property(TARGET APR::APR APPEND PROPERTY
        INTERFACE_LINK_LIBRARIES Threads::Threads)
    endif()
  endif()
endif()

mark_as_advanced(APR_INCLUDE_DIR APR_LIBRARY)
