// ditto — argument checks of the dropout kernels, shared by every backend (kernels/dropout.h).
#pragma once
#include "core/error.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels::dropout_args {

/// The per-call constants in the element type: keep an element when u < keep_below, then scale.
template <class T>
struct Consts {
  T keep_below;  // T(1 - p)
  T scale;       // T(1 / (1 - p))
};
template <class T>
inline Consts<T> consts(double p) {
  return {static_cast<T>(1.0 - p), static_cast<T>(1.0 / (1.0 - p))};
}

inline void check_p(const char* op, double p) {
  DITTO_CHECK(p >= 0.0 && p < 1.0, op, ": p must be in [0, 1), got ", p);
}

inline void check_float_contiguous(const char* op, const char* what, const View& v) {
  DITTO_CHECK(v.dtype == DType::f32 || v.dtype == DType::f64, op, ": ", what,
              " must be f32 or f64, got ", dtype_name(v.dtype));
  DITTO_CHECK(v.is_contiguous(), op, ": ", what, " must be contiguous");
}

inline void check_mask(const char* op, const View& mask, const View& like) {
  DITTO_CHECK(mask.dtype == DType::u8, op, ": mask must be u8, got ", dtype_name(mask.dtype));
  DITTO_CHECK(mask.is_contiguous(), op, ": mask must be contiguous");
  DITTO_CHECK(mask.numel() == like.numel(), op, ": mask has ", mask.numel(), " elements, expected ",
              like.numel());
}

inline void check_forward(const View& x, const View& out, const View& mask, double p) {
  const char* op = "dropout";
  check_p(op, p);
  check_float_contiguous(op, "input", x);
  check_float_contiguous(op, "output", out);
  DITTO_CHECK(out.dtype == x.dtype && out.numel() == x.numel(), op,
              ": output must match the input's dtype and size");
  check_mask(op, mask, x);
}

inline void check_backward(const View& g, const View& mask, const View& dx, double p) {
  const char* op = "dropout backward";
  check_p(op, p);
  check_float_contiguous(op, "gradient", g);
  check_float_contiguous(op, "input gradient", dx);
  DITTO_CHECK(dx.dtype == g.dtype && dx.numel() == g.numel(), op,
              ": input gradient must match the gradient's dtype and size");
  check_mask(op, mask, g);
}

}  // namespace ditto::kernels::dropout_args
