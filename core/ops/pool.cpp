// ditto — max_pool2d and avg_pool2d: front ends (PyTorch's checks and output sizes) and backward
// rules. Both are im2col + a reduction over the window taps:
//   cols = im2col(x)          // (C, kH*kW, N, OH, OW); pad value -inf (max) or 0 (avg)
//   max_pool2d = max over the taps (the canonical max of docs/determinism.md);
//   avg_pool2d = canonical sum over the taps (kh, kw row-major), then / divisor[oh, ow], the
//                divisor computed on the host exactly as PyTorch does.
// Each output element depends on its own window only, so both are batch invariant bit for bit.
// Backward: the gradient of each window is spread over its taps (max: all of it to the first
// maximal tap in (kh, kw) order; avg: g / divisor to every tap) and folded back with col2im
// (the gather of kernels/window.h in Deterministic mode, a scatter in Fast mode). Taps that read
// padding are dropped by col2im.
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/ops/window.h"

namespace ditto {

using detail::hw_str;

namespace {

// The validated attributes of one pooling call.
struct PoolPlan {
  Tensor x;  // (N, C, H, W): the caller's input, unsqueezed when it was (C, H, W)
  kernels::WindowGeom geom;
};

// PyTorch's pool2d_shape_check plus the output size; `dilation` is 1 for avg_pool2d.
PoolPlan plan_pool(const char* op, const Tensor& x_in, Size2 kernel, OptionalSize2 stride,
                   Size2 padding, Size2 dilation, bool ceil_mode) {
  PoolPlan p;
  p.x = detail::as_batched_image(x_in, op);
  const Size2 s = stride.value_or(kernel);
  const std::string ctx = "input " + shape_str(x_in.shape());
  detail::check_size2(kernel, 1, op, "kernel_size", ctx);
  detail::check_size2(s, 1, op, "stride", ctx);
  detail::check_size2(dilation, 1, op, "dilation", ctx);
  detail::check_size2(padding, 0, op, "padding", ctx);
  DITTO_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op,
              ": pad should be at most half of kernel size, got padding ", hw_str(padding),
              " for kernel_size ", hw_str(kernel), " (", ctx, ")");
  const std::int64_t H = p.x.size(2), W = p.x.size(3);
  const std::int64_t OH = detail::pool_out_size(H, kernel.h, s.h, padding.h, dilation.h, ceil_mode);
  const std::int64_t OW = detail::pool_out_size(W, kernel.w, s.w, padding.w, dilation.w, ceil_mode);
  DITTO_CHECK(OH >= 1 && OW >= 1, op, ": output size ", hw_str(OH, OW),
              " is too small: the window (kernel_size ", hw_str(kernel), ", dilation ",
              hw_str(dilation), ") does not fit the padded input ",
              hw_str(H + 2 * padding.h, W + 2 * padding.w), " (", ctx, ", stride ", hw_str(s),
              ", padding ", hw_str(padding), ceil_mode ? ", ceil_mode" : "", ")");
  p.geom = detail::window_geom(p.x, kernel, s, padding, dilation, OH, OW);
  return p;
}

// cols as (C, kH*kW, N, OH, OW): the taps of each window along dim 1, (kh, kw) row-major.
Tensor window_taps(const PoolPlan& p, double pad_value, const char* op) {
  const kernels::WindowGeom& g = p.geom;
  return detail::im2col(p.x.detach(), g, pad_value, op).view({g.C, g.kH * g.kW, g.N, g.OH, g.OW});
}

// (C, kH*kW, N, OH, OW) gradient of the taps -> (N, C, H, W) gradient of the input.
Tensor fold_taps(const Tensor& dtaps, const kernels::WindowGeom& g, Mode m, const char* op) {
  return detail::col2im(dtaps.reshape({g.C, g.kH, g.kW, g.N, g.OH, g.OW}), g, m, op);
}

// The avg_pool2d divisor of every window position, (OH, OW), as PyTorch computes it: the window
// clipped to the padded input (ceil_mode windows may overhang it), counted with the padding when
// count_include_pad, else clipped to the image and counted without it.
Tensor avg_divisor(const kernels::WindowGeom& g, bool count_include_pad, DType dtype,
                   Device device) {
  std::vector<double> d(static_cast<std::size_t>(g.OH * g.OW));
  for (std::int64_t oh = 0; oh < g.OH; ++oh) {
    for (std::int64_t ow = 0; ow < g.OW; ++ow) {
      std::int64_t hstart = oh * g.sH - g.pH, wstart = ow * g.sW - g.pW;
      std::int64_t hend = std::min(hstart + g.kH, g.H + g.pH);
      std::int64_t wend = std::min(wstart + g.kW, g.W + g.pW);
      const std::int64_t pool_size = (hend - hstart) * (wend - wstart);
      hstart = std::max<std::int64_t>(hstart, 0);
      wstart = std::max<std::int64_t>(wstart, 0);
      hend = std::min(hend, g.H);
      wend = std::min(wend, g.W);
      d[static_cast<std::size_t>(oh * g.OW + ow)] =
          static_cast<double>(count_include_pad ? pool_size : (hend - hstart) * (wend - wstart));
    }
  }
  // Small integers: exact in f32 and f64.
  return from_vector(d, {g.OH, g.OW}, device).to(dtype);
}

// (C, N, OH, OW) -> (N, C, OH, OW), contiguous.
Tensor to_nchw(const Tensor& t) { return t.permute({1, 0, 2, 3}).contiguous(); }

}  // namespace

