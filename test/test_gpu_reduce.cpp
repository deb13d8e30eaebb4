// ditto — tests of the GPU reduction kernels (kernels/cuda/reduce.cuh) on the sim device.
// Deterministic mode must equal cpu::reduce (the canonical tree of docs/determinism.md) bit for
// bit for every op, dtype, shape, stride pattern, schedule seed, worker count and forced grid
// size; a few results are also checked against values known by hand (so a bug shared by both
// devices fails too). Fast mode (one atomicAdd per block) is checked against a long-double
// reference within the summation error bound, and shown to be honestly nondeterministic on a
// contention-heavy sum.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/common/reduce_args.h"
#include "kernels/launch_config.h"
#include "kernels/reduce.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/views.h"

namespace {

using ditto::DType;
using ditto::Mode;
using ditto::kernels::LaunchOverride;
using ditto::kernels::LaunchOverrideGuard;
using ditto::kernels::ReduceOp;
using ditto::kernels::View;
using ditto::sim::Order;
using ditto::sim::Schedule;
using ditto::sim::ScheduleGuard;
using namespace ditto::test_fixtures;  // test/fixtures/views.h

/// A reduction problem over a row-major tensor of shape `shape` held in `x`, viewed through
/// the dim order `perm` (in = [kept dims..., reduced dims...]); the first n_kept dims of that
/// order are kept. `out_pad` spaces the outputs out (stride multiplier), leaving gaps that
/// must stay untouched. sim memory is host memory: the same buffers serve cpu and sim.
template <class T>
struct Case {
  std::vector<T> x;
  std::vector<i64> shape, perm;
  int n_kept = 0;
  i64 out_pad = 1;
  i64 stride0_dim = -1;  // a dim of `shape` to broadcast (stride 0), -1 for none

  View in_view() const {
    View v;
    v.data = const_cast<T*>(x.data());
    v.dtype = dtype_of<T>();
    v.ndim = static_cast<int>(shape.size());
    std::vector<i64> st(shape.size());
    i64 s = 1;
    for (int d = v.ndim - 1; d >= 0; --d) {
      st[d] = s;
      s *= shape[d];
    }
    for (int d = 0; d < v.ndim; ++d) {
      v.shape[d] = shape[perm[d]];
      v.strides[d] = perm[d] == stride0_dim ? 0 : st[perm[d]];
    }
    return v;
  }
  i64 outputs() const {
    i64 k = 1;
    for (int d = 0; d < n_kept; ++d) k *= shape[perm[d]];
    return k;
  }
  std::string describe() const {
    std::string s = "shape (";
    for (i64 e : shape) s += std::to_string(e) + ",";
    s += ") perm (";
    for (i64 e : perm) s += std::to_string(e) + ",";
    return s + ") kept " + std::to_string(n_kept) + (out_pad > 1 ? " padded-out" : "") +
           (stride0_dim >= 0 ? " broadcast" : "");
  }

  /// Output buffer (raw bytes; element type = the op's output type) filled with 0xAB bytes.
  template <class O>
  std::vector<O> run(ReduceOp op, Mode mode, bool on_sim) const {
    const i64 K = outputs();
    std::vector<O> out(static_cast<std::size_t>(K * out_pad));
    if (!out.empty()) std::memset(out.data(), 0xAB, out.size() * sizeof(O));  // data() may be null
    View o;
    o.data = out.data();
    o.dtype = dtype_of<O>();
    o.ndim = n_kept;
    i64 s = out_pad;
    for (int d = n_kept - 1; d >= 0; --d) {
      o.shape[d] = shape[perm[d]];
      o.strides[d] = s;
      s *= o.shape[d];
    }
    if (on_sim) {
      ditto::kernels::reduce_kernels(ditto::Device::sim()).reduce(op, mode, in_view(), n_kept, o);
    } else {
      ditto::kernels::reduce_kernels(ditto::Device::cpu()).reduce(op, mode, in_view(), n_kept, o);
    }
    return out;
  }
};

/// Bitwise equality, except that any NaN equals any NaN (payloads are not promised: GPUs
/// return a canonical NaN).
template <class O>
bool same_bits(const std::vector<O>& a, const std::vector<O>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if constexpr (std::is_floating_point_v<O>) {
      if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    }
    if (std::memcmp(&a[i], &b[i], sizeof(O)) != 0) return false;
  }
  return true;
}

