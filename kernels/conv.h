// ditto — the conv kernel family: conv2d as direct (implicit-GEMM) kernels — forward with the
// bias fused, backward-data, backward-weight — reading the input's window taps in place instead
// of materialising im2col's copy. The GPU devices run these; the cpu keeps im2col + its GEMM,
// which measures faster there (core/ops/conv.cpp). Every entry gives the bits of the im2col +
// GEMM composition (docs/determinism.md, "conv2d"; test/test_conv_kernel.cpp).
#pragma once
#include <cstdint>

#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"
#include "kernels/window.h"

namespace ditto::kernels {

/// A conv2d: the window geometry over the input (kernels/window.h: w.C input channels, w.kH x
/// w.kW taps, stride, padding, dilation, output positions w.OH x w.OW), O output channels and
/// G groups (G divides w.C and O; Cg = C / G, Og = O / G). Output channel o = g * Og + og reads
/// input channels g * Cg + cg.
struct ConvGeom {
  WindowGeom w;
  std::int64_t O = 0, G = 1;
};

/// The conv family. tap(n, c, oh, ow, kh, kw) is x[n, c, oh*sH - pH + kh*dH, ow*sW - pW + kw*dW],
/// or +0 outside the image; weight is (O, Cg, kH, kW), grad and out (N, O, OH, OW).
struct ConvKernels {
  /// out[n, o, oh, ow]: acc = +0; for (cg, kh, kw) ascending, acc = fma(weight[o, cg, kh, kw],
  /// tap(n, g*Cg + cg, oh, ow, kh, kw), acc) (padding taps included); then acc + bias[o] when
  /// bias.data != nullptr. x any strides; weight, bias (O), out contiguous. Both modes.
  void (*forward)(const ConvGeom& g, const View& x, const View& weight, const View& bias,
                  const View& out);
  /// dx[n, c, h, w] (c = g*Cg + cg): acc = +0; for kh ascending, then kw ascending, for the
  /// window (oh, ow) whose tap (kh, kw) lands on (h, w) (col2im's rule, kernels/window.h):
  /// d = +0, d = fma(weight[g*Og + og, cg, kh, kw], grad[n, g*Og + og, oh, ow], d) for og
  /// ascending; acc = acc + d. grad, weight, dx contiguous. Both modes (a gather has no
  /// contention to save).
  void (*backward_data)(const ConvGeom& g, const View& grad, const View& weight, const View& dx);
  /// dw[o, cg, kh, kw]. Deterministic: the canonical sum (CanonSum, as kernels/reduce.h over a
  /// range of N) of p(n), where p(n) = +0, then fma(grad[n, o, oh, ow], tap(n, g*Cg + cg, oh, ow,
  /// kh, kw), p) for (oh, ow) ascending. Fast: dw = +0, then the range (n, oh, ow) is cut into
  /// slices whose chains are added with atomics in any order (cpu: one chain over the range).
  /// x any strides; grad, dw contiguous.
  void (*backward_weight)(Mode mode, const ConvGeom& g, const View& x, const View& grad,
                          const View& dw);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const ConvKernels& conv_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const ConvKernels conv_table;
}
namespace cpu::v3 {
extern const ConvKernels conv_table;
}
namespace cpu::v4 {
extern const ConvKernels conv_table;
}
namespace sim {
extern const ConvKernels conv_table;
}
namespace cuda {
extern const ConvKernels conv_table;
}

}  // namespace ditto::kernels
