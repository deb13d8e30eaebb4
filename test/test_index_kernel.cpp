// ditto — tests of the indexing kernels (kernels/cpu/index.cpp and kernels/cuda/index.cuh on the
// sim device), called directly through kernels/index.h.
//   index_select: equal (memcmp, gaps of strided outputs included) to a naive byte-copy gather
//     for every dtype and several stride patterns, on cpu and sim.
//   index_add Deterministic: equal bit for bit to a literal sequential implementation of the
//     documented order (per target row: acc = +0, add the src rows with that index in ascending m,
//     then out = out + acc; untouched rows keep their bits) and close to a long-double reference;
//     cpu == sim bitwise for heavy repetition, all-distinct indices, outer/inner > 1 and M = 0;
//     sim bits unchanged over schedule seeds, worker counts and forced launch configurations;
//     cpu bits unchanged over thread counts 1, 2, 3.
//   index_add Fast: within tolerance of the reference on both devices, and visibly
//     schedule-dependent on sim for a contention-heavy case.
//   bad input: out-of-range indices, shapes and dtypes throw ditto::Error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "test/fixtures/bits.h"
#include "core/error.h"
#include "core/threads.h"
#include "kernels/index.h"
#include "kernels/launch_config.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/views.h"

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h

using ditto::DType;
using ditto::Mode;
using ditto::kernels::LaunchOverride;
using ditto::kernels::LaunchOverrideGuard;
using ditto::kernels::View;
using ditto::sim::Order;
using ditto::sim::Schedule;
using ditto::sim::ScheduleGuard;
using namespace ditto::test_fixtures;  // test/fixtures/views.h

enum class Dev { cpu, sim };

// ---- buffers ----

/// A 3-d tensor (a, b, c) in its own memory with a chosen layout: `order` lists the dims from
/// outermost to innermost in memory, `pad` is the innermost memory stride (> 1 leaves gaps).
/// Gaps hold 0xAB bytes; comparing whole buffers checks that kernels leave them alone.
template <class T>
struct Buf3 {
  std::vector<T> mem;
  i64 shape[3] = {};
  i64 strides[3] = {};

  Buf3() = default;
  Buf3(i64 a, i64 b, i64 c, std::vector<int> order = {0, 1, 2}, i64 pad = 1) {
    shape[0] = a;
    shape[1] = b;
    shape[2] = c;
    i64 s = pad;
    for (int j = 2; j >= 0; --j) {
      strides[order[static_cast<std::size_t>(j)]] = s;
      s *= shape[order[static_cast<std::size_t>(j)]];
    }
    mem.resize(static_cast<std::size_t>(std::max<i64>(s, 1)));
    std::memset(mem.data(), 0xAB, mem.size() * sizeof(T));
  }
  T& at(i64 o, i64 k, i64 i) {
    return mem[static_cast<std::size_t>(o * strides[0] + k * strides[1] + i * strides[2])];
  }
  View view() {
    View v;
    v.data = mem.data();
    v.dtype = dtype_of<T>();
    v.ndim = 3;
    for (int d = 0; d < 3; ++d) {
      v.shape[d] = shape[d];
      v.strides[d] = strides[d];
    }
    return v;
  }
};

/// A 1-d i64 index of M entries with stride `stride` (gaps hold a wild value).
struct Index {
  std::vector<i64> mem;
  i64 M = 0, stride = 1;
  Index(const std::vector<i64>& ix, i64 s = 1) : M(static_cast<i64>(ix.size())), stride(s) {
    mem.assign(static_cast<std::size_t>(std::max<i64>(M * s, 1)), i64{-123456789});
    for (i64 m = 0; m < M; ++m) mem[static_cast<std::size_t>(m * s)] = ix[static_cast<std::size_t>(m)];
  }
  i64 operator[](i64 m) const { return mem[static_cast<std::size_t>(m * stride)]; }
  View view() {
    View v;
    v.data = mem.data();
    v.dtype = DType::i64;
    v.ndim = 1;
    v.shape[0] = M;
    v.strides[0] = stride;
    return v;
  }
};

std::vector<i64> random_index(i64 M, i64 K, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<i64> d(0, K - 1);
  std::vector<i64> ix(static_cast<std::size_t>(M));
  for (auto& e : ix) e = d(rng);
  return ix;
}

