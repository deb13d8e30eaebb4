// ditto — GPU elementwise kernels (cuda and sim): unary, binary, where, copy, fill.
// Interface: kernels/elementwise.h. Element rules: kernels/common/elementwise_rules.h, the same
// functions the CPU kernels use (docs/determinism.md, "Elementwise ops").
//
// Every output element is a function of the same-index input elements only, so the grid size,
// the block size and the block schedule cannot change a bit: each kernel is a grid-stride loop
// over the logical (row-major) element index i, maps i to one memory offset per operand, and
// applies the element rule. Nothing reduces.
//
// CUDA's math library is never used for them (elementwise_rules.h says why); transcendentals
// are ditto::dmath.
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
#include "kernels/common/elementwise_rules.h"
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

// ---- element rules: kernels/common/elementwise_rules.h ----------------------------------------

using ew_rules::convert;
using ew_rules::UnaryArgs;

/// One unary element: the op switched per element (grid-uniform, so no divergence).
template <class T>
__device__ __forceinline__ T unary_elem(const UnaryArgs<T>& a, T x) {
  return ew_rules::visit_unary(
      a.op, [&](auto op) -> T { return ew_rules::unary_rule<decltype(op)::value>(a, x); });
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
  ew_rules::visit_binary(op, [&](auto o) {
    constexpr BinaryOp Op = decltype(o)::value;
    if constexpr (ew_rules::is_comparison(Op))
      at<u8>(out, off) = ew_rules::compare_rule<Op>(a, b);
    else
      at<T>(out, off) = ew_rules::binary_rule<Op>(a, b, zero);
  });
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
    visit_dtype(to, [&](auto tag) {
      using To = typename decltype(tag)::type;
      at<To>(w.data[0], off[0]) = convert<To>(x);
    });
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

template <class T>
void launch_unary(UnaryOp op, const Walk<2>& w, i64 n, UnaryParams p) {
  launch_1d(unary_kernel<T>, n, w, n, ew_rules::make_unary_args<T>(op, p));
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
  visit_dtype(in.dtype, [&](auto tag) { launch_unary<typename decltype(tag)::type>(op, w, n, p); });
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
  visit_bits(out.dtype,
             [&](auto tag) { launch_1d(where_kernel<typename decltype(tag)::type>, n, w, n); });
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
    visit_bits(out.dtype, [&](auto tag) {
      launch_1d(copy_bits_kernel<typename decltype(tag)::type>, n, w, n);
    });
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
  const u64 bits = ew_rules::fill_bits(out.dtype, value);  // the value as the element's bits
  visit_bits(out.dtype, [&](auto tag) {
    using U = typename decltype(tag)::type;
    launch_fill<U>(w, n, static_cast<U>(bits));
  });
  ditto::gpu::device_synchronize();
}

const ElementwiseKernels elementwise_table = {
    .unary = &unary, .binary = &binary, .where = &where, .copy = &copy, .fill = &fill};

}  // namespace ditto::kernels::DITTO_GPU_NS
