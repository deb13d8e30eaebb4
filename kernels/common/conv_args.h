// ditto — the conv kernels' per-element arithmetic (kernels/conv.h), shared by the CPU kernels
// and the GPU kernels so every device runs the same chain in the same order, and their argument
// checks.
#pragma once
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "core/error.h"
#include "kernels/common/hd.h"
#include "kernels/common/window_args.h"
#include "kernels/conv.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels::conv_args {

using window_args::check_shaped;

using i64 = std::int64_t;

DITTO_HD inline float fma_t(float a, float b, float c) { return ::fmaf(a, b, c); }
DITTO_HD inline double fma_t(double a, double b, double c) { return ::fma(a, b, c); }

/// The operands as the kernels read them: x any strides (sn, sc, sh, sw), the rest contiguous.
template <class T>
struct ConvArgs {
  ConvGeom g;
  const T* x;
  i64 sn, sc, sh, sw;
  const T* weight;  // (O, Cg, kH, kW)
  const T* bias;    // (O) or nullptr
  const T* grad;    // (N, O, OH, OW) (backward)

  /// tap(n, c, oh, ow, kh, kw) of kernels/conv.h: the input value or +0 outside the image.
  DITTO_HD T tap(i64 n, i64 c, i64 oh, i64 ow, i64 kh, i64 kw) const {
    const WindowGeom& w = g.w;
    const i64 h = oh * w.sH - w.pH + kh * w.dH, c2 = ow * w.sW - w.pW + kw * w.dW;
    if (h < 0 || h >= w.H || c2 < 0 || c2 >= w.W) return T(0);
    return x[n * sn + c * sc + h * sh + c2 * sw];
  }

  /// The forward output (n, o, oh, ow), bias included.
  DITTO_HD T forward_at(i64 n, i64 o, i64 oh, i64 ow) const {
    const WindowGeom& w = g.w;
    const i64 Cg = w.C / g.G, c0 = (o / (g.O / g.G)) * Cg;
    const T* wp = weight + o * Cg * w.kH * w.kW;  // weight[o, 0, 0, 0]
    T acc = T(0);
    for (i64 cg = 0; cg < Cg; ++cg) {
      for (i64 kh = 0; kh < w.kH; ++kh) {
        for (i64 kw = 0; kw < w.kW; ++kw) acc = fma_t(*wp++, tap(n, c0 + cg, oh, ow, kh, kw), acc);
      }
    }
    return bias != nullptr ? acc + bias[o] : acc;
  }

  /// The input gradient (n, c, h, w).
  DITTO_HD T backward_data_at(i64 n, i64 c, i64 h, i64 wc) const {
    const WindowGeom& w = g.w;
    const i64 Cg = w.C / g.G, Og = g.O / g.G, grp = c / Cg, cg = c - grp * Cg;
    T acc = T(0);
    window_args::for_taps_onto(w, h, wc, [&](i64 kh, i64 kw, i64 oh, i64 ow) {
      T d = T(0);
      for (i64 og = 0; og < Og; ++og) {
        const i64 o = grp * Og + og;
        d = fma_t(weight[((o * Cg + cg) * w.kH + kh) * w.kW + kw],
                  grad[((n * g.O + o) * w.OH + oh) * w.OW + ow], d);
      }
      acc = acc + d;
    });
    return acc;
  }

  /// The forward output k and the input gradient i by their row-major indices into
  /// (N, O, OH, OW) and (N, C, H, W).
  DITTO_HD T forward_flat(i64 k) const {
    const WindowGeom& w = g.w;
    return forward_at(k / (w.OW * w.OH * g.O), (k / (w.OW * w.OH)) % g.O, (k / w.OW) % w.OH,
                      k % w.OW);
  }
  DITTO_HD T backward_data_flat(i64 i) const {
    const WindowGeom& w = g.w;
    return backward_data_at(i / (w.W * w.H * w.C), (i / (w.W * w.H)) % w.C, (i / w.W) % w.H,
                            i % w.W);
  }
  /// Weight element e of (O, Cg, kH, kW), row-major, as (o, cg, kh, kw).
  DITTO_HD void weight_element(i64 e, i64& o, i64& cg, i64& kh, i64& kw) const {
    const WindowGeom& w = g.w;
    const i64 Cg = w.C / g.G;
    kw = e % w.kW;
    kh = (e / w.kW) % w.kH;
    cg = (e / (w.kW * w.kH)) % Cg;
    o = e / (w.kW * w.kH * Cg);
  }