/// Output element type of (op, input type).
template <class T, ReduceOp Op>
using OutT = std::conditional_t<(Op == ReduceOp::argmax || Op == ReduceOp::argmin) ||
                                    (Op == ReduceOp::sum && std::is_integral_v<T>),
                                std::int64_t, T>;

template <class T, ReduceOp Op>
void expect_sim_equals_cpu_op(const Case<T>& c) {
  using O = OutT<T, Op>;
  CAPTURE(ditto::kernels::reduce_args::op_name(Op));
  const std::vector<O> want = c.template run<O>(Op, Mode::Deterministic, false);
  const std::vector<O> got = c.template run<O>(Op, Mode::Deterministic, true);
  CHECK(same_bits(got, want));
}

/// Deterministic sim == cpu bitwise for the given ops.
template <class T>
void expect_sim_equals_cpu(const Case<T>& c, bool sum_only = false) {
  CAPTURE(c.describe());
  expect_sim_equals_cpu_op<T, ReduceOp::sum>(c);
  if (sum_only) return;
  expect_sim_equals_cpu_op<T, ReduceOp::max>(c);
  expect_sim_equals_cpu_op<T, ReduceOp::min>(c);
  expect_sim_equals_cpu_op<T, ReduceOp::argmax>(c);
  expect_sim_equals_cpu_op<T, ReduceOp::argmin>(c);
}

/// Random values: floats of mixed sign and magnitude (10^-3 .. 10^3) with some exact ±0 and
/// repeated values (ties for argmax); i64 spanning the whole range (sums wrap); u8 uniform.
template <class T>
std::vector<T> random_values(i64 n, std::uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (T& e : v) {
    const auto r = gen();
    if constexpr (std::is_floating_point_v<T>) {
      const double mag = std::pow(10.0, static_cast<double>(r % 7) - 3.0);
      const double u = static_cast<double>(r >> 11) * 0x1p-53;
      e = (r % 29 == 0) ? T(0) : (r % 31 == 0) ? -T(0) : (r % 37 == 0) ? T(1.5) : T(u * mag);
      if ((r >> 7) & 1) e = -e;
    } else {
      e = static_cast<T>(r);
    }
  }
  return v;
}

template <class T>
Case<T> one_dim(i64 n, std::uint32_t seed) {
  Case<T> c;
  c.shape = {n};
  c.perm = {0};
  c.n_kept = 0;
  c.x = random_values<T>(n, seed);
  return c;
}

template <class T>
Case<T> nd_case(std::vector<i64> shape, std::vector<i64> perm, int n_kept, std::uint32_t seed) {
  Case<T> c;
  c.shape = std::move(shape);
  c.perm = std::move(perm);
  c.n_kept = n_kept;
  i64 n = 1;
  for (i64 e : c.shape) n *= e;
  c.x = random_values<T>(n, seed);
  return c;
}

/// The multi-output layouts: reduced dims inner, outer, in the middle, two reduced dims that
/// cannot merge, a permuted (transposed) input, a broadcast (stride-0) reduced dim, strided
/// outputs, many tiny ranges, size-1 ranges, and a full reduction of a 3-d tensor.
template <class T>
std::vector<Case<T>> multi_cases() {
  std::vector<Case<T>> v;
  std::uint32_t s = 100;
  v.push_back(nd_case<T>({7, 1500}, {0, 1}, 1, s++));        // inner: K 7, n 1500
  v.push_back(nd_case<T>({1030, 9}, {1, 0}, 1, s++));        // outer: stride 9
  v.push_back(nd_case<T>({4, 1100, 3}, {0, 2, 1}, 2, s++));  // middle: K 12, stride 3
  v.push_back(nd_case<T>({5, 3, 700}, {1, 0, 2}, 1, s++));   // reduced (5, 700), unmergeable
  v.push_back(nd_case<T>({33, 40, 2}, {2, 1, 0}, 1, s++));   // permuted: reduced (40, 33)
  v.push_back(nd_case<T>({300, 7}, {0, 1}, 1, s++));         // many outputs, n 7
  v.push_back(nd_case<T>({6, 1, 5}, {0, 2, 1}, 2, s++));     // n 1 per output
  v.push_back(nd_case<T>({3, 50, 45}, {0, 1, 2}, 0, s++));   // full reduction, n 6750
  Case<T> pad = nd_case<T>({9, 2100}, {0, 1}, 1, s++);       // outputs spaced out
  pad.out_pad = 3;
  v.push_back(pad);
  Case<T> bc = nd_case<T>({4, 1300}, {0, 1}, 1, s++);  // reduced dim broadcast
  bc.stride0_dim = 1;
  v.push_back(bc);
  Case<T> three = nd_case<T>({2, 3, 4, 300}, {3, 1, 0, 2}, 2, s++);  // kept (300, 3), red (2, 4)
  three.out_pad = 2;
  v.push_back(three);
  return v;
}

