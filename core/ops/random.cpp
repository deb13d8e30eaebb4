// ditto — random tensor creation (front ends). Kernel: kernels/cpu/random.cpp; the counter rule
// (element i uses counter offset + i) is in core/generator.h and docs/determinism.md.
#include "core/generator.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"
#include "kernels/random.h"

namespace ditto {

namespace {
Tensor draw(const char* op, kernels::RandomDist dist, const Shape& shape, double a, double b,
            Generator& gen, DType dtype, Device device) {
  Tensor out = empty(shape, dtype, device);
  detail::require_kernels(device, op);
  std::uint64_t seed = gen.seed();
  std::uint64_t first = gen.offset();
  kernels::random_kernels(device).random_fill(dist, detail::make_view(out, op), seed, first, a, b);
  gen.advance(static_cast<std::uint64_t>(out.numel()));  // only after a successful fill
  return out;
}
void require_float(const char* op, DType t) {
  DITTO_CHECK(is_floating(t), op, ": needs a floating dtype, got ", dtype_name(t));
}
}  // namespace

Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype,
               Device device) {
  profile::OpScope scope("uniform");
  require_float("uniform", dtype);
  DITTO_CHECK(lo < hi, "uniform: needs lo < hi, got [", lo, ", ", hi, ")");
  return draw("uniform", kernels::RandomDist::uniform, shape, lo, hi, gen, dtype, device);
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  profile::OpScope scope("rand");
  require_float("rand", dtype);
  return draw("rand", kernels::RandomDist::uniform, shape, 0.0, 1.0, gen, dtype, device);
}

Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype,
              Device device) {
  profile::OpScope scope("normal");
  require_float("normal", dtype);
  DITTO_CHECK(stddev >= 0, "normal: stddev must be >= 0, got ", stddev);
  return draw("normal", kernels::RandomDist::normal, shape, mean, stddev, gen, dtype, device);
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return normal(shape, 0.0, 1.0, gen, dtype, device);
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
               DType dtype, Device device) {
  profile::OpScope scope("randint");
  DITTO_CHECK(low < high, "randint: needs low < high, got [", low, ", ", high, ")");
  DITTO_CHECK(dtype != DType::u8 || (low >= 0 && high <= 256), "randint: range [", low, ", ",
              high, ") does not fit u8");
  // u8 results are drawn as i64 (same counters, same values) and converted.
  DType draw_dtype = dtype == DType::u8 ? DType::i64 : dtype;
  Tensor t = draw("randint", kernels::RandomDist::randint, shape, static_cast<double>(low),
                  static_cast<double>(high), gen, draw_dtype, device);
  return t.to(dtype);
}

}  // namespace ditto
