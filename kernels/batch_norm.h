// ditto — the batch_norm kernel family: per-channel statistics, normalisation and backward as
// kernels of their own. The canonical orders are docs/determinism.md, "BatchNorm"; the forward
// matches the composition it replaced (mean, sub, mul, sum, div, sqrt, ...) bit for bit, the
// backward has its own canonical order (test/test_batch_norm_kernel.cpp).
//
// Layout of every entry: x, y, g, dx are contiguous (N, C, S) f32/f64 (S = H*W, L or 1), the
// per-channel views are contiguous (C) of x's dtype. Channel c's logical range is k = 0 .. n - 1,
// n = N*S, element k at x[(k / S) * C * S + c * S + k % S] (the row-major order of the reduced
// dims {0, 2, ...}, as sum over them sees it). "canon" below is the canonical sum (CanonSum,
// kernels/cpu/canonical_sum.h) of a channel's range; every other operation rounds once in T.
#pragma once
#include <cstdint>

#include "core/mode.h"
#include "kernels/common/hd.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

/// The shape of a batch_norm problem: x is (N, C, S).
struct BatchNormGeom {
  std::int64_t N = 0, C = 0, S = 0;
  DITTO_HD std::int64_t n() const { return N * S; }  // elements per channel
};

/// The scalar parameters (converted to T by the kernels, as the composition's scalar_like did).
struct BatchNormParams {
  double eps = 1e-5;
  double momentum = 0.1;
};

/// The batch_norm family: one entry per kernel, implemented by every backend. A per-channel view
/// with data == nullptr is absent (no weight, no bias, no running statistics, no such gradient).
struct BatchNormKernels {
  /// Training forward, n >= 2. With n_t = T(n), per channel:
  ///   mean = canon(x) / n_t;  d_k = x_k - mean;  var = canon(d_k * d_k) / n_t;
  ///   inv_std = T(1) / sqrt(var + T(eps));  y_k = ((d_k * inv_std) * w) + b
  /// (no "* w" without weight, no "+ b" without bias). Writes mean and var (C) for backward.
  /// With running statistics (updated in place; both are read before either is written):
  ///   rm = T(1 - momentum) * rm + T(momentum) * mean,
  ///   rv = T(1 - momentum) * rv + T(momentum) * (canon(d_k * d_k) / T(n - 1)).
  /// Fast: the two sums in any order (per-block / per-thread partials added atomically).
  void (*forward_train)(Mode mode, const BatchNormGeom& g, const BatchNormParams& p, const View& x,
                        const View& weight, const View& bias, const View& y, const View& mean,
                        const View& var, const View& running_mean, const View& running_var);
  /// Eval forward, one pass: y_k = ((x_k - rm) * (T(1) / sqrt(rv + T(eps)))) * w + b.
  void (*forward_eval)(const BatchNormGeom& g, const BatchNormParams& p, const View& x,
                       const View& running_mean, const View& running_var, const View& weight,
                       const View& bias, const View& y);
  /// Backward. mean, var: the statistics the forward normalised with (training: the batch's,
  /// eval: the running ones). Per channel, inv_std = T(1) / sqrt(var + T(eps)),
  /// xhat_k = (x_k - mean) * inv_std, a = w * inv_std (inv_std without weight):
  ///   dbias = canon(g_k),  dweight = canon(g_k * xhat_k),
  ///   training: dx_k = a * ((g_k - dbias / n_t) - xhat_k * (dweight / n_t)),
  ///   eval:     dx_k = g_k * a.
  /// dweight / dbias are written when present; training needs both sums for dx (the kernel
  /// keeps them in scratch when they are absent). Fast: the sums in any order (atomics).
  void (*backward)(Mode mode, bool training, const BatchNormGeom& g, const BatchNormParams& p,
                   const View& grad, const View& x, const View& mean, const View& var,
                   const View& weight, const View& dx, const View& dweight, const View& dbias);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const BatchNormKernels& batch_norm_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const BatchNormKernels batch_norm_table;
}
namespace cpu::v3 {
extern const BatchNormKernels batch_norm_table;
}
namespace cpu::v4 {
extern const BatchNormKernels batch_norm_table;
}
namespace sim {
extern const BatchNormKernels batch_norm_table;
}
namespace cuda {
extern const BatchNormKernels batch_norm_table;
}

}  // namespace ditto::kernels
