// ditto — the pooling kernel family: max_pool2d and avg_pool2d as direct window kernels (no
// im2col copy), forward and backward. Canonical orders: docs/determinism.md, "Pooling"; the
// reference they match bit for bit is the composition they replaced (im2col, a canonical
// reduction over the taps, col2im), test/test_pool_kernel.cpp.
#pragma once
#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"
#include "kernels/window.h"

namespace ditto::kernels {

/// The shape of an adaptive pool: input (N, C, H, W), output (N, C, OH, OW). Output (oh, ow)'s
/// window is rows [oh * H / OH, ceil((oh + 1) * H / OH)) x the same rule for columns (PyTorch's
/// start_index / end_index, integer division); its taps t are row-major over the window.
struct AdaptiveGeom {
  std::int64_t N = 0, C = 0, H = 0, W = 0, OH = 0, OW = 0;
};

/// The pool family: one entry per kernel, implemented by every backend. In the fixed-window
/// entries the taps
/// of output (n, c, oh, ow) are t = kh * kW + kw (row-major), tap t reading
/// x[n, c, oh * sH - pH + kh * dH, ow * sW - pW + kw * dW] — a padding value outside the image —
/// and g.kH * g.kW <= kCanonSerialMax (65536).
struct PoolKernels {
  /// max_pool2d forward. x: (N, C, H, W), any strides, f32/f64; out: (N, C, OH, OW) contiguous;
  /// arg: (N, C, OH, OW) contiguous i64, or data == nullptr when no gradient is needed.
  /// Padding reads -inf. out = the canonical max (CanonMax) of the kH*kW taps as one range;
  /// arg = the first tap that is maximal (NaN counts as maximal, the first NaN wins).
  void (*max_forward)(const WindowGeom& g, const View& x, const View& out, const View& arg);
  /// max_pool2d backward. grad, arg: (N, C, OH, OW) contiguous; dx: (N, C, H, W) contiguous.
  /// Deterministic (a gather): for every pixel, acc = +0, then for the taps (kh, kw) ascending
  /// whose window (oh, ow) exists, acc = acc + (arg == t ? grad : +0). Fast: dx = +0, then each
  /// grad is added to its arg pixel in any order (atomics on a GPU).
  void (*max_backward)(Mode mode, const WindowGeom& g, const View& grad, const View& arg,
                       const View& dx);
  /// avg_pool2d forward. Padding reads +0. out = the canonical sum (CanonSum) of the kH*kW taps
  /// / divisor[oh, ow]; divisor: (OH, OW) contiguous, x's dtype (PyTorch's rule, from the front
  /// end).
  void (*avg_forward)(const WindowGeom& g, const View& x, const View& divisor, const View& out);
  /// avg_pool2d backward: share = grad / divisor[oh, ow] per output. Deterministic: for every
  /// pixel, acc = +0, then acc = acc + share over the taps (kh, kw) ascending whose window
  /// exists. Fast: dx = +0, then every share is added to each of its window's pixels in any order.
  void (*avg_backward)(Mode mode, const WindowGeom& g, const View& grad, const View& divisor,
                       const View& dx);

  /// adaptive_max_pool2d forward. x: (N, C, H, W), any strides; out, arg: (N, C, OH, OW)
  /// contiguous (arg i64, data == nullptr when no gradient is needed). out = CanonMax over the
  /// window's taps as one range; arg = h * W + w of the first maximal tap (NaN counts as
  /// maximal), PyTorch's `indices`. Windows hold at most kCanonSerialMax taps.
  void (*adaptive_max_forward)(const AdaptiveGeom& g, const View& x, const View& out,
                               const View& arg);
  /// Deterministic (a gather): every pixel (h, w) starts at +0 and, over the windows that
  /// contain it, oh ascending then ow ascending, adds (arg == h * W + w ? grad : +0). Fast: zero,
  /// then each grad added to its arg pixel in any order.
  void (*adaptive_max_backward)(Mode mode, const AdaptiveGeom& g, const View& grad, const View& arg,
                                const View& dx);
  /// adaptive_avg_pool2d forward: out = CanonSum over the window's taps / T(taps).
  void (*adaptive_avg_forward)(const AdaptiveGeom& g, const View& x, const View& out);
  /// Deterministic (a gather): every pixel starts at +0 and adds grad / T(taps) of each window
  /// that contains it, oh ascending then ow ascending. Fast: zero, then every window adds its
  /// share to each of its pixels in any order.
  void (*adaptive_avg_backward)(Mode mode, const AdaptiveGeom& g, const View& grad, const View& dx);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const PoolKernels& pool_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const PoolKernels pool_table;
}
namespace cpu::v3 {
extern const PoolKernels pool_table;
}
namespace cpu::v4 {
extern const PoolKernels pool_table;
}
namespace sim {
extern const PoolKernels pool_table;
}
namespace cuda {
extern const PoolKernels pool_table;
}

}  // namespace ditto::kernels
