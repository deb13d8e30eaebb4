// ditto — tests of the CPU matrix-multiply kernels (kernels/cpu/gemm.cpp).
// Deterministic mode must equal, bit for bit, the naive triple loop with std::fma and k
// ascending, for every shape, stride pattern and thread count. Fast mode (Eigen) is checked
// against a long-double reference within the classic dot-product error bound.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/gemm.h"
#include "test/fixtures/gemm_problem.h"

namespace {

using ditto::DType;
using ditto::Mode;
using ditto::kernels::GemmArgs;
using namespace ditto::test_fixtures;  // test/fixtures/gemm_problem.h

/// The shared fixture (test/fixtures/gemm_problem.h) run through cpu::gemm.
template <typename T>
struct Problem : GemmProblem<T> {
  using GemmProblem<T>::GemmProblem;

  std::vector<T> run(Mode mode) {
    return this->run_with(
        [mode](GemmArgs& g) { ditto::kernels::gemm_kernels(ditto::Device::cpu()).gemm(g, mode); });
  }
};

template <typename T>
bool same_bits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

/// Restores the thread count a test changed.
struct ThreadsGuard {
  int prev = ditto::get_num_threads();
  ~ThreadsGuard() { ditto::set_num_threads(prev); }
};

std::vector<Layout> shapes() {
  std::vector<Layout> v;
  for (auto [M, N, K] : std::vector<std::array<i64, 3>>{{1, 1, 1},
                                                         {7, 13, 5},
                                                         {17, 33, 65},
                                                         {64, 64, 64},
                                                         {1, 1000, 3},
                                                         {130, 1, 257},
                                                         {6, 16, 1},
                                                         {12, 32, 300},
                                                         {37, 50, 600}}) {
    Layout l;
    l.M = M;
    l.N = N;
    l.K = K;
    v.push_back(l);
  }
  const std::vector<Layout> batched = batched_layouts();
  v.insert(v.end(), batched.begin(), batched.end());  // broadcast A, broadcast B, transposed
  Layout l = v.back();
  l.a_t = l.b_t = false;
  l.c_t = true;  // C written through a transposed view
  v.push_back(l);
  l.a_t = true;
  l.pad = 3;  // row strides larger than the row length
  v.push_back(l);
  v.push_back(all_unusual(45, 70, 531));  // several K blocks, edge tiles in M and N
  return v;
}

template <typename T>
void check_deterministic_equals_naive() {
  std::uint32_t seed = 1;
  for (const Layout& l : shapes()) {
    CAPTURE(describe(l));
    Problem<T> p(l, seed++);
    CHECK(same_bits(p.run(Mode::Deterministic), p.naive()));
  }
}

template <typename T>
void check_fast_within_bound() {
  std::uint32_t seed = 100;
  for (const Layout& l : shapes()) {
    CAPTURE(describe(l));
    Problem<T> p(l, seed++);
    const std::vector<T> out = p.run(Mode::Fast);
    const long double eps = std::numeric_limits<T>::epsilon();
    i64 bad = 0;
    for (i64 bi = 0; bi < l.batch; ++bi)
      for (i64 i = 0; i < l.M; ++i)
        for (i64 j = 0; j < l.N; ++j) {
          const auto [ref, mag] = p.exact(bi, i, j);
          // |fl(sum) - sum| <= gamma_K * sum |a b|, with gamma_K ~ K * eps (plus slack).
          const long double tol = 2 * (l.K + 1) * eps * mag;
          if (std::fabs(static_cast<long double>(out[p.c_index(bi, i, j)]) - ref) > tol) ++bad;
        }
    CHECK(bad == 0);
    // Fast mode must not write outside C's elements either (padding keeps the sentinel).
    std::vector<bool> is_elem(out.size(), false);
    for (i64 bi = 0; bi < l.batch; ++bi)
      for (i64 i = 0; i < l.M; ++i)
        for (i64 j = 0; j < l.N; ++j) is_elem[p.c_index(bi, i, j)] = true;
    i64 clobbered = 0;
    for (std::size_t idx = 0; idx < out.size(); ++idx)
      if (!is_elem[idx] && out[idx] != T(kSentinel)) ++clobbered;
    CHECK(clobbered == 0);
  }
}

}  // namespace

TEST_SUITE_BEGIN("gemm_kernel");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE("gemm kernel: deterministic f32 equals the naive fma loop bitwise") {
  check_deterministic_equals_naive<float>();
}

TEST_CASE("gemm kernel: deterministic f64 equals the naive fma loop bitwise") {
  check_deterministic_equals_naive<double>();
}

