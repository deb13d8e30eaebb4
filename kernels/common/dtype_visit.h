// ditto — the dtype switches of the kernels, shared by the CPU sources and the CUDA sources (both
// compilers, host and device code): visit_dtype(t, f) calls f(TypeTag<T>{}) with T the element
// type of t (float, double, std::int64_t, std::uint8_t), so a launcher (or a kernel converting
// per element) names each per-type instantiation once, as `using T = typename
// decltype(tag)::type;`, instead of a four-way switch. visit_bits does the same with the
// unsigned integer of t's size, for kernels that only move bits (where, copy, fill, gathers);
// visit_float with float or double, for the f32/f64-only kernels.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/common/hd.h"

namespace ditto::kernels {

template <class T>
struct TypeTag {
  using type = T;
};

/// f(TypeTag<element type of t>{}); returns what f returns (the same type for every T).
// Called with host lambdas by launchers and with device lambdas by kernels; nvcc checks the
// execution space per instantiation unless told not to.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class F>
DITTO_HD inline decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i64: return f(TypeTag<std::int64_t>{});
    case DType::u8: break;
  }
  return f(TypeTag<std::uint8_t>{});
}

/// f(TypeTag<U>{}) with U = std::uint8_t, std::uint32_t or std::uint64_t, t's element size.
// Called with host lambdas by launchers and with device lambdas by kernels; nvcc checks the
// execution space per instantiation unless told not to.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class F>
DITTO_HD inline decltype(auto) visit_bits(DType t, F&& f) {
  switch (t) {
    case DType::u8: return f(TypeTag<std::uint8_t>{});
    case DType::f32: return f(TypeTag<std::uint32_t>{});
    case DType::f64:
    case DType::i64: break;
  }
  return f(TypeTag<std::uint64_t>{});
}

// Called with host lambdas by launchers and with device lambdas by kernels; nvcc checks the
// execution space per instantiation unless told not to.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
/// f(TypeTag<float>{}) for f32, f(TypeTag<double>{}) otherwise: for kernels that take f32 or
/// f64 only (the argument checks reject the rest before).
template <class F>
DITTO_HD inline decltype(auto) visit_float(DType t, F&& f) {
  if (t == DType::f32) return f(TypeTag<float>{});
  return f(TypeTag<double>{});
}

}  // namespace ditto::kernels
