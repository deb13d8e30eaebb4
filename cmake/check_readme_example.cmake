# The README's embedding example must be test/consumer/main.cpp, character for character, so the
# code users copy is the code the consumer_package test builds and runs.
#   cmake -D README=<README.md> -D EXAMPLE=<test/consumer/main.cpp> -P check_readme_example.cmake
# The README marks the block with
#   <!-- example:begin test/consumer/main.cpp -->
#   ```cpp
#   ...
#   ```
#   <!-- example:end -->
file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)
set(begin_marker "<!-- example:begin test/consumer/main.cpp -->\n```cpp\n")
set(end_marker "```\n<!-- example:end -->")
string(FIND "${readme}" "${begin_marker}" begin)
if(begin EQUAL -1)
  message(FATAL_ERROR "${README}: no '<!-- example:begin test/consumer/main.cpp -->' followed "
                      "by a ```cpp fence")
endif()
string(LENGTH "${begin_marker}" len)
math(EXPR begin "${begin} + ${len}")
string(SUBSTRING "${readme}" ${begin} -1 rest)
string(FIND "${rest}" "${end_marker}" end)
if(end EQUAL -1)
  message(FATAL_ERROR "${README}: the example block is not closed by ``` and <!-- example:end -->")
endif()
string(SUBSTRING "${rest}" 0 ${end} block)
if(NOT block STREQUAL example)
  set(copy "${CMAKE_CURRENT_BINARY_DIR}/readme_example.cpp")
  file(WRITE "${copy}" "${block}")
  execute_process(COMMAND diff -u "${EXAMPLE}" "${copy}")
  message(FATAL_ERROR "the README's example differs from ${EXAMPLE} (diff above: - file, + "
                      "README); keep them identical")
endif()
message("README example == ${EXAMPLE}")
