// ditto — tests of the GPU matrix-multiply kernels (kernels/cuda/gemm.cuh) on the sim device.
// Deterministic mode must equal cpu::gemm (the canonical chain) bit for bit, for every shape,
// stride pattern, schedule seed, worker count and forced launch configuration. Fast mode
// (split-K with atomicAdd) is checked against a long-double reference within the dot-product
// error bound, and shown to be honestly nondeterministic on a contention-heavy product.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/gemm.h"
#include "kernels/launch_config.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/gemm_problem.h"

namespace {

using ditto::DType;
using ditto::Mode;
using ditto::kernels::GemmArgs;
using ditto::kernels::LaunchOverride;
using ditto::kernels::LaunchOverrideGuard;
using ditto::sim::Order;
using ditto::sim::Schedule;
using ditto::sim::ScheduleGuard;
using namespace ditto::test_fixtures;  // test/fixtures/gemm_problem.h

/// The shared fixture (test/fixtures/gemm_problem.h) run through cpu::gemm or sim::gemm.
template <typename T>
struct Problem : GemmProblem<T> {
  using GemmProblem<T>::GemmProblem;

  std::vector<T> run_cpu() {
    return this->run_with([](GemmArgs& g) {
      ditto::kernels::gemm_kernels(ditto::Device::cpu()).gemm(g, Mode::Deterministic);
    });
  }
  std::vector<T> run_sim(Mode mode) {
    return this->run_with(
        [mode](GemmArgs& g) { ditto::kernels::gemm_kernels(ditto::Device::sim()).gemm(g, mode); });
  }
};

/// Bitwise equality, except that any NaN equals any NaN (NaN payloads are not part of the
/// contract: GPUs produce a canonical NaN).
template <typename T>
bool same_bits(const std::vector<T>& x, const std::vector<T>& y) {
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (std::memcmp(&x[i], &y[i], sizeof(T)) != 0) return false;
  }
  return true;
}

/// The shapes of the bitwise tests: odd sizes, single rows/columns, several k-tiles with a
/// partial last one, broadcast batches, transposed and padded views.
std::vector<Layout> shapes() {
  std::vector<Layout> v = {mnk(1, 1, 1),   mnk(7, 13, 5),   mnk(17, 33, 65), mnk(64, 64, 64),
                           mnk(1, 300, 3), mnk(33, 1, 129), mnk(70, 45, 40)};
  const std::vector<Layout> batched = batched_layouts();
  v.insert(v.end(), batched.begin(), batched.end());  // broadcast A, broadcast B, transposed
  Layout l = v.back();
  l.a_t = l.b_t = false;
  l.c_t = true;  // C written through a transposed view
  l.pad = 3;     // row strides larger than the row length
  v.push_back(l);
  v.push_back(all_unusual(37, 21, 50));  // everything unusual at once
  return v;
}

template <typename T>
void check_sim_equals_cpu() {
  std::uint32_t seed = 1;
  ScheduleGuard g(Schedule{Order::kRandom, 11});
  for (const Layout& l : shapes()) {
    CAPTURE(describe(l));
    Problem<T> p(l, seed++);
    const std::vector<T> want = p.run_cpu();
    CHECK(same_bits(p.run_sim(Mode::Deterministic), want));
  }
}

TEST_SUITE_BEGIN("gpu_gemm");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE("gpu gemm: deterministic sim equals cpu::gemm bitwise, f32") {
  check_sim_equals_cpu<float>();
}
TEST_CASE("gpu gemm: deterministic sim equals cpu::gemm bitwise, f64") {
  check_sim_equals_cpu<double>();
}

