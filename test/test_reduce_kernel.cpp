// ditto — tests of the CPU reduction kernels (kernels/cpu/reduce.cpp) and of the canonical order
// (kernels/cpu/canonical_sum.h). Deterministic sums/max/min must equal, bit for bit, a literal
// scalar implementation of the canonical chunked tree, for every layout and thread count. Fast
// sums are checked against a long-double reference within an error bound; integer sums exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/reduce.h"
#include "test/fixtures/views.h"

namespace {

using ditto::DType;
using ditto::Mode;
using ditto::kernels::ReduceOp;
using ditto::kernels::View;
using namespace ditto::test_fixtures;  // test/fixtures/views.h

// ---- the canonical order, written as literally as possible from docs/determinism.md ----

/// Canonical reduction of x[0..n) with lanes starting at `init` and combine op `op`.
template <class T, class F>
T ref_canonical(const std::vector<T>& x, T init, F op) {
  const i64 n = static_cast<i64>(x.size());
  if (n == 0) return init;
  const i64 m = (n + 1023) / 1024;
  std::vector<T> partial(static_cast<std::size_t>(m));
  for (i64 c = 0; c < m; ++c) {
    T p[256];
    for (int j = 0; j < 256; ++j) p[j] = init;
    for (int t = 0; t < 4; ++t) {
      for (int j = 0; j < 256; ++j) {
        const i64 idx = 1024 * c + 256 * t + j;
        if (idx < n) p[j] = op(p[j], x[static_cast<std::size_t>(idx)]);
      }
    }
    for (int s = 128; s >= 1; s /= 2) {
      for (int j = 0; j < s; ++j) p[j] = op(p[j], p[j + s]);
    }
    partial[static_cast<std::size_t>(c)] = p[0];
  }
  if (m == 1) return partial[0];
  return ref_canonical(partial, init, op);
}

template <class T>
T ref_sum(const std::vector<T>& x) {
  return ref_canonical<T>(x, T(+0.0), [](T a, T b) { return a + b; });
}
template <class T>
T ref_max(const std::vector<T>& x) {
  T init = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  return ref_canonical<T>(x, init, [](T a, T b) { return (a > b || a != a) ? a : b; });
}
template <class T>
T ref_min(const std::vector<T>& x) {
  T init = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::max();
  return ref_canonical<T>(x, init, [](T a, T b) { return (a < b || a != a) ? a : b; });
}
/// Index of the first maximal (kMax) / minimal element; NaN beats everything, first NaN wins.
template <class T>
i64 ref_arg(const std::vector<T>& x, bool is_max) {
  i64 best = 0;
  for (std::size_t i = 1; i < x.size(); ++i) {
    const T b = x[static_cast<std::size_t>(best)], v = x[i];
    if (b != b) break;  // the first NaN wins
    if (v != v || (is_max ? v > b : v < b)) best = static_cast<i64>(i);
  }
  return best;
}

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// Random values spanning ~2^±12 in magnitude so that rounding actually depends on the order.
template <class T>
std::vector<T> random_values(i64 n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_int_distribution<int> ed(-12, 12);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = static_cast<T>(std::ldexp(nd(rng), ed(rng)));
  return v;
}

View make_view(const void* data, DType dt, const std::vector<i64>& shape,
               const std::vector<i64>& strides) {
  View v;
  v.data = const_cast<void*>(data);
  v.dtype = dt;
  v.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = shape[static_cast<std::size_t>(d)];
    v.strides[d] = strides[static_cast<std::size_t>(d)];
  }
  return v;
}

/// A reduction problem over a strided view of `data`: `shape`/`strides` describe the logical
/// tensor, `red` flags the reduced dims. The kernel sees [kept..., reduced...].
struct Case {
  std::vector<i64> shape, strides;
  std::vector<bool> red;
  i64 out_pad = 1;  // output stride multiplier (1 = contiguous output)
};