TEST_SUITE_BEGIN("gpu_reduce");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE("gpu reduce: deterministic sim equals cpu bitwise, 1-d, every op and dtype") {
  ScheduleGuard g(Schedule{Order::kRandom, 3});
  std::uint32_t seed = 1;
  for (i64 n : {1, 7, 1023, 1024, 1025, 5000}) {
    CAPTURE(n);
    expect_sim_equals_cpu(one_dim<float>(n, seed++));
    expect_sim_equals_cpu(one_dim<double>(n, seed++));
    expect_sim_equals_cpu(one_dim<std::int64_t>(n, seed++));
    expect_sim_equals_cpu(one_dim<std::uint8_t>(n, seed++));
  }
}

TEST_CASE("gpu reduce: deterministic sim equals cpu bitwise, long sums (2 and 3 tree levels)") {
  ScheduleGuard g(Schedule{Order::kRandom, 5});
  expect_sim_equals_cpu(one_dim<float>(1000003, 7), true);  // 977 chunks: 2 levels
  expect_sim_equals_cpu(one_dim<double>(1000003, 8), true);
  expect_sim_equals_cpu(one_dim<std::int64_t>(1000003, 9), true);
  expect_sim_equals_cpu(one_dim<std::uint8_t>(1000003, 10), true);
  expect_sim_equals_cpu(one_dim<float>((i64{1} << 20) + 1, 11), true);  // 1025 chunks: 3 levels
  // Two outputs of 2^20 + 1 strided elements each (reduce dim 0 of (2^20 + 1, 2)): 3 levels.
  expect_sim_equals_cpu(nd_case<float>({(i64{1} << 20) + 1, 2}, {1, 0}, 1, 13), true);
  // max and argmax over more than 1024 chunks too (the pair partials through 3 levels).
  const Case<float> c = one_dim<float>((i64{1} << 20) + 1, 12);
  expect_sim_equals_cpu_op<float, ReduceOp::max>(c);
  expect_sim_equals_cpu_op<float, ReduceOp::argmin>(c);
}

TEST_CASE("gpu reduce: deterministic sim equals cpu bitwise, multi-output layouts") {
  ScheduleGuard g(Schedule{Order::kRandom, 8});
  for (const auto& c : multi_cases<float>()) expect_sim_equals_cpu(c);
  for (const auto& c : multi_cases<double>()) expect_sim_equals_cpu(c);
  for (const auto& c : multi_cases<std::int64_t>()) expect_sim_equals_cpu(c, true);
  for (const auto& c : multi_cases<std::uint8_t>()) expect_sim_equals_cpu(c, true);
}

