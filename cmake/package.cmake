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
#
# Lintian-clean (scripts/test.sh's consumer leg runs it): each package has
# /usr/share/doc/<package>/copyright and changelog.gz (cmake/deb/), the
# library is stripped, libmproc0 has a shlibs file and an ldconfig trigger
# (not the ldconfig calls CPack writes into postinst/postrm by default);
# the tags still raised on purpose are in cmake/deb/*.lintian-overrides,
# installed as each package's override file.  MPROC_DEB_MAINTAINER names
# the packager.

if(NOT BUILD_SHARED_LIBS OR WIN32)
  return()
endif()

set(MPROC_DEB_MAINTAINER "mproc maintainers <mproc@invalid>" CACHE STRING
  "The Maintainer of the .deb packages (cpack -G DEB)")
set(CPACK_PACKAGE_NAME mproc)
set(CPACK_PACKAGE_VENDOR "mproc")
set(CPACK_PACKAGE_CONTACT "${MPROC_DEB_MAINTAINER}")
set(CPACK_STRIP_FILES ON)
# Per package: copyright, changelog.gz (gzip -9n: max compression, no time
# stamp) and the lintian overrides.
set(_mproc_deb "${PROJECT_BINARY_DIR}/deb")
file(MAKE_DIRECTORY "${_mproc_deb}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/deb/changelog.in "${_mproc_deb}/changelog" @ONLY)
execute_process(COMMAND gzip -9nf "${_mproc_deb}/changelog" RESULT_VARIABLE _mproc_gz)
if(NOT _mproc_gz EQUAL 0)
  message(FATAL_ERROR "gzip -9n ${_mproc_deb}/changelog failed")
endif()
foreach(_pkg_comp libmproc${PROJECT_VERSION_MAJOR}:runtime libmproc-dev:dev)
  string(REPLACE ":" ";" _pc "${_pkg_comp}")
  list(GET _pc 0 _pkg)
  list(GET _pc 1 _comp)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/deb/copyright "${_mproc_deb}/changelog.gz"
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_pkg} COMPONENT ${_comp})
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/deb/${_comp}.lintian-overrides
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME ${_pkg}
    COMPONENT ${_comp})
endforeach()
# shlibs (">=": a program built against 0.1.0 runs with any later 0.x) and
# an ldconfig trigger; the postinst/postrm given here replace CPack's
# generated ldconfig calls.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_LIST_DIR}/deb/triggers)
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
