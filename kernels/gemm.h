// ditto — launch interface of the matrix-multiply kernels. Canonical order (docs/determinism.md,
// "Dot products"): for every output element, acc = 0; for k = 0..K-1 ascending,
// acc = fma(a[i,k], b[k,j], acc); C[i,j] = acc. No split-K, no other order, any tiling.
#pragma once
#include <cstdint>

#include "core/mode.h"
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

/// C[b] = A[b] @ B[b] for b in [0, batch). All strides in elements; any strides allowed (incl. 0
/// for broadcast batches and transposed views). C must not alias A or B.
struct GemmArgs {
  DType dtype = DType::f32;  // f32 or f64 for A, B and C
  std::int64_t batch = 1, M = 0, N = 0, K = 0;
  const void* A = nullptr;   // (batch, M, K)
  std::int64_t a_bs = 0, a_rs = 0, a_cs = 0;
  const void* B = nullptr;   // (batch, K, N)
  std::int64_t b_bs = 0, b_rs = 0, b_cs = 0;
  void* C = nullptr;         // (batch, M, N)
  std::int64_t c_bs = 0, c_rs = 0, c_cs = 0;
};

/// The gemm family: one entry per kernel, implemented by every backend.
struct GemmKernels {
  /// Deterministic: the canonical order above, bitwise independent of thread count and blocking.
  /// Fast: Eigen's GEMM (its own blocking and accumulation order), may differ in the last bits.
  void (*gemm)(const GemmArgs& args, Mode mode);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const GemmKernels& gemm_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const GemmKernels gemm_table;
}
namespace cpu::v3 {
extern const GemmKernels gemm_table;
}
namespace cpu::v4 {
extern const GemmKernels gemm_table;
}
namespace sim {
extern const GemmKernels gemm_table;
}
namespace cuda {
extern const GemmKernels gemm_table;
}

}  // namespace ditto::kernels