TEST_CASE("gpu reduce: bits independent of schedule seed, workers and grid size") {
  const std::vector<LaunchOverride> launches = {{0, 0}, {1, 0}, {3, 0}, {64, 0}, {3, 32}};
  auto check = [&](const auto& c, bool sum_only) {
    using T = typename std::decay_t<decltype(c.x)>::value_type;
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      for (const LaunchOverride& o : launches) {
        CAPTURE(seed);
        CAPTURE(o.blocks);
        ScheduleGuard g(Schedule{Order::kRandom, seed}, seed % 2 == 0 ? 2 : 1);
        LaunchOverrideGuard lo(o);
        expect_sim_equals_cpu<T>(c, sum_only);
      }
    }
    ScheduleGuard g(Schedule{Order::kInOrder, 0}, 1);
    expect_sim_equals_cpu<T>(c, sum_only);
  };
  check(one_dim<float>(1025, 21), false);
  check(one_dim<double>(7000, 22), false);
  const auto multi = multi_cases<float>();
  check(multi[2], false);  // middle dim, 12 outputs x 2 chunks
  check(multi[3], false);  // two unmergeable reduced dims
  check(multi_cases<std::int64_t>()[4], true);
  // Every multi-output layout under a few configurations.
  for (const auto& c : multi) {
    for (std::uint64_t seed : {31, 32, 33}) {
      CAPTURE(seed);
      ScheduleGuard g(Schedule{Order::kRandom, seed}, seed == 33 ? 2 : 1);
      LaunchOverrideGuard lo({seed == 31 ? 1 : seed == 32 ? 3 : 64, 0});
      expect_sim_equals_cpu(c);
    }
  }
  // The long sum under fewer configurations (each launch simulates ~250k threads).
  const Case<float> big = one_dim<float>(1000003, 23);
  const std::vector<float> want = big.run<float>(ReduceOp::sum, Mode::Deterministic, false);
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    ScheduleGuard g(Schedule{Order::kRandom, seed});
    LaunchOverrideGuard lo({seed == 1 ? 1 : seed == 2 ? 3 : seed == 3 ? 64 : 0, 0});
    CAPTURE(seed);
    CHECK(same_bits(big.run<float>(ReduceOp::sum, Mode::Deterministic, true), want));
  }
}

/// A 1-d float case with the given values.
template <class T>
Case<T> values_case(std::vector<T> x) {
  Case<T> c;
  c.shape = {static_cast<i64>(x.size())};
  c.perm = {0};
  c.x = std::move(x);
  return c;
}

template <class T>
T nan_with_payload(std::uint64_t payload, bool negative) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  Bits b;
  const T q = std::numeric_limits<T>::quiet_NaN();
  std::memcpy(&b, &q, sizeof(T));
  b |= static_cast<Bits>(payload);
  if (negative) b |= Bits{1} << (8 * sizeof(T) - 1);
  T r;
  std::memcpy(&r, &b, sizeof(T));
  return r;
}

template <class T>
void check_special_values() {
  ScheduleGuard g(Schedule{Order::kRandom, 17});
  const T inf = std::numeric_limits<T>::infinity();
  // All -0: the canonical sum starts lanes at +0, so the sum is +0 (sign bit clear).
  for (i64 n : {1, 5, 1025}) {
    const Case<T> c = values_case<T>(std::vector<T>(static_cast<std::size_t>(n), -T(0)));
    const auto s = c.template run<T>(ReduceOp::sum, Mode::Deterministic, true);
    CHECK(s[0] == 0);
    CHECK_FALSE(std::signbit(s[0]));
    expect_sim_equals_cpu(c);
  }
  // Signed zeros mixed with negatives: max is a zero whose sign the tree decides.
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937 gen(seed);
    std::vector<T> x(3000);
    for (T& e : x) e = gen() % 3 == 0 ? -T(1) : (gen() % 2 ? T(0) : -T(0));
    expect_sim_equals_cpu(values_case<T>(x));
    for (T& e : x) e = -e;  // and min
    expect_sim_equals_cpu(values_case<T>(x));
  }
  // NaNs of different payloads and signs at several positions; inf; ties.
  std::vector<T> x = random_values<T>(2500, 5);
  x[1500] = nan_with_payload<T>(3, false);
  x[700] = nan_with_payload<T>(5, true);
  x[2400] = nan_with_payload<T>(9, false);
  x[10] = inf;
  x[20] = -inf;
  const Case<T> nan_case = values_case<T>(x);
  expect_sim_equals_cpu(nan_case);
  CHECK(nan_case.template run<std::int64_t>(ReduceOp::argmax, Mode::Deterministic, true)[0] ==
        700);  // the first NaN wins
  CHECK(nan_case.template run<std::int64_t>(ReduceOp::argmin, Mode::Deterministic, true)[0] == 700);
  CHECK(std::isnan(nan_case.template run<T>(ReduceOp::max, Mode::Deterministic, true)[0]));
  CHECK(std::isnan(nan_case.template run<T>(ReduceOp::sum, Mode::Deterministic, true)[0]));
  // Without NaN: +-inf decide max/min; the first of tied extremes wins argmax/argmin.
  x[1500] = x[700] = x[2400] = T(0);
  x[2000] = inf;
  x[2100] = -inf;
  const Case<T> inf_case = values_case<T>(x);
  expect_sim_equals_cpu(inf_case);
  CHECK(inf_case.template run<std::int64_t>(ReduceOp::argmax, Mode::Deterministic, true)[0] == 10);
  CHECK(inf_case.template run<std::int64_t>(ReduceOp::argmin, Mode::Deterministic, true)[0] == 20);
  CHECK(inf_case.template run<T>(ReduceOp::min, Mode::Deterministic, true)[0] == -inf);
  // All equal / all -inf: index 0.
  const Case<T> flat = values_case<T>(std::vector<T>(1100, -inf));
  expect_sim_equals_cpu(flat);
  CHECK(flat.template run<std::int64_t>(ReduceOp::argmax, Mode::Deterministic, true)[0] == 0);
  CHECK(flat.template run<std::int64_t>(ReduceOp::argmin, Mode::Deterministic, true)[0] == 0);
  CHECK(flat.template run<T>(ReduceOp::max, Mode::Deterministic, true)[0] == -inf);
}

