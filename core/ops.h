// ditto — the public ops. Every op validates its inputs (throwing ditto::Error naming the op and
// the shapes), broadcasts with numpy rules, records an autograd node when an input requires grad,
// and runs the kernel of the inputs' device. Reducing ops take an optional per-call Mode that
// overrides the thread's mode (see core/mode.h and docs/determinism.md).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace ditto {

using Dims = std::vector<std::int64_t>;

// ---- elementwise, unary ------------------------------------------------------------------------
// Float-only ops (exp, log, log1p, sqrt, sigmoid, tanh, pow) promote integer inputs to f32.
// Transcendentals are ditto's own (kernels/common/dmath.h; accuracy in docs/math.md).
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
/// x ^ exponent; the evaluation rule per exponent is in docs/determinism.md.
Tensor pow(const Tensor& x, double exponent);
/// min(max(x, lo), hi); NaN stays NaN. Requires lo <= hi.
Tensor clamp(const Tensor& x, double lo, double hi);

// ---- elementwise, binary (broadcasting; dtype = promote(a, b)) ---------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
/// Elementwise max/min, NaN-propagating; gradient split evenly on ties (as PyTorch).
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
/// Comparisons → u8 (0/1), no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
/// cond (u8, nonzero = true) ? a : b, all three broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
// Scalar forms: the scalar becomes a 0-d tensor of the tensor's dtype (f32 for an integer tensor
// and a non-integral scalar).
Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);
Tensor operator/(double s, const Tensor& a);
/// A 0-d tensor holding `s`, with the dtype a scalar operand of `like` gets, on like's device.
Tensor scalar_like(const Tensor& like, double s);

// ---- reductions ------------------------------------------------------------------------------
// `dims` empty = all dims. Negative dims count from the end; duplicates are an error.
// Deterministic mode: the canonical chunked tree of docs/determinism.md ("Long reductions").
/// Sum; u8 and i64 sum to i64.
Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false,
           std::optional<Mode> mode = std::nullopt);
/// sum / n (floating dtypes only).
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false,
            std::optional<Mode> mode = std::nullopt);
/// Variance: sum((x - mean)^2) / (n - 1) when unbiased, else / n.
Tensor var(const Tensor& x, const Dims& dims = {}, bool unbiased = true, bool keepdim = false,
           std::optional<Mode> mode = std::nullopt);
/// Max/min values over dims (NaN propagates). Gradient split evenly among tied maxima.
Tensor max(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
/// Index (i64) of the first maximum/minimum along dim (flattened index when dim is absent).
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt,
              bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt,
              bool keepdim = false);
/// Sums `g` over broadcast dimensions so that it has `shape` (the adjoint of expand).
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---- matmul -------------------------------------------------------------------------------
/// PyTorch matmul semantics: 1-D·1-D dot, 2-D·2-D product, batched with broadcast batch dims;
/// a 1-D operand is treated as a row (left) or column (right) vector and that dim is removed.
/// Deterministic: per output, fma chain over k ascending (docs/determinism.md "Dot products").
Tensor matmul(const Tensor& a, const Tensor& b, std::optional<Mode> mode = std::nullopt);

// ---- softmax ------------------------------------------------------------------------------
/// exp(x - max) / sum(exp(x - max)) along dim.
Tensor softmax(const Tensor& x, std::int64_t dim, std::optional<Mode> mode = std::nullopt);
/// x - max - log(sum(exp(x - max))) along dim.
Tensor log_softmax(const Tensor& x, std::int64_t dim, std::optional<Mode> mode = std::nullopt);

// ---- random --------------------------------------------------------------------------------
class Generator;
/// Uniform in [0, 1). Element i draws counter gen.offset() + i; advances the offset by numel.
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32,
            Device device = default_device());
/// Standard normal (Box-Muller), same counter rule as rand.
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32,
             Device device = default_device());
/// Integers uniformly in [low, high), same counter rule.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
               DType dtype = DType::i64, Device device = default_device());
/// Uniform in [lo, hi).
Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype = DType::f32,
               Device device = default_device());
