// ditto — the upsampling kernel family: nearest and bilinear 2-D resampling (interpolate,
// nn::Upsample) with PyTorch's source-index rules, forward and backward. Canonical orders:
// docs/determinism.md, "Upsampling"; the reference they match bit for bit is the definition written
// out plainly (test/test_upsample_kernel.cpp).
#pragma once
#include <cstdint>

#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

/// The shape and rule of a resampling: input (N, C, H, W), output (N, C, OH, OW).
/// inv_scale_h / inv_scale_w: 1 / scale_factor when the caller gave a scale factor (PyTorch then
/// maps coordinates with it, not with H / OH), 0 when it gave a size.
struct UpsampleGeom {
  std::int64_t N = 0, C = 0, H = 0, W = 0, OH = 0, OW = 0;
  bool bilinear = false;       // false: nearest
  bool align_corners = false;  // bilinear only
  double inv_scale_h = 0, inv_scale_w = 0;
};

/// The upsample family: one entry per kernel, implemented by every backend. The source
/// coordinates of an output row oh (columns alike; kernels/common/upsample_args.h), PyTorch's
/// CPU rules (UpSample.h):
///  - nearest (PyTorch's legacy 'nearest', not 'nearest-exact'): s = oh when OH == H, oh / 2
///    when OH == 2H, else min(int(floorf(float(oh) * scale)), H - 1) with the float scale
///    float(inv_scale) if given, else float(H) / float(OH);
///  - bilinear, in T: when OH == H, h0 = h1 = oh, l0 = 1, l1 = 0; else
///    scale = align_corners ? (OH > 1 ? T(H - 1) / T(OH - 1) : 0)
///                          : (inv_scale ? T(inv_scale) : T(H) / T(OH)),
///    src = align_corners ? scale * T(oh) : max(scale * (T(oh) + 0.5) - 0.5, 0),
///    h0 = min(int(floor(src)), H - 1), h1 = h0 + (h0 < H - 1), l1 = min(max(src - T(h0), 0), 1),
///    l0 = 1 - l1.
/// Every map is non-decreasing in oh, so the outputs that read a pixel are a contiguous range.
struct UpsampleKernels {
  /// x: (N, C, H, W), any strides; out: (N, C, OH, OW) contiguous, x's dtype (f32 or f64).
  /// nearest: out = x[sh, sw]; bilinear:
  /// out = h0l * (w0l * x[h0, w0] + w1l * x[h0, w1]) + h1l * (w0l * x[h1, w0] + w1l * x[h1, w1]).
  void (*forward)(const UpsampleGeom& g, const View& x, const View& out);
  /// grad: (N, C, OH, OW), dx: (N, C, H, W), both contiguous. Deterministic (a gather): every
  /// pixel (h, w) starts at +0 and, over the outputs that read it — oh ascending, then ow
  /// ascending — adds its share: nearest g[oh, ow]; bilinear, for each of the output's taps
  /// (h0, w0), (h0, w1), (h1, w0), (h1, w1) in that order that is (h, w): (hl * wl) * g[oh, ow].
  /// Fast: dx = +0, then every output adds its taps' shares with atomics in any order.
  void (*backward)(Mode mode, const UpsampleGeom& g, const View& grad, const View& dx);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const UpsampleKernels& upsample_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const UpsampleKernels upsample_table;
}
namespace cpu::v3 {
extern const UpsampleKernels upsample_table;
}
namespace cpu::v4 {
extern const UpsampleKernels upsample_table;
}
namespace sim {
extern const UpsampleKernels upsample_table;
}
namespace cuda {
extern const UpsampleKernels upsample_table;
}

}  // namespace ditto::kernels
