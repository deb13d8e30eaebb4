# Installs ditto into a scratch prefix, then configures, builds and runs test/consumer against the
# installed package only (find_package(ditto CONFIG REQUIRED)). Any failing step fails the test.
#   cmake -D DITTO_BUILD_DIR=... -D PREFIX=... -D CONSUMER_SOURCE=... -D CONSUMER_BUILD=...
#         -D CONFIG=... -D CXX_COMPILER=... -D GENERATOR=... -P consumer_test.cmake
function(step what)
  message("---- consumer_package: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer_package: ${what} failed (${rc})")
  endif()
endfunction()

if(NOT CONFIG)
  set(CONFIG Release)
endif()
file(REMOVE_RECURSE "${PREFIX}" "${CONSUMER_BUILD}")

step("install into ${PREFIX}"
  "${CMAKE_COMMAND}" --install "${DITTO_BUILD_DIR}" --prefix "${PREFIX}" --config "${CONFIG}")

# The installed headers are the public API only: no kernel internals.
foreach(internal IN ITEMS kernels/cpu kernels/cuda kernels/common kernels/dispatch.h
    kernels/sim/runtime.h kernels/sim/cuda_shim.h io/file_util.h io/json.h core/ops/op_util.h)
  if(EXISTS "${PREFIX}/include/ditto/${internal}")
    message(FATAL_ERROR "consumer_package: internal ${internal} was installed")
  endif()
endforeach()
if(NOT EXISTS "${PREFIX}/include/ditto/kernels/sim/control.h")
  message(FATAL_ERROR "consumer_package: the public simulator API kernels/sim/control.h is missing")
endif()

# The package must not make consumers find ditto's private dependencies (Eigen).
file(GLOB_RECURSE target_files "${PREFIX}/*/dittoTargets*.cmake")
if(NOT target_files)
  message(FATAL_ERROR "consumer_package: no dittoTargets*.cmake under ${PREFIX}")
endif()
foreach(f IN LISTS target_files)
  file(READ "${f}" content)
  if(content MATCHES "Eigen")
    message(FATAL_ERROR "consumer_package: ${f} refers to Eigen, a private dependency")
  endif()
endforeach()

step("configure ${CONSUMER_SOURCE}"
  "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE}" -B "${CONSUMER_BUILD}" -G "${GENERATOR}"
  "-DCMAKE_BUILD_TYPE=${CONFIG}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)

# It must have found the installed copy, not a build tree.
file(STRINGS "${CONSUMER_BUILD}/CMakeCache.txt" ditto_dir REGEX "^ditto_DIR:")
string(FIND "${ditto_dir}" "${PREFIX}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "consumer_package: found ditto outside ${PREFIX}: ${ditto_dir}")
endif()

step("build" "${CMAKE_COMMAND}" --build "${CONSUMER_BUILD}" --config "${CONFIG}")

set(exe "${CONSUMER_BUILD}/ditto_consumer")
if(NOT EXISTS "${exe}")
  set(exe "${CONSUMER_BUILD}/${CONFIG}/ditto_consumer")  # multi-config generators
endif()
step("run ${exe}" "${exe}")
set(exe_sim "${CONSUMER_BUILD}/ditto_consumer_sim")
if(NOT EXISTS "${exe_sim}")
  set(exe_sim "${CONSUMER_BUILD}/${CONFIG}/ditto_consumer_sim")
endif()
step("run ${exe_sim}" "${exe_sim}")