Tensor max_pool2d(const Tensor& x_in, Size2 kernel_size, OptionalSize2 stride, Size2 padding,
                  Size2 dilation, bool ceil_mode, std::optional<Mode> mode) {
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "max_pool2d";
  PoolPlan p = plan_pool(op, x_in, kernel_size, stride, padding, dilation, ceil_mode);
  detail::require_kernels(p.x.device(), op);
  const Mode m = resolve_mode(mode);
  const bool grad = autograd::needs_grad({&p.x});
  Tensor out, arg;
  {
    NoGradGuard ng;
    Tensor taps = window_taps(p, -std::numeric_limits<double>::infinity(), op);
    out = to_nchw(max(taps, {1}));  // (N, C, OH, OW)
    // The tap that receives the gradient: the first maximal one in (kh, kw) order.
    if (grad) arg = argmax(taps, 1);  // (C, N, OH, OW) i64
  }
  if (grad) {
    const kernels::WindowGeom g = p.geom;
    autograd::record(op, out, {p.x}, [g, arg, m, op](const Tensor& gr) {
      Tensor tap = arange(static_cast<double>(g.kH * g.kW), DType::i64, gr.device())
                       .view({1, g.kH * g.kW, 1, 1, 1});
      Tensor hit = eq(tap, arg.unsqueeze(1));             // (C, kH*kW, N, OH, OW)
      Tensor gw = gr.permute({1, 0, 2, 3}).unsqueeze(1);  // (C, 1, N, OH, OW)
      Tensor dtaps = where(hit, gw, scalar_tensor(0.0, gr.dtype(), gr.device()));
      return std::vector<Tensor>{fold_taps(dtaps, g, m, op)};
    });
  }
  return x_in.dim() == 3 ? out.squeeze(0) : out;
}

Tensor avg_pool2d(const Tensor& x_in, Size2 kernel_size, OptionalSize2 stride, Size2 padding,
                  bool ceil_mode, bool count_include_pad, std::optional<Mode> mode) {
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "avg_pool2d";
  PoolPlan p = plan_pool(op, x_in, kernel_size, stride, padding, 1, ceil_mode);
  detail::require_kernels(p.x.device(), op);
  const Mode m = resolve_mode(mode);
  const kernels::WindowGeom g = p.geom;
  Tensor divisor = avg_divisor(g, count_include_pad, p.x.dtype(), p.x.device());  // (OH, OW)
  Tensor out;
  {
    NoGradGuard ng;
    Tensor taps = window_taps(p, 0.0, op);
    out = to_nchw(div(sum(taps, {1}, false, m), divisor));  // (N, C, OH, OW)
  }
  if (autograd::needs_grad({&p.x})) {
    autograd::record(op, out, {p.x}, [g, divisor, m, op](const Tensor& gr) {
      Tensor share = div(gr, divisor).permute({1, 0, 2, 3}).unsqueeze(1);  // (C, 1, N, OH, OW)
      Tensor dtaps = share.expand({g.C, g.kH * g.kW, g.N, g.OH, g.OW});
      return std::vector<Tensor>{fold_taps(dtaps.contiguous(), g, m, op)};
    });
  }
  return x_in.dim() == 3 ? out.squeeze(0) : out;
}

}  // namespace ditto
