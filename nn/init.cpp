// ditto — nn::init (see nn/init.h). Scalars follow torch/nn/init.py line by line, in double.
#include "nn/init.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ditto::nn::init {
namespace {

void require_float(const Tensor& t, const char* op) {
  DITTO_CHECK(t.defined(), op, ": undefined tensor");
  DITTO_CHECK(is_floating(t.dtype()), op, ": only floating tensors can be initialised, got ",
              dtype_name(t.dtype()), " tensor ", shape_str(t.shape()));
}

// Writes `values` (same shape) into t's elements in place, outside any graph.
Tensor write(const Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  Tensor dst = t;
  dst.copy_(values);
  return t;
}

std::int64_t fan(const Tensor& t, FanMode mode) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::fan_in ? fan_in : fan_out;
}

bool has_zero_dim(const Tensor& t) {
  for (std::int64_t s : t.shape())
    if (s == 0) return true;
  return false;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::conv2d:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1 + param * param));
  }
  DITTO_FAIL("calculate_gain: unknown nonlinearity ", static_cast<int>(nonlinearity));
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  DITTO_CHECK(t.defined(), "calculate_fan_in_and_fan_out: undefined tensor");
  DITTO_CHECK(t.dim() >= 2, "calculate_fan_in_and_fan_out: fan in and fan out can not be "
              "computed for a tensor with fewer than 2 dimensions, got ", shape_str(t.shape()));
  std::int64_t receptive = 1;
  for (std::int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double kaiming_uniform_bound(std::int64_t fan, double a) {
  DITTO_CHECK(fan > 0, "kaiming_uniform_: fan must be positive, got ", fan);
  const double gain = calculate_gain(Nonlinearity::leaky_relu, a);
  const double stddev = gain / std::sqrt(static_cast<double>(fan));
  return std::sqrt(3.0) * stddev;
}

Tensor uniform_(const Tensor& t, double a, double b, Generator& gen) {
  require_float(t, "uniform_");
  DITTO_CHECK(a <= b, "uniform_: needs a <= b, got [", a, ", ", b, ")");
  if (a == b) {  // U(a, a) is the constant a; still consume the counters a draw would
    gen.advance(static_cast<std::uint64_t>(t.numel()));
    return constant_(t, a);
  }
  return write(t, uniform(t.shape(), a, b, gen, t.dtype(), t.device()));
}

Tensor normal_(const Tensor& t, double mean, double std, Generator& gen) {
  require_float(t, "normal_");
  return write(t, normal(t.shape(), mean, std, gen, t.dtype(), t.device()));
}

Tensor constant_(const Tensor& t, double value) {
  require_float(t, "constant_");
  NoGradGuard no_grad;
  Tensor dst = t;
  dst.fill_(value);
  return t;
}

Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor kaiming_uniform_(const Tensor& t, double a, Generator& gen, FanMode mode,
                        Nonlinearity nonlinearity) {
  require_float(t, "kaiming_uniform_");
  if (has_zero_dim(t)) return t;
  const double gain = calculate_gain(nonlinearity, a);
  const double stddev = gain / std::sqrt(static_cast<double>(fan(t, mode)));
  const double bound = std::sqrt(3.0) * stddev;
  return uniform_(t, -bound, bound, gen);
}

Tensor kaiming_normal_(const Tensor& t, double a, Generator& gen, FanMode mode,
                       Nonlinearity nonlinearity) {
  require_float(t, "kaiming_normal_");
  if (has_zero_dim(t)) return t;
  const double gain = calculate_gain(nonlinearity, a);
  const double stddev = gain / std::sqrt(static_cast<double>(fan(t, mode)));
  return normal_(t, 0.0, stddev, gen);
}

Tensor xavier_uniform_(const Tensor& t, Generator& gen, double gain) {
  require_float(t, "xavier_uniform_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  const double stddev = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double a = std::sqrt(3.0) * stddev;
  return uniform_(t, -a, a, gen);
}

Tensor xavier_normal_(const Tensor& t, Generator& gen, double gain) {
  require_float(t, "xavier_normal_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  const double stddev = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(t, 0.0, stddev, gen);
}

}  // namespace ditto::nn::init
