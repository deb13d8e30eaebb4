// ditto — launch interface of the reduction kernels. The canonical (deterministic) order is
// specified in docs/determinism.md, section "Long reductions"; CPU and CUDA implement it exactly.
#pragma once
#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

enum class ReduceOp : int { sum, max, min, argmax, argmin };

/// The reduce family: one entry per kernel, implemented by every backend.
struct ReduceKernels {
  /// `in` is laid out as [kept dims..., reduced dims...]: its first `n_kept` dims are kept, the
  /// rest are reduced (the front end permutes the tensor view to get there). For each kept index
  /// o, the reduced elements in row-major order of the reduced dims form the logical range
  /// x[0..n). `out` has shape = the kept dims (any strides).
  ///  - sum: f32→f32, f64→f64, i64→i64, u8→i64 (out.dtype says which). Deterministic mode uses
  ///    the canonical chunked tree; Fast mode may use any order (thread-count dependent).
  ///  - max/min: same dtype; NaN propagates. Order-independent except for the sign of zero, which
  ///    follows the canonical tree in both modes.
  ///  - argmax/argmin → i64: index in [0, n) of the first maximal/minimal element; NaN counts as
  ///    maximal (and minimal) and the first NaN wins.
  /// n == 0: sum gives 0; max/min/argmax/argmin are rejected by the front end.
  void (*reduce)(ReduceOp op, Mode mode, const View& in, int n_kept, const View& out);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const ReduceKernels& reduce_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const ReduceKernels reduce_table;
}
namespace cpu::v3 {
extern const ReduceKernels reduce_table;
}
namespace cpu::v4 {
extern const ReduceKernels reduce_table;
}
namespace sim {
extern const ReduceKernels reduce_table;
}
namespace cuda {
extern const ReduceKernels reduce_table;
}

}  // namespace ditto::kernels
