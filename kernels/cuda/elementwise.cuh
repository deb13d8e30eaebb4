// ditto — GPU elementwise kernels (cuda and sim): unary, binary, where, copy, fill.
// Interface: kernels/elementwise.h. Bit-exact reference: kernels/cpu/elementwise.cpp, whose
// "Element rules" comment block is the contract implemented here element for element (and
// docs/determinism.md, "Elementwise ops").
//
// Every output element is a function of the same-index input elements only, so the grid size,
// the block size and the block schedule cannot change a bit: each kernel is a grid-stride loop
// over the logical (row-major) element index i, maps i to one memory offset per operand, and
// applies the element rule. Nothing reduces.
//
// Why the rules are written out by hand rather than with CUDA's math library:
//   - neg/abs flip/clear the sign bit with integer operations: that is what x86 does for `-x` and
//     fabs (xor/and), while PTX leaves the NaN result of neg.f32/abs.f32 unspecified.
//   - maximum/minimum are IEEE 754-2019 (NaN wins, -0 < +0); fmaxf/fminf do neither.
//   - transcendentals are ditto::dmath (identical bits on every device), never expf & co.
//   - float → i64 saturates and maps NaN to 0 explicitly (C++ leaves it undefined; PTX cvt.rzi
//     and x86 cvttsd2si disagree on out-of-range values).
// NaN payloads of arithmetic results may differ between a GPU (canonical NaN) and x86; the
// contract compares those as "is NaN". Bit-moving ops (where, same-dtype copy, fill) go through
// unsigned integers, so NaN payloads survive them on every device.
//
// Kernels: one template per (op family, element type), the op a runtime argument switched on per
// element (uniform across the grid, so no divergence); the launchers switch on the dtype.
//   unary_kernel<T>     T = float, double, int64        (op: UnaryOp)
//   binary_kernel<T>    T = float, double, int64, uint8 (op: BinaryOp; comparisons write u8)
//   where_kernel<U>     U = uint8/32/64 by element size (bits)
//   copy_bits_kernel<U> same-dtype copy, by element size (bits)
//   convert_kernel<F>   F = source type; destination dtype a runtime argument
//   fill_kernel<U>      by element size (the value converted on the host, as bits)
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "kernels/common/dmath.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/elementwise_args.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/elementwise.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace ew_detail {

using i64 = std::int64_t;
using u64 = std::uint64_t;
using u32 = std::uint32_t;
using u8 = std::uint8_t;

// ---- strided walk ---------------------------------------------------------------------------

/// N operands (operand 0 the output) over one logical shape: size-1 dims dropped and adjacent
/// dims merged where every operand's strides chain (stride[d] == stride[d+1] * shape[d+1]).
/// Merging keeps row-major order, so flat index i is logical element i; a contiguous (or
/// scalar-broadcast) problem becomes one dim and its offsets need no division.
template <int N>
struct Walk {
  char* data[N];
  int ndim;                  // >= 1
  i64 shape[kMaxDims];       // (ndim,)
  i64 strides[N][kMaxDims];  // (N, ndim) in elements; 0 on broadcast dims
};

template <int N>
inline Walk<N> plan_walk(const View* const (&ops)[N]) {
  Walk<N> w{};
  const View& out = *ops[0];
  for (int k = 0; k < N; ++k) w.data[k] = static_cast<char*>(ops[k]->data);
  w.ndim = 0;
  for (int d = 0; d < out.ndim; ++d) {
    if (out.shape[d] == 1) continue;
    bool merge = w.ndim > 0;
    for (int k = 0; merge && k < N; ++k)
      merge = w.strides[k][w.ndim - 1] == ops[k]->strides[d] * out.shape[d];
    if (merge) {
      w.shape[w.ndim - 1] *= out.shape[d];
      for (int k = 0; k < N; ++k) w.strides[k][w.ndim - 1] = ops[k]->strides[d];
    } else {
      w.shape[w.ndim] = out.shape[d];
      for (int k = 0; k < N; ++k) w.strides[k][w.ndim] = ops[k]->strides[d];
      ++w.ndim;
    }
  }
  if (w.ndim == 0) {  // 0-d, or every dim of size 1: one element at offset 0
    w.ndim = 1;
    w.shape[0] = 1;
    for (int k = 0; k < N; ++k) w.strides[k][0] = 0;
  }
  return w;
}

