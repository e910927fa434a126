# FindCBOR: libcbor (https://github.com/PJK/libcbor).
#
# Provides the imported target CBOR::CBOR and CBOR_FOUND, CBOR_VERSION.
#
# POSIX: pkg-config libcbor. Elsewhere (mingw-w64, MSVC + vcpkg): cbor.h and
# the library under CBOR_ROOT (CMake variable or environment) and
# CMAKE_PREFIX_PATH. A static libcbor on Windows needs CBOR_STATIC_DEFINE in
# its users, or cbor_export.h declares every function dllimport.

include(FindPackageHandleStandardArgs)

if(NOT WIN32)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_CBOR QUIET libcbor)
  endif()
endif()

find_path(CBOR_INCLUDE_DIR cbor.h
          HINTS ${PC_CBOR_INCLUDEDIRS} ${CBOR_ROOT} ENV CBOR_ROOT
          PATH_SUFFIXES include)
if(WIN32)
  # Static first: nothing to ship, nothing for wine to look for.
  set(_cbor_names libcbor.a cbor libcbor)
else()
  set(_cbor_names cbor)
endif()
find_library(CBOR_LIBRARY NAMES ${_cbor_names}
             HINTS ${PC_CBOR_LIBDIRS} ${CBOR_ROOT} ENV CBOR_ROOT
             PATH_SUFFIXES lib)

if(CBOR_INCLUDE_DIR AND EXISTS "${CBOR_INCLUDE_DIR}/cbor/configuration.h")
  file(STRINGS "${CBOR_INCLUDE_DIR}/cbor/configuration.h" _cbor_ver
       REGEX "^#define CBOR_(MAJOR|MINOR|PATCH)_VERSION[ \t]+[0-9]+")
  string(REGEX REPLACE ".*MAJOR_VERSION[ \t]+([0-9]+).*" "\\1" _cbor_major "${_cbor_ver}")
  string(REGEX REPLACE ".*MINOR_VERSION[ \t]+([0-9]+).*" "\\1" _cbor_minor "${_cbor_ver}")
  string(REGEX REPLACE ".*PATCH_VERSION[ \t]+([0-9]+).*" "\\1" _cbor_patch "${_cbor_ver}")
  set(CBOR_VERSION "${_cbor_major}.${_cbor_minor}.${_cbor_patch}")
endif()

find_package_handle_standard_args(CBOR
  REQUIRED_VARS CBOR_LIBRARY CBOR_INCLUDE_DIR
  VERSION_VAR CBOR_VERSION)

if(CBOR_FOUND AND NOT TARGET CBOR::CBOR)
  add_library(CBOR::CBOR UNKNOWN IMPORTED)
  set_target_properties(CBOR::CBOR PROPERTIES
    IMPORTED_LOCATION "${CBOR_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CBOR_INCLUDE_DIR}")
  if(WIN32 AND NOT CBOR_LIBRARY MATCHES "(\\.dll\\.a|cbor\\.dll\\.lib)$"
     AND EXISTS "${CBOR_INCLUDE_DIR}/cbor/cbor_export.h")
    file(STRINGS "${CBOR_INCLUDE_DIR}/cbor/cbor_export.h" _cbor_static
         REGEX "CBOR_STATIC_DEFINE")
    if(_cbor_static)
      set_property(TARGET CBOR::CBOR APPEND PROPERTY
        INTERFACE_COMPILE_DEFINITIONS CBOR_STATIC_DEFINE)
    endif()
  endif()
endif()

mark_as_advanced(CBOR_INCLUDE_DIR CBOR_LIBRARY)
