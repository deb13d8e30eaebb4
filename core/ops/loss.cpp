// ditto — losses: cross_entropy, nll_loss, mse_loss. Composed from public ops (log_softmax,
// gather, where, sum, ...), so they run on every device and their backward is the composition's;
// every sum is canonical in Deterministic mode.
#include <sstream>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"

namespace ditto {

using detail::describe;


namespace {

// The class dim of an (N, C, d...) input, or 0 for a (C) input with a 0-d target (as PyTorch).
std::int64_t class_dim(const Tensor& input) { return input.dim() == 1 ? 0 : 1; }

// Checks input/target of nll_loss and cross_entropy (errors carry the caller's name `op`).
void check_classification(const Tensor& input, const Tensor& target, const char* op) {
  detail::common_device({&input, &target}, op);
  DITTO_CHECK(is_floating(input.dtype()), op, ": input must be floating, got ", describe(input));
  DITTO_CHECK(input.dim() >= 1, op, ": input must be (N, C), (N, C, d...) or (C), got ",
              describe(input));
  DITTO_CHECK(target.dtype() == DType::i64, op, ": target must hold i64 class indices, got ",
              describe(target), " (input ", describe(input), ")");
  Shape want = input.shape();
  want.erase(want.begin() + class_dim(input));
  DITTO_CHECK(target.shape() == want, op, ": target ", shape_str(target.shape()),
              " does not match input ", shape_str(input.shape()), " (expected target ",
              shape_str(want), ")");
}

Tensor reduce_loss(const Tensor& losses, Reduction reduction, std::optional<Mode> mode) {
  switch (reduction) {
    case Reduction::none: return losses;
    case Reduction::sum: return sum(losses, {}, false, mode);
    case Reduction::mean: return mean(losses, {}, false, mode);
  }
  DITTO_FAIL("loss: unknown reduction ", static_cast<int>(reduction));
}

Tensor nll_impl(const Tensor& log_probs, const Tensor& target, Reduction reduction,
                std::int64_t ignore_index, std::optional<Mode> mode, const char* op) {
  std::int64_t cd = class_dim(log_probs);
  std::int64_t C = log_probs.size(cd);
  Tensor t = target.detach();
  Tensor valid, safe;  // (N, d...) u8: target != ignore_index; i64: target, ignored -> 0
  {
    NoGradGuard ng;
    valid = ne(t, scalar_tensor(static_cast<double>(ignore_index), DType::i64, t.device()));
    safe = where(valid, t, scalar_tensor(0.0, DType::i64, t.device()));
  }
  if (safe.numel() > 0) {
    std::ostringstream what;
    what << "for " << C << " classes (input " << shape_str(log_probs.shape()) << ", target "
         << shape_str(target.shape()) << ", ignore_index " << ignore_index << ")";
    // Ignored targets were replaced by 0, which only fails when C == 0: then no class exists.
    detail::check_index_range(safe, C, op, "target", what.str());
  }
  Tensor picked = detail::gather_prechecked(log_probs, cd, safe.unsqueeze(cd)).squeeze(cd);
  // where, not a multiplication by the mask: an ignored position may pick -inf (a zero
  // probability), and -inf * 0 would be NaN. PyTorch also gives exactly 0 there.
  Tensor zero = scalar_tensor(0.0, log_probs.dtype(), log_probs.device());
  Tensor losses = where(valid, neg(picked), zero);
  if (reduction != Reduction::mean) return reduce_loss(losses, reduction, mode);
  // The mean over the targets that count (NaN when every target is ignored, as PyTorch).
  Tensor count = sum(valid.to(log_probs.dtype()), {}, false, mode);
  return div(sum(losses, {}, false, mode), count);
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction,
                std::int64_t ignore_index, std::optional<Mode> mode) {
  profile::OpScope scope("nll_loss", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  check_classification(log_probs, target, "nll_loss");
  return nll_impl(log_probs, target, reduction, ignore_index, mode, "nll_loss");
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction,
                     std::int64_t ignore_index, std::optional<Mode> mode) {
  profile::OpScope scope("cross_entropy", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  check_classification(logits, target, "cross_entropy");
  Tensor lp = log_softmax(logits, class_dim(logits), mode);
  return nll_impl(lp, target, reduction, ignore_index, mode, "cross_entropy");
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction,
                std::optional<Mode> mode) {
  profile::OpScope scope("mse_loss", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  detail::common_device({&input, &target}, "mse_loss");
  DITTO_CHECK(is_floating(input.dtype()) && is_floating(target.dtype()),
              "mse_loss: input and target must be floating, got input ", describe(input),
              ", target ", describe(target));
  // No broadcasting (PyTorch only warns and then broadcasts, which is nearly always a bug).
  DITTO_CHECK(input.shape() == target.shape(), "mse_loss: input ", shape_str(input.shape()),
              " and target ", shape_str(target.shape()), " must have the same shape");
  Tensor d = sub(input, target);
  return reduce_loss(mul(d, d), reduction, mode);
}

}  // namespace ditto