/// off[k] = element offset of logical index i in operand k. One div/mod per dim, shared by all
/// operands.
template <int N>
__device__ __forceinline__ void walk_offsets(const Walk<N>& w, i64 i, i64 (&off)[N]) {
  if (w.ndim == 1) {
    DITTO_UNROLL
    for (int k = 0; k < N; ++k) off[k] = i * w.strides[k][0];
    return;
  }
  DITTO_UNROLL
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = w.ndim - 1; d >= 0; --d) {
    const i64 s = w.shape[d];
    const i64 q = i / s;
    const i64 r = i - q * s;
    DITTO_UNROLL
    for (int k = 0; k < N; ++k) off[k] += r * w.strides[k][d];
    i = q;
  }
}

template <class T>
__device__ __forceinline__ T& at(char* base, i64 off) {
  return reinterpret_cast<T*>(base)[off];
}

/// First logical index of this thread and the grid-stride step.
__device__ __forceinline__ i64 first_index() {
  return static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ i64 grid_step() { return static_cast<i64>(gridDim.x) * blockDim.x; }

// ---- element rules (kernels/cpu/elementwise.cpp, "Element rules") --------------------------

template <class T>
struct Bits;
template <>
struct Bits<float> {
  using U = u32;
  static constexpr U kSign = 0x80000000u;
};
template <>
struct Bits<double> {
  using U = u64;
  static constexpr U kSign = 0x8000000000000000ull;
};

template <class T>
__host__ __device__ __forceinline__ typename Bits<T>::U to_bits(T x) {
  typename Bits<T>::U u;
  __builtin_memcpy(&u, &x, sizeof u);
  return u;
}
template <class T>
__host__ __device__ __forceinline__ T from_bits(typename Bits<T>::U u) {
  T x;
  __builtin_memcpy(&x, &u, sizeof x);
  return x;
}
template <class T>
__host__ __device__ __forceinline__ bool sign_bit(T x) {
  return (to_bits(x) & Bits<T>::kSign) != 0;
}

/// -x. Floats: the sign bit flipped (NaN included). i64: two's-complement wraparound.
template <class T>
__host__ __device__ __forceinline__ T wrap_neg(T x) {
  if constexpr (std::is_same_v<T, i64>)
    return static_cast<i64>(u64(0) - static_cast<u64>(x));
  else
    return from_bits<T>(to_bits(x) ^ Bits<T>::kSign);
}

/// Floats: the sign bit cleared. i64: wraps like neg (abs(INT64_MIN) == INT64_MIN).
template <class T>
__host__ __device__ __forceinline__ T abs_elem(T x) {
  if constexpr (std::is_same_v<T, i64>)
    return x < 0 ? wrap_neg(x) : x;
  else
    return from_bits<T>(to_bits(x) & ~Bits<T>::kSign);
}

/// IEEE 754-2019 maximum: NaN first (a before b), then the larger, +0 over -0.
template <class T>
__host__ __device__ __forceinline__ T elem_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    return a != a ? a : b != b ? b : a > b ? a : b > a ? b : sign_bit(a) ? b : a;
  else
    return a > b ? a : b;
}

/// IEEE 754-2019 minimum: NaN first (a before b), then the smaller, -0 under +0.
template <class T>
__host__ __device__ __forceinline__ T elem_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    return a != a ? a : b != b ? b : a < b ? a : b < a ? b : sign_bit(a) ? a : b;
  else
    return a < b ? a : b;
}

/// Float → i64: truncate toward zero, NaN → 0, saturate outside [-2^63, 2^63).
template <class F>
__host__ __device__ __forceinline__ i64 float_to_i64(F x) {
  const F two63 = F(9223372036854775808.0);
  if (x != x) return 0;
  if (x >= two63) return INT64_MAX;
  if (x < -two63) return INT64_MIN;
  return static_cast<i64>(x);  // in range: truncation toward zero (-2^63 itself is exact)
}

/// The copy/fill conversion rule (see kernels/cpu/elementwise.cpp).
template <class To, class From>
__host__ __device__ __forceinline__ To convert(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(x);  // round to nearest even (f64→f32, i64→float); u8 exact
  } else if constexpr (std::is_floating_point_v<From>) {
    const i64 v = float_to_i64(x);
    if constexpr (std::is_same_v<To, i64>)
      return v;
    else
      return static_cast<To>(static_cast<u64>(v));  // modulo 256
  } else {
    return static_cast<To>(x);  // i64 → u8 wraps modulo 256; u8 → i64 keeps the value
  }
}

