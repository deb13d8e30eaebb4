// ditto — launch interface of the indexing kernels: index_select (a gather) and index_add (a
// scatter-add, the backward of index_select/embedding/gather). The canonical order of index_add
// is specified in docs/determinism.md ("Scatter-add").
#pragma once
#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

/// The index family: one entry per kernel, implemented by every backend.
struct IndexKernels {
  /// out[o, m, i] = in[o, index[m], i].
  /// `in`: (outer, K, inner), `index`: (M) i64, `out`: (outer, M, inner); any strides; in and out
  /// share a dtype (any). Every index must lie in [0, K): the front end checks and reports; the
  /// kernels re-check and throw ditto::Error (a kernel assertion on GPU).
  void (*index_select)(const View& in, const View& index, const View& out);

  /// out[o, index[m], i] += src[o, m, i], in place.
  /// `out`: (outer, K, inner), `index`: (M) i64, `src`: (outer, M, inner); any strides, out
  /// non-overlapping; f32 or f64. Index range as for index_select.
  ///  - Deterministic (sort-based): the rows m are stably sorted by index[m]; then for each target
  ///    row k that occurs: acc = +0; acc = acc + src[o, m, i] for the m with index[m] == k in
  ///    ascending m; out[o, k, i] = out[o, k, i] + acc. Rows that no index names are not written.
  ///    On cuda the sort is CUB's radix sort (stable); cpu and sim sort exactly on the host.
  ///  - Fast: out[o, index[m], i] += src[o, m, i] directly, in any order (atomics on GPU).
  void (*index_add)(Mode mode, const View& out, const View& index, const View& src);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const IndexKernels& index_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const IndexKernels index_table;
}
namespace cpu::v3 {
extern const IndexKernels index_table;
}
namespace cpu::v4 {
extern const IndexKernels index_table;
}
namespace sim {
extern const IndexKernels index_table;
}
namespace cuda {
extern const IndexKernels index_table;
}

}  // namespace ditto::kernels
