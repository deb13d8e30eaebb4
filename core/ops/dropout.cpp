// ditto — dropout: front end and backward, each one kernel (kernels/dropout.h): out = (x * mask)
// * (1 / (1 - p)) with the u8 keep mask = (u < 1 - p), u uniform in [0, 1) of x's dtype:
//  - Deterministic: element i's u from Philox counter gen.offset() + i (as rand draws it), so the
//    mask depends only on (seed, offset, shape): the same on every device, thread count and
//    batch size (sample b of a batch equals a batch of one drawn at offset + b * sample_numel).
//  - Fast: u keyed by the thread of the launch, so the mask changes with the launch
//    configuration / thread count (the lab shows this on purpose).
// Both advance gen by numel. The node keeps the mask as u8; its backward is (g * mask) * scale.
#include "kernels/dropout.h"

#include <cmath>

#include "core/autograd.h"
#include "core/generator.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"

namespace ditto {

using detail::describe;

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen, std::optional<Mode> mode) {
  profile::OpScope scope("dropout", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  DITTO_CHECK(x.defined(), "dropout: input is undefined");
  DITTO_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p, " (input ", describe(x),
              ")");
  DITTO_CHECK(is_floating(x.dtype()), "dropout: input must be floating, got ", describe(x));
  if (!training || p == 0.0) return x;  // identity: the input itself, as PyTorch

  detail::require_kernels(x.device(), "dropout");
  const Tensor xc = x.detach().contiguous();
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  Tensor mask = empty(x.shape(), DType::u8, x.device());  // u8, shaped like x
  kernels::dropout_kernels(x.device())
      .forward(resolve_mode(mode), detail::make_view(xc, "dropout"),
               detail::make_view(out, "dropout"), detail::make_view(mask, "dropout"), gen.seed(),
               gen.offset(), p);
  gen.advance(static_cast<std::uint64_t>(x.numel()));  // only after a successful forward
  if (autograd::needs_grad({&x})) {
    autograd::record("dropout", out, {x}, [mask, p](const Tensor& g) {
      const Tensor gc = g.contiguous();
      Tensor dx = empty(g.shape(), g.dtype(), g.device());
      kernels::dropout_kernels(g.device())
          .backward(detail::make_view(gc, "dropout backward"), detail::make_view(mask, "dropout"),
                    detail::make_view(dx, "dropout backward"), p);
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

}  // namespace ditto
