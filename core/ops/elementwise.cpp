// ditto — elementwise ops: front ends (validate, promote, broadcast, record) and backward rules.
// Kernels: kernels/cpu/elementwise.cpp and kernels/cuda/elementwise.cuh (element rules shared:
// kernels/common/elementwise_rules.h).
#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"
#include "kernels/elementwise.h"

namespace ditto {

using detail::describe;
using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

bool float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg:
    case UnaryOp::abs:
    case UnaryOp::relu:
    case UnaryOp::clamp: return false;
    default: return true;
  }
}

// Runs a unary kernel; returns the output (no autograd).
Tensor unary_forward(const char* name, UnaryOp op, const Tensor& x, kernels::UnaryParams p = {}) {
  detail::common_device({&x}, name);
  detail::require_kernels(x.device(), name);
  Tensor in = x;
  if (float_only(op) && !is_floating(x.dtype())) in = x.to(DType::f32);  // ints never need grad
  DITTO_CHECK(in.dtype() != DType::u8, name, ": not defined for u8 tensors, got ", describe(x));
  Tensor out = empty(in.shape(), in.dtype(), in.device());
  kernels::elementwise_kernels(in.device())
      .unary(op, detail::make_view(in, name), detail::make_view(out, name), p);
  return out;
}

Tensor binary_forward(const char* name, BinaryOp op, const Tensor& a, const Tensor& b,
                      bool comparison) {
  detail::common_device({&a, &b}, name);
  detail::require_kernels(a.device(), name);
  Shape shape = detail::broadcast_shapes(a.shape(), b.shape(), name);
  DType t = promote(a.dtype(), b.dtype());
  Tensor ca, cb;
  {
    NoGradGuard ng;  // the op's own node routes gradients to a and b (engine converts dtypes)
    ca = a.to(t);
    cb = b.to(t);
  }
  Tensor out = empty(shape, comparison ? DType::u8 : t, a.device());
  kernels::elementwise_kernels(a.device())
      .binary(op, detail::make_broadcast_view(ca, shape, name),
              detail::make_broadcast_view(cb, shape, name), detail::make_view(out, name));
  return out;
}

// Records a unary node whose backward maps grad_out to grad_in; `saved` is what `back` reads.
Tensor with_grad(const char* name, const Tensor& x, Tensor out,
                 std::function<Tensor(const Tensor&)> back, const Tensor& saved = Tensor()) {
  if (autograd::needs_grad({&x}))
    autograd::record(
        name, out, {x},
        [back = std::move(back)](const Tensor& g) { return std::vector<Tensor>{back(g)}; },
        {saved});
  return out;
}

Tensor zeros_scalar(const Tensor& like) { return scalar_tensor(0.0, like.dtype(), like.device()); }

}  // namespace

// ---- unary --------------------------------------------------------------------------------

Tensor neg(const Tensor& x) {
  profile::OpScope scope("neg");
  return with_grad("neg", x, unary_forward("neg", UnaryOp::neg, x),
                   [](const Tensor& g) { return neg(g); });
}

Tensor abs(const Tensor& x) {
  profile::OpScope scope("abs");
  Tensor xd = x.detach();
  return with_grad("abs", x, unary_forward("abs", UnaryOp::abs, x), [xd](const Tensor& g) {
    // d|x|/dx = sign(x), with sign(0) = 0 (as PyTorch)
    Tensor zero = zeros_scalar(g);
    Tensor sign = where(gt(xd, zero), scalar_like(g, 1.0),
                        where(lt(xd, zero), scalar_like(g, -1.0), zero));
    return mul(g, sign);
  }, xd);
}

Tensor exp(const Tensor& x) {
  profile::OpScope scope("exp");
  Tensor y = unary_forward("exp", UnaryOp::exp, x);
  Tensor yd = y.detach();
  return with_grad("exp", x, y, [yd](const Tensor& g) { return mul(g, yd); }, yd);
}

Tensor log(const Tensor& x) {
  profile::OpScope scope("log");
  Tensor xd = x.detach();
  return with_grad("log", x, unary_forward("log", UnaryOp::log, x),
                   [xd](const Tensor& g) { return div(g, xd); }, xd);
}

Tensor log1p(const Tensor& x) {
  profile::OpScope scope("log1p");
  Tensor xd = x.detach();
  return with_grad("log1p", x, unary_forward("log1p", UnaryOp::log1p, x),
                   [xd](const Tensor& g) { return div(g, add(xd, scalar_like(xd, 1.0))); }, xd);
}

Tensor sqrt(const Tensor& x) {
  profile::OpScope scope("sqrt");
  Tensor y = unary_forward("sqrt", UnaryOp::sqrt, x);
  Tensor yd = y.detach();
  return with_grad("sqrt", x, y,
                   [yd](const Tensor& g) { return div(g, mul(yd, scalar_like(yd, 2.0))); }, yd);
}

