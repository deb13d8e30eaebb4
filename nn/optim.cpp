// ditto — optimizers (see nn/optim.h). Every update runs under NoGradGuard (an optimizer step is
// not part of any graph, and copy_ refuses in-place writes into a leaf that requires grad while
// grad mode is on) and writes the new values into the parameter's storage with copy_, so the
// model's handles see them.
#include "nn/optim.h"

#include <cmath>
#include <string>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/profile_scope.h"

namespace ditto::optim {
namespace {

// The largest per-parameter step count (as io::kMaxStep): ++step can never overflow.
constexpr std::int64_t kMaxStep = std::int64_t{1} << 53;

void check_params(const std::vector<Tensor>& params, const char* name) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    DITTO_CHECK(params[i].defined(), name, ": parameter ", i, " is an undefined tensor");
    DITTO_CHECK(is_floating(params[i].dtype()), name, ": parameter ", i, " has dtype ",
                dtype_name(params[i].dtype()), "; only floating parameters can be optimized");
    // A parameter listed twice (or two handles on one storage) would be updated twice per step.
    for (std::size_t j = 0; j < i; ++j)
      DITTO_CHECK(!params[i].shares_storage(params[j]), name, ": parameters ", j, " and ", i,
                  params[i].impl_ptr() == params[j].impl_ptr() ? " are the same tensor"
                                                               : " share storage",
                  " (each would be updated twice per step); pass every parameter once");
  }
}

// Every hyper-parameter must be a finite number: NaN fails every comparison and inf passes
// ">= 0", and either silently turns the weights into NaN at the first step.
void check_finite(double v, const char* name, const char* what) {
  DITTO_CHECK(std::isfinite(v), name, ": invalid ", what, " ", v, " (must be finite)");
}

void check_lr(double lr, const char* name) {
  check_finite(lr, name, "learning rate");
  DITTO_CHECK(lr >= 0.0, name, ": invalid learning rate ", lr, " (must be >= 0)");
}

// Per-parameter state tensors restored from a checkpoint must be undefined or match the param.
void check_state_tensors(const std::vector<Tensor>& params, const std::vector<Tensor>& ts,
                         const char* name, const char* what) {
  DITTO_CHECK(ts.size() == params.size(), name, ": ", what, " has ", ts.size(),
              " entries for ", params.size(), " parameters");
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (!ts[i].defined()) continue;
    DITTO_CHECK(ts[i].shape() == params[i].shape() && ts[i].dtype() == params[i].dtype(), name,
                ": ", what, "[", i, "] has shape ", shape_str(ts[i].shape()), " and dtype ",
                dtype_name(ts[i].dtype()), ", parameter ", i, " has shape ",
                shape_str(params[i].shape()), " and dtype ", dtype_name(params[i].dtype()));
  }
}

// A host scalar as the parameter's kernels will see it: PyTorch converts a Python float to the
// tensor's scalar type before the kernel, so e.g. 1 - weight is computed in float for f32.
double round_to(double x, DType t) {
  return t == DType::f32 ? static_cast<double>(static_cast<float>(x)) : x;
}

// PyTorch's lerp(self, end, w): self + w*(end - self) when |w| < 0.5, else
// end - (end - self)*(1 - w), with 1 - w in the tensor's scalar type.
Tensor lerp(const Tensor& self, const Tensor& end, double w) {
  const DType t = self.dtype();
  const double wt = round_to(w, t);
  Tensor diff = end - self;
  if (std::fabs(wt) < 0.5) return self + diff * wt;
  const double one_minus = round_to(1.0 - wt, t);  // exact in double for f32 operands
  return end - diff * one_minus;
}

// Double-double product (hi, lo) of two double-doubles, renormalised. Only * + fma.
struct DD {
  double hi, lo;
};
DD dd_mul(DD a, DD b) {
  double p = a.hi * b.hi;
  double e = std::fma(a.hi, b.hi, -p);
  e = e + (a.hi * b.lo + a.lo * b.hi);
  double s = p + e;
  return {s, e - (s - p)};
}

}  // namespace

double powi(double beta, std::int64_t step) {
  DITTO_CHECK(step >= 0, "optim: powi with negative exponent ", step);
  DD result{1.0, 0.0};
  DD base{beta, 0.0};
  for (std::int64_t e = step; e > 0; e >>= 1) {
    if (e & 1) result = dd_mul(result, base);
    if (e > 1) base = dd_mul(base, base);
  }
  return result.hi + result.lo;
}

// ---- Optimizer ---------------------------------------------------------------------------------

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.set_grad(Tensor());
}

// ---- SGD ------------------------------------------------------------------------------------

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : Optimizer(std::move(params)), options_(options) {
  check_params(params_, "SGD");
  check_lr(options_.lr, "SGD");
  check_finite(options_.momentum, "SGD", "momentum");
  check_finite(options_.dampening, "SGD", "dampening");
  check_finite(options_.weight_decay, "SGD", "weight_decay");
  DITTO_CHECK(options_.momentum >= 0.0, "SGD: invalid momentum ", options_.momentum,
              " (must be >= 0)");
  DITTO_CHECK(options_.weight_decay >= 0.0, "SGD: invalid weight_decay ",
              options_.weight_decay, " (must be >= 0)");
  DITTO_CHECK(!options_.nesterov || (options_.momentum > 0.0 && options_.dampening == 0.0),
              "SGD: nesterov requires momentum > 0 and dampening == 0 (momentum ",
              options_.momentum, ", dampening ", options_.dampening, ")");
  momentum_buffers_.resize(params_.size());
}

void SGD::set_momentum_buffers(std::vector<Tensor> buffers) {
  check_state_tensors(params_, buffers, "SGD", "momentum_buffers");
  momentum_buffers_ = std::move(buffers);
}

