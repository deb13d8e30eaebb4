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
#include "kernels/common/philox.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/random.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace random_detail {

using i64 = std::int64_t;
using u64 = std::uint64_t;

/// out's dims in logical order with size-1 dims dropped and neighbours merged where their
/// strides chain; merging keeps the row-major order, so flat index i is logical element i (the
/// same walk as kernels/cpu/random.cpp).
struct Walk {
  int ndim;               // >= 1
  i64 shape[kMaxDims];    // (ndim,)
  i64 strides[kMaxDims];  // (ndim,) elements
};

inline Walk plan_walk(const View& out) {
  Walk w{};
  for (int d = 0; d < out.ndim; ++d) {
    if (out.shape[d] == 1) continue;
    if (w.ndim > 0 && w.strides[w.ndim - 1] == out.strides[d] * out.shape[d]) {
      w.shape[w.ndim - 1] *= out.shape[d];
      w.strides[w.ndim - 1] = out.strides[d];
    } else {
      w.shape[w.ndim] = out.shape[d];
      w.strides[w.ndim] = out.strides[d];
      ++w.ndim;
    }
  }
  if (w.ndim == 0) {  // scalar or all dims of size 1
    w.ndim = 1;
    w.shape[0] = 1;
    w.strides[0] = 1;
  }
  return w;
}

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

/// Per-call constants of one distribution, already converted to the element type T (as in the
/// CPU kernel).
template <class T>
struct Params {
  RandomDist dist;
  T a, b;         // uniform: [a, b); normal: mean a, std b (unused for randint)
  i64 int_lo;     // randint: low
  u64 int_range;  // randint: high - low, in [1, 2^64)
};

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

// ---- validation: the CPU kernel's checks and messages ----------------------------------------

inline const char* dist_name(RandomDist d) {
  switch (d) {
    case RandomDist::uniform: return "uniform";
    case RandomDist::normal: return "normal";
    case RandomDist::randint: return "randint";
  }
  return "random_fill";
}

/// x is an integer value usable as an int64 bound: -2^63 <= x <= 2^63 (2^63 as an exclusive
/// upper bound, since INT64_MAX converts to it in double).
inline bool is_int_bound(double x) {
  return std::isfinite(x) && std::trunc(x) == x && x >= -0x1p63 && x <= 0x1p63;
}

/// x (from is_int_bound) as a uint64 two's-complement value; 2^63 maps to 2^63.
inline u64 int_bound_bits(double x) {
  if (x == 0x1p63) return u64(1) << 63;
  return static_cast<u64>(static_cast<i64>(x));
}

template <class T>
Params<T> make_params(RandomDist dist, const View& out, double a, double b) {
  const char* op = dist_name(dist);
  Params<T> p{};
  p.dist = dist;
  if (dist == RandomDist::randint) {
    DITTO_CHECK(is_int_bound(a) && is_int_bound(b) && a < b && a < 0x1p63, op,
                ": needs integer bounds low < high within int64, got [", a, ", ", b, ")");
    p.int_lo = static_cast<i64>(a);
    // high - low modulo 2^64 is exact whenever the true range is in [1, 2^64).
    p.int_range = int_bound_bits(b) - int_bound_bits(a);
    DITTO_CHECK(p.int_range != 0, op, ": range [", a, ", ", b, ") has more than 2^64 - 1 values");
    return p;
  }
  if constexpr (std::is_floating_point_v<T>) {
    const std::string_view tn = dtype_name(out.dtype);
    if (dist == RandomDist::uniform) {
      DITTO_CHECK(std::isfinite(a) && std::isfinite(b) && a < b, op,
                  ": needs finite low < high, got [", a, ", ", b, ")");
      p.a = static_cast<T>(a);
      p.b = static_cast<T>(b);
      DITTO_CHECK(std::isfinite(p.a) && std::isfinite(p.b) && std::isfinite(p.b - p.a), op,
                  ": range [", a, ", ", b, ") overflows ", tn);
      DITTO_CHECK(p.a < p.b, op, ": range [", a, ", ", b, ") is empty once rounded to ", tn);
    } else {  // normal
      DITTO_CHECK(std::isfinite(a), op, ": mean must be finite, got ", a);
      DITTO_CHECK(std::isfinite(b) && b >= 0, op, ": std must be finite and >= 0, got ", b);
      p.a = static_cast<T>(a);
      p.b = static_cast<T>(b);
      DITTO_CHECK(std::isfinite(p.a) && std::isfinite(p.b), op, ": mean ", a, " or std ", b,
                  " overflows ", tn);
    }
  }
  return p;
}

/// Block size free (the override applies); about four elements per thread, at most 4096 blocks.
constexpr int kThreads = 256;
constexpr i64 kElemsPerThread = 4;

template <class T>
void launch_fill(RandomDist dist, const View& out, u64 seed, u64 offset, double a, double b) {
  const Params<T> p = make_params<T>(dist, out, a, b);  // validates even for empty outputs
  const i64 n = out.numel();
  if (n == 0) return;
  DITTO_CHECK(out.data != nullptr, dist_name(dist), ": output has no data");
  const int threads = pick_threads(kThreads);
  const int blocks = pick_blocks(n, static_cast<i64>(threads) * kElemsPerThread);
  ditto::sim::launch(random_kernel<T>, dim3(blocks), dim3(threads), 0, plan_walk(out),
                     static_cast<T*>(out.data), n, p, seed, offset);
  ditto::sim::device_synchronize();
}

}  // namespace random_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/random.cu, kernels/sim/random_sim.cpp).

/// See kernels/random.h; bits equal cpu::random_fill for any launch configuration and schedule.
void random_fill(RandomDist dist, const View& out, std::uint64_t seed, std::uint64_t offset,
                 double a, double b) {
  using namespace random_detail;
  const char* op = dist_name(dist);
  DITTO_CHECK(out.ndim >= 0 && out.ndim <= kMaxDims, op, ": output has ", out.ndim,
              " dims, at most ", kMaxDims, " supported");
  // A stride-0 dim would make several logical elements share one address: threads would race
  // and the surviving value would depend on the schedule.
  const bool empty = out.numel() == 0;
  for (int d = 0; d < out.ndim && !empty; ++d)
    DITTO_CHECK(out.shape[d] <= 1 || out.strides[d] != 0, op, ": output dim ", d,
                " has stride 0 (overlapping elements)");
  switch (out.dtype) {
    case DType::f32: launch_fill<float>(dist, out, seed, offset, a, b); return;
    case DType::f64: launch_fill<double>(dist, out, seed, offset, a, b); return;
    case DType::i64:
      DITTO_CHECK(dist == RandomDist::randint, op, ": needs a floating output dtype, got i64");
      launch_fill<std::int64_t>(dist, out, seed, offset, a, b);
      return;
    case DType::u8: break;
  }
  DITTO_FAIL(op, ": output dtype ", dtype_name(out.dtype), " not supported (",
             dist == RandomDist::randint ? "f32, f64, i64" : "f32, f64", ")");
}

}  // namespace ditto::kernels::DITTO_GPU_NS
