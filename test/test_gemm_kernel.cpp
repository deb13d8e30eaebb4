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
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/gemm.h"

namespace {

using ditto::DType;
using ditto::Mode;
using ditto::kernels::GemmArgs;
using i64 = std::int64_t;

/// Shape and memory layout of one test product.
struct Layout {
  i64 batch = 1, M = 1, N = 1, K = 1;
  bool a_t = false, b_t = false, c_t = false;  // store the matrix transposed (column-major)
  bool a_bcast = false, b_bcast = false;       // batch stride 0: one matrix for every batch
  i64 pad = 0;                                 // extra elements after each stored row/column
};

std::string describe(const Layout& l) {
  return std::to_string(l.batch) + "x(" + std::to_string(l.M) + "x" + std::to_string(l.N) + "x" +
         std::to_string(l.K) + ")" + (l.a_t ? " At" : "") + (l.b_t ? " Bt" : "") +
         (l.c_t ? " Ct" : "") + (l.a_bcast ? " A-bcast" : "") + (l.b_bcast ? " B-bcast" : "") +
         (l.pad ? " pad" : "");
}

/// Storage for a (batch, rows, cols) operand laid out as `l` asks; returns strides via args.
template <typename T>
std::vector<T> make_operand(i64 batch, i64 rows, i64 cols, bool transposed, bool bcast, i64 pad,
                            i64& bs, i64& rs, i64& cs) {
  const i64 inner = transposed ? rows : cols, outer = transposed ? cols : rows;
  const i64 ld = inner + pad;
  rs = transposed ? 1 : ld;
  cs = transposed ? ld : 1;
  const i64 per = outer * ld;
  bs = bcast ? 0 : per;
  return std::vector<T>(static_cast<std::size_t>((bcast ? 1 : batch) * per));
}

/// A product with random operands (values in [-1, 1], some exact zeros and negative zeros so
/// signed-zero handling is exercised) and C pre-filled with a sentinel.
template <typename T>
struct Problem {
  Layout l;
  std::vector<T> a, b, c;
  GemmArgs args;

  Problem(const Layout& layout, std::uint32_t seed) : l(layout) {
    args.dtype = std::is_same_v<T, float> ? DType::f32 : DType::f64;
    args.batch = l.batch;
    args.M = l.M;
    args.N = l.N;
    args.K = l.K;
    a = make_operand<T>(l.batch, l.M, l.K, l.a_t, l.a_bcast, l.pad, args.a_bs, args.a_rs,
                        args.a_cs);
    b = make_operand<T>(l.batch, l.K, l.N, l.b_t, l.b_bcast, l.pad, args.b_bs, args.b_rs,
                        args.b_cs);
    c = make_operand<T>(l.batch, l.M, l.N, l.c_t, false, l.pad, args.c_bs, args.c_rs, args.c_cs);
    std::mt19937 gen(seed);
    std::uniform_real_distribution<T> dist(-1, 1);
    for (auto* v : {&a, &b}) {
      for (T& x : *v) {
        const auto r = gen() % 16;
        x = r == 0 ? T(0) : r == 1 ? -T(0) : dist(gen);
      }
    }
    std::fill(c.begin(), c.end(), T(12345));  // sentinel: padding must stay untouched
    args.A = a.data();
    args.B = b.data();
    args.C = c.data();
  }

  T at_a(i64 bi, i64 i, i64 k) const { return a[bi * args.a_bs + i * args.a_rs + k * args.a_cs]; }
  T at_b(i64 bi, i64 k, i64 j) const { return b[bi * args.b_bs + k * args.b_rs + j * args.b_cs]; }
  i64 c_index(i64 bi, i64 i, i64 j) const {
    return bi * args.c_bs + i * args.c_rs + j * args.c_cs;
  }

  /// The canonical order spelled out: acc = 0, then acc = fma(a, b, acc) for k ascending.
  std::vector<T> naive() const {
    std::vector<T> out(c.size(), T(12345));
    for (i64 bi = 0; bi < l.batch; ++bi)
      for (i64 i = 0; i < l.M; ++i)
        for (i64 j = 0; j < l.N; ++j) {
          T acc = 0;
          for (i64 k = 0; k < l.K; ++k) acc = std::fma(at_a(bi, i, k), at_b(bi, k, j), acc);
          out[c_index(bi, i, j)] = acc;
        }
    return out;
  }

  std::vector<T> run(Mode mode) {
    std::fill(c.begin(), c.end(), T(12345));
    ditto::kernels::cpu::gemm(args, mode);
    return c;
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
  Layout l;
  l.batch = 3;
  l.M = 19;
  l.N = 23;
  l.K = 29;
  l.a_bcast = true;  // broadcast A over the batch
  v.push_back(l);
  l.a_bcast = false;
  l.b_bcast = true;
  v.push_back(l);
  l.b_bcast = false;
  l.a_t = l.b_t = true;  // transposed views of A and B
  v.push_back(l);
  l.a_t = l.b_t = false;
  l.c_t = true;  // C written through a transposed view
  v.push_back(l);
  l.a_t = true;
  l.pad = 3;  // row strides larger than the row length
  v.push_back(l);
  Layout big;  // several K blocks, edge tiles in M and N, all strides unusual
  big.batch = 2;
  big.M = 45;
  big.N = 70;
  big.K = 531;
  big.a_t = big.b_t = big.c_t = true;
  big.pad = 1;
  v.push_back(big);
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
          long double ref = 0, mag = 0;
          for (i64 k = 0; k < l.K; ++k) {
            const long double x = p.at_a(bi, i, k), y = p.at_b(bi, k, j);
            ref += x * y;
            mag += std::fabs(x * y);
          }
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
      if (!is_elem[idx] && out[idx] != T(12345)) ++clobbered;
    CHECK(clobbered == 0);
  }
}

}  // namespace

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
  ditto::kernels::cpu::gemm(g, Mode::Deterministic);
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
      ditto::kernels::cpu::gemm(g, mode);
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
    CHECK_THROWS_AS(ditto::kernels::cpu::gemm(g, Mode::Deterministic), ditto::Error);
    CHECK_THROWS_AS(ditto::kernels::cpu::gemm(g, Mode::Fast), ditto::Error);
  }
  CHECK(c == std::vector<std::int64_t>(4, 0));
}
