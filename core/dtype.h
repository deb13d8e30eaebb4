// ditto — element types.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ditto {

/// Element type of a tensor. f32/f64 are IEEE binary32/binary64, i64 is two's-complement
/// 64-bit, u8 is unsigned 8-bit (the result type of comparisons, used as a boolean mask).
enum class DType : std::uint8_t { f32, f64, i64, u8 };

/// Size of one element in bytes.
constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

/// "f32", "f64", "i64", "u8".
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

/// Type promotion for binary ops: the "wider" category wins (u8 < i64 < f32 < f64).
constexpr DType promote(DType a, DType b) {
  auto rank = [](DType t) {
    switch (t) {
      case DType::u8: return 0;
      case DType::i64: return 1;
      case DType::f32: return 2;
      case DType::f64: return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace ditto