/// Logical reduced ranges, one per output (kept dims row-major), as vectors of elements.
template <class T>
std::vector<std::vector<T>> ranges_of(const std::vector<T>& data, const Case& cs) {
  std::vector<int> kept, reduced;
  for (int d = 0; d < static_cast<int>(cs.shape.size()); ++d) {
    (cs.red[static_cast<std::size_t>(d)] ? reduced : kept).push_back(d);
  }
  auto count = [&](const std::vector<int>& dims) {
    i64 n = 1;
    for (int d : dims) n *= cs.shape[static_cast<std::size_t>(d)];
    return n;
  };
  auto offset = [&](const std::vector<int>& dims, i64 lin) {
    i64 off = 0;
    for (int i = static_cast<int>(dims.size()) - 1; i >= 0; --i) {
      const auto d = static_cast<std::size_t>(dims[static_cast<std::size_t>(i)]);
      off += (lin % cs.shape[d]) * cs.strides[d];
      lin /= cs.shape[d];
    }
    return off;
  };
  const i64 K = count(kept), n = count(reduced);
  std::vector<std::vector<T>> out(static_cast<std::size_t>(K));
  for (i64 o = 0; o < K; ++o) {
    const i64 base = offset(kept, o);
    for (i64 k = 0; k < n; ++k) {
      out[static_cast<std::size_t>(o)].push_back(
          data[static_cast<std::size_t>(base + offset(reduced, k))]);
    }
  }
  return out;
}

/// Runs the kernel on case `cs` and returns the K outputs in kept row-major order.
template <class In, class Out>
std::vector<Out> run_kernel(ReduceOp op, Mode mode, const std::vector<In>& data, const Case& cs) {
  std::vector<i64> shape, strides;
  std::vector<i64> oshape;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t d = 0; d < cs.shape.size(); ++d) {
      if (cs.red[d] != (pass == 1)) continue;
      shape.push_back(cs.shape[d]);
      strides.push_back(cs.strides[d]);
      if (pass == 0) oshape.push_back(cs.shape[d]);
    }
  }
  i64 K = 1;
  for (i64 s : oshape) K *= s;
  std::vector<i64> ostrides(oshape.size());
  i64 st = cs.out_pad;
  for (int d = static_cast<int>(oshape.size()) - 1; d >= 0; --d) {
    ostrides[static_cast<std::size_t>(d)] = st;
    st *= oshape[static_cast<std::size_t>(d)];
  }
  std::vector<Out> buf(static_cast<std::size_t>(std::max<i64>(K, 1) * cs.out_pad), Out(7));
  const View in = make_view(data.data(), dtype_of<In>(), shape, strides);
  const View out = make_view(buf.data(), dtype_of<Out>(), oshape, ostrides);
  ditto::kernels::reduce_kernels(ditto::Device::cpu())
      .reduce(op, mode, in, static_cast<int>(oshape.size()), out);
  std::vector<Out> res(static_cast<std::size_t>(K));
  for (i64 o = 0; o < K; ++o)
    res[static_cast<std::size_t>(o)] = buf[static_cast<std::size_t>(o * cs.out_pad)];
  return res;
}

/// Contiguous row-major case over `shape` with the flagged dims reduced.
Case contiguous_case(std::vector<i64> shape, std::vector<bool> red) {
  Case cs{shape, std::vector<i64>(shape.size()), red};
  i64 st = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    cs.strides[static_cast<std::size_t>(d)] = st;
    st *= shape[static_cast<std::size_t>(d)];
  }
  return cs;
}

