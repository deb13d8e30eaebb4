// ditto — linear: y = x @ weight^T + bias, composed from matmul and add (so the canonical order
// is matmul's per-output fma chain over `in` ascending, with the bias added after the dot
// product, docs/determinism.md "Dot products"); the backward is the composition's.
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"

namespace ditto {

using detail::describe;

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, std::optional<Mode> mode) {
  profile::OpScope scope("linear", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "linear";
  detail::common_device({&x, &weight}, op);
  DITTO_CHECK(is_floating(x.dtype()), op, ": input must be floating, got ", describe(x));
  DITTO_CHECK(weight.dim() == 2, op, ": weight must be 2-D (out_features, in_features), got ",
              describe(weight));
  DITTO_CHECK(x.dim() >= 1, op, ": input must have at least 1 dim (..., in_features), got ",
              describe(x));
  DITTO_CHECK(weight.dtype() == x.dtype(), op, ": weight dtype differs from the input's: input ",
              describe(x), ", weight ", describe(weight));
  DITTO_CHECK(x.size(-1) == weight.size(1), op, ": input ", shape_str(x.shape()), " has ",
              x.size(-1), " features, weight ", shape_str(weight.shape()), " expects ",
              weight.size(1));
  if (bias.defined()) {
    detail::common_device({&x, &bias}, op);
    DITTO_CHECK(bias.dtype() == x.dtype(), op, ": bias dtype differs from the input's: input ",
                describe(x), ", bias ", describe(bias));
    DITTO_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), op, ": bias ",
                shape_str(bias.shape()), " does not match weight ", shape_str(weight.shape()),
                " (expected [", weight.size(0), "])");
  }
  Tensor y = matmul(x, weight.transpose(0, 1), mode);
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace ditto