TEST_CASE("gpu gemm: deterministic bits independent of schedule, workers, grid and block size") {
  // Few shapes, many configurations: tiles of every block size (64: 32x32 tiles, 256 and 1024:
  // 64x64 tiles), grids smaller and larger than the number of tiles, several schedules.
  Layout bcast = mnk(19, 23, 29);
  bcast.batch = 3;
  bcast.a_bcast = true;
  Layout trans = mnk(70, 45, 40);
  trans.a_t = trans.b_t = true;
  const std::vector<LaunchOverride> launches = {{0, 0},  {1, 0},   {3, 0},    {64, 0},
                                                {0, 64}, {3, 256}, {1, 1024}, {64, 1024}};
  auto check = [&](auto zero, const Layout& l) {
    using T = decltype(zero);
    CAPTURE(describe(l));
    Problem<T> p(l, 77);
    const std::vector<T> want = p.run_cpu();
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      for (const LaunchOverride& o : launches) {
        CAPTURE(seed);
        CAPTURE(o.blocks);
        CAPTURE(o.threads);
        ScheduleGuard g(Schedule{Order::kRandom, seed}, seed % 2 == 0 ? 2 : 1);
        LaunchOverrideGuard lo(o);
        CHECK(same_bits(p.run_sim(Mode::Deterministic), want));
      }
    }
    ScheduleGuard g(Schedule{Order::kInOrder, 0}, 1);
    CHECK(same_bits(p.run_sim(Mode::Deterministic), want));
  };
  check(0.0f, mnk(17, 33, 65));
  check(0.0f, trans);
  check(0.0, bcast);
  check(0.0, mnk(64, 64, 64));
}

TEST_CASE("gpu gemm: special values follow the canonical chain") {
  // inf, NaN, huge products that overflow, and signed zeros: the chain decides every bit.
  Problem<float> p(mnk(9, 11, 37), 5);
  p.a[3] = std::numeric_limits<float>::infinity();
  p.a[50] = -std::numeric_limits<float>::infinity();
  p.b[7] = std::numeric_limits<float>::quiet_NaN();
  p.a[100] = 3e38f;
  p.b[101] = 3e38f;
  p.a[200] = p.b[200] = 1e-30f;  // products below the subnormal range
  const std::vector<float> want = p.run_cpu();
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    ScheduleGuard g(Schedule{Order::kRandom, seed});
    CHECK(same_bits(p.run_sim(Mode::Deterministic), want));
  }
}

/// Max over outputs of |out - ref| / (scale * K * eps * sum_k |a_k * b_k|), where ref is `other`
/// when given, else the exact sum (long double). The classic bound for any summation order is
/// scale 1 against the exact sum, so scale 2 against another order's result. Returns a huge
/// ratio when anything outside C (padding) was written.
template <typename T>
double error_ratio(const Problem<T>& p, const std::vector<T>& out,
                   const std::vector<T>* other = nullptr, double scale = 1.0) {
  const long double eps = std::numeric_limits<T>::epsilon();
  double worst = 0;
  std::vector<bool> is_output(out.size(), false);
  for (i64 bi = 0; bi < p.l.batch; ++bi)
    for (i64 i = 0; i < p.l.M; ++i)
      for (i64 j = 0; j < p.l.N; ++j) {
        auto [ref, mag] = p.exact(bi, i, j);
        const i64 idx = p.c_index(bi, i, j);
        is_output[static_cast<std::size_t>(idx)] = true;
        if (other) ref = (*other)[static_cast<std::size_t>(idx)];
        const long double err = std::fabs(static_cast<long double>(out[idx]) - ref);
        const long double bound = scale * static_cast<long double>(p.l.K) * eps * mag;
        const double r = bound > 0 ? static_cast<double>(err / bound) : (err > 0 ? 1e30 : 0.0);
        if (!(r <= worst)) worst = r;  // NaN counts as the worst
      }
  for (std::size_t e = 0; e < out.size(); ++e)
    if (!is_output[e] && out[e] != T(kSentinel)) return 1e30;  // wrote outside C
  return worst;
}

template <typename T>
void check_fast_within_bound() {
  std::vector<Layout> v = shapes();
  v.push_back(mnk(4, 4, 8192));  // many K slices
  v.push_back(mnk(5, 40, 700));
  std::uint32_t seed = 100;
  for (const Layout& l : v) {
    CAPTURE(describe(l));
    Problem<T> p(l, seed++);
    for (std::uint64_t s = 1; s <= 2; ++s) {
      ScheduleGuard g(Schedule{Order::kRandom, s});
      const std::vector<T> det = p.run_cpu();
      const std::vector<T> fast = p.run_sim(Mode::Fast);
      CHECK(error_ratio(p, fast) <= 1.0);             // vs the exact sum
      CHECK(error_ratio(p, fast, &det, 2.0) <= 1.0);  // vs Deterministic
    }
  }
}

