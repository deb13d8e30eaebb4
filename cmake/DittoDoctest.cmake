# ditto_discover_tests(<target> [TIMEOUT <seconds>])
# Registers every doctest test case of <target> as its own ctest test, named like the test case.
# Replaces doctest's doctest_discover_tests(), whose script splits the listing on ';' and so
# turns a test case named "a; b" into two tests that match nothing and pass without running.
# Here any name works, and a ctest test whose filter ran zero test cases fails.
# Discovery runs after each build of <target> (no CMake re-run when test cases change).
set(_DITTO_DOCTEST_ADD_TESTS ${CMAKE_CURRENT_LIST_DIR}/doctest_add_tests.cmake)

function(ditto_discover_tests target)
  cmake_parse_arguments(arg "" "TIMEOUT" "" ${ARGN})
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 300)
  endif()
  set(tests_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    BYPRODUCTS "${tests_file}"
    COMMAND "${CMAKE_COMMAND}"
      -D "TEST_EXECUTABLE=$<TARGET_FILE:${target}>"
      -D "TEST_WORKING_DIR=${CMAKE_CURRENT_BINARY_DIR}"
      -D "TEST_TIMEOUT=${arg_TIMEOUT}"
      -D "CTEST_FILE=${tests_file}"
      -P "${_DITTO_DOCTEST_ADD_TESTS}"
    VERBATIM)
  file(WRITE "${include_file}"
    "if(EXISTS \"${tests_file}\")\n"
    "  include(\"${tests_file}\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