  /// The chain p of kernels/conv.h for weight element (o, cg, kh, kw) over the positions
  /// [q0, q1) of sample n's (oh, ow) range (row-major), from `p`.
  DITTO_HD T weight_chain(i64 o, i64 cg, i64 kh, i64 kw, i64 n, i64 q0, i64 q1, T p) const {
    const WindowGeom& w = g.w;
    const i64 c = (o / (g.O / g.G)) * (w.C / g.G) + cg;
    const T* gp = grad + (n * g.O + o) * w.OH * w.OW;
    for (i64 q = q0; q < q1; ++q) {
      const i64 oh = q / w.OW, ow = q - oh * w.OW;
      p = fma_t(gp[q], tap(n, c, oh, ow, kh, kw), p);
    }
    return p;
  }
};

template <class T>
inline ConvArgs<T> conv_args_of(const ConvGeom& g, const View& x, const View& weight,
                                const View* bias, const View* grad) {
  return {g,
          static_cast<const T*>(x.data),
          x.strides[0],
          x.strides[1],
          x.strides[2],
          x.strides[3],
          static_cast<const T*>(weight.data),
          bias != nullptr ? static_cast<const T*>(bias->data) : nullptr,
          grad != nullptr ? static_cast<const T*>(grad->data) : nullptr};
}

/// The largest batch the Deterministic weight gradient reduces (canonical_serial's limit,
/// kernels/cpu/canonical_sum.h kCanonSerialMax; each backend static_asserts the two agree).
inline constexpr i64 kMaxBatch = 65536;

inline void check_geom(const char* op, const ConvGeom& g) {
  window_args::check_geom(op, g.w);
  DITTO_CHECK(g.G >= 1 && g.O >= 0 && g.w.C % g.G == 0 && g.O % g.G == 0, op, ": groups ", g.G,
              " must divide the input channels ", g.w.C, " and the output channels ", g.O);
}

inline void check_forward(const ConvGeom& g, const View& x, const View& weight, const View& bias,
                          const View& out) {
  const char* op = "conv2d";
  const WindowGeom& w = g.w;
  check_geom(op, g);
  window_args::check_dtypes(op, "input", x, "weight", weight);
  window_args::check_dtypes(op, "input", x, "output", out);
  check_shaped(op, "input", x, {w.N, w.C, w.H, w.W}, false);
  check_shaped(op, "weight", weight, {g.O, w.C / g.G, w.kH, w.kW}, true);
  if (bias.data != nullptr) {
    window_args::check_dtypes(op, "input", x, "bias", bias);
    check_shaped(op, "bias", bias, {g.O}, true);
  }
  check_shaped(op, "output", out, {w.N, g.O, w.OH, w.OW}, true);
}

inline void check_backward_data(const ConvGeom& g, const View& grad, const View& weight,
                                const View& dx) {
  const char* op = "conv2d backward (input)";
  const WindowGeom& w = g.w;
  check_geom(op, g);
  window_args::check_dtypes(op, "gradient", grad, "weight", weight);
  window_args::check_dtypes(op, "gradient", grad, "input gradient", dx);
  check_shaped(op, "gradient", grad, {w.N, g.O, w.OH, w.OW}, true);
  check_shaped(op, "weight", weight, {g.O, w.C / g.G, w.kH, w.kW}, true);
  check_shaped(op, "input gradient", dx, {w.N, w.C, w.H, w.W}, true);
}

inline void check_backward_weight(const ConvGeom& g, const View& x, const View& grad,
                                  const View& dw) {
  const char* op = "conv2d backward (weight)";
  const WindowGeom& w = g.w;
  check_geom(op, g);
  window_args::check_dtypes(op, "input", x, "gradient", grad);
  window_args::check_dtypes(op, "input", x, "weight gradient", dw);
  check_shaped(op, "input", x, {w.N, w.C, w.H, w.W}, false);
  check_shaped(op, "gradient", grad, {w.N, g.O, w.OH, w.OW}, true);
  check_shaped(op, "weight gradient", dw, {g.O, w.C / g.G, w.kH, w.kW}, true);
  DITTO_CHECK(w.N <= kMaxBatch, op, ": batches of more than ", kMaxBatch,
              " samples are not supported (N = ", w.N, ")");
}

}  // namespace ditto::kernels::conv_args
