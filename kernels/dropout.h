// ditto — the dropout kernel family: the forward pass in one kernel (Philox draw, keep mask,
// scale) and the backward pass in one kernel. The canonical rule is docs/determinism.md,
// "Dropout"; the reference it must match bit for bit is the composition it replaced,
// rand → lt → mul → mul (test/test_dropout_kernel.cpp).
#pragma once
#include <cstdint>

#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

/// The dropout family: one entry per kernel, implemented by every backend.
struct DropoutKernels {
  /// x, out: same shape, f32 or f64, contiguous; mask: u8, contiguous, x's numel; p in [0, 1).
  /// For every element i (row-major), with T = x's dtype:
  ///   u       = a uniform [0, 1) in T from Philox (philox::uniform01<T>):
  ///             Deterministic: counter offset + i (philox::draw(seed, offset + i)), as
  ///             rand(x.shape(), gen) draws it, so the mask is element-keyed;
  ///             Fast: keyed by the thread, as random_uniform_by_thread (thread t of T' fills
  ///             i = t, t + T', ... with draws j = 0, 1, ... of stream t + 1 at counter offset + j;
  ///             cpu: T' = get_num_threads(); GPU: T' = the launch's grid x block);
  ///   mask[i] = u < T(1 - p);
  ///   out[i]  = (x[i] * T(mask[i])) * T(1 / (1 - p)).
  /// The caller advances the generator by x's numel.
  void (*forward)(Mode mode, const View& x, const View& out, const View& mask, std::uint64_t seed,
                  std::uint64_t offset, double p);
  /// dx[i] = (g[i] * T(mask[i])) * T(1 / (1 - p)); g, dx: same shape, f32 or f64, contiguous;
  /// mask as forward wrote it. No reduction: both modes give the same bits.
  void (*backward)(const View& g, const View& mask, const View& dx, double p);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const DropoutKernels& dropout_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const DropoutKernels dropout_table;
}
namespace cpu::v3 {
extern const DropoutKernels dropout_table;
}
namespace cpu::v4 {
extern const DropoutKernels dropout_table;
}
namespace sim {
extern const DropoutKernels dropout_table;
}
namespace cuda {
extern const DropoutKernels dropout_table;
}

}  // namespace ditto::kernels
