// ditto — softmax and log_softmax, composed from primitive ops (so they run on every device and
// their backward is the composition's). The max is subtracted for range safety; it is detached
// because softmax is invariant to it (its gradient contribution is exactly zero).
#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"

namespace ditto {

namespace {
Tensor shifted(const Tensor& x, std::int64_t dim, const char* op) {
  DITTO_CHECK(is_floating(x.dtype()), op, ": needs a floating tensor, got ", detail::describe(x));
  std::int64_t d = detail::wrap_dim(dim, std::max<std::int64_t>(x.dim(), 1), op, x.shape());
  DITTO_CHECK(x.dim() == 0 || x.shape()[d] > 0, op, ": dim ", dim, " is empty in shape ",
              shape_str(x.shape()));
  Dims dims = x.dim() == 0 ? Dims{} : Dims{d};
  Tensor m = max(x.detach(), dims, true);
  return sub(x, m);
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim, std::optional<Mode> mode) {
  profile::OpScope scope("softmax", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  Tensor e = exp(shifted(x, dim, "softmax"));
  Dims d = x.dim() == 0 ? Dims{} : Dims{detail::wrap_dim(dim, x.dim(), "softmax", x.shape())};
  return div(e, sum(e, d, true, mode));
}

Tensor log_softmax(const Tensor& x, std::int64_t dim, std::optional<Mode> mode) {
  profile::OpScope scope("log_softmax", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  Tensor z = shifted(x, dim, "log_softmax");
  Dims d = x.dim() == 0 ? Dims{} : Dims{detail::wrap_dim(dim, x.dim(), "log_softmax", x.shape())};
  return sub(z, log(sum(exp(z), d, true, mode)));
}

Tensor Tensor::softmax(std::int64_t dim) const { return ditto::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return ditto::log_softmax(*this, dim); }

}  // namespace ditto
