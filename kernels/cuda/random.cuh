// ditto — GPU random-fill kernel (cuda and sim). Interface: kernels/random.h. Stream convention
// and value conversions: kernels/common/philox.h (the DITTO_HD functions used here are the very
// ones the CPU kernel, kernels/cpu/random.cpp, uses), docs/determinism.md "Random numbers".
//
// Element i (the row-major logical index over out's shape) is computed from Philox counter
// offset + i alone — never from the thread or block index — so the grid size, the block size and
// the block schedule cannot change a bit, and every element equals cpu::random_fill's. The kernel
// is a grid-stride loop over i that maps i to a memory offset (out may have any non-overlapping
// strides) and stores one value.
//
// One kernel template per element type (float, double, int64); the distribution is a runtime
// argument, uniform across the grid.
#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "core/error.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/philox.h"
#include "kernels/common/random_args.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/random.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace random_detail {

using i64 = std::int64_t;
using u64 = std::uint64_t;

// The output walk, the per-call Params and the validation are shared with the CPU kernel:
// kernels/common/random_args.h.
using random_args::dist_name;
using random_args::make_params;
using random_args::Params;
using random_args::plan_walk;
using random_args::Walk;

__device__ __forceinline__ i64 walk_offset(const Walk& w, i64 i) {
  if (w.ndim == 1) return i * w.strides[0];
  i64 off = 0;
  for (int d = w.ndim - 1; d >= 0; --d) {
    const i64 s = w.shape[d];
    const i64 q = i / s;
    off += (i - q * s) * w.strides[d];
    i = q;
  }
  return off;
}

/// Element value from its Philox words (kernels/cpu/random.cpp `element`).
template <class T>
__device__ __forceinline__ T element(const Params<T>& p, const philox::Words& d) {
  if constexpr (std::is_same_v<T, float>) {
    if (p.dist == RandomDist::uniform) return philox::uniform_f32(d, p.a, p.b);
    if (p.dist == RandomDist::normal) return philox::normal_f32(d, p.a, p.b);
  } else if constexpr (std::is_same_v<T, double>) {
    if (p.dist == RandomDist::uniform) return philox::uniform_f64(d, p.a, p.b);
    if (p.dist == RandomDist::normal) return philox::normal_f64(d, p.a, p.b);
  }
  // randint: the integer value, then (f32/f64 outputs) one conversion to T, nearest even.
  return static_cast<T>(philox::randint_i64(d, p.int_lo, p.int_range));
}

template <class T>
__global__ void random_kernel(Walk w, T* out, i64 n, Params<T> p, u64 seed, u64 offset) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    // Counter offset + i, modulo 2^64: the element index, not the thread, picks the counter.
    const philox::Words d = philox::draw(seed, offset + static_cast<u64>(i));
    out[walk_offset(w, i)] = element(p, d);
  }
}

template <class T>
void launch_fill(RandomDist dist, const View& out, u64 seed, u64 offset, double a, double b) {
  const Params<T> p = make_params<T>(dist, out, a, b);  // validates even for empty outputs
  const i64 n = out.numel();
  if (n == 0) return;
  DITTO_CHECK(out.data != nullptr, dist_name(dist), ": output has no data");
  const GridStride c = grid_stride_config(n);
  ditto::gpu::launch(random_kernel<T>, dim3(c.blocks), dim3(c.threads), 0, plan_walk(out),
                     static_cast<T*>(out.data), n, p, seed, offset);
  ditto::gpu::device_synchronize();
}

/// Thread-keyed uniform draws (kernels/random.h random_uniform_by_thread): thread t of the grid
/// fills elements t, t+T, ... from its own stream t+1, so the values depend on the grid size.
template <class T>
__global__ void by_thread_kernel(T* out, i64 n, u64 seed, u64 offset) {
  const i64 nthreads = static_cast<i64>(gridDim.x) * blockDim.x;
  const i64 t = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  u64 j = 0;
  for (i64 i = t; i < n; i += nthreads, ++j) {
    const philox::Words d = philox::draw_stream(seed, static_cast<u64>(t) + 1, offset + j);
    if constexpr (std::is_same_v<T, float>) out[i] = philox::uniform01_f32(d.w[0]);
    else out[i] = philox::uniform01_f64(d.w[0], d.w[1]);
  }
}

template <class T>
void launch_by_thread(const View& out, u64 seed, u64 offset) {
  const i64 n = out.numel();
  if (n == 0) return;
  const GridStride c = grid_stride_config(n);
  ditto::gpu::launch(by_thread_kernel<T>, dim3(c.blocks), dim3(c.threads), 0,
                     static_cast<T*>(out.data), n, seed, offset);
  ditto::gpu::device_synchronize();
}

}  // namespace random_detail

/// See kernels/random.h: bits depend on the launch configuration (on purpose).
void random_uniform_by_thread(const View& out, std::uint64_t seed, std::uint64_t offset) {
  using namespace random_detail;
  random_args::check_by_thread(out);
  visit_float(out.dtype,
              [&](auto tag) { launch_by_thread<typename decltype(tag)::type>(out, seed, offset); });
}

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/random.cu, kernels/sim/random_sim.cpp).

/// See kernels/random.h; bits equal cpu::random_fill for any launch configuration and schedule.
void random_fill(RandomDist dist, const View& out, std::uint64_t seed, std::uint64_t offset,
                 double a, double b) {
  using namespace random_detail;
  random_args::check_output(dist, out);
  visit_dtype(out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::uint8_t>)  // u8: rejected by check_output
      launch_fill<T>(dist, out, seed, offset, a, b);
  });
}

const RandomKernels random_table = {.random_uniform_by_thread = &random_uniform_by_thread,
                                    .random_fill = &random_fill};

}  // namespace ditto::kernels::DITTO_GPU_NS
