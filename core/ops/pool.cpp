// ditto — max_pool2d and avg_pool2d: front ends (PyTorch's checks and output sizes) and backward
// rules, each pass one direct window kernel (kernels/pool.h):
//   max_pool2d = the canonical max over the window taps (padding -inf), and the first maximal
//                tap for the backward pass;
//   avg_pool2d = the canonical sum over the taps (padding +0) / divisor[oh, ow], the divisor
//                computed on the host exactly as PyTorch does.
// Each output element depends on its own window only, so both are batch invariant bit for bit.
// Backward: the gradient of each window goes to its taps (max: all of it to the first maximal
// tap; avg: g / divisor to every tap), summed per input pixel by a gather in Deterministic mode
// (taps ascending) or scattered in Fast mode. Taps that read padding are dropped. The bits are
// those of the im2col + reduction + col2im composition these kernels replaced.
#include "kernels/pool.h"

#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/ops/window.h"
#include "core/profile_scope.h"

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
  // Small integers: exact in f32 and f64; made in the dtype on the host (no conversion launch).
  if (dtype == DType::f32)
    return from_vector(std::vector<float>(d.begin(), d.end()), {g.OH, g.OW}, device);
  return from_vector(d, {g.OH, g.OW}, device);
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, Size2 kernel_size, OptionalSize2 stride, Size2 padding,
                  Size2 dilation, bool ceil_mode, std::optional<Mode> mode) {
  profile::OpScope scope("max_pool2d", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "max_pool2d";
  PoolPlan p = plan_pool(op, x_in, kernel_size, stride, padding, dilation, ceil_mode);
  detail::require_kernels(p.x.device(), op);
  const Mode m = resolve_mode(mode);
  const kernels::WindowGeom g = p.geom;
  const bool grad = autograd::needs_grad({&p.x});
  Tensor out = empty({g.N, g.C, g.OH, g.OW}, p.x.dtype(), p.x.device());
  // The tap that receives the gradient: the first maximal one in (kh, kw) order.
  Tensor arg = grad ? empty({g.N, g.C, g.OH, g.OW}, DType::i64, p.x.device()) : Tensor();
  kernels::View arg_view{};  // data == nullptr: no argmax wanted
  if (grad) arg_view = detail::make_view(arg, op);
  kernels::pool_kernels(p.x.device())
      .max_forward(g, detail::make_view(p.x, op), detail::make_view(out, op), arg_view);
  if (grad) {
    autograd::record(op, out, {p.x}, [g, arg, m, op](const Tensor& gr) {
      const Tensor gc = gr.contiguous();
      Tensor dx = empty({g.N, g.C, g.H, g.W}, gr.dtype(), gr.device());
      kernels::pool_kernels(gr.device())
          .max_backward(m, g, detail::make_view(gc, op), detail::make_view(arg, op),
                        detail::make_view(dx, op));
      return std::vector<Tensor>{dx};
    });
  }
  return x_in.dim() == 3 ? out.squeeze(0) : out;
}

Tensor avg_pool2d(const Tensor& x_in, Size2 kernel_size, OptionalSize2 stride, Size2 padding,
                  bool ceil_mode, bool count_include_pad, std::optional<Mode> mode) {
  profile::OpScope scope("avg_pool2d", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "avg_pool2d";
  PoolPlan p = plan_pool(op, x_in, kernel_size, stride, padding, 1, ceil_mode);
  detail::require_kernels(p.x.device(), op);
  const Mode m = resolve_mode(mode);
  const kernels::WindowGeom g = p.geom;
  Tensor divisor = avg_divisor(g, count_include_pad, p.x.dtype(), p.x.device());  // (OH, OW)
  Tensor out = empty({g.N, g.C, g.OH, g.OW}, p.x.dtype(), p.x.device());
  kernels::pool_kernels(p.x.device())
      .avg_forward(g, detail::make_view(p.x, op), detail::make_view(divisor, op),
                   detail::make_view(out, op));
  if (autograd::needs_grad({&p.x})) {
    autograd::record(op, out, {p.x}, [g, divisor, m, op](const Tensor& gr) {
      const Tensor gc = gr.contiguous();
      Tensor dx = empty({g.N, g.C, g.H, g.W}, gr.dtype(), gr.device());
      kernels::pool_kernels(gr.device())
          .avg_backward(m, g, detail::make_view(gc, op), detail::make_view(divisor, op),
                        detail::make_view(dx, op));
      return std::vector<Tensor>{dx};
    });
  }
  return x_in.dim() == 3 ? out.squeeze(0) : out;
}

namespace {

// The adaptive pools' checks (PyTorch's, but an output size of 0 is refused) and geometry.
kernels::AdaptiveGeom plan_adaptive(const char* op, const Tensor& x, Size2 output_size) {
  const std::string ctx = "input " + shape_str(x.shape());
  detail::check_size2(output_size, 1, op, "output_size", ctx);
  DITTO_CHECK(x.size(1) >= 1 && x.size(2) >= 1 && x.size(3) >= 1, op,
              ": input needs non-empty channel and spatial dims, got ", ctx);
  return {x.size(0), x.size(1), x.size(2), x.size(3), output_size.h, output_size.w};
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x_in, Size2 output_size, std::optional<Mode> mode) {
  profile::OpScope scope("adaptive_avg_pool2d", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "adaptive_avg_pool2d";
  const Tensor x = detail::as_batched_image(x_in, op);
  const kernels::AdaptiveGeom g = plan_adaptive(op, x, output_size);
  detail::require_kernels(x.device(), op);
  const Mode m = resolve_mode(mode);
  Tensor out = empty({g.N, g.C, g.OH, g.OW}, x.dtype(), x.device());
  kernels::pool_kernels(x.device())
      .adaptive_avg_forward(g, detail::make_view(x, op), detail::make_view(out, op));
  if (autograd::needs_grad({&x})) {
    autograd::record(op, out, {x}, [g, m, op](const Tensor& gr) {
      const Tensor gc = gr.contiguous();
      Tensor dx = empty({g.N, g.C, g.H, g.W}, gr.dtype(), gr.device());
      kernels::pool_kernels(gr.device())
          .adaptive_avg_backward(m, g, detail::make_view(gc, op), detail::make_view(dx, op));
      return std::vector<Tensor>{dx};
    });
  }
  return x_in.dim() == 3 ? out.squeeze(0) : out;
}

Tensor adaptive_max_pool2d(const Tensor& x_in, Size2 output_size, std::optional<Mode> mode) {
  profile::OpScope scope("adaptive_max_pool2d", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "adaptive_max_pool2d";
  const Tensor x = detail::as_batched_image(x_in, op);
  const kernels::AdaptiveGeom g = plan_adaptive(op, x, output_size);
  detail::require_kernels(x.device(), op);
  const Mode m = resolve_mode(mode);
  const bool grad = autograd::needs_grad({&x});
  Tensor out = empty({g.N, g.C, g.OH, g.OW}, x.dtype(), x.device());
  // The pixel (h * W + w) that receives each window's gradient: its first maximal tap.
  Tensor arg = grad ? empty({g.N, g.C, g.OH, g.OW}, DType::i64, x.device()) : Tensor();
  kernels::View arg_view{};  // data == nullptr: no indices wanted
  if (grad) arg_view = detail::make_view(arg, op);
  kernels::pool_kernels(x.device())
      .adaptive_max_forward(g, detail::make_view(x, op), detail::make_view(out, op), arg_view);
  if (grad) {
    autograd::record(op, out, {x}, [g, arg, m, op](const Tensor& gr) {
      const Tensor gc = gr.contiguous();
      Tensor dx = empty({g.N, g.C, g.H, g.W}, gr.dtype(), gr.device());
      kernels::pool_kernels(gr.device())
          .adaptive_max_backward(m, g, detail::make_view(gc, op), detail::make_view(arg, op),
                                 detail::make_view(dx, op));
      return std::vector<Tensor>{dx};
    });
  }
  return x_in.dim() == 3 ? out.squeeze(0) : out;
}

}  // namespace ditto
