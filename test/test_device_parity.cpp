// cpu vs sim through the public API: the same op on the same input bits gives the same output bits
// in Deterministic mode, forward and backward (docs/determinism.md, "Devices and launch
// configurations"). NaN-free inputs, so the comparison is a plain memcmp.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "test/fixtures/bits.h"
#include "ditto/ditto.h"
#include "kernels/launch_config.h"
#include "kernels/sim/runtime.h"

using namespace ditto;

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h


struct Case {
  std::string name;
  std::function<Tensor(const std::vector<Tensor>&)> f;
  std::vector<Shape> shapes;
};

std::vector<Case> cases() {
  return {
      {"sum over dims 0 and 2", [](auto& v) { return sum(v[0], {0, 2}); }, {{7, 33, 9}}},
      {"sum of 1,000,003 values", [](auto& v) { return sum(v[0]); }, {{1000003}}},
      {"mean and var", [](auto& v) { return var(v[0], {1}) + mean(v[0], {1}); }, {{5, 1025}}},
      {"max, argmax", [](auto& v) { return max(v[0], {1}) + argmax(v[0], 1).to(v[0].dtype()); },
       {{6, 257}}},
      {"softmax", [](auto& v) { return softmax(v[0], 1); }, {{7, 1023}}},
      {"log_softmax", [](auto& v) { return log_softmax(v[0], 0); }, {{33, 5}}},
      {"matmul batched broadcast", [](auto& v) { return matmul(v[0], v[1]); },
       {{3, 17, 65}, {65, 7}}},
      {"elementwise chain",
       [](auto& v) { return (v[0].exp() * v[1]).tanh() + v[0].sigmoid() / (v[1].abs() + 1.0); },
       {{31, 33}, {33}}},
  };
}

// Runs case c on device d with inputs drawn from a fixed stream; returns the output and the
// inputs' gradients (of sum(output * w) for a fixed w).
std::vector<Tensor> run_case(const Case& c, Device d, DType t) {
  Generator g(99);
  std::vector<Tensor> in;
  for (const Shape& s : c.shapes) in.push_back(randn(s, g, t, d).requires_grad_());
  Tensor y = c.f(in);
  Tensor w = randn(y.shape(), g, t, d);
  (y * w).sum().backward();
  std::vector<Tensor> out{y.detach()};
  for (const Tensor& x : in) out.push_back(x.grad());
  return out;
}

}  // namespace

TEST_SUITE("device_parity") {
  TEST_CASE("deterministic ops, forward and backward: cpu and sim give the same bits") {
    for (DType t : {DType::f32, DType::f64}) {
      for (const Case& c : cases()) {
        CAPTURE(c.name);
        CAPTURE(dtype_name(t));
        std::vector<Tensor> cpu = run_case(c, Device::cpu(), t);
        std::vector<Tensor> sim = run_case(c, Device::sim(), t);
        REQUIRE(cpu.size() == sim.size());
        for (std::size_t i = 0; i < cpu.size(); ++i) {
          CAPTURE(i);
          CHECK(sim[i].device() == Device::sim());
          CHECK(same_bits(cpu[i], sim[i]));
        }
      }
    }
  }

  TEST_CASE("sim bits do not depend on the schedule seed or a forced launch configuration") {
    const Case c = cases()[6];  // batched matmul: reductions in forward and backward
    std::vector<Tensor> ref = run_case(c, Device::cpu(), DType::f32);
    for (std::uint64_t seed : {1, 2, 3, 4, 5}) {
      ditto::sim::ScheduleGuard sg({ditto::sim::Order::kRandom, seed}, seed % 2 ? 1 : 2);
      ditto::kernels::LaunchOverrideGuard lg({static_cast<int>(seed * 7 % 64) + 1, 0});
      std::vector<Tensor> sim = run_case(c, Device::sim(), DType::f32);
      for (std::size_t i = 0; i < ref.size(); ++i) CHECK(same_bits(ref[i], sim[i]));
    }
  }
}
