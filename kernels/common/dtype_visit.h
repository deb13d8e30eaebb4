// ditto — the one dtype switch of the kernel launchers, shared by the CPU sources and the CUDA
// sources (host side, both compilers): visit_dtype(t, f) calls f(TypeTag<T>{}) with T the element
// type of t (float, double, std::int64_t, std::uint8_t), so a launcher names each per-type
// instantiation once, as `using T = typename decltype(tag)::type;`, instead of a four-way switch.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace ditto::kernels {

template <class T>
struct TypeTag {
  using type = T;
};

/// f(TypeTag<element type of t>{}); returns what f returns (the same type for every T).
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i64: return f(TypeTag<std::int64_t>{});
    case DType::u8: break;
  }
  return f(TypeTag<std::uint8_t>{});
}

}  // namespace ditto::kernels
