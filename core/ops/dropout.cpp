// ditto — dropout: front end and backward. out = (x * mask) * (1 / (1 - p)) with the u8 keep
// mask = (u < 1 - p), u uniform in [0, 1) of x's dtype:
//  - Deterministic: u = rand(x.shape(), gen, ...), element i from Philox counter gen.offset() + i,
//    so the mask depends only on (seed, offset, shape): the same on every device, thread count and
//    batch size (sample b of a batch equals a batch of one drawn at offset + b * sample_numel).
//  - Fast: u from kernels::random_uniform_by_thread, keyed by the thread of the launch, so the
//    mask changes with the launch configuration / thread count (the lab shows this on purpose).
// Both advance gen by numel. The node keeps the mask as u8; its backward is (g * mask) * scale.
#include <cmath>

#include "core/autograd.h"
#include "core/generator.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "kernels/random.h"

namespace ditto {

using detail::describe;

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen, std::optional<Mode> mode) {
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  DITTO_CHECK(x.defined(), "dropout: input is undefined");
  DITTO_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p, " (input ", describe(x),
              ")");
  DITTO_CHECK(is_floating(x.dtype()), "dropout: input must be floating, got ", describe(x));
  if (!training || p == 0.0) return x;  // identity: the input itself, as PyTorch

  detail::require_kernels(x.device(), "dropout");
  Tensor u;
  if (resolve_mode(mode) == Mode::Deterministic) {
    u = rand(x.shape(), gen, x.dtype(), x.device());
  } else {
    u = empty(x.shape(), x.dtype(), x.device());
    const std::uint64_t offset = gen.offset();
    kernels::random_kernels(x.device())
        .random_uniform_by_thread(detail::make_view(u, "dropout"), gen.seed(), offset);
    gen.advance(static_cast<std::uint64_t>(u.numel()));  // only after a successful fill
  }
  Tensor mask, out;  // mask: u8, shaped like x
  Tensor scale = scalar_like(x, 1.0 / (1.0 - p));
  {
    NoGradGuard ng;
    mask = lt(u, scalar_like(x, 1.0 - p));
    out = mul(mul(x.detach(), mask), scale);
  }
  if (autograd::needs_grad({&x})) {
    autograd::record("dropout", out, {x}, [mask, scale](const Tensor& g) {
      return std::vector<Tensor>{mul(mul(g, mask), scale.to(g.dtype()))};
    });
  }
  return out;
}

}  // namespace ditto
