// The op-case driver: every case of core/op_cases.cpp (the one list of op cases) through every
// property the determinism contract promises — cpu bits at every x86-64 level this machine has and
// at 1, 2, 3 threads; cpu == sim (== cuda where a GPU exists) bit for bit; sim bits under other
// schedule seeds, worker counts and forced launch configurations; Fast within tolerance of
// Deterministic; gradients against finite differences in f64. Bits are compared with memcmp;
// the inputs are NaN-free.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/op_cases.h"
#include "ditto/ditto.h"
#include "kernels/launch_config.h"
#include "test/fixtures/bits.h"
#include "test/fixtures/rng.h"
#include "test/fixtures/threads.h"
#include "test/gradcheck.h"

using namespace ditto;
using ditto::cases::op_cases;
using ditto::cases::OpCase;
using ditto::cases::run_case;
using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h

namespace {

using ditto::test_fixtures::ThreadsRestore;  // test/fixtures/threads.h

// Every tensor of `got` has the bits of `ref` (and lives on `d`).
void check_same(const std::vector<Tensor>& ref, const std::vector<Tensor>& got, Device d) {
  REQUIRE(ref.size() == got.size());
  for (std::size_t i = 0; i < ref.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].device() == d);
    CHECK(same_bits(ref[i], got[i]));
  }
}

// max |a - b| over every tensor, relative to max(1, max |a|).
double scaled_diff(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double diff = 0, scale = 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::vector<double> x = a[i].to(DType::f64).to(Device::cpu()).to_vector<double>();
    std::vector<double> y = b[i].to(DType::f64).to(Device::cpu()).to_vector<double>();
    for (std::size_t j = 0; j < x.size(); ++j) {
      diff = std::max(diff, std::abs(x[j] - y[j]));
      scale = std::max(scale, std::abs(x[j]));
    }
  }
  return diff / scale;
}

std::string isa_label(CpuIsa isa) { return "x86-64-" + std::string(cpu_isa_name(isa)); }

}  // namespace

