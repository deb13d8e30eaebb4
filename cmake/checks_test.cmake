# Tests cmake/DittoChecks.cmake on scratch trees: a complete kernel family and classified suites
# pass; a family without its sim source, a suite in neither list, test cases outside any suite
# and a listed suite nobody declares each make a (child) cmake fail with the expected message.
#   cmake -D CHECKS=<DittoChecks.cmake> -D WORK=<scratch dir> -P checks_test.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# expect(<name> <0|1> <regex> <cmake code>): runs the code in a child `cmake -P`.
function(expect name fails regex code)
  file(WRITE "${WORK}/${name}.cmake"
    "cmake_minimum_required(VERSION 3.25)\ninclude(\"${CHECKS}\")\n${code}\n")
  execute_process(COMMAND "${CMAKE_COMMAND}" -P "${WORK}/${name}.cmake"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(fails AND rc EQUAL 0)
    message(FATAL_ERROR "${name}: passed, expected a failure")
  endif()
  if(NOT fails AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: failed: ${err}")
  endif()
  # CMake wraps long messages at word boundaries: compare with whitespace runs folded to " ".
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}${err}")
  if(NOT flat MATCHES "${regex}")
    message(FATAL_ERROR "${name}: output does not match '${regex}':\n${out}${err}")
  endif()
  message("${name}: ok")
endfunction()

# A tree with one complete family 'foo' and one 'bar' without its sim source.
set(T "${WORK}/tree")
foreach(f IN ITEMS kernels/cuda/foo.cuh kernels/cuda/foo.cu kernels/foo.h
    kernels/common/foo_args.h kernels/cpu/foo.cpp kernels/sim/foo_sim.cpp
    kernels/cuda/gpu_common.cuh)
  file(WRITE "${T}/${f}" "")
endforeach()
expect(family_complete 0 "families: foo" "ditto_kernel_families(f \"${T}\")\nmessage(\"families: \${f}\")")
foreach(f IN ITEMS kernels/cuda/bar.cuh kernels/cuda/bar.cu kernels/bar.h kernels/common/bar_args.h
    kernels/cpu/bar.cpp)
  file(WRITE "${T}/${f}" "")
endforeach()
expect(family_missing_sim 1 "kernel family 'bar' .* has no kernels/sim/bar_sim.cpp"
  "ditto_kernel_families(f \"${T}\")")

file(WRITE "${WORK}/a.cpp" "TEST_SUITE(\"ops\") {\n  TEST_CASE(\"x\") {}\n}\n")
file(WRITE "${WORK}/b.cpp" "TEST_SUITE_BEGIN(\"kern\");\nTEST_CASE(\"y\") {}\nTEST_SUITE_END();\n")
file(WRITE "${WORK}/loose.cpp" "TEST_CASE(\"z\") {}\n")
expect(suites_classified 0 "" "ditto_check_test_suites(SOURCES \"${WORK}/a.cpp\" \"${WORK}/b.cpp\" DEVICE ops HOST kern)")
expect(suite_unclassified 1 "suite 'kern' is neither rerun on every device"
  "ditto_check_test_suites(SOURCES \"${WORK}/a.cpp\" \"${WORK}/b.cpp\" DEVICE ops HOST)")
expect(cases_outside_suites 1 "test cases outside any TEST_SUITE"
  "ditto_check_test_suites(SOURCES \"${WORK}/loose.cpp\" DEVICE HOST)")
expect(suite_listed_not_declared 1 "lists suite 'gone', which no test file declares"
  "ditto_check_test_suites(SOURCES \"${WORK}/a.cpp\" DEVICE ops gone HOST)")
