// ditto — conv2d: front end (validation, shape inference) and backward rule.
//
// Forward, per group g (G = groups, Cg = C/G input and Og = O/G output channels per group,
// K = Cg*kH*kW, P = N*OH*OW):
//   cols = im2col(x, pad 0)                      // (C, kH, kW, N, OH, OW) = (G, K, P)
//   y_g  = weight_g @ cols_g                     // (Og, K) @ (K, P): matmul
//   out  = y permuted to (N, O, OH, OW), then + bias (added after the dot product)
// so each output element is the canonical matmul chain acc = fma(w, x, acc) over
// (cg, kh, kw) ascending, taps in the padding contributing fma(w, +0, acc), then one addition
// of the bias. Nothing in that order depends on N: conv2d is batch invariant bit for bit.
//
// Backward (one "conv2d" node; the mode of the forward call):
//   dcols_g = weight_g^T @ dY_g (matmul), dx = col2im(dcols) (gather in Deterministic mode);
//   dW, Deterministic: per-sample products dY[g, :, n, :] @ cols[g, :, n, :]^T (an fma chain
//       over the OH*OW positions of sample n), then the canonical sum over n;
//   dW, Fast: one matmul with K = N*OH*OW (the fast GEMM may split K with atomics);
//   db = sum of dY over (N, OH, OW) (canonical tree in Deterministic mode).
// Kernels: on the cpu, the Deterministic forward is kernels/conv.h's forward (an implicit GEMM
// packing the taps straight into the GEMM's panels: the chains above without the cols buffer);
// Fast forward and the backward use kernels/window.h (im2col/col2im) and kernels/gemm.h
// (through matmul), the fastest route there. On the GPU devices (sim, cuda) everything runs the
// direct kernels of kernels/conv.h, which give the same bits without im2col's copy (one launch
// forward with the bias, one for dx, one for dW in Deterministic mode).
#include "kernels/conv.h"

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/ops/window.h"
#include "core/profile_scope.h"

namespace ditto {

using detail::describe;
using detail::hw_str;

namespace {

constexpr const char* kOp = "conv2d";

// "input [2,3,7,5], weight [4,4,3,2]" (and the bias when given), for messages.
std::string operands_str(const Tensor& x, const Tensor& w, const Tensor& b) {
  std::string s = "input " + shape_str(x.shape()) + ", weight " + shape_str(w.shape());
  if (b.defined()) s += ", bias " + shape_str(b.shape());
  return s;
}

// Validates everything but the output size; x is the caller's (3-D or 4-D) input.
void check_args(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride, Size2 padding,
                Size2 dilation, std::int64_t groups) {
  DITTO_CHECK(x.defined(), "conv2d: input is undefined");
  DITTO_CHECK(w.defined(), "conv2d: weight is undefined");
  const std::string ctx = operands_str(x, w, b);
  DITTO_CHECK(x.dim() == 3 || x.dim() == 4,
              "conv2d: input must be 3-D (C, H, W) or 4-D (N, C, H, W), got ", x.dim(), "-D (", ctx,
              ")");
  DITTO_CHECK(w.dim() == 4, "conv2d: weight must be 4-D (O, C/groups, kH, kW), got ", w.dim(),
              "-D (", ctx, ")");
  DITTO_CHECK(!b.defined() || b.dim() == 1, "conv2d: bias must be 1-D (O), got ", b.dim(), "-D (",
              ctx, ")");
  DITTO_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64,
              "conv2d: input dtype must be f32 or f64, got ", dtype_name(x.dtype()), " (", ctx,
              ")");
  DITTO_CHECK(w.dtype() == x.dtype(), "conv2d: weight dtype ", dtype_name(w.dtype()),
              " differs from input dtype ", dtype_name(x.dtype()), " (", ctx, ")");
  DITTO_CHECK(!b.defined() || b.dtype() == x.dtype(), "conv2d: bias dtype ",
              dtype_name(b.defined() ? b.dtype() : x.dtype()), " differs from input dtype ",
              dtype_name(x.dtype()), " (", ctx, ")");
  if (b.defined()) {
    detail::common_device({&x, &w, &b}, kOp);
  } else {
    detail::common_device({&x, &w}, kOp);
  }
  detail::check_size2(stride, 1, kOp, "stride", ctx);
  detail::check_size2(dilation, 1, kOp, "dilation", ctx);
  detail::check_size2(padding, 0, kOp, "padding", ctx);
  DITTO_CHECK(groups >= 1, "conv2d: groups must be >= 1, got ", groups, " (", ctx, ")");
  detail::check_size2(Size2(w.size(2), w.size(3)), 1, kOp, "kernel size (weight dims 2, 3)", ctx);