TEST_CASE("gpu gemm: fast (split-K) within the dot-product error bound, f32") {
  check_fast_within_bound<float>();
}
TEST_CASE("gpu gemm: fast (split-K) within the dot-product error bound, f64") {
  check_fast_within_bound<double>();
}

TEST_CASE("gpu gemm: fast split-K atomics give schedule-dependent bits") {
  // 16 outputs, K = 8192 cut into many slices: every output receives one atomicAdd per slice,
  // in whatever order the blocks run. Under 10 schedules the float sums must not all agree
  // (that proves the fast path is honestly atomic), and each must be within tolerance.
  Problem<float> p(mnk(4, 4, 8192), 2024);
  const std::vector<float> det = p.run_cpu();
  std::set<std::vector<unsigned char>> patterns;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(seed);
    ScheduleGuard g(Schedule{Order::kRandom, seed});
    const std::vector<float> out = p.run_sim(Mode::Fast);
    CHECK(error_ratio(p, out) <= 1.0);
    CHECK(error_ratio(p, out, &det, 2.0) <= 1.0);
    std::vector<unsigned char> bytes(out.size() * sizeof(float));
    std::memcpy(bytes.data(), out.data(), bytes.size());
    patterns.insert(bytes);
  }
  MESSAGE("distinct fast-mode bit patterns in 10 schedules: ", patterns.size());
  CHECK(patterns.size() >= 2);
  // The deterministic kernel on the same product: one pattern, the CPU's.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    ScheduleGuard g(Schedule{Order::kRandom, seed});
    CHECK(same_bits(p.run_sim(Mode::Deterministic), det));
  }
}

TEST_CASE("gpu gemm: empty sizes") {
  for (Mode mode : {Mode::Deterministic, Mode::Fast}) {
    // K == 0: every output is +0 (C was full of sentinels; padding stays untouched).
    Layout l = mnk(5, 7, 0);
    l.batch = 2;
    l.c_t = true;
    l.pad = 2;
    Problem<float> p(l, 3);
    const std::vector<float> out = p.run_sim(mode);
    i64 zeros = 0;
    for (float x : out) {
      if (x == 0.0f && !std::signbit(x))
        ++zeros;
      else
        CHECK(x == float(kSentinel));
    }
    CHECK(zeros == 2 * 5 * 7);
    CHECK(same_bits(out, p.run_cpu()));
    // M == 0, N == 0, batch == 0: nothing is written.
    for (Layout e : {mnk(0, 4, 3), mnk(4, 0, 3)}) {
      Problem<double> q(e, 4);
      q.c.assign(8, kSentinel);
      q.args.C = q.c.data();
      ditto::kernels::gemm_kernels(ditto::Device::sim()).gemm(q.args, mode);
      for (double x : q.c) CHECK(x == kSentinel);
    }
    Problem<double> q(mnk(2, 2, 2), 4);
    q.args.batch = 0;
    q.run_sim(mode);
    for (double x : q.c) CHECK(x == kSentinel);
  }
}

TEST_CASE("gpu gemm: bad arguments throw ditto::Error naming gemm") {
  Problem<float> p(mnk(2, 2, 2), 1);
  p.args.dtype = DType::i64;
  CHECK_THROWS_WITH_AS(
      ditto::kernels::gemm_kernels(ditto::Device::sim()).gemm(p.args, Mode::Deterministic),
      doctest::Contains("gemm"), ditto::Error);
  CHECK_THROWS_WITH_AS(ditto::kernels::gemm_kernels(ditto::Device::sim()).gemm(p.args, Mode::Fast),
                       doctest::Contains("i64"), ditto::Error);
  p.args.dtype = DType::f32;
  p.args.K = -1;
  CHECK_THROWS_WITH_AS(
      ditto::kernels::gemm_kernels(ditto::Device::sim()).gemm(p.args, Mode::Deterministic),
      doctest::Contains("gemm"), ditto::Error);
}

}  // namespace

TEST_SUITE_END();
