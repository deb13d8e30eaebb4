// ditto — batch_norm: front end and backward, each on the batch_norm kernels
// (kernels/batch_norm.h; canonical orders: docs/determinism.md "BatchNorm"):
//   training: mean = canon(x) / n, var = canon((x - mean)^2) / n (biased; the bits of
//             mean(x, R) and var(x, R, unbiased=false)),
//   eval:     mean, var = the running statistics,
//   y = (x - mean) * (1 / sqrt(var + eps)) * weight + bias     (1/sqrt, never rsqrt),
// where R = every dim except 1 (the channels) and n = the number of elements per channel; the
// forward's bits are those of the composition of public ops it replaced. Training also updates
// the running statistics in place (no gradient):
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * canon((x - mean)^2) / (n - 1)
// (the unbiased variance, as PyTorch). The backward is one node with its own canonical order:
// dbias = canon(g), dweight = canon(g * xhat), dx in one pass from them.
#include "kernels/batch_norm.h"

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"

namespace ditto {

using detail::describe;

namespace {

// Checks a per-channel tensor (running stat, weight or bias): undefined, or (C) of x's dtype on
// x's device.
void check_channel_tensor(const Tensor& t, const char* name, const Tensor& x) {
  if (!t.defined()) return;
  detail::common_device({&x, &t}, "batch_norm");
  std::int64_t C = x.size(1);
  DITTO_CHECK(t.dim() == 1 && t.size(0) == C, "batch_norm: ", name, " has shape ",
              shape_str(t.shape()), ", expected [", C, "] for the ", C, " channels of input ",
              shape_str(x.shape()));
  DITTO_CHECK(t.dtype() == x.dtype(), "batch_norm: ", name, " must have the input's dtype ",
              dtype_name(x.dtype()), ", got ", describe(t), " (input ", describe(x), ")");
}

// The kernels' view of an optional tensor: data == nullptr when undefined.
kernels::View opt_view(const Tensor& t) {
  return t.defined() ? detail::make_view(t, "batch_norm") : kernels::View{};
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps, std::optional<Mode> mode) {
  profile::OpScope scope("batch_norm", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  DITTO_CHECK(x.defined(), "batch_norm: input is undefined");
  DITTO_CHECK(x.dim() >= 2 && x.dim() <= 4,
              "batch_norm: input must be (N, C), (N, C, L) or (N, C, H, W), got ", describe(x));
  DITTO_CHECK(is_floating(x.dtype()), "batch_norm: input must be floating, got ", describe(x));
  DITTO_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm: running_mean and running_var must both be given or both be "
              "undefined, got running_mean ",
              describe(running_mean), ", running_var ", describe(running_var));
  DITTO_CHECK(training || running_mean.defined(),
              "batch_norm: running_mean and running_var are needed in eval mode (training=false), "
              "input ",
              describe(x));
  DITTO_CHECK(eps >= 0, "batch_norm: eps must be >= 0, got ", eps);
  check_channel_tensor(running_mean, "running_mean", x);
  check_channel_tensor(running_var, "running_var", x);
  check_channel_tensor(weight, "weight", x);
  check_channel_tensor(bias, "bias", x);

  const std::int64_t C = x.size(1);
  kernels::BatchNormGeom g;
  g.N = x.size(0);
  g.C = C;
  g.S = 1;
  for (std::int64_t d = 2; d < x.dim(); ++d) g.S *= x.size(d);
  const kernels::BatchNormParams params{.eps = eps, .momentum = momentum};
  const Mode m = resolve_mode(mode);
  detail::require_kernels(x.device(), "batch_norm");
  const kernels::BatchNormKernels& k = kernels::batch_norm_kernels(x.device());

  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  Tensor stat_mean, stat_var;  // (C): what y was normalised with, for the backward
  if (training) {
    DITTO_CHECK(g.n() > 1,
                "batch_norm: expected more than 1 value per channel when training, got "
                "input ",
                shape_str(x.shape()));
    stat_mean = empty({C}, x.dtype(), x.device());
    stat_var = empty({C}, x.dtype(), x.device());
    // The running statistics are updated in place by the kernel when they are contiguous; else
    // through contiguous copies written back after.
    Tensor rm = running_mean, rv = running_var;  // handles: writes reach their storage
    const bool direct = !rm.defined() || (rm.is_contiguous() && rv.is_contiguous());
    Tensor rm_buf = direct ? rm : rm.contiguous().clone();
    Tensor rv_buf = direct ? rv : rv.contiguous().clone();
    k.forward_train(m, g, params, opt_view(xc), opt_view(wc), opt_view(bc), opt_view(y),
                    opt_view(stat_mean), opt_view(stat_var), opt_view(rm_buf), opt_view(rv_buf));
    if (rm.defined()) {
      if (direct) {
        rm.impl().storage->bump_version();
        rv.impl().storage->bump_version();
      } else {
        NoGradGuard ng;
        rm.copy_(rm_buf);
        rv.copy_(rv_buf);
      }
    }
  } else {
    stat_mean = running_mean.detach().contiguous();
    stat_var = running_var.detach().contiguous();
    k.forward_eval(g, params, opt_view(xc), opt_view(stat_mean), opt_view(stat_var), opt_view(wc),
                   opt_view(bc), opt_view(y));
  }
  if (autograd::needs_grad({&x, &weight, &bias})) {
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    const bool need_x = x.requires_grad();
    autograd::record("batch_norm", y, {x, weight, bias},
                     [=](const Tensor& gr) {
                       const Tensor gc = gr.contiguous();
                       Tensor dx = need_x ? empty(xc.shape(), xc.dtype(), xc.device()) : Tensor();
                       Tensor dw = need_w ? empty({g.C}, xc.dtype(), xc.device()) : Tensor();
                       Tensor db = need_b ? empty({g.C}, xc.dtype(), xc.device()) : Tensor();
                       kernels::batch_norm_kernels(gc.device())
                           .backward(m, training, g, params, opt_view(gc), opt_view(xc),
                                     opt_view(stat_mean), opt_view(stat_var), opt_view(wc),
                                     opt_view(dx), opt_view(dw), opt_view(db));
                       return std::vector<Tensor>{dx, dw, db};
                     },
                     {xc, wc, stat_mean, stat_var});
  }
  return y;
}

}  // namespace ditto