  const std::int64_t C = x.size(-3), O = w.size(0);
  DITTO_CHECK(C % groups == 0, "conv2d: groups ", groups, " must divide the input channels ", C,
              " (", ctx, ")");
  DITTO_CHECK(O % groups == 0, "conv2d: groups ", groups, " must divide the output channels ", O,
              " (", ctx, ")");
  const std::int64_t expect = w.size(1) * groups;
  if (groups == 1) {
    DITTO_CHECK(C == expect, "conv2d: input has ", C, " channels, weight expects ", expect, " (",
                ctx, ")");
  } else {
    DITTO_CHECK(C == expect, "conv2d: input has ", C, " channels, weight expects ", expect, " (",
                w.size(1), " per group x groups ", groups, "; ", ctx, ")");
  }
  DITTO_CHECK(w.size(2) >= 1 && w.size(3) >= 1, "conv2d: kernel must be at least 1x1, got ",
              hw_str(w.size(2), w.size(3)), " (", ctx, ")");
  DITTO_CHECK(!b.defined() || b.size(0) == O, "conv2d: bias must have shape [", O,
              "] (one per output channel), got ", shape_str(b.shape()), " (", ctx, ")");
}

// conv2d on a GPU device: the direct kernels of kernels/conv.h, forward and backward.
Tensor direct_conv(const Tensor& x, const Tensor& weight, const Tensor& bias,
                   const kernels::ConvGeom& g, Mode m) {
  const Device d = x.device();
  const Tensor wc = weight.detach().contiguous();                            // (O, Cg, kH, kW)
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();  // (O)
  Tensor out = empty({g.w.N, g.O, g.w.OH, g.w.OW}, x.dtype(), d);            // (N, O, OH, OW)
  kernels::conv_kernels(d).forward(g, detail::make_view(x, kOp), detail::make_view(wc, kOp),
                                   bc.defined() ? detail::make_view(bc, kOp) : kernels::View{},
                                   detail::make_view(out, kOp));
  if (!autograd::needs_grad({&x, &weight, &bias})) return out;
  const bool gx = x.requires_grad(), gw = weight.requires_grad();
  const bool has_bias = bias.defined(), gb = has_bias && bias.requires_grad();
  // Keep only what the requested gradients read: dx needs the weight, dW the input.
  const Tensor w_keep = gx ? wc : Tensor(), x_keep = gw ? x.detach() : Tensor();
  const Shape w_shape = weight.shape();
  std::vector<Tensor> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  std::vector<Tensor> saved;
  if (gx) saved.push_back(w_keep);
  if (gw) saved.push_back(x_keep);
  autograd::record(
      kOp, out, inputs,
      [=](const Tensor& gr) {
        const Tensor gc = gr.contiguous();  // (N, O, OH, OW)
        Tensor dx, dw, db;
        if (gx) {
          dx = empty({g.w.N, g.w.C, g.w.H, g.w.W}, gr.dtype(), gr.device());
          kernels::conv_kernels(gr.device())
              .backward_data(g, detail::make_view(gc, kOp), detail::make_view(w_keep, kOp),
                             detail::make_view(dx, kOp));
        }
        if (gw) {
          dw = empty(w_shape, gr.dtype(), gr.device());
          kernels::conv_kernels(gr.device())
              .backward_weight(m, g, detail::make_view(x_keep, kOp), detail::make_view(gc, kOp),
                               detail::make_view(dw, kOp));
        }
        if (gb) db = sum(gr, {0, 2, 3}, false, m);
        std::vector<Tensor> grads{dx, dw};
        if (has_bias) grads.push_back(db);
        return grads;
      },
      saved);
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias, Size2 stride,
              Size2 padding, Size2 dilation, std::int64_t groups, std::optional<Mode> mode) {
  profile::OpScope scope("conv2d", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  check_args(x_in, weight, bias, stride, padding, dilation, groups);
  detail::require_kernels(x_in.device(), kOp);
  const Tensor x = detail::as_batched_image(x_in, kOp);  // (N, C, H, W)

  const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t O = weight.size(0), kH = weight.size(2), kW = weight.size(3);
  const std::int64_t OH = detail::conv_out_size(H, kH, stride.h, padding.h, dilation.h);
  const std::int64_t OW = detail::conv_out_size(W, kW, stride.w, padding.w, dilation.w);
  DITTO_CHECK(OH >= 1 && OW >= 1, "conv2d: kernel ", hw_str(kH, kW), " (dilation ",
              hw_str(dilation), ": spans ",
              hw_str(dilation.h * (kH - 1) + 1, dilation.w * (kW - 1) + 1),
              ") is larger than the padded input ", hw_str(H + 2 * padding.h, W + 2 * padding.w),
              " (", operands_str(x_in, weight, bias), ", padding ", hw_str(padding), ")");

  const Mode m = resolve_mode(mode);
  const kernels::WindowGeom geom =
      detail::window_geom(x, {kH, kW}, stride, padding, dilation, OH, OW);
  if (!x.device().is_cpu()) {
    Tensor out = direct_conv(x, weight, bias, {geom, O, groups}, m);
    return x_in.dim() == 3 ? out.squeeze(0) : out;
  }
  const std::int64_t G = groups, Og = O / G, Kg = (C / G) * kH * kW, P = N * OH * OW;

  // Deterministic: the cpu kernel's implicit GEMM (the same chains as matmul(w3, cols) + bias,
  // without the im2col buffer or the output permute); cols only when dW will read them. Fast:
  // im2col + the fast GEMM (Eigen's own k order).
  const bool need_cols = m == Mode::Fast || (autograd::needs_grad({&x, &weight, &bias}) &&
                                             weight.requires_grad());
  Tensor cols, w3, out;
  {
    NoGradGuard ng;
    w3 = weight.detach().reshape({G, Og, Kg});  // (G, Og, Kg)
    if (need_cols) cols = detail::im2col(x.detach(), geom, 0.0, kOp);  // (C, kH, kW, N, OH, OW)
    if (m == Mode::Deterministic) {
      const Tensor wc = weight.detach().contiguous();  // (O, Cg, kH, kW)
      const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();  // (O)
      out = empty({N, O, OH, OW}, x.dtype(), x.device());                       // (N, O, OH, OW)
      kernels::conv_kernels(x.device())
          .forward({geom, O, groups}, detail::make_view(x, kOp), detail::make_view(wc, kOp),
                   bc.defined() ? detail::make_view(bc, kOp) : kernels::View{},
                   detail::make_view(out, kOp));
    } else {
      Tensor y = matmul(w3, cols.view({G, Kg, P}), m);   // (G, Og, P)
      y = y.view({O, N, OH, OW}).permute({1, 0, 2, 3});  // (N, O, OH, OW)
      out = bias.defined() ? add(y, bias.detach().view({1, O, 1, 1})) : y.contiguous();
    }
  }

  if (autograd::needs_grad({&x, &weight, &bias})) {
    const bool gx = x.requires_grad(), gw = weight.requires_grad();
    const bool has_bias = bias.defined(), gb = has_bias && bias.requires_grad();
    const Shape w_shape = weight.shape();
    // Keep only what the requested gradients read: dx needs the weight, dW the cols.
    Tensor w_keep = gx ? w3 : Tensor(), cols_keep = gw ? cols : Tensor();
    std::vector<Tensor> inputs{x, weight};
    if (bias.defined()) inputs.push_back(bias);
    autograd::record(
        kOp, out, inputs,
        [=](const Tensor& gr) {
          // gr: (N, O, OH, OW) -> dY as (G, Og, P) with P = (n, oh, ow) row-major.
          Tensor gy = gr.permute({1, 0, 2, 3}).reshape({G, Og, P});
          Tensor dx, dw, db;
          if (gx) {
            Tensor dcols = matmul(w_keep.transpose(1, 2), gy, m);  // (G, Kg, P)
            dx = detail::col2im(dcols.view({C, kH, kW, N, OH, OW}), geom, m, kOp);
          }
          if (gw) {
            if (m == Mode::Deterministic) {
              // Per sample: (G, N, Og, OH*OW) @ (G, N, OH*OW, Kg) -> (G, N, Og, Kg), each entry an
              // fma chain over that sample's positions; then the canonical tree over n.
              Tensor gyn = gy.reshape({G, Og, N, OH * OW}).permute({0, 2, 1, 3});
              Tensor cn = cols_keep.view({G, Kg, N, OH * OW}).permute({0, 2, 3, 1});
              dw = sum(matmul(gyn, cn, m), {1}, false, m).reshape(w_shape);
            } else {
              dw = matmul(gy, cols_keep.view({G, Kg, P}).transpose(1, 2), m).reshape(w_shape);
            }
          }
          if (gb) db = sum(gr, {0, 2, 3}, false, m);
          std::vector<Tensor> grads{dx, dw};
          if (has_bias) grads.push_back(db);
          return grads;
        },
        {w_keep});  // cols_keep is im2col's own copy of x: nobody else can write it
  }
  return x_in.dim() == 3 ? out.squeeze(0) : out;
}

}  // namespace ditto