/// A random permutation of [0, M) (every index distinct).
std::vector<i64> distinct_index(i64 M, std::uint64_t seed) {
  std::vector<i64> ix(static_cast<std::size_t>(M));
  for (i64 m = 0; m < M; ++m) ix[static_cast<std::size_t>(m)] = m;
  std::shuffle(ix.begin(), ix.end(), std::mt19937_64(seed));
  return ix;
}

/// Fills the logical elements with random values: floats of mixed magnitude (2^-12 .. 2^12,
/// both signs, so the rounding depends on the order), integers of random bits.
template <class T>
void fill_random(Buf3<T>& b, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_int_distribution<int> ed(-12, 12);
  for (i64 o = 0; o < b.shape[0]; ++o)
    for (i64 k = 0; k < b.shape[1]; ++k)
      for (i64 i = 0; i < b.shape[2]; ++i) {
        if constexpr (std::is_floating_point_v<T>) {
          b.at(o, k, i) = static_cast<T>(std::ldexp(nd(rng), ed(rng)));
        } else {
          b.at(o, k, i) = static_cast<T>(rng());
        }
      }
}


// ---- the kernels, by device ----

void run_select(Dev d, const View& in, const View& ix, const View& out) {
  if (d == Dev::cpu) {
    ditto::kernels::index_kernels(ditto::Device::cpu()).index_select(in, ix, out);
  } else {
    ditto::kernels::index_kernels(ditto::Device::sim()).index_select(in, ix, out);
  }
}
void run_add(Dev d, Mode mode, const View& out, const View& ix, const View& src) {
  if (d == Dev::cpu) {
    ditto::kernels::index_kernels(ditto::Device::cpu()).index_add(mode, out, ix, src);
  } else {
    ditto::kernels::index_kernels(ditto::Device::sim()).index_add(mode, out, ix, src);
  }
}

// ---- references ----

/// Naive gather, element by element as raw bytes.
template <class T>
void ref_select(Buf3<T>& in, const Index& ix, Buf3<T>& out) {
  for (i64 o = 0; o < out.shape[0]; ++o)
    for (i64 m = 0; m < out.shape[1]; ++m)
      for (i64 i = 0; i < out.shape[2]; ++i)
        std::memcpy(&out.at(o, m, i), &in.at(o, ix[m], i), sizeof(T));
}

/// The documented order of Deterministic index_add, as literally as possible: for each target
/// row k that some index names: acc = +0; acc = acc + src[o, m, i] for the m with index[m] == k
/// in ascending m; out[o, k, i] = out[o, k, i] + acc.
template <class T>
void ref_add_documented(Buf3<T>& out, const Index& ix, Buf3<T>& src) {
  const i64 K = out.shape[1];
  std::vector<std::vector<i64>> rows(static_cast<std::size_t>(K));
  for (i64 m = 0; m < ix.M; ++m) rows[static_cast<std::size_t>(ix[m])].push_back(m);
  for (i64 o = 0; o < out.shape[0]; ++o)
    for (i64 k = 0; k < K; ++k) {
      if (rows[static_cast<std::size_t>(k)].empty()) continue;  // untouched
      for (i64 i = 0; i < out.shape[2]; ++i) {
        T acc = T(+0.0);
        for (i64 m : rows[static_cast<std::size_t>(k)]) acc = acc + src.at(o, m, i);
        out.at(o, k, i) = out.at(o, k, i) + acc;
      }
    }
}

/// Checks `got` against a long-double scatter-add: |got - ref| <= (n + 2) * eps * (|out0| +
/// sum |src|) per element, n = the number of terms (a bound for any summation order).
template <class T>
void check_close(Buf3<T>& got, Buf3<T> out0, const Index& ix, Buf3<T>& src) {
  const T eps = std::numeric_limits<T>::epsilon();
  std::vector<i64> count(static_cast<std::size_t>(out0.shape[1]), 0);
  for (i64 m = 0; m < ix.M; ++m) ++count[static_cast<std::size_t>(ix[m])];
  i64 bad = 0;
  for (i64 o = 0; o < out0.shape[0]; ++o)
    for (i64 k = 0; k < out0.shape[1]; ++k)
      for (i64 i = 0; i < out0.shape[2]; ++i) {
        long double ref = out0.at(o, k, i), mag = std::fabs(static_cast<long double>(ref));
        for (i64 m = 0; m < ix.M; ++m) {
          if (ix[m] != k) continue;
          ref += src.at(o, m, i);
          mag += std::fabs(static_cast<long double>(src.at(o, m, i)));
        }
        const long double err = std::fabs(static_cast<long double>(got.at(o, k, i)) - ref);
        const long double tol =
            static_cast<long double>(count[static_cast<std::size_t>(k)] + 2) * eps * mag;
        if (!(err <= tol)) ++bad;
      }
  CHECK(bad == 0);
}

