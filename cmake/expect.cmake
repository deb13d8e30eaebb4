# Runs one command and checks its exit status and output (used by the CLI tests).
#   cmake -D EXE=<program> -D ARGS="<args>" -D EXPECT_RC=<n> -D EXPECT_REGEX=<re> -P expect.cmake
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${EXE}" ${args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("$ ${EXE} ${ARGS}\n${out}${err}")
if(NOT "${rc}" STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT_RC}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match the regex '${EXPECT_REGEX}'")
endif()
