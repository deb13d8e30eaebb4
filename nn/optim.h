// ditto — optimizers: SGD (momentum, dampening, weight decay, Nesterov), Adam and AdamW.
// Each update follows PyTorch's single-tensor (non-foreach) path in PyTorch's CPU order of
// operations (amsgrad off, maximize off): host scalars (bias corrections, step size) in double,
// then tensor-scalar ops in the parameter's dtype, so the same inputs give PyTorch's bits wherever
// the elementwise ops themselves agree (PyTorch's vectorised `add_(x, alpha)` may use an fma where
// ditto, by its contract, does not).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ditto::optim {

/// Base of all optimizers: holds the parameters (handles sharing storage with the model's).
class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;

  /// Clears every parameter's gradient (sets it undefined, as PyTorch's set_to_none=True).
  void zero_grad();
  /// One update of every parameter that has a gradient; parameters without one are skipped.
  virtual void step() = 0;

  const std::vector<Tensor>& params() const { return params_; }

 protected:
  std::vector<Tensor> params_;
};

/// torch.optim.SGD options.
struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

/// Stochastic gradient descent:
///   g = grad (+ wd*p); buf = g (first step) else buf*momentum + (1-dampening)*g;
///   g = nesterov ? g + momentum*buf : buf; p = p - lr*g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options);
  void step() override;

  const SGDOptions& options() const { return options_; }
  /// One buffer per parameter; undefined until that parameter's first step with momentum.
  const std::vector<Tensor>& momentum_buffers() const { return momentum_buffers_; }
  /// Restores buffers from a checkpoint (one per parameter, undefined or shaped like it).
  void set_momentum_buffers(std::vector<Tensor> buffers);

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;  // per param, like param or undefined
};

/// torch.optim.Adam options (weight_decay is L2: added to the gradient).
struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
};

/// torch.optim.AdamW options (weight_decay is decoupled: p *= 1 - lr*wd before the Adam step).
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

/// Per-parameter Adam state, for checkpoints. Entries of a parameter that has not stepped yet are
/// undefined tensors and step 0.
struct AdamState {
  std::vector<Tensor> exp_avg;
  std::vector<Tensor> exp_avg_sq;
  std::vector<std::int64_t> step;
};

/// Shared implementation of Adam and AdamW (the decoupled flag picks the weight-decay form).
class AdamBase : public Optimizer {
 public:
  void step() override;

  const std::vector<Tensor>& exp_avg() const { return state_.exp_avg; }
  const std::vector<Tensor>& exp_avg_sq() const { return state_.exp_avg_sq; }
  /// Steps taken by parameter i (PyTorch's state['step']).
  std::int64_t step_count(std::size_t i = 0) const;
  const AdamState& state() const { return state_; }
  /// Restores state from a checkpoint (sizes must match the parameter list; defined tensors must
  /// have their parameter's shape and dtype).
  void set_state(AdamState state);

 protected:
  AdamBase(std::vector<Tensor> params, const char* name, double lr,
           std::pair<double, double> betas, double eps, double weight_decay, bool decoupled);

 private:
  const char* name_;
  double lr_, beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
  AdamState state_;
};

/// torch.optim.Adam:
///   step += 1; g = grad (+ wd*p); m = lerp(m, g, 1-b1); v = v*b2 + (1-b2)*g*g;
///   denom = sqrt(v)/sqrt(1-b2^step) + eps; p = p - (lr/(1-b1^step))*m/denom.
class Adam : public AdamBase {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
};

/// torch.optim.AdamW: p = p*(1 - lr*wd), then the Adam step without weight decay.
class AdamW : public AdamBase {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  const AdamWOptions& options() const { return options_; }

 private:
  AdamWOptions options_;
};

/// beta^step for step >= 0, correctly rounded in all but vanishingly rare cases (double-double
/// binary powering with + * fma only, so it is the same on every machine; matches libm pow,
/// which PyTorch's Python `beta ** step` uses).
double powi(double beta, std::int64_t step);

}  // namespace ditto::optim