TEST_CASE("gemm kernel: deterministic bits do not depend on the thread count") {
  ThreadsGuard restore;
  std::vector<Layout> ls;
  Layout l;  // large enough to run in parallel, with K blocking and edge tiles
  l.M = 150;
  l.N = 170;
  l.K = 300;
  ls.push_back(l);
  l.batch = 3;  // batched, broadcast A, transposed B
  l.M = 40;
  l.N = 90;
  l.K = 270;
  l.a_bcast = true;
  l.b_t = true;
  ls.push_back(l);
  Layout tall;  // one column: the grid splits M only
  tall.M = 1100;
  tall.N = 1;
  tall.K = 257;
  ls.push_back(tall);
  std::uint32_t seed = 7;
  for (const Layout& x : ls) {
    CAPTURE(describe(x));
    Problem<float> pf(x, seed);
    Problem<double> pd(x, seed++);
    const auto ref_f = pf.naive();
    const auto ref_d = pd.naive();
    for (int threads : {1, 2, 3}) {
      CAPTURE(threads);
      ditto::set_num_threads(threads);
      CHECK(same_bits(pf.run(Mode::Deterministic), ref_f));
      CHECK(same_bits(pd.run(Mode::Deterministic), ref_d));
    }
  }
}

TEST_CASE("gemm kernel: fast mode (Eigen) is within the dot-product error bound") {
  ThreadsGuard restore;
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    ditto::set_num_threads(threads);
    check_fast_within_bound<float>();
    check_fast_within_bound<double>();
  }
}

TEST_CASE("gemm kernel: signed zeros follow the naive loop (acc starts at +0)") {
  // Every product is -0: fma(-1, +0, +0) = +0, so C must be +0, not -0.
  std::vector<float> a = {-1.0f, -2.0f}, b = {0.0f, 0.0f}, c = {7.0f};
  GemmArgs g;
  g.M = 1;
  g.N = 1;
  g.K = 2;
  g.A = a.data();
  g.a_rs = 2;
  g.a_cs = 1;
  g.B = b.data();
  g.b_rs = 1;
  g.b_cs = 1;
  g.C = c.data();
  g.c_rs = 1;
  g.c_cs = 1;
  ditto::kernels::gemm_kernels(ditto::Device::cpu()).gemm(g, Mode::Deterministic);
  CHECK(c[0] == 0.0f);
  CHECK_FALSE(std::signbit(c[0]));
}

TEST_CASE("gemm kernel: empty sizes") {
  for (Mode mode : {Mode::Deterministic, Mode::Fast}) {
    CAPTURE(ditto::mode_name(mode));
    // K == 0: C is all zeros (empty sums), in both modes and both dtypes.
    Layout l;
    l.batch = 2;
    l.M = 5;
    l.N = 9;
    l.K = 0;
    Problem<float> pf(l, 1);
    CHECK(same_bits(pf.run(mode), pf.naive()));
    Problem<double> pd(l, 2);
    CHECK(same_bits(pd.run(mode), pd.naive()));
    // M == 0 or N == 0: nothing is written (C is empty; the sentinel outside stays).
    for (auto [M, N] : {std::pair<i64, i64>{0, 4}, {4, 0}}) {
      std::vector<float> a(16, 1.0f), b(16, 1.0f), c(16, 5.0f);
      GemmArgs g;
      g.M = M;
      g.N = N;
      g.K = 3;
      g.A = a.data();
      g.a_rs = 3;
      g.a_cs = 1;
      g.B = b.data();
      g.b_rs = 4;
      g.b_cs = 1;
      g.C = c.data();
      g.c_rs = 4;
      g.c_cs = 1;
      ditto::kernels::gemm_kernels(ditto::Device::cpu()).gemm(g, mode);
      CHECK(c == std::vector<float>(16, 5.0f));
    }
  }
}

TEST_CASE("gemm kernel: bad dtype throws ditto::Error") {
  std::vector<std::int64_t> a(4, 1), b(4, 1), c(4, 0);
  GemmArgs g;
  g.M = g.N = g.K = 2;
  g.A = a.data();
  g.a_rs = 2;
  g.a_cs = 1;
  g.B = b.data();
  g.b_rs = 2;
  g.b_cs = 1;
  g.C = c.data();
  g.c_rs = 2;
  g.c_cs = 1;
  for (DType t : {DType::i64, DType::u8}) {
    g.dtype = t;
    CHECK_THROWS_AS(ditto::kernels::gemm_kernels(ditto::Device::cpu()).gemm(g, Mode::Deterministic),
                    ditto::Error);
    CHECK_THROWS_AS(ditto::kernels::gemm_kernels(ditto::Device::cpu()).gemm(g, Mode::Fast),
                    ditto::Error);
  }
  CHECK(c == std::vector<std::int64_t>(4, 0));
}

TEST_SUITE_END();
