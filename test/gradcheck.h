// ditto test support — gradcheck: analytic gradients (backward()) against central finite
// differences in float64.
//
// For a function f of several tensors, gradcheck builds the scalar L(x) = sum(f(x) * w) with a
// fixed random weight w (drawn from a ditto::Generator, so every output element sends a different
// upstream gradient and a backward rule that mixes up elements cannot pass), then compares, for
// every element j of every input i,
//   analytic  dL/dx_i[j]  from L.backward()
//   numeric   (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)
// and accepts |analytic - numeric| <= atol + rtol * |numeric|.
//
// Usage:  CHECK_GRADCHECK(f, {x, y});          // doctest CHECK with a readable failure message
//         auto r = ditto::test::gradcheck(f, {x, y}, 1e-6, 1e-7, 1e-5);  // r.ok, r.message
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "ditto/ditto.h"

namespace ditto::test {

/// Outcome of one gradcheck. `message` lists the first mismatches (input index, element,
/// analytic, numeric); `checked` counts compared elements; `max_abs_err` is the largest
/// |analytic - numeric| seen.
struct GradcheckResult {
  bool ok = true;
  std::string message;
  std::int64_t checked = 0;
  double max_abs_err = 0.0;
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

namespace detail_gc {

// A fresh contiguous f64 copy of t that shares nothing with it and is cut from every graph.
inline Tensor fresh_f64(const Tensor& t) {
  NoGradGuard ng;
  return t.to(DType::f64).clone().detach();
}

// L = sum(f(xs) * w) as a tensor (differentiable when the xs require grad).
inline Tensor weighted_loss(const GradFn& f, const std::vector<Tensor>& xs, const Tensor& w) {
  Tensor y = f(xs);
  if (y.dtype() != DType::f64) y = y.to(DType::f64);
  return sum(mul(y, w));
}

}  // namespace detail_gc

/// Central-difference gradient check in float64; see the file comment. `inputs` are converted to
/// contiguous f64 leaves (the caller's tensors are not modified). Inputs whose analytic gradient
/// is undefined after backward are treated as having a zero gradient.
inline GradcheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs,
                                 double eps = 1e-6, double atol = 1e-7, double rtol = 1e-5,
                                 std::uint64_t weight_seed = 12345) {
  GradcheckResult res;
  std::ostringstream msg;
  int reported = 0;
  constexpr int kMaxReported = 8;

  // The fixed upstream weight w, shaped like f's output.
  Tensor w;
  {
    NoGradGuard ng;
    std::vector<Tensor> probe;
    for (const Tensor& x : inputs) probe.push_back(detail_gc::fresh_f64(x));
    Tensor y = f(probe);
    Generator gen(weight_seed);
    // Weights in [0.5, 1.5) with random sign: non-uniform, never tiny.
    Tensor mag = uniform(y.shape(), 0.5, 1.5, gen, DType::f64);
    Tensor sgn = uniform(y.shape(), -1.0, 1.0, gen, DType::f64);
    w = where(lt(sgn, scalar_tensor(0.0, DType::f64)), neg(mag), mag);
  }

  // Analytic gradients.
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    Tensor l = detail_gc::fresh_f64(x);
    l.requires_grad_();
    leaves.push_back(l);
  }
  Tensor loss = detail_gc::weighted_loss(f, leaves, w);
  if (!loss.requires_grad()) {
    res.ok = false;
    res.message = "gradcheck: f's output does not require grad (no graph was recorded)";
    return res;
  }
  loss.backward();

  // Numeric gradients, element by element.
  NoGradGuard ng;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<double> analytic;
    Tensor g = leaves[i].grad();
    if (g.defined()) {
      if (g.shape() != leaves[i].shape()) {
        res.ok = false;
        msg << "input " << i << ": gradient shape " << shape_str(g.shape()) << " != input shape "
            << shape_str(leaves[i].shape()) << "\n";
        continue;
      }
      analytic = g.to_vector<double>();
    } else {
      analytic.assign(static_cast<std::size_t>(leaves[i].numel()), 0.0);
    }
    std::vector<Tensor> xs;
    for (const Tensor& x : inputs) xs.push_back(detail_gc::fresh_f64(x));
    double* p = xs[i].data_ptr<double>();
    for (std::int64_t j = 0; j < xs[i].numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + eps;
      const double lp = detail_gc::weighted_loss(f, xs, w).item<double>();
      p[j] = orig - eps;
      const double lm = detail_gc::weighted_loss(f, xs, w).item<double>();
      p[j] = orig;
      const double numeric = (lp - lm) / (2.0 * eps);
      const double a = analytic[static_cast<std::size_t>(j)];
      const double err = std::fabs(a - numeric);
      ++res.checked;
      if (err > res.max_abs_err || std::isnan(err)) res.max_abs_err = err;
      if (!(err <= atol + rtol * std::fabs(numeric))) {
        res.ok = false;
        if (reported++ < kMaxReported)
          msg << "input " << i << " " << shape_str(xs[i].shape()) << " element " << j
              << " (x = " << orig << "): analytic " << a << " vs numeric " << numeric << " (|diff| "
              << err << ")\n";
      }
    }
  }
  if (reported > kMaxReported) msg << "... " << (reported - kMaxReported) << " more mismatches\n";
  res.message = msg.str();
  return res;
}

}  // namespace ditto::test

/// doctest CHECK that a gradcheck passes; on failure prints the mismatching elements.
/// Arguments are those of ditto::test::gradcheck.
#define CHECK_GRADCHECK(...)                                                        \
  do {                                                                              \
    ::ditto::test::GradcheckResult gc_res_ = ::ditto::test::gradcheck(__VA_ARGS__); \
    CHECK_MESSAGE(gc_res_.ok, gc_res_.message);                                     \
    CHECK(gc_res_.checked > 0);                                                     \
  } while (0)
