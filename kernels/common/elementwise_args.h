// ditto — host-side pieces of the elementwise kernels shared by the CPU implementation
// (kernels/cpu/elementwise.cpp) and the GPU one (kernels/cuda/elementwise.cuh): op names, the
// argument validation of unary/binary/where/copy/fill with its messages, and pow_scalar's
// per-call rule. Written once so the two devices accept the same calls, report the same errors
// and pick the same pow_scalar path and integer-power rule (the other element rules live with
// each kernel).
#pragma once
#include <cmath>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/common/hd.h"
#include "kernels/elementwise.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels::ew_args {

/// "[d0,d1,...]" for error messages.
inline std::string shape_str(const View& v) {
  std::string s = "[";
  for (int i = 0; i < v.ndim; ++i) s += (i ? "," : "") + std::to_string(v.shape[i]);
  return s + "]";
}

/// The op name used in error messages.
inline const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::abs: return "abs";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::log1p: return "log1p";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::relu: return "relu";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::pow_scalar: return "pow";
    case UnaryOp::clamp: return "clamp";
  }
  return "unary";
}

/// The op name used in error messages.
inline const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
    case BinaryOp::eq: return "eq";
    case BinaryOp::ne: return "ne";
    case BinaryOp::lt: return "lt";
    case BinaryOp::le: return "le";
    case BinaryOp::gt: return "gt";
    case BinaryOp::ge: return "ge";
  }
  return "binary";
}

/// eq ne lt le gt ge: the ops that write u8 0/1.
inline bool is_comparison(BinaryOp op) {
  return static_cast<int>(op) >= static_cast<int>(BinaryOp::eq);
}

/// A view the kernels can walk: 0..kMaxDims dims, no negative extent, data unless empty.
inline void check_view(const View& v, const char* op, const char* what) {
  DITTO_CHECK(v.ndim >= 0 && v.ndim <= kMaxDims, op, ": ", what, " has ", v.ndim,
              " dims; kernels support 0..", kMaxDims);
  for (int i = 0; i < v.ndim; ++i)
    DITTO_CHECK(v.shape[i] >= 0, op, ": ", what, " has a negative extent, shape ", shape_str(v));
  DITTO_CHECK(v.data != nullptr || v.numel() == 0, op, ": ", what, " has no data");
}

/// check_view(in), and in's shape equals out's (broadcasts are strides, already expanded).
inline void check_same_shape(const View& in, const View& out, const char* op, const char* what) {
  check_view(in, op, what);
  bool same = in.ndim == out.ndim;
  for (int i = 0; same && i < in.ndim; ++i) same = in.shape[i] == out.shape[i];
  DITTO_CHECK(same, op, ": ", what, " shape ", shape_str(in), " differs from output shape ",
              shape_str(out));
}

/// Validates unary(op, in, out): shapes, equal dtypes, and the op's dtypes (neg/abs/relu/clamp:
/// f32, f64, i64; the others f32, f64).
inline void check_unary(UnaryOp op, const View& in, const View& out) {
  const char* name = unary_name(op);
  check_view(out, name, "output");
  check_same_shape(in, out, name, "input");
  DITTO_CHECK(in.dtype == out.dtype, name, ": input dtype ", dtype_name(in.dtype),
              " differs from output dtype ", dtype_name(out.dtype));
  const bool float_only =
      !(op == UnaryOp::neg || op == UnaryOp::abs || op == UnaryOp::relu || op == UnaryOp::clamp);
  DITTO_CHECK(is_floating(in.dtype) || (!float_only && in.dtype == DType::i64), name,
              ": not supported for dtype ", dtype_name(in.dtype), " (shape ", shape_str(in), ")");
}

/// Validates binary(op, a, b, out): shapes, equal input dtypes, the output dtype (u8 for
/// comparisons, else the inputs'), and u8 inputs only for add, maximum, minimum, comparisons.
inline void check_binary(BinaryOp op, const View& a, const View& b, const View& out) {
  const char* name = binary_name(op);
  check_view(out, name, "output");
  check_same_shape(a, out, name, "first input");
  check_same_shape(b, out, name, "second input");
  DITTO_CHECK(a.dtype == b.dtype, name, ": input dtypes differ (", dtype_name(a.dtype), " vs ",
              dtype_name(b.dtype), ")");
  const DType want = is_comparison(op) ? DType::u8 : a.dtype;
  DITTO_CHECK(out.dtype == want, name, ": output dtype must be ", dtype_name(want), ", got ",
              dtype_name(out.dtype));
  DITTO_CHECK(a.dtype != DType::u8 || op == BinaryOp::add || op == BinaryOp::maximum ||
                  op == BinaryOp::minimum || is_comparison(op),
              name, ": not supported for u8 inputs (shape ", shape_str(a),
              "); convert to i64 or f32 first");
}

/// Validates where(cond, a, b, out): shapes, a u8 condition, a and b of out's dtype.
inline void check_where(const View& cond, const View& a, const View& b, const View& out) {
  check_view(out, "where", "output");
  check_same_shape(cond, out, "where", "condition");
  check_same_shape(a, out, "where", "first input");
  check_same_shape(b, out, "where", "second input");
  DITTO_CHECK(cond.dtype == DType::u8, "where: condition must be u8, got ", dtype_name(cond.dtype));
  DITTO_CHECK(a.dtype == out.dtype && b.dtype == out.dtype, "where: input dtypes ",
              dtype_name(a.dtype), " and ", dtype_name(b.dtype), " must equal output dtype ",
              dtype_name(out.dtype));
}

/// Validates copy(in, out): shapes (any dtype pair converts).
inline void check_copy(const View& in, const View& out) {
  check_view(out, "copy", "output");
  check_same_shape(in, out, "copy", "input");
}

/// Validates fill(out, value).
inline void check_fill(const View& out) { check_view(out, "fill", "output"); }

/// div by zero on i64, raised after the kernel finished (the output is then unspecified).
inline void check_no_div_by_zero(bool div_by_zero, const View& out) {
  DITTO_CHECK(!div_by_zero, "div: integer division by zero (shape ", shape_str(out), ")");
}

/// pow_scalar's path, decided once per call from the exponent p (kernels/cpu/elementwise.cpp,
/// "Element rules"): p == 0, 1, 2, 0.5, -1; an integer with |p| <= 64; otherwise general.
enum class PowKind : int { one, identity, square, sqrt, recip, intpow, general };
struct PowRule {
  PowKind kind = PowKind::general;
  unsigned e = 0;      // |p| for intpow
  bool recip = false;  // p < 0 for intpow
};

/// The PowRule of exponent p.
inline PowRule pow_rule(double p) {
  PowRule r;
  if (p == 0)
    r.kind = PowKind::one;
  else if (p == 1)
    r.kind = PowKind::identity;
  else if (p == 2)
    r.kind = PowKind::square;
  else if (p == 0.5)
    r.kind = PowKind::sqrt;
  else if (p == -1)
    r.kind = PowKind::recip;
  else if (std::fabs(p) <= 64 && std::trunc(p) == p) {
    r.kind = PowKind::intpow;
    r.e = static_cast<unsigned>(std::fabs(p));
    r.recip = p < 0;
  }
  return r;
}

}  // namespace ditto::kernels::ew_args