TEST_CASE("gpu reduce: signed zeros, NaN, inf and ties, f32") { check_special_values<float>(); }
TEST_CASE("gpu reduce: signed zeros, NaN, inf and ties, f64") { check_special_values<double>(); }

TEST_CASE("gpu reduce: known values (independent of the cpu kernel)") {
  ScheduleGuard g(Schedule{Order::kRandom, 2});
  // Integers: exact; i64 wraps modulo 2^64; u8 sums to i64 without overflow.
  std::vector<std::int64_t> xi(3001);
  std::iota(xi.begin(), xi.end(), -1500);  // sum 0
  xi[0] = std::numeric_limits<std::int64_t>::max();
  xi[1] = 2;  // max + 2 + (rest without -1500, -1499) wraps
  const auto si = values_case(xi).run<std::int64_t>(ReduceOp::sum, Mode::Deterministic, true);
  CHECK(static_cast<std::uint64_t>(si[0]) ==
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 2u + 1500u + 1499u);
  const auto su = values_case(std::vector<std::uint8_t>(70000, 255))
                      .run<std::int64_t>(ReduceOp::sum, Mode::Deterministic, true);
  CHECK(su[0] == 70000 * 255);
  // Floats whose sum is exact in any order: 3000 ones and halves.
  std::vector<float> xf(3000);
  for (std::size_t i = 0; i < xf.size(); ++i) xf[i] = i % 2 ? 1.0f : 0.5f;
  CHECK(values_case(xf).run<float>(ReduceOp::sum, Mode::Deterministic, true)[0] == 2250.0f);
  // argmax/argmin per output of a middle-dim reduction with a planted extreme per output.
  Case<double> c = nd_case<double>({3, 2000, 4}, {0, 2, 1}, 2, 41);
  for (i64 o = 0; o < 12; ++o) {
    const i64 a = o / 4, b = o % 4, k = 37 * o + 5;
    c.x[static_cast<std::size_t>((a * 2000 + k) * 4 + b)] = 1e6;
    c.x[static_cast<std::size_t>((a * 2000 + k + 1) * 4 + b)] = -1e6;
  }
  const auto am = c.run<std::int64_t>(ReduceOp::argmax, Mode::Deterministic, true);
  const auto an = c.run<std::int64_t>(ReduceOp::argmin, Mode::Deterministic, true);
  for (i64 o = 0; o < 12; ++o) {
    CHECK(am[static_cast<std::size_t>(o)] == 37 * o + 5);
    CHECK(an[static_cast<std::size_t>(o)] == 37 * o + 6);
  }
}

