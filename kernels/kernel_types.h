// ditto — what kernels see of a tensor: raw strided memory, no ownership, no autograd.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace ditto::kernels {

/// Kernels handle at most this many dimensions (front ends check and report).
constexpr int kMaxDims = 8;

/// A strided view of raw memory. Invariants: `data` points at element [0,...,0] (the tensor's
/// storage offset is already applied); strides are in elements, 0 for broadcast dimensions;
/// 0 <= ndim <= kMaxDims; ndim == 0 is a scalar (one element).
struct View {
  void* data = nullptr;
  DType dtype = DType::f32;
  int ndim = 0;
  std::int64_t shape[kMaxDims] = {};
  std::int64_t strides[kMaxDims] = {};

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  /// True when the elements are densely packed in row-major order.
  bool is_contiguous() const {
    std::int64_t expect = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expect) return false;
      expect *= shape[i];
    }
    return true;
  }
};

}  // namespace ditto::kernels
