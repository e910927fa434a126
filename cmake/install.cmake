# Installation: the static library, its public header, a CMake package
# (find_package(mproc) -> mproc::mproc) and a pkg-config file (mproc.pc).
# Included OPTIONAL by the top-level CMakeLists.txt.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS mproc EXPORT mprocTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/lib/include/mproc.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(MPROC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mproc)
install(EXPORT mprocTargets NAMESPACE mproc:: DESTINATION ${MPROC_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/mprocConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mprocConfig.cmake
  INSTALL_DESTINATION ${MPROC_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
# mproc is static and links APR, libcbor and libsodium privately, so its users need
# them at link time: the Find modules travel with the package.
install(FILES
  ${PROJECT_BINARY_DIR}/mprocConfig.cmake
  ${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/FindAPR.cmake
  ${CMAKE_CURRENT_LIST_DIR}/FindCBOR.cmake
  ${CMAKE_CURRENT_LIST_DIR}/FindSodium.cmake
  DESTINATION ${MPROC_CMAKE_DIR})

# Static linking needs what mproc itself links (see CMakeLists.txt).
if(WIN32)
  set(MPROC_PC_REQUIRES "")
  set(MPROC_PC_LIBS_PRIVATE "-lapr-1 -lcbor -lsodium -lws2_32 -lmswsock -lrpcrt4 -ladvapi32 -lshell32 -lkernel32 -lntdll")
else()
  set(MPROC_PC_REQUIRES "apr-1 libcbor libsodium")
  set(MPROC_PC_LIBS_PRIVATE "-pthread")
  foreach(_l ${CMAKE_DL_LIBS})
    string(APPEND MPROC_PC_LIBS_PRIVATE " -l${_l}")
  endforeach()
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/mproc.pc.in
  ${PROJECT_BINARY_DIR}/mproc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mproc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