/// One index_add problem: out (O, K, I), src (O, M, I), both with layouts, and the index.
template <class T>
struct AddCase {
  Buf3<T> out0, src;
  Index ix;
  AddCase(i64 O, i64 K, i64 I, std::vector<i64> index, std::uint64_t seed,
          std::vector<int> out_order = {0, 1, 2}, i64 out_pad = 1,
          std::vector<int> src_order = {0, 1, 2}, i64 src_pad = 1, i64 ix_stride = 1)
      : out0(O, K, I, out_order, out_pad),
        src(O, static_cast<i64>(index.size()), I, src_order, src_pad),
        ix(index, ix_stride) {
    fill_random(out0, seed);
    fill_random(src, seed + 1000);
  }
  /// out after index_add on `d` (a fresh copy of out0 each time).
  Buf3<T> run(Dev d, Mode mode) {
    Buf3<T> out = out0;
    run_add(d, mode, out.view(), ix.view(), src.view());
    return out;
  }
  Buf3<T> documented() {
    Buf3<T> out = out0;
    ref_add_documented(out, ix, src);
    return out;
  }
};

// ---- index_select ----

template <class T>
void check_select_all_layouts(Dev d) {
  struct L {
    std::vector<int> in_order;
    i64 in_pad;
    std::vector<int> out_order;
    i64 out_pad;
    i64 ix_stride;
  };
  const std::vector<L> layouts = {
      {{0, 1, 2}, 1, {0, 1, 2}, 1, 1}, {{0, 1, 2}, 2, {0, 1, 2}, 3, 2},
      {{0, 2, 1}, 1, {0, 1, 2}, 1, 1}, {{2, 1, 0}, 1, {1, 2, 0}, 2, 3},
      {{1, 0, 2}, 3, {2, 0, 1}, 1, 1}};
  struct S {
    i64 O, K, I, M;
  };
  const std::vector<S> shapes = {{1, 7, 1, 20}, {3, 5, 4, 11}, {2, 9, 33, 40}, {1, 1, 5, 6}};
  std::uint64_t seed = 1;
  for (const S& s : shapes) {
    for (const L& l : layouts) {
      CAPTURE(s.O);
      CAPTURE(s.K);
      CAPTURE(s.I);
      CAPTURE(s.M);
      CAPTURE(l.in_pad);
      CAPTURE(l.out_pad);
      CAPTURE(l.ix_stride);
      Buf3<T> in(s.O, s.K, s.I, l.in_order, l.in_pad);
      fill_random(in, ++seed);
      Index ix(random_index(s.M, s.K, ++seed), l.ix_stride);
      Buf3<T> want(s.O, s.M, s.I, l.out_order, l.out_pad);
      Buf3<T> got = want;
      ref_select(in, ix, want);
      run_select(d, in.view(), ix.view(), got.view());
      CHECK(same_bits(got.mem, want.mem));
    }
  }
}

// ---- bad input ----

template <class F>
void expect_error(F&& f, const std::string& needle) {
  bool thrown = false;
  try {
    f();
  } catch (const ditto::Error& e) {
    thrown = true;
    const std::string what = e.what();
    CAPTURE(what);
    CHECK(what.find(needle) != std::string::npos);
  }
  CHECK(thrown);
}

}  // namespace

