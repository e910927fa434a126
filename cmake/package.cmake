# Debian packages with CPack (shared build only):
#
#   cmake -S . -B b -DBUILD_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build b && cpack -G DEB --config b/CPackConfig.cmake -B out
#
# gives libmproc0 (the runtime component: libmproc.so.0*) and libmproc-dev
# (mproc.h, the libmproc.so link, the CMake package and mproc.pc; depends on
# libmproc0 of the same version).  libmproc0's dependencies (libapr1,
# libcbor0.8, libsodium23, libc6) come from dpkg-shlibdeps.  Included by
# cmake/install.cmake.

if(NOT BUILD_SHARED_LIBS OR WIN32)
  return()
endif()

set(CPACK_PACKAGE_NAME mproc)
set(CPACK_PACKAGE_VENDOR "mproc")
set(CPACK_PACKAGE_CONTACT "mproc maintainers <mproc@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Python's multiprocessing for C")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libmproc0)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
  "Processes, queues, pipes, locks, pools and managers for C programs:\n the shared library.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libmproc-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libmproc0 (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "Processes, queues, pipes, locks, pools and managers for C programs:\n the header, the CMake package and the pkg-config file.")
include(CPack)
