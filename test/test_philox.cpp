// ditto — tests of Philox4x32-10 (kernels/common/philox.h) and the CPU random-fill kernel
// (kernels/cpu/random.cpp).
// Bits: the Random123 / SC11 known-answer vectors; every filled element equals, bit for bit, the
// stream convention written out here independently (key = seed, counter = offset + i, the
// documented conversions); strided, transposed, negative-stride and padded outputs hold the values
// of their logical positions (padding untouched); thread counts 1, 2, 3 give identical bits.
// Statistics (tolerances): moments and chi-square histograms of 10^6 uniforms and normals,
// Box-Muller against a long-double reference, randint coverage and bounds; uniform never returns
// its upper bound, even for a one-ulp range. Errors: invalid arguments throw ditto::Error naming
// the op.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/common/philox.h"
#include "core/threads.h"
#include "kernels/common/dmath.h"
#include "kernels/launch_config.h"
#include "kernels/random.h"

namespace {

using ditto::DType;
using ditto::kernels::RandomDist;
using ditto::kernels::View;
namespace philox = ditto::philox;
using i64 = std::int64_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

/// Restores the thread count a test changed.
struct ThreadsGuard {
  int prev = ditto::get_num_threads();
  ~ThreadsGuard() { ditto::set_num_threads(prev); }
};

/// A view of `data` with the given shape and strides (elements).
View make_view(void* data, DType t, std::vector<i64> shape, std::vector<i64> strides) {
  View v;
  v.data = data;
  v.dtype = t;
  v.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = shape[d];
    v.strides[d] = strides[d];
  }
  return v;
}
/// Row-major contiguous strides for `shape`.
std::vector<i64> contiguous_strides(const std::vector<i64>& shape) {
  std::vector<i64> s(shape.size());
  i64 e = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    s[d] = e;
    e *= shape[d];
  }
  return s;
}

/// Contiguous fill of n elements of type T.
template <class T>
std::vector<T> fill_contig(RandomDist dist, DType t, i64 n, u64 seed, u64 offset, double a,
                           double b) {
  std::vector<T> out(static_cast<size_t>(n));
  ditto::kernels::random_kernels(ditto::Device::cpu())
      .random_fill(dist, make_view(out.data(), t, {n}, {1}), seed, offset, a, b);
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

// ---- the stream convention, written out independently of philox::draw and the conversions ----

/// The four words of stream element `index` for generator `seed` (one direct Philox call).
void words_of(u64 seed, u64 index, u32 w[4]) {
  const u32 key[2] = {static_cast<u32>(seed & 0xffffffffu), static_cast<u32>(seed >> 32)};
  const u32 ctr[4] = {static_cast<u32>(index & 0xffffffffu), static_cast<u32>(index >> 32), 0, 0};
  philox::philox4x32_10(ctr, key, w);
}
float ref_uniform_f32(u64 seed, u64 index, float a, float b) {
  u32 w[4];
  words_of(seed, index, w);
  const float u = std::ldexp(static_cast<float>(w[0] >> 8), -24);
  const float range = b - a;
  const float prod = u * range;
  float v = prod + a;
  if (v >= b) v = std::nextafter(b, -std::numeric_limits<float>::infinity());
  return v;
}
double ref_uniform_f64(u64 seed, u64 index, double a, double b) {
  u32 w[4];
  words_of(seed, index, w);
  const u64 x = (static_cast<u64>(w[0]) << 32) | w[1];
  const double u = std::ldexp(static_cast<double>(x >> 11), -53);
  const double range = b - a;
  const double prod = u * range;
  double v = prod + a;
  if (v >= b) v = std::nextafter(b, -std::numeric_limits<double>::infinity());
  return v;
}
float ref_normal_f32(u64 seed, u64 index, float mean, float sd) {
  u32 w[4];
  words_of(seed, index, w);
  const float u1 = std::ldexp(static_cast<float>((w[0] >> 8) + 1), -24);
  const float u2 = std::ldexp(static_cast<float>(w[1] >> 8), -24);
  const float l = ditto::dmath::log(u1);
  const float r = std::sqrt(-2.0f * l);
  float s, c;
  ditto::dmath::sincos_2pi(u2, &s, &c);
  const float z = r * c;
  const float zs = z * sd;
  return zs + mean;
}
double ref_normal_f64(u64 seed, u64 index, double mean, double sd) {
  u32 w[4];
  words_of(seed, index, w);
  const u64 x1 = (static_cast<u64>(w[0]) << 32) | w[1];
  const u64 x2 = (static_cast<u64>(w[2]) << 32) | w[3];
  const double u1 = std::ldexp(static_cast<double>((x1 >> 11) + 1), -53);
  const double u2 = std::ldexp(static_cast<double>(x2 >> 11), -53);
  const double l = ditto::dmath::log(u1);
  const double r = std::sqrt(-2.0 * l);
  double s, c;
  ditto::dmath::sincos_2pi(u2, &s, &c);
  const double z = r * c;
  const double zs = z * sd;
  return zs + mean;
}
i64 ref_randint(u64 seed, u64 index, i64 lo, u64 range) {
  u32 w[4];
  words_of(seed, index, w);
  const u64 x = (static_cast<u64>(w[0]) << 32) | w[1];
  return static_cast<i64>(static_cast<u64>(lo) + x % range);
}

std::string hex4(const u32 w[4]) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08x %08x %08x %08x", w[0], w[1], w[2], w[3]);
  return buf;
}

}  // namespace

