// ditto — the one kernel-launch helper, for both compilers. `<<<>>>` appears nowhere else.
// Every launch of a kernels/cuda/*.cuh source goes through it: real CUDA launches under nvcc,
// simulated ones under the host compiler (hence `gpu`, not `sim`).
//
//   ditto::gpu::launch(kernel, dim3 grid, dim3 block, size_t dyn_smem, args...);
//
// Under nvcc: `kernel<<<grid, block, dyn_smem, stream>>>(args...)`, then cudaGetLastError(); a
// failure throws ditto::Error with the CUDA error name and string. (Launches are asynchronous:
// errors raised while the kernel runs surface at the next synchronising call, e.g.
// ditto::gpu::device_synchronize().) Dynamic shared memory above 48 KiB is opted in with
// cudaFuncSetAttribute first.
// Under the host compiler: runs the kernel to completion on the SIMT simulator; a bad
// configuration, a diagnostic (divergent barrier, exited lane in a shuffle, ...), a kernel
// assertion or an exception thrown by a simulated thread throws ditto::Error after all workers
// have stopped.
#pragma once
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "kernels/sim/cuda_shim.h"

namespace ditto::gpu {

#if defined(__CUDACC__)

/// The stream type kernels are launched on.
using Stream = cudaStream_t;

namespace detail {
inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    DITTO_FAIL(what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
  }
}
}  // namespace detail

/// Launches `kernel` on `stream` (see the file comment).
template <class... P, class... A>
void launch_on(Stream stream, void (*kernel)(P...), dim3 grid, dim3 block, std::size_t dyn_smem,
               A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A),
                "ditto::gpu::launch: wrong number of kernel arguments");
  if (dyn_smem > 48 * 1024) {
    detail::check_cuda(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                            cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(dyn_smem)),
                       "CUDA kernel launch (dynamic shared memory opt-in)");
  }
  kernel<<<grid, block, dyn_smem, stream>>>(std::forward<A>(args)...);
  detail::check_cuda(cudaGetLastError(), "CUDA kernel launch");
}

/// Waits for all launched work; throws ditto::Error if a kernel failed.
inline void device_synchronize() {
  detail::check_cuda(cudaDeviceSynchronize(), "CUDA device synchronize");
}

#else  // the simulator

/// On sim there are no streams; launches run to completion in order.
using Stream = void*;

/// Runs `kernel` on the simulator (see the file comment). `stream` is ignored.
template <class... P, class... A>
void launch_on(Stream /*stream*/, void (*kernel)(P...), dim3 grid, dim3 block, std::size_t dyn_smem,
               A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A),
                "ditto::gpu::launch: wrong number of kernel arguments");
  // The parameters are converted once, as nvcc converts them into the kernel's parameter space;
  // every simulated thread then receives its own copy.
  using Params = std::tuple<std::decay_t<P>...>;
  struct Ctx {
    void (*kernel)(P...);
    Params params;
  };
  Ctx ctx{kernel, Params(std::forward<A>(args)...)};
  ::ditto::sim::detail::LaunchSpec spec{};
  spec.grid[0] = grid.x;
  spec.grid[1] = grid.y;
  spec.grid[2] = grid.z;
  spec.block[0] = block.x;
  spec.block[1] = block.y;
  spec.block[2] = block.z;
  spec.dynamic_smem = dyn_smem;
  spec.ctx = &ctx;
  spec.thunk = [](void* p) {
    const Ctx& c = *static_cast<const Ctx*>(p);
    std::apply([&c](const auto&... a) { c.kernel(a...); }, c.params);
  };
  ::ditto::sim::detail::launch(spec);
}

/// Nothing to wait for on sim (launches are synchronous).
inline void device_synchronize() {}

#endif

/// Launches `kernel` on the default stream: `launch(kernel, grid, block, dyn_smem, args...)`.
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t dyn_smem, A&&... args) {
  launch_on(Stream{}, kernel, grid, block, dyn_smem, std::forward<A>(args)...);
}

}  // namespace ditto::gpu