/// The multi-output layouts every test runs: inner, outer, middle and mixed reduced dims,
/// permuted (transposed) storage, a broadcast dim, padded output strides.
std::vector<std::pair<std::string, Case>> layouts() {
  std::vector<std::pair<std::string, Case>> v;
  v.push_back({"(64,3000) dim1", contiguous_case({64, 3000}, {false, true})});
  v.push_back({"(3000,64) dim0", contiguous_case({3000, 64}, {true, false})});
  v.push_back({"(5000,40) dim0", contiguous_case({5000, 40}, {true, false})});
  v.push_back({"(5,2100,7) dim1", contiguous_case({5, 2100, 7}, {false, true, false})});
  v.push_back({"(6,300,20) dims0,2", contiguous_case({6, 300, 20}, {true, false, true})});
  v.push_back({"(6,300,20) dims1,2", contiguous_case({6, 300, 20}, {false, true, true})});
  v.push_back({"(6,300,20) all", contiguous_case({6, 300, 20}, {true, true, true})});
  v.push_back({"(33,17,9) dim0", contiguous_case({33, 17, 9}, {true, false, false})});
  v.push_back({"(1,4097,1) dim1", contiguous_case({1, 4097, 1}, {false, true, false})});
  // Contiguous inner-dims ranges whose length is no multiple of 16 or 256 (partial chunks take
  // the vectorised runtime-length path; 784 is a 28x28 image).
  v.push_back({"(40,28,28) dims1,2", contiguous_case({40, 28, 28}, {false, true, true})});
  v.push_back({"(70,91) dim1", contiguous_case({70, 91}, {false, true})});
  v.push_back({"(9,1041) dim1", contiguous_case({9, 1041}, {false, true})});
  v.push_back({"(5,16,28) dim1", contiguous_case({5, 16, 28}, {false, true, false})});
  // Permuted storage: logical (A,B,C) stored as contiguous (C,A,B).
  {
    const i64 A = 30, B = 70, C = 50;
    Case cs{{A, B, C}, {B, 1, A * B}, {false, true, false}};
    v.push_back({"permuted (30,70,50) dim1", cs});
    cs.red = {true, false, true};
    v.push_back({"permuted (30,70,50) dims0,2", cs});
    cs.red = {true, true, true};
    v.push_back({"permuted (30,70,50) all", cs});
    cs.red = {false, false, true};
    cs.out_pad = 3;
    v.push_back({"permuted (30,70,50) dim2 padded out", cs});
  }
  // Broadcast (stride 0) reduced dim and kept dim.
  v.push_back({"broadcast (4,3000) dim1", Case{{4, 3000}, {1500, 0}, {false, true}}});
  v.push_back({"broadcast (2100,9) dim0", Case{{2100, 9}, {0, 1}, {true, false}}});
  return v;
}

/// Storage size needed by a case (max offset + 1).
i64 storage_size(const Case& cs) {
  i64 mx = 0;
  for (std::size_t d = 0; d < cs.shape.size(); ++d) mx += (cs.shape[d] - 1) * cs.strides[d];
  return mx + 1;
}

const std::vector<i64> kLengths = {
    0, 1, 7, 16, 17, 33, 255, 256, 257, 784, 1023, 1024, 1025, 4097, 1000003, (i64{1} << 20) + 5};

template <class T>
T reduce_1d(ReduceOp op, Mode mode, const std::vector<T>& x) {
  Case cs{{static_cast<i64>(x.size())}, {1}, {true}};
  if (x.empty()) cs.shape = {0};
  return run_kernel<T, T>(op, mode, x, cs)[0];
}

struct ThreadGuard {
  int prev = ditto::get_num_threads();
  ~ThreadGuard() { ditto::set_num_threads(prev); }
};

}  // namespace

TEST_SUITE_BEGIN("reduce_kernel");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE_TEMPLATE("reduce: deterministic sum equals the canonical reference, 1-D", T, float,
                   double) {
  for (i64 n : kLengths) {
    CAPTURE(n);
    const auto x = random_values<T>(n, 1000 + static_cast<std::uint64_t>(n));
    const T ref = ref_sum(x);
    CHECK(same_bits(reduce_1d(ReduceOp::sum, Mode::Deterministic, x), ref));
    // The header templates give the same bits (contiguous, strided, load-function forms).
    CHECK(same_bits(ditto::kernels::cpu::canonical_sum(x.data(), n), ref));
    if (n <= 5000) {
      std::vector<T> spread(static_cast<std::size_t>(3 * n + 1), T(99));
      for (i64 i = 0; i < n; ++i)
        spread[static_cast<std::size_t>(3 * i)] = x[static_cast<std::size_t>(i)];
      CHECK(same_bits(ditto::kernels::cpu::canonical_sum_strided(spread.data(), n, i64{3}), ref));
      CHECK(same_bits(ditto::kernels::cpu::canonical_sum_fn<T>(
                          n, [&](i64 i) { return x[static_cast<std::size_t>(i)]; }),
                      ref));
    }
  }
}

