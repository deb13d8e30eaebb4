// ditto — batch_norm, composed from public ops so that it runs on every device and its backward
// is the composition's (deterministic by construction):
//   training: mean = mean(x, R), d = x - mean, var = sum(d * d, R) / n (biased; the same ops and
//             bits as var(x, R, unbiased=false), docs/determinism.md "var"),
//   eval:     mean, var = the running statistics,
//   y = d * (1 / sqrt(var + eps)) * weight + bias     (1/sqrt, never rsqrt: docs/design.md),
// where R = every dim except 1 (the channels) and n = the number of elements per channel.
// Training also updates the running statistics in place (no gradient):
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * sum(d * d, R) / (n - 1)
// (the unbiased variance, as PyTorch).
#include <algorithm>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"

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

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps, std::optional<Mode> mode) {
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
  Dims reduced{0};  // every dim except the channels
  for (std::int64_t d = 2; d < x.dim(); ++d) reduced.push_back(d);
  Shape bshape(x.dim(), 1);  // (1, C, 1, ...): per-channel tensors broadcast along C
  bshape[1] = C;
  const std::int64_t n = x.numel() / std::max<std::int64_t>(C, 1);

  Tensor d, var_b;
  if (training) {
    DITTO_CHECK(n > 1,
                "batch_norm: expected more than 1 value per channel when training, got "
                "input ",
                shape_str(x.shape()));
    Tensor m = mean(x, reduced, true, mode);
    d = sub(x, m);
    Tensor ss = sum(mul(d, d), reduced, true, mode);  // (1, C, 1, ...)
    var_b = div(ss, scalar_like(x, static_cast<double>(n)));
    if (running_mean.defined()) {
      NoGradGuard ng;
      Tensor keep = scalar_like(x, 1.0 - momentum), mom = scalar_like(x, momentum);
      Tensor var_u = div(ss.detach(), scalar_like(x, static_cast<double>(n - 1)));
      Tensor new_mean = add(mul(keep, running_mean), mul(mom, m.detach().reshape({C})));
      Tensor new_var = add(mul(keep, running_var), mul(mom, var_u.reshape({C})));
      // Assigned after both are computed, so that running_mean aliasing running_var (odd, but
      // possible) cannot mix old and new values.
      Tensor rm = running_mean, rv = running_var;  // handles: the copies write their storage
      rm.copy_(new_mean);
      rv.copy_(new_var);
    }
  } else {
    d = sub(x, running_mean.detach().view(bshape));
    var_b = running_var.detach().view(bshape);
  }
  Tensor inv_std = div(scalar_like(x, 1.0), sqrt(add(var_b, scalar_like(x, eps))));
  Tensor y = mul(d, inv_std);
  if (weight.defined()) y = mul(y, weight.view(bshape));
  if (bias.defined()) y = add(y, bias.view(bshape));
  return y;
}

}  // namespace ditto
