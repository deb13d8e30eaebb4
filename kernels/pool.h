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

/// The pool family: one entry per kernel, implemented by every backend. In all of them the taps
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