__host__ __device__ __forceinline__ float sqrt_elem(float x) { return sqrtf(x); }
__host__ __device__ __forceinline__ double sqrt_elem(double x) { return sqrt(x); }

/// pow_scalar's kind, decided once per call on the host from the exponent (the same rule as the
/// CPU kernel: kernels/common/elementwise_args.h).
using ew_args::PowKind;
using ew_args::pow_int;  // PowKind::intpow's element rule

template <class T>
__host__ __device__ __forceinline__ T pow_general(T x, T q) {
  if (x > T(0)) {
    const T l = dmath::log(x);
    const T ql = q * l;  // separate statement: one rounding, never contracted
    return dmath::exp(ql);
  }
  if (x == T(0)) {
    return q > T(0) ? T(0) : q < T(0) ? dmath::detail::inf<T>() : dmath::detail::qnan<T>();
  }
  return x != x ? x : dmath::detail::qnan<T>();
}

// ---- unary -----------------------------------------------------------------------------------

/// Per-call constants of a unary op, already in the element type.
template <class T>
struct UnaryArgs {
  UnaryOp op;
  PowKind pow;
  unsigned e;  // |p| for intpow
  bool recip;  // p < 0 for intpow
  T lo, hi;    // clamp bounds
  T q;         // pow general exponent
};

template <class T>
__device__ __forceinline__ T unary_elem(const UnaryArgs<T>& a, T x) {
  switch (a.op) {
    case UnaryOp::neg: return wrap_neg(x);
    case UnaryOp::abs: return abs_elem(x);
    case UnaryOp::relu: return x <= T(0) ? T(0) : x;
    case UnaryOp::clamp: return elem_min(elem_max(x, a.lo), a.hi);
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (a.op) {
      case UnaryOp::exp: return dmath::exp(x);
      case UnaryOp::log: return dmath::log(x);
      case UnaryOp::log1p: return dmath::log1p(x);
      case UnaryOp::sqrt: return sqrt_elem(x);
      case UnaryOp::sigmoid: return dmath::sigmoid(x);
      case UnaryOp::tanh: return dmath::tanh(x);
      case UnaryOp::pow_scalar:
        switch (a.pow) {
          case PowKind::one: return T(1);
          case PowKind::identity: return x;
          case PowKind::square: return x * x;
          case PowKind::sqrt: return sqrt_elem(x);
          case PowKind::recip: return T(1) / x;
          case PowKind::intpow: return pow_int(x, a.e, a.recip);
          case PowKind::general: return pow_general(x, a.q);
        }
        break;
      default: break;
    }
  }
  return x;  // unreachable: the launcher validated (op, dtype)
}

template <class T>
__global__ void unary_kernel(Walk<2> w, i64 n, UnaryArgs<T> a) {
  for (i64 i = first_index(); i < n; i += grid_step()) {
    i64 off[2];
    walk_offsets(w, i, off);
    at<T>(w.data[0], off[0]) = unary_elem(a, at<const T>(w.data[1], off[1]));
  }
}

// ---- binary ----------------------------------------------------------------------------------

/// a (op) b for every BinaryOp. Arithmetic writes T, comparisons write u8. i64 division by zero
/// writes 0 and sets *zero (the launcher raises the error after the kernel).
template <class T>
__device__ __forceinline__ void binary_elem(BinaryOp op, T a, T b, char* out, i64 off, bool* zero) {
  using W = std::conditional_t<std::is_floating_point_v<T>, T, u64>;  // wrapping integer math
  switch (op) {
    case BinaryOp::add: at<T>(out, off) = static_cast<T>(W(a) + W(b)); return;
    case BinaryOp::maximum: at<T>(out, off) = elem_max(a, b); return;
    case BinaryOp::minimum: at<T>(out, off) = elem_min(a, b); return;
    case BinaryOp::eq: at<u8>(out, off) = u8(a == b); return;
    case BinaryOp::ne: at<u8>(out, off) = u8(a != b); return;
    case BinaryOp::lt: at<u8>(out, off) = u8(a < b); return;
    case BinaryOp::le: at<u8>(out, off) = u8(a <= b); return;
    case BinaryOp::gt: at<u8>(out, off) = u8(a > b); return;
    case BinaryOp::ge: at<u8>(out, off) = u8(a >= b); return;
    default: break;
  }
  if constexpr (!std::is_same_v<T, u8>) {
    switch (op) {
      case BinaryOp::sub: at<T>(out, off) = static_cast<T>(W(a) - W(b)); return;
      case BinaryOp::mul: at<T>(out, off) = static_cast<T>(W(a) * W(b)); return;
      case BinaryOp::div:
        if constexpr (std::is_floating_point_v<T>) {
          at<T>(out, off) = a / b;
        } else {
          T r = 0;
          if (b == 0)
            *zero = true;
          else
            r = b == -1 ? wrap_neg(a) : a / b;  // INT64_MIN / -1 would trap: wrap instead
          at<T>(out, off) = r;
        }
        return;
      default: break;
    }
  }
}

