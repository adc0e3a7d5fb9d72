# `cmake --install BUILD --prefix PREFIX` lays out a CMake package that other projects use with
# find_package(pulsing) and target_link_libraries(app pulsing::pulsing) (examples/embed is one):
#
#   PREFIX/include/pulsing/pulsing.hpp          the umbrella header
#   PREFIX/include/pulsing/<folder>/*.hpp       each library's headers, generated *.capnp.h too
#   PREFIX/lib/libpulsing_<folder>.a            the libraries, exported as pulsing::<folder>
#   PREFIX/lib/cmake/pulsing/                   pulsingConfig.cmake, its version and targets
#
# Only what an application links is installed: no simulator, tests, benchmarks or examples.
# Included at the end of the top CMakeLists.txt, once every folder has defined its target.

include(CMakePackageConfigHelpers)

set(_pulsing_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/pulsing)

# The folders an application needs, each a pulsing_<folder> library; runtime needs the rest.
set(_pulsing_installed common messaging security membership registry supervision runtime)
# The admin endpoint (issue 6) is exported like the others once its folder is in the build.
if(TARGET pulsing_admin)
  list(APPEND _pulsing_installed admin)
endif()

foreach(folder IN LISTS _pulsing_installed)
  set_target_properties(pulsing_${folder} PROPERTIES EXPORT_NAME ${folder})
  install(TARGETS pulsing_${folder} EXPORT pulsingTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pulsing/${folder}
          FILES_MATCHING PATTERN "*.hpp")
  # A folder with a schema has its generated headers in the build tree (messaging/ and
  # membership/ set CAPNPC_OUTPUT_DIR there); public headers include them by the same path.
  file(GLOB _pulsing_schemas ${PROJECT_SOURCE_DIR}/${folder}/*.capnp)
  if(_pulsing_schemas)
    install(DIRECTORY ${PROJECT_BINARY_DIR}/generated/${folder}/
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pulsing/${folder}
            FILES_MATCHING PATTERN "*.capnp.h")
  endif()
endforeach()

# The umbrella: pulsing::pulsing, with <pulsing/pulsing.hpp>.
install(TARGETS pulsing EXPORT pulsingTargets)
install(FILES ${PROJECT_SOURCE_DIR}/include/pulsing/pulsing.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pulsing)

# The `pulsing` command (issue 6), when cli/ defines it: the target is pulsing_cli with
# OUTPUT_NAME pulsing, since the target name `pulsing` is the umbrella library's.
if(TARGET pulsing_cli)
  install(TARGETS pulsing_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT pulsingTargets NAMESPACE pulsing:: DESTINATION ${_pulsing_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/pulsingConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/pulsingConfig.cmake
                              INSTALL_DESTINATION ${_pulsing_cmake_dir})
# 0.x: a minor release may change the API, so 0.1 accepts 0.1.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pulsingConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pulsingConfig.cmake ${PROJECT_BINARY_DIR}/pulsingConfigVersion.cmake
        DESTINATION ${_pulsing_cmake_dir})