TEST_SUITE_BEGIN("philox");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE("philox4x32_10 known-answer vectors (Random123 kat_vectors, SC11)") {
  struct Kat {
    u32 ctr[4], key[2], expect[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    u32 out[4];
    philox::philox4x32_10(k.ctr, k.key, out);
    CHECK(hex4(out) == hex4(k.expect));
    // out may alias the counter.
    u32 inplace[4] = {k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]};
    philox::philox4x32_10(inplace, k.key, inplace);
    CHECK(hex4(inplace) == hex4(k.expect));
  }
  // draw(seed, index) is the (lo, hi) split of both: counter 0 / key 0 is the first vector.
  const philox::Words d = philox::draw(0, 0);
  CHECK(hex4(d.w) == "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
  const u64 seed = 0x299f31d0a4093822ull, index = 0x85a308d3243f6a88ull;
  u32 w[4];
  words_of(seed, index, w);
  CHECK(hex4(philox::draw(seed, index).w) == hex4(w));
}

TEST_CASE("philox conversions: exact endpoints and next_below") {
  CHECK(philox::uniform01_f32(0) == 0.0f);
  CHECK(philox::uniform01_f32(0xffffffffu) == 1.0f - 0x1p-24f);
  CHECK(philox::uniform01_f32(0x80000000u) == 0.5f);
  CHECK(philox::uniform01_f64(0, 0) == 0.0);
  CHECK(philox::uniform01_f64(0xffffffffu, 0xffffffffu) == 1.0 - 0x1p-53);
  CHECK(philox::uniform01_f64(0, 0x800u) == 0x1p-53);
  const float finf = std::numeric_limits<float>::infinity();
  const double dinf = std::numeric_limits<double>::infinity();
  for (float b : {1.0f, -1.0f, 0.0f, -0.0f, 1e-45f, -1e-45f, 3.4e38f, 1e-38f, -7.25f}) {
    const float nb = philox::next_below(b);
    const float ex = std::nextafter(b, -finf);
    CHECK(std::memcmp(&nb, &ex, 4) == 0);
  }
  for (double b : {1.0, -1.0, 0.0, -0.0, 5e-324, -5e-324, 1.7e308, 2.2e-308, -7.25}) {
    const double nb = philox::next_below(b);
    const double ex = std::nextafter(b, -dinf);
    CHECK(std::memcmp(&nb, &ex, 8) == 0);
  }
  // u just below 1 on a one-ulp range rounds up to b and is pulled back below it.
  const float b32 = std::nextafter(1.0f, 2.0f);
  CHECK(philox::uniform_ab(1.0f - 0x1p-24f, 1.0f, b32) == 1.0f);
  const double b64 = std::nextafter(1.0, 2.0);
  CHECK(philox::uniform_ab(1.0 - 0x1p-53, 1.0, b64) == 1.0);
  // randint reaches both ends of a range.
  philox::Words lo{{0, 0, 0, 0}}, hi{{0, 6, 0, 0}};
  CHECK(philox::randint_i64(lo, -3, 7) == -3);
  CHECK(philox::randint_i64(hi, -3, 7) == 3);
  philox::Words top{{0xffffffffu, 0xffffffffu, 0, 0}};
  CHECK(philox::randint_i64(top, std::numeric_limits<i64>::min(), u64(1) << 63) == -1);
}

TEST_CASE("random_fill follows the stream convention bit for bit") {
  // Offsets straddling the 2^32 carry into the counter's second word and the 2^64 wrap; n spans
  // several of the kernel's 64-lane Philox blocks plus a partial one, at unaligned starts.
  const u64 seed = 0xfedcba9876543210ull;
  const i64 n = 203;
  for (u64 offset : {u64(0), u64(0xffffffffu) - 17, ~u64(0) - 100}) {
    CAPTURE(offset);
    auto uf = fill_contig<float>(RandomDist::uniform, DType::f32, n, seed, offset, -2.5, 4.0);
    auto ud = fill_contig<double>(RandomDist::uniform, DType::f64, n, seed, offset, -2.5, 4.0);
    auto nf = fill_contig<float>(RandomDist::normal, DType::f32, n, seed, offset, 0.75, 3.0);
    auto nd = fill_contig<double>(RandomDist::normal, DType::f64, n, seed, offset, 0.75, 3.0);
    auto ri = fill_contig<i64>(RandomDist::randint, DType::i64, n, seed, offset, -1000, 12345);
    auto rf = fill_contig<float>(RandomDist::randint, DType::f32, n, seed, offset, -1000, 12345);
    auto rd = fill_contig<double>(RandomDist::randint, DType::f64, n, seed, offset, -1000, 12345);
    for (i64 i = 0; i < n; ++i) {
      const u64 idx = offset + static_cast<u64>(i);
      const float ef = ref_uniform_f32(seed, idx, -2.5f, 4.0f);
      const double ed = ref_uniform_f64(seed, idx, -2.5, 4.0);
      const float gf = ref_normal_f32(seed, idx, 0.75f, 3.0f);
      const double gd = ref_normal_f64(seed, idx, 0.75, 3.0);
      const i64 ei = ref_randint(seed, idx, -1000, 13345);
      CHECK(std::memcmp(&uf[i], &ef, 4) == 0);
      CHECK(std::memcmp(&ud[i], &ed, 8) == 0);
      CHECK(std::memcmp(&nf[i], &gf, 4) == 0);
      CHECK(std::memcmp(&nd[i], &gd, 8) == 0);
      CHECK(ri[i] == ei);
      CHECK(rf[i] == static_cast<float>(ei));
      CHECK(rd[i] == static_cast<double>(ei));
    }
  }
  // Two consecutive draws (offset advanced by the first's numel) equal one draw of both.
  auto whole = fill_contig<float>(RandomDist::normal, DType::f32, 1000, 7, 5, 0, 1);
  auto first = fill_contig<float>(RandomDist::normal, DType::f32, 300, 7, 5, 0, 1);
  auto second = fill_contig<float>(RandomDist::normal, DType::f32, 700, 7, 305, 0, 1);
  first.insert(first.end(), second.begin(), second.end());
  CHECK(same_bits(whole, first));
  // Different seeds give different streams (high seed word matters too).
  auto s0 = fill_contig<double>(RandomDist::uniform, DType::f64, 8, 1, 0, 0, 1);
  auto s1 = fill_contig<double>(RandomDist::uniform, DType::f64, 8, 1 | (u64(1) << 32), 0, 0, 1);
  CHECK_FALSE(same_bits(s0, s1));
}

TEST_CASE("random_fill writes logical element i to its strided position") {
  const u64 seed = 99, offset = 1234;
  SUBCASE("transposed 3-d view (column-major storage)") {
    const std::vector<i64> shape = {5, 6, 7};
    const i64 n = 5 * 6 * 7;
    auto ref = fill_contig<double>(RandomDist::normal, DType::f64, n, seed, offset, 0, 1);
    std::vector<double> buf(n);
    // Storage is (7, 6, 5) row-major: logical [i][j][k] lives at k*30 + j*5 + i.
    ditto::kernels::random_kernels(ditto::Device::cpu())
        .random_fill(RandomDist::normal, make_view(buf.data(), DType::f64, shape, {1, 5, 30}), seed,
                     offset, 0, 1);
    for (i64 i = 0; i < 5; ++i)
      for (i64 j = 0; j < 6; ++j)
        for (i64 k = 0; k < 7; ++k) {
          const double got = buf[k * 30 + j * 5 + i], want = ref[(i * 6 + j) * 7 + k];
          CHECK(std::memcmp(&got, &want, 8) == 0);
        }
  }
  SUBCASE("padded rows, negative innermost stride, size-1 dims; padding untouched") {
    // Logical (4, 1, 9); row r at r*12, column c at 8 - c (reversed), 3 pad elements per row.
    const i64 rows = 4, cols = 9, pitch = 12;
    auto ref = fill_contig<float>(RandomDist::uniform, DType::f32, rows * cols, seed, offset, 0, 1);
    std::vector<float> buf(rows * pitch, -7.0f);
    ditto::kernels::random_kernels(ditto::Device::cpu())
        .random_fill(RandomDist::uniform,
                     make_view(buf.data() + 8, DType::f32, {rows, 1, cols}, {pitch, 555, -1}), seed,
                     offset, 0, 1);
    for (i64 r = 0; r < rows; ++r) {
      for (i64 c = 0; c < cols; ++c) {
        const float got = buf[r * pitch + 8 - c], want = ref[r * cols + c];
        CHECK(std::memcmp(&got, &want, 4) == 0);
      }
      for (i64 c = cols; c < pitch; ++c) CHECK(buf[r * pitch + c] == -7.0f);
    }
  }
  SUBCASE("0-d and empty outputs") {
    i64 scalar = -1;
    ditto::kernels::random_kernels(ditto::Device::cpu())
        .random_fill(RandomDist::randint, make_view(&scalar, DType::i64, {}, {}), seed, offset, 0,
                     1000);
    CHECK(scalar == ref_randint(seed, offset, 0, 1000));
    float untouched = 3.0f;
    ditto::kernels::random_kernels(ditto::Device::cpu())
        .random_fill(RandomDist::uniform, make_view(&untouched, DType::f32, {4, 0}, {0, 1}), seed,
                     offset, 0, 1);
    CHECK(untouched == 3.0f);
  }
}

TEST_CASE("random_fill bits do not depend on the thread count") {
  ThreadsGuard guard;
  // Large enough for the parallel path; odd so the thread parts differ in size.
  const std::vector<i64> shape = {37, 3, 1001};
  const i64 n = 37 * 3 * 1001;
  const std::vector<i64> tstrides = {1, 37 * 1001, 37};  // a permuted (non-contiguous) layout
  struct Case {
    RandomDist dist;
    DType t;
    double a, b;
  };
  const Case cases[] = {
      {RandomDist::uniform, DType::f32, -1, 3},  {RandomDist::uniform, DType::f64, -1, 3},
      {RandomDist::normal, DType::f32, 2, 0.5},  {RandomDist::normal, DType::f64, 2, 0.5},
      {RandomDist::randint, DType::i64, -5, 50}, {RandomDist::randint, DType::f32, -5, 50},
  };
  for (const Case& c : cases) {
    CAPTURE(static_cast<int>(c.dist));
    CAPTURE(ditto::dtype_name(c.t));
    const size_t bytes = static_cast<size_t>(n) * ditto::dtype_size(c.t);
    std::vector<std::vector<unsigned char>> contig, strided;
    for (int threads : {1, 2, 3}) {
      ditto::set_num_threads(threads);
      std::vector<unsigned char> a(bytes), b(bytes);
      ditto::kernels::random_kernels(ditto::Device::cpu())
          .random_fill(c.dist, make_view(a.data(), c.t, shape, contiguous_strides(shape)), 42, 77,
                       c.a, c.b);
      ditto::kernels::random_kernels(ditto::Device::cpu())
          .random_fill(c.dist, make_view(b.data(), c.t, shape, tstrides), 42, 77, c.a, c.b);
      contig.push_back(std::move(a));
      strided.push_back(std::move(b));
    }
    CHECK(contig[0] == contig[1]);
    CHECK(contig[0] == contig[2]);
    CHECK(strided[0] == strided[1]);
    CHECK(strided[0] == strided[2]);
    CHECK(contig[0] != strided[0]);  // sanity: the layouts really differ
  }
}

namespace {
/// Mean and central moments 2..4 of x, in long double.
struct Moments {
  long double mean, var, skew, kurt;
};
template <class T>
Moments moments(const std::vector<T>& x) {
  long double s = 0;
  for (T v : x) s += v;
  const long double mean = s / x.size();
  long double m2 = 0, m3 = 0, m4 = 0;
  for (T v : x) {
    const long double d = v - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= x.size();
  m3 /= x.size();
  m4 /= x.size();
  return {mean, m2, m3 / std::pow(m2, 1.5L), m4 / (m2 * m2)};
}
/// Chi-square statistic of a histogram of x into `bins` bins with expected fractions `p`.
double chi_square(const std::vector<i64>& counts, const std::vector<double>& p, i64 n) {
  double chi = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    const double e = p[k] * n;
    chi += (counts[k] - e) * (counts[k] - e) / e;
  }
  return chi;
}
}  // namespace

TEST_CASE("uniform statistics (10^6 samples)") {
  const i64 n = 1000000;
  auto f = fill_contig<float>(RandomDist::uniform, DType::f32, n, 2024, 0, 0, 1);
  auto d = fill_contig<double>(RandomDist::uniform, DType::f64, n, 2024, 0, 0, 1);
  // Standard error of the mean: sqrt(1/12 / 1e6) = 2.9e-4; of the variance ~7.5e-5.
  for (const Moments& m : {moments(f), moments(d)}) {
    CHECK(std::fabs(static_cast<double>(m.mean) - 0.5) < 1.5e-3);
    CHECK(std::fabs(static_cast<double>(m.var) - 1.0 / 12) < 4e-4);
    CHECK(std::fabs(static_cast<double>(m.skew)) < 1e-2);
  }
  // 100 equal bins: chi-square with 99 degrees of freedom (mean 99, sd 14); 99.9th pct ~ 148.
  std::vector<i64> cf(100), cd(100);
  for (i64 i = 0; i < n; ++i) {
    REQUIRE(f[i] >= 0.0f);
    REQUIRE(f[i] < 1.0f);
    REQUIRE(d[i] >= 0.0);
    REQUIRE(d[i] < 1.0);
    ++cf[static_cast<size_t>(f[i] * 100)];
    ++cd[static_cast<size_t>(d[i] * 100)];
  }
  const std::vector<double> p(100, 0.01);
  CHECK(chi_square(cf, p, n) < 160);
  CHECK(chi_square(cd, p, n) < 160);
  // A shifted, scaled range: [-3, 5).
  auto g = fill_contig<double>(RandomDist::uniform, DType::f64, n / 10, 5, 0, -3, 5);
  const Moments mg = moments(g);
  CHECK(std::fabs(static_cast<double>(mg.mean) - 1.0) < 0.04);
  CHECK(std::fabs(static_cast<double>(mg.var) - 64.0 / 12) < 0.08);
  for (double v : g) REQUIRE((v >= -3 && v < 5));
}

TEST_CASE("normal statistics (10^6 samples) and Box-Muller accuracy") {
  const i64 n = 1000000;
  auto f = fill_contig<float>(RandomDist::normal, DType::f32, n, 31337, 0, 0, 1);
  auto d = fill_contig<double>(RandomDist::normal, DType::f64, n, 31337, 0, 0, 1);
  // Standard errors: mean 1e-3, variance 1.4e-3, skewness 2.4e-3, kurtosis 4.9e-3.
  for (const Moments& m : {moments(f), moments(d)}) {
    CHECK(std::fabs(static_cast<double>(m.mean)) < 5e-3);
    CHECK(std::fabs(static_cast<double>(m.var) - 1) < 7e-3);
    CHECK(std::fabs(static_cast<double>(m.skew)) < 1.2e-2);
    CHECK(std::fabs(static_cast<double>(m.kurt) - 3) < 2.5e-2);
  }
  // 40 bins of width 0.2 over [-4, 4) plus two tails, against the normal CDF (41 dof: mean 41,
  // 99.9th pct ~ 74).
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  std::vector<double> p;
  p.push_back(cdf(-4));
  for (int k = 0; k < 40; ++k) p.push_back(cdf(-4 + 0.2 * (k + 1)) - cdf(-4 + 0.2 * k));
  p.push_back(1 - cdf(4));
  auto hist = [&](const auto& x) {
    std::vector<i64> c(42);
    for (auto v : x) {
      const double z = v;
      size_t k = z < -4 ? 0 : z >= 4 ? 41 : 1 + static_cast<size_t>((z + 4) / 0.2);
      if (k == 41 && z < 4) k = 40;  // (z + 4) / 0.2 rounded up to 40 just below 4
      ++c[k];
    }
    return c;
  };
  CHECK(chi_square(hist(f), p, n) < 90);
  CHECK(chi_square(hist(d), p, n) < 90);
  // f32 Box-Muller cannot exceed sqrt(-2 ln 2^-24) = 5.77 in magnitude.
  for (float v : f) REQUIRE(std::fabs(v) <= 5.78f);
  // Against long double Box-Muller from the same words: log, sqrt, cos and the product lose a
  // few ulp relative to r = sqrt(-2 log u1).
  for (u64 i = 0; i < 2000; ++i) {
    u32 w[4];
    words_of(31337, i, w);
    const long double u1f = std::ldexp(static_cast<long double>((w[0] >> 8) + 1), -24);
    const long double u2f = std::ldexp(static_cast<long double>(w[1] >> 8), -24);
    const long double rf = std::sqrt(-2 * std::log(u1f));
    const long double zf = rf * std::cos(2 * 3.14159265358979323846264338327950288L * u2f);
    CHECK(std::fabs(static_cast<long double>(f[i]) - zf) <= 4 * 0x1p-24L * std::max(rf, 1.0L));
    const u64 x1 = (static_cast<u64>(w[0]) << 32) | w[1];
    const u64 x2 = (static_cast<u64>(w[2]) << 32) | w[3];
    const long double u1d = std::ldexp(static_cast<long double>((x1 >> 11) + 1), -53);
    const long double u2d = std::ldexp(static_cast<long double>(x2 >> 11), -53);
    const long double rd = std::sqrt(-2 * std::log(u1d));
    const long double zd = rd * std::cos(2 * 3.14159265358979323846264338327950288L * u2d);
    CHECK(std::fabs(static_cast<long double>(d[i]) - zd) <= 4 * 0x1p-53L * std::max(rd, 1.0L));
  }
  // mean / std scaling, and std = 0 gives exactly the mean.
  auto g = fill_contig<double>(RandomDist::normal, DType::f64, n / 10, 8, 0, -3, 2);
  const Moments mg = moments(g);
  CHECK(std::fabs(static_cast<double>(mg.mean) + 3) < 0.03);
  CHECK(std::fabs(static_cast<double>(mg.var) - 4) < 0.09);
  for (float v : fill_contig<float>(RandomDist::normal, DType::f32, 100, 8, 0, 1.5, 0))
    CHECK(v == 1.5f);
}

TEST_CASE("randint covers its range and stays inside it") {
  const i64 n = 200000;
  auto x = fill_contig<i64>(RandomDist::randint, DType::i64, n, 77, 0, -3, 4);
  std::vector<i64> counts(7);
  for (i64 v : x) {
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    ++counts[static_cast<size_t>(v + 3)];
  }
  CHECK(chi_square(counts, std::vector<double>(7, 1.0 / 7), n) < 25);  // 6 dof, 99.9% ~ 22.5
  // Single-value range, the extreme bounds of int64, and integer-valued floats.
  for (i64 v : fill_contig<i64>(RandomDist::randint, DType::i64, 50, 1, 0, 41, 42)) CHECK(v == 41);
  const double lo = -0x1p63;
  bool neg = false, big = false;
  for (i64 v : fill_contig<i64>(RandomDist::randint, DType::i64, 1000, 1, 0, lo, 0)) {
    REQUIRE(v < 0);
    if (v < -(i64(1) << 61)) neg = true;
  }
  for (i64 v : fill_contig<i64>(RandomDist::randint, DType::i64, 1000, 1, 0, 0, 0x1p63)) {
    REQUIRE(v >= 0);
    if (v > (i64(1) << 61)) big = true;
  }
  CHECK(neg);
  CHECK(big);
  for (double v : fill_contig<double>(RandomDist::randint, DType::f64, 1000, 3, 0, -10, 10)) {
    REQUIRE(v == std::trunc(v));
    REQUIRE((v >= -10 && v < 10));
  }
}

TEST_CASE("uniform never returns its upper bound") {
  const i64 n = 100000;
  // A one-ulp range: the only value in [1, nextafter(1, 2)) is 1, although u * ulp + 1 rounds to
  // the upper bound for every u > 1/2.
  const float b32 = std::nextafter(1.0f, 2.0f);
  for (float v : fill_contig<float>(RandomDist::uniform, DType::f32, n, 5, 0, 1.0, b32))
    REQUIRE(v == 1.0f);
  const double b64 = std::nextafter(1.0, 2.0);
  for (double v : fill_contig<double>(RandomDist::uniform, DType::f64, n, 5, 0, 1.0, b64))
    REQUIRE(v == 1.0);
  // Two ulps: both values occur, never b.
  const double b2 = std::nextafter(b64, 2.0);
  bool saw_lo = false, saw_hi = false;
  for (double v : fill_contig<double>(RandomDist::uniform, DType::f64, n, 5, 0, 1.0, b2)) {
    REQUIRE((v == 1.0 || v == b64));
    (v == 1.0 ? saw_lo : saw_hi) = true;
  }
  CHECK(saw_lo);
  CHECK(saw_hi);
  // A range whose bounds are wider than f32's (rounded) step: [-1e30, 1e30) f32 and a
  // negative range ending at -0.
  for (float v : fill_contig<float>(RandomDist::uniform, DType::f32, n, 6, 0, -1e30, 1e30))
    REQUIRE((v >= -1e30f && v < 1e30f));
  for (float v : fill_contig<float>(RandomDist::uniform, DType::f32, n, 6, 0, -1e-40, 0.0))
    REQUIRE((v >= -1e-40f && v < 0.0f));
}

TEST_CASE("random_fill rejects invalid arguments with an error naming the op") {
  std::vector<double> buf(16);
  std::vector<unsigned char> bytes(16);
  const View d = make_view(buf.data(), DType::f64, {16}, {1});
  const View i = make_view(buf.data(), DType::i64, {16}, {1});
  const View u8 = make_view(bytes.data(), DType::u8, {16}, {1});
  const View f = make_view(buf.data(), DType::f32, {16}, {1});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto msg = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const ditto::Error& e) {
      return e.what();
    }
    return "no error";
  };
  using RD = RandomDist;
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, d, 0, 0, 1, 1);
        }).find("uniform") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, d, 0, 0, 2, 1);
        }).find("uniform") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, d, 0, 0, nan, 1);
        }).find("uniform") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, d, 0, 0, 0, inf);
        }).find("uniform") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, f, 0, 0, -3e38, 3e38);
        }).find("overflows") != std::string::npos);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, f, 0, 0, 1, 1 + 1e-12);
        }).find("empty") != std::string::npos);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::normal, d, 0, 0, 0, -1);
        }).find("normal") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::normal, d, 0, 0, 0, nan);
        }).find("normal") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::normal, f, 0, 0, 0, 1e300);
        }).find("normal") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::randint, i, 0, 0, 5, 5);
        }).find("randint") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::randint, i, 0, 0, 0.5, 5);
        }).find("randint") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::randint, i, 0, 0, 0, 1e300);
        }).find("randint") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::randint, i, 0, 0, -0x1p63, 0x1p63);
        }).find("2^64") != std::string::npos);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, i, 0, 0, 0, 1);
        }).find("uniform") == 0);
  CHECK(
      msg([&] {
        ditto::kernels::random_kernels(ditto::Device::cpu()).random_fill(RD::normal, i, 0, 0, 0, 1);
      }).find("normal") == 0);
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::randint, u8, 0, 0, 0, 10);
        }).find("u8") != std::string::npos);
  const View bcast = make_view(buf.data(), DType::f64, {4, 4}, {0, 1});
  CHECK(msg([&] {
          ditto::kernels::random_kernels(ditto::Device::cpu())
              .random_fill(RD::uniform, bcast, 0, 0, 0, 1);
        }).find("stride 0") != std::string::npos);
  // Nothing was written by the failed calls.
  for (double v : buf) CHECK(v == 0.0);
}