/// Normal with the given mean and standard deviation.
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
              DType dtype = DType::f32, Device device = default_device());

// ---- neural-network ops (PyTorch semantics, parameter names and defaults) ------------------
// Deterministic mode: the canonical orders of docs/determinism.md (one section per op); Fast
// mode: the variant described there (atomics, split-K, thread-keyed RNG). `mode` overrides the
// thread's mode for this call and for the op's backward.

/// A pair of sizes for 2-D ops: `2` means {2, 2}; `{2, 1}` means (height 2, width 1).
struct Size2 {
  std::int64_t h = 0, w = 0;
  Size2(std::int64_t v) : h(v), w(v) {}  // NOLINT(google-explicit-constructor): as PyTorch's
  Size2(std::int64_t h_, std::int64_t w_) : h(h_), w(w_) {}
};

/// An optional Size2, as PyTorch's optional `IntArrayRef[2]` arguments: unset (`{}` or
/// std::nullopt), `2`, `{2, 1}`, a Size2 or a std::optional<Size2>. Unlike std::optional<Size2>
/// it takes the brace pair, so libtorch spellings compile: `max_pool2d(x, {2, 2}, {2, 2})`.
class OptionalSize2 {
 public:
  OptionalSize2() = default;
  OptionalSize2(std::nullopt_t) {}                     // NOLINT(google-explicit-constructor)
  OptionalSize2(std::int64_t v) : value_(Size2(v)) {}  // NOLINT(google-explicit-constructor)
  OptionalSize2(std::int64_t h, std::int64_t w) : value_(Size2(h, w)) {}
  OptionalSize2(Size2 s) : value_(s) {}                 // NOLINT(google-explicit-constructor)
  OptionalSize2(std::optional<Size2> s) : value_(s) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return value_.has_value(); }
  const Size2& operator*() const { return *value_; }
  Size2 value_or(Size2 fallback) const { return value_.value_or(fallback); }

 private:
  std::optional<Size2> value_;
};

/// Loss reduction, as PyTorch's `reduction=` argument.
enum class Reduction { none, mean, sum };

/// 2-D convolution (cross-correlation). x (N, C, H, W) or (C, H, W); weight (O, C/groups, kH,
/// kW); bias (O) or undefined. Output (N, O, OH, OW) with OH = (H + 2pH - dH(kH-1) - 1)/sH + 1.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1, std::int64_t groups = 1,
              std::optional<Mode> mode = std::nullopt);
/// 2-D max pooling over (N, C, H, W) or (C, H, W); stride defaults to the kernel size; padding
/// is implicit -inf. NaN propagates. Gradient goes to the first maximal tap of each window.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0,
                  Size2 dilation = 1, bool ceil_mode = false,
                  std::optional<Mode> mode = std::nullopt);
/// 2-D average pooling; the divisor follows PyTorch (count_include_pad, ceil_mode clipping).
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<Mode> mode = std::nullopt);
/// Adaptive 2-D average pooling over (N, C, H, W) or (C, H, W) to output_size (>= 1 each): output
/// (oh, ow) averages rows [oh*H/OH, ceil((oh+1)*H/OH)) x the same for columns (PyTorch's
/// windows). Deterministic backward by a gather (PyTorch's CUDA backward has none).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size,
                           std::optional<Mode> mode = std::nullopt);
/// Adaptive 2-D max pooling (windows as adaptive_avg_pool2d). NaN propagates; the gradient goes
/// to the first maximal tap of each window.
Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size,
                           std::optional<Mode> mode = std::nullopt);
/// A pair of (height, width) scale factors; one number means both (PyTorch's scale_factor).
struct Scale2 {
  double h = 1, w = 1;
  Scale2(double v) : h(v), w(v) {}  // NOLINT(google-explicit-constructor): as PyTorch's
  Scale2(double h_, double w_) : h(h_), w(w_) {}
};

/// interpolate's resampling rule: PyTorch's 'nearest' (the legacy rule, not 'nearest-exact') and
/// 'bilinear'.
enum class InterpolateMode { nearest, bilinear };

