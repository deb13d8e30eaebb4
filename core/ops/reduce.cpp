// ditto — reductions: sum, mean, var, max, min, argmax, argmin, sum_to; front ends and backward
// rules. Kernels: kernels/cpu/reduce.cpp; canonical order: docs/determinism.md.
#include <algorithm>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"
#include "kernels/reduce.h"

namespace ditto {

using detail::describe;
using kernels::ReduceOp;

namespace {

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape kept_shape;           // output shape without keepdim
  Shape keep_shape;           // output shape with keepdim (reduced dims = 1)
  Shape perm;                 // kept dims, then reduced dims (each in increasing order)
  std::int64_t n = 1;         // elements per output
  int n_kept = 0;
};

ReducePlan make_plan(const Tensor& x, const Dims& dims, const char* op) {
  ReducePlan p;
  std::int64_t nd = x.dim();
  p.reduced.assign(nd, dims.empty());
  for (auto d : dims) {
    std::int64_t w = detail::wrap_dim(d, nd, op, x.shape());
    DITTO_CHECK(!p.reduced[w], op, ": dim ", d, " appears twice in ", shape_str(dims),
                " for shape ", shape_str(x.shape()));
    p.reduced[w] = true;
  }
  for (std::int64_t i = 0; i < nd; ++i) {
    if (!p.reduced[i]) {
      p.kept_shape.push_back(x.shape()[i]);
      p.perm.push_back(i);
    }
    p.keep_shape.push_back(p.reduced[i] ? 1 : x.shape()[i]);
  }
  p.n_kept = static_cast<int>(p.perm.size());
  for (std::int64_t i = 0; i < nd; ++i)
    if (p.reduced[i]) {
      p.perm.push_back(i);
      p.n *= x.shape()[i];
    }
  return p;
}

// Runs the reduction kernel (no autograd); the result has the kept shape (or keep_shape).
Tensor run_reduce(const char* name, ReduceOp op, Mode mode, const Tensor& x, const ReducePlan& p,
                  DType out_dtype, bool keepdim) {
  detail::common_device({&x}, name);
  detail::require_kernels(x.device(), name);
  Tensor xp = x.detach().permute(p.perm);
  if (xp.dim() == 0) xp = xp.reshape({1});  // a 0-d input reduces one element
  Tensor out = empty(p.kept_shape, out_dtype, x.device());
  kernels::reduce_kernels(x.device())
      .reduce(op, mode, detail::make_view(xp, name), p.n_kept, detail::make_view(out, name));
  return keepdim ? out.view(p.keep_shape) : out;
}

// Gradient g of a reduction output, broadcast back to the input's shape.
Tensor expand_back(const Tensor& g, const Shape& keep_shape, const Shape& in_shape) {
  return g.reshape(keep_shape).expand(in_shape);
}

Tensor extreme(const char* name, ReduceOp op, const Tensor& x, const Dims& dims, bool keepdim) {
  profile::OpScope scope(name);
  ReducePlan p = make_plan(x, dims, name);
  DITTO_CHECK(p.n > 0, name, ": cannot reduce over an empty dimension (shape ",
              shape_str(x.shape()), ")");
  Tensor out = run_reduce(name, op, get_mode(), x, p, x.dtype(), keepdim);
  if (autograd::needs_grad({&x})) {
    Tensor xd = x.detach(), yd = out.detach();
    autograd::record(name, out, {x}, [xd, yd, p](const Tensor& g) {
      // PyTorch's amax/amin rule: the gradient is split evenly among all extremal elements.
      Tensor y = expand_back(yd, p.keep_shape, xd.shape());
      Tensor mask = eq(xd, y);
      Dims rd;
      for (std::size_t i = 0; i < p.reduced.size(); ++i)
        if (p.reduced[i]) rd.push_back(static_cast<std::int64_t>(i));
      Tensor count = sum(mask.to(g.dtype()), rd, true);
      Tensor share = div(g.reshape(p.keep_shape), count);
      return std::vector<Tensor>{where(mask, share.expand(xd.shape()), scalar_tensor(0.0, g.dtype(), g.device()))};
    }, {xd, yd});
  }
  return out;
}

Tensor arg_extreme(const char* name, ReduceOp op, const Tensor& x, std::optional<std::int64_t> dim,
                   bool keepdim) {
  profile::OpScope scope(name);
  if (!dim) {
    Tensor flat = x.detach().reshape({x.numel()});
    DITTO_CHECK(flat.numel() > 0, name, ": cannot reduce an empty tensor (shape ",
                shape_str(x.shape()), ")");
    Tensor r = run_reduce(name, op, get_mode(), flat, make_plan(flat, {0}, name), DType::i64,
                          false);
    return keepdim ? r.reshape(Shape(x.dim(), 1)) : r;
  }
  ReducePlan p = make_plan(x, {*dim}, name);
  DITTO_CHECK(p.n > 0, name, ": cannot reduce over an empty dimension (shape ",
              shape_str(x.shape()), ")");
  return run_reduce(name, op, get_mode(), x, p, DType::i64, keepdim);
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim, std::optional<Mode> mode) {
  profile::OpScope scope("sum", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  ReducePlan p = make_plan(x, dims, "sum");
  DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor out = run_reduce("sum", ReduceOp::sum, resolve_mode(mode), x, p, out_dtype, keepdim);
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    autograd::record("sum", out, {x}, [p, in_shape](const Tensor& g) {
      return std::vector<Tensor>{expand_back(g, p.keep_shape, in_shape)};
    });
  }
  return out;
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim, std::optional<Mode> mode) {
  profile::OpScope scope("mean", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  DITTO_CHECK(is_floating(x.dtype()), "mean: needs a floating tensor, got ", describe(x));
  ReducePlan p = make_plan(x, dims, "mean");
  return div(sum(x, dims, keepdim, mode), scalar_like(x, static_cast<double>(p.n)));
}

Tensor var(const Tensor& x, const Dims& dims, bool unbiased, bool keepdim,
           std::optional<Mode> mode) {
  profile::OpScope scope("var", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  DITTO_CHECK(is_floating(x.dtype()), "var: needs a floating tensor, got ", describe(x));
  ReducePlan p = make_plan(x, dims, "var");
  Tensor d = sub(x, mean(x, dims, true, mode));
  // max(0, n - correction), as PyTorch: an empty reduction gives 0 / 0 = NaN (not 0 / -1 = -0).
  double denom = std::max(0.0, static_cast<double>(p.n) - (unbiased ? 1.0 : 0.0));
  return div(sum(mul(d, d), dims, keepdim, mode), scalar_like(x, denom));
}

Tensor max(const Tensor& x, const Dims& dims, bool keepdim) {
  return extreme("max", ReduceOp::max, x, dims, keepdim);
}
Tensor min(const Tensor& x, const Dims& dims, bool keepdim) {
  return extreme("min", ReduceOp::min, x, dims, keepdim);
}
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return arg_extreme("argmax", ReduceOp::argmax, x, dim, keepdim);
}
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return arg_extreme("argmin", ReduceOp::argmin, x, dim, keepdim);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  profile::OpScope scope("sum_to");
  DITTO_CHECK(g.dim() >= static_cast<std::int64_t>(shape.size()), "sum_to: cannot sum ",
              describe(g), " to shape ", shape_str(shape));
  std::size_t lead = g.dim() - shape.size();
  Dims dims;
  for (std::size_t i = 0; i < static_cast<std::size_t>(g.dim()); ++i) {
    if (i < lead) {
      dims.push_back(static_cast<std::int64_t>(i));
      continue;
    }
    std::int64_t want = shape[i - lead];
    DITTO_CHECK(want == g.shape()[i] || want == 1, "sum_to: cannot sum ", describe(g),
                " to shape ", shape_str(shape));
    if (want == 1 && g.shape()[i] != 1) dims.push_back(static_cast<std::int64_t>(i));
  }
  if (dims.empty()) return g.reshape(shape);
  return sum(g, dims, true).reshape(shape);
}

Tensor Tensor::sum(const Dims& dims, bool keepdim, std::optional<Mode> mode) const {
  return ditto::sum(*this, dims, keepdim, mode);
}
Tensor Tensor::mean(const Dims& dims, bool keepdim, std::optional<Mode> mode) const {
  return ditto::mean(*this, dims, keepdim, mode);
}
Tensor Tensor::var(const Dims& dims, bool unbiased, bool keepdim, std::optional<Mode> mode) const {
  return ditto::var(*this, dims, unbiased, keepdim, mode);
}
Tensor Tensor::max(const Dims& dims, bool keepdim) const { return ditto::max(*this, dims, keepdim); }
Tensor Tensor::min(const Dims& dims, bool keepdim) const { return ditto::min(*this, dims, keepdim); }
Tensor Tensor::argmax(std::optional<std::int64_t> dim, bool keepdim) const {
  return ditto::argmax(*this, dim, keepdim);
}
Tensor Tensor::argmin(std::optional<std::int64_t> dim, bool keepdim) const {
  return ditto::argmin(*this, dim, keepdim);
}

}  // namespace ditto
