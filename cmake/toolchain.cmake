# Compiler settings shared by every pulsing target: warnings, sanitizers, ccache.

include(GNUInstallDirs)  # CMAKE_INSTALL_INCLUDEDIR and friends, for pulsing_component()

find_program(PULSING_CCACHE ccache)
if(PULSING_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PULSING_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${PULSING_CCACHE})
endif()

add_library(pulsing_warnings INTERFACE)
target_compile_options(pulsing_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  # g++ 12 flags designated initializers that leave members to their defaults
  # (`spawn<T>({.name = "calc"})`), which is exactly how our option structs are meant to be used.
  -Wno-missing-field-initializers
  # g++ 12 at -O2 reports "maybe uninitialized" through std::variant copies that are always
  # initialised (known false positives); the sanitizer builds check real uninitialised reads.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>
  $<$<BOOL:${PULSING_WERROR}>:-Werror>)

if(PULSING_SANITIZE)
  string(REPLACE ";" "," _pulsing_san "${PULSING_SANITIZE}")
  add_compile_options(-fsanitize=${_pulsing_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_pulsing_san})
endif()

# pulsing_component(NAME SOURCES...): one library per top-level folder, warnings on,
# the repository root as include root. Installed, its headers sit in include/pulsing/<folder>
# (cmake/install.cmake), so "folder/name.hpp" resolves there too.
function(pulsing_component name)
  add_library(${name} ${ARGN})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/pulsing>)
  # Our warning flags are for our sources only: an installed static library would otherwise
  # carry pulsing_warnings into the export set.
  target_link_libraries(${name} PRIVATE $<BUILD_INTERFACE:pulsing_warnings>)
endfunction()