TEST_CASE_TEMPLATE("reduce: sum special values follow the spec", T, float, double) {
  const T inf = std::numeric_limits<T>::infinity();
  // n == 0 -> +0; a sum of -0s is +0 (lanes start at +0).
  const T empty = reduce_1d(ReduceOp::sum, Mode::Deterministic, std::vector<T>{});
  CHECK(empty == 0);
  CHECK_FALSE(std::signbit(empty));
  const T negz = reduce_1d(ReduceOp::sum, Mode::Deterministic, std::vector<T>(3000, T(-0.0)));
  CHECK(negz == 0);
  CHECK_FALSE(std::signbit(negz));
  // Cancellation, infinities and NaN, in several chunks, bitwise against the reference.
  auto x = random_values<T>(5000, 7);
  x[10] = T(1e30);
  x[300] = T(-1e30);
  CHECK(same_bits(reduce_1d(ReduceOp::sum, Mode::Deterministic, x), ref_sum(x)));
  x[2000] = inf;
  CHECK(reduce_1d(ReduceOp::sum, Mode::Deterministic, x) == inf);
  x[4500] = -inf;
  CHECK(std::isnan(reduce_1d(ReduceOp::sum, Mode::Deterministic, x)));
  // The order really is the canonical one: ((1 + 2^-p) + ...) differs from a sequential sum.
  std::vector<T> y(2048, T(0));
  y[0] = T(1);
  for (int i = 1; i < 2048; ++i)
    y[static_cast<std::size_t>(i)] = std::numeric_limits<T>::epsilon() / 2;
  T seq = 0;
  for (T v : y) seq += v;
  const T got = reduce_1d(ReduceOp::sum, Mode::Deterministic, y);
  CHECK(same_bits(got, ref_sum(y)));
  CHECK(got != seq);  // sequential order loses every half-ulp; the tree keeps them
}

TEST_CASE_TEMPLATE("reduce: deterministic multi-output sums/max/min are canonical, all layouts", T,
                   float, double) {
  for (const auto& [name, cs] : layouts()) {
    CAPTURE(name);
    auto data = random_values<T>(storage_size(cs), 42);
    data[5] = T(-0.0);
    data[6] = T(+0.0);
    const auto ranges = ranges_of(data, cs);
    const auto sum = run_kernel<T, T>(ReduceOp::sum, Mode::Deterministic, data, cs);
    const auto mx = run_kernel<T, T>(ReduceOp::max, Mode::Deterministic, data, cs);
    const auto mn = run_kernel<T, T>(ReduceOp::min, Mode::Deterministic, data, cs);
    const auto amx = run_kernel<T, i64>(ReduceOp::argmax, Mode::Deterministic, data, cs);
    const auto amn = run_kernel<T, i64>(ReduceOp::argmin, Mode::Deterministic, data, cs);
    REQUIRE(sum.size() == ranges.size());
    int bad = 0;
    for (std::size_t o = 0; o < ranges.size(); ++o) {
      bad += !same_bits(sum[o], ref_sum(ranges[o]));
      bad += !same_bits(mx[o], ref_max(ranges[o]));
      bad += !same_bits(mn[o], ref_min(ranges[o]));
      bad += amx[o] != ref_arg(ranges[o], true);
      bad += amn[o] != ref_arg(ranges[o], false);
    }
    CHECK(bad == 0);
  }
}

