// ditto — host-side argument checks of the matmul kernels, shared by kernels/cpu/gemm.cpp and
// kernels/cuda/gemm.cuh (one copy, so the cpu and GPU launchers reject the same inputs alike).
#pragma once
#include "core/error.h"
#include "kernels/gemm.h"

namespace ditto::kernels::gemm_args {

/// Throws ditto::Error for a dtype other than f32/f64 or a negative size.
inline void check(const GemmArgs& args) {
  DITTO_CHECK(args.dtype == DType::f32 || args.dtype == DType::f64,
              "matmul (gemm kernel): dtype must be f32 or f64, got ", dtype_name(args.dtype));
  DITTO_CHECK(args.batch >= 0 && args.M >= 0 && args.N >= 0 && args.K >= 0,
              "matmul (gemm kernel): negative size (batch ", args.batch, ", M ", args.M, ", N ",
              args.N, ", K ", args.K, ")");
}

}  // namespace ditto::kernels::gemm_args
