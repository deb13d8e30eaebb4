// ditto — argument checks of the pool kernels (kernels/pool.h), shared by every backend.
#pragma once
#include <cstdint>

#include "core/error.h"
#include "kernels/common/hd.h"
#include "kernels/common/window_args.h"
#include "kernels/kernel_types.h"
#include "kernels/window.h"

namespace ditto::kernels::pool_args {

using window_args::check_dtypes;
using window_args::check_geom;
using window_args::has_shape;
using window_args::shape_str;

/// x (N, C, H, W), any strides, as every pool kernel reads it: tap t = kh * kW + kw of output
/// (n, c, oh, ow), or `pad` where the tap lies outside the image.
template <class T>
struct Taps {
  const T* x;
  std::int64_t sn, sc, sh, sw;  // x's strides
  WindowGeom g;
  T pad;
  DITTO_HD T at(std::int64_t n, std::int64_t c, std::int64_t oh, std::int64_t ow,
                std::int64_t t) const {
    const std::int64_t kh = t / g.kW, kw = t - kh * g.kW;
    const std::int64_t h = oh * g.sH - g.pH + kh * g.dH, w = ow * g.sW - g.pW + kw * g.dW;
    if (h < 0 || h >= g.H || w < 0 || w >= g.W) return pad;
    return x[n * sn + c * sc + h * sh + w * sw];
  }
};
template <class T>
inline Taps<T> taps_of(const WindowGeom& g, const View& x, T pad) {
  return {static_cast<const T*>(x.data),
          x.strides[0],
          x.strides[1],
          x.strides[2],
          x.strides[3],
          g,
          pad};
}

/// argmax's rule over the taps of output (n, c, oh, ow): the first maximal tap; NaN counts as
/// maximal and the first NaN wins (so +0 and -0 tie and the first of them is taken).
template <class T>
DITTO_HD inline std::int64_t first_max_tap(const Taps<T>& tp, std::int64_t n, std::int64_t c,
                                           std::int64_t oh, std::int64_t ow) {
  const std::int64_t taps = tp.g.kH * tp.g.kW;
  std::int64_t best = 0;
  T bv = tp.at(n, c, oh, ow, 0);
  for (std::int64_t t = 1; t < taps && bv == bv; ++t) {
    const T v = tp.at(n, c, oh, ow, t);
    if (v != v || v > bv) {
      best = t;
      bv = v;
    }
  }
  return best;
}

/// The most taps a window may have: what canonical_serial reduces (kernels/cpu/canonical_sum.h
/// kCanonSerialMax; each backend static_asserts the two agree).
inline constexpr std::int64_t kMaxTaps = 65536;

inline void check_window(const char* op, const WindowGeom& g) {
  check_geom(op, g);
  DITTO_CHECK(g.kH * g.kW <= kMaxTaps, op, ": windows of more than ", kMaxTaps,
              " taps are not supported (", window_args::geom_str(g), ")");
}

inline void check_shaped(const char* op, const char* what, const View& v,
                         std::initializer_list<std::int64_t> want, bool contiguous) {
  DITTO_CHECK(has_shape(v, want), op, ": ", what, " ", shape_str(v), " must have shape ",
              shape_str(want));
  DITTO_CHECK(!contiguous || v.is_contiguous(), op, ": ", what, " ", shape_str(v),
              " must be contiguous");
}

inline void check_max_forward(const WindowGeom& g, const View& x, const View& out,
                              const View& arg) {
  const char* op = "max_pool2d";
  check_window(op, g);
  check_dtypes(op, "input", x, "output", out);
  check_shaped(op, "input", x, {g.N, g.C, g.H, g.W}, false);
  check_shaped(op, "output", out, {g.N, g.C, g.OH, g.OW}, true);
  if (arg.data != nullptr) {
    DITTO_CHECK(arg.dtype == DType::i64, op, ": argmax must be i64");
    check_shaped(op, "argmax", arg, {g.N, g.C, g.OH, g.OW}, true);
  }
}

inline void check_max_backward(const WindowGeom& g, const View& grad, const View& arg,
                               const View& dx) {
  const char* op = "max_pool2d backward";
  check_window(op, g);
  check_dtypes(op, "gradient", grad, "input gradient", dx);
  check_shaped(op, "gradient", grad, {g.N, g.C, g.OH, g.OW}, true);
  DITTO_CHECK(arg.dtype == DType::i64 && (arg.data != nullptr || grad.numel() == 0), op,
              ": argmax must be i64");
  check_shaped(op, "argmax", arg, {g.N, g.C, g.OH, g.OW}, true);
  check_shaped(op, "input gradient", dx, {g.N, g.C, g.H, g.W}, true);
}

inline void check_avg_forward(const WindowGeom& g, const View& x, const View& divisor,
                              const View& out) {
  const char* op = "avg_pool2d";
  check_window(op, g);
  check_dtypes(op, "input", x, "output", out);
  check_dtypes(op, "input", x, "divisor", divisor);
  check_shaped(op, "input", x, {g.N, g.C, g.H, g.W}, false);
  check_shaped(op, "divisor", divisor, {g.OH, g.OW}, true);
  check_shaped(op, "output", out, {g.N, g.C, g.OH, g.OW}, true);
}

inline void check_avg_backward(const WindowGeom& g, const View& grad, const View& divisor,
                               const View& dx) {
  const char* op = "avg_pool2d backward";
  check_window(op, g);
  check_dtypes(op, "gradient", grad, "input gradient", dx);
  check_dtypes(op, "gradient", grad, "divisor", divisor);
  check_shaped(op, "gradient", grad, {g.N, g.C, g.OH, g.OW}, true);
  check_shaped(op, "divisor", divisor, {g.OH, g.OW}, true);
  check_shaped(op, "input gradient", dx, {g.N, g.C, g.H, g.W}, true);
}

}  // namespace ditto::kernels::pool_args
