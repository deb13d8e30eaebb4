// ditto — compile-only check (CI, when nvcc is available): the CUDA shim, the launch helper and
// every kernel of test/test_sim_kernels.cuh must also compile with nvcc, so the simulator's tests
// never rely on something only the simulator accepts. Nothing here is ever run.
//   nvcc -std=c++20 -arch=sm_80 -fmad=false -I. -x cu -c test/test_sim_nvcc.cu
// Built by kernels/sim/sim.cmake as the object library ditto_sim_nvcc_check.
#include "kernels/cuda/launch.h"
#include "test/test_sim_kernels.cuh"

namespace k = ditto_sim_test;

/// Instantiates every kernel through the launch helper (never called).
void ditto_sim_nvcc_check_instantiate_all(float* f, double* d, long long* ll, int* i, unsigned* u,
                                          const unsigned* cu, const int* ci, k::AtomicCounters* c) {
  using ditto::gpu::launch;
  launch(k::shuffle_kernel<float>, dim3(1), dim3(32), 0, 0, 32, cu, ci, f, f);
  launch(k::shuffle_kernel<double>, dim3(1), dim3(32), 0, 0, 32, cu, ci, d, d);
  launch(k::shuffle_kernel<long long>, dim3(1), dim3(32), 0, 0, 32, cu, ci, ll, ll);
  launch(k::shuffle_kernel<int>, dim3(1), dim3(32), 0, 0, 32, cu, ci, i, i);
  launch(k::vote_kernel, dim3(1), dim3(32), 0, cu, ci, u, i, i, u, u, u, i, u, i);
  launch(k::warp_sum_kernel, dim3(1), dim3(32), 0, f, f);
  launch(k::syncwarp_kernel, dim3(1), dim3(64), 0, 1, ci, i);
  launch(k::index_kernel, dim3(2, 3, 2), dim3(16, 4, 2), 0, u);
  launch(k::smem_alignment_kernel, dim3(1), dim3(1), 16, u);
  launch(k::block_sum_kernel<256>, dim3(1), dim3(256), 0, f, 1, f);
  launch(k::racy_block_sum_kernel, dim3(1), dim3(256), 1024, f, f);
  launch(k::barrier_pred_kernel, dim3(1), dim3(32), 0, ci, i, i, i);
  launch(k::smem_isolation_kernel, dim3(1), dim3(32), 128, 1, i, u, i);
  launch(k::atomics_kernel, dim3(1), dim3(32), 0, c, u);
  launch(k::ticket_kernel, dim3(1), dim3(32), 0, u, u);
  launch(k::atomic_sum_kernel, dim3(1), dim3(32), 0, f, 1, f);
  launch(k::divergent_barrier_kernel, dim3(1), dim3(32), 0, i);
  launch(k::barrier_after_exit_kernel, dim3(1), dim3(32), 0, i);
  launch(k::shuffle_exited_lane_kernel, dim3(1), dim3(32), 0, f);
  launch(k::mask_mismatch_kernel, dim3(1), dim3(32), 0, i);
  launch(k::mask_without_self_kernel, dim3(1), dim3(32), 0, i);
  launch(k::bad_width_kernel, dim3(1), dim3(32), 0, i);
  launch(k::deadlock_kernel, dim3(1), dim3(32), 0, i);
  launch(k::assert_kernel, dim3(1), dim3(32), 0, ci, i);
  launch(k::trap_kernel, dim3(1), dim3(32), 0, 3);
  launch(k::printf_kernel, dim3(1), dim3(32), 64 * 1024, 0);
  ditto::gpu::launch_on(ditto::gpu::Stream{}, k::trap_kernel, dim3(1), dim3(32), 0, 3);
  ditto::gpu::device_synchronize();
}
