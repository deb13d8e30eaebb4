// ditto — the elementwise kernel family (no CUDA types): kernels/cpu/elementwise.cpp and
// kernels/cuda/elementwise.cuh implement it; the element rules both use are
// kernels/common/elementwise_rules.h.
#pragma once
#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

/// Unary ops. Float-only ops (exp, log, log1p, sqrt, sigmoid, tanh, pow_scalar) take f32/f64;
/// neg/abs/relu/clamp take f32/f64/i64. The front end guarantees in.dtype == out.dtype and equal
/// shapes. Transcendentals use ditto's own functions (kernels/common/dmath.h), never libm.
enum class UnaryOp : int {
  neg, abs, exp, log, log1p, sqrt, relu, sigmoid, tanh,
  pow_scalar,  // x ^ p.a   (rules in docs/determinism.md)
  clamp,       // min(max(x, p.a), p.b); NaN stays NaN
};
struct UnaryParams {
  double a = 0;
  double b = 0;
};

/// Binary ops. Inputs are already broadcast to out's shape (stride 0 on broadcast dims) and have
/// one dtype; arithmetic ops write that dtype, comparisons write u8 (0 or 1).
/// maximum/minimum propagate NaN. Integer div truncates toward zero; i64 division by zero throws.
enum class BinaryOp : int { add, sub, mul, div, maximum, minimum, eq, ne, lt, le, gt, ge };

/// The elementwise family: one entry per kernel, implemented by every backend.
struct ElementwiseKernels {
  /// out = op(in), rules as listed with UnaryOp.
  void (*unary)(UnaryOp op, const View& in, const View& out, UnaryParams p);
  /// out = op(a, b), rules as listed with BinaryOp.
  void (*binary)(BinaryOp op, const View& a, const View& b, const View& out);
  /// out = cond ? a : b. cond is u8; a, b, out share a dtype; all broadcast to out's shape.
  void (*where)(const View& cond, const View& a, const View& b, const View& out);
  /// out = in converted to out.dtype (float→int truncates toward zero; anything→u8 wraps as
  /// C++ unsigned conversion of the i64 value). Shapes equal. Also the plain strided copy.
  void (*copy)(const View& in, const View& out);
  /// Every element of out = value converted to out.dtype.
  void (*fill)(const View& out, double value);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const ElementwiseKernels& elementwise_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const ElementwiseKernels elementwise_table;
}
namespace cpu::v3 {
extern const ElementwiseKernels elementwise_table;
}
namespace cpu::v4 {
extern const ElementwiseKernels elementwise_table;
}
namespace sim {
extern const ElementwiseKernels elementwise_table;
}
namespace cuda {
extern const ElementwiseKernels elementwise_table;
}

}  // namespace ditto::kernels