// ---- the thread-keyed source of Fast-mode dropout ------------------------------------------
// Its values must depend on the launch configuration (that is what the lab demonstrates), and be
// the documented stream draws for a given configuration.

TEST_CASE("draw_stream: stream 0 is draw(); other streams differ") {
  using namespace ditto::philox;
  for (std::uint64_t i : {0ull, 1ull, 123456789ull}) {
    const Words a = draw(7, i), b = draw_stream(7, 0, i), c = draw_stream(7, 1, i);
    CHECK(std::memcmp(a.w, b.w, sizeof a.w) == 0);
    CHECK(std::memcmp(a.w, c.w, sizeof a.w) != 0);
  }
}

TEST_CASE("random_uniform_by_thread (cpu): stream t+1 draws, values change with the thread count") {
  namespace k = ditto::kernels;
  const std::int64_t n = 40000;  // above the parallel threshold
  std::vector<float> one(n), two(n), two_again(n);
  auto fill = [&](std::vector<float>& v, int threads) {
    ditto::set_num_threads(threads);
    k::View out;
    out.data = v.data();
    out.dtype = ditto::DType::f32;
    out.ndim = 1;
    out.shape[0] = n;
    out.strides[0] = 1;
    k::random_kernels(ditto::Device::cpu()).random_uniform_by_thread(out, 99, 5);
  };
  const int saved = ditto::get_num_threads();
  fill(one, 1);
  fill(two, 2);
  fill(two_again, 2);
  ditto::set_num_threads(saved);
  CHECK(std::memcmp(two.data(), two_again.data(), n * sizeof(float)) == 0);
  CHECK(std::memcmp(one.data(), two.data(), n * sizeof(float)) != 0);
  // Thread t of T fills t, t+T, ... with draws offset + j of stream t + 1.
  for (std::int64_t i : {std::int64_t(0), std::int64_t(1), std::int64_t(2), n - 1}) {
    const auto t = static_cast<std::uint64_t>(i % 2), j = static_cast<std::uint64_t>(i / 2);
    CHECK(two[i] == ditto::philox::uniform01_f32(ditto::philox::draw_stream(99, t + 1, 5 + j).w[0]));
    CHECK(one[i] == ditto::philox::uniform01_f32(
                        ditto::philox::draw_stream(99, 1, 5 + static_cast<std::uint64_t>(i)).w[0]));
  }
  for (float v : two) REQUIRE((v >= 0.0f && v < 1.0f));
}

TEST_CASE("random_uniform_by_thread (sim): values change with the grid, repeat for a fixed grid") {
  namespace k = ditto::kernels;
  const std::int64_t n = 3000;
  auto run = [&](int blocks) {
    std::vector<double> v(n);
    k::View out;
    out.data = v.data();
    out.dtype = ditto::DType::f64;
    out.ndim = 1;
    out.shape[0] = n;
    out.strides[0] = 1;
    k::LaunchOverrideGuard g({blocks, 64});
    k::random_kernels(ditto::Device::sim()).random_uniform_by_thread(out, 3, 0);
    return v;
  };
  const auto a = run(2), a2 = run(2), b = run(5);
  CHECK(std::memcmp(a.data(), a2.data(), n * sizeof(double)) == 0);
  CHECK(std::memcmp(a.data(), b.data(), n * sizeof(double)) != 0);
  // Thread t of T = 2 * 64 fills t, t+T, ...: element 130 is thread 2's draw 1.
  const auto d = ditto::philox::draw_stream(3, 3, 1);
  CHECK(a[130] == ditto::philox::uniform01_f64(d.w[0], d.w[1]));
}

TEST_SUITE_END();
