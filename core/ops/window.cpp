// ditto — helpers shared by conv2d and the 2-D pools (see core/ops/window.h).
#include "core/ops/window.h"

#include "core/autograd.h"
#include "core/ops/op_util.h"
#include "kernels/window.h"

namespace ditto::detail {

namespace {

// Floor division (rounds toward -inf), as PyTorch's div_rtn.
std::int64_t div_floor(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::string hw_str(std::int64_t h, std::int64_t w) {
  return std::to_string(h) + "x" + std::to_string(w);
}

Tensor as_batched_image(const Tensor& x, const char* op) {
  DITTO_CHECK(x.defined(), op, ": input is undefined");
  DITTO_CHECK(x.dim() == 3 || x.dim() == 4, op,
              ": input must be 3-D (C, H, W) or 4-D (N, C, H, W), got ", describe(x));
  DITTO_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op,
              ": input dtype must be f32 or f64, got ", describe(x));
  return x.dim() == 3 ? x.unsqueeze(0) : x;
}

void check_size2(const Size2& s, std::int64_t min_value, const char* op, const char* what,
                 const std::string& ctx) {
  // The upper bound keeps PyTorch's output-size formula (in + 2p - d(k-1) - 1) / s from
  // overflowing for any input size a tensor can have (< 2^60).
  constexpr std::int64_t kMax = std::int64_t{1} << 31;
  DITTO_CHECK(s.h >= min_value && s.w >= min_value, op, ": ", what, " must be >= ", min_value,
              ", got ", hw_str(s), " (", ctx, ")");
  DITTO_CHECK(s.h <= kMax && s.w <= kMax, op, ": ", what, " must be <= 2^31, got ", hw_str(s),
              " (", ctx, ")");
}

std::int64_t conv_out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p,
                           std::int64_t d) {
  return div_floor(in + 2 * p - d * (k - 1) - 1, s) + 1;
}

std::int64_t pool_out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p,
                           std::int64_t d, bool ceil_mode) {
  std::int64_t out = div_floor(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  // PyTorch: "ensure that the last pooling starts inside the image".
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

kernels::WindowGeom window_geom(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding,
                                Size2 dilation, std::int64_t OH, std::int64_t OW) {
  kernels::WindowGeom g;
  g.N = x.size(0);
  g.C = x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.kH = kernel.h;
  g.kW = kernel.w;
  g.sH = stride.h;
  g.sW = stride.w;
  g.pH = padding.h;
  g.pW = padding.w;
  g.dH = dilation.h;
  g.dW = dilation.w;
  g.OH = OH;
  g.OW = OW;
  return g;
}

Tensor im2col(const Tensor& x, const kernels::WindowGeom& g, double pad_value, const char* op) {
  require_kernels(x.device(), op);
  Tensor cols = empty({g.C, g.kH, g.kW, g.N, g.OH, g.OW}, x.dtype(), x.device());
  if (cols.numel() == 0) return cols;
  kernels::window_kernels(x.device()).im2col(g, make_view(x, op), make_view(cols, op), pad_value);
  return cols;
}

Tensor col2im(const Tensor& cols, const kernels::WindowGeom& g, Mode mode, const char* op) {
  require_kernels(cols.device(), op);
  Tensor c = cols.contiguous();
  Tensor img = empty({g.N, g.C, g.H, g.W}, cols.dtype(), cols.device());
  if (img.numel() == 0) return img;
  if (c.numel() == 0) return img.zero_();
  kernels::window_kernels(cols.device()).col2im(mode, g, make_view(c, op), make_view(img, op));
  return img;
}

}  // namespace ditto::detail
