// ditto — argument checks of the pool kernels (kernels/pool.h), shared by every backend.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "kernels/common/hd.h"
#include "kernels/common/window_args.h"
#include "kernels/kernel_types.h"
#include "kernels/pool.h"
#include "kernels/window.h"

namespace ditto::kernels::pool_args {

using window_args::check_shaped;

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

// ---- adaptive pools ----------------------------------------------------------------------

/// PyTorch's adaptive windows: output o of `out` covers inputs [start, end) of `in`.
DITTO_HD inline std::int64_t adaptive_start(std::int64_t o, std::int64_t in, std::int64_t out) {
  return (o * in) / out;
}
DITTO_HD inline std::int64_t adaptive_end(std::int64_t o, std::int64_t in, std::int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

/// The outputs [lo, hi] whose windows contain input i. o = floor(i * out / in) always does
/// (start(o) <= i < end(o)); windows overlap when in % out != 0, so neighbours may too.
DITTO_HD inline void adaptive_outputs_of(std::int64_t i, std::int64_t in, std::int64_t out,
                                         std::int64_t& lo, std::int64_t& hi) {
  const std::int64_t o = (i * out) / in;
  lo = o;
  while (lo > 0 && adaptive_end(lo - 1, in, out) > i) --lo;
  hi = o;
  while (hi + 1 < out && adaptive_start(hi + 1, in, out) <= i) ++hi;
}

/// One adaptive window of x (N, C, H, W), any strides: tap t (row-major over the window).
template <class T>
struct AdaptiveWindow {
  const T* base;         // x[n, c, hs, ws]
  std::int64_t sh, sw;   // x's row and column strides
  std::int64_t hs, ws;   // the window's first row and column
  std::int64_t wl, len;  // columns and taps of the window
  DITTO_HD T at(std::int64_t t) const {
    const std::int64_t dh = t / wl;
    return base[dh * sh + (t - dh * wl) * sw];
  }
  /// The input index h * W + w of tap t (PyTorch's `indices`).
  DITTO_HD std::int64_t input_index(std::int64_t t, std::int64_t W) const {
    const std::int64_t dh = t / wl;
    return (hs + dh) * W + ws + (t - dh * wl);
  }
};

/// x as the adaptive kernels read it.
template <class T>
struct AdaptiveSrc {
  const T* x;
  std::int64_t sn, sc, sh, sw;  // x's strides
  AdaptiveGeom g;
  DITTO_HD AdaptiveWindow<T> window(std::int64_t n, std::int64_t c, std::int64_t oh,
                                    std::int64_t ow) const {
    const std::int64_t hs = adaptive_start(oh, g.H, g.OH), he = adaptive_end(oh, g.H, g.OH);
    const std::int64_t ws = adaptive_start(ow, g.W, g.OW), we = adaptive_end(ow, g.W, g.OW);
    return {
        x + n * sn + c * sc + hs * sh + ws * sw, sh, sw, hs, ws, we - ws, (he - hs) * (we - ws)};
  }
};
template <class T>
inline AdaptiveSrc<T> adaptive_src(const AdaptiveGeom& g, const View& x) {
  return {static_cast<const T*>(x.data), x.strides[0], x.strides[1], x.strides[2], x.strides[3], g};
}

/// The first maximal tap of a window (first_max_tap's rule), as an input index h * W + w.
template <class T>
DITTO_HD inline std::int64_t adaptive_first_max(const AdaptiveWindow<T>& win, std::int64_t W) {
  std::int64_t best = 0;
  T bv = win.at(0);
  for (std::int64_t t = 1; t < win.len && bv == bv; ++t) {
    const T v = win.at(t);
    if (v != v || v > bv) {
      best = t;
      bv = v;
    }
  }
  return win.input_index(best, W);
}

/// The taps of output (oh, ow)'s window, as T (exact: small integers).
template <class T>
DITTO_HD inline T adaptive_taps(const AdaptiveGeom& g, std::int64_t oh, std::int64_t ow) {
  return static_cast<T>((adaptive_end(oh, g.H, g.OH) - adaptive_start(oh, g.H, g.OH)) *
                        (adaptive_end(ow, g.W, g.OW) - adaptive_start(ow, g.W, g.OW)));
}

/// The Deterministic gather of one pixel over the windows [h0, h1] x [w0, w1] holding it: +0,
/// then share(k, oh, ow) of each, oh ascending then ow ascending, k = plane * OH * OW + oh * OW +
/// ow. The one statement of the order; callers differ in how they find the windows and shares.
template <class T, class Share>
DITTO_HD inline T adaptive_gather_ranges(const AdaptiveGeom& g, std::int64_t plane, std::int64_t h0,
                                         std::int64_t h1, std::int64_t w0, std::int64_t w1,
                                         Share&& share) {
  T acc = T(0);
  for (std::int64_t oh = h0; oh <= h1; ++oh) {
    for (std::int64_t ow = w0; ow <= w1; ++ow)
      acc = acc + share((plane * g.OH + oh) * g.OW + ow, oh, ow);
  }
  return acc;
}

/// The Deterministic gather of pixel (n, c, h, w), windows and shares computed on the spot.
/// max: grad if arg == h * W + w, else +0; avg: grad / T(taps). grad and arg are (N, C, OH, OW)
/// contiguous.
template <class T, bool kMax>
DITTO_HD inline T adaptive_gather(const AdaptiveGeom& g, const T* grad, const std::int64_t* arg,
                                  std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  std::int64_t h0, h1, w0, w1;
  adaptive_outputs_of(h, g.H, g.OH, h0, h1);
  adaptive_outputs_of(w, g.W, g.OW, w0, w1);
  return adaptive_gather_ranges<T>(g, n * g.C + c, h0, h1, w0, w1,
                                   [&](std::int64_t k, std::int64_t oh, std::int64_t ow) {
                                     if constexpr (kMax)
                                       return arg[k] == h * g.W + w ? grad[k] : T(0);
                                     else
                                       return grad[k] / adaptive_taps<T>(g, oh, ow);
                                   });
}

inline void check_adaptive(const char* op, const AdaptiveGeom& g) {
  DITTO_CHECK(g.N >= 0 && g.C >= 0 && g.H >= 1 && g.W >= 1 && g.OH >= 1 && g.OW >= 1, op,
              ": bad geometry (", g.N, ", ", g.C, ", ", g.H, ", ", g.W, ") -> (", g.OH, ", ", g.OW,
              ")");
  std::int64_t wh = 0, ww = 0;  // the tallest and the widest window
  for (std::int64_t o = 0; o < g.OH; ++o)
    wh = std::max(wh, adaptive_end(o, g.H, g.OH) - adaptive_start(o, g.H, g.OH));
  for (std::int64_t o = 0; o < g.OW; ++o)
    ww = std::max(ww, adaptive_end(o, g.W, g.OW) - adaptive_start(o, g.W, g.OW));
  DITTO_CHECK(wh * ww <= kMaxTaps, op, ": windows of up to ", wh, "x", ww,
              " taps exceed the supported ", kMaxTaps, " (input ", g.H, "x", g.W, ", output ", g.OH,
              "x", g.OW, ")");
}

inline void check_adaptive_io(const char* op, const AdaptiveGeom& g, const View& in,
                              bool in_is_image, const View& out, const View* arg) {
  check_adaptive(op, g);
  check_dtypes(op, "input", in, "output", out);
  if (in_is_image) {
    check_shaped(op, "input", in, {g.N, g.C, g.H, g.W}, false);
    check_shaped(op, "output", out, {g.N, g.C, g.OH, g.OW}, true);
  } else {  // backward: in = grad (outputs), out = dx (image)
    check_shaped(op, "gradient", in, {g.N, g.C, g.OH, g.OW}, true);
    check_shaped(op, "input gradient", out, {g.N, g.C, g.H, g.W}, true);
  }
  if (arg != nullptr && (arg->data != nullptr || !in_is_image)) {
    DITTO_CHECK(arg->dtype == DType::i64, op, ": indices must be i64");
    check_shaped(op, "indices", *arg, {g.N, g.C, g.OH, g.OW}, true);
  }
}

}  // namespace ditto::kernels::pool_args