TEST_SUITE("index_kernel") {

TEST_CASE("index_select: every dtype and stride pattern equals a naive gather (cpu, sim)") {
  ScheduleGuard g(Schedule{Order::kRandom, 7});
  for (Dev d : {Dev::cpu, Dev::sim}) {
    CAPTURE(d == Dev::cpu ? "cpu" : "sim");
    check_select_all_layouts<float>(d);
    check_select_all_layouts<double>(d);
    check_select_all_layouts<std::int64_t>(d);
    check_select_all_layouts<std::uint8_t>(d);
  }
}

TEST_CASE("index_select: NaN payloads copied exactly; large parallel gather; empty shapes") {
  // NaN payload and -0.0 survive (a copy of bits, not of values).
  Buf3<float> in(1, 3, 2);
  const std::uint32_t nan_bits = 0x7fa12345u, negz = 0x80000000u;
  std::memcpy(&in.at(0, 1, 0), &nan_bits, 4);
  std::memcpy(&in.at(0, 1, 1), &negz, 4);
  in.at(0, 0, 0) = 1.0f;
  in.at(0, 0, 1) = 2.0f;
  in.at(0, 2, 0) = 3.0f;
  in.at(0, 2, 1) = 4.0f;
  Index ix({1, 1, 0, 2});
  for (Dev d : {Dev::cpu, Dev::sim}) {
    Buf3<float> out(1, 4, 2);
    run_select(d, in.view(), ix.view(), out.view());
    std::uint32_t b0, b1;
    std::memcpy(&b0, &out.at(0, 1, 0), 4);
    std::memcpy(&b1, &out.at(0, 1, 1), 4);
    CHECK(b0 == nan_bits);
    CHECK(b1 == negz);
    CHECK(out.at(0, 2, 1) == 2.0f);
    CHECK(out.at(0, 3, 0) == 3.0f);
  }
  // Big enough for the cpu's parallel path, thread counts 1..3.
  const int saved = ditto::get_num_threads();
  Buf3<double> big(3, 100, 65);
  fill_random(big, 5);
  Index bix(random_index(700, 100, 6), 2);
  Buf3<double> want(3, 700, 65, {0, 2, 1});
  Buf3<double> empty_like = want;
  ref_select(big, bix, want);
  for (int t : {1, 2, 3}) {
    ditto::set_num_threads(t);
    Buf3<double> got = empty_like;
    ditto::kernels::index_kernels(ditto::Device::cpu())
        .index_select(big.view(), bix.view(), got.view());
    CHECK(same_bits(got.mem, want.mem));
  }
  ditto::set_num_threads(saved);
  // Empty shapes are no-ops on both devices.
  for (Dev d : {Dev::cpu, Dev::sim}) {
    Buf3<float> in0(2, 4, 3), out0(2, 0, 3), in1(0, 4, 3), out1(0, 5, 3);
    Index none(std::vector<i64>{}), five({0, 1, 2, 3, 0});
    run_select(d, in0.view(), none.view(), out0.view());
    run_select(d, in1.view(), five.view(), out1.view());
  }
}

TEST_CASE("index_add deterministic: hand-checked order, signed zeros, untouched rows") {
  for (Dev d : {Dev::cpu, Dev::sim}) {
    CAPTURE(d == Dev::cpu ? "cpu" : "sim");
    // Row 0: out = -2^24, src rows 2^24 (m = 0) and 1 (m = 2): acc = +0 + 2^24 + 1 = 2^24
    // (1 is lost to rounding), out = -2^24 + 2^24 = 0. Adding into out directly would give 1.
    // Row 1: out = -0.0, src = -0.0: acc = +0 + -0 = +0, out = -0 + +0 = +0.
    // Row 2: untouched, keeps its -0.0. Row 3: out = NaN with a payload, untouched: same bits.
    Buf3<float> out(1, 4, 1);
    const float two24 = 16777216.0f;
    out.at(0, 0, 0) = -two24;
    out.at(0, 1, 0) = -0.0f;
    out.at(0, 2, 0) = -0.0f;
    const std::uint32_t nan_bits = 0x7fc0beefu;
    std::memcpy(&out.at(0, 3, 0), &nan_bits, 4);
    Buf3<float> src(1, 3, 1);
    src.at(0, 0, 0) = two24;
    src.at(0, 1, 0) = -0.0f;
    src.at(0, 2, 0) = 1.0f;
    Index ix({0, 1, 0});
    Buf3<float> fast = out;
    run_add(d, Mode::Deterministic, out.view(), ix.view(), src.view());
    std::uint32_t b[4];
    for (int k = 0; k < 4; ++k) std::memcpy(&b[k], &out.at(0, k, 0), 4);
    CHECK(b[0] == 0x00000000u);
    CHECK(b[1] == 0x00000000u);
    CHECK(b[2] == 0x80000000u);
    CHECK(b[3] == nan_bits);
    // Fast mode adds into out directly: -2^24 + 2^24 + 1 = 1 in m order, and
    // (-2^24 + 1) + 2^24 = 1 in the other (-2^24 + 1 is exact): 1 whatever the schedule.
    run_add(d, Mode::Fast, fast.view(), ix.view(), src.view());
    CHECK(fast.at(0, 0, 0) == 1.0f);
    // Eight -0.0 rows into row 0 (long segments: the cpu's bucketed layout): +0 + -0 ... = +0,
    // -0 + +0 = +0. Row 1 is untouched.
    Buf3<double> out2(1, 2, 1), src2(1, 8, 1);
    out2.at(0, 0, 0) = -0.0;
    out2.at(0, 1, 0) = -0.0;
    for (i64 m = 0; m < 8; ++m) src2.at(0, m, 0) = -0.0;
    Index ix2(std::vector<i64>(8, 0));
    run_add(d, Mode::Deterministic, out2.view(), ix2.view(), src2.view());
    CHECK(!std::signbit(out2.at(0, 0, 0)));
    CHECK(std::signbit(out2.at(0, 1, 0)));
  }
}

TEST_CASE("index_add deterministic: equals the documented sequential order and is accurate") {
  ScheduleGuard g(Schedule{Order::kRandom, 11});
  for (Dev d : {Dev::cpu, Dev::sim}) {
    CAPTURE(d == Dev::cpu ? "cpu" : "sim");
    {
      AddCase<float> c(2, 7, 3, random_index(500, 7, 1), 1);
      Buf3<float> got = c.run(d, Mode::Deterministic), want = c.documented();
      CHECK(same_bits(got.mem, want.mem));
      check_close(got, c.out0, c.ix, c.src);
    }
    {
      // Strided out (transposed + padded), strided src, strided index, unused rows.
      AddCase<double> c(3, 20, 5, random_index(300, 12, 2), 2, {0, 2, 1}, 2, {2, 0, 1}, 3, 2);
      Buf3<double> got = c.run(d, Mode::Deterministic), want = c.documented();
      CHECK(same_bits(got.mem, want.mem));
      check_close(got, c.out0, c.ix, c.src);
    }
    {
      AddCase<float> c(1, 40, 17, distinct_index(40, 3), 3, {1, 2, 0}, 1, {0, 1, 2}, 2);
      Buf3<float> got = c.run(d, Mode::Deterministic), want = c.documented();
      CHECK(same_bits(got.mem, want.mem));
    }
  }
}

TEST_CASE("index_add deterministic: cpu == sim bitwise (repetition, distinct, outer/inner, M=0)") {
  ScheduleGuard g(Schedule{Order::kRandom, 21});
  auto both = [](auto& c) {
    auto cpu = c.run(Dev::cpu, Mode::Deterministic);
    auto sim = c.run(Dev::sim, Mode::Deterministic);
    CHECK(same_bits(cpu.mem, sim.mem));
    auto want = c.documented();
    CHECK(same_bits(cpu.mem, want.mem));
  };
  {
    AddCase<float> c(1, 7, 1, random_index(5000, 7, 4), 4);  // heavy repetition
    both(c);
  }
  {
    AddCase<double> c(1, 7, 2, random_index(5000, 7, 5), 5);
    both(c);
  }
  {
    AddCase<float> c(1, 1000, 2, distinct_index(1000, 6), 6);  // every index distinct
    both(c);
  }
  {
    AddCase<double> c(1, 1500, 1, distinct_index(1200, 7), 7);  // distinct, some rows untouched
    both(c);
  }
  {
    AddCase<float> c(3, 11, 9, random_index(120, 11, 8), 8, {2, 0, 1}, 1, {0, 2, 1}, 2, 3);
    both(c);
  }
  {
    AddCase<double> c(4, 6, 5, random_index(90, 6, 9), 9);
    both(c);
  }
  {
    // Short segments with some repetition (the cpu's segmented layout).
    AddCase<float> c(2, 300, 3, random_index(500, 300, 26), 26);
    both(c);
  }
  {
    AddCase<float> c(2, 5, 3, std::vector<i64>{}, 10);  // M = 0: out untouched
    both(c);
    auto cpu = c.run(Dev::cpu, Mode::Deterministic);
    CHECK(same_bits(cpu.mem, c.out0.mem));
  }
  {
    AddCase<float> c(1, 9, 4, std::vector<i64>(600, 4), 11);  // every index the same row
    both(c);
  }
  {
    // K much larger than M (the cpu's comparison-sort path), with repetition.
    std::vector<i64> ix = random_index(300, 50, 12);
    for (i64& k : ix) k *= 3999;
    AddCase<float> c(1, 200000, 2, ix, 12);
    both(c);
  }
}

TEST_CASE("index_add deterministic: sim bits independent of seed, workers and launch config") {
  AddCase<float> cf(2, 7, 3, random_index(700, 7, 12), 12);
  AddCase<double> cd(1, 50, 2, random_index(400, 40, 13), 13, {0, 2, 1}, 1, {0, 1, 2}, 2, 2);
  const Buf3<float> want_f = cf.run(Dev::cpu, Mode::Deterministic);
  const Buf3<double> want_d = cd.run(Dev::cpu, Mode::Deterministic);
  const std::vector<LaunchOverride> configs = {{0, 0}, {1, 0}, {3, 32}, {7, 96}, {64, 1024}, {2, 1}};
  int runs = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    for (int workers : {1, 2}) {
      for (const LaunchOverride& lo : configs) {
        if (lo.threads == 1 && workers == 2) continue;  // slow and says nothing new
        CAPTURE(seed);
        CAPTURE(workers);
        CAPTURE(lo.blocks);
        CAPTURE(lo.threads);
        ScheduleGuard g(Schedule{Order::kRandom, seed}, workers);
        LaunchOverrideGuard log(lo);
        CHECK(same_bits(cf.run(Dev::sim, Mode::Deterministic).mem, want_f.mem));
        CHECK(same_bits(cd.run(Dev::sim, Mode::Deterministic).mem, want_d.mem));
        ++runs;
      }
    }
  }
  {
    ScheduleGuard g(Schedule{Order::kInOrder, 0}, 1);
    CHECK(same_bits(cf.run(Dev::sim, Mode::Deterministic).mem, want_f.mem));
  }
  CHECK(runs >= 50);
}