template <class T>
__global__ void binary_kernel(Walk<3> w, i64 n, BinaryOp op, int* div_by_zero) {
  bool zero = false;
  for (i64 i = first_index(); i < n; i += grid_step()) {
    i64 off[3];
    walk_offsets(w, i, off);
    binary_elem(op, at<const T>(w.data[1], off[1]), at<const T>(w.data[2], off[2]), w.data[0],
                off[0], &zero);
  }
  // One flag store per thread that saw a zero divisor (not one per element).
  if (zero) atomicExch(div_by_zero, 1);
}

// ---- where / copy / fill ---------------------------------------------------------------------

template <class U>
__global__ void where_kernel(Walk<4> w, i64 n) {
  for (i64 i = first_index(); i < n; i += grid_step()) {
    i64 off[4];
    walk_offsets(w, i, off);
    at<U>(w.data[0], off[0]) = at<const u8>(w.data[1], off[1]) ? at<const U>(w.data[2], off[2])
                                                               : at<const U>(w.data[3], off[3]);
  }
}

template <class U>
__global__ void copy_bits_kernel(Walk<2> w, i64 n) {
  for (i64 i = first_index(); i < n; i += grid_step()) {
    i64 off[2];
    walk_offsets(w, i, off);
    at<U>(w.data[0], off[0]) = at<const U>(w.data[1], off[1]);
  }
}

template <class From>
__global__ void convert_kernel(Walk<2> w, i64 n, DType to) {
  for (i64 i = first_index(); i < n; i += grid_step()) {
    i64 off[2];
    walk_offsets(w, i, off);
    const From x = at<const From>(w.data[1], off[1]);
    switch (to) {
      case DType::f32: at<float>(w.data[0], off[0]) = convert<float>(x); break;
      case DType::f64: at<double>(w.data[0], off[0]) = convert<double>(x); break;
      case DType::i64: at<i64>(w.data[0], off[0]) = convert<i64>(x); break;
      case DType::u8: at<u8>(w.data[0], off[0]) = convert<u8>(x); break;
    }
  }
}

template <class U>
__global__ void fill_kernel(Walk<1> w, i64 n, U value) {
  for (i64 i = first_index(); i < n; i += grid_step()) {
    i64 off[1];
    walk_offsets(w, i, off);
    at<U>(w.data[0], off[0]) = value;
  }
}

// ---- launch ----------------------------------------------------------------------------------

// launch_1d / grid_stride_config: kernels/cuda/gpu_common.cuh (one helper for every family).

// ---- host-side arguments (validation: kernels/common/elementwise_args.h) ---------------------

template <class T>
UnaryArgs<T> make_unary_args(UnaryOp op, UnaryParams p) {
  UnaryArgs<T> a{};
  a.op = op;
  a.pow = PowKind::general;
  if (op == UnaryOp::clamp) {
    a.lo = convert<T>(p.a);
    a.hi = convert<T>(p.b);
  }
  if (op == UnaryOp::pow_scalar) {
    const ew_args::PowRule r = ew_args::pow_rule(p.a);
    a.pow = r.kind;
    a.e = r.e;
    a.recip = r.recip;
    a.q = static_cast<T>(p.a);
  }
  return a;
}

template <class T>
void launch_unary(UnaryOp op, const Walk<2>& w, i64 n, UnaryParams p) {
  launch_1d(unary_kernel<T>, n, w, n, make_unary_args<T>(op, p));
}

template <class U>
void launch_fill(const Walk<1>& w, i64 n, U bits) {
  launch_1d(fill_kernel<U>, n, w, n, bits);
}

}  // namespace ew_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/elementwise.cu, kernels/sim/elementwise_sim.cpp).

