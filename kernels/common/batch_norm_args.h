// ditto — argument checks and the per-element rules of the batch_norm kernels, shared by every
// backend (kernels/batch_norm.h), so that cpu and GPU sources evaluate the same expressions in
// the same order.
#pragma once
#include <math.h>

#include <cstdint>

#include "core/error.h"
#include "kernels/batch_norm.h"
#include "kernels/common/hd.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels::batch_norm_args {

/// The per-call constants in the element type T, converted from double exactly as the
/// composition's scalar_like(x, value) did.
template <class T>
struct Consts {
  T n_t;   // T(n)
  T n1_t;  // T(n - 1), the unbiased variance's divisor
  T keep;  // T(1 - momentum)
  T mom;   // T(momentum)
  T eps;   // T(eps)
};
template <class T>
inline Consts<T> consts(const BatchNormGeom& g, const BatchNormParams& p) {
  return {static_cast<T>(static_cast<double>(g.n())),
          static_cast<T>(static_cast<double>(g.n() - 1)), static_cast<T>(1.0 - p.momentum),
          static_cast<T>(p.momentum), static_cast<T>(p.eps)};
}

DITTO_HD inline float sqrt_t(float v) { return sqrtf(v); }
DITTO_HD inline double sqrt_t(double v) { return sqrt(v); }

/// inv_std = T(1) / sqrt(var + eps): the composition's div(1, sqrt(add(var, eps))), never rsqrt.
template <class T>
DITTO_HD inline T inv_std(T var, T eps) {
  return T(1) / sqrt_t(var + eps);
}

/// y = ((x - mean) * inv) * w + b; `w` is T(1) without weight (x * 1 is exact), and the bias is
/// skipped without bias (adding +0 would turn a -0 into +0).
template <class T>
DITTO_HD inline T normalize(T x, T mean, T inv, T w, T b, bool has_bias) {
  const T y = ((x - mean) * inv) * w;
  return has_bias ? y + b : y;
}

/// The running-statistics update of one channel; both old values are read before either is
/// written (so running_mean aliasing running_var gives the composition's result).
template <class T>
DITTO_HD inline void update_running(const Consts<T>& c, T mean, T ss, T* rm, T* rv) {
  const T var_u = ss / c.n1_t;
  const T new_mean = c.keep * *rm + c.mom * mean;
  const T new_var = c.keep * *rv + c.mom * var_u;
  *rm = new_mean;
  *rv = new_var;
}

/// dx of one element in training: a * ((g - mg) - xhat * mh), mg = dbias / n_t, mh =
/// dweight / n_t.
template <class T>
DITTO_HD inline T dx_train(T g, T xhat, T a, T mg, T mh) {
  return a * ((g - mg) - xhat * mh);
}

inline bool present(const View& v) { return v.data != nullptr; }

inline void check_float(const char* op, const char* what, const View& v, DType t,
                        std::int64_t numel) {
  DITTO_CHECK(v.dtype == t, op, ": ", what, " must be ", dtype_name(t), ", got ",
              dtype_name(v.dtype));
  DITTO_CHECK(v.is_contiguous(), op, ": ", what, " must be contiguous");
  DITTO_CHECK(v.numel() == numel, op, ": ", what, " has ", v.numel(), " elements, expected ",
              numel);
}

inline void check_geom(const char* op, const BatchNormGeom& g, const View& x) {
  DITTO_CHECK(x.dtype == DType::f32 || x.dtype == DType::f64, op,
              ": input must be f32 or f64, got ", dtype_name(x.dtype));
  DITTO_CHECK(g.N >= 0 && g.C >= 1 && g.S >= 1, op, ": bad geometry N=", g.N, " C=", g.C,
              " S=", g.S);
  check_float(op, "input", x, x.dtype, g.N * g.C * g.S);
}

inline void check_channel(const char* op, const char* what, const View& v, const View& x,
                          const BatchNormGeom& g, bool required) {
  if (!present(v)) {
    DITTO_CHECK(!required, op, ": ", what, " is required");
    return;
  }
  check_float(op, what, v, x.dtype, g.C);
}

inline void check_forward_train(const BatchNormGeom& g, const View& x, const View& weight,
                                const View& bias, const View& y, const View& mean, const View& var,
                                const View& rm, const View& rv) {
  const char* op = "batch_norm";
  check_geom(op, g, x);
  DITTO_CHECK(g.n() >= 2, op, ": training needs more than 1 value per channel, got ", g.n());
  check_float(op, "output", y, x.dtype, x.numel());
  check_channel(op, "weight", weight, x, g, false);
  check_channel(op, "bias", bias, x, g, false);
  check_channel(op, "mean", mean, x, g, true);
  check_channel(op, "var", var, x, g, true);
  check_channel(op, "running_mean", rm, x, g, false);
  check_channel(op, "running_var", rv, x, g, false);
  DITTO_CHECK(present(rm) == present(rv), op,
              ": running_mean and running_var must both be present or both absent");
}

inline void check_forward_eval(const BatchNormGeom& g, const View& x, const View& rm,
                               const View& rv, const View& weight, const View& bias,
                               const View& y) {
  const char* op = "batch_norm (eval)";
  check_geom(op, g, x);
  check_float(op, "output", y, x.dtype, x.numel());
  check_channel(op, "running_mean", rm, x, g, true);
  check_channel(op, "running_var", rv, x, g, true);
  check_channel(op, "weight", weight, x, g, false);
  check_channel(op, "bias", bias, x, g, false);
}

inline void check_backward(const BatchNormGeom& g, const View& grad, const View& x,
                           const View& mean, const View& var, const View& weight, const View& dx,
                           const View& dweight, const View& dbias) {
  const char* op = "batch_norm backward";
  check_geom(op, g, x);
  check_float(op, "gradient", grad, x.dtype, x.numel());
  check_channel(op, "mean", mean, x, g, true);
  check_channel(op, "var", var, x, g, true);
  check_channel(op, "weight", weight, x, g, false);
  check_channel(op, "dweight", dweight, x, g, false);
  check_channel(op, "dbias", dbias, x, g, false);
  if (present(dx)) check_float(op, "input gradient", dx, x.dtype, x.numel());
}

}  // namespace ditto::kernels::batch_norm_args
