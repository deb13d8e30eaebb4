# Writes a CTest file with one test per doctest test case of TEST_EXECUTABLE (see
# DittoDoctest.cmake). Names are handled as plain strings, never as CMake lists, so ';' survives.
#   cmake -D TEST_EXECUTABLE=... -D TEST_WORKING_DIR=... -D TEST_TIMEOUT=... -D CTEST_FILE=...
#         -P doctest_add_tests.cmake
execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-cases --no-version
  OUTPUT_VARIABLE output RESULT_VARIABLE rc WORKING_DIRECTORY "${TEST_WORKING_DIR}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "'${TEST_EXECUTABLE} --list-test-cases' failed (${rc}):\n${output}")
endif()

set(script "")
set(seen "\n")
set(count 0)
while(NOT output STREQUAL "")
  string(FIND "${output}" "\n" nl)
  if(nl EQUAL -1)
    set(line "${output}")
    set(output "")
  else()
    string(SUBSTRING "${output}" 0 ${nl} line)
    math(EXPR nl "${nl} + 1")
    string(SUBSTRING "${output}" ${nl} -1 output)
  endif()
  if(line STREQUAL "" OR line MATCHES "^\\[doctest\\] " OR line MATCHES "^=+$")
    continue()
  endif()
  if(line MATCHES "]==]")
    message(FATAL_ERROR "test case name contains ']==]': ${line}")
  endif()
  # The same name in two files: one ctest test runs both (the filter matches both).
  string(FIND "${seen}" "\n${line}\n" dup)
  if(NOT dup EQUAL -1)
    continue()
  endif()
  string(APPEND seen "${line}\n")
  math(EXPR count "${count} + 1")
  # doctest filters are comma-separated lists: escape the commas of the name.
  string(REPLACE "," "\\," filter "${line}")
  string(APPEND script
    "add_test([==[${line}]==] [==[${TEST_EXECUTABLE}]==] [==[--test-case=${filter}]==])\n"
    "set_tests_properties([==[${line}]==] PROPERTIES WORKING_DIRECTORY [==[${TEST_WORKING_DIR}]==]"
    " TIMEOUT ${TEST_TIMEOUT} FAIL_REGULAR_EXPRESSION [==[test cases: +0 \\|]==])\n")
endwhile()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no test cases")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