Tensor relu(const Tensor& x) {
  profile::OpScope scope("relu");
  Tensor y = unary_forward("relu", UnaryOp::relu, x);
  Tensor yd = y.detach();
  return with_grad("relu", x, y, [yd](const Tensor& g) {
    return where(gt(yd, zeros_scalar(yd)), g, zeros_scalar(g));
  }, yd);
}

Tensor sigmoid(const Tensor& x) {
  profile::OpScope scope("sigmoid");
  Tensor y = unary_forward("sigmoid", UnaryOp::sigmoid, x);
  Tensor yd = y.detach();
  return with_grad("sigmoid", x, y, [yd](const Tensor& g) {
    return mul(mul(g, sub(scalar_like(yd, 1.0), yd)), yd);  // g * (1 - y) * y, as PyTorch
  }, yd);
}

Tensor tanh(const Tensor& x) {
  profile::OpScope scope("tanh");
  Tensor y = unary_forward("tanh", UnaryOp::tanh, x);
  Tensor yd = y.detach();
  return with_grad("tanh", x, y, [yd](const Tensor& g) {
    return mul(g, sub(scalar_like(yd, 1.0), mul(yd, yd)));  // g * (1 - y^2)
  }, yd);
}

Tensor pow(const Tensor& x, double exponent) {
  profile::OpScope scope("pow");
  DITTO_CHECK(std::isfinite(exponent), "pow: exponent must be finite, got ", exponent);
  Tensor xd = x.detach();
  kernels::UnaryParams p{exponent, 0};
  return with_grad("pow", x, unary_forward("pow", UnaryOp::pow_scalar, x, p),
                   [xd, exponent](const Tensor& g) {
                     if (exponent == 0.0) return zeros_like(g);
                     // g * p * x^(p-1)
                     return mul(mul(g, scalar_like(g, exponent)), pow(xd, exponent - 1.0));
                   }, xd);
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  profile::OpScope scope("clamp");
  DITTO_CHECK(!(lo > hi), "clamp: lo ", lo, " is greater than hi ", hi);
  Tensor xd = x.detach();
  kernels::UnaryParams p{lo, hi};
  return with_grad("clamp", x, unary_forward("clamp", UnaryOp::clamp, x, p),
                   [xd, lo, hi](const Tensor& g) {
                     // gradient passes where lo <= x <= hi (as PyTorch)
                     Tensor z = zeros_scalar(g);
                     return where(lt(xd, scalar_like(xd, lo)), z,
                                  where(gt(xd, scalar_like(xd, hi)), z, g));
                   }, xd);
}