TEST_CASE("gpu reduce: empty ranges, no outputs, and bad arguments") {
  // n == 0: sums are +0 (f32) / 0 (i64); max/min/argmax are errors.
  Case<float> e;
  e.shape = {3, 0};
  e.perm = {0, 1};
  e.n_kept = 1;
  const auto s = e.run<float>(ReduceOp::sum, Mode::Deterministic, true);
  for (float v : s) CHECK((v == 0.0f && !std::signbit(v)));
  CHECK(e.run<float>(ReduceOp::sum, Mode::Fast, true) == s);
  CHECK_THROWS_AS(e.run<float>(ReduceOp::max, Mode::Deterministic, true), ditto::Error);
  CHECK_THROWS_AS(e.run<std::int64_t>(ReduceOp::argmin, Mode::Deterministic, true), ditto::Error);
  Case<std::uint8_t> eu;
  eu.shape = {0, 4};
  eu.perm = {1, 0};
  eu.n_kept = 1;
  for (std::int64_t v : eu.run<std::int64_t>(ReduceOp::sum, Mode::Deterministic, true))
    CHECK(v == 0);
  // K == 0: nothing is written.
  Case<float> none;
  none.shape = {0, 5};
  none.perm = {0, 1};
  none.n_kept = 1;
  CHECK(none.run<float>(ReduceOp::max, Mode::Deterministic, true).empty());
  // Wrong output dtype / shape.
  const Case<float> c = one_dim<float>(10, 1);
  CHECK_THROWS_AS(c.run<double>(ReduceOp::sum, Mode::Deterministic, true), ditto::Error);
  CHECK_THROWS_AS(c.run<float>(ReduceOp::argmax, Mode::Deterministic, true), ditto::Error);
  View in = c.in_view(), out = in;
  CHECK_THROWS_AS(ditto::kernels::reduce_kernels(ditto::Device::sim())
                      .reduce(ReduceOp::sum, Mode::Deterministic, in, 2, out),
                  ditto::Error);
}

/// |a - ref| / (n eps sum|x|) for each output; the classic error bound of any summation order
/// against the exact sum is 1 (2 between two orders).
template <class T>
double fast_error_ratio(const Case<T>& c, const std::vector<T>& got) {
  // Reference per output, in long double, with the same logical ranges as the kernels.
  const View v = c.in_view();
  const T* x = static_cast<const T*>(v.data);
  const i64 K = c.outputs();
  i64 n = 1;
  for (int d = c.n_kept; d < v.ndim; ++d) n *= v.shape[d];
  const long double eps = std::numeric_limits<T>::epsilon();
  double worst = 0;
  for (i64 o = 0; o < K; ++o) {
    i64 off = 0, r = o;
    for (int d = c.n_kept - 1; d >= 0; --d) {
      off += (r % v.shape[d]) * v.strides[d];
      r /= v.shape[d];
    }
    long double ref = 0, mag = 0;
    for (i64 k = 0; k < n; ++k) {
      i64 e = off, q = k;
      for (int d = v.ndim - 1; d >= c.n_kept; --d) {
        e += (q % v.shape[d]) * v.strides[d];
        q /= v.shape[d];
      }
      ref += x[e];
      mag += std::fabs(static_cast<long double>(x[e]));
    }
    const long double err =
        std::fabs(static_cast<long double>(got[static_cast<std::size_t>(o * c.out_pad)]) - ref);
    const long double bound = static_cast<long double>(n) * eps * mag;
    const double ratio = bound > 0 ? static_cast<double>(err / bound) : (err > 0 ? 1e30 : 0.0);
    if (!(ratio <= worst)) worst = ratio;  // NaN counts as the worst
  }
  return worst;
}

TEST_CASE("gpu reduce: fast sum is honestly atomic (schedule-dependent bits) and accurate") {
  // 2^16 values of mixed magnitude (10^-3 .. 10^3, both signs): 32 blocks of 2048 elements,
  // each adding one partial into the output; the random schedule permutes their order.
  Case<float> c = one_dim<float>(i64{1} << 16, 99);
  const std::vector<float> det = c.run<float>(ReduceOp::sum, Mode::Deterministic, true);
  CHECK(fast_error_ratio(c, det) <= 1.0);
  std::set<std::uint32_t> patterns;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    ScheduleGuard g(Schedule{Order::kRandom, seed}, 1);
    const std::vector<float> got = c.run<float>(ReduceOp::sum, Mode::Fast, true);
    std::uint32_t b;
    std::memcpy(&b, &got[0], 4);
    patterns.insert(b);
    CAPTURE(seed);
    CHECK(fast_error_ratio(c, got) <= 1.0);
  }
  MESSAGE("fast f32 sum of 2^16 values: " << patterns.size() << " distinct results in 10 seeds");
  CHECK(patterns.size() >= 2);
  // The same seed replays the same bits with one worker (so the differences are the schedule's).
  std::vector<float> a, b;
  {
    ScheduleGuard g(Schedule{Order::kRandom, 4}, 1);
    a = c.run<float>(ReduceOp::sum, Mode::Fast, true);
  }
  {
    ScheduleGuard g(Schedule{Order::kRandom, 4}, 1);
    b = c.run<float>(ReduceOp::sum, Mode::Fast, true);
  }
  CHECK(same_bits(a, b));
}

