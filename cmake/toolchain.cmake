# Compiler settings shared by every pulsing target: warnings, sanitizers, ccache.

find_program(PULSING_CCACHE ccache)
if(PULSING_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PULSING_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${PULSING_CCACHE})
endif()

add_library(pulsing_warnings INTERFACE)
target_compile_options(pulsing_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${PULSING_WERROR}>:-Werror>)

if(PULSING_SANITIZE)
  string(REPLACE ";" "," _pulsing_san "${PULSING_SANITIZE}")
  add_compile_options(-fsanitize=${_pulsing_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_pulsing_san})
endif()

# pulsing_component(NAME SOURCES...): one library per top-level folder, warnings on,
# the repository root as include root.
function(pulsing_component name)
  add_library(${name} ${ARGN})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>)
  target_link_libraries(${name} PRIVATE pulsing_warnings)
endfunction()
