// ditto — host-side pieces of random_fill shared by the CPU kernel (kernels/cpu/random.cpp) and
// the GPU kernel (kernels/cuda/random.cuh): argument validation with its messages, the per-call
// constants of a distribution, and the output walk (size-1 dims dropped, chaining dims merged).
// Written once so the two devices cannot drift apart in what they accept or in how a logical
// element index maps to memory.
#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "core/error.h"
#include "kernels/kernel_types.h"
#include "kernels/random.h"

namespace ditto::kernels::random_args {

/// The op name used in error messages.
inline const char* dist_name(RandomDist d) {
  switch (d) {
    case RandomDist::uniform: return "uniform";
    case RandomDist::normal: return "normal";
    case RandomDist::randint: return "randint";
  }
  return "random_fill";
}

/// out's dims in logical order with size-1 dims dropped and neighbours merged where their
/// strides chain (stride[d] == stride[d+1] * shape[d+1]); merging keeps the row-major logical
/// order, so flat index i still means logical element i. POD: GPU kernels take it by value.
struct Walk {
  int ndim = 0;                          // >= 1 once planned
  std::int64_t shape[kMaxDims] = {};    // (ndim,)
  std::int64_t strides[kMaxDims] = {};  // (ndim,) elements
};

/// The walk of `out` (see Walk).
inline Walk plan_walk(const View& out) {
  Walk w;
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

/// Per-call constants of one distribution, already converted to the element type T.
template <class T>
struct Params {
  RandomDist dist;
  T a, b;                   // uniform: [a, b); normal: mean a, std b (unused for randint)
  std::int64_t int_lo;      // randint: low
  std::uint64_t int_range;  // randint: high - low, in [1, 2^64)
};

/// x is an integer value usable as an int64 bound: -2^63 <= x <= 2^63 (2^63 as an exclusive
/// upper bound, since INT64_MAX converts to it in double).
inline bool is_int_bound(double x) {
  return std::isfinite(x) && std::trunc(x) == x && x >= -0x1p63 && x <= 0x1p63;
}

/// x (from is_int_bound) as a uint64 two's-complement value; 2^63 maps to 2^63.
inline std::uint64_t int_bound_bits(double x) {
  if (x == 0x1p63) return std::uint64_t(1) << 63;
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(x));
}

/// Validates the output view and its dtype against the distribution (throws ditto::Error naming
/// the op). After it returns, out.dtype is f32, f64, or i64 with dist == randint.
inline void check_output(RandomDist dist, const View& out) {
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
    case DType::f32:
    case DType::f64: return;
    case DType::i64:
      DITTO_CHECK(dist == RandomDist::randint, op, ": needs a floating output dtype, got i64");
      return;
    case DType::u8: break;
  }
  DITTO_FAIL(op, ": output dtype ", dtype_name(out.dtype), " not supported (",
             dist == RandomDist::randint ? "f32, f64, i64" : "f32, f64", ")");
}

/// Validates (a, b) for the distribution and converts them to T (throws ditto::Error naming the
/// op): randint needs integer bounds low < high within int64; uniform finite low < high that stay
/// a non-empty finite range in T; normal a finite mean and a finite std >= 0.
template <class T>
Params<T> make_params(RandomDist dist, const View& out, double a, double b) {
  const char* op = dist_name(dist);
  Params<T> p{};
  p.dist = dist;
  if (dist == RandomDist::randint) {
    DITTO_CHECK(is_int_bound(a) && is_int_bound(b) && a < b && a < 0x1p63, op,
                ": needs integer bounds low < high within int64, got [", a, ", ", b, ")");
    p.int_lo = static_cast<std::int64_t>(a);
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

/// Validates random_uniform_by_thread's output: f32/f64, contiguous.
inline void check_by_thread(const View& out) {
  DITTO_CHECK(out.dtype == DType::f32 || out.dtype == DType::f64,
              "dropout (fast): random source needs f32 or f64, got ", dtype_name(out.dtype));
  DITTO_CHECK(out.is_contiguous(), "dropout (fast): random source needs a contiguous output");
  DITTO_CHECK(out.numel() == 0 || out.data != nullptr, "dropout (fast): output has no data");
}

}  // namespace ditto::kernels::random_args
