// ditto — the window kernels behind conv2d: im2col (a pure gather, no arithmetic) and its
// adjoint col2im (a sum). Conv2d is im2col + gemm and its backward-data uses col2im (the pools
// have their own direct kernels, kernels/pool.h). The canonical order of col2im is specified in
// docs/determinism.md ("Windows: im2col / col2im").
#pragma once
#include <cstdint>

#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

/// Geometry of a 2-D sliding window over an (N, C, H, W) image. Window position (oh, ow) with
/// tap (kh, kw) reads input row h = oh*sH - pH + kh*dH and column w = ow*sW - pW + kw*dW;
/// a tap outside [0, H) x [0, W) reads the pad value. OH/OW are chosen by the front end (they
/// may include ceil_mode windows). Invariant: every field >= 1 except pH, pW >= 0 and N, C, H,
/// W, OH, OW >= 0.
struct WindowGeom {
  std::int64_t N = 0, C = 0, H = 0, W = 0;  // input (N, C, H, W)
  std::int64_t kH = 1, kW = 1;              // window taps
  std::int64_t sH = 1, sW = 1;              // stride
  std::int64_t pH = 0, pW = 0;              // zero/pad-value padding on each side
  std::int64_t dH = 1, dW = 1;              // dilation
  std::int64_t OH = 0, OW = 0;              // window positions
};

/// The window family: one entry per kernel, implemented by every backend.
struct WindowKernels {
  /// cols[c, kh, kw, n, oh, ow] = in[n, c, h, w] (h, w as above) or pad_value outside the image.
  /// `in`: (N, C, H, W), any strides. `cols`: contiguous (C, kH, kW, N, OH, OW), same dtype
  /// (f32, f64). No arithmetic, so both modes give the same bits.
  void (*im2col)(const WindowGeom& g, const View& in, const View& cols, double pad_value);

  /// The adjoint of im2col: img[n, c, h, w] = the sum of every cols entry that im2col read from
  /// (n, c, h, w); taps that read padding are dropped. `cols`: contiguous (C, kH, kW, N, OH, OW);
  /// `img`: contiguous (N, C, H, W), overwritten.
  ///  - Deterministic: a gather. For each (n, c, h, w): acc = +0; for kh ascending, then kw
  ///    ascending, for the window position (oh, ow) whose tap (kh, kw) lands on (h, w) (at most
  ///    one: oh = (h + pH - kh*dH) / sH when that divides exactly and 0 <= oh < OH, same for ow):
  ///    acc = acc + cols[c, kh, kw, n, oh, ow]. img = acc.
  ///  - Fast: img = 0, then every cols entry is added to its image position (atomics on GPU) in
  ///    whatever order the threads run.
  void (*col2im)(Mode mode, const WindowGeom& g, const View& cols, const View& img);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const WindowKernels& window_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const WindowKernels window_table;
}
namespace cpu::v3 {
extern const WindowKernels window_table;
}
namespace cpu::v4 {
extern const WindowKernels window_table;
}
namespace sim {
extern const WindowKernels window_table;
}
namespace cuda {
extern const WindowKernels window_table;
}

}  // namespace ditto::kernels