TEST_CASE("index_add deterministic: cpu bits independent of the thread count") {
  const int saved = ditto::get_num_threads();
  // Long segments (bucketed layout; with 3 threads the (o, column) items are too few and the
  // segmented layout runs instead), one hot segment, many columns, short segments.
  AddCase<float> a(2, 50, 8, random_index(20000, 50, 14), 14);
  AddCase<double> b(1, 3, 64, std::vector<i64>(4096, 1), 15, {0, 1, 2}, 1, {0, 1, 2}, 2);
  AddCase<float> c(1, 100, 300, random_index(2000, 100, 16), 16, {0, 2, 1});
  AddCase<double> e(1, 4000, 8, random_index(6000, 4000, 27), 27);  // short segments
  ditto::set_num_threads(1);
  const Buf3<float> wa = a.run(Dev::cpu, Mode::Deterministic);
  const Buf3<double> wb = b.run(Dev::cpu, Mode::Deterministic);
  const Buf3<float> wc = c.run(Dev::cpu, Mode::Deterministic);
  CHECK(same_bits(wa.mem, a.documented().mem));
  CHECK(same_bits(wb.mem, b.documented().mem));
  const Buf3<double> we = e.run(Dev::cpu, Mode::Deterministic);
  CHECK(same_bits(wc.mem, c.documented().mem));
  CHECK(same_bits(we.mem, e.documented().mem));
  for (int t : {2, 3}) {
    CAPTURE(t);
    ditto::set_num_threads(t);
    CHECK(same_bits(a.run(Dev::cpu, Mode::Deterministic).mem, wa.mem));
    CHECK(same_bits(b.run(Dev::cpu, Mode::Deterministic).mem, wb.mem));
    CHECK(same_bits(c.run(Dev::cpu, Mode::Deterministic).mem, wc.mem));
    CHECK(same_bits(e.run(Dev::cpu, Mode::Deterministic).mem, we.mem));
  }
  ditto::set_num_threads(saved);
}

