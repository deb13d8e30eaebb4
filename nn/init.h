// ditto — nn::init: in-place initialisers with PyTorch's names and formulas (torch.nn.init).
// Random ones draw from an explicit ditto::Generator with ditto::uniform / ditto::normal on the
// tensor's device and dtype, so the values depend only on (seed, offset, shape): the same bits on
// cpu, sim and cuda. Scalars (gains, bounds) are computed in double exactly as PyTorch's Python
// computes them. Values are written with copy_ under NoGradGuard, so every handle on the tensor
// (a layer's member, an optimizer's list) sees them; the tensor's requires_grad is unchanged.
#pragma once
#include <cstdint>
#include <utility>

#include "core/generator.h"
#include "core/tensor.h"

namespace ditto::nn::init {

/// Which fan kaiming_* scales by (PyTorch's mode='fan_in' / 'fan_out').
enum class FanMode { fan_in, fan_out };

/// Nonlinearities known to calculate_gain (PyTorch's names).
enum class Nonlinearity { linear, conv2d, sigmoid, tanh, relu, leaky_relu };

/// PyTorch's calculate_gain: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
/// sqrt(2 / (1 + param^2)) for leaky_relu (param = negative slope, default 0.01).
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);

/// (fan_in, fan_out) of a weight of dim >= 2: fan_in = size(1) * receptive field, fan_out =
/// size(0) * receptive field, receptive field = product of sizes from dim 2 on. So a Linear
/// weight (out, in) has fan_in = in; a Conv2d weight (O, C/groups, kH, kW) has
/// fan_in = C/groups * kH * kW.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

/// The bound kaiming_uniform_ draws within for a given fan and negative slope a:
/// gain = sqrt(2 / (1 + a^2)), std = gain / sqrt(fan), bound = sqrt(3) * std.
double kaiming_uniform_bound(std::int64_t fan, double a);

/// Fills t with U(a, b). Returns t.
Tensor uniform_(const Tensor& t, double a, double b, Generator& gen);
/// Fills t with N(mean, std). Returns t.
Tensor normal_(const Tensor& t, double mean, double std, Generator& gen);
/// Fills t with `value`. Returns t.
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);

/// He uniform: U(-bound, bound), bound = kaiming_uniform_bound(fan, a) with a the negative slope
/// (PyTorch's leaky_relu default; Conv2d and Linear use a = sqrt(5)). A tensor with no
/// elements is left as it is (PyTorch warns and returns).
Tensor kaiming_uniform_(const Tensor& t, double a, Generator& gen,
                        FanMode mode = FanMode::fan_in,
                        Nonlinearity nonlinearity = Nonlinearity::leaky_relu);
/// He normal: N(0, std), std = calculate_gain(nonlinearity, a) / sqrt(fan).
Tensor kaiming_normal_(const Tensor& t, double a, Generator& gen,
                       FanMode mode = FanMode::fan_in,
                       Nonlinearity nonlinearity = Nonlinearity::leaky_relu);
/// Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& t, Generator& gen, double gain = 1.0);
/// Glorot normal: N(0, std), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& t, Generator& gen, double gain = 1.0);

}  // namespace ditto::nn::init