void SGD::step() {
  NoGradGuard no_grad;
  profile::PhaseScope phase(Phase::optimizer);  // for the profiler (core/profiler.h)
  profile::OpScope scope("sgd.step");
  const SGDOptions& o = options_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    g = g.detach();
    if (o.weight_decay != 0.0) g = g + p * o.weight_decay;  // grad.add(param, alpha=wd)
    if (o.momentum != 0.0) {
      Tensor& buf = momentum_buffers_[i];
      if (!buf.defined()) {
        buf = g.clone().detach();  // torch.clone(grad).detach()
      } else {
        // buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        buf = buf * o.momentum + g * (1.0 - o.dampening);
      }
      g = o.nesterov ? g + buf * o.momentum : buf;
    }
    p.copy_(p - g * o.lr);  // param.add_(grad, alpha=-lr): p + (-lr)*g == p - lr*g bitwise
  }
}

// ---- Adam / AdamW ---------------------------------------------------------------------------

AdamBase::AdamBase(std::vector<Tensor> params, const char* name, double lr,
                   std::pair<double, double> betas, double eps, double weight_decay,
                   bool decoupled)
    : Optimizer(std::move(params)),
      name_(name),
      lr_(lr),
      beta1_(betas.first),
      beta2_(betas.second),
      eps_(eps),
      weight_decay_(weight_decay),
      decoupled_(decoupled) {
  check_params(params_, name);
  check_lr(lr, name);
  check_finite(eps, name, "epsilon");
  check_finite(weight_decay, name, "weight_decay");
  DITTO_CHECK(eps >= 0.0, name, ": invalid epsilon ", eps, " (must be >= 0)");
  DITTO_CHECK(beta1_ >= 0.0 && beta1_ < 1.0, name, ": invalid beta parameter at index 0: ",
              beta1_, " (must be in [0, 1))");
  DITTO_CHECK(beta2_ >= 0.0 && beta2_ < 1.0, name, ": invalid beta parameter at index 1: ",
              beta2_, " (must be in [0, 1))");
  DITTO_CHECK(weight_decay >= 0.0, name, ": invalid weight_decay ", weight_decay,
              " (must be >= 0)");
  state_.exp_avg.resize(params_.size());
  state_.exp_avg_sq.resize(params_.size());
  state_.step.assign(params_.size(), 0);
}

std::int64_t AdamBase::step_count(std::size_t i) const {
  DITTO_CHECK(i < state_.step.size(), name_, ": step_count(", i, ") with ", state_.step.size(),
              " parameters");
  return state_.step[i];
}

void AdamBase::set_state(AdamState state) {
  check_state_tensors(params_, state.exp_avg, name_, "exp_avg");
  check_state_tensors(params_, state.exp_avg_sq, name_, "exp_avg_sq");
  DITTO_CHECK(state.step.size() == params_.size(), name_, ": step has ", state.step.size(),
              " entries for ", params_.size(), " parameters");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    DITTO_CHECK(state.step[i] >= 0, name_, ": step[", i, "] is negative (", state.step[i], ")");
    DITTO_CHECK(state.step[i] <= kMaxStep, name_, ": step[", i, "] = ", state.step[i],
                " exceeds the limit 2^53");
    DITTO_CHECK(state.exp_avg[i].defined() == state.exp_avg_sq[i].defined(), name_,
                ": exp_avg[", i, "] and exp_avg_sq[", i, "] must both be defined or neither");
  }
  state_ = std::move(state);
}

void AdamBase::step() {
  NoGradGuard no_grad;
  profile::PhaseScope phase(Phase::optimizer);  // for the profiler (core/profiler.h)
  profile::OpScope scope(decoupled_ ? "adamw.step" : "adam.step");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    g = g.detach();
    Tensor& m = state_.exp_avg[i];
    Tensor& v = state_.exp_avg_sq[i];
    if (!m.defined()) {  // lazy state init, as PyTorch: zeros like the parameter
      m = zeros_like(p.detach());
      v = zeros_like(p.detach());
    }
    const std::int64_t step = ++state_.step[i];

    Tensor pv = p.detach();
    if (decoupled_) {
      pv = pv * (1.0 - lr_ * weight_decay_);  // param.mul_(1 - lr * weight_decay)
    } else if (weight_decay_ != 0.0) {
      g = g + pv * weight_decay_;  // grad.add(param, alpha=weight_decay)
    }
    m = lerp(m, g, 1.0 - beta1_);               // exp_avg.lerp_(grad, 1 - beta1)
    v = v * beta2_ + g * (1.0 - beta2_) * g;    // mul_(beta2).addcmul_(grad, grad, 1 - beta2)

    // Host scalars in double, as PyTorch's Python code computes them.
    const double bias_correction1 = 1.0 - powi(beta1_, step);
    const double bias_correction2 = 1.0 - powi(beta2_, step);
    const double step_size = lr_ / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);

    Tensor denom = v.sqrt() / bias_correction2_sqrt + eps_;
    // param.addcdiv_(exp_avg, denom, value=-step_size): PyTorch's CPU kernel computes
    // p + (value * m) / denom, which equals p - (step_size * m) / denom bitwise.
    p.copy_(pv - (m * step_size) / denom);
  }
}

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : AdamBase(std::move(params), "Adam", options.lr, options.betas, options.eps,
               options.weight_decay, /*decoupled=*/false),
      options_(options) {}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : AdamBase(std::move(params), "AdamW", options.lr, options.betas, options.eps,
               options.weight_decay, /*decoupled=*/true),
      options_(options) {}

}  // namespace ditto::optim