TEST_CASE_TEMPLATE("reduce: deterministic bits do not depend on the thread count", T, float,
                   double) {
  ThreadGuard guard;
  std::vector<Case> cases;
  for (const auto& [name, cs] : layouts()) cases.push_back(cs);
  cases.push_back(Case{{(i64{1} << 20) + 5}, {1}, {true}});
  cases.push_back(contiguous_case({2, 300000}, {false, true}));
  cases.push_back(contiguous_case({300000, 3}, {true, false}));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    const auto data = random_values<T>(storage_size(cases[i]), 9 + i);
    std::vector<std::vector<T>> got[3];
    std::vector<std::vector<i64>> arg[3];
    for (int th = 1; th <= 3; ++th) {
      ditto::set_num_threads(th);
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min}) {
        got[th - 1].push_back(run_kernel<T, T>(op, Mode::Deterministic, data, cases[i]));
      }
      arg[th - 1].push_back(
          run_kernel<T, i64>(ReduceOp::argmax, Mode::Deterministic, data, cases[i]));
    }
    for (int th = 2; th <= 3; ++th) {
      for (std::size_t k = 0; k < got[0].size(); ++k) {
        REQUIRE(got[th - 1][k].size() == got[0][k].size());
        CHECK(std::memcmp(got[th - 1][k].data(), got[0][k].data(), got[0][k].size() * sizeof(T)) ==
              0);
      }
      CHECK(arg[th - 1] == arg[0]);
    }
  }
}

TEST_CASE_TEMPLATE("reduce: deterministic and fast sums within the error bound of long double", T,
                   float, double) {
  ThreadGuard guard;
  const T eps = std::numeric_limits<T>::epsilon();
  auto check_case = [&](const Case& cs, const std::vector<T>& data) {
    const auto ranges = ranges_of(data, cs);
    for (int th = 1; th <= 3; ++th) {
      ditto::set_num_threads(th);
      const auto det = run_kernel<T, T>(ReduceOp::sum, Mode::Deterministic, data, cs);
      const auto fast = run_kernel<T, T>(ReduceOp::sum, Mode::Fast, data, cs);
      for (std::size_t o = 0; o < ranges.size(); ++o) {
        long double exact = 0, abs_sum = 0;
        for (T v : ranges[o]) {
          exact += v;
          abs_sum += std::fabs(static_cast<long double>(v));
        }
        const auto n = static_cast<long double>(ranges[o].size());
        // Canonical tree: each element passes through <= 4 + 8 adds per level, 3 levels at most.
        const long double det_tol = 40.0L * eps * abs_sum + std::numeric_limits<T>::denorm_min();
        // Fast: many outputs are summed sequentially (batched layout: one chain of n adds), so
        // only the classic recursive-summation bound holds, plus the thread combines.
        const long double fast_tol =
            (n + 64) * eps * abs_sum + std::numeric_limits<T>::denorm_min();
        CHECK(std::fabs(det[o] - exact) <= det_tol);
        CHECK(std::fabs(fast[o] - exact) <= fast_tol);
      }
    }
  };
  for (i64 n : kLengths) {
    CAPTURE(n);
    check_case(Case{{n}, {1}, {true}}, random_values<T>(std::max<i64>(n, 1), 77 + n));
  }
  for (const auto& [name, cs] : layouts()) {
    CAPTURE(name);
    check_case(cs, random_values<T>(storage_size(cs), 5));
  }
}

