# Configuration checks that make a forgotten piece an error instead of a silent skip
# (included by CMakeLists.txt and test/CMakeLists.txt; tested by cmake/checks_test.cmake).
#
# ditto_kernel_families(<out var> <source root>): the kernel families, one per
#   kernels/cuda/<f>.cuh (gpu_common.cuh excepted); FATAL_ERROR when one lacks kernels/<f>.h,
#   kernels/common/<f>_args.h, kernels/cpu/<f>.cpp, kernels/cuda/<f>.cu or kernels/sim/<f>_sim.cpp.
# ditto_check_test_suites(SOURCES <files...> DEVICE <suites...> HOST <suites...>): FATAL_ERROR
#   when a file has test cases outside any TEST_SUITE, declares a suite in neither list, or a
#   listed suite is declared nowhere.

function(ditto_kernel_families out root)
  if(CMAKE_SCRIPT_MODE_FILE)  # (cmake -P: the checks' own test)
    file(GLOB _cuh ${root}/kernels/cuda/*.cuh)
  else()  # re-globbed at build time, so a new family is checked without a manual re-configure
    file(GLOB _cuh CONFIGURE_DEPENDS ${root}/kernels/cuda/*.cuh)
  endif()
  set(_families "")
  foreach(_file IN LISTS _cuh)
    get_filename_component(_f ${_file} NAME_WE)
    if(_f STREQUAL "gpu_common")  # the shared preamble of every family, not a family
      continue()
    endif()
    list(APPEND _families ${_f})
    foreach(_need IN ITEMS kernels/${_f}.h kernels/common/${_f}_args.h kernels/cpu/${_f}.cpp
        kernels/cuda/${_f}.cu kernels/sim/${_f}_sim.cpp)
      if(NOT EXISTS ${root}/${_need})
        message(FATAL_ERROR "kernel family '${_f}' (kernels/cuda/${_f}.cuh) has no ${_need}")
      endif()
    endforeach()
  endforeach()
  set(${out} ${_families} PARENT_SCOPE)
endfunction()

function(ditto_check_test_suites)
  cmake_parse_arguments(arg "" "" "SOURCES;DEVICE;HOST" ${ARGN})
  set(_found "")
  foreach(_src IN LISTS arg_SOURCES)
    file(STRINGS ${_src} _decls REGEX "^[ \t]*TEST_SUITE(_BEGIN)?\\(\"[A-Za-z0-9_]+\"\\)")
    file(STRINGS ${_src} _cases REGEX "^[ \t]*TEST_CASE")
    if(_cases AND NOT _decls)
      message(FATAL_ERROR "${_src}: test cases outside any TEST_SUITE; put them in a suite and "
        "list it in DITTO_DEVICE_SUITES or DITTO_HOST_SUITES (test/CMakeLists.txt)")
    endif()
    foreach(_d IN LISTS _decls)
      string(REGEX REPLACE ".*TEST_SUITE(_BEGIN)?\\(\"([A-Za-z0-9_]+)\"\\).*" "\\2" _name "${_d}")
      list(APPEND _found ${_name})
      if(NOT _name IN_LIST arg_DEVICE AND NOT _name IN_LIST arg_HOST)
        message(FATAL_ERROR "${_src}: suite '${_name}' is neither rerun on every device "
          "(DITTO_DEVICE_SUITES) nor declared host-only (DITTO_HOST_SUITES) in test/CMakeLists.txt")
      endif()
    endforeach()
  endforeach()
  foreach(_name IN LISTS arg_DEVICE arg_HOST)
    if(NOT _name IN_LIST _found)
      message(FATAL_ERROR "test/CMakeLists.txt lists suite '${_name}', which no test file declares")
    endif()
  endforeach()
endfunction()