TEST_CASE("index_add fast: within tolerance on cpu (1-3 threads, both paths) and sim") {
  const int saved = ditto::get_num_threads();
  AddCase<float> wide(2, 50, 64, random_index(3000, 50, 17), 17);                  // column split
  AddCase<double> narrow(1, 10, 1, random_index(40000, 10, 18), 18, {0, 1, 2}, 2);  // atomics
  AddCase<float> strided(3, 9, 5, random_index(2000, 9, 19), 19, {2, 1, 0}, 1, {0, 2, 1}, 2, 2);
  for (int t : {1, 2, 3}) {
    CAPTURE(t);
    ditto::set_num_threads(t);
    Buf3<float> w = wide.run(Dev::cpu, Mode::Fast);
    check_close(w, wide.out0, wide.ix, wide.src);
    Buf3<double> n = narrow.run(Dev::cpu, Mode::Fast);
    check_close(n, narrow.out0, narrow.ix, narrow.src);
    Buf3<float> s = strided.run(Dev::cpu, Mode::Fast);
    check_close(s, strided.out0, strided.ix, strided.src);
  }
  ditto::set_num_threads(saved);
  ScheduleGuard g(Schedule{Order::kRandom, 23});
  AddCase<float> sf(2, 7, 3, random_index(600, 7, 20), 20);
  AddCase<double> sd(1, 20, 2, random_index(500, 15, 21), 21, {0, 2, 1}, 2);
  Buf3<float> gf = sf.run(Dev::sim, Mode::Fast);
  check_close(gf, sf.out0, sf.ix, sf.src);
  Buf3<double> gd = sd.run(Dev::sim, Mode::Fast);
  check_close(gd, sd.out0, sd.ix, sd.src);
}

