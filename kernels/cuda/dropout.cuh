// ditto — GPU dropout kernels (cuda and sim; interface and rule: kernels/dropout.h). Grid-stride
// loops over the element index: Deterministic draws counter offset + i for element i, whatever
// thread runs it, so grid, block and schedule never change a bit; Fast keys the draw by the
// thread (its bits follow the launch configuration, on purpose). Nothing reduces.
#pragma once
#include <cstdint>

#include "kernels/common/dropout_args.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/dropout.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace dropout_detail {

using i64 = std::int64_t;
using u64 = std::uint64_t;
using u8 = std::uint8_t;
using dropout_args::Consts;

template <class T>
__device__ __forceinline__ void keep_and_scale(const Consts<T>& c, T u, T x, T* out, u8* mask) {
  const bool keep = u < c.keep_below;
  *mask = keep ? 1 : 0;
  *out = (x * T(keep ? 1 : 0)) * c.scale;  // the composition's order: (x * mask) * scale
}

template <class T>
__global__ void forward_deterministic_kernel(const T* x, T* out, u8* mask, i64 n, u64 seed,
                                             u64 offset, Consts<T> c) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const philox::Words d = philox::draw(seed, offset + static_cast<u64>(i));
    keep_and_scale(c, philox::uniform01<T>(d), x[i], out + i, mask + i);
  }
}

// Thread t of the grid's T' threads: elements t, t + T', ... with draws j of stream t + 1.
template <class T>
__global__ void forward_fast_kernel(const T* x, T* out, u8* mask, i64 n, u64 seed, u64 offset,
                                    Consts<T> c) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  const i64 t = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  u64 j = 0;
  for (i64 i = t; i < n; i += step, ++j) {
    const philox::Words d = philox::draw_stream(seed, static_cast<u64>(t) + 1, offset + j);
    keep_and_scale(c, philox::uniform01<T>(d), x[i], out + i, mask + i);
  }
}

template <class T>
__global__ void backward_kernel(const T* g, const u8* mask, T* dx, i64 n, Consts<T> c) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    dx[i] = (g[i] * T(mask[i])) * c.scale;
}

}  // namespace dropout_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/dropout.cu, kernels/sim/dropout_sim.cpp).

/// See kernels/dropout.h: one launch.
void dropout_forward(Mode mode, const View& x, const View& out, const View& mask,
                     std::uint64_t seed, std::uint64_t offset, double p) {
  using namespace dropout_detail;
  dropout_args::check_forward(x, out, mask, p);
  const i64 n = x.numel();
  if (n == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Consts<T> c = dropout_args::consts<T>(p);
    auto* kernel =
        mode == Mode::Deterministic ? forward_deterministic_kernel<T> : forward_fast_kernel<T>;
    launch_1d(kernel, n, static_cast<const T*>(x.data), static_cast<T*>(out.data),
              static_cast<u8*>(mask.data), n, seed, offset, c);
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/dropout.h: one launch.
void dropout_backward(const View& g, const View& mask, const View& dx, double p) {
  using namespace dropout_detail;
  dropout_args::check_backward(g, mask, dx, p);
  const i64 n = g.numel();
  if (n == 0) return;
  visit_float(g.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(backward_kernel<T>, n, static_cast<const T*>(g.data),
              static_cast<const u8*>(mask.data), static_cast<T*>(dx.data), n,
              dropout_args::consts<T>(p));
  });
  ditto::gpu::device_synchronize();
}

const DropoutKernels dropout_table = {.forward = &dropout_forward, .backward = &dropout_backward};

}  // namespace ditto::kernels::DITTO_GPU_NS