/// See kernels/elementwise.h; bits equal cpu::unary for any launch configuration.
void unary(UnaryOp op, const View& in, const View& out, UnaryParams p) {
  using namespace ew_detail;
  ew_args::check_unary(op, in, out);
  const i64 n = out.numel();
  if (n == 0) return;
  const View* ops[2] = {&out, &in};
  const Walk<2> w = plan_walk(ops);
  switch (in.dtype) {
    case DType::f32: launch_unary<float>(op, w, n, p); break;
    case DType::f64: launch_unary<double>(op, w, n, p); break;
    default: launch_unary<i64>(op, w, n, p); break;
  }
  ditto::gpu::device_synchronize();
}

/// See kernels/elementwise.h. i64 division by zero: the kernel sets a device flag, and this
/// launcher throws ditto::Error once the kernel has finished (the output is then unspecified).
void binary(BinaryOp op, const View& a, const View& b, const View& out) {
  using namespace ew_detail;
  ew_args::check_binary(op, a, b, out);
  const i64 n = out.numel();
  if (n == 0) return;
  const View* ops[3] = {&out, &a, &b};
  const Walk<3> w = plan_walk(ops);
  const bool int_div = op == BinaryOp::div && a.dtype == DType::i64;
  // The zero-divisor flag lives in device memory; only i64 division can set it.
  Scratch flag(this_device(), int_div ? sizeof(int) : 0);
  int* flag_ptr = flag.get<int>();
  if (int_div) {
    const int zero = 0;
    device_copy(flag_ptr, this_device(), &zero, Device::cpu(), sizeof zero);
  }
  visit_dtype(a.dtype, [&](auto tag) {
    launch_1d(binary_kernel<typename decltype(tag)::type>, n, w, n, op, flag_ptr);
  });
  ditto::gpu::device_synchronize();
  if (int_div) {
    int seen = 0;
    device_copy(&seen, Device::cpu(), flag_ptr, this_device(), sizeof seen);
    ew_args::check_no_div_by_zero(seen != 0, out);
  }
}

/// See kernels/elementwise.h: out = cond ? a : b, bits copied unchanged.
void where(const View& cond, const View& a, const View& b, const View& out) {
  using namespace ew_detail;
  ew_args::check_where(cond, a, b, out);
  const i64 n = out.numel();
  if (n == 0) return;
  const View* ops[4] = {&out, &cond, &a, &b};
  const Walk<4> w = plan_walk(ops);
  switch (dtype_size(out.dtype)) {
    case 1: launch_1d(where_kernel<u8>, n, w, n); break;
    case 4: launch_1d(where_kernel<u32>, n, w, n); break;
    default: launch_1d(where_kernel<u64>, n, w, n); break;
  }
  ditto::gpu::device_synchronize();
}

/// See kernels/elementwise.h: same dtype moves bits; otherwise the conversion rule.
void copy(const View& in, const View& out) {
  using namespace ew_detail;
  ew_args::check_copy(in, out);
  const i64 n = out.numel();
  if (n == 0) return;
  const View* ops[2] = {&out, &in};
  const Walk<2> w = plan_walk(ops);
  if (in.dtype == out.dtype) {
    switch (dtype_size(out.dtype)) {
      case 1: launch_1d(copy_bits_kernel<u8>, n, w, n); break;
      case 4: launch_1d(copy_bits_kernel<u32>, n, w, n); break;
      default: launch_1d(copy_bits_kernel<u64>, n, w, n); break;
    }
  } else {
    visit_dtype(in.dtype, [&](auto tag) {
      launch_1d(convert_kernel<typename decltype(tag)::type>, n, w, n, out.dtype);
    });
  }
  ditto::gpu::device_synchronize();
}

/// See kernels/elementwise.h: the value converted once on the host, then stored as bits.
void fill(const View& out, double value) {
  using namespace ew_detail;
  ew_args::check_fill(out);
  const i64 n = out.numel();
  if (n == 0) return;
  const View* ops[1] = {&out};
  const Walk<1> w = plan_walk(ops);
  switch (out.dtype) {
    case DType::f32: launch_fill<u32>(w, n, to_bits(convert<float>(value))); break;
    case DType::f64: launch_fill<u64>(w, n, to_bits(value)); break;
    case DType::i64: launch_fill<u64>(w, n, static_cast<u64>(convert<i64>(value))); break;
    case DType::u8: launch_fill<u8>(w, n, convert<u8>(value)); break;
  }
  ditto::gpu::device_synchronize();
}

const ElementwiseKernels elementwise_table = {
    .unary = &unary, .binary = &binary, .where = &where, .copy = &copy, .fill = &fill};

}  // namespace ditto::kernels::DITTO_GPU_NS