TEST_SUITE("op_cases") {
  TEST_CASE("op cases: the list is well formed, and every kernel family has a case") {
    std::set<std::string> names, families;
    for (const OpCase& c : op_cases()) {
      CAPTURE(c.name);
      CHECK(names.insert(c.name).second);  // unique
      CHECK(!c.shapes.empty());
      CHECK(c.run);
      families.insert(c.family);
    }
    // DITTO_KERNEL_FAMILIES: the configure-time list, one per kernels/cuda/<f>.cuh,
    // comma-separated.
    std::istringstream list(DITTO_KERNEL_FAMILIES);
    for (std::string f; std::getline(list, f, ',');) {
      CAPTURE(f);
      CHECK(families.count(f) == 1);
    }
  }

  TEST_CASE("op cases: cpu bits are the same at every x86-64 level and at 1, 2, 3 threads") {
    ThreadsRestore restore;
    std::vector<CpuIsa> levels;
    for (CpuIsa isa : {CpuIsa::v2, CpuIsa::v3, CpuIsa::v4}) {
      if (cpu_isa_supported(isa)) {
        levels.push_back(isa);
      } else {
        MESSAGE(isa_label(isa) << ": this CPU cannot run it — NOT CHECKED on this machine");
      }
    }
    for (const OpCase& c : op_cases()) {
      for (DType t : c.dtypes) {
        CAPTURE(c.name);
        CAPTURE(dtype_name(t));
        set_num_threads(1);
        std::vector<Tensor> ref;
        {
          CpuIsaGuard g(CpuIsa::v2);
          ref = run_case(c, t, Device::cpu(), Mode::Deterministic);
        }
        for (CpuIsa isa : levels) {
          CpuIsaGuard g(isa);
          for (int threads : {1, 2, 3}) {
            CAPTURE(isa_label(isa));
            CAPTURE(threads);
            set_num_threads(threads);
            check_same(ref, run_case(c, t, Device::cpu(), Mode::Deterministic), Device::cpu());
          }
        }
      }
    }
  }

  TEST_CASE("op cases: cpu and sim give the same bits (and cuda, where a GPU exists)") {
    const bool cuda = device_available(Device::cuda(0));
    if (!cuda) MESSAGE("cuda: no GPU on this machine — cpu vs cuda NOT CHECKED");
    for (const OpCase& c : op_cases()) {
      for (DType t : c.dtypes) {
        CAPTURE(c.name);
        CAPTURE(dtype_name(t));
        std::vector<Tensor> ref = run_case(c, t, Device::cpu(), Mode::Deterministic);
        check_same(ref, run_case(c, t, Device::sim(), Mode::Deterministic), Device::sim());
        if (cuda) {
          check_same(ref, run_case(c, t, Device::cuda(0), Mode::Deterministic), Device::cuda(0));
        }
      }
    }
  }

  TEST_CASE(
      "op cases: sim bits do not depend on schedule seeds, workers or launch configurations") {
    for (const OpCase& c : op_cases()) {
      const DType t = c.dtypes.front();
      CAPTURE(c.name);
      CAPTURE(dtype_name(t));
      std::vector<Tensor> ref = run_case(c, t, Device::cpu(), Mode::Deterministic);
      for (std::uint64_t seed : {1u, 2u, 3u}) {
        CAPTURE(seed);
        ditto::sim::ScheduleGuard sg({ditto::sim::Order::kRandom, seed}, seed % 2 ? 1 : 2);
        // Grids of 8, 15, 22 blocks; block size forced to 64 threads once (where it is free).
        ditto::kernels::LaunchOverrideGuard lg(
            {static_cast<int>(seed * 7 + 1), seed == 3 ? 64 : 0});
        check_same(ref, run_case(c, t, Device::sim(), Mode::Deterministic), Device::sim());
      }
    }
  }

  TEST_CASE("op cases: Fast mode is within the case's tolerance of Deterministic (cpu, sim)") {
    for (const OpCase& c : op_cases()) {
      for (DType t : c.dtypes) {
        const std::optional<double> tol = t == DType::f32 ? c.fast_tol_f32 : c.fast_tol_f64;
        if (!tol) continue;  // Fast draws other random numbers by design
        for (Device d : {Device::cpu(), Device::sim()}) {
          CAPTURE(c.name);
          CAPTURE(dtype_name(t));
          CAPTURE(device_name(d));
          std::vector<Tensor> det = run_case(c, t, d, Mode::Deterministic);
          std::vector<Tensor> fast = run_case(c, t, d, Mode::Fast);
          REQUIRE(det.size() == fast.size());
          const double diff = scaled_diff(det, fast);
          CAPTURE(diff);
          CHECK(diff <= *tol);
        }
      }
    }
  }

  TEST_CASE("op cases: gradients match central finite differences in f64 (cpu)") {
    for (const OpCase& c : op_cases()) {
      if (!c.differentiable) continue;
      CAPTURE(c.name);
      const std::vector<Shape>& shapes = c.grad_shapes.empty() ? c.shapes : c.grad_shapes;
      std::int64_t total = 0;
      for (const Shape& s : shapes) total += ditto::test_fixtures::numel_of(s);
      REQUIRE_MESSAGE(total <= 512, "differentiable case needs grad_shapes of <= 512 elements");
      std::vector<Tensor> in = ditto::cases::make_inputs(c, DType::f64, Device::cpu(), &shapes);
      // Which outputs carry gradients (not buffers such as running statistics, not indices):
      // found once with inputs that require grad, since gradcheck's perturbed evaluations run
      // on plain tensors.
      std::vector<bool> carries;
      {
        Generator gen(77);
        for (const Tensor& y : c.run(in, gen)) carries.push_back(y.requires_grad());
      }
      // One scalar from those outputs, with fixed weights so each element gets its own upstream
      // gradient; the case's generator restarts at every evaluation.
      const auto f = [&c, carries](const std::vector<Tensor>& x) {
        Generator gen(77), wg(78);
        std::vector<Tensor> outs = c.run(x, gen);
        Tensor total_out;
        for (std::size_t k = 0; k < outs.size(); ++k) {
          if (!carries[k]) continue;
          Tensor w = randn(outs[k].shape(), wg, DType::f64, outs[k].device());
          Tensor term = sum(outs[k] * w);
          total_out = total_out.defined() ? total_out + term : term;
        }
        return total_out;
      };
      CHECK_GRADCHECK(f, in);
    }
  }
}
