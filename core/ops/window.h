// ditto — internal helpers shared by the sliding-window front ends (conv2d in core/ops/conv.cpp,
// max_pool2d / avg_pool2d in core/ops/pool.cpp): argument checks, PyTorch's output-size
// formulas, and tensor wrappers around the window kernels (kernels/window.h). Not installed.
#pragma once
#include <cstdint>
#include <string>

#include "core/mode.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "kernels/window.h"

namespace ditto::detail {

/// "3x2" for a (height, width) pair in messages.
std::string hw_str(std::int64_t h, std::int64_t w);
inline std::string hw_str(const Size2& s) { return hw_str(s.h, s.w); }

/// Throws unless x is 3-D (C, H, W) or 4-D (N, C, H, W), floating (f32/f64), and returns it as
/// 4-D: an unbatched input gains a leading dim of 1 (a differentiable view).
Tensor as_batched_image(const Tensor& x, const char* op);

/// Checks one (h, w) attribute: each entry in [min_value, 2^31]. `what` names it in the message
/// ("stride", "padding", ...). `ctx` is appended (shapes of the operands).
void check_size2(const Size2& s, std::int64_t min_value, const char* op, const char* what,
                 const std::string& ctx);

/// Output length of a convolution along one axis (PyTorch's formula, floor division):
/// (in + 2p - d(k-1) - 1) / s + 1. May be <= 0 when the kernel exceeds the padded input.
std::int64_t conv_out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p,
                           std::int64_t d);

/// Output length of a pooling window along one axis, exactly as PyTorch's
/// pooling_output_shape: floor (or ceil with ceil_mode) of (in + 2p - d(k-1) - 1) / s, plus 1;
/// with ceil_mode a last window that would start at or past in + p (entirely in the right
/// padding) is dropped. May be <= 0 (the caller reports it).
std::int64_t pool_out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p,
                           std::int64_t d, bool ceil_mode);

/// The window geometry of an (N, C, H, W) input x with the given attributes and output size.
kernels::WindowGeom window_geom(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding,
                                Size2 dilation, std::int64_t OH, std::int64_t OW);

/// cols = im2col(x): contiguous (C, kH, kW, N, OH, OW) with cols[c, kh, kw, n, oh, ow] =
/// x[n, c, oh*sH - pH + kh*dH, ow*sW - pW + kw*dW], or pad_value where that lies outside the
/// image. No autograd (x is read through its data; the caller records the op's node).
Tensor im2col(const Tensor& x, const kernels::WindowGeom& g, double pad_value, const char* op);

/// The adjoint of im2col: (N, C, H, W) image where each element is the sum of the cols entries
/// read from it (Deterministic: the gather order of kernels/window.h; Fast: a scatter). cols must
/// have shape (C, kH, kW, N, OH, OW) (copied to contiguous if it is not). No autograd.
Tensor col2im(const Tensor& cols, const kernels::WindowGeom& g, Mode mode, const char* op);

}  // namespace ditto::detail
