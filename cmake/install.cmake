# Installation: the library (static, or shared with BUILD_SHARED_LIBS), its public header, a CMake package
# (find_package(mproc) -> mproc::mproc) and a pkg-config file (mproc.pc).
# Included OPTIONAL by the top-level CMakeLists.txt.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Components (for the .deb, cmake/package.cmake): runtime = what a program
# needs to run (libmproc.so.0*, mproc.dll), dev = what building needs.
install(TARGETS mproc EXPORT mprocTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
    NAMELINK_COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  )
install(FILES ${PROJECT_SOURCE_DIR}/lib/include/mproc.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

set(MPROC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mproc)
install(EXPORT mprocTargets NAMESPACE mproc:: DESTINATION ${MPROC_CMAKE_DIR}
  COMPONENT dev)
if(BUILD_SHARED_LIBS)
  set(MPROC_CONFIG_STATIC OFF)
else()
  set(MPROC_CONFIG_STATIC ON)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/mprocConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mprocConfig.cmake
  INSTALL_DESTINATION ${MPROC_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
# A static mproc links APR, libcbor and libsodium privately, so its users need
# them at link time: the Find modules travel with the package.
install(FILES
  ${PROJECT_BINARY_DIR}/mprocConfig.cmake
  ${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/FindAPR.cmake
  ${CMAKE_CURRENT_LIST_DIR}/FindCBOR.cmake
  ${CMAKE_CURRENT_LIST_DIR}/FindSodium.cmake
  DESTINATION ${MPROC_CMAKE_DIR} COMPONENT dev)

# pkg-config (docs/design.md "Packaging").  The prefix is found from the
# .pc file's own place (${pcfiledir}), so an install moved or made with
# --prefix anywhere still points at itself.  Cflags hold only what mproc.h
# needs; a static libmproc.a names its dependencies in Libs.private (as -l
# flags, not Requires.private, whose Cflags pkg-config would add: APR's
# -D/-I have no place in a user's compile).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(MPROC_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _mproc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _mproc_up "${_mproc_up}")
  set(MPROC_PC_PREFIX "\${pcfiledir}/${_mproc_up}")
endif()
if(BUILD_SHARED_LIBS)
  # libmproc.so / the import library carries its own dependencies.
  set(MPROC_PC_LIBS_PRIVATE "")
else()
  if(WIN32)
    set(MPROC_PC_LIBS_PRIVATE "-lapr-1 -lcbor -lsodium -lws2_32 -lmswsock -lrpcrt4 -ladvapi32 -lshell32 -lbcrypt -lkernel32 -lntdll")
  else()
    # What APR, libcbor and libsodium need linked statically, as their own
    # .pc files say (apr-1: uuid, crypt, pthread), then mproc's own.
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(MPROC_PCS QUIET apr-1 libcbor libsodium)
    endif()
    if(MPROC_PCS_FOUND)
      set(_l ${MPROC_PCS_STATIC_LDFLAGS})
      list(FILTER _l EXCLUDE REGEX "^-L")
    else()
      set(_l -lapr-1 -luuid -lcrypt -lcbor -lsodium)
    endif()
    list(APPEND _l -pthread)
    foreach(_d ${CMAKE_DL_LIBS})
      list(APPEND _l -l${_d})
    endforeach()
    list(REMOVE_DUPLICATES _l)
    string(REPLACE ";" " " MPROC_PC_LIBS_PRIVATE "${_l}")
  endif()
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/mproc.pc.in
  ${PROJECT_BINARY_DIR}/mproc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mproc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

include(${CMAKE_CURRENT_LIST_DIR}/package.cmake OPTIONAL)