TEST_CASE("index_add fast: atomics on sim give schedule-dependent bits under contention") {
  // 2000 values of mixed magnitude added into 2 elements of one row.
  AddCase<float> c(1, 3, 2, std::vector<i64>(2000, 1), 24);
  std::set<std::vector<std::uint32_t>> patterns;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(seed);
    ScheduleGuard g(Schedule{Order::kRandom, seed}, 1);
    Buf3<float> got = c.run(Dev::sim, Mode::Fast);
    check_close(got, c.out0, c.ix, c.src);
    std::vector<std::uint32_t> bits(got.mem.size());
    std::memcpy(bits.data(), got.mem.data(), bits.size() * 4);
    patterns.insert(bits);
  }
  MESSAGE("fast index_add on sim: " << patterns.size() << " distinct results in 10 seeds");
  CHECK(patterns.size() >= 2);
  // The same seed with one worker replays the same bits.
  Buf3<float> a, b;
  {
    ScheduleGuard g(Schedule{Order::kRandom, 4}, 1);
    a = c.run(Dev::sim, Mode::Fast);
  }
  {
    ScheduleGuard g(Schedule{Order::kRandom, 4}, 1);
    b = c.run(Dev::sim, Mode::Fast);
  }
  CHECK(same_bits(a.mem, b.mem));
}

TEST_CASE("index kernels: out-of-range indices throw ditto::Error (cpu names value, position)") {
  for (i64 bad : {i64{5}, i64{-1}, i64{1} << 40}) {
    CAPTURE(bad);
    Buf3<float> in(1, 5, 2), out(1, 4, 2), src(1, 4, 2);
    fill_random(in, 1);
    fill_random(src, 2);
    Index ix({0, 4, bad, 1});
    expect_error(
        [&] {
          ditto::kernels::index_kernels(ditto::Device::cpu())
              .index_select(in.view(), ix.view(), out.view());
        },
        "index_select: index " + std::to_string(bad) + " at position 2 is out of range");
    Buf3<float> before = in;
    expect_error(
        [&] {
          ditto::kernels::index_kernels(ditto::Device::cpu())
              .index_add(Mode::Deterministic, in.view(), ix.view(), src.view());
        },
        "index_add: index " + std::to_string(bad) + " at position 2 is out of range [0, 5)");
    expect_error(
        [&] {
          ditto::kernels::index_kernels(ditto::Device::cpu())
              .index_add(Mode::Fast, in.view(), ix.view(), src.view());
        },
        "index_add: index");
    CHECK(same_bits(in.mem, before.mem));  // nothing written before the check
    // sim: a kernel assertion aborts the launch with a ditto::Error.
    expect_error(
        [&] {
          ditto::kernels::index_kernels(ditto::Device::sim())
              .index_select(in.view(), ix.view(), out.view());
        },
        "kernel assertion");
    expect_error(
        [&] {
          ditto::kernels::index_kernels(ditto::Device::sim())
              .index_add(Mode::Deterministic, in.view(), ix.view(), src.view());
        },
        "kernel assertion");
    expect_error(
        [&] {
          ditto::kernels::index_kernels(ditto::Device::sim())
              .index_add(Mode::Fast, in.view(), ix.view(), src.view());
        },
        "kernel assertion");
  }
}

