// ditto — host-side argument checks of the window kernels (im2col / col2im), shared by the CPU
// kernels (kernels/cpu/window.cpp) and the GPU launchers (kernels/cuda/window.cuh): one copy, so
// every device accepts the same calls and reports the same errors.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/common/hd.h"
#include "kernels/kernel_types.h"
#include "kernels/window.h"

namespace ditto::kernels::window_args {

using i64 = std::int64_t;

/// "[d0,d1,...]" for error messages.
inline std::string shape_str(const View& v) {
  std::string s = "[";
  for (int d = 0; d < v.ndim; ++d) s += (d ? "," : "") + std::to_string(v.shape[d]);
  return s + "]";
}

/// The geometry as text for error messages: "N 2 C 3 H 7 W 5 k 3x3 s 1x1 p 0x0 d 1x1 out 5x3".
inline std::string geom_str(const WindowGeom& g) {
  return "N " + std::to_string(g.N) + " C " + std::to_string(g.C) + " H " + std::to_string(g.H) +
         " W " + std::to_string(g.W) + " k " + std::to_string(g.kH) + "x" + std::to_string(g.kW) +
         " s " + std::to_string(g.sH) + "x" + std::to_string(g.sW) + " p " + std::to_string(g.pH) +
         "x" + std::to_string(g.pW) + " d " + std::to_string(g.dH) + "x" + std::to_string(g.dW) +
         " out " + std::to_string(g.OH) + "x" + std::to_string(g.OW);
}

/// col2im's gather walk (kernels/window.h) over the taps that land on pixel (h, w): kh ascending,
/// then kw ascending, each with the one window (oh, ow) that puts it there — oh * sH = h + pH -
/// kh * dH when that divides exactly and 0 <= oh < OH, the same for ow — skipping taps that have
/// none: fn(kh, kw, oh, ow). Shared by every gather over window taps (col2im, the pools' and
/// conv2d's input gradients) on every device.
template <class F>
DITTO_HD inline void for_taps_onto(const WindowGeom& g, i64 h, i64 w, F&& fn) {
  for (i64 kh = 0; kh < g.kH; ++kh) {
    const i64 th = h + g.pH - kh * g.dH;
    if (th < 0 || th % g.sH != 0 || th / g.sH >= g.OH) continue;
    const i64 oh = th / g.sH;
    for (i64 kw = 0; kw < g.kW; ++kw) {
      const i64 tw = w + g.pW - kw * g.dW;
      if (tw < 0 || tw % g.sW != 0 || tw / g.sW >= g.OW) continue;
      fn(kh, kw, oh, tw / g.sW);
    }
  }
}

/// The WindowGeom invariant: taps, strides, dilations >= 1; padding and sizes >= 0.
inline void check_geom(const char* op, const WindowGeom& g) {
  DITTO_CHECK(g.kH >= 1 && g.kW >= 1 && g.sH >= 1 && g.sW >= 1 && g.dH >= 1 && g.dW >= 1, op,
              ": window, stride and dilation must be >= 1 (", geom_str(g), ")");
  DITTO_CHECK(g.pH >= 0 && g.pW >= 0, op, ": padding must be >= 0 (", geom_str(g), ")");
  DITTO_CHECK(g.N >= 0 && g.C >= 0 && g.H >= 0 && g.W >= 0 && g.OH >= 0 && g.OW >= 0, op,
              ": negative size (", geom_str(g), ")");
}

/// Whether v has exactly the given shape.
inline bool has_shape(const View& v, std::initializer_list<i64> shape) {
  if (v.ndim != static_cast<int>(shape.size())) return false;
  int d = 0;
  for (i64 s : shape) {
    if (v.shape[d++] != s) return false;
  }
  return true;
}

/// "[a,b,...]" of an expected shape.
inline std::string shape_str(std::initializer_list<i64> shape) {
  std::string s = "[";
  bool first = true;
  for (i64 e : shape) {
    s += (first ? "" : ",") + std::to_string(e);
    first = false;
  }
  return s + "]";
}

/// v has exactly the shape `want` (and is contiguous when asked): else a ditto::Error naming the
/// op, the operand and both shapes. Shared by every window-like family's checks.
inline void check_shaped(const char* op, const char* what, const View& v,
                         std::initializer_list<i64> want, bool contiguous) {
  DITTO_CHECK(has_shape(v, want), op, ": ", what, " ", shape_str(v), " must have shape ",
              shape_str(want));
  DITTO_CHECK(!contiguous || v.is_contiguous(), op, ": ", what, " ", shape_str(v),
              " must be contiguous");
}

/// f32 or f64, and both operands alike.
inline void check_dtypes(const char* op, const char* a_name, const View& a, const char* b_name,
                         const View& b) {
  DITTO_CHECK(a.dtype == DType::f32 || a.dtype == DType::f64, op,
              ": dtype must be f32 or f64, got ", dtype_name(a.dtype), " (", a_name, " ",
              shape_str(a), ")");
  DITTO_CHECK(b.dtype == a.dtype, op, ": ", b_name, " dtype ", dtype_name(b.dtype), " must equal ",
              a_name, " dtype ", dtype_name(a.dtype));
}

/// cols: contiguous (C, kH, kW, N, OH, OW).
inline void check_cols(const char* op, const WindowGeom& g, const View& cols) {
  const auto want = {g.C, g.kH, g.kW, g.N, g.OH, g.OW};
  DITTO_CHECK(has_shape(cols, want), op, ": cols ", shape_str(cols), " must have shape ",
              shape_str(want), " (C, kH, kW, N, OH, OW) for ", geom_str(g));
  DITTO_CHECK(cols.is_contiguous(), op, ": cols ", shape_str(cols), " must be contiguous");
}

/// Validates im2col(g, in, cols): in is (N, C, H, W) with any strides.
inline void check_im2col(const WindowGeom& g, const View& in, const View& cols) {
  check_geom("im2col", g);
  check_dtypes("im2col", "input", in, "cols", cols);
  const auto want = {g.N, g.C, g.H, g.W};
  DITTO_CHECK(has_shape(in, want), "im2col: input ", shape_str(in), " must have shape ",
              shape_str(want), " (N, C, H, W) for ", geom_str(g));
  check_cols("im2col", g, cols);
}

/// Validates col2im(., g, cols, img): img is contiguous (N, C, H, W).
inline void check_col2im(const WindowGeom& g, const View& cols, const View& img) {
  check_geom("col2im", g);
  check_dtypes("col2im", "cols", cols, "image", img);
  check_cols("col2im", g, cols);
  const auto want = {g.N, g.C, g.H, g.W};
  DITTO_CHECK(has_shape(img, want), "col2im: image ", shape_str(img), " must have shape ",
              shape_str(want), " (N, C, H, W) for ", geom_str(g));
  DITTO_CHECK(img.is_contiguous(), "col2im: image ", shape_str(img), " must be contiguous");
}

}  // namespace ditto::kernels::window_args
