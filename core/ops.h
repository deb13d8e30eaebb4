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
Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen,
               DType dtype = DType::f32, Device device = default_device());
/// Normal with the given mean and standard deviation.
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
              DType dtype = DType::f32, Device device = default_device());

}  // namespace ditto