/// torch.nn.functional.interpolate's arguments for 2-D inputs. Exactly one of size and
/// scale_factor; with scale_factor the output is floor(H * scale) and coordinates are mapped with
/// 1 / scale (PyTorch's recompute_scale_factor=False, its default). align_corners: bilinear only
/// (default false).
struct InterpolateOptions {
  OptionalSize2 size = {};
  std::optional<Scale2> scale_factor = {};
  InterpolateMode mode = InterpolateMode::nearest;
  std::optional<bool> align_corners = {};
};

/// Resamples (N, C, H, W) to (N, C, OH, OW) (docs/determinism.md, "Upsampling"). Deterministic
/// backward by a gather on every device (PyTorch's CUDA bilinear backward has none).
///   interpolate(x, {.scale_factor = 2.0, .mode = InterpolateMode::bilinear});
Tensor interpolate(const Tensor& x, const InterpolateOptions& options,
                   std::optional<Mode> mode = std::nullopt);
/// Batch normalisation over (N, C), (N, C, L) or (N, C, H, W): y = (x - mean) / sqrt(var + eps)
/// * weight + bias. training: batch statistics (biased variance) and, when running_mean/
/// running_var are defined, running = (1 - momentum) * running + momentum * batch_stat with the
/// unbiased variance (in place, no gradient). eval: the running statistics. weight/bias may be
/// undefined (affine=false).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5, std::optional<Mode> mode = std::nullopt);
/// Dropout: in training, zeroes each element with probability p and scales the rest by
/// 1/(1-p); identity when !training or p == 0. p must lie in [0, 1). Deterministic: the mask of
/// element i comes from Philox counter gen.offset() + i (same on every device); Fast: keyed by
/// thread (depends on the launch configuration). Advances gen by numel in training.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen,
               std::optional<Mode> mode = std::nullopt);
/// y = x @ weight^T + bias. x (..., in), weight (out, in), bias (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              std::optional<Mode> mode = std::nullopt);
/// Cross entropy from logits (N, C) or (N, C, d...) and i64 class targets (N) / (N, d...):
/// nll_loss(log_softmax(logits, 1), target). Targets equal to ignore_index contribute nothing
/// (and are not counted by the mean).
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     Reduction reduction = Reduction::mean, std::int64_t ignore_index = -100,
                     std::optional<Mode> mode = std::nullopt);
/// Negative log-likelihood of log-probabilities (N, C) or (N, C, d...) at i64 targets.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target,
                Reduction reduction = Reduction::mean, std::int64_t ignore_index = -100,
                std::optional<Mode> mode = std::nullopt);
/// Mean squared error (input - target)^2, same shapes.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                std::optional<Mode> mode = std::nullopt);

// ---- indexing ----------------------------------------------------------------------------
/// Rows of x along dim picked by a 1-D i64 index: out.shape[dim] = index.numel().
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
/// Out-of-place index_add: x with source's slices added at x[..., index[m], ...] along dim.
/// Deterministic: sort-based, fixed order per target (docs/determinism.md "Scatter-add");
/// Fast: atomics.
Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& source,
                 std::optional<Mode> mode = std::nullopt);
/// out[i][j] = x[index[i][j]][j] (dim 0; likewise for other dims). index: i64, same rank as x,
/// index.size(d) <= x.size(d) for d != dim.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
/// Out-of-place scatter_add: x with src[i][j] added at [index[i][j]][j] (dim 0; likewise).
/// index has x's rank with index.size(d) <= src.size(d) for every d and <= x.size(d) for
/// d != dim; only index's extent of src is used (as PyTorch). Same orders as index_add.
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                   std::optional<Mode> mode = std::nullopt);
/// weight (V, D) rows picked by i64 indices of any shape: out (indices.shape..., D). The
/// weight gradient is an index_add (sort-based in Deterministic mode).
Tensor embedding(const Tensor& weight, const Tensor& indices,
                 std::optional<Mode> mode = std::nullopt);

}  // namespace ditto
