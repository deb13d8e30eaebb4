// ditto — matmul: front end (PyTorch semantics incl. 1-D operands and broadcast batches) and
// backward. Kernel: kernels/cpu/gemm.cpp; canonical order: docs/determinism.md "Dot products".
#include <algorithm>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"
#include "kernels/gemm.h"

namespace ditto {

using detail::describe;

namespace {

// Product of two tensors with >= 2 dims each: (..., M, K) @ (..., K, N), batch dims broadcast.
Tensor batched_matmul(const Tensor& a, const Tensor& b, Mode mode) {
  std::int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  DITTO_CHECK(b.size(-2) == K, "matmul: inner dimensions differ: ", describe(a), " @ ",
              describe(b), " (", K, " vs ", b.size(-2), ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  // Checked here (not only in broadcast_shapes) so that the message shows both full shapes.
  for (std::size_t i = 1; i <= std::min(ba.size(), bb.size()); ++i) {
    std::int64_t x = ba[ba.size() - i], y = bb[bb.size() - i];
    DITTO_CHECK(x == y || x == 1 || y == 1, "matmul: batch dimensions cannot be broadcast: ",
                describe(a), " @ ", describe(b));
  }
  Shape batch = detail::broadcast_shapes(ba, bb, "matmul");
  std::int64_t B = detail::shape_numel(batch);

  Tensor a3, b3;
  {
    NoGradGuard ng;
    Shape ea = batch, eb = batch;
    ea.insert(ea.end(), {M, K});
    eb.insert(eb.end(), {K, N});
    // One batch stride per operand: broadcast batches stay views (stride 0) when the batch dims
    // collapse; otherwise reshape materialises them.
    a3 = a.detach().expand(ea).reshape({B, M, K});
    b3 = b.detach().expand(eb).reshape({B, K, N});
  }
  Tensor out = empty({B, M, N}, a.dtype(), a.device());
  kernels::GemmArgs g;
  g.dtype = a.dtype();
  g.batch = B;
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = a3.raw_data();
  g.a_bs = a3.strides()[0];
  g.a_rs = a3.strides()[1];
  g.a_cs = a3.strides()[2];
  g.B = b3.raw_data();
  g.b_bs = b3.strides()[0];
  g.b_rs = b3.strides()[1];
  g.b_cs = b3.strides()[2];
  g.C = out.raw_data();
  g.c_bs = M * N;
  g.c_rs = N;
  g.c_cs = 1;
  kernels::gemm_kernels(a.device()).gemm(g, mode);

  Shape out_shape = batch;
  out_shape.insert(out_shape.end(), {M, N});
  out = out.view(out_shape);
  if (autograd::needs_grad({&a, &b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record("matmul", out, {a, b}, [ad, bd, ga, gb, mode](const Tensor& gr) {
      return std::vector<Tensor>{
          ga ? sum_to(batched_matmul(gr, bd.transpose(-1, -2), mode), ad.shape()) : Tensor(),
          gb ? sum_to(batched_matmul(ad.transpose(-1, -2), gr, mode), bd.shape()) : Tensor()};
    }, {gb ? ad : Tensor(), ga ? bd : Tensor()});
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, std::optional<Mode> mode) {
  profile::OpScope scope("matmul", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  detail::common_device({&a, &b}, "matmul");
  detail::require_kernels(a.device(), "matmul");
  DITTO_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
              describe(a), " @ ", describe(b));
  DITTO_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()),
              "matmul: needs floating tensors, got ", describe(a), " @ ", describe(b));
  // Checked before 1-D operands are unsqueezed, so that the message shows the caller's shapes.
  std::int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  DITTO_CHECK(ka == kb, "matmul: inner dimensions differ: ", describe(a), " @ ", describe(b),
              " (", ka, " vs ", kb, ")");
  DType t = promote(a.dtype(), b.dtype());
  Tensor ca = a.to(t), cb = b.to(t);
  Mode m = resolve_mode(mode);
  // 1-D operands: a row vector on the left, a column vector on the right; that dim is removed.
  bool a_vec = ca.dim() == 1, b_vec = cb.dim() == 1;
  if (a_vec) ca = ca.unsqueeze(0);
  if (b_vec) cb = cb.unsqueeze(1);
  Tensor out = batched_matmul(ca, cb, m);
  if (b_vec) out = out.squeeze(-1);
  if (a_vec) out = out.squeeze(a_vec && b_vec ? -1 : -2);
  return out;
}

Tensor Tensor::matmul(const Tensor& other) const { return ditto::matmul(*this, other); }

}  // namespace ditto