TEST_CASE("index kernels: bad shapes and dtypes throw ditto::Error naming the op and shapes") {
  for (Dev d : {Dev::cpu, Dev::sim}) {
    CAPTURE(d == Dev::cpu ? "cpu" : "sim");
    Buf3<float> data(2, 5, 3), rows(2, 4, 3);
    Buf3<double> rows64(2, 4, 3);
    Buf3<std::uint8_t> data8(2, 5, 3), rows8(2, 4, 3);
    Index ix({0, 1, 2, 3});
    // Wrong ranks.
    View d2 = data.view();
    d2.ndim = 2;
    expect_error([&] { run_select(d, d2, ix.view(), rows.view()); },
                 "index_select: in must be 3-d");
    expect_error([&] { run_add(d, Mode::Deterministic, d2, ix.view(), rows.view()); },
                 "index_add: out must be 3-d");
    View r4 = rows.view();
    r4.ndim = 4;
    r4.shape[3] = 1;
    r4.strides[3] = 1;
    expect_error([&] { run_add(d, Mode::Deterministic, data.view(), ix.view(), r4); },
                 "index_add: src must be 3-d");
    View ix2 = ix.view();
    ix2.ndim = 2;
    ix2.shape[1] = 1;
    ix2.strides[1] = 1;
    expect_error([&] { run_select(d, data.view(), ix2, rows.view()); },
                 "index_select: index must be 1-d");
    // Index dtype.
    View ixf = ix.view();
    ixf.dtype = DType::f64;
    expect_error([&] { run_add(d, Mode::Fast, data.view(), ixf, rows.view()); },
                 "index_add: index dtype must be i64, got f64");
    // Dtype mismatch and non-float index_add.
    expect_error([&] { run_select(d, data.view(), ix.view(), rows64.view()); },
                 "index_select: out dtype f64 must equal in dtype f32");
    expect_error([&] { run_add(d, Mode::Deterministic, data.view(), ix.view(), rows64.view()); },
                 "index_add: src dtype f64 must equal out dtype f32");
    expect_error([&] { run_add(d, Mode::Deterministic, data8.view(), ix.view(), rows8.view()); },
                 "index_add: dtype must be f32 or f64, got u8");
    // Shape mismatches: M, outer, inner.
    Index ix3({0, 1, 2});
    expect_error([&] { run_add(d, Mode::Deterministic, data.view(), ix3.view(), rows.view()); },
                 "index_add: index has 3 entries but src has 4 rows (out [2,5,3], index [3], src "
                 "[2,4,3])");
    Buf3<float> rows_o(3, 4, 3), rows_i(2, 4, 2);
    expect_error([&] { run_select(d, data.view(), ix.view(), rows_o.view()); },
                 "index_select: outer sizes differ (2 vs 3)");
    expect_error([&] { run_add(d, Mode::Fast, data.view(), ix.view(), rows_i.view()); },
                 "index_add: inner sizes differ (3 vs 2)");
    // Overlapping out (a broadcast target row, or rows stepping over each other).
    View ov = data.view();
    ov.strides[1] = 0;
    expect_error([&] { run_add(d, Mode::Deterministic, ov, ix.view(), rows.view()); },
                 "index_add: out has overlapping strides");
    View ov2 = rows.view();
    ov2.strides[1] = 2;  // rows of 3 elements 2 apart
    expect_error([&] { run_select(d, data.view(), ix.view(), ov2); },
                 "index_select: out has overlapping strides");
  }
}

}  // TEST_SUITE