// ---- binary ---------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  profile::OpScope scope("add");
  Tensor out = binary_forward("add", BinaryOp::add, a, b, false);
  if (autograd::needs_grad({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    autograd::record("add", out, {a, b}, [sa, sb](const Tensor& g) {
      return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  profile::OpScope scope("sub");
  Tensor out = binary_forward("sub", BinaryOp::sub, a, b, false);
  if (autograd::needs_grad({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    autograd::record("sub", out, {a, b}, [sa, sb](const Tensor& g) {
      return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  profile::OpScope scope("mul");
  Tensor out = binary_forward("mul", BinaryOp::mul, a, b, false);
  if (autograd::needs_grad({&a, &b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record("mul", out, {a, b}, [ad, bd, ga, gb](const Tensor& g) {
      return std::vector<Tensor>{ga ? sum_to(mul(g, bd), ad.shape()) : Tensor(),
                                 gb ? sum_to(mul(g, ad), bd.shape()) : Tensor()};
    }, {gb ? ad : Tensor(), ga ? bd : Tensor()});  // a's gradient reads b and vice versa
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  profile::OpScope scope("div");
  Tensor out = binary_forward("div", BinaryOp::div, a, b, false);
  if (autograd::needs_grad({&a, &b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record("div", out, {a, b}, [ad, bd, ga, gb](const Tensor& g) {
      // d(a/b)/db = -a / b^2, computed as -g * a / (b * b) (PyTorch's order)
      return std::vector<Tensor>{
          ga ? sum_to(div(g, bd), ad.shape()) : Tensor(),
          gb ? sum_to(div(mul(neg(g), ad), mul(bd, bd)), bd.shape()) : Tensor()};
    }, {gb ? ad : Tensor(), bd});
  }
  return out;
}

namespace {
// Gradient of maximum/minimum: the winner gets g, ties split g evenly (PyTorch's rule).
Tensor extremum(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  profile::OpScope scope(name);
  Tensor out = binary_forward(name, op, a, b, false);
  if (autograd::needs_grad({&a, &b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool is_max = op == BinaryOp::maximum;
    autograd::record(name, out, {a, b}, [ad, bd, is_max](const Tensor& g) {
      Tensor half = mul(g, scalar_like(g, 0.5));
      Tensor z = zeros_scalar(g);
      Tensor a_wins = is_max ? gt(ad, bd) : lt(ad, bd);
      Tensor b_wins = is_max ? lt(ad, bd) : gt(ad, bd);
      Tensor tie = eq(ad, bd);
      Tensor ga = where(a_wins, g, where(tie, half, z));
      Tensor gb = where(b_wins, g, where(tie, half, z));
      return std::vector<Tensor>{sum_to(ga, ad.shape()), sum_to(gb, bd.shape())};
    }, {ad, bd});
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum("maximum", BinaryOp::maximum, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum("minimum", BinaryOp::minimum, a, b);
}

namespace {
Tensor comparison(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  profile::OpScope scope(name);
  return binary_forward(name, op, a, b, true);
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return comparison("eq", BinaryOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return comparison("ne", BinaryOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return comparison("lt", BinaryOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return comparison("le", BinaryOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return comparison("gt", BinaryOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return comparison("ge", BinaryOp::ge, a, b); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  profile::OpScope scope("where");
  detail::common_device({&cond, &a, &b}, "where");
  detail::require_kernels(a.device(), "where");
  DITTO_CHECK(cond.dtype() == DType::u8, "where: condition must be u8, got ", describe(cond));
  Shape shape = detail::broadcast_shapes(
      detail::broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  DType t = promote(a.dtype(), b.dtype());
  Tensor ca, cb;
  {
    NoGradGuard ng;
    ca = a.to(t);
    cb = b.to(t);
  }
  Tensor out = empty(shape, t, a.device());
  kernels::elementwise_kernels(a.device())
      .where(detail::make_broadcast_view(cond, shape, "where"),
             detail::make_broadcast_view(ca, shape, "where"),
             detail::make_broadcast_view(cb, shape, "where"), detail::make_view(out, "where"));
  if (autograd::needs_grad({&a, &b})) {
    Tensor cd = cond.detach();
    Shape sa = a.shape(), sb = b.shape();
    autograd::record("where", out, {a, b}, [cd, sa, sb](const Tensor& g) {
      Tensor z = zeros_scalar(g);
      return std::vector<Tensor>{sum_to(where(cd, g, z), sa), sum_to(where(cd, z, g), sb)};
    }, {cd});
  }
  return out;
}

// ---- operators and scalars ------------------------------------------------------------------

Tensor scalar_like(const Tensor& like, double s) {
  DType t = like.dtype();
  // In range before the cast (casting 1e308 to int64 is undefined behaviour).
  const bool integral = std::isfinite(s) && s == std::trunc(s) && std::fabs(s) < 0x1p63;
  if (!is_floating(t) && !integral) t = DType::f32;
  // An operand of arithmetic (x * 1e308), unlike a fill value, rounds as the kernel's operand
  // would: beyond the f32 range it is inf (PyTorch's wrapped scalars behave the same).
  if (t == DType::f32 && std::isfinite(s) && std::fabs(s) >= 0x1.ffffffp127)
    s = std::copysign(std::numeric_limits<double>::infinity(), s);
  return scalar_tensor(s, t, like.device());
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double s) { return add(a, scalar_like(a, s)); }
Tensor operator+(double s, const Tensor& a) { return add(scalar_like(a, s), a); }
Tensor operator-(const Tensor& a, double s) { return sub(a, scalar_like(a, s)); }
Tensor operator-(double s, const Tensor& a) { return sub(scalar_like(a, s), a); }
Tensor operator*(const Tensor& a, double s) { return mul(a, scalar_like(a, s)); }
Tensor operator*(double s, const Tensor& a) { return mul(scalar_like(a, s), a); }
Tensor operator/(const Tensor& a, double s) { return div(a, scalar_like(a, s)); }
Tensor operator/(double s, const Tensor& a) { return div(scalar_like(a, s), a); }

// ---- methods ------------------------------------------------------------------------------
Tensor Tensor::neg() const { return ditto::neg(*this); }
Tensor Tensor::abs() const { return ditto::abs(*this); }
Tensor Tensor::exp() const { return ditto::exp(*this); }
Tensor Tensor::log() const { return ditto::log(*this); }
Tensor Tensor::log1p() const { return ditto::log1p(*this); }
Tensor Tensor::sqrt() const { return ditto::sqrt(*this); }
Tensor Tensor::relu() const { return ditto::relu(*this); }
Tensor Tensor::sigmoid() const { return ditto::sigmoid(*this); }
Tensor Tensor::tanh() const { return ditto::tanh(*this); }
Tensor Tensor::pow(double e) const { return ditto::pow(*this, e); }
Tensor Tensor::clamp(double lo, double hi) const { return ditto::clamp(*this, lo, hi); }

}  // namespace ditto
