// ditto — launch interface of the elementwise kernels (no CUDA types; one implementation per
// device: kernels/cpu/elementwise.cpp today, kernels/cuda/elementwise.cuh with the sim issue).
#pragma once
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

namespace cpu {
void unary(UnaryOp op, const View& in, const View& out, UnaryParams p);
void binary(BinaryOp op, const View& a, const View& b, const View& out);
/// out = cond ? a : b. cond is u8; a, b, out share a dtype; all broadcast to out's shape.
void where(const View& cond, const View& a, const View& b, const View& out);
/// out = in converted to out.dtype (float→int truncates toward zero; anything→u8 wraps as
/// C++ unsigned conversion of the i64 value). Shapes equal. Also the plain strided copy.
void copy(const View& in, const View& out);
/// Every element of out = value converted to out.dtype.
void fill(const View& out, double value);
}  // namespace cpu

// The same launch interface, implemented by the CUDA kernel sources (kernels/cuda/) compiled
// twice: `sim` by the host compiler against the SIMT simulator (always built), `cuda` by nvcc
// (only when CUDA kernels are compiled). Semantics and bits are those documented above.
namespace sim {
void unary(UnaryOp op, const View& in, const View& out, UnaryParams p);
void binary(BinaryOp op, const View& a, const View& b, const View& out);
void where(const View& cond, const View& a, const View& b, const View& out);
void copy(const View& in, const View& out);
void fill(const View& out, double value);
}  // namespace sim
namespace cuda {
void unary(UnaryOp op, const View& in, const View& out, UnaryParams p);
void binary(BinaryOp op, const View& a, const View& b, const View& out);
void where(const View& cond, const View& a, const View& b, const View& out);
void copy(const View& in, const View& out);
void fill(const View& out, double value);
}  // namespace cuda

}  // namespace ditto::kernels