TEST_CASE_TEMPLATE("reduce: max/min/argmax/argmin with NaN, ties and signed zeros", T, float,
                   double) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  auto mx = [](std::vector<T> v) { return reduce_1d(ReduceOp::max, Mode::Deterministic, v); };
  auto mn = [](std::vector<T> v) { return reduce_1d(ReduceOp::min, Mode::Deterministic, v); };
  auto arg = [](ReduceOp op, std::vector<T> v) {
    return run_kernel<T, i64>(op, Mode::Deterministic, v,
                              Case{{static_cast<i64>(v.size())}, {1}, {true}})[0];
  };
  CHECK(mx({1, 5, 3}) == 5);
  CHECK(mn({1, 5, -3}) == -3);
  CHECK(std::isnan(mx({1, nan, 3})));
  CHECK(std::isnan(mn({1, 3, nan})));
  CHECK(mx({-inf, -inf}) == -inf);
  CHECK(mn({inf}) == inf);
  // Zeros: op(a, b) returns b unless a is strictly bigger, so the tree fixes the sign.
  CHECK(std::signbit(mx({T(+0.0), T(-0.0)})));
  CHECK_FALSE(std::signbit(mx({T(-0.0), T(+0.0)})));
  CHECK(std::signbit(mn({T(+0.0), T(-0.0)})));
  CHECK_FALSE(std::signbit(mn({T(-0.0), T(+0.0)})));
  CHECK(arg(ReduceOp::argmax, {3, 1, 3}) == 0);
  CHECK(arg(ReduceOp::argmin, {3, 1, 1, 3}) == 1);
  CHECK(arg(ReduceOp::argmax, {T(-0.0), T(+0.0)}) == 0);
  CHECK(arg(ReduceOp::argmax, {1, nan, 3, nan}) == 1);
  CHECK(arg(ReduceOp::argmin, {1, nan, -3, nan}) == 1);
  CHECK(arg(ReduceOp::argmax, {-inf, -inf}) == 0);
  CHECK(arg(ReduceOp::argmin, {inf, 2, inf}) == 1);
  // Long ranges: the extreme / the first NaN in a later chunk, ties across chunks.
  auto x = random_values<T>(10000, 3);
  x[7000] = T(1e6);
  x[9000] = T(1e6);
  x[100] = T(-1e6);
  x[5000] = T(-1e6);
  CHECK(arg(ReduceOp::argmax, x) == 7000);
  CHECK(arg(ReduceOp::argmin, x) == 100);
  CHECK(same_bits(mx(x), ref_max(x)));
  x[8000] = nan;
  x[8500] = nan;
  CHECK(arg(ReduceOp::argmax, x) == 8000);
  CHECK(arg(ReduceOp::argmin, x) == 8000);
  CHECK(std::isnan(mx(x)));
  CHECK(same_bits(mn(x), ref_min(x)));
  // Many zeros of both signs over several chunks: sign follows the canonical tree exactly.
  std::vector<T> z(3000);
  std::mt19937 rng(11);
  for (auto& e : z) e = (rng() & 1) ? T(-0.0) : T(+0.0);
  CHECK(same_bits(mx(z), ref_max(z)));
  CHECK(same_bits(mn(z), ref_min(z)));
  // Fast mode reuses the deterministic max/min.
  CHECK(same_bits(reduce_1d(ReduceOp::max, Mode::Fast, z), ref_max(z)));
  // NaN scattered through a multi-output, batched layout.
  Case cs = contiguous_case({3000, 40}, {true, false});
  auto d = random_values<T>(storage_size(cs), 8);
  for (int i = 0; i < 30; ++i) d[static_cast<std::size_t>((i * 104729) % d.size())] = nan;
  const auto ranges = ranges_of(d, cs);
  const auto a = run_kernel<T, i64>(ReduceOp::argmax, Mode::Deterministic, d, cs);
  const auto m = run_kernel<T, T>(ReduceOp::max, Mode::Deterministic, d, cs);
  for (std::size_t o = 0; o < ranges.size(); ++o) {
    CHECK(a[o] == ref_arg(ranges[o], true));
    CHECK(same_bits(m[o], ref_max(ranges[o])));
  }
}

