// ditto — included first by every kernels/cuda/*.cuh: the CUDA shim, the launch helper, and
// DITTO_GPU_NS, the namespace the same kernel source lands in for each compiler.
//
// A kernel source is compiled twice: by nvcc in kernels/cuda/<family>.cu (its launchers become
// ditto::kernels::cuda::*) and by the host compiler in kernels/sim/<family>_sim.cpp against the
// simulator (ditto::kernels::sim::*). Both sets of launchers implement the same declarations from
// kernels/<family>.h, so the two compilations never define the same symbol.
#pragma once
#include <cstdint>

#include "core/device.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/cuda/launch.h"
#include "kernels/device_memory.h"
#include "kernels/kernel_types.h"
#include "kernels/launch_config.h"
#include "kernels/sim/cuda_shim.h"

#if defined(__CUDACC__)
#define DITTO_GPU_NS cuda
#else
#define DITTO_GPU_NS sim
#endif

namespace ditto::kernels::DITTO_GPU_NS {

/// The device this compilation's launchers run on (scratch buffers are allocated there).
inline Device this_device() {
#if defined(__CUDACC__)
  int dev = 0;
  cudaGetDevice(&dev);
  return Device::cuda(dev);
#else
  return Device::sim();
#endif
}

/// The launch configuration of a grid-stride kernel over `items` elements, shared by every
/// family: blocks of 256 threads (pick_threads: tests may force another size), about four
/// elements per thread, at most `max_blocks` blocks (the kernels stride beyond). Only the
/// configuration, never a result, depends on it.
struct GridStride {
  int blocks, threads;
};
inline GridStride grid_stride_config(std::int64_t items, int max_blocks = 4096) {
  constexpr int kThreads = 256;
  constexpr std::int64_t kElemsPerThread = 4;
  const int threads = pick_threads(kThreads);
  return {pick_blocks(items, static_cast<std::int64_t>(threads) * kElemsPerThread, max_blocks),
          threads};
}

/// Launches a grid-stride `kernel` over `n` elements (grid_stride_config(n)).
template <class... P, class... A>
void launch_1d(void (*kernel)(P...), std::int64_t n, A&&... args) {
  const GridStride c = grid_stride_config(n);
  ditto::gpu::launch(kernel, dim3(c.blocks), dim3(c.threads), 0, std::forward<A>(args)...);
}

/// Element offset of logical (row-major) index i in a View — the per-element index math every
/// strided GPU kernel uses. Why a loop over dims: views may be arbitrarily strided/broadcast.
__host__ __device__ inline std::int64_t view_offset(const View& v, std::int64_t i) {
  std::int64_t off = 0;
  for (int d = v.ndim - 1; d >= 0; --d) {
    std::int64_t s = v.shape[d];
    off += (i % s) * v.strides[d];
    i /= s;
  }
  return off;
}

/// The grid-stride loop of the 1-D kernels: this thread's first index and the stride.
__device__ __forceinline__ std::int64_t first_index() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t grid_step() {
  return static_cast<std::int64_t>(gridDim.x) * blockDim.x;
}

/// p[0..n) = +0: where every Fast scatter starts.
template <class T>
__global__ void zero_kernel(T* p, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_step()) p[i] = T(0);
}

}  // namespace ditto::kernels::DITTO_GPU_NS