TEST_CASE("gpu reduce: fast mode within tolerance for every layout; compare ops unchanged") {
  ScheduleGuard g(Schedule{Order::kRandom, 6});
  for (const auto& c : multi_cases<float>()) {
    CAPTURE(c.describe());
    CHECK(fast_error_ratio(c, c.run<float>(ReduceOp::sum, Mode::Fast, true)) <= 1.0);
  }
  for (const auto& c : multi_cases<double>()) {
    CAPTURE(c.describe());
    CHECK(fast_error_ratio(c, c.run<double>(ReduceOp::sum, Mode::Fast, true)) <= 1.0);
  }
  {
    LaunchOverrideGuard lo({3, 0});
    const Case<double> big = one_dim<double>(300000, 3);
    CHECK(fast_error_ratio(big, big.run<double>(ReduceOp::sum, Mode::Fast, true)) <= 1.0);
  }
  // Fast max/min/argmax/argmin and integer sums run the deterministic kernels: same bits.
  const Case<float> c = multi_cases<float>()[3];
  for (ReduceOp op : {ReduceOp::max, ReduceOp::min}) {
    CHECK(same_bits(c.run<float>(op, Mode::Fast, true),
                    c.run<float>(op, Mode::Deterministic, false)));
  }
  for (ReduceOp op : {ReduceOp::argmax, ReduceOp::argmin}) {
    CHECK(same_bits(c.run<std::int64_t>(op, Mode::Fast, true),
                    c.run<std::int64_t>(op, Mode::Deterministic, false)));
  }
  const Case<std::int64_t> ci = multi_cases<std::int64_t>()[0];
  CHECK(same_bits(ci.run<std::int64_t>(ReduceOp::sum, Mode::Fast, true),
                  ci.run<std::int64_t>(ReduceOp::sum, Mode::Deterministic, false)));
}

TEST_CASE("gpu reduce: short ranges (n <= 1024): one warp per output, the canonical chunk's bits") {
  // Every length class of a chunk: under a warp, one step, partial steps, exactly 1024.
  for (i64 n : {1, 2, 31, 32, 33, 255, 256, 257, 700, 1023, 1024}) {
    CAPTURE(n);
    const Case<float> cf = nd_case<float>({37, n}, {0, 1}, 1, 500 + static_cast<std::uint32_t>(n));
    expect_sim_equals_cpu(cf);
    expect_sim_equals_cpu(nd_case<double>({5, n}, {1, 0}, 1, 600 + static_cast<std::uint32_t>(n)));
    expect_sim_equals_cpu(nd_case<std::int64_t>({3, n}, {0, 1}, 1, 7), true);
    expect_sim_equals_cpu(nd_case<std::uint8_t>({3, n}, {0, 1}, 1, 8), true);
    // The grid does not matter: a single block, and one block per warp.
    for (int blocks : {1, 2}) {
      LaunchOverrideGuard lo({blocks, 0});
      expect_sim_equals_cpu(cf);
    }
  }
  // One warp (32 threads) per output: 1000 outputs of 100 elements run 32000 threads, where a
  // 256-thread block per output would run 256000.
  const Case<float> c = nd_case<float>({1000, 100}, {0, 1}, 1, 9);
  const std::uint64_t before = ditto::sim::get_stats().threads;
  (void)c.run<float>(ReduceOp::sum, Mode::Deterministic, true);
  const std::uint64_t threads = ditto::sim::get_stats().threads - before;
  MESSAGE("sum over 100 elements x 1000 outputs on sim: " << threads << " threads");
  CHECK(threads == 1000 * 32);
}

}  // namespace

TEST_SUITE_END();