TEST_CASE_TEMPLATE("reduce: integer max/min/argmax/argmin", T, std::int64_t, std::uint8_t) {
  const T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  for (const auto& [name, cs] : layouts()) {
    CAPTURE(name);
    std::mt19937_64 rng(21);
    std::vector<T> data(static_cast<std::size_t>(storage_size(cs)));
    for (auto& e : data) e = static_cast<T>(rng() % 50);  // many ties
    data[3] = lo;
    data[4] = hi;
    const auto ranges = ranges_of(data, cs);
    const auto mx = run_kernel<T, T>(ReduceOp::max, Mode::Deterministic, data, cs);
    const auto mn = run_kernel<T, T>(ReduceOp::min, Mode::Fast, data, cs);
    const auto amx = run_kernel<T, i64>(ReduceOp::argmax, Mode::Deterministic, data, cs);
    const auto amn = run_kernel<T, i64>(ReduceOp::argmin, Mode::Deterministic, data, cs);
    int bad = 0;
    for (std::size_t o = 0; o < ranges.size(); ++o) {
      const auto& r = ranges[o];
      bad += mx[o] != *std::max_element(r.begin(), r.end());
      bad += mn[o] != *std::min_element(r.begin(), r.end());
      bad += amx[o] != std::max_element(r.begin(), r.end()) - r.begin();  // first maximum
      bad += amn[o] != std::min_element(r.begin(), r.end()) - r.begin();
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("reduce: u8 and i64 sums are exact (i64 wraps)") {
  ThreadGuard guard;
  // u8 -> i64: 1M values of 255.
  std::vector<std::uint8_t> u(1000000, 255);
  Case cu{{1000000}, {1}, {true}};
  for (int th = 1; th <= 3; ++th) {
    ditto::set_num_threads(th);
    CHECK(run_kernel<std::uint8_t, i64>(ReduceOp::sum, Mode::Deterministic, u, cu)[0] == 255000000);
    CHECK(run_kernel<std::uint8_t, i64>(ReduceOp::sum, Mode::Fast, u, cu)[0] == 255000000);
  }
  for (const auto& [name, cs] : layouts()) {
    CAPTURE(name);
    std::mt19937_64 rng(5);
    std::vector<std::uint8_t> d8(static_cast<std::size_t>(storage_size(cs)));
    std::vector<i64> d64(d8.size());
    for (std::size_t i = 0; i < d8.size(); ++i) {
      d8[i] = static_cast<std::uint8_t>(rng());
      d64[i] = static_cast<i64>(rng());  // full range: sums wrap modulo 2^64
    }
    const auto r8 = ranges_of(d8, cs);
    const auto r64 = ranges_of(d64, cs);
    const auto s8 = run_kernel<std::uint8_t, i64>(ReduceOp::sum, Mode::Deterministic, d8, cs);
    const auto s64 = run_kernel<i64, i64>(ReduceOp::sum, Mode::Fast, d64, cs);
    int bad = 0;
    for (std::size_t o = 0; o < r8.size(); ++o) {
      i64 e8 = 0;
      std::uint64_t e64 = 0;
      for (auto v : r8[o]) e8 += v;
      for (auto v : r64[o]) e64 += static_cast<std::uint64_t>(v);
      bad += s8[o] != e8;
      bad += s64[o] != static_cast<i64>(e64);
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("reduce: empty ranges, empty outputs and bad arguments") {
  // Sum over an empty reduced dim writes 0 to every output; max of nothing is an error.
  std::vector<float> none(1, 5.0f);
  Case cs{{3, 0}, {0, 1}, {false, true}};
  const auto s = run_kernel<float, float>(ReduceOp::sum, Mode::Deterministic, none, cs);
  CHECK(s == std::vector<float>{0.0f, 0.0f, 0.0f});
  CHECK_THROWS_AS((run_kernel<float, float>(ReduceOp::max, Mode::Deterministic, none, cs)),
                  ditto::Error);
  CHECK_THROWS_AS((run_kernel<float, i64>(ReduceOp::argmin, Mode::Deterministic, none, cs)),
                  ditto::Error);
  // Zero outputs: nothing to do, no error.
  Case ck{{0, 5}, {5, 1}, {false, true}};
  CHECK(run_kernel<float, i64>(ReduceOp::argmax, Mode::Deterministic, none, ck).empty());
  // Wrong output dtype / shape.
  std::vector<float> x(6, 1.0f);
  std::vector<double> o(2);
  const View in = make_view(x.data(), DType::f32, {2, 3}, {3, 1});
  CHECK_THROWS_AS(ditto::kernels::reduce_kernels(ditto::Device::cpu())
                      .reduce(ReduceOp::sum, Mode::Deterministic, in, 1,
                              make_view(o.data(), DType::f64, {2}, {1})),
                  ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::reduce_kernels(ditto::Device::cpu())
                      .reduce(ReduceOp::argmax, Mode::Deterministic, in, 1,
                              make_view(o.data(), DType::f32, {2}, {1})),
                  ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::reduce_kernels(ditto::Device::cpu())
                      .reduce(ReduceOp::sum, Mode::Deterministic, in, 1,
                              make_view(o.data(), DType::f32, {3}, {1})),
                  ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::reduce_kernels(ditto::Device::cpu())
                      .reduce(ReduceOp::sum, Mode::Deterministic, in, 3,
                              make_view(o.data(), DType::f32, {2}, {1})),
                  ditto::Error);
}

TEST_SUITE_END();
