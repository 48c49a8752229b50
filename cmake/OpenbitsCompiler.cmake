# Compiler settings shared by every target: warnings as errors, sanitizers, ccache.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

add_library(openbits_compile_options INTERFACE)
target_compile_options(openbits_compile_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                          -Wnon-virtual-dtor)
if(OPENBITS_WERROR)
  target_compile_options(openbits_compile_options INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(openbits_compile_options INTERFACE -Wthread-safety)
endif()
option(OPENBITS_SANITIZE_THREAD "Build with ThreadSanitizer (clang; not with OPENBITS_SANITIZE)" OFF)
if(OPENBITS_SANITIZE AND OPENBITS_SANITIZE_THREAD)
  message(FATAL_ERROR "ThreadSanitizer cannot be combined with AddressSanitizer")
endif()
if(OPENBITS_SANITIZE_THREAD)
  target_compile_options(openbits_compile_options INTERFACE -fsanitize=thread
                                                            -fno-omit-frame-pointer)
  target_link_options(openbits_compile_options INTERFACE -fsanitize=thread)
endif()
if(OPENBITS_SANITIZE)
  target_compile_options(openbits_compile_options INTERFACE -fsanitize=address,undefined
                                                            -fno-omit-frame-pointer
                                                            -fno-sanitize-recover=undefined)
  target_link_options(openbits_compile_options INTERFACE -fsanitize=address,undefined)
endif()
