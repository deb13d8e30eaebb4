# ditto — CMake pieces of the SIMT simulator (kernels/sim/), include()d by the root CMakeLists.txt
# AFTER the `ditto` library target is created.
#
# Expects:
#   - target `ditto` whose sources include kernels/sim/*.cpp (the root globs them);
#   - DITTO_CUDA (ON when nvcc compiles the CUDA sources; CUDA language enabled) and
#     DITTO_CUDA_FLAGS (the nvcc flags: -std=c++20 -fmad=false ...);
#   - DITTO_TESTS.
# Provides:
#   - Threads::Threads linked into `ditto` (the simulator's persistent worker pool). The installed
#     package config then needs `find_dependency(Threads)`.
#   - ditto_sim_nvcc_check (when DITTO_CUDA and DITTO_TESTS): an OBJECT library, built by `all`,
#     that compiles the CUDA shim, the launch helper and every kernel of
#     test/test_sim_kernels.cuh with nvcc for CMAKE_CUDA_ARCHITECTURES. Compile only, nothing runs.
set(_ditto_sim_root "${CMAKE_CURRENT_LIST_DIR}/../..")
cmake_path(NORMAL_PATH _ditto_sim_root)

find_package(Threads REQUIRED)
target_link_libraries(ditto PUBLIC Threads::Threads)

if(DITTO_CUDA AND DITTO_TESTS)
  add_library(ditto_sim_nvcc_check OBJECT "${_ditto_sim_root}/test/test_sim_nvcc.cu")
  target_include_directories(ditto_sim_nvcc_check PRIVATE "${_ditto_sim_root}")
  target_compile_options(ditto_sim_nvcc_check PRIVATE
    "$<$<COMPILE_LANGUAGE:CUDA>:${DITTO_CUDA_FLAGS}>")
endif()
