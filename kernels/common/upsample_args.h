// ditto — the upsample kernels' source-coordinate rules (kernels/upsample.h), shared by the CPU
// kernels and the GPU kernels so every device maps coordinates with the same arithmetic, and
// their argument checks.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "core/error.h"
#include "kernels/common/hd.h"
#include "kernels/common/window_args.h"
#include "kernels/kernel_types.h"
#include "kernels/upsample.h"

namespace ditto::kernels::upsample_args {

using window_args::check_shaped;

using i64 = std::int64_t;

/// nearest: the source index of output o (kernels/upsample.h). o * scale >= 0, so the
/// truncating conversion is floorf.
DITTO_HD inline i64 nearest_src(i64 o, i64 in, i64 out, double inv_scale) {
  if (out == in) return o;
  if (out == 2 * in) return o >> 1;
  const float scale = inv_scale > 0 ? static_cast<float>(inv_scale)
                                    : static_cast<float>(in) / static_cast<float>(out);
  const i64 s = static_cast<i64>(static_cast<float>(o) * scale);
  return s < in - 1 ? s : in - 1;
}

/// bilinear: output o reads i0 with weight l0 and i1 with weight l1 (i1 == i0 at the last row).
template <class T>
struct LinearTaps {
  i64 i0, i1;
  T l0, l1;
};

/// bilinear: the taps of output o (kernels/upsample.h). src >= 0, so truncation is floor.
template <class T>
DITTO_HD inline LinearTaps<T> linear_src(i64 o, i64 in, i64 out, bool align_corners,
                                         double inv_scale) {
  if (out == in) return {o, o, T(1), T(0)};
  T src;
  if (align_corners) {
    const T scale = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
    src = scale * static_cast<T>(o);
  } else {
    const T scale =
        inv_scale > 0 ? static_cast<T>(inv_scale) : static_cast<T>(in) / static_cast<T>(out);
    src = scale * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
  }
  i64 i0 = static_cast<i64>(src);
  if (i0 > in - 1) i0 = in - 1;
  T l1 = src - static_cast<T>(i0);
  if (l1 < T(0)) l1 = T(0);
  if (l1 > T(1)) l1 = T(1);
  return {i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - l1, l1};
}

/// The first index of one dimension read by output o (nearest: its source; bilinear: i0).
template <class T>
DITTO_HD inline i64 first_read(const UpsampleGeom& g, bool rows, i64 o) {
  const i64 in = rows ? g.H : g.W, out = rows ? g.OH : g.OW;
  const double inv = rows ? g.inv_scale_h : g.inv_scale_w;
  return g.bilinear ? linear_src<T>(o, in, out, g.align_corners, inv).i0
                    : nearest_src(o, in, out, inv);
}

/// The smallest output o in [0, out] with first_read(o) >= v (out when none): the map is
/// non-decreasing, so a binary search.
template <class T>
DITTO_HD inline i64 first_output_reading_at_least(const UpsampleGeom& g, bool rows, i64 v) {
  i64 lo = 0, hi = rows ? g.OH : g.OW;
  while (lo < hi) {
    const i64 mid = lo + (hi - lo) / 2;
    if (first_read<T>(g, rows, mid) >= v)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/// The outputs [lo, hi) of one dimension that read input index i: nearest, those whose source is
/// i; bilinear, those whose i0 is i - 1 (then i1 == i) or i.
template <class T>
DITTO_HD inline void readers_of(const UpsampleGeom& g, bool rows, i64 i, i64& lo, i64& hi) {
  lo = first_output_reading_at_least<T>(g, rows, g.bilinear ? i - 1 : i);
  hi = first_output_reading_at_least<T>(g, rows, i + 1);
}

/// x (N, C, H, W) as the kernels read it, any strides.
template <class T>
struct UpsampleSrc {
  const T* x;
  i64 sn, sc, sh, sw;  // x's strides
  UpsampleGeom g;
  /// Output (n, c, oh, ow) by kernels/upsample.h.
  DITTO_HD T at(i64 n, i64 c, i64 oh, i64 ow) const {
    const T* p = x + n * sn + c * sc;
    if (!g.bilinear)
      return p[nearest_src(oh, g.H, g.OH, g.inv_scale_h) * sh +
               nearest_src(ow, g.W, g.OW, g.inv_scale_w) * sw];
    const LinearTaps<T> th = linear_src<T>(oh, g.H, g.OH, g.align_corners, g.inv_scale_h);
    const LinearTaps<T> tw = linear_src<T>(ow, g.W, g.OW, g.align_corners, g.inv_scale_w);
    const T* r0 = p + th.i0 * sh;
    const T* r1 = p + th.i1 * sh;
    return th.l0 * (tw.l0 * r0[tw.i0 * sw] + tw.l1 * r0[tw.i1 * sw]) +
           th.l1 * (tw.l0 * r1[tw.i0 * sw] + tw.l1 * r1[tw.i1 * sw]);
  }
};
template <class T>
inline UpsampleSrc<T> upsample_src(const UpsampleGeom& g, const View& x) {
  return {static_cast<const T*>(x.data), x.strides[0], x.strides[1], x.strides[2], x.strides[3], g};
}

/// The Deterministic gather of pixel (h, w) of one plane gp (OH, OW) of grad, given the outputs
/// [h_lo, h_hi) x [w_lo, w_hi) that may read it and each output row's / column's taps
/// (row_taps(oh), col_taps(ow): LinearTaps<T>; unused for nearest, whose range holds exactly
/// the outputs reading the pixel). The one statement of kernels/upsample.h's order: callers
/// differ only in how they find the ranges and taps (computed here per pixel on the GPU, from
/// tables on the cpu).
template <class T, class RowTaps, class ColTaps>
DITTO_HD inline T upsample_gather_ranges(const UpsampleGeom& g, const T* gp, i64 h, i64 w, i64 h_lo,
                                         i64 h_hi, i64 w_lo, i64 w_hi, RowTaps&& row_taps,
                                         ColTaps&& col_taps) {
  T acc = T(0);
  for (i64 oh = h_lo; oh < h_hi; ++oh) {
    if (!g.bilinear) {
      for (i64 ow = w_lo; ow < w_hi; ++ow) acc = acc + gp[oh * g.OW + ow];
      continue;
    }
    const LinearTaps<T> th = row_taps(oh);
    for (i64 ow = w_lo; ow < w_hi; ++ow) {
      const LinearTaps<T> tw = col_taps(ow);
      const T gv = gp[oh * g.OW + ow];
      // The taps in the contract's order: (h0, w0), (h0, w1), (h1, w0), (h1, w1).
      if (th.i0 == h && tw.i0 == w) acc = acc + (th.l0 * tw.l0) * gv;
      if (th.i0 == h && tw.i1 == w) acc = acc + (th.l0 * tw.l1) * gv;
      if (th.i1 == h && tw.i0 == w) acc = acc + (th.l1 * tw.l0) * gv;
      if (th.i1 == h && tw.i1 == w) acc = acc + (th.l1 * tw.l1) * gv;
    }
  }
  return acc;
}

/// The Deterministic gather of pixel (n, c, h, w) from grad (N, C, OH, OW) contiguous, every
/// range and tap computed on the spot.
template <class T>
DITTO_HD inline T upsample_gather(const UpsampleGeom& g, const T* grad, i64 n, i64 c, i64 h,
                                  i64 w) {
  i64 h_lo, h_hi, w_lo, w_hi;
  readers_of<T>(g, true, h, h_lo, h_hi);
  readers_of<T>(g, false, w, w_lo, w_hi);
  return upsample_gather_ranges<T>(
      g, grad + (n * g.C + c) * g.OH * g.OW, h, w, h_lo, h_hi, w_lo, w_hi,
      [&](i64 oh) { return linear_src<T>(oh, g.H, g.OH, g.align_corners, g.inv_scale_h); },
      [&](i64 ow) { return linear_src<T>(ow, g.W, g.OW, g.align_corners, g.inv_scale_w); });
}

inline void check_geom(const char* op, const UpsampleGeom& g) {
  DITTO_CHECK(g.N >= 0 && g.C >= 0 && g.H >= 1 && g.W >= 1 && g.OH >= 1 && g.OW >= 1, op,
              ": bad geometry (", g.N, ", ", g.C, ", ", g.H, ", ", g.W, ") -> (", g.OH, ", ", g.OW,
              ")");
  DITTO_CHECK(g.inv_scale_h >= 0 && g.inv_scale_w >= 0, op, ": bad inverse scale ", g.inv_scale_h,
              ", ", g.inv_scale_w);
  DITTO_CHECK(g.bilinear || !g.align_corners, op, ": align_corners applies to bilinear only");
}

inline void check_forward(const UpsampleGeom& g, const View& x, const View& out) {
  const char* op = "upsample";
  check_geom(op, g);
  window_args::check_dtypes(op, "input", x, "output", out);
  check_shaped(op, "input", x, {g.N, g.C, g.H, g.W}, false);
  check_shaped(op, "output", out, {g.N, g.C, g.OH, g.OW}, true);
}

inline void check_backward(const UpsampleGeom& g, const View& grad, const View& dx) {
  const char* op = "upsample backward";
  check_geom(op, g);
  window_args::check_dtypes(op, "gradient", grad, "input gradient", dx);
  check_shaped(op, "gradient", grad, {g.N, g.C, g.OH, g.OW}, true);
  check_shaped(op, "input gradient", dx, {g.N, g.C, g.H, g.W}, true);
}

}  // namespace ditto::kernels::upsample_args
